#!/usr/bin/env bash
# End-to-end: once attached, no thread of the agent holds a capability; --user switches uid.
. "$(dirname "$0")/lib.sh"
need_root

MS_PORT=$(free_port)
start_metastore "$MS_PORT"

# check_agent UID: every thread of the agent has empty capability sets and the given uid.
check_agent() {
	local t f
	for t in /proc/"$AGENT_PID"/task/*; do
		for f in CapInh CapPrm CapEff CapBnd CapAmb; do
			grep -qx "$f:	0000000000000000" "$t/status" ||
				fail "thread ${t##*/}: $(grep "^$f" "$t/status")"
		done
		grep -qx "NoNewPrivs:	1" "$t/status" || fail "thread ${t##*/}: no_new_privs not set"
		grep -q "^Uid:	$1	$1	$1	$1$" "$t/status" ||
			fail "thread ${t##*/}: $(grep '^Uid' "$t/status"), expected $1"
	done
}

for user in "" nobody; do
	AGENT_PORT=$(free_port)
	if [ -z "$user" ]; then
		start_agent "$AGENT_PORT" --pid "$MS_PID"
		check_agent 0
	else
		start_agent "$AGENT_PORT" --pid "$MS_PID" --user "$user"
		check_agent "$(id -u "$user")"
	fi
	# Maps stay readable without privileges: a request is counted, nothing fails.
	before=$(scrape | awk '$1 == "grpc_server_request_total{method=\"/etcdserverpb.KV/Put\",code=\"OK\"}" { print $2 }')
	ctl put k v >/dev/null
	scrape >"$E2E_TMP/m"
	assert_sample "$E2E_TMP/m" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
	assert_sample "$E2E_TMP/m" 'metastore_agent_map_read_errors_total' 0
	[ -z "$before" ] || fail "a fresh agent counted requests made before it attached"
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || fail "agent exited non-zero on SIGTERM"
done

rc=0
"$AGENT" --pid "$MS_PID" --user no-such-user-here --listen "127.0.0.1:$(free_port)" 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -qF -- "--user: no such user 'no-such-user-here'" "$E2E_TMP/err" ||
	fail "unknown user: exit $rc, $(cat "$E2E_TMP/err")"
echo "PASS $E2E_NAME"
