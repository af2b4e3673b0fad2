#!/usr/bin/env bash
# End-to-end: a 3-member cluster on 127.0.0.1. Followers forward writes and linearizable
# reads to the leader, so etcdctl may use any member. KILLS times a member is killed (-9)
# under writes, alternately the leader and a follower, and restarted from its data dir; every acknowledged write is on
# every member afterwards, with equal HashKV digests. `make stress` runs more kills.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

N_BEFORE=${N_BEFORE:-10} # writes before the first kill
N_AFTER=${N_AFTER:-10}   # writes while each killed member is down
KILLS=${KILLS:-2}

cluster_init
# a small --snapshot-count: a member back from the dead may need the leader's snapshot
SNAP=(--snapshot-count 8)

ACKED=()
# put_acked KEY: puts KEY on the current leader until one put is acknowledged (bounded).
put_acked() {
	local key=$1 leader i
	for i in $(seq 20); do
		leader=$(wait_leader)
		if etcdctl --endpoints="127.0.0.1:${CPORT[$leader]}" --dial-timeout=1s \
			--command-timeout=3s put "$key" "v-$key" >/dev/null 2>&1; then
			ACKED+=("$key")
			return 0
		fi
		sleep 0.1
	done
	fail "put $key never acknowledged"
}

for n in n1 n2 n3; do start_member "$n" "${SNAP[@]}"; done
LEADER=$(wait_leader)

# A follower forwards writes and linearizable reads to the leader (whose client address the
# leader published through the log when elected); every member reports healthy.
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || FOLLOWER=$n; done
wait_until 10 etcdctl --endpoints="127.0.0.1:${CPORT[$FOLLOWER]}" --command-timeout=3s put fwd y ||
	fail "follower $FOLLOWER did not forward a write"
[ "$(etcdctl --endpoints="127.0.0.1:${CPORT[$FOLLOWER]}" --command-timeout=3s get fwd --print-value-only)" = y ] ||
	fail "linearizable read through follower $FOLLOWER"
ALL="127.0.0.1:${CPORT[n1]},127.0.0.1:${CPORT[n2]},127.0.0.1:${CPORT[n3]}"
[ "$(etcdctl --endpoints="$ALL" --command-timeout=3s endpoint health 2>&1 | grep -c 'is healthy')" = 3 ] ||
	fail "endpoint health: $(etcdctl --endpoints="$ALL" endpoint health 2>&1)"
# etcdctl with every endpoint: its writes land whichever member it picks
for i in 1 2 3 4 5 6; do
	etcdctl --endpoints="$ALL" --command-timeout=3s put "any$i" v >/dev/null || fail "put any$i"
	ACKED+=("any$i")
done
# the member list carries each member's client URL once it led: the current leader's, on
# every member
LEADER=$(wait_leader)
for n in n1 n2 n3; do
	wait_until 5 bash -c "etcdctl --endpoints=127.0.0.1:${CPORT[$n]} member list |
		grep -q '$LEADER, http://127.0.0.1:${RPORT[$LEADER]}, http://127.0.0.1:${CPORT[$LEADER]}'" ||
		fail "member list on $n (leader $LEADER): $(etcdctl --endpoints="127.0.0.1:${CPORT[$n]}" member list)"
done

for i in $(seq "$N_BEFORE"); do put_acked "a$i"; done

# A lease with a key: its expiry is the leader's to propose, whoever leads when it is due.
lease=$(etcdctl --endpoints="127.0.0.1:${CPORT[$LEADER]}" --command-timeout=3s lease grant 2 |
	awk '{print $2}')
[ -n "$lease" ] || fail "lease grant failed"
etcdctl --endpoints="127.0.0.1:${CPORT[$LEADER]}" --command-timeout=3s \
	put --lease="$lease" expiring v >/dev/null || fail "put with lease failed"

# Kill a member under writes, the leader on odd rounds and a follower on even ones; the puts
# meanwhile go to whoever leads. The member then comes back from its data dir.
FIRST_LEADER=$LEADER
for k in $(seq "$KILLS"); do
	LEADER=$(wait_leader)
	victim=$LEADER
	if [ $((k % 2)) = 0 ]; then
		for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || victim=$n; done
	fi
	kill -9 "${PID[$victim]}"
	{ wait "${PID[$victim]}"; } 2>/dev/null || true
	for i in $(seq "$N_AFTER"); do put_acked "k$k-$i"; done
	NEW=$(wait_leader)
	[ "$NEW" != "$victim" ] || fail "the killed member $victim is still reported as leader"
	start_member "$victim" "${SNAP[@]}"
done

# every member: all acknowledged keys, read locally (serializable), once caught up
expected=$(printf '%s\n' "${ACKED[@]}" | sort)
member_keys() {
	etcdctl --endpoints="127.0.0.1:${CPORT[$1]}" --command-timeout=3s \
		get "" --prefix --keys-only --consistency=s 2>/dev/null | sed '/^$/d;/^expiring$/d;/^fwd$/d' | sort
}
for n in n1 n2 n3; do
	wait_until 15 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} get '' --prefix \
		--keys-only --consistency=s 2>/dev/null | sed '/^\$/d;/^expiring\$/d;/^fwd\$/d' | wc -l)\" -ge ${#ACKED[@]} ]" ||
		fail "member $n did not catch up: $(member_keys "$n" | wc -l) of ${#ACKED[@]} keys"
	got=$(member_keys "$n")
	[ "$got" = "$expected" ] ||
		fail "member $n keys differ from the acknowledged writes: $(diff <(echo "$expected") <(echo "$got") | head -5)"
done

# the lease expired (through raft) and took its key with it, on every member
for n in n1 n2 n3; do
	wait_until 10 bash -c "[ -z \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} get expiring \
		--consistency=s 2>/dev/null)\" ]" || fail "member $n still has the expired lease's key"
done

# no divergence: same revision and HashKV digest everywhere
hashes=$(etcdctl --endpoints="127.0.0.1:${CPORT[n1]},127.0.0.1:${CPORT[n2]},127.0.0.1:${CPORT[n3]}" \
	--command-timeout=3s endpoint hashkv -w json | jq -r '.[].HashKV | "\(.header.revision) \(.hash)"' | sort -u)
[ "$(wc -l <<<"$hashes")" = 1 ] || fail "members diverge (revision hash): $hashes"
[ "${#ACKED[@]}" = $((6 + N_BEFORE + KILLS * N_AFTER)) ] || fail "acknowledged ${#ACKED[@]} writes"
echo "PASS $E2E_NAME ($KILLS kills, ${#ACKED[@]} writes acknowledged, 0 lost, first leader $FIRST_LEADER)"
