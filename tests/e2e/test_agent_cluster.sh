#!/usr/bin/env bash
# End-to-end: one agent (--binary) watches a 3-member cluster on one host. Every series carries
# its member (node): per member the requests, leases and compactions equal what that member
# did; metastore_up, raft_is_leader and raft_term tell who runs and who leads; a killed
# member reads metastore_up 0, its gauges go, its counters stay, /health names it; a leader
# change is counted once on every member that saw it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
need_root

AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
cluster_init
declare -A ID
for n in n1 n2 n3; do
	start_member "$n"
	ID[$n]=$NODE
done
leader=$(wait_leader)
followers=()
for n in n1 n2 n3; do [ "$n" = "$leader" ] || followers+=("$n"); done
f1=${followers[0]} f2=${followers[1]}
ep() { echo "--endpoints=127.0.0.1:${CPORT[$1]}"; }
at() { local n=$1; shift; etcdctl "$(ep "$n")" --dial-timeout=2s --command-timeout=5s "$@"; }
# val MEMBER SERIES: the value of SERIES of that member in the file $E2E_TMP/m
val() { sample_value "$E2E_TMP/m" "$(node_series "$2" "${ID[$1]}")"; }
is() { [ "$(val "$1" "$2")" = "$3" ] || fail "$1: $(node_series "$2" "${ID[$1]}") is '$(val "$1" "$2")', want $3"; }

# Load: 3 Puts and 2 lease grants at the leader, one serializable Range at each follower,
# one compaction (replicated: every member compacts).
for i in 1 2 3; do at "$leader" put "k$i" v >/dev/null; done
for i in 1 2; do at "$leader" lease grant 600 >/dev/null; done
at "$f1" get k1 --consistency=s >/dev/null
at "$f2" get k1 --consistency=s >/dev/null
at "$leader" compaction 2 >/dev/null
target=$(status_json "$leader" | jq -r '.[0].Status.raftAppliedIndex')
caught_up() {
	local n
	for n in n1 n2 n3; do
		[ "$(status_json "$n" | jq -r '.[0].Status.raftAppliedIndex')" -ge "$target" ] || return 1
	done
}
wait_until 10 caught_up || fail "members did not catch up to $target"
all_compacted() {
	scrape >"$E2E_TMP/m"
	for n in n1 n2 n3; do [ "$(val "$n" mvcc_compaction_total)" = 1 ] || return 1; done
}
wait_until 10 all_compacted || fail "compactions per member: $(grep ^mvcc_compaction_total "$E2E_TMP/m")"
check_exposition "$E2E_TMP/m"

put='grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}'
range='grpc_server_request_total{method="/etcdserverpb.KV/Range",code="OK"}'
grant='grpc_server_request_total{method="/etcdserverpb.Lease/LeaseGrant",code="OK"}'
is "$leader" "$put" 3
is "$leader" "$grant" 2
is "$leader" "$range" 0
for n in "$f1" "$f2"; do
	is "$n" "$put" 0
	is "$n" "$grant" 0
	is "$n" "$range" 1
done
for n in n1 n2 n3; do
	is "$n" metastore_up 1
	is "$n" lease_active_total 2
	is "$n" raft_term "$(val "$leader" raft_term)"
	is "$n" raft_leader_changes_total 0
	is "$n" raft_is_leader "$([ "$n" = "$leader" ] && echo 1 || echo 0)"
	# every member applies both grants (one agent used to read 6 here)
	is "$n" 'lease_operations_total{operation="grant",status="ok"}' 2
done
[ "$(grep -c '^metastore_up{' "$E2E_TMP/m")" = 3 ] || fail "not three members"
[ "$(curl -s "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health not ok"

# A follower killed: up 0, its gauges gone, its counters kept, /health names it.
kill -9 "${PID[$f1]}"
{ wait "${PID[$f1]}"; } 2>/dev/null || true
down() { scrape >"$E2E_TMP/m" && [ "$(val "$f1" metastore_up)" = 0 ]; }
wait_until 5 down || fail "$f1 not down: $(grep ^metastore_up "$E2E_TMP/m")"
for g in mvcc_current_revision raft_applied_index raft_term raft_is_leader lease_active_total \
	grpc_server_active_connections watch_active_total; do
	[ -z "$(val "$f1" "$g")" ] || fail "$f1 (down) still has $g $(val "$f1" "$g")"
done
is "$f1" "$range" 1
is "$f1" mvcc_compaction_total 1
is "$leader" metastore_up 1
health=$(curl -s "http://127.0.0.1:$AGENT_PORT/health")
[ "$health" = "unhealthy: member ${ID[$f1]} is down (its process exited or stopped reporting)" ] ||
	fail "/health with $f1 down: $health"

# Back again: the same series (same member id), counting on.
start_member "$f1"
up_again() { scrape >"$E2E_TMP/m" && [ "$(val "$f1" metastore_up)" = 1 ]; }
wait_until 10 up_again || fail "$f1 not up again"
at "$f1" get k1 --consistency=s >/dev/null
scrape >"$E2E_TMP/m"
is "$f1" "$range" 2
wait_until 5 bash -c "[ \"\$(curl -s http://127.0.0.1:$AGENT_PORT/health)\" = ok ]" || fail "/health not ok again"

# The leader killed: the two others elect a new one; each counts one leader change.
kill -9 "${PID[$leader]}"
{ wait "${PID[$leader]}"; } 2>/dev/null || true
new_leader() {
	scrape >"$E2E_TMP/m"
	[ "$(val "$f1" raft_is_leader)$(val "$f2" raft_is_leader)" = 10 ] ||
		[ "$(val "$f1" raft_is_leader)$(val "$f2" raft_is_leader)" = 01 ]
}
wait_until 10 new_leader || fail "no new leader among $f1 $f2: $(grep ^raft_is_leader "$E2E_TMP/m")"
sleep 0.5
scrape >"$E2E_TMP/m"
is "$f1" raft_leader_changes_total 1
is "$f2" raft_leader_changes_total 1
is "$leader" raft_leader_changes_total 0
is "$leader" metastore_up 0
[ "$(val "$f1" raft_term)" = "$(val "$f2" raft_term)" ] || fail "terms differ after the election"
[ "$(val "$f1" raft_term)" -gt 1 ] || fail "term did not grow: $(val "$f1" raft_term)"
is "$leader" "$put" 3
check_exposition "$E2E_TMP/m"
echo "PASS $E2E_NAME"
