#!/bin/bash
# The store's CPU per call and throughput with the agent detached and with `--probes all`.
# usage: bench/overhead.sh METASTORE AGENT LOADGEN   (root; prints a Markdown section)
# env: WORKLOADS ("read write"), ROUNDS (40) per workload (READ_ROUNDS, WRITE_ROUNDS), each
#      round one detached and one attached run of DURATION seconds (1; writes WRITE_DURATION,
#      1), WARMUP (0.3), CONNS (2), STREAMS (16), KEYS (10000), VALUE_SIZE (256);
#      MODES ("detached all"; add grpc for a `--probes grpc` run per round);
#      PIN (1: the store on the last CPU, the load generator on the others, when >= 2 CPUs);
#      SEED (bootstrap seed; default from the clock, printed); BENCH_STATS (bench_stats next
#      to LOADGEN); BENCH_SUMMARY: a file to append "overhead WORKLOAD MODE k=v..." lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib_stats.sh"

store_bin=$(realpath "$1")
agent_bin=$(realpath "$2")
loadgen=$(realpath "$3")
BENCH_STATS=${BENCH_STATS:-$(dirname "$loadgen")/bench_stats}
[ -x "$BENCH_STATS" ] || { echo "bench: $BENCH_STATS not built (make bench)" >&2; exit 1; }
read_rounds=${READ_ROUNDS:-${ROUNDS:-40}}
write_rounds=${WRITE_ROUNDS:-${ROUNDS:-40}}
load_settings
duration=${DURATION:-1}
warmup=${WARMUP:-0.3}
write_duration=${WRITE_DURATION:-1}
read -r -a modes <<<"${MODES:-detached all}"
seed=${SEED:-$(date +%s%N | cut -c 8-16)}
pmu=$(stats_pmu)

tmp=$(mktemp -d /tmp/ms-bench-overhead.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

# A private copy: the agent's --binary then probes only the store this script started.
cp "$store_bin" "$tmp/metastore"
store=$tmp/metastore

stats_pins

# one_run NAME MODE ROUND LOADGEN-ARGS...: one load generator run against the store in the
# given mode; appends to the res_* arrays.
one_run() {
	local name=$1 mode=$2 round=$3 apid= aport line metrics ns0 ns1 calls hits recs ins=
	shift 3
	if [ "$mode" != detached ]; then
		bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$store" --probes "$mode"
		apid=$BENCH_AGENT_PID
		aport=$BENCH_AGENT_PORT
	fi
	ns0=$(stats_run_ns "$spid")
	if [ "$pmu" = yes ]; then
		line=$("$BENCH_STATS" instructions "$spid" -- "${lg_pin[@]}" "$loadgen" \
			--endpoint "127.0.0.1:$port" "$@")
		ins=$(sed -n 's/^instructions=//p' <<<"$line")
		grep -q '^result: .* errors=0 ' <<<"$line" ||
			{ echo "bench: load generator failed: $line" >&2; return 1; }
		line=$(grep '^result: ' <<<"$line")
	else
		line=$(bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" "$@")
	fi
	ns1=$(stats_run_ns "$spid")
	calls=$(bench_field "$line" calls)
	if [ -n "$apid" ]; then
		# The agent saw the calls: its request counter is non-zero.
		metrics=$(curl -s --max-time 5 "http://127.0.0.1:$aport/metrics" || true)
		grep -q '^grpc_server_request_total{.*} [1-9]' <<<"$metrics" ||
			{ echo "bench: agent ($mode) counted no calls" >&2; return 1; }
		# Uprobe hits: the subsystems sharing a function (the batch probe) each count
		# its hits, so a function counts once.
		hits=$(awk '$1 ~ /^metastore_agent_probe_hits_total[{]/ {
				match($1, /function="[^"]*"/); f = substr($1, RSTART, RLENGTH)
				if ($2 > h[f]) h[f] = $2 }
			END { for (f in h) s += h[f]; printf "%.0f", s }' <<<"$metrics")
		recs=$(awk '$1 ~ /^metastore_agent_probe_records_total[{]/ { s += $2 }
			END { printf "%.0f", s }' <<<"$metrics")
		res_hits["$name/$mode"]+=" $(awk -v h="$hits" -v n="$calls" 'BEGIN { printf "%.4f", h / n }')"
		res_recs["$name/$mode"]+=" $(awk -v h="$recs" -v n="$calls" 'BEGIN { printf "%.3f", h / n }')"
		bench_stop "$apid"
	fi
	echo "  overhead $name round $round $mode: cpu_ns=$((ns1 - ns0)) ${ins:+instructions=$ins }$line" >&2
	res_rps["$name/$mode"]+=" $(bench_field "$line" rps)"
	res_p50["$name/$mode"]+=" $(bench_field "$line" p50_us)"
	res_p99["$name/$mode"]+=" $(bench_field "$line" p99_us)"
	res_cpu["$name/$mode"]+=" $(awk -v d="$((ns1 - ns0))" -v n="$calls" 'BEGIN { printf "%.2f", d / n }')"
	[ -z "$ins" ] || res_ins["$name/$mode"]+=" $(awk -v d="$ins" -v n="$calls" 'BEGIN { printf "%.1f", d / n }')"
}

# run_workload NAME ROUNDS LOADGEN-ARGS...: all rounds of one workload on one store process.
run_workload() {
	local name=$1 rounds=$2 round i n=${#modes[@]}
	shift 2
	port=$(bench_free_port)
	rm -rf "$tmp/data"
	# No raft snapshot during the runs: each one (a cost that grows with the data) would
	# otherwise fall in one mode's run more often than in the other's.
	bench_spawn "$tmp/store.log" "${server_pin[@]}" "$store" --listen "127.0.0.1:$port" \
		--data-dir "$tmp/data" --snapshot-count 100000000
	spid=$BENCH_LAST_PID
	bench_wait_listen "$spid" "$port" 10
	bench_wait_ready "$loadgen" "$port" 30
	# One unmeasured run: the store's first allocations and the page cache warm up.
	bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" "$@" >/dev/null
	for round in $(seq 1 "$rounds"); do
		# Odd rounds run the modes in order, even rounds in reverse (ABBA), so a
		# drift over the run weighs on every mode alike.
		for i in $(seq 0 $((n - 1))); do
			if [ $((round % 2)) = 1 ]; then
				one_run "$name" "${modes[$i]}" "$round" "$@"
			else
				one_run "$name" "${modes[$((n - 1 - i))]}" "$round" "$@"
			fi
		done
	done
	bench_stop "$spid"
}

declare -A res_rps res_p50 res_p99 res_cpu res_hits res_recs res_ins
common=(--verify --conns "$conns" --streams "$streams" --warmup "$warmup" --keys "$keys"
	--value-size "$value_size")
read_args=(--workload mixed --get-percent 90 --duration "$duration" "${common[@]}")
write_args=(--workload put --duration "$write_duration" "${common[@]}")
read -r -a workloads <<<"${WORKLOADS:-read write}"
t0=$(date +%s)
for name in "${workloads[@]}"; do
	case $name in
	read) run_workload read "$read_rounds" "${read_args[@]}" ;;
	write) run_workload write "$write_rounds" "${write_args[@]}" ;;
	*) echo "bench: unknown workload $name" >&2; exit 2 ;;
	esac
done
elapsed=$(($(date +%s) - t0))

echo "Rounds: $read_rounds (read-heavy) and $write_rounds (write), one store process per workload;"
echo "each round runs ${modes[*]} once each, odd rounds in that order and even rounds in"
echo "reverse (the agent is started before and stopped after its run, and must answer"
echo "\`/health\` 200 and count the calls). $elapsed s for both workloads. The store runs from a"
echo "copy of \`build/metastore\` with \`--snapshot-count 100000000\` (no raft snapshot inside a"
echo "run)${pin_note:+, $pin_note}. Load (\`build/bench/loadgen\`, same machine):"
echo
echo "- read-heavy: \`loadgen --endpoint 127.0.0.1:PORT ${read_args[*]}\`"
echo "- write: \`loadgen --endpoint 127.0.0.1:PORT ${write_args[*]}\`"
echo
echo "\`--verify\` decodes every response; any non-OK or wrong response fails the run."
echo
echo "**Store CPU per call** is the run time of all the store's threads from"
echo "\`/proc/<pid>/task/*/schedstat\` (ns; the uprobe handlers and BPF programs it runs"
echo "included) over the load generator's run, divided by every call that run finished"
echo "(warm-up and preload included). Its ratio is taken per round (attached / detached of"
echo "the same round); the table gives the median of those ratios and a 95 % bootstrap"
echo "percentile interval of that median (${STATS_RESAMPLES:-10000} resamples of the rounds, seed $seed)."
echo "Target: CPU per call with all probes <= 1.01 of detached; \"not resolved\" when the"
echo "interval has values on both sides of 1.01. Req/s ratios get the same treatment (no"
echo "target: they move with whatever else runs on the machine, CPU per call far less)."
if [ "$pmu" = yes ]; then
	echo "Instructions per call: hardware counters (\`perf_event_open\`) on the store's threads."
else
	echo "Instructions per call: not measured, this machine has no hardware counters"
	echo "(${pmu#no: })."
fi
echo
echo "Probe hits per call: uprobe hits (\`metastore_agent_probe_hits_total\`, each probed"
echo "function once) after the run divided by its calls; records per call: the batch probe's"
echo "records (\`metastore_agent_probe_records_total\`, all subsystems) per call. \"Added ns"
echo "per call\": median attached CPU per call minus median detached."
echo
echo "| workload | agent | req/s (median) | p50 us | p99 us | store CPU ns/call | CPU/call vs detached [95 % CI] | target <= 1.01 | req/s vs detached [95 % CI] | probe hits/call | records/call | added ns/call |$([ "$pmu" = yes ] && echo " instructions/call |")"
echo "|---|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|$([ "$pmu" = yes ] && echo "---:|")"
for name in "${workloads[@]}"; do
	for mode in "${modes[@]}"; do
		label=$([ "$mode" = detached ] && echo detached || echo "\`--probes $mode\`")
		cpu=- verdict=- rps=- hpc=- rpc=- added=-
		if [ "$mode" != detached ]; then
			cl=$(stats_pairs "${res_cpu["$name/$mode"]}" "${res_cpu["$name/detached"]}" |
				stats_ratio "$seed" 1.01 at-most)
			rl=$(stats_pairs "${res_rps["$name/$mode"]}" "${res_rps["$name/detached"]}" |
				stats_ratio "$seed" 1 at-least)
			cpu=$(stats_headline "$cl")
			verdict=$(stats_verdict "$cl")
			rps=$(stats_headline "$rl")
			hpc=$(printf '%.4f' "$(stats_med "${res_hits["$name/$mode"]}")")
			rpc=$(printf '%.3f' "$(stats_med "${res_recs["$name/$mode"]}")")
			added=$(awk -v a="$(stats_med "${res_cpu["$name/$mode"]}")" \
				-v d="$(stats_med "${res_cpu["$name/detached"]}")" 'BEGIN { printf "%.0f", a - d }')
			[ "$verdict" = met ] && verdict="met" || verdict="**$verdict**"
		fi
		ins=
		[ "$pmu" != yes ] || ins=" $(stats_med "${res_ins["$name/$mode"]}") |"
		printf '| %s | %s | %.0f | %.1f | %.1f | %.0f | %s | %s | %s | %s | %s | %s |%s\n' \
			"$([ "$name" = read ] && echo "read-heavy (90% get)" || echo "write (put)")" \
			"$label" "$(stats_med "${res_rps["$name/$mode"]}")" "$(stats_med "${res_p50["$name/$mode"]}")" \
			"$(stats_med "${res_p99["$name/$mode"]}")" "$(stats_med "${res_cpu["$name/$mode"]}")" \
			"$cpu" "$verdict" "$rps" "$hpc" "$rpc" "$added" "$ins"
		if [ -n "${BENCH_SUMMARY:-}" ] && [ "$mode" != detached ]; then
			echo "overhead $name $mode cpu=$(bench_field "$cl" median) cpu_lo=$(bench_field "$cl" lo)" \
				"cpu_hi=$(bench_field "$cl" hi) verdict=$(bench_field "$cl" verdict)" \
				"rps=$(bench_field "$rl" median) rps_lo=$(bench_field "$rl" lo)" \
				"rps_hi=$(bench_field "$rl" hi) hits=$hpc records=$rpc added_ns=$added" \
				"cpu_ns=$(stats_med "${res_cpu["$name/detached"]}") rounds=$(bench_field "$cl" n)" \
				"seed=$seed pmu=${pmu%%:*} seconds=$elapsed" >>"$BENCH_SUMMARY"
		fi
	done
done
echo
echo "Per-round store CPU per call (ns, ${modes[*]}):"
echo
for name in "${workloads[@]}"; do
	line=
	read -r -a first <<<"${res_cpu["$name/${modes[0]}"]}"
	for i in "${!first[@]}"; do
		cell=
		for mode in "${modes[@]}"; do
			read -r -a v <<<"${res_cpu["$name/$mode"]}"
			cell+="$(printf '%.0f' "${v[$i]}")/"
		done
		line+="${cell%/} "
	done
	echo "- $name: ${line% }"
done
