#!/usr/bin/env bash
# End-to-end under AddressSanitizer + UBSan (`make asan`): store flows (put, get, del, txn,
# watch, lease, compaction, maintenance, bad gRPC input) and agent flows (attach, scrapes in
# every format, bad HTTP input, binary replaced, --pid with --user, SIGTERM) with leak
# detection on; any sanitizer report in any log, or a sanitizer exit status, fails the test.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Built here (incrementally) so the test never runs against stale or missing binaries.
if ! make -C "$ROOT" --no-print-directory -s asan >/tmp/ms-asan-build.$$.log 2>&1; then
	echo "test_asan: cannot build the ASan binaries (make asan):" >&2
	tail -n 20 /tmp/ms-asan-build.$$.log >&2
	rm -f /tmp/ms-asan-build.$$.log
	exit 1
fi
rm -f /tmp/ms-asan-build.$$.log
METASTORE=$ROOT/build/asan/metastore
AGENT=$ROOT/build/asan/metastore-agent
. "$(dirname "$0")/lib.sh"
need_root

for b in "$METASTORE" "$AGENT"; do
	nm "$b" >"$E2E_TMP/syms" 2>/dev/null || fail "nm $b failed"
	grep -q ' __asan_init$' "$E2E_TMP/syms" || fail "$b is not built with AddressSanitizer"
	grep -q ' __ubsan_handle_' "$E2E_TMP/syms" || fail "$b is not built with UBSan"
done
# exitcode=66 tells a sanitizer exit from the programs' own statuses.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=66:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
SAN_RE='ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: (Address|Leak|Undefined)Sanitizer|Sanitizer has encountered'

# Positive control: a deliberate leak after the agent's own privilege drop (to nobody, with
# a second thread, as in the agent) is reported here; otherwise a clean run proves nothing.
gcc -g -fsanitize=address,undefined -I"$ROOT/agent" -o "$E2E_TMP/canary" "$ROOT/tests/e2e/asan_canary.c" \
	"$ROOT/build/asan/obj/agent/privs.o" -lpthread 2>"$E2E_TMP/canary-build.txt" ||
	fail "cannot build the sanitizer canary: $(cat "$E2E_TMP/canary-build.txt")"
rc=0
"$E2E_TMP/canary" nobody >/dev/null 2>"$E2E_TMP/canary.txt" || rc=$?
[ "$rc" = 66 ] && grep -qF 'SUMMARY: AddressSanitizer: 77 byte(s) leaked in 1 allocation(s).' "$E2E_TMP/canary.txt" ||
	fail "LeakSanitizer missed the canary's leak (exit $rc): $(head -n 5 "$E2E_TMP/canary.txt")"

# check_logs: no sanitizer output in any log so far.
check_logs() {
	local f
	for f in "$E2E_TMP"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE "$SAN_RE" "$f"; then
			echo "--- sanitizer report in $f:" >&2
			grep -E -A 30 "$SAN_RE" "$f" | head -n 60 >&2
			fail "sanitizer report in $(basename "$f")"
		fi
	done
}
# stop PID NAME: SIGTERM, then the exit status must be 0 (66 = sanitizer; bounded 20 s).
stop() {
	local rc=0
	kill -TERM "$1"
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$1" 2>/dev/null && fail "$2 did not exit within 20 s of SIGTERM"
	wait "$1" || rc=$?
	check_logs
	[ "$rc" = 0 ] || fail "$2 exited $rc on SIGTERM (66: sanitizer)"
}

MS_PORT=$(free_port)
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all --bpf-stats
start_metastore "$MS_PORT"
base="http://127.0.0.1:$AGENT_PORT"

# --- store flows ---
watch_out=$E2E_TMP/watch.out
timeout 20 etcdctl --endpoints="127.0.0.1:$MS_PORT" watch --prefix w >"$watch_out" 2>"$E2E_TMP/watch.log" &
WATCH_PID=$!
E2E_PIDS+=("$WATCH_PID")
sleep 1
for i in $(seq 20); do ctl put "k$i" "v$i" >/dev/null; done
ctl put w1 a >/dev/null
ctl put w2 b >/dev/null
ctl del w1 >/dev/null
[ "$(ctl get k7 --print-value-only)" = v7 ] || fail "get k7"
[ "$(ctl get k --prefix --keys-only | grep -c .)" = 20 ] || fail "get --prefix"
[ "$(ctl del k1 k11)" = 2 ] || fail "ranged delete [k1, k11)"
printf 'value("k5") = "v5"\n\nput t1 yes\nget k5\n\nput t1 no\n\n' | ctl txn >"$E2E_TMP/txn.out"
[ "$(head -n 1 "$E2E_TMP/txn.out")" = SUCCESS ] || fail "txn: $(cat "$E2E_TMP/txn.out")"
printf '\nput d 1\nput d 2\n\n\n' | ctl txn >/dev/null 2>&1 && fail "duplicate-key txn succeeded"
lease=$(ctl lease grant 60 | awk '{ print $2 }')
ctl put lk v --lease="$lease" >/dev/null
ctl lease keep-alive --once "$lease" >/dev/null
ctl lease timetolive "$lease" --keys | grep -qF lk || fail "lease timetolive --keys"
ctl lease list | grep -qF "$lease" || fail "lease list"
ctl lease revoke "$lease" >/dev/null
short=$(ctl lease grant 1 | awk '{ print $2 }')
ctl put sk v --lease="$short" >/dev/null
wait_until 10 bash -c "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:$MS_PORT get sk)\" ]" ||
	fail "short lease did not expire"
rev=$(ctl get k2 -w json | jq -r .header.revision)
ctl compaction "$((rev - 1))" >/dev/null
ctl endpoint status >/dev/null
ctl endpoint hashkv >/dev/null
ctl member list >/dev/null
# Bad gRPC input: garbage on the HTTP/2 port, a truncated preface, an unknown method.
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MS_PORT; cat >&3; cat <&3" >/dev/null 2>&1 || true
printf 'PRI * HTTP/2.0\r\n\r\nSM' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MS_PORT; cat >&3; cat <&3" >/dev/null 2>&1 || true
curl -s --max-time 5 --http2-prior-knowledge -X POST -H 'content-type: application/grpc' \
	--data-binary 'xxxxxxxx' "http://127.0.0.1:$MS_PORT/etcdserverpb.KV/Nope" -o /dev/null || true
curl -s --max-time 5 --http2-prior-knowledge -X POST -H 'content-type: application/grpc' \
	--data-binary $'\x00\x00\x00\x00\x05\xff\xff\xff\xff\xff' "http://127.0.0.1:$MS_PORT/etcdserverpb.KV/Put" -o /dev/null || true
wait_until 25 bash -c "! kill -0 $WATCH_PID" || fail "watcher did not end"
grep -qx w2 "$watch_out" || fail "watch missed w2: $(cat "$watch_out")"
grep -qx DELETE "$watch_out" || fail "watch missed the delete: $(cat "$watch_out")"
check_logs

# --- agent flows ---
scrape >"$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 24
check_exposition "$E2E_TMP/m"
curl -s --max-time 5 -H 'Accept: application/openmetrics-text; version=1.0.0' "$base/metrics" | tail -n 1 |
	grep -qx '# EOF' || fail "OpenMetrics scrape"
grep -q '^metastore_agent_build_info' <<<"$(curl -s --max-time 5 --compressed "$base/metrics")" ||
	fail "gzip scrape"
curl -s --max-time 5 -I "$base/metrics" >/dev/null || fail "HEAD"
big=$(head -c 65536 /dev/zero | tr '\0' a)
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$base/metrics")" = 431 ] || fail "64 KiB header"
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' --path-as-is "$base/%00/../etc/passwd")" = 404 ] || fail "%00 path"
[ "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST -d x "$base/metrics")" = 405 ] || fail "POST"
for bad in 'GARBAGE\r\n\r\n' 'GET /metrics HTTP/9.9\r\n\r\n' 'GET /health HTTP/1.1\r\nBad\r\n\r\n'; do
	timeout 5 bash -c 'trap "" PIPE; exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "$2" >&3 2>/dev/null
		cat <&3 >/dev/null 2>&1 || true' _ "$AGENT_PORT" "$bad" || fail "no answer to '$bad'"
done
pids=()
for i in $(seq 40); do
	curl -s --max-time 10 -o /dev/null "$base/metrics" &
	pids+=($!)
	E2E_PIDS+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
# The binary replaced on disk: the watcher (a forked child) re-attaches.
cp "$METASTORE" "$METASTORE.tmp" && mv "$METASTORE.tmp" "$METASTORE"
reattached() { metric_is metastore_agent_binary_reattach_total 1; }
wait_until 5 reattached || fail "no re-attach under ASan"
[ "$(curl -s --max-time 5 "$base/health")" = ok ] || fail "/health"
check_logs

stop "$MS_PID" metastore
stop "$AGENT_PID" metastore-agent

# --pid with --user: the privilege drop and unprivileged map reads, under the sanitizers
# (LeakSanitizer still works with no capabilities and another uid: the canary above).
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --user nobody
ctl put p1 v >/dev/null
scrape >"$E2E_TMP/m2"
assert_node_sample "$E2E_TMP/m2" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
stop "$AGENT_PID" "metastore-agent --user"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID"
ctl put p2 v >/dev/null
scrape >"$E2E_TMP/m3"
assert_node_sample "$E2E_TMP/m3" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
stop "$AGENT_PID" "metastore-agent --pid"
stop "$MS_PID" "metastore (2)"
# Bad command lines exit through the error paths: no leak there either.
for args in "--bogus" "--binary /nonexistent" "--probes nope --binary $METASTORE" "--buckets 2,1 --binary $METASTORE"; do
	rc=0
	# shellcheck disable=SC2086
	"$AGENT" $args >/dev/null 2>"$E2E_TMP/cli.log" || rc=$?
	check_logs
	[ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "'$args': exit $rc"
done
echo "PASS $E2E_NAME"
