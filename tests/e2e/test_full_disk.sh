#!/usr/bin/env bash
# A full disk under the data dir (a small tmpfs the test mounts): writes are refused, never
# acknowledged, the cause is logged in one line, and every acknowledged write is there after a
# restart with room again; etcd 3.4 runs the same checks as control (it stops itself: "create
# wal error: no space left on device"). metastore also keeps serving reads, raises NOSPACE and
# shows the failure in Status ERRORS, and takes writes again once there is room and the alarm is
# disarmed, without a restart.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/etcd.sh"

[ "$(id -u)" = 0 ] || fail "needs root (mounts a tmpfs)"
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server) as the control"
DISK=$E2E_TMP/disk
mkdir -p "$DISK"
# etcd and metastore both preallocate 64 MiB log segments (metastore up to 3), so writes of
# 1 MB reach the end of what is preallocated within a few hundred; the disk is large enough
# that the filler, not a server's own files, takes most of it: removing it makes room again
mount -t tmpfs -o size=512m tmpfs "$DISK" || fail "cannot mount a tmpfs on $DISK"
# the test's status survives the unmount (e2e_cleanup reads $?); errexit off first, or the
# failing `(exit $st)` of a failed test would end the trap before e2e_cleanup ends its servers
trap 'st=$?; set +e; umount -l "$DISK" 2>/dev/null; (exit $st); e2e_cleanup' EXIT
# a value too long for one argument (128 kB at most): etcdctl reads it from stdin
VALUE=$E2E_TMP/value
head -c 1000000 /dev/zero | tr '\0' v >"$VALUE"

# fill_disk: takes what room is left on the tmpfs, in a file removed later
fill_disk() {
	dd if=/dev/zero of="$DISK/filler" bs=1M status=none 2>/dev/null || true
}

# write_until_refused NAME PORT: puts 1 MB values until one fails; ACKED gets the count.
write_until_refused() {
	local i out
	ACKED=0
	for i in $(seq 400); do
		if out=$(etcdctl --endpoints="127.0.0.1:$2" --dial-timeout=2s --command-timeout=5s \
			put "big/$i" <"$VALUE" 2>&1); then
			ACKED=$i
		else
			REFUSED=$out
			return 0
		fi
	done
	fail "$1: 400 puts of 1 MB on a full disk all acknowledged"
}

# check_acked NAME PORT: every acknowledged put is there.
check_acked() {
	local n
	n=$(etcdctl --endpoints="127.0.0.1:$2" --command-timeout=10s get --prefix big/ --keys-only |
		grep -c '^big/' || true)
	[ "$n" -ge "$ACKED" ] || fail "$1: $n keys after the restart, $ACKED puts were acknowledged"
}

# --- etcd, the control
EP=$(free_port)
E2E_ETCD_DIR=$DISK/etcd start_etcd_single "$EP"
ETCD_PID=${E2E_PIDS[-1]}
fill_disk
write_until_refused etcd "$EP"
wait_until 10 grep -q "no space left on device" "$E2E_TMP/etcd-$EP.log" ||
	fail "etcd: no log line naming the full disk"
echo "etcd: put $((ACKED + 1)) refused ($ACKED acknowledged): $(grep -m1 -o 'create wal error.*\|no space left on device' "$E2E_TMP/etcd-$EP.log")"
kill -9 "$ETCD_PID" 2>/dev/null || true
rm -f "$DISK/filler"
E2E_ETCD_DIR=$DISK/etcd start_etcd_single "$EP"
check_acked etcd "$EP"
kill "${E2E_PIDS[-1]}"
rm -rf "$DISK"/*

# --- metastore
MP=$(free_port)
"$METASTORE" --listen "127.0.0.1:$MP" --data-dir "$DISK/ms" >"$E2E_TMP/ms.log" 2>&1 &
MS=$!
E2E_PIDS+=("$MS")
wait_until 10 etcdctl --endpoints="127.0.0.1:$MP" --dial-timeout=1s endpoint health ||
	fail "metastore did not start"
etcdctl --endpoints="127.0.0.1:$MP" put first 1 >/dev/null || fail "metastore: first put"
fill_disk
write_until_refused metastore "$MP"
[[ $REFUSED == *"etcdserver: mvcc: database space exceeded"* ]] ||
	fail "metastore: the refused put said '$REFUSED'"
wait_until 5 grep -q "raft: writing the log failed: .*space" "$E2E_TMP/ms.log" ||
	fail "metastore: no log line naming the full disk: $(tail -3 "$E2E_TMP/ms.log")"
echo "metastore: put $((ACKED + 1)) refused ($ACKED acknowledged): $(grep -m1 'writing the log failed' "$E2E_TMP/ms.log")"
# what etcd does not: it stays up, reads work, Status says why writes fail
kill -0 "$MS" || fail "metastore exited on a full disk"
[ "$(etcdctl --endpoints="127.0.0.1:$MP" get first --print-value-only)" = 1 ] ||
	fail "metastore: reads stopped on a full disk"
etcdctl --endpoints="127.0.0.1:$MP" endpoint status -w json | grep -q 'raft log write failed: .*space' ||
	fail "metastore: Status shows no error: $(etcdctl --endpoints="127.0.0.1:$MP" endpoint status -w json)"
# etcd's NOSPACE for a full disk: listed, and writes refused until disarmed
id=$(etcdctl --endpoints="127.0.0.1:$MP" endpoint status -w fields | sed -n 's/^"MemberID" : //p')
[ "$(etcdctl --endpoints="127.0.0.1:$MP" alarm list)" = "memberID:$id alarm:NOSPACE " ] ||
	fail "metastore: alarm list '$(etcdctl --endpoints="127.0.0.1:$MP" alarm list)'"
rm -f "$DISK/filler"
out=$(etcdctl --endpoints="127.0.0.1:$MP" --command-timeout=2s put still-refused 1 2>&1) &&
	fail "metastore: a write went through before the alarm was disarmed"
[[ $out == *"database space exceeded"* ]] || fail "metastore: refused before disarm with '$out'"
etcdctl --endpoints="127.0.0.1:$MP" alarm disarm >/dev/null || fail "metastore: alarm disarm failed"
wait_until 20 etcdctl --endpoints="127.0.0.1:$MP" --command-timeout=2s put after-room 1 ||
	fail "metastore: no write taken once there was room again and the alarm was disarmed"
[ -z "$(etcdctl --endpoints="127.0.0.1:$MP" alarm list)" ] || fail "metastore: alarm still listed"
etcdctl --endpoints="127.0.0.1:$MP" endpoint status -w json | grep -q 'raft log write failed' &&
	fail "metastore: Status still shows the error after a write went through"
kill "$MS"
wait "$MS" 2>/dev/null || true
"$METASTORE" --listen "127.0.0.1:$MP" --data-dir "$DISK/ms" >>"$E2E_TMP/ms.log" 2>&1 &
E2E_PIDS+=("$!")
wait_until 10 etcdctl --endpoints="127.0.0.1:$MP" --dial-timeout=1s endpoint health ||
	fail "metastore did not restart"
check_acked metastore "$MP"
[ "$(etcdctl --endpoints="127.0.0.1:$MP" get after-room --print-value-only)" = 1 ] ||
	fail "metastore: the write taken after the disk had room again is gone"
echo "PASS $E2E_NAME (etcd and metastore: refused, logged, acknowledged writes kept; metastore served reads, raised NOSPACE, took writes again after disarm)"
