#!/usr/bin/env bash
# Connection hygiene: floods of 1100 TCP connections, more than the store's default
# --max-connections 1024, must not keep etcdctl out (5 puts and gets, each answered within
# 3 s, while the flood holds its connections): connections that send nothing, that finish the
# HTTP/2 handshake and go silent, that send the preface a byte a second, and that open a Put
# and send its body a byte a second. The store closes the first three kinds at its deadlines
# (handshake 10 s, the default; idle 4 s here) and makes room by closing the oldest
# connection in its handshake or the longest idle one. Debian's etcd 3.4 runs the etcdctl
# checks as the control (it has no connection limit; its deadlines are not checked).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_etcd.sh"

N=${N:-1100}
# the store's flags: a short idle timeout so that the test need not wait 5 minutes
read -r -a MS_ARGS <<<"${MS_ARGS---idle-timeout 4000}"
# each flood holds N sockets, the server as many: fds for both with room to spare
ulimit -n 8192 2>/dev/null || [ "$(ulimit -n)" -ge $((N + 512)) ] ||
	fail "ulimit -n $(ulimit -n) is below $((N + 512)) and cannot be raised"

: "${LOADCLIENT:=build/tests/e2e/loadclient}"
[ -x "$LOADCLIENT" ] || fail "$LOADCLIENT not built (run make)"

# established PORT: server-side sockets of PORT in ESTABLISHED (ours and the flood's).
established() {
	ss -Htn state established "( sport = :$1 )" | wc -l
}

none_established() {
	[ "$(established "$1")" -eq 0 ]
}

# start_flood PORT MODE: sets FLOOD_PID once all N connections are open.
start_flood() {
	rm -f "$E2E_TMP/ready"
	"$LOADCLIENT" flood "$1" "$N" "$2" "$E2E_TMP/ready" 2>"$E2E_TMP/flood.log" &
	FLOOD_PID=$!
	E2E_PIDS+=("$FLOOD_PID")
	wait_until 30 grep -qx "$N" "$E2E_TMP/ready" || fail "flood of $N $2 connections did not open"
}

stop_flood() {
	kill "$FLOOD_PID" 2>/dev/null || true
	wait "$FLOOD_PID" 2>/dev/null || true
}

# served PORT LABEL: 5 etcdctl puts and gets, each answered within 3 s; prints the slowest.
served() {
	local port=$1 label=$2 i t0 t1 ms max=0
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		timeout 3 etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s \
			--command-timeout=2s put "flood/$i" "v$i" >/dev/null ||
			fail "$label: put $i not answered within 3 s"
		[ "$(timeout 3 etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s \
			--command-timeout=2s get --print-value-only "flood/$i")" = "v$i" ] ||
			fail "$label: get $i not answered within 3 s"
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		[ "$ms" -gt "$max" ] && max=$ms
	done
	echo "  $label: 5 put+get with $N connections open, slowest pair ${max} ms"
}

for server in $(control_servers); do
	PORT=$(free_port)
	if [ "$server" = metastore ]; then
		start_metastore "$PORT" ${MS_ARGS[@]+"${MS_ARGS[@]}"}
		pid=$MS_PID
	else
		start_etcd "$PORT"
		pid=$ETCD_PID
	fi
	for mode in silent handshake slowpreface slowbody; do
		t_open=$(date +%s)
		rss0=$(rss_kb "$pid")
		start_flood "$PORT" "$mode"
		served "$PORT" "$server, $mode flood"
		rss1=$(rss_kb "$pid")
		echo "  $server: RSS $((rss0 / 1024)) MiB before the $mode flood, $((rss1 / 1024)) MiB with it"
		# what a connection costs (the store's ~14 KiB; etcd's up to ~70 KiB in the slowbody flood)
		[ $((rss1 - rss0)) -le $((N * 128)) ] ||
			fail "$server: $mode flood cost $(((rss1 - rss0) / N)) KiB per connection (bound 128)"
		if [ "$server" = metastore ]; then
			# the store holds at most --max-connections; the flood's go at the deadline:
			# 10 s without a handshake, 4 s idle (+ a sweep of 1 s, + the flood's start)
			[ "$(established "$PORT")" -le 1024 ] ||
				fail "$server holds $(established "$PORT") connections (> 1024)"
			if [ "$mode" = slowbody ]; then
				# a stream is open: no deadline closes them, admitting new ones does
				echo "  $server: holds $(established "$PORT") of the $mode connections"
				stop_flood
				continue
			fi
			deadline=$([ "$mode" = handshake ] && echo 4 || echo 10)
			wait_until $((deadline + 5)) none_established "$PORT" ||
				fail "$server still holds $(established "$PORT") $mode connections"
			took=$(($(date +%s) - t_open))
			echo "  $server: every $mode connection closed by the store ${took} s after the flood began"
			grep -q "closed client connections: " "$E2E_TMP/metastore-$PORT.log" ||
				fail "$server logged nothing about the connections it closed"
		else
			echo "  $server: holds $(established "$PORT") connections (no limit, no deadline checked)"
		fi
		stop_flood
	done
	kill -0 "$pid" || fail "$server died"
done
echo "PASS $E2E_NAME"
