#!/usr/bin/env bash
# Watch backpressure: one client with 50 watchers that never read while 1000 puts of 10 KiB
# land, then 50 watches from revision 1 that never read; the store's RSS stays within a
# bound stated here, and once the clients read, every watcher gets every event exactly once,
# in order. Two layouts: the 50 watchers on one stream (as clientv3 puts the watches of one
# context) and 50 streams of one watcher. Debian's etcd 3.4 runs every step as the control
# of the delivery checks; its RSS is printed for comparison only: it moves with its garbage
# collector (one-stream history step: 40 to 174 MiB between runs), and with a stream per
# watcher it answers a watch from an old revision with one response of up to 1000 revisions
# per watcher (measured 27 -> 590 MB), so a bound on it would be a check etcd fails.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_etcd.sh"

: "${LOADCLIENT:=build/tests/e2e/loadclient}"
[ -x "$LOADCLIENT" ] || fail "$LOADCLIENT not built (run make)"
WATCHERS=${WATCHERS:-50}
PUTS=${PUTS:-1000}
SIZE=${SIZE:-10240}
# the client's HTTP/2 window per stream and for the connection (grpc-go starts at 64 KiB
# and may grow it to 16 MiB; the large window lets the most bytes leave the server)
WINDOW=${WINDOW:-65535}
# RSS growth allowed per step, KiB: the 10 MB of values the puts store (the store keeps
# the history until compacted) and the watch buffers; etcd stays within it too
BOUND_LIVE_KB=${BOUND_LIVE_KB:-65536}
BOUND_HIST_KB=${BOUND_HIST_KB:-65536}
# the store's own figure for watchers that do not read, from its send buffers: per stream
# 128 KiB + one response of 32 KiB, doubled for buffer growth, and 4 MiB of socket writes
# per connection, plus 4 MiB of slack (more for a sanitizer build); checked on the history
# step, which adds no data
STORE_SLACK_KB=${STORE_SLACK_KB:-4096}
store_bound_kb() {
	echo $((STREAMS * 320 + 4096 + STORE_SLACK_KB))
}

# peak_rss PID: the largest RSS of PID (KiB) over one second of sampling.
peak_rss() {
	local max=0 v
	for _ in $(seq 10); do
		v=$(rss_kb "$1")
		[ "$v" -gt "$max" ] && max=$v
		sleep 0.1
	done
	echo "$max"
}

# start_watch NAME PORT START_REV [FIRST_REV [compacted]]: a loadclient client of $WATCHERS
# watchers on /bp/ ($STREAMS streams) that reads nothing until $E2E_TMP/go exists; waits
# for every `created`.
start_watch() {
	"$LOADCLIENT" watch "$2" "$STREAMS" $((WATCHERS / STREAMS)) /bp/ "$3" "$PUTS" "${4:-2}" \
		"$E2E_TMP/go" 180 "$WINDOW" ${5:+"$5"} >"$E2E_TMP/$1.out" 2>"$E2E_TMP/$1.log" &
	WATCH_PID=$!
	E2E_PIDS+=("$WATCH_PID")
	wait_until 30 grep -qx "created $WATCHERS" "$E2E_TMP/$1.out" ||
		fail "$1: $WATCHERS watchers not created: $(cat "$E2E_TMP/$1.out" "$E2E_TMP/$1.log")"
}

runs=()
servers=$(control_servers)
for n in 1 "$WATCHERS"; do
	for server in $servers; do
		runs+=("$n $server")
	done
done
for run in "${runs[@]}"; do
	read -r STREAMS server <<<"$run"
	bounded=1
	[ "$server" = etcd ] && bounded=0
	PORT=$(free_port)
	rm -f "$E2E_TMP/go"
	if [ "$server" = metastore ]; then
		start_metastore "$PORT"
		pid=$MS_PID
	else
		start_etcd "$PORT"
		pid=$ETCD_PID
	fi
	start_watch live "$PORT" 0
	live=$WATCH_PID
	rss0=$(peak_rss "$pid")
	"$LOADCLIENT" put "$PORT" "$PUTS" "$SIZE" /bp/ >"$E2E_TMP/put.out" ||
		fail "$server: puts failed"
	grep -qx "put $PUTS first_rev 2 last_rev $((PUTS + 1))" "$E2E_TMP/put.out" ||
		fail "$server: puts: $(cat "$E2E_TMP/put.out")"
	rss1=$(peak_rss "$pid")
	start_watch hist "$PORT" 1
	hist=$WATCH_PID
	rss2=$(peak_rss "$pid")
	echo "  $server, $WATCHERS watchers on $STREAMS stream(s): RSS $((rss0 / 1024)) MiB idle," \
		"$((rss1 / 1024)) MiB after $PUTS puts of $SIZE B nobody read," \
		"$((rss2 / 1024)) MiB with $WATCHERS more watching from revision 1" \
		"$([ $bounded = 1 ] || echo "(not bounded)")"
	# other clients are served while the watchers hold their buffers full
	t0=$(date +%s%N)
	timeout 3 etcdctl --endpoints="127.0.0.1:$PORT" --dial-timeout=2s --command-timeout=2s \
		put /other v >/dev/null || fail "$server: a put took over 3 s with the watchers stalled"
	[ "$(timeout 3 etcdctl --endpoints="127.0.0.1:$PORT" --dial-timeout=2s \
		--command-timeout=2s get --print-value-only /other)" = v ] ||
		fail "$server: a get took over 3 s with the watchers stalled"
	echo "  $server: put + get by another client in $((($(date +%s%N) - t0) / 1000000)) ms meanwhile"
	[ $bounded = 0 ] || [ $((rss1 - rss0)) -le "$BOUND_LIVE_KB" ] ||
		fail "$server: RSS grew $(((rss1 - rss0) / 1024)) MiB with live watchers not reading (bound $((BOUND_LIVE_KB / 1024)) MiB)"
	[ $bounded = 0 ] || [ $((rss2 - rss1)) -le "$BOUND_HIST_KB" ] ||
		fail "$server: RSS grew $(((rss2 - rss1) / 1024)) MiB with history watchers not reading (bound $((BOUND_HIST_KB / 1024)) MiB)"
	if [ "$server" = metastore ] && [ $((rss2 - rss1)) -gt "$(store_bound_kb)" ]; then
		fail "$server: RSS grew $(((rss2 - rss1) / 1024)) MiB with history watchers not reading (its own bound $(($(store_bound_kb) / 1024)) MiB)"
	fi
	touch "$E2E_TMP/go"
	for w in live hist; do
		p=$live
		[ $w = hist ] && p=$hist
		wait "$p" || fail "$server: $w watchers: $(cat "$E2E_TMP/$w.out" "$E2E_TMP/$w.log")"
		grep -qx "events $((WATCHERS * PUTS)) watchers $WATCHERS complete $WATCHERS compacted 0" "$E2E_TMP/$w.out" ||
			fail "$server: $w watchers: $(cat "$E2E_TMP/$w.out")"
	done
	echo "  $server: each of the $((2 * WATCHERS)) watchers then got its $PUTS events once, in order"
	if [ "$STREAMS" = 1 ]; then
		# watchers left behind lose their history to a compaction: etcd cancels each with
		# the compaction revision, after the events that had already left (revision 1, the
		# puts and /other are behind: the watchers start at PUTS + 3)
		rm -f "$E2E_TMP/go"
		start_watch compact "$PORT" 0 $((PUTS + 3)) compacted
		"$LOADCLIENT" put "$PORT" "$PUTS" "$SIZE" /bp/ >"$E2E_TMP/put.out" ||
			fail "$server: second puts failed"
		etcdctl --endpoints="127.0.0.1:$PORT" compaction $((2 * PUTS + 2)) >/dev/null ||
			fail "$server: compaction failed"
		touch "$E2E_TMP/go"
		wait "$WATCH_PID" || fail "$server: compacted watchers: $(cat "$E2E_TMP/compact.out" "$E2E_TMP/compact.log")"
		grep -qx "events [0-9]* watchers $WATCHERS complete $WATCHERS compacted $WATCHERS" \
			"$E2E_TMP/compact.out" || fail "$server: compacted watchers: $(cat "$E2E_TMP/compact.out")"
		echo "  $server: $WATCHERS watchers behind a compaction canceled with its revision after $(awk '{ print $2 }' "$E2E_TMP/compact.out" | tail -n 1) events in order"
	fi
	kill -0 "$pid" || fail "$server died"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
done
echo "PASS $E2E_NAME"
