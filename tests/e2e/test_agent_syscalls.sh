#!/usr/bin/env bash
# End-to-end: every system call the agent makes (start, TLS and basic auth scrapes, gzip,
# /health, --user, a replaced --binary re-attached, SIGTERM), traced with strace, is allowed by the
# SystemCallFilter of deploy/metastore-agent.service (its groups expanded by systemd-analyze).
. "$(dirname "$0")/lib.sh"
need_root
command -v strace >/dev/null || fail "needs strace (Debian package strace, in the Makefile's DEB_PKGS)"
command -v systemd-analyze >/dev/null || fail "needs systemd-analyze (Debian package systemd)"

# allowed: the unit's filter, groups expanded
filter=$(sed -n 's/^SystemCallFilter=//p' deploy/metastore-agent.service)
[ -n "$filter" ] || fail "no SystemCallFilter in deploy/metastore-agent.service"
expand() {
	local item
	for item in "$@"; do
		case $item in
		@*) expand $(systemd-analyze syscall-filter "$item" | tail -n +2 | sed 's/^ *//' |
			grep -v -e '^#' -e '^$') ;;
		*) echo "$item" ;;
		esac
	done
}
expand $filter | sort -u >"$E2E_TMP/allowed"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" >/dev/null 2>&1 || fail "openssl failed"
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4)))')
printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  p: %s\n' \
	"$E2E_TMP/cert.pem" "$E2E_TMP/key.pem" "'$hash'" >"$E2E_TMP/web.yml"
get() { curl -sf --max-time 5 --cacert "$E2E_TMP/cert.pem" -u p:pw "$@"; }

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
strace -f -qq -o "$E2E_TMP/trace" "$AGENT" --binary "$METASTORE" --listen "127.0.0.1:$AGENT_PORT" \
	--user nobody --bpf-stats --web-config "$E2E_TMP/web.yml" >"$E2E_TMP/agent.log" 2>&1 &
E2E_PIDS+=("$!")
wait_until 30 get "https://127.0.0.1:$AGENT_PORT/health" || fail "traced agent did not become healthy"
AGENT_PID=$(ss -Hltnp "sport = :$AGENT_PORT" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)
[ -n "$AGENT_PID" ] || fail "no agent process on port $AGENT_PORT"
E2E_PIDS+=("$AGENT_PID")
ctl put k v >/dev/null
get "https://127.0.0.1:$AGENT_PORT/metrics" -o /dev/null
get -H 'Accept-Encoding: gzip' "https://127.0.0.1:$AGENT_PORT/metrics" -o /dev/null
curl -s --max-time 5 --cacert "$E2E_TMP/cert.pem" -u p:bad "https://127.0.0.1:$AGENT_PORT/metrics" -o /dev/null
cp "$METASTORE" "$METASTORE.new" && mv "$METASTORE.new" "$METASTORE"
# (the scrape read whole before grep: see metric_is in lib.sh)
reattached() { grep -qx 'metastore_agent_binary_reattach_total 1' <<<"$(get "https://127.0.0.1:$AGENT_PORT/metrics")"; }
wait_until 10 reattached ||
	fail "no re-attach under strace"
kill -TERM "$AGENT_PID"
for _ in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
grep -q 'detaching' "$E2E_TMP/agent.log" || fail "traced agent did not stop: $(cat "$E2E_TMP/agent.log")"
sleep 0.5

sed -n -e 's/^[0-9]\+ \+\([a-z0-9_]\+\)(.*/\1/p' \
	-e 's/^[0-9]\+ \+<\.\.\. \([a-z0-9_]\+\) resumed>.*/\1/p' "$E2E_TMP/trace" | sort -u >"$E2E_TMP/used"
[ "$(wc -l <"$E2E_TMP/used")" -gt 20 ] || fail "trace too short: $(cat "$E2E_TMP/used")"
grep -qx bpf "$E2E_TMP/used" || fail "no bpf() in the trace"
outside=$(comm -23 "$E2E_TMP/used" "$E2E_TMP/allowed")
[ -z "$outside" ] || fail "system calls outside SystemCallFilter: $outside"
echo "PASS $E2E_NAME"
