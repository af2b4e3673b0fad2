#!/usr/bin/env bash
# End-to-end: the watch subsystem counts open watchers and the events sent to them, exactly.
. "$(dirname "$0")/lib.sh"
need_root

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes watch

# Two watchers from revision 2 (the first write), so registration order does not matter;
# etcdctl runs directly (not through ctl) so that $! is its pid.
etcdctl --endpoints="127.0.0.1:$MS_PORT" watch --prefix "" --rev=2 >"$E2E_TMP/w_all" 2>&1 &
W_ALL=$!
E2E_PIDS+=($W_ALL)
etcdctl --endpoints="127.0.0.1:$MS_PORT" watch k1 --rev=2 >"$E2E_TMP/w_k1" 2>&1 &
W_K1=$!
E2E_PIDS+=($W_K1)
wait_until 10 metric_is "$(node_series watch_active_total "$NODE")" 2 || fail "watch_active_total is not 2"

for k in k1 k2 k3; do ctl put "$k" v >/dev/null; done   # w_all: 3 PUT, w_k1: 1 PUT
ctl del k1 >/dev/null                                 # both: 1 DELETE
seen() { [ "$(grep -c "$2" "$E2E_TMP/$1")" -ge "$3" ]; }
wait_until 10 seen w_all '^DELETE$' 1 || fail "w_all did not get the delete"
wait_until 10 seen w_k1 '^DELETE$' 1 || fail "w_k1 did not get the delete"

scrape >"$E2E_TMP/m"
check_exposition "$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'watch_events_sent_total{type="PUT"}' 4
assert_node_sample "$E2E_TMP/m" "$NODE" 'watch_events_sent_total{type="DELETE"}' 2
assert_node_sample "$E2E_TMP/m" "$NODE" 'watch_active_total' 2

# A watcher whose client goes away is gone from the gauge.
kill "$W_K1"
wait_until 10 metric_is "$(node_series watch_active_total "$NODE")" 1 || fail "watch_active_total did not drop to 1"
kill "$W_ALL"
wait_until 10 metric_is "$(node_series watch_active_total "$NODE")" 0 || fail "watch_active_total did not drop to 0"
echo "PASS $E2E_NAME"
