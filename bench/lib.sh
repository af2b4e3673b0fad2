# Shared helpers for the benchmark scripts: free ports, started processes, bounded waits.
# Sourced (not run); the caller has `set -euo pipefail`. Every process started through
# bench_spawn is stopped by bench_cleanup, which the caller traps on EXIT.

BENCH_PIDS=()

# bench_free_port: prints a 127.0.0.1 TCP port that no socket uses now.
bench_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(shuf -i 20000-60999 -n 1)
		# Any socket on it (TIME_WAIT included) could make a bind fail.
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "bench: no free port found" >&2
	return 1
}

# bench_spawn LOG CMD...: starts CMD in the background with stdout+stderr to LOG,
# records its pid for bench_cleanup and sets BENCH_LAST_PID.
bench_spawn() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BENCH_LAST_PID=$!
	BENCH_PIDS+=("$BENCH_LAST_PID")
}

# bench_wait_listen PID PORT SECONDS: waits until PID listens on 127.0.0.1:PORT.
bench_wait_listen() {
	local pid=$1 port=$2 secs=$3 i
	for i in $(seq 1 $((secs * 20))); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: process $pid exited before listening on $port" >&2
			return 1
		fi
		if ss -Htlnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
			return 0
		fi
		sleep 0.05
	done
	echo "bench: process $pid not listening on $port after ${secs}s" >&2
	return 1
}

# bench_wait_http URL SECONDS: waits until URL answers 200.
bench_wait_http() {
	local url=$1 secs=$2 i
	for i in $(seq 1 $((secs * 10))); do
		if [ "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$url" || true)" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "bench: $url not 200 after ${secs}s" >&2
	return 1
}

# bench_stop PID: SIGTERM, then SIGKILL after 10 s; waits for it; forgets the pid.
bench_stop() {
	local pid=$1 i keep=()
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	for i in "${BENCH_PIDS[@]}"; do
		[ "$i" = "$pid" ] || keep+=("$i")
	done
	BENCH_PIDS=("${keep[@]+"${keep[@]}"}")
}

# bench_cleanup: stops every process still recorded (for trap ... EXIT).
bench_cleanup() {
	local pid
	for pid in "${BENCH_PIDS[@]+"${BENCH_PIDS[@]}"}"; do
		bench_stop "$pid"
	done
}

# bench_field LINE KEY: prints the value of KEY=value in a loadgen "result:" line.
bench_field() {
	local kv
	for kv in $1; do
		case $kv in "$2"=*) echo "${kv#*=}"; return 0 ;; esac
	done
	echo "bench: no $2 in: $1" >&2
	return 1
}

# bench_median V...: prints the median of the numbers (mean of the middle two if even).
bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_ratio A B: prints A/B with 3 decimals ("-" when B is 0).
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.3f\n", a / b }'
}

# bench_loadgen LOADGEN ARGS...: runs the load generator (killed after 300 s at most) and
# prints its "result:" line; fails (with its output on stderr) when it fails or reports a
# non-OK response.
bench_loadgen() {
	local out rc=0
	out=$(timeout -k 5 300 "$@" 2>&1) || rc=$?
	if [ "$rc" != 0 ] || ! grep -q '^result: .* errors=0 ' <<<"$out"; then
		echo "bench: load generator failed (exit $rc): $*" >&2
		echo "$out" >&2
		return 1
	fi
	grep '^result: ' <<<"$out"
}

# bench_start_agent LOG AGENT ARGS...: starts the agent with --listen on a free port (up to
# 3 ports, in case another process takes one first) and waits for /health 200. Sets
# BENCH_AGENT_PID and BENCH_AGENT_PORT.
bench_start_agent() {
	local log=$1 try
	shift
	for try in 1 2 3; do
		BENCH_AGENT_PORT=$(bench_free_port)
		bench_spawn "$log" "$@" --listen "127.0.0.1:$BENCH_AGENT_PORT"
		BENCH_AGENT_PID=$BENCH_LAST_PID
		if bench_wait_http "http://127.0.0.1:$BENCH_AGENT_PORT/health" 20 2>/dev/null; then
			return 0
		fi
		bench_stop "$BENCH_AGENT_PID"
		grep -q 'cannot listen' "$log" || break
	done
	echo "bench: agent did not become healthy:" >&2
	cat "$log" >&2
	return 1
}

# bench_cpu_ticks PID: utime + stime of PID, all its threads (exited ones included), in
# clock ticks (getconf CLK_TCK per second), from /proc/PID/stat.
bench_cpu_ticks() {
	# After "pid (comm) ", field 1 is the state, so utime and stime are fields 12 and 13.
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# bench_wait_ready LOADGEN PORT SECONDS: waits until the server on 127.0.0.1:PORT answers
# one Put with OK (a raft member answers only once it leads).
bench_wait_ready() {
	local loadgen=$1 port=$2 secs=$3 i
	for i in $(seq 1 $((secs * 5))); do
		if timeout -k 2 10 "$loadgen" --endpoint "127.0.0.1:$port" --workload put \
			--requests 1 --warmup 0 --conns 1 --streams 1 --keys 1 \
			--key-prefix bench-ready/ >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	echo "bench: server on 127.0.0.1:$port answered no Put with OK in ${secs}s" >&2
	return 1
}

# load_settings: the client load every script drives (loadgen options), overridable from
# the environment: DURATION, WARMUP, CONNS, STREAMS, KEYS, VALUE_SIZE.
load_settings() {
	duration=${DURATION:-2}
	warmup=${WARMUP:-0.5}
	conns=${CONNS:-2}
	streams=${STREAMS:-16}
	keys=${KEYS:-10000}
	value_size=${VALUE_SIZE:-256}
}
