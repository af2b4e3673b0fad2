#!/bin/bash
# Paired A/B of two store binaries under `--probes all`: both loaded at once on one CPU, CPU per call compared per window.
# usage: bench/store_ab.sh BIN_A BIN_B   (root; prints a Markdown section)
# env: AGENT, LOADGEN (build/ next to this script), BENCH_STATS (next to LOADGEN);
#      WORKLOADS ("read write"); RUNS (4: per workload, run i starts A first when odd, B first
#      when even: its store and agent first, each on a fresh free port); RUN_SECONDS (15) measured
#      per run in windows of WINDOW_MS (250); PROBES (all); CONNS, STREAMS, KEYS, VALUE_SIZE,
#      WARMUP as bench/overhead.sh (lib.sh's load_settings); PIN (1: both stores on the last
#      CPU, the load generators on the others); SEED; DATA_ROOT (/dev/shm when writable);
#      BENCH_SUMMARY: a file to append "storeab WORKLOAD ratio=... lo=... hi=... runs=..."
#      lines to (the over-runs figure)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib_stats.sh"

bin_a=$(realpath "$1")
bin_b=$(realpath "$2")
agent_bin=$(realpath "${AGENT:-$here/../build/metastore-agent}")
loadgen=$(realpath "${LOADGEN:-$here/../build/bench/loadgen}")
BENCH_STATS=${BENCH_STATS:-$(dirname "$loadgen")/bench_stats}
[ -x "$BENCH_STATS" ] || { echo "bench: $BENCH_STATS not built (make bench)" >&2; exit 1; }
load_settings
runs=${RUNS:-4}
run_seconds=${RUN_SECONDS:-15}
window_ms=${WINDOW_MS:-250}
probes=${PROBES:-all}
seed=${SEED:-$(date +%s%N | cut -c 8-16)}
read -r -a workloads <<<"${WORKLOADS:-read write}"

tmp=$(mktemp -d /tmp/ms-bench-ab.XXXXXX)
data_root=${DATA_ROOT:-}
if [ -z "$data_root" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	data_root=/dev/shm
fi
data=$(mktemp -d "${data_root:-$tmp}/ms-bench-ab-data.XXXXXX")
trap 'bench_cleanup; rm -rf "$tmp" "$data"' EXIT

# Private copies: each agent's --binary then probes only its own store.
mkdir -p "$tmp/A" "$tmp/B"
cp "$bin_a" "$tmp/A/metastore"
cp "$bin_b" "$tmp/B/metastore"
stats_pins

common=(--verify --conns "$conns" --streams "$streams" --warmup "$warmup" --keys "$keys"
	--value-size "$value_size")
read_args=(--workload mixed --get-percent 90 "${common[@]}")
write_args=(--workload put "${common[@]}")

# start_side S: store S (A or B) on a free port with its agent attached; sets pid_S, port_S.
start_side() {
	local s=$1 port sem
	port=$(bench_free_port)
	rm -rf "$data/$s"
	bench_spawn "$tmp/$s/store.log" "${server_pin[@]}" "$tmp/$s/metastore" \
		--listen "127.0.0.1:$port" --data-dir "$data/$s" --snapshot-count 100000000 \
		--quota-backend-bytes -1
	printf -v "pid_$s" %s "$BENCH_LAST_PID"
	printf -v "port_$s" %s "$port"
	bench_wait_listen "$BENCH_LAST_PID" "$port" 10
	bench_wait_ready "$loadgen" "$port" 30
	bench_start_agent "$tmp/$s/agent.log" "$agent_bin" --binary "$tmp/$s/metastore" \
		--probes "$probes"
	printf -v "apid_$s" %s "$BENCH_AGENT_PID"
	printf -v "aport_$s" %s "$BENCH_AGENT_PORT"
	sem=$(stats_sem_addr "$tmp/$s/metastore")
	[ "$(stats_get_sem "$(eval echo "\$pid_$s")" "$sem")" != 0 ] ||
		{ echo "bench: store $s: batch probe semaphore 0 with the agent attached" >&2; return 1; }
}

# one_run WORKLOAD RUN FIRST SECOND LOADGEN-ARGS...: both stores and agents (FIRST started
# first), both load generators at once; "window:" lines to $tmp/win.WORKLOAD.RUN.{A,B}.
one_run() {
	local name=$1 run=$2 first=$3 second=$4 s pids=() rc=0
	shift 4
	start_side "$first"
	start_side "$second"
	# one unmeasured run each, at once: allocations and caches warm up alike
	for s in "$first" "$second"; do
		"${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$(eval echo "\$port_$s")" "$@" \
			--duration 1 >"$tmp/warm.$s" 2>&1 &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	[ "$rc" = 0 ] || { echo "bench: warm-up run failed" >&2; cat "$tmp"/warm.* >&2; return 1; }
	pids=()
	for s in "$first" "$second"; do
		"${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$(eval echo "\$port_$s")" "$@" \
			--duration "$run_seconds" --window-pid "$(eval echo "\$pid_$s")" \
			--window-ms "$window_ms" >"$tmp/out.$name.$run.$s" 2>&1 &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	for s in A B; do
		grep -q '^result: .* errors=0 ' "$tmp/out.$name.$run.$s" || rc=1
		grep '^window: ' "$tmp/out.$name.$run.$s" >"$tmp/win.$name.$run.$s" || rc=1
		metrics=$(curl -s --max-time 5 "http://127.0.0.1:$(eval echo "\$aport_$s")/metrics" || true)
		grep -q '^grpc_server_request_total{.*} [1-9]' <<<"$metrics" || rc=1
		echo "  store_ab $name run $run $s: $(grep '^result: ' "$tmp/out.$name.$run.$s")" >&2
	done
	[ "$rc" = 0 ] || { echo "bench: run $name $run failed" >&2; cat "$tmp"/out."$name.$run".* >&2; return 1; }
	for s in "$first" "$second"; do
		bench_stop "$(eval echo "\$apid_$s")"
		bench_stop "$(eval echo "\$pid_$s")"
	done
}

# pairs WORKLOAD [RUN-GLOB]: "B A" CPU per call lines, one per window both runs measured with
# calls in it (joined by window number).
pairs() {
	local name=$1 glob=${2:-*} f
	for f in "$tmp"/win."$name".$glob.A; do
		join <(awk '{ sub(/calls=/, "", $3); sub(/cpu_ns=/, "", $4); if ($3 > 0) print $2, $4 / $3 }' \
			"${f%.A}.B" | sort -k1,1) \
			<(awk '{ sub(/calls=/, "", $3); sub(/cpu_ns=/, "", $4); if ($3 > 0) print $2, $4 / $3 }' \
			"$f" | sort -k1,1) | awk '{ print $2, $3 }'
	done
}

t0=$(date +%s)
for name in "${workloads[@]}"; do
	case $name in
	read) args=("${read_args[@]}") ;;
	write) args=("${write_args[@]}") ;;
	*) echo "bench: unknown workload $name" >&2; exit 2 ;;
	esac
	for run in $(seq 1 "$runs"); do
		if [ $((run % 2)) = 1 ]; then
			one_run "$name" "$run" A B "${args[@]}"
		else
			one_run "$name" "$run" B A "${args[@]}"
		fi
	done
done
elapsed=$(($(date +%s) - t0))

wname() { [ "$1" = read ] && echo "read-heavy (90% get)" || echo "write (put)"; }
echo "Store B against store A, both loaded at once${pin_note:+ ($pin_note; both stores on that CPU)},"
echo "each with its own agent (\`--probes $probes\`) and its own load generator started together"
echo "(read-heavy: \`${read_args[*]}\`; write: \`${write_args[*]}\`). Per window of $window_ms ms"
echo "(\`loadgen --window-pid\`, windows aligned on CLOCK_MONOTONIC so both cover the same time):"
echo "each store's CPU time (schedstat, all threads) over the calls its load generator finished;"
echo "the ratio B / A; median of the windows and a 95 % bootstrap interval (seed $seed)."
echo "$runs runs of $run_seconds s per workload, odd runs start A first, even runs B first. A: \`$1\`,"
echo "B: \`$2\`. The whole $elapsed s."
echo
echo "| workload | windows | CPU/call A ns | B ns | B / A [95 % CI] | width | A first | B first |"
echo "|---|---:|---:|---:|---|---:|---|---|"
for name in "${workloads[@]}"; do
	l=$(pairs "$name" | "$BENCH_STATS" ratio --seed "$seed" --resamples "${STATS_RESAMPLES:-10000}")
	odd=$(for r in $(seq 1 2 "$runs"); do pairs "$name" "$r"; done |
		"$BENCH_STATS" ratio --seed "$seed" --resamples "${STATS_RESAMPLES:-10000}")
	even=n/a
	[ "$runs" -lt 2 ] || even=$(stats_headline "$(for r in $(seq 2 2 "$runs"); do pairs "$name" "$r"; done |
		"$BENCH_STATS" ratio --seed "$seed" --resamples "${STATS_RESAMPLES:-10000}")")
	printf '| %s | %s | %.0f | %.0f | %s | %.4f | %s | %s |\n' "$(wname "$name")" \
		"$(bench_field "$l" n)" "$(bench_median $(pairs "$name" | awk '{ print $2 }'))" \
		"$(bench_median $(pairs "$name" | awk '{ print $1 }'))" "$(stats_headline "$l")" \
		"$(awk -v lo="$(bench_field "$l" lo)" -v hi="$(bench_field "$l" hi)" 'BEGIN { print hi - lo }')" \
		"$(stats_headline "$odd")" "$even"
done
echo
echo "Median B / A of each run's windows (run 1, 2, ...): windows of one run share its offsets"
echo "(where each store's memory landed, which got its port first), so the interval above holds"
echo "the window-to-window noise only; a spread between runs wider than it is the run-to-run part:"
echo
# run_median WORKLOAD RUN: the median B / A of one run's windows
run_median() {
	printf '%.4f' "$(bench_median $(pairs "$1" "$2" | awk '{ print $1 / $2 }'))"
}
for name in "${workloads[@]}"; do
	line=
	for r in $(seq 1 "$runs"); do
		line+="$(run_median "$name" "$r") "
	done
	echo "- $(wname "$name"): ${line% }"
done
echo
echo "Over runs (the figure to read a difference by): the median of the runs' medians and a 95 %"
echo "bootstrap interval resampling whole runs (seed $seed), so the run-to-run part is in it;"
echo "with few runs it is wide (8 or more make it useful):"
echo
for name in "${workloads[@]}"; do
	l=$(for r in $(seq 1 "$runs"); do echo "$(run_median "$name" "$r") 1"; done |
		"$BENCH_STATS" ratio --seed "$seed" --resamples "${STATS_RESAMPLES:-10000}")
	echo "- $(wname "$name"): $(stats_headline "$l") over $(bench_field "$l" n) runs"
	[ -z "${BENCH_SUMMARY:-}" ] ||
		echo "storeab $name ratio=$(bench_field "$l" median) lo=$(bench_field "$l" lo) hi=$(bench_field "$l" hi) runs=$(bench_field "$l" n)" \
			>>"$BENCH_SUMMARY"
done
