#!/usr/bin/env bash
# End-to-end: the store killed (-9) mid-request and started again (new pid, same binary):
# counters carry on, in-flight and connection gauges return to the truth, no agent restart.
. "$(dirname "$0")/lib.sh"
need_root

AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
for i in 1 2 3; do ctl put "k$i" v >/dev/null; done

put_ok='grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}'
inflight_put='grpc_server_in_flight_requests{method="/etcdserverpb.KV/Put"}'
metric_is() { scrape | grep -qxF "$1 $2"; }

# A Put whose body never ends: its begin probe fired, its end never will.
mkfifo "$E2E_TMP/body"
exec 7<>"$E2E_TMP/body"
curl -s --http2-prior-knowledge -X POST -H 'content-type: application/grpc' \
	-T "$E2E_TMP/body" "http://127.0.0.1:$MS_PORT/etcdserverpb.KV/Put" -o /dev/null &
E2E_PIDS+=($!)
wait_until 10 metric_is "$inflight_put" 1 || fail "the stalled Put is not in flight"
wait_until 5 metric_is grpc_server_active_connections 1 || fail "the stalled client is not connected"

kill -9 "$MS_PID"
{ wait "$MS_PID"; } 2>/dev/null || true
wait_until 5 metric_is "$inflight_put" 0 || fail "in-flight gauge kept a dead process's call"
wait_until 5 metric_is grpc_server_active_connections 0 || fail "connections of a dead process kept"
# (retried: one scrape may meet the agent mid-reap; a changed count stays changed)
wait_until 5 metric_is "$put_ok" 3 || fail "Put count changed across the kill: $(scrape | grep -F "$put_ok")"

# Same binary and data dir, new process: counted by the same agent, on top of what it had.
start_metastore "$MS_PORT"
for i in 1 2; do ctl put "n$i" v >/dev/null; done
scrape >"$E2E_TMP/m"
assert_sample "$E2E_TMP/m" "$put_ok" 5
assert_sample "$E2E_TMP/m" "$inflight_put" 0
# the new process replayed its raft log (the 3 puts before the kill), then took 2 more
assert_sample "$E2E_TMP/m" "mvcc_current_revision{node=\"$(member_id "$MS_PORT")\"}" 6
check_exposition "$E2E_TMP/m"
exec 7>&-
echo "PASS $E2E_NAME"
