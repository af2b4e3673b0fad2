# Helpers for end-to-end tests of a 3-member cluster on 127.0.0.1 (members n1 n2 n3); sourced
# after lib.sh. cluster_init picks the ports; start_member starts one member with the test's
# extra options; wait_leader finds the member whose status says it leads.

MEMBERS=(n1 n2 n3)
declare -A CPORT RPORT PID

# cluster_init: client and peer ports of every member, and the --initial-cluster string.
cluster_init() {
	local n
	for n in "${MEMBERS[@]}"; do
		CPORT[$n]=$(free_port)
		RPORT[$n]=$(free_port)
	done
	CLUSTER="n1=http://127.0.0.1:${RPORT[n1]},n2=http://127.0.0.1:${RPORT[n2]},n3=http://127.0.0.1:${RPORT[n3]}"
}

# start_member NAME [ARGS...]: starts that member (short election timeout for tests).
start_member() {
	local n=$1
	shift
	start_metastore "${CPORT[$n]}" --name "$n" --initial-cluster "$CLUSTER" \
		--election-timeout 500 --heartbeat-interval 50 "$@"
	PID[$n]=$MS_PID
}

# status_json NAME: Maintenance.Status of one member as JSON (empty if it does not answer).
status_json() {
	etcdctl --endpoints="127.0.0.1:${CPORT[$1]}" --dial-timeout=1s --command-timeout=2s \
		endpoint status -w json 2>/dev/null || true
}

# leader_member: the member whose status says it is the leader (non-zero if none).
leader_member() {
	local n s
	for n in "${MEMBERS[@]}"; do
		kill -0 "${PID[$n]}" 2>/dev/null || continue
		s=$(status_json "$n")
		[ -n "$s" ] || continue
		if [ "$(jq -r '.[0].Status.leader' <<<"$s")" = "$(jq -r '.[0].Status.header.member_id' <<<"$s")" ]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# wait_leader: prints the leader, waiting up to 10 s for one.
wait_leader() {
	local l
	for _ in $(seq 100); do
		if l=$(leader_member); then
			echo "$l"
			return 0
		fi
		sleep 0.1
	done
	fail "no leader elected within 10 s"
}

# wait_all_follow LEADER: waits up to 10 s until every live member names LEADER as its leader
# (a follower that has not heard from a new leader yet answers a forwarded call "no leader").
wait_all_follow() {
	local want n s ok
	want=$(jq -r '.[0].Status.header.member_id' <<<"$(status_json "$1")")
	for _ in $(seq 100); do
		ok=1
		for n in "${MEMBERS[@]}"; do
			kill -0 "${PID[$n]}" 2>/dev/null || continue
			s=$(status_json "$n")
			[ -n "$s" ] && [ "$(jq -r '.[0].Status.leader' <<<"$s")" = "$want" ] || ok=0
		done
		[ "$ok" = 0 ] || return 0
		sleep 0.1
	done
	fail "not every member follows $1 within 10 s"
}

# wait_published LEADER: waits up to 10 s until LEADER lists a client URL for every member:
# each member has published its name and client URL through the log, and the log is quiet
# (a test that counts raft entries starts after that).
wait_published() {
	local n=${#MEMBERS[@]}
	wait_until 10 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$1]} member list | awk -F', ' '\$5 != \"\"' | grep -c .)\" = $n ]" ||
		fail "not every member published its client URL: $(etcdctl --endpoints="127.0.0.1:${CPORT[$1]}" member list 2>&1)"
}
