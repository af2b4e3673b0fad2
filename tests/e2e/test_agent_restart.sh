#!/usr/bin/env bash
# End-to-end: the store killed (-9) mid-request and started again (new pid, same binary):
# counters carry on; while it is down its member reads metastore_up 0 and its gauges (calls in
# flight, connections) are gone; back, they are the truth again; no agent restart.
. "$(dirname "$0")/lib.sh"
need_root

AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
for i in 1 2 3; do ctl put "k$i" v >/dev/null; done

put_ok=$(node_series 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' "$NODE")
inflight_put=$(node_series 'grpc_server_in_flight_requests{method="/etcdserverpb.KV/Put"}' "$NODE")
conns=$(node_series grpc_server_active_connections "$NODE")
up=$(node_series metastore_up "$NODE")

# A Put whose body never ends: its begin probe fired, its end never will.
mkfifo "$E2E_TMP/body"
exec 7<>"$E2E_TMP/body"
curl -s --http2-prior-knowledge -X POST -H 'content-type: application/grpc' \
	-T "$E2E_TMP/body" "http://127.0.0.1:$MS_PORT/etcdserverpb.KV/Put" -o /dev/null &
E2E_PIDS+=($!)
wait_until 10 metric_is "$inflight_put" 1 || fail "the stalled Put is not in flight"
wait_until 5 metric_is "$conns" 1 || fail "the stalled client is not connected"
wait_until 5 metric_is "$up" 1 || fail "$up is not 1: $(scrape | grep -e ^metastore_up -e ^raft_term)"
[ "$(curl -s "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health not ok"

kill -9 "$MS_PID"
{ wait "$MS_PID"; } 2>/dev/null || true
wait_until 5 metric_is "$up" 0 || fail "$up is not 0 after the kill"
metric_absent "$inflight_put" || fail "in-flight gauge kept a dead process's call"
metric_absent "$conns" || fail "connections of a dead process kept"
health=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$AGENT_PORT/health")
[ "$health" = "unhealthy: member $NODE is down (its process exited or stopped reporting)
 503" ] ||
	fail "/health with the member down: $health"
# (retried: one scrape may meet the agent mid-reap; a changed count stays changed)
wait_until 5 metric_is "$put_ok" 3 || fail "Put count changed across the kill: $(scrape | grep -F "$put_ok")"

# Same binary and data dir, new process: counted by the same agent, on top of what it had.
start_metastore "$MS_PORT"
for i in 1 2; do ctl put "n$i" v >/dev/null; done
scrape >"$E2E_TMP/m"
assert_sample "$E2E_TMP/m" "$put_ok" 5
assert_sample "$E2E_TMP/m" "$inflight_put" 0
assert_sample "$E2E_TMP/m" "$up" 1
[ "$(curl -s "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health not ok once it is back"
# the new process replayed its raft log (the 3 puts before the kill), then took 2 more
assert_sample "$E2E_TMP/m" "mvcc_current_revision{node=\"$(member_id "$MS_PORT")\"}" 6
check_exposition "$E2E_TMP/m"
exec 7>&-
echo "PASS $E2E_NAME"
