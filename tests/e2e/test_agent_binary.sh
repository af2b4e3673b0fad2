#!/usr/bin/env bash
# End-to-end: --binary attaches before the store starts; the store's start-up revision and
# every request of the process started afterwards are seen, exactly.
. "$(dirname "$0")/lib.sh"
need_root

N_PUT=4
AGENT_PORT=$(free_port)
# No metastore runs yet: uprobes on the file apply to processes started later.
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes grpc,conn,mvcc
scrape >"$E2E_TMP/m0"
assert_sample "$E2E_TMP/m0" 'metastore_agent_probe_attached{subsystem="grpc",function="ms_probe_batch"}' 1
assert_sample "$E2E_TMP/m0" 'metastore_agent_probe_attached{subsystem="storage",function="ms_probe_batch"}' 0
assert_sample "$E2E_TMP/m0" 'metastore_agent_probe_attached{subsystem="conn",function="ms_probe_conn_open"}' 1
assert_sample "$E2E_TMP/m0" 'metastore_agent_probe_nop5{subsystem="grpc",function="ms_probe_batch"}' 1
assert_sample "$E2E_TMP/m0" 'metastore_agent_probe_nop5{subsystem="conn",function="ms_probe_conn_open"}' 1
grep -q '^storage_operation_total' "$E2E_TMP/m0" && fail "storage metrics exported with storage not probed"

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
scrape >"$E2E_TMP/m1"
assert_sample "$E2E_TMP/m1" "mvcc_current_revision{node=\"$(member_id "$MS_PORT")\"}" 1

for i in $(seq $N_PUT); do ctl put "key$i" "value$i" >/dev/null; done
ctl get key --prefix >/dev/null
scrape >"$E2E_TMP/m2"
check_exposition "$E2E_TMP/m2"
assert_node_sample "$E2E_TMP/m2" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' "$N_PUT"
assert_node_sample "$E2E_TMP/m2" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Range",code="OK"}' 1
assert_sample "$E2E_TMP/m2" "mvcc_current_revision{node=\"$(member_id "$MS_PORT")\"}" $((1 + N_PUT))
# Each call is one record (its end, carrying the begin time; the begin is a count in the
# batch); the batch probe carries them (and the mvcc records) in at most one hit per
# record or call begun (a batch may hold only the begin of a call that ends in the next),
# usually far fewer.
recs='metastore_agent_probe_records_total{subsystem="grpc",function="ms_probe_batch"}'
assert_sample "$E2E_TMP/m2" "$recs" $((N_PUT + 1))
all_recs=$(awk '/^metastore_agent_probe_records_total\{/ { s += $2 } END { print s + 0 }' "$E2E_TMP/m2")
hits=$(awk -v k='metastore_agent_probe_hits_total{subsystem="grpc",function="ms_probe_batch"}' \
	'$1 == k { print $2 }' "$E2E_TMP/m2")
[ -n "$hits" ] && [ "$hits" -ge 1 ] && [ "$hits" -le $((all_recs + N_PUT + 1)) ] ||
	fail "batch probe hits '$hits' for $all_recs records and $((N_PUT + 1)) calls"
assert_sample "$E2E_TMP/m2" 'metastore_agent_record_faults_total{subsystem="grpc"}' 0

# Connections: the gauge follows open client connections, back to 0 when they close.
active_is() { metric_is "$(node_series grpc_server_active_connections "$NODE")" "$1"; }
wait_until 5 active_is 0 || fail "active connections not 0 after etcdctl exited"
exec 5<>"/dev/tcp/127.0.0.1/$MS_PORT"
exec 6<>"/dev/tcp/127.0.0.1/$MS_PORT"
wait_until 5 active_is 2 || fail "active connections not 2 with two open"
exec 5>&- 6>&-
wait_until 5 active_is 0 || fail "active connections not 0 after closing"

# /health is OK while attached; the other paths behave.
[ "$(curl -s "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health not ok"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$AGENT_PORT/")" = 200 ] || fail "/ not 200"
[ "$(code "http://127.0.0.1:$AGENT_PORT/nope")" = 404 ] || fail "/nope not 404"
[ "$(code -X POST "http://127.0.0.1:$AGENT_PORT/metrics")" = 405 ] || fail "POST not 405"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$AGENT_PORT/metrics")
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ] || fail "content type $ctype"

# SIGTERM: detach and exit 0.
kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
[ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM"
echo "PASS $E2E_NAME"
