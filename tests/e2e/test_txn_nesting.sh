#!/usr/bin/env bash
# Nested txns beyond etcd's operation limit are refused at the edge with etcd's text, nothing
# is proposed and every member stays up, on a 3-member cluster (sent to the leader and to a
# follower) and across a restart; etcd 3.4 runs the same checks as control.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/etcd.sh"

PY=/usr/bin/python3
CHECK=$(dirname "$0")/py/txn_nesting.py
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server) as the control"

# control: one etcd member
EP=$(free_port)
start_etcd_single "$EP"
$PY "$CHECK" "127.0.0.1:$EP" >"$E2E_TMP/etcd-check.log" 2>&1 ||
	fail "etcd control failed: $(cat "$E2E_TMP/etcd-check.log")"

cluster_init
for n in "${MEMBERS[@]}"; do start_member "$n"; done
leader=$(wait_leader)
wait_published "$leader" # the members' own entries are in: the raft index moves for no one else
follower=n1
[ "$leader" = n1 ] && follower=n2
$PY "$CHECK" "127.0.0.1:${CPORT[$leader]}" >"$E2E_TMP/leader-check.log" 2>&1 ||
	fail "leader $leader: $(cat "$E2E_TMP/leader-check.log")"
# a follower refuses at its own edge too (and forwards what it may); it counts from the
# leader's last commit, which it learns with the leader's next message
raft_index() {
	etcdctl --endpoints="127.0.0.1:${CPORT[$1]}" endpoint status -w json |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["raftIndex"])'
}
li=$(raft_index "$leader")
wait_until 10 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$follower]} endpoint status -w json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0][\"Status\"][\"raftIndex\"])')\" = $li ]" ||
	fail "follower $follower did not reach the leader's raft index $li: $(raft_index "$follower")"
$PY "$CHECK" "127.0.0.1:${CPORT[$follower]}" >"$E2E_TMP/follower-check.log" 2>&1 ||
	fail "follower $follower: $(cat "$E2E_TMP/follower-check.log")"
for n in "${MEMBERS[@]}"; do
	kill -0 "${PID[$n]}" 2>/dev/null || fail "member $n exited: $(tail -3 "$E2E_TMP/metastore-${CPORT[$n]}.log")"
done
# a restart replays the whole log: the members come back and keep serving
for n in "${MEMBERS[@]}"; do
	kill "${PID[$n]}"
	wait "${PID[$n]}" 2>/dev/null || true
done
for n in "${MEMBERS[@]}"; do start_member "$n"; done
leader=$(wait_leader)
for n in "${MEMBERS[@]}"; do
	got=$(etcdctl --endpoints="127.0.0.1:${CPORT[$n]}" --consistency=s get nest/128 --print-value-only 2>&1) ||
		fail "member $n after restart: $got"
	[ "$got" = deep ] || fail "member $n after restart: nest/128 = '$got', expected deep"
done
echo "PASS $E2E_NAME (etcd: $(grep -c '^ok' "$E2E_TMP/etcd-check.log") checks, metastore: $(cat "$E2E_TMP"/{leader,follower}-check.log | grep -c '^ok') checks on leader and follower, 3 members up after restart)"
