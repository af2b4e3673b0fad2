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
	before=$(scrape | awk -v s="$(node_series 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' "$NODE")" '$1 == s { print $2 }')
	ctl put k v >/dev/null
	scrape >"$E2E_TMP/m"
	assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
	assert_sample "$E2E_TMP/m" 'metastore_agent_map_read_errors_total' 0
	[ "$before" = 0 ] || fail "a fresh agent counted requests made before it attached: $before"
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || fail "agent exited non-zero on SIGTERM"
done

# --binary with --user: the agent, no longer root, cannot signal its root helper
# (agent-binwatch); SIGTERM still ends both within a second and detaches every probe.
helper_of() { pgrep -P "$1" -x agent-binwatch || true; }
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --user nobody
check_agent "$(id -u nobody)"
helper=$(helper_of "$AGENT_PID")
[ -n "$helper" ] || fail "no agent-binwatch helper under the agent"
grep -q '^Uid:	0	0	0	0$' "/proc/$helper/status" || fail "helper not root: $(grep ^Uid "/proc/$helper/status")"
ctl put k2 v >/dev/null
scrape >"$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
uprobes() { bpftool perf list 2>/dev/null | grep -c " filename $METASTORE " || true; }
[ "$(uprobes)" -gt 0 ] || fail "bpftool perf lists no uprobe on $METASTORE"
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
for _ in $(seq 20); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$AGENT_PID" 2>/dev/null && fail "agent --binary --user still running 2 s after SIGTERM"
wait "$AGENT_PID" || fail "agent --binary --user exited non-zero on SIGTERM"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -0 "$helper" 2>/dev/null && fail "helper $helper outlived the agent"
[ "$(uprobes)" = 0 ] || fail "uprobes still attached after the agent stopped: $(bpftool perf list)"
# Detached: the batch probe's semaphore is back to 0, so the store writes no records; a
# new agent sees exactly its own calls.
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID"
ctl put k3 v >/dev/null
scrape >"$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
assert_sample "$E2E_TMP/m" 'metastore_agent_probe_hits_total{subsystem="conn",function="ms_probe_conn_open"}' 1
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exited non-zero on SIGTERM"
echo "stopped in $ms ms" >"$E2E_TMP/stop.log"

# As systemd runs it (Type=notify): READY=1 once attached and serving, STOPPING=1 on SIGTERM,
# both sent after --user took the privileges (the socket was connected before).
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
        out.flush()
' "$E2E_TMP/notify.sock" "$E2E_TMP/notify.log" &
E2E_PIDS+=("$!")
wait_until 5 test -S "$E2E_TMP/notify.sock" || fail "notify receiver did not start"
AGENT_PORT=$(free_port)
NOTIFY_SOCKET=$E2E_TMP/notify.sock start_agent "$AGENT_PORT" --binary "$METASTORE" --user nobody
wait_until 5 grep -qx 'READY=1' "$E2E_TMP/notify.log" || fail "no READY=1: $(cat "$E2E_TMP/notify.log" 2>/dev/null)"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exited non-zero on SIGTERM"
[ "$(cat "$E2E_TMP/notify.log")" = "READY=1
STOPPING=1" ] || fail "notifications: $(cat "$E2E_TMP/notify.log")"

rc=0
"$AGENT" --pid "$MS_PID" --user no-such-user-here --listen "127.0.0.1:$(free_port)" 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 1 ] && grep -qF -- "--user: no such user 'no-such-user-here'" "$E2E_TMP/err" ||
	fail "unknown user: exit $rc, $(cat "$E2E_TMP/err")"
echo "PASS $E2E_NAME"
