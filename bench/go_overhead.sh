#!/bin/bash
# Debian's etcd with the agent detached and attached (every Go subsystem): etcd's CPU per
# request and throughput, put and range, many short interleaved rounds, bootstrap intervals.
# usage: bench/go_overhead.sh AGENT LOADGEN   (root; prints a Markdown section)
# env: ROUNDS (16), DURATION seconds per run (1), WARMUP (0.3), CONNS (2), STREAMS (16),
#      KEYS (10000; gets: GET_KEYS, 100), VALUE_SIZE (256); PROBES (all six Go subsystems);
#      PIN (1: etcd on the last CPU, the load generator on the others, when >= 2 CPUs);
#      SEED (bootstrap seed; default from the clock, printed); BENCH_STATS (bench_stats next
#      to LOADGEN); BENCH_SUMMARY: a file to append "goetcd WORKLOAD k=v..." lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib_stats.sh"

agent_bin=$(realpath "$1")
loadgen=$(realpath "$2")
BENCH_STATS=${BENCH_STATS:-$(dirname "$loadgen")/bench_stats}
[ -x "$BENCH_STATS" ] || { echo "bench: $BENCH_STATS not built (make bench)" >&2; exit 1; }
rounds=${ROUNDS:-16}
load_settings
duration=${DURATION:-1}
warmup=${WARMUP:-0.3}
probes=${PROBES:-grpc,storage,mvcc,raft,lease,watch}
seed=${SEED:-$(date +%s%N | cut -c 8-16)}
[ -x /usr/bin/etcd ] || { echo "bench: needs Debian's etcd (etcd-server)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ms-bench-goetcd.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
# A private copy: the agent's --binary then probes only the etcd this script started.
cp /usr/bin/etcd "$tmp/etcd"

stats_pins

port=$(bench_free_port)
peer=$(bench_free_port)
bench_spawn "$tmp/etcd.log" "${server_pin[@]}" "$tmp/etcd" --name bench --data-dir "$tmp/data" \
	--listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
	--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
	--initial-cluster "bench=http://127.0.0.1:$peer" --log-level error
etcd_pid=$BENCH_LAST_PID
bench_wait_listen "$etcd_pid" "$port" 30 || { cat "$tmp/etcd.log" >&2; exit 1; }
bench_wait_ready "$loadgen" "$port" 30 || { cat "$tmp/etcd.log" >&2; exit 1; }

declare -A rps p99 cpu hpc
common=(--verify --conns "$conns" --streams "$streams" --duration "$duration" --warmup "$warmup"
	--value-size "$value_size")
# A get run first puts each of its keys: few keys keep those puts out of its CPU per request.
declare -A wkeys=([put]=$keys [get]=${GET_KEYS:-100})
# Unmeasured runs first: etcd's heap and the data dir settle.
for w in put get; do
	bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" --workload "$w" \
		--keys "${wkeys[$w]}" "${common[@]}" >/dev/null
done
t0=$(date +%s)
for round in $(seq 1 "$rounds"); do
	for w in put get; do
		# Odd rounds detached first, even rounds attached first (ABBA): a drift over
		# the run (the data dir growing) weighs on both modes alike.
		modes=(detached attached)
		[ $((round % 2)) = 0 ] && modes=(attached detached)
		for mode in "${modes[@]}"; do
			if [ "$mode" = attached ]; then
				bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$tmp/etcd" \
					--probes "$probes"
			fi
			c0=$(stats_run_ns "$etcd_pid")
			line=$(bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" \
				--workload "$w" --keys "${wkeys[$w]}" "${common[@]}")
			c1=$(stats_run_ns "$etcd_pid")
			if [ "$mode" = attached ]; then
				# uprobe hits per call, every probed site (warm-up included, as calls)
				hits=$(curl -s --max-time 5 "http://127.0.0.1:$BENCH_AGENT_PORT/metrics" |
					awk '$1 ~ /^metastore_agent_probe_hits_total[{]/ { s += $2 }
						END { printf "%.0f", s }')
				hpc["$w"]+=" $(awk -v h="$hits" -v n="$(bench_field "$line" calls)" \
					'BEGIN { printf "%.3f", h / n }')"
				bench_stop "$BENCH_AGENT_PID"
			fi
			echo "  go-etcd $w round $round $mode: cpu_ns=$((c1 - c0)) $line" >&2
			rps["$w/$mode"]+=" $(bench_field "$line" rps)"
			p99["$w/$mode"]+=" $(bench_field "$line" p99_us)"
			# etcd's CPU per call over the whole run (warm-up and the get workload's
			# initial puts included: the same for both modes)
			cpu["$w/$mode"]+=" $(awk -v d="$((c1 - c0))" -v n="$(bench_field "$line" calls)" \
				'BEGIN { printf "%.1f", d / n }')"
		done
	done
done
elapsed=$(($(date +%s) - t0))

echo "Debian's etcd (\`$(/usr/bin/etcd --version | head -n 1)\`), single node, a private copy"
echo "of the binary${pin_note:+, $pin_note};"
echo "the agent attached with \`--binary COPY --probes $probes\` in the attached runs and stopped"
echo "between runs. $rounds rounds ($elapsed s), each one detached and one attached run per"
echo "workload, odd rounds detached first, even rounds attached first."
echo "CPU per request is the run time of etcd's threads (\`/proc/<pid>/task/*/schedstat\`, ns)"
echo "over the run divided by every call it finished (warm-up included); ratios are per round"
echo "(attached / detached), then the median and its 95 % bootstrap percentile interval"
echo "(${STATS_RESAMPLES:-10000} resamples, seed $seed). Targets: CPU per request <= 1.03 and req/s >= 0.97;"
echo "\"not resolved\" when the interval has values on both sides of the target. Load:"
echo
echo "    loadgen --endpoint 127.0.0.1:PORT --workload put --keys ${wkeys[put]} ${common[*]}"
echo "    loadgen --endpoint 127.0.0.1:PORT --workload get --keys ${wkeys[get]} ${common[*]}"
echo
echo "Probe hits per request: \`metastore_agent_probe_hits_total\` (every Go site) at the end of"
echo "the attached run over its calls (median of the rounds)."
echo
echo "| workload | agent | req/s | p99 us | etcd CPU ns per request | probe hits per request | CPU attached/detached [95 % CI] | CPU <= 1.03 | req/s attached/detached [95 % CI] | req/s >= 0.97 |"
echo "|---|---|---:|---:|---:|---:|---|---|---|---|"
for w in put get; do
	cl=$(stats_pairs "${cpu["$w/attached"]}" "${cpu["$w/detached"]}" | stats_ratio "$seed" 1.03 at-most)
	rl=$(stats_pairs "${rps["$w/attached"]}" "${rps["$w/detached"]}" | stats_ratio "$seed" 0.97 at-least)
	printf '| %s | detached | %.0f | %.0f | %.0f | - | | | | |\n' "$w" "$(stats_med "${rps["$w/detached"]}")" \
		"$(stats_med "${p99["$w/detached"]}")" "$(stats_med "${cpu["$w/detached"]}")"
	printf '| %s | attached | %.0f | %.0f | %.0f | %.3f | %s | %s | %s | %s |\n' "$w" \
		"$(stats_med "${rps["$w/attached"]}")" "$(stats_med "${p99["$w/attached"]}")" \
		"$(stats_med "${cpu["$w/attached"]}")" "$(stats_med "${hpc["$w"]}")" "$(stats_headline "$cl")" "$(stats_verdict "$cl")" \
		"$(stats_headline "$rl")" "$(stats_verdict "$rl")"
	if [ -n "${BENCH_SUMMARY:-}" ]; then
		echo "goetcd $w cpu=$(bench_field "$cl" median) cpu_lo=$(bench_field "$cl" lo)" \
			"cpu_hi=$(bench_field "$cl" hi) cpu_verdict=$(bench_field "$cl" verdict)" \
			"rps=$(bench_field "$rl" median) rps_lo=$(bench_field "$rl" lo)" \
			"rps_hi=$(bench_field "$rl" hi) rps_verdict=$(bench_field "$rl" verdict)" \
			"hits=$(stats_med "${hpc["$w"]}") rounds=$rounds seed=$seed seconds=$elapsed" >>"$BENCH_SUMMARY"
	fi
done
echo
echo "Per-round etcd CPU per request (ns, detached/attached):"
echo
for w in put get; do
	read -r -a d <<<"${cpu["$w/detached"]}"
	read -r -a a <<<"${cpu["$w/attached"]}"
	line=
	for i in "${!d[@]}"; do
		line+="$(printf '%.0f/%.0f' "${d[$i]}" "${a[$i]}") "
	done
	echo "- $w: ${line% }"
done
