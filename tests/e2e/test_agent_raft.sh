#!/usr/bin/env bash
# End-to-end: one agent watches a 3-member cluster on one host (--binary: all three
# processes). raft_applied_index and mvcc_current_revision are per node (the member id, not
# the pid) and equal what each member reports; raft_commit_duration_seconds counts exactly
# the entries the leader proposed (the writes and the members' published client addresses).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
need_root

N_PUT=${N_PUT:-12}

AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes raft,mvcc

cluster_init
for n in n1 n2 n3; do start_member "$n"; done

# status FIELD MEMBER: one field of a member's Maintenance.Status (jq path under .Status).
status() {
	status_json "$2" | jq -r ".[0].Status.$1"
}
leader=$(wait_leader)
# the count below holds once every member's publish is in the log
wait_published "$leader"

for i in $(seq "$N_PUT"); do
	etcdctl --endpoints="127.0.0.1:${CPORT[$leader]}" --command-timeout=3s put "k$i" v >/dev/null
done

# every member applies the same log: wait until all report the leader's applied index
target=$(status raftAppliedIndex "$leader")
for n in n1 n2 n3; do
	wait_until 10 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} endpoint status -w json |
		jq -r '.[0].Status.raftAppliedIndex')\" -ge $target ]" || fail "member $n did not catch up"
done

for n in n1 n2 n3; do
	node=$(member_id "${CPORT[$n]}")
	[ -n "$node" ] || fail "no member id logged by $n"
	applied=$(status raftAppliedIndex "$n")
	series="raft_applied_index{node=\"$node\"}"
	wait_until 5 bash -c "curl -sf http://127.0.0.1:$AGENT_PORT/metrics | grep -qxF '$series $applied'" ||
		fail "$series: want $applied, got $(scrape | grep -F "$series")"
	scrape >"$E2E_TMP/m"
	assert_sample "$E2E_TMP/m" "mvcc_current_revision{node=\"$node\"}" $((1 + N_PUT))
	if [ "$n" = "$leader" ]; then
		# the puts, and the entries by which each member published its name and client
		# address (the leader proposes them all: a follower asks it to)
		assert_sample "$E2E_TMP/m" "raft_commit_duration_seconds_count{node=\"$node\"}" $((N_PUT + ${#MEMBERS[@]}))
	else
		[ -z "$(sample_value "$E2E_TMP/m" "raft_commit_duration_seconds_count{node=\"$node\"}")" ] ||
			fail "follower $n has commit latencies: it proposed nothing"
	fi
done
check_exposition "$E2E_TMP/m"
echo "PASS $E2E_NAME"
