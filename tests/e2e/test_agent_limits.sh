#!/usr/bin/env bash
# End-to-end: the store's limits, and the agent counting every refusal exactly: the rate
# limit (ResourceExhausted, grpc_server_rate_limit_hits_total) and --max-connections
# (grpc_server_connections_rejected_total; a connection pushed out to make room is not one).
. "$(dirname "$0")/lib.sh"
need_root

MS_PORT=$(free_port)
# Two calls at once, then one per 100 s: everything after the first two is refused.
start_metastore "$MS_PORT" --rate-limit 0.01 --rate-burst 2 --max-connections 2
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes grpc,conn
# The member exports the limits it runs with (metastore_limit), so alerts need no constants.
scrape >"$E2E_TMP/m0"
assert_node_sample "$E2E_TMP/m0" "$NODE" 'metastore_limit{limit="max_connections"}' 2
assert_node_sample "$E2E_TMP/m0" "$NODE" 'metastore_limit{limit="rate_limit"}' 0.01
assert_node_sample "$E2E_TMP/m0" "$NODE" 'metastore_limit{limit="rate_burst"}' 2
assert_node_sample "$E2E_TMP/m0" "$NODE" 'metastore_limit{limit="max_leases"}' 100000
assert_node_sample "$E2E_TMP/m0" "$NODE" 'metastore_limit{limit="max_watches"}' 100000

ok=0 refused=0
for i in 1 2 3 4 5; do
	if ctl put "k$i" v >/dev/null 2>"$E2E_TMP/err"; then
		ok=$((ok + 1))
	else
		grep -qF "etcdserver: too many requests" "$E2E_TMP/err" || fail "put $i: $(cat "$E2E_TMP/err")"
		refused=$((refused + 1))
	fi
done
[ "$ok" = 2 ] && [ "$refused" = 3 ] || fail "ok=$ok refused=$refused, expected 2 and 3"

scrape >"$E2E_TMP/m"
check_exposition "$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_rate_limit_hits_total{method="/etcdserverpb.KV/Put"}' 3
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="ResourceExhausted"}' 3
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 2
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_connections_rejected_total' 0

# --max-connections 2 on a second store (the first one's rate limit is spent): two
# connections running a call (watch streams) hold the limit, so a third is closed at once
# and counted; a connection still in its handshake is instead pushed out to admit a new one,
# which is no rejection.
MS_PORT=$(free_port)
start_metastore "$MS_PORT" --max-connections 2
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes grpc,conn
watchers=()
for i in 1 2; do
	etcdctl --endpoints="127.0.0.1:$MS_PORT" watch "w$i" >/dev/null 2>&1 &
	watchers+=("$!")
	E2E_PIDS+=("$!")
done
wait_until 5 metric_is "$(node_series grpc_server_active_connections "$NODE")" 2 || fail "two watch connections not open"
exec 7<>"/dev/tcp/127.0.0.1/$MS_PORT"
wait_until 5 metric_is "$(node_series grpc_server_connections_rejected_total "$NODE")" 1 || fail "rejection not counted"
metric_is "$(node_series grpc_server_active_connections "$NODE")" 2 || fail "the rejected connection was counted as open"
exec 7>&-
kill "${watchers[1]}"
wait_until 5 metric_is "$(node_series grpc_server_active_connections "$NODE")" 1 || fail "the watch connection did not close"
exec 5<>"/dev/tcp/127.0.0.1/$MS_PORT"
wait_until 5 metric_is "$(node_series grpc_server_active_connections "$NODE")" 2 || fail "the silent connection not open"
exec 6<>"/dev/tcp/127.0.0.1/$MS_PORT"
# the silent one (5) makes room: EOF on it within 5 s, the new one (6) stays open
timeout 5 cat <&5 >/dev/null || fail "the silent connection was not closed to admit a new one"
wait_until 5 metric_is "$(node_series grpc_server_active_connections "$NODE")" 2 ||
	fail "the new connection not open"
metric_is "$(node_series grpc_server_connections_rejected_total "$NODE")" 1 || fail "making room was counted as a rejection"
exec 5>&- 6>&-
echo "PASS $E2E_NAME"
