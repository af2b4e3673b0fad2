#!/usr/bin/env bash
# End-to-end: exact gRPC, storage and MVCC metrics for a known etcdctl load, checked by promtool.
. "$(dirname "$0")/lib.sh"
need_root

N_PUT=7
N_GET=5
N_DEL=3

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes grpc,storage,mvcc

for i in $(seq $N_PUT); do ctl put "k$i" "v$i" >/dev/null; done
for i in $(seq $N_GET); do ctl get "k$i" >/dev/null; done
for i in $(seq $N_DEL); do ctl del "k$i" >/dev/null; done
# One failing request: a read at a future revision is OutOfRange.
if ctl get k1 --rev=100000 >"$E2E_TMP/fail.out" 2>&1; then
	fail "get at a future revision succeeded"
fi
grep -q "required revision is a future revision" "$E2E_TMP/fail.out" ||
	fail "unexpected error: $(cat "$E2E_TMP/fail.out")"
ctl compaction 3 >/dev/null

scrape >"$E2E_TMP/m1"
check_exposition "$E2E_TMP/m1"

req='grpc_server_request_total'
dur='grpc_server_request_duration_seconds_count'
for pair in "Put OK $N_PUT" "Range OK $N_GET" "DeleteRange OK $N_DEL" "Range OutOfRange 1" \
	"Compact OK 1"; do
	set -- $pair
	sel="{node=\"$NODE\",method=\"/etcdserverpb.KV/$1\",code=\"$2\"}"
	assert_sample "$E2E_TMP/m1" "$req$sel" "$3"
	assert_sample "$E2E_TMP/m1" "$dur$sel" "$3"
	assert_sample "$E2E_TMP/m1" "grpc_server_request_duration_seconds_bucket{node=\"$NODE\",method=\"/etcdserverpb.KV/$1\",code=\"$2\",le=\"+Inf\"}" "$3"
done
# Nothing else was counted: the sum over all series is the load issued.
total=$(awk '/^grpc_server_request_total\{/ { s += $2 } END { print s + 0 }' "$E2E_TMP/m1")
[ "$total" = $((N_PUT + N_GET + N_DEL + 2)) ] || fail "request total $total"
for m in Range Put DeleteRange Txn Compact; do
	assert_sample "$E2E_TMP/m1" "grpc_server_in_flight_requests{node=\"$NODE\",method=\"/etcdserverpb.KV/$m\"}" 0
done

st='storage_operation_total'
assert_sample "$E2E_TMP/m1" "$st{node=\"$NODE\",operation=\"put\",storage=\"memory\",status=\"ok\"}" "$N_PUT"
assert_sample "$E2E_TMP/m1" "$st{node=\"$NODE\",operation=\"range\",storage=\"memory\",status=\"ok\"}" "$N_GET"
assert_sample "$E2E_TMP/m1" "$st{node=\"$NODE\",operation=\"range\",storage=\"memory\",status=\"future_revision\"}" 1
assert_sample "$E2E_TMP/m1" "$st{node=\"$NODE\",operation=\"delete\",storage=\"memory\",status=\"ok\"}" "$N_DEL"
assert_sample "$E2E_TMP/m1" "$st{node=\"$NODE\",operation=\"compact\",storage=\"memory\",status=\"ok\"}" 1
assert_sample "$E2E_TMP/m1" "storage_operation_duration_seconds_count{node=\"$NODE\",operation=\"put\",storage=\"memory\"}" "$N_PUT"

# Revision 1 at start, one per put and per effective delete.
assert_sample "$E2E_TMP/m1" "mvcc_current_revision{node=\"$(member_id "$MS_PORT")\"}" $((1 + N_PUT + N_DEL))
assert_node_sample "$E2E_TMP/m1" "$NODE" 'mvcc_compaction_total' 1

# Counters only move with load: a second scrape with no requests in between is identical
# in every request counter.
scrape >"$E2E_TMP/m2"
diff <(grep '^grpc_server_request_total' "$E2E_TMP/m1") <(grep '^grpc_server_request_total' "$E2E_TMP/m2") ||
	fail "request counters moved without requests"
echo "PASS $E2E_NAME"
