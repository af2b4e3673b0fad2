#!/usr/bin/env bash
# End-to-end: what a client does through a follower is there on that follower when the answer
# comes (a follower forwards to the leader and answers once it applied the entry itself), and
# leases look the same from every member (TimeToLive, LeaseLeases and keep-alives go to the
# leader). Run on a 3-member cluster of TARGET=metastore, and of TARGET=etcd (Debian's etcd
# 3.4, the control: every check here holds on it); without TARGET both run, etcd first.
# ROUNDS puts (and compactions) through the follower, each checked at once on it.
if [ -z "${TARGET:-}" ]; then
	for t in etcd metastore; do
		TARGET=$t bash "$0" || exit 1
	done
	exit 0
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"

ROUNDS=${ROUNDS:-50}
COMPACTS=${COMPACTS:-10}
: "${ETCD:=/usr/bin/etcd}"
E2E_NAME="$E2E_NAME[$TARGET]"

# start_etcd_member NAME: one member of an etcd cluster with the test's timeouts.
start_etcd_member() {
	local n=$1 c="http://127.0.0.1:${CPORT[$1]}" p="http://127.0.0.1:${RPORT[$1]}"
	"$ETCD" --name "$n" --data-dir "$E2E_TMP/etcd-$n" --listen-client-urls "$c" \
		--advertise-client-urls "$c" --listen-peer-urls "$p" --initial-advertise-peer-urls "$p" \
		--initial-cluster "$CLUSTER" --initial-cluster-state new \
		--election-timeout 500 --heartbeat-interval 50 >"$E2E_TMP/etcd-$n.log" 2>&1 &
	PID[$n]=$!
	E2E_PIDS+=("$!")
	wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/${CPORT[$n]}" || fail "etcd $n did not start"
}

# on NAME ARGS...: etcdctl against that member only.
on() {
	local n=$1
	shift
	etcdctl --endpoints="127.0.0.1:${CPORT[$n]}" --dial-timeout=2s --command-timeout=5s "$@"
}

# a_follower: a live member that is not the leader.
a_follower() {
	local n l
	l=$(wait_leader)
	for n in "${MEMBERS[@]}"; do
		if [ "$n" != "$l" ] && kill -0 "${PID[$n]}" 2>/dev/null; then
			echo "$n"
			return 0
		fi
	done
	fail "no live follower (leader $l)"
}

# remaining NAME LEASE: the lease's remaining TTL (s) as NAME answers it, "expired", or "".
remaining() {
	local out
	out=$(on "$1" lease timetolive "$2" 2>&1) || true
	case $out in
	*"already expired"*) echo expired ;;
	*) sed -n 's/.*remaining(\(-\{0,1\}[0-9]*\)s).*/\1/p' <<<"$out" ;;
	esac
}

# brief OUT: etcdctl's answer without its retry log: the errors it retried on (counted), then
# what it printed last.
brief() {
	grep -o '"error":"[^"]*"' <<<"$1" | sort | uniq -c | sed 's/^ */x/' | tr '\n' ' '
	grep -v '^{' <<<"$1" | tail -n 1
}

[ "$TARGET" = etcd ] || [ "$TARGET" = metastore ] || fail "TARGET is etcd or metastore, not $TARGET"
[ "$TARGET" != etcd ] || [ -x "$ETCD" ] || fail "$ETCD not installed (Debian's etcd-server)"
cluster_init
for n in "${MEMBERS[@]}"; do
	if [ "$TARGET" = etcd ]; then start_etcd_member "$n"; else start_member "$n"; fi
done
LEADER=$(wait_leader)
F=$(a_follower)
# the follower knows where the leader is once the first write through it succeeds
wait_until 10 on "$F" put warm up || fail "no write through follower $F"

# (a) read-your-writes: a serializable get on the follower right after a put through it
seen=0 missed=()
for i in $(seq "$ROUNDS"); do
	on "$F" put "ryw$i" "v$i" >/dev/null || fail "put ryw$i through $F"
	if [ "$(on "$F" get "ryw$i" --consistency=s --print-value-only)" = "v$i" ]; then
		seen=$((seen + 1))
	else
		missed+=("ryw$i")
	fi
done
[ "$seen" = "$ROUNDS" ] ||
	fail "serializable get on $F after a put through it: saw $seen of $ROUNDS (missed ${missed[*]:0:10})"
echo "ok (a) $seen of $ROUNDS serializable gets on follower $F saw the put made through it"

# (b) a compaction through the follower is in force there when it is answered: a watch on
# it from below the compacted revision is refused
refused=0
for i in $(seq "$COMPACTS"); do
	on "$F" put cmp "a$i" >/dev/null || fail "put cmp through $F"
	rev=$(on "$F" put cmp "b$i" -w json | jq -r .header.revision)
	on "$F" compact "$rev" >/dev/null || fail "compact $rev through $F"
	out=$(timeout 10 etcdctl --endpoints="127.0.0.1:${CPORT[$F]}" watch --rev=$((rev - 1)) cmp 2>&1) || true
	if grep -q "required revision has been compacted" <<<"$out"; then
		refused=$((refused + 1))
	else
		echo "watch from $((rev - 1)) after compact $rev on $F: $out" >&2
	fi
done
[ "$refused" = "$COMPACTS" ] ||
	fail "watch on $F below a compaction made through it: refused $refused of $COMPACTS"
echo "ok (b) $refused of $COMPACTS watches on $F below a compaction made through it refused"

# (d) a live lease has the same TTL on every member, and every member lists it
lease=$(on "$F" lease grant 60 | awk '{print $2}')
[ -n "$lease" ] || fail "lease grant through $F"
for n in "${MEMBERS[@]}"; do
	r=$(remaining "$n" "$lease")
	[[ $r =~ ^[0-9]+$ ]] && [ "$r" -gt 0 ] && [ "$r" -le 60 ] ||
		fail "lease timetolive on $n: remaining '${r:-<none>}' ($(on "$n" lease timetolive "$lease" 2>&1))"
	[ "$(on "$n" lease list | grep -cx "$lease")" = 1 ] ||
		fail "lease list on $n: $(on "$n" lease list 2>&1)"
done
echo "ok (d) lease $lease alive with the same TTL and listed on 3 of 3 members"

# keep_alive_across FAULT: a keep-alive stream opened on a follower keeps a 5 s lease alive
# for 15 s across a fault of the leader 5 s in: `pause` (SIGSTOP, resumed after the 15 s)
# or `kill` (-9). The stream goes on through the new leader, or etcdctl reconnects; the
# lease and its key are there on the other members afterwards.
keep_alive_across() {
	local fault=$1 ka ka_pid expired=0 polls=0 faulted_at=-1 start after r n
	LEADER=$(wait_leader)
	F=$(a_follower)
	ka=$(on "$F" lease grant 5 | awk '{print $2}')
	[ -n "$ka" ] || fail "lease grant 5 through $F"
	on "$F" put --lease="$ka" "kept-$fault" yes >/dev/null || fail "put with lease through $F"
	etcdctl --endpoints="127.0.0.1:${CPORT[$F]}" lease keep-alive "$ka" \
		>"$E2E_TMP/keepalive-$fault.out" 2>&1 &
	ka_pid=$!
	E2E_PIDS+=("$ka_pid")
	start=$SECONDS
	# observed for 15 s (the time span is what is tested, not a condition waited for)
	while [ $((SECONDS - start)) -lt 15 ]; do
		if [ "$faulted_at" -lt 0 ] && [ $((SECONDS - start)) -ge 5 ]; then
			if [ "$fault" = pause ]; then
				kill -STOP "${PID[$LEADER]}"
			else
				kill -9 "${PID[$LEADER]}"
				{ wait "${PID[$LEADER]}"; } 2>/dev/null || true
			fi
			faulted_at=$(grep -c keepalived "$E2E_TMP/keepalive-$fault.out" || true)
		fi
		[ "$(remaining "$F" "$ka")" != expired ] || expired=$((expired + 1))
		polls=$((polls + 1))
		sleep 0.5
	done
	kill -0 "$ka_pid" 2>/dev/null ||
		fail "etcdctl lease keep-alive on $F exited ($fault): $(tail -5 "$E2E_TMP/keepalive-$fault.out")"
	after=$(($(grep -c keepalived "$E2E_TMP/keepalive-$fault.out" || true) - faulted_at))
	[ "$after" -gt 0 ] ||
		fail "no keep-alive answered on $F after the $fault of leader $LEADER: $(tail -5 "$E2E_TMP/keepalive-$fault.out")"
	[ "$expired" = 0 ] ||
		fail "the kept-alive lease was seen expired $expired times in $polls polls on $F ($fault)"
	for n in "${MEMBERS[@]}"; do
		[ "$n" != "$LEADER" ] || continue
		r=$(remaining "$n" "$ka")
		[[ $r =~ ^[0-9]+$ ]] && [ "$r" -gt 0 ] ||
			fail "kept-alive lease on $n after 15 s ($fault): remaining '${r:-<none>}'"
		wait_until 5 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} get kept-$fault --consistency=s --print-value-only)\" = yes ]" ||
			fail "the kept-alive lease's key is gone on $n ($fault)"
	done
	kill "$ka_pid"
	if [ "$fault" = pause ]; then
		kill -CONT "${PID[$LEADER]}"
		wait_until 10 on "$LEADER" get kept-pause --consistency=s ||
			fail "$LEADER does not answer after SIGCONT"
	fi
	echo "ok (e) keep-alive through $F kept lease $ka 15 s, $after answers after the $fault of leader $LEADER"
}

# (a SIGSTOP of the leader is not checked here: Debian's etcd 3.4 itself sometimes ends the
# follower's keep-alive stream across it, so the check would be one etcd fails; the fault
# suite covers pauses with a bound etcd meets)
keep_alive_across kill

# (c) auth enable through a follower is in force there when it is answered: an
# unauthenticated read on it (served by it, serializable) is refused as etcd refuses it;
# and a user's token works through the follower
F=$(a_follower)
on "$F" user add root:pw >/dev/null || fail "user add root through $F"
on "$F" auth enable >/dev/null 2>&1 || fail "auth enable through $F"
out=$(on "$F" get cmp --consistency=s 2>&1) && fail "unauthenticated get on $F after auth enable: $out"
grep -q "user name is empty" <<<"$out" || fail "unauthenticated get on $F after auth enable: $out"
echo "ok (c) auth enable through $F in force there at once (\"user name is empty\")"
out=$(on "$F" --user root:pw put authed yes 2>&1) || fail "put --user root:pw through $F: $(brief "$out")"
out=$(on "$F" --user root:pw get authed --print-value-only 2>&1) ||
	fail "get --user root:pw through $F: $(brief "$out")"
[ "$out" = yes ] || fail "get --user root:pw through $F: $(brief "$out")"
echo "ok (c) put and get with --user root:pw through $F"
on "$F" --user root:pw auth disable >/dev/null || fail "auth disable through $F"

echo "PASS $E2E_NAME"
