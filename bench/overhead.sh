#!/bin/bash
# Store throughput and latency with the agent detached, `--probes grpc` and `--probes all`.
# usage: bench/overhead.sh METASTORE AGENT LOADGEN   (root; prints a Markdown section)
# env: WORKLOADS ("read write"), READ_ROUNDS (9) of DURATION seconds per run (2),
#      WRITE_ROUNDS (21) of WRITE_DURATION seconds (1), ROUNDS (both round counts),
#      WARMUP seconds (0.5), CONNS (2), STREAMS (16), KEYS (10000), VALUE_SIZE (256);
#      BENCH_SUMMARY: a file to append "overhead WORKLOAD MODE rps=X ratio=Y" lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

store_bin=$(realpath "$1")
agent_bin=$(realpath "$2")
loadgen=$(realpath "$3")
# Writes wait for fsync, whose time varies from run to run far more than the probes' cost:
# more, shorter rounds resolve their ratio better in the same time.
read_rounds=${READ_ROUNDS:-${ROUNDS:-9}}
write_rounds=${WRITE_ROUNDS:-${ROUNDS:-21}}
load_settings
write_duration=${WRITE_DURATION:-1}

tmp=$(mktemp -d /tmp/ms-bench-overhead.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

# A private copy: the agent's --binary then probes only the store this script started.
cp "$store_bin" "$tmp/metastore"
store=$tmp/metastore
modes=(detached grpc all)

# run_workload NAME LOADGEN-ARGS...: all rounds of one workload; fills the res_* arrays.
run_workload() {
	local name=$1 port aport spid apid round mode line metrics ticks0 ticks1 hits recs i
	shift
	port=$(bench_free_port)
	rm -rf "$tmp/data"
	# No raft snapshot during the runs: with about as many writes per round as the default
	# --snapshot-count, each one (a cost that grows with the data) would fall in the same
	# mode's run round after round.
	bench_spawn "$tmp/store.log" "$store" --listen "127.0.0.1:$port" --data-dir "$tmp/data" \
		--snapshot-count 100000000
	spid=$BENCH_LAST_PID
	bench_wait_listen "$spid" "$port" 10
	bench_wait_ready "$loadgen" "$port" 30
	for round in $(seq 1 "$rounds"); do
		# The order rotates each round, so no mode always runs first or last.
		for i in 0 1 2; do
			mode=${modes[$(((round - 1 + i) % 3))]}
			apid=
			if [ "$mode" != detached ]; then
				bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$store" \
					--probes "$mode"
				apid=$BENCH_AGENT_PID
				aport=$BENCH_AGENT_PORT
			fi
			ticks0=$(bench_cpu_ticks "$spid")
			line=$(bench_loadgen "$loadgen" --endpoint "127.0.0.1:$port" "$@")
			ticks1=$(bench_cpu_ticks "$spid")
			if [ -n "$apid" ]; then
				# The agent saw the calls: its request counter is non-zero.
				metrics=$(curl -s --max-time 5 "http://127.0.0.1:$aport/metrics" || true)
				grep -q '^grpc_server_request_total{.*} [1-9]' <<<"$metrics" ||
					{ echo "bench: agent ($mode) counted no calls" >&2; return 1; }
				# Uprobe hits: the subsystems sharing a function (the batch probe)
				# each count its hits, so a function counts once.
				hits=$(awk '$1 ~ /^metastore_agent_probe_hits_total[{]/ {
						match($1, /function="[^"]*"/); f = substr($1, RSTART, RLENGTH)
						if ($2 > h[f]) h[f] = $2 }
					END { for (f in h) s += h[f]; printf "%.0f", s }' <<<"$metrics")
				recs=$(awk '$1 ~ /^metastore_agent_probe_records_total[{]/ { s += $2 }
					END { printf "%.0f", s }' <<<"$metrics")
				res_hits["$name/$mode"]+=" $(awk -v h="$hits" \
					-v n="$(bench_field "$line" calls)" 'BEGIN { printf "%.3f", h / n }')"
				res_recs["$name/$mode"]+=" $(awk -v h="$recs" \
					-v n="$(bench_field "$line" calls)" 'BEGIN { printf "%.2f", h / n }')"
				bench_stop "$apid"
			fi
			echo "  overhead $name round $round $mode: $line" >&2
			res_rps["$name/$mode"]+=" $(bench_field "$line" rps)"
			res_p50["$name/$mode"]+=" $(bench_field "$line" p50_us)"
			res_p99["$name/$mode"]+=" $(bench_field "$line" p99_us)"
			res_cpu["$name/$mode"]+=" $(awk -v a="$ticks0" -v b="$ticks1" -v hz="$hz" \
				-v n="$(bench_field "$line" calls)" 'BEGIN { printf "%.3f", (b - a) / hz * 1e6 / n }')"
		done
	done
	bench_stop "$spid"
}

# ratio_median NAME MODE [ARRAY]: median over rounds of (mode value / detached value of
# that round), of res_rps or the named results array.
ratio_median() {
	local -a a b r=()
	local -n arr=${3:-res_rps}
	read -r -a a <<<"${arr["$1/$2"]}"
	read -r -a b <<<"${arr["$1/detached"]}"
	for i in "${!a[@]}"; do
		r+=("$(bench_ratio "${a[$i]}" "${b[$i]}")")
	done
	printf '%.3f\n' "$(bench_median "${r[@]}")"
}

declare -A res_rps res_p50 res_p99 res_cpu res_hits res_recs
hz=$(getconf CLK_TCK)
common=(--verify --conns "$conns" --streams "$streams" --warmup "$warmup" --keys "$keys"
	--value-size "$value_size")
read_args=(--workload mixed --get-percent 90 --duration "$duration" "${common[@]}")
write_args=(--workload put --duration "$write_duration" "${common[@]}")
read -r -a workloads <<<"${WORKLOADS:-read write}"
for name in "${workloads[@]}"; do
	case $name in
	read) rounds=$read_rounds run_workload read "${read_args[@]}" ;;
	write) rounds=$write_rounds run_workload write "${write_args[@]}" ;;
	*) echo "bench: unknown workload $name" >&2; exit 2 ;;
	esac
done

echo "Median of $read_rounds (read-heavy) and $write_rounds (write) rounds; each round runs detached, \`--probes grpc\` and \`--probes all\`"
echo "once each, the order rotating from round to round (the agent is started before and"
echo "stopped after its run, and must answer \`/health\` 200 and count the calls). One store"
echo "process per workload, started from a copy of \`build/metastore\` with"
echo "\`--snapshot-count 100000000\`: no raft snapshot falls inside a run (with the default, one"
echo "would come every ~100,000 writes, about one round, and land in the same mode's run each"
echo "time). Load (\`build/bench/loadgen\`, on the same machine):"
echo
echo "- read-heavy: \`loadgen --endpoint 127.0.0.1:PORT ${read_args[*]}\`"
echo "- write: \`loadgen --endpoint 127.0.0.1:PORT ${write_args[*]}\`"
echo
echo "\`--verify\` decodes every response (a put carries a revision, a get finds its key with"
echo "its value); any non-OK or wrong response fails the run."
echo
echo "\"vs detached\" is the median over rounds of the run's throughput divided by the"
echo "detached run's throughput of the same round. Targets: write with all probes >= 0.97,"
echo "read-heavy with all probes >= 0.85."
echo
echo "Store CPU per call is the store process's utime + stime (\`/proc/<pid>/stat\`, all"
echo "threads, the uprobe handlers it runs included) over the whole load generator run divided"
echo "by every call it finished (warm-up and preload included). Unlike req/s it does not move"
echo "when other work on the machine takes CPU from the store, so it is the steadier measure"
echo "of what the probes cost."
echo
echo "Probe hits per call: uprobe hits (\`metastore_agent_probe_hits_total\`, each probed"
echo "function once: the subsystems on the batch probe share its hits) after the run divided"
echo "by the calls of that run; records per call: the event records the batch probe carried"
echo "(\`metastore_agent_probe_records_total\`, all subsystems) per call. \"Added CPU us/call\""
echo "is the median store CPU per call minus the detached one: the kernel's uprobe path, the"
echo "BPF programs and the store's own record writing together."
echo
echo "| workload | agent | req/s (median) | p50 us | p99 us | req/s vs detached | target met | store CPU us/call | CPU/call vs detached | probe hits/call | records/call | added CPU us/call |"
echo "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
for name in "${workloads[@]}"; do
	for mode in "${modes[@]}"; do
		read -r -a rps <<<"${res_rps["$name/$mode"]}"
		read -r -a p50 <<<"${res_p50["$name/$mode"]}"
		read -r -a p99 <<<"${res_p99["$name/$mode"]}"
		read -r -a cpu <<<"${res_cpu["$name/$mode"]}"
		ratio=1.000
		cratio=1.000
		met=-
		if [ "$mode" != detached ]; then
			ratio=$(ratio_median "$name" "$mode")
			cratio=$(ratio_median "$name" "$mode" res_cpu)
		fi
		if [ "$mode" = all ]; then
			target=$([ "$name" = write ] && echo 0.97 || echo 0.85)
			met=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r >= t) ? "yes (>= " t ")" : "**no** (< " t ")" }')
		fi
		label=$([ "$mode" = detached ] && echo detached || echo "\`--probes $mode\`")
		hpc=-
		rpc=-
		added=-
		if [ "$mode" != detached ]; then
			read -r -a hv <<<"${res_hits["$name/$mode"]}"
			read -r -a rv <<<"${res_recs["$name/$mode"]}"
			read -r -a dcpu <<<"${res_cpu["$name/detached"]}"
			hpc=$(printf '%.3f' "$(bench_median "${hv[@]}")")
			rpc=$(printf '%.2f' "$(bench_median "${rv[@]}")")
			added=$(awk -v c="$(bench_median "${cpu[@]}")" -v d="$(bench_median "${dcpu[@]}")" \
				'BEGIN { printf "%.2f", c - d }')
		fi
		printf '| %s | %s | %.0f | %.1f | %.1f | %s | %s | %.2f | %s | %s | %s | %s |\n' \
			"$([ "$name" = read ] && echo "read-heavy (90% get)" || echo "write (put)")" \
			"$label" "$(bench_median "${rps[@]}")" "$(bench_median "${p50[@]}")" \
			"$(bench_median "${p99[@]}")" "$ratio" "$met" "$(bench_median "${cpu[@]}")" "$cratio" \
			"$hpc" "$rpc" "$added"
		if [ -n "${BENCH_SUMMARY:-}" ]; then
			echo "overhead $name $mode rps=$(bench_median "${rps[@]}") ratio=$ratio" \
				"cpu_ratio=$cratio hits=$hpc records=$rpc added_cpu=$added" \
				"min=$(printf '%s\n' "${rps[@]}" | sort -g | head -n 1)" \
				"max=$(printf '%s\n' "${rps[@]}" | sort -g | tail -n 1)" >>"$BENCH_SUMMARY"
		fi
	done
done
echo
echo "Per-round throughput (req/s, detached / grpc / all):"
echo
for name in "${workloads[@]}"; do
	read -r -a d <<<"${res_rps["$name/detached"]}"
	read -r -a g <<<"${res_rps["$name/grpc"]}"
	read -r -a a <<<"${res_rps["$name/all"]}"
	line=
	for i in "${!d[@]}"; do
		line+="$(printf '%.0f / %.0f / %.0f' "${d[$i]}" "${g[$i]}" "${a[$i]}"); "
	done
	echo "- $name: ${line%; }"
done
