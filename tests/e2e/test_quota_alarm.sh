#!/usr/bin/env bash
# --quota-backend-bytes and the NOSPACE alarm as etcd has them, with etcd 3.4 as control:
# writes past the quota are refused and raise NOSPACE; with the alarm raised puts stay
# refused while reads, deletes and compaction go on; after compact, defrag and alarm disarm
# writes work again. Then the alarm on a 3-member cluster: raised and disarmed on every member.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/etcd.sh"

[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server) as the control"
QUOTA=$((4 * 1024 * 1024))
VALUE=$(head -c 100000 /dev/zero | tr '\0' v)
NOSPACE="etcdserver: mvcc: database space exceeded"

# quota_run NAME PORT: the whole sequence against the store on PORT.
quota_run() {
	local name=$1 port=$2 i out id
	e() { etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s --command-timeout=10s "$@"; }
	e put small x >/dev/null || fail "$name: first put failed"
	# fill until refused (bounded: 4 MiB of quota is 42 such values)
	for i in $(seq 200); do
		if ! out=$(e put "big/$i" "$VALUE" 2>&1); then
			[[ $out == *"$NOSPACE"* ]] || fail "$name: put $i refused with '$out'"
			break
		fi
	done
	[ "$i" -lt 200 ] || fail "$name: 200 puts of 100 kB never reached a 4 MiB quota"
	echo "$name: put $i refused: $NOSPACE"
	# (jq would round a 64-bit id: the fields output prints it exactly)
	id=$(e endpoint status -w fields | sed -n 's/^"MemberID" : //p')
	out=$(e alarm list)
	[ "$out" = "memberID:$id alarm:NOSPACE " ] || fail "$name: alarm list '$out'"
	e endpoint status -w json | grep -qF "\"memberID:$id alarm:NOSPACE \"" ||
		fail "$name: status errors: $(e endpoint status -w json)"
	# capped: even a small put is refused; reads and deletes go on
	out=$(e put tiny y 2>&1) && fail "$name: a put went through with NOSPACE raised"
	[[ $out == *"$NOSPACE"* ]] || fail "$name: capped put refused with '$out'"
	[ "$(e get small --print-value-only)" = x ] || fail "$name: get with NOSPACE raised"
	# etcd checks the quota before the proposal and again when it applies: a put that
	# passes the first check and fails the second is applied yet answered NOSPACE, so
	# the refused put may or may not have left its key; the delete must remove what is there
	n=$(e get --prefix big/ --keys-only -w fields | sed -n 's/^"Count" : //p')
	[ "$n" = $((i - 1)) ] || [ "$n" = "$i" ] ||
		fail "$name: $n big/ keys after put $i was refused, expected $((i - 1)) or $i"
	out=$(e del --prefix big/) || fail "$name: delete with NOSPACE raised: $out"
	[ "$out" = "$n" ] || fail "$name: deleted $out keys, expected $n"
	echo "$name: $n keys of 100 kB stored, all deleted with NOSPACE raised"
	rev=$(e endpoint status -w json | jq -r '.[0].Status.header.revision')
	e compaction --physical "$rev" >/dev/null || fail "$name: compaction with NOSPACE raised"
	e defrag >/dev/null || fail "$name: defrag failed"
	out=$(e put tiny y 2>&1) && fail "$name: a put went through before the alarm was disarmed"
	out=$(e alarm disarm) || fail "$name: alarm disarm: $out"
	[ "$out" = "memberID:$id alarm:NOSPACE " ] || fail "$name: alarm disarm printed '$out'"
	[ -z "$(e alarm list)" ] || fail "$name: alarm still listed after disarm"
	e put tiny y >/dev/null || fail "$name: put after disarm failed"
	[ "$(e get tiny --print-value-only)" = y ] || fail "$name: tiny not readable after disarm"
}

EP=$(free_port)
start_etcd_single "$EP" --quota-backend-bytes "$QUOTA"
quota_run etcd "$EP"

MP=$(free_port)
start_metastore "$MP" --quota-backend-bytes "$QUOTA"
quota_run metastore "$MP"
grep -q "defragment: resident memory" "$E2E_TMP/metastore-$MP.log" ||
	fail "metastore: defragment reported nothing"

# a cluster: the alarm is replicated state, the same on every member
cluster_init
for n in "${MEMBERS[@]}"; do start_member "$n" --quota-backend-bytes "$QUOTA"; done
leader=$(wait_leader)
ctl_n() { local n=$1; shift; etcdctl --endpoints="127.0.0.1:${CPORT[$n]}" --dial-timeout=2s --command-timeout=10s "$@"; }
for i in $(seq 200); do ctl_n n1 put "big/$i" "$VALUE" >/dev/null 2>&1 || break; done
[ "$i" -lt 200 ] || fail "cluster: the quota was never reached"
lid=$(ctl_n "$leader" endpoint status -w fields | sed -n 's/^"MemberID" : //p')
for n in "${MEMBERS[@]}"; do
	wait_until 10 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} alarm list)\" = 'memberID:$lid alarm:NOSPACE ' ]" ||
		fail "cluster: member $n lists '$(ctl_n "$n" alarm list)'"
done
ctl_n n2 alarm disarm >/dev/null || fail "cluster: disarm through n2"
for n in "${MEMBERS[@]}"; do
	wait_until 10 bash -c "[ -z \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} alarm list)\" ]" ||
		fail "cluster: member $n still lists '$(ctl_n "$n" alarm list)'"
done
echo "PASS $E2E_NAME (etcd and metastore: refused at the quota, NOSPACE listed, capped, disarmed; cluster: alarm on all 3 members)"
