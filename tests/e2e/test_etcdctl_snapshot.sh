#!/usr/bin/env bash
# End-to-end: etcdctl snapshot save from a 3-member cluster, restore into a new 3-member
# cluster (every member from the same file) with identical hashkv and revision, a corrupt
# file refused, then move-leader to a chosen member; on metastore and on etcd 3.4 (control).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_etcd.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/etcd.sh"

# The member names and client ports of the cluster under test, for the generic steps.
names() { if [ "$SRV" = metastore ]; then echo "${MEMBERS[@]}"; else echo "${ETCD_MEMBERS[@]}"; fi; }
port() { if [ "$SRV" = metastore ]; then echo "${CPORT[$1]}"; else echo "${ECPORT[$1]}"; fi; }
pid() { if [ "$SRV" = metastore ]; then echo "${PID[$1]}"; else echo "${EPID[$1]}"; fi; }
ep() { local n; for n in $(names); do printf '127.0.0.1:%s,' "$(port "$n")"; done | sed 's/,$//'; }
ctl1() { local n=$1; shift; etcdctl --endpoints="127.0.0.1:$(port "$n")" --dial-timeout=2s --command-timeout=10s "$@"; }

# start_all [FILE]: a new cluster (new ports), every member restored from FILE if given.
start_all() {
	local n
	if [ "$SRV" = metastore ]; then
		cluster_init
		for n in "${MEMBERS[@]}"; do
			start_member "$n" ${1:+--restore "$1"}
		done
	else
		etcd_cluster_init
		for n in "${ETCD_MEMBERS[@]}"; do
			[ -z "${1:-}" ] || etcd_restore_member "$n" "$1"
			start_etcd_member "$n"
		done
		wait_etcd_cluster
	fi
	wait_until 20 leader_of >/dev/null || fail "$SRV: no leader"
}

stop_all() {
	local n
	for n in $(names); do kill "$(pid "$n")" 2>/dev/null || true; done
	for n in $(names); do wait "$(pid "$n")" 2>/dev/null || true; done
}

# member_hex NAME: the member id as etcdctl move-leader takes it (member list prints it; jq
# would round the JSON number).
member_hex() { ctl1 "$1" member list | awk -F', ' -v n="$1" '$3 == n { print $1 }'; }

# leader_of: the name of the member whose status says it leads.
leader_of() {
	local n s
	for n in $(names); do
		s=$(ctl1 "$n" endpoint status -w json 2>/dev/null) || continue
		# as strings: jq would round ids past 2^53
		if [ "$(grep -o '"leader":[0-9]*' <<<"$s" | cut -d: -f2)" = "$(grep -o '"member_id":[0-9]*' <<<"$s" | cut -d: -f2)" ]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# put_json NAME KEY VALUE: a put through that member, as JSON; retried while that member does
# not know where the new leader serves clients yet (refused before it is proposed, so a retry
# never writes twice).
put_json() {
	local out
	for _ in $(seq 100); do
		if out=$(ctl1 "$1" put "$2" "$3" -w json 2>&1); then
			echo "$out"
			return 0
		fi
		grep -q "etcdserver: not leader\|etcdserver: no leader" <<<"$out" || break
		sleep 0.1
	done
	fail "$SRV: put $2 through $1: $out"
}

# hashes: "rev hash" of every member, one line each.
hashes() {
	local n
	for n in $(names); do
		echo "$(ctl1 "$n" get x --consistency=s -w json | jq -r .header.revision) $(ctl1 "$n" endpoint hashkv | awk '{ print $2 }')"
	done
}

# SNAP_SERVERS=metastore runs one server only (e.g. the ASan build)
for SRV in ${SNAP_SERVERS:-$(control_servers)}; do
	start_all
	first=$(names | cut -d' ' -f1)
	put_json "$first" k1 v1 >/dev/null
	for i in $(seq 2 40); do ctl1 "$first" put "k$i" "v$i" >/dev/null; done
	for i in $(seq 1 10); do ctl1 "$first" put "k$i" "w$i" >/dev/null; done
	ctl1 "$first" del k40 >/dev/null
	ctl1 "$first" compaction 20 >/dev/null
	lease=$(ctl1 "$first" lease grant 3000 | awk '{ print $2 }')
	ctl1 "$first" put leased yes --lease="$lease" >/dev/null
	# every member applied the last write before the hashes are read
	sleep 1
	before=$(hashes | sort -u)
	[ "$(wc -l <<<"$before")" = 1 ] || fail "$SRV: members differ before the snapshot: $before"
	# from a member that is not the first one written to
	second=$(names | cut -d' ' -f2)
	ctl1 "$second" snapshot save "$E2E_TMP/$SRV.snap" >"$E2E_TMP/save-$SRV.log" 2>&1 ||
		fail "$SRV: snapshot save: $(tail -n 3 "$E2E_TMP/save-$SRV.log")"
	grep -q "Snapshot saved at $E2E_TMP/$SRV.snap" "$E2E_TMP/save-$SRV.log" || fail "$SRV: no saved line"
	size=$(stat -c %s "$E2E_TMP/$SRV.snap")
	[ $((size % 512)) = 32 ] || fail "$SRV: snapshot of $size bytes has no sha256 trailer"
	stop_all

	# a flipped byte: refused, with one line
	cp "$E2E_TMP/$SRV.snap" "$E2E_TMP/$SRV.bad"
	printf '\xff' | dd of="$E2E_TMP/$SRV.bad" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
	if [ "$SRV" = metastore ]; then
		"$METASTORE" --restore "$E2E_TMP/$SRV.bad" --data-dir "$E2E_TMP/bad" --name n1 \
			--listen 127.0.0.1:"$(free_port)" >"$E2E_TMP/bad.out" 2>&1 && fail "corrupt snapshot restored"
		[ "$(wc -l <"$E2E_TMP/bad.out")" = 1 ] || fail "refusal is not one line: $(cat "$E2E_TMP/bad.out")"
		grep -qx "metastore: snapshot $E2E_TMP/$SRV.bad refused: sha256 checksum mismatch" \
			"$E2E_TMP/bad.out" || fail "refusal: $(cat "$E2E_TMP/bad.out")"
		[ ! -e "$E2E_TMP/bad" ] || fail "a refused restore left a data dir"
		# a data dir in use is never overwritten by a restore
		"$METASTORE" --restore "$E2E_TMP/$SRV.snap" --data-dir "$E2E_TMP/data-${CPORT[n1]}" \
			--name n1 --listen 127.0.0.1:"$(free_port)" >"$E2E_TMP/used.out" 2>&1 &&
			fail "restored into a used data dir"
		grep -qx "metastore: cannot restore into data dir $E2E_TMP/data-${CPORT[n1]}: it exists and is not empty" \
			"$E2E_TMP/used.out" || fail "used data dir: $(cat "$E2E_TMP/used.out")"
	else
		etcdctl snapshot restore "$E2E_TMP/$SRV.bad" --data-dir "$E2E_TMP/bad-etcd" \
			>"$E2E_TMP/bad.out" 2>&1 && fail "etcd restored a corrupt snapshot"
		grep -q "expected sha256" "$E2E_TMP/bad.out" || fail "etcd refusal: $(cat "$E2E_TMP/bad.out")"
	fi

	# a new cluster, every member from the same file: the same revision and digest
	start_all "$E2E_TMP/$SRV.snap"
	after=$(hashes | sort -u)
	[ "$after" = "$before" ] || fail "$SRV: restored cluster '$after', source '$before'"
	[ "$(ctl1 "$first" get leased --consistency=s --print-value-only)" = yes ] || fail "$SRV: leased key lost"
	rev=${before%% *}
	[ "$(put_json "$first" after 1 | jq -r .header.revision)" = $((rev + 1)) ] ||
		fail "$SRV: a write after the restore is not at revision $((rev + 1))"

	# move-leader: to a chosen follower; etcdctl finds the leader among the endpoints
	leader=$(leader_of) || fail "$SRV: no leader after restore"
	target=$(for n in $(names); do [ "$n" = "$leader" ] || echo "$n"; done | tail -n 1)
	tid=$(member_hex "$target")
	out=$(etcdctl --endpoints="$(ep)" --command-timeout=10s move-leader "$tid" 2>&1) ||
		fail "$SRV: move-leader: $out"
	grep -q "Leadership transferred from .* to $tid" <<<"$out" || fail "$SRV: move-leader said: $out"
	[ "$(leader_of)" = "$target" ] || fail "$SRV: leader is $(leader_of), not $target"
	out=$(etcdctl --endpoints="$(ep)" move-leader 1234 2>&1) && fail "$SRV: moved to a non-member"
	grep -q "etcdserver: bad leader transferee" <<<"$out" || fail "$SRV: bad transferee said: $out"
	# a member that does not lead refuses, as etcd's does
	follower=$(for n in $(names); do [ "$n" = "$target" ] || echo "$n"; done | sed -n 1p)
	out=$(/usr/bin/python3 "$(dirname "$0")/py/move_leader.py" "127.0.0.1:$(port "$follower")" "$tid")
	[ "$out" = "FAILED_PRECONDITION etcdserver: not leader" ] || fail "$SRV: follower said: $out"
	ctl1 "$target" put moved 1 >/dev/null || fail "$SRV: no write after the move"
	# a restored member restarted (without --restore) has its restored state and every write
	kill "$(pid "$first")"
	wait "$(pid "$first")" 2>/dev/null || true
	if [ "$SRV" = metastore ]; then start_member "$first"; else start_etcd_member "$first"; fi
	wait_until 20 ctl1 "$first" get moved --consistency=s --print-value-only >/dev/null ||
		fail "$SRV: restarted member did not come back"
	sleep 1
	h=$(hashes | sort -u)
	[ "$(wc -l <<<"$h")" = 1 ] && [ "${h%% *}" = $((rev + 2)) ] ||
		fail "$SRV: after a restart the members differ: $h"
	stop_all
	echo "  $E2E_NAME: $SRV ok (revision $rev, hashkv ${before#* })"
done
echo "PASS $E2E_NAME"
