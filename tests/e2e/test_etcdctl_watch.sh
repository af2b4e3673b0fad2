#!/usr/bin/env bash
# End-to-end: etcdctl watch against metastore: live events, history from --rev, --prev-kv,
# ranges, cancellation on compacted history.
. "$(dirname "$0")/lib.sh"

MS_PORT=$(free_port)
start_metastore "$MS_PORT"

ctl put a 1 >/dev/null      # rev 2
ctl put b 2 >/dev/null      # rev 3

# watch_bg NAME ARGS...: a watcher in the background, its output in $E2E_TMP/NAME.
watch_bg() {
	local name=$1
	shift
	# etcdctl itself, not the ctl function, so that $! is its pid and cleanup ends it.
	etcdctl --endpoints="127.0.0.1:$MS_PORT" --dial-timeout=2s watch "$@" >"$E2E_TMP/$name" 2>&1 &
	E2E_PIDS+=($!)
}
# Watchers start at revision 4 (the marker's, still in the future), so when each registers
# does not matter: none can miss an event.
watch_bg all --prefix "" --rev=4
watch_bg a_only a --rev=4
watch_bg range_bc b c --rev=4
watch_bg hist --prefix "" --rev=2 --prev-kv
seen() { grep -q "$2" "$E2E_TMP/$1"; }
ctl put marker m >/dev/null  # rev 4
for w in all hist; do
	wait_until 10 seen "$w" marker || fail "watcher $w did not start"
done

ctl put a 3 >/dev/null                                      # rev 5
ctl del b >/dev/null                                        # rev 6
printf '\nput c 1\nput bb 2\n\n\n' | ctl txn >/dev/null     # rev 7: two events
ctl put zz end >/dev/null                                   # rev 8
wait_until 10 seen all zz || fail "events did not arrive"
wait_until 10 seen hist zz || fail "history watcher did not catch up"
wait_until 10 seen a_only 3 || fail "watcher on a did not see its event"
wait_until 10 seen range_bc bb || fail "range watcher did not see its events"

expect_file() { # NAME EXPECTED
	[ "$(cat "$E2E_TMP/$1")" = "$2" ] || fail "watch $1: expected:
$2
got:
$(cat "$E2E_TMP/$1")"
}
expect_file all $'PUT\nmarker\nm\nPUT\na\n3\nDELETE\nb\n\nPUT\nc\n1\nPUT\nbb\n2\nPUT\nzz\nend'
expect_file a_only $'PUT\na\n3'
expect_file range_bc $'DELETE\nb\n\nPUT\nbb\n2'
# From revision 2 with previous values: every change since, each after its previous kv.
expect_file hist $'PUT\na\n1\nPUT\nb\n2\nPUT\nmarker\nm\nPUT\na\n1\na\n3\nDELETE\nb\n2\nb\n\nPUT\nc\n1\nPUT\nbb\n2\nPUT\nzz\nend'

# History that was compacted away cancels the watch with etcd's error.
ctl compaction 6 >/dev/null
rc=0
timeout 10 etcdctl --endpoints="127.0.0.1:$MS_PORT" watch a --rev=3 >"$E2E_TMP/compacted" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "watch on compacted history succeeded"
grep -qF "watch was canceled (etcdserver: mvcc: required revision has been compacted)" \
	"$E2E_TMP/compacted" || fail "compacted watch: $(cat "$E2E_TMP/compacted")"
# At the compaction revision history is still there.
timeout 3 etcdctl --endpoints="127.0.0.1:$MS_PORT" watch a --rev=6 >"$E2E_TMP/at_compact" 2>&1 || true
[ -z "$(cat "$E2E_TMP/at_compact")" ] || fail "watch from rev 6: $(cat "$E2E_TMP/at_compact")"
kill -0 "$MS_PID" || fail "metastore died"

# --max-watches: a watch beyond the limit is canceled with the reason; the others go on.
kill "$MS_PID"
MS_PORT=$(free_port)
start_metastore "$MS_PORT" --max-watches 1
etcdctl --endpoints="127.0.0.1:$MS_PORT" watch first >"$E2E_TMP/first" 2>&1 &
E2E_PIDS+=($!)
# the first watch is open once a put is delivered to it
wait_until 10 bash -c "etcdctl --endpoints=127.0.0.1:$MS_PORT put first 1 >/dev/null &&
	grep -qx 1 '$E2E_TMP/first'" || fail "first watch got nothing: $(cat "$E2E_TMP/first")"
rc=0
timeout 10 etcdctl --endpoints="127.0.0.1:$MS_PORT" watch second >"$E2E_TMP/second" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -qF "watch was canceled (etcdserver: too many watches (--max-watches))" \
	"$E2E_TMP/second" || fail "watch over --max-watches: $(cat "$E2E_TMP/second")"
ctl put first 2 >/dev/null
wait_until 10 grep -qx 2 "$E2E_TMP/first" || fail "first watch stopped after the refusal"
echo "PASS $E2E_NAME"
