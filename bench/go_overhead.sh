#!/bin/bash
# Debian's etcd with the agent detached and attached to it (every Go subsystem): throughput,
# latency and etcd's CPU per request, put and get, same load generator, interleaved rounds.
# usage: bench/go_overhead.sh AGENT LOADGEN   (root; prints a Markdown section)
# env: ROUNDS (7), DURATION seconds per run (2), WARMUP (0.5), CONNS (2), STREAMS (16),
#      KEYS (10000; gets: GET_KEYS, 100), VALUE_SIZE (256); BENCH_SUMMARY: a file to append
#      "goetcd WORKLOAD rps_ratio=X cpu_ratio=Y" lines to; PROBES (all six Go subsystems)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

agent_bin=$(realpath "$1")
loadgen=$(realpath "$2")
rounds=${ROUNDS:-7}
load_settings
probes=${PROBES:-grpc,storage,mvcc,raft,lease,watch}
[ -x /usr/bin/etcd ] || { echo "bench: needs Debian's etcd (etcd-server)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ms-bench-goetcd.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
# A private copy: the agent's --binary then probes only the etcd this script started.
cp /usr/bin/etcd "$tmp/etcd"

port=$(bench_free_port)
peer=$(bench_free_port)
bench_spawn "$tmp/etcd.log" "$tmp/etcd" --name bench --data-dir "$tmp/data" \
	--listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
	--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
	--initial-cluster "bench=http://127.0.0.1:$peer" --log-level error
etcd_pid=$BENCH_LAST_PID
bench_wait_listen "$etcd_pid" "$port" 30 || { cat "$tmp/etcd.log" >&2; exit 1; }
bench_wait_ready "$loadgen" "$port" 30 || { cat "$tmp/etcd.log" >&2; exit 1; }

declare -A rps p99 cpu
common=(--verify --conns "$conns" --streams "$streams" --duration "$duration" --warmup "$warmup"
	--value-size "$value_size")
# A get run first puts each of its keys: few keys keep those puts out of its CPU per request.
declare -A wkeys=([put]=$keys [get]=${GET_KEYS:-100})
hz=$(getconf CLK_TCK)
for round in $(seq 1 "$rounds"); do
	for w in put get; do
		# The mode order alternates, so a trend over the run (the data dir growing) hits both.
		modes=(detached attached)
		[ $((round % 2)) = 0 ] && modes=(attached detached)
		for mode in "${modes[@]}"; do
			if [ "$mode" = attached ]; then
				bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$tmp/etcd" \
					--probes "$probes"
			fi
			c0=$(bench_cpu_ticks "$etcd_pid")
			line=$(bench_loadgen "$loadgen" --endpoint "127.0.0.1:$port" --workload "$w" \
				--keys "${wkeys[$w]}" "${common[@]}")
			c1=$(bench_cpu_ticks "$etcd_pid")
			[ "$mode" = attached ] && bench_stop "$BENCH_AGENT_PID"
			r=$(bench_field "$line" rps)
			echo "  go-etcd $w round $round $mode: $line" >&2
			rps["$w/$mode"]+=" $r"
			p99["$w/$mode"]+=" $(bench_field "$line" p99_us)"
			# etcd's CPU per request over the whole run (warm-up and the get
			# workload's few initial puts included: the same for both modes)
			cpu["$w/$mode"]+=" $(awk -v c="$((c1 - c0))" -v hz="$hz" -v r="$r" -v d="$duration" \
				'BEGIN { printf "%.2f", c / hz * 1e6 / (r * d) }')"
		done
	done
done

med() {
	local -a v
	read -r -a v <<<"$1"
	bench_median "${v[@]}"
}

echo "Debian's etcd (\`$(/usr/bin/etcd --version | head -n 1)\`), single node, a private copy"
echo "of the binary; the agent attached with \`--binary COPY --probes $probes\` in the attached"
echo "runs and stopped between runs; median of $rounds rounds, the mode order alternating."
echo "CPU per request is etcd's user + system time over the run divided by the measured"
echo "requests (so it includes warm-up). Load:"
echo
echo "    loadgen --endpoint 127.0.0.1:PORT --workload put --keys ${wkeys[put]} ${common[*]}"
echo "    loadgen --endpoint 127.0.0.1:PORT --workload get --keys ${wkeys[get]} ${common[*]}"
echo
echo "| workload | agent | req/s | p99 us | etcd CPU us per request | req/s attached/detached | CPU attached/detached |"
echo "|---|---|---:|---:|---:|---:|---:|"
for w in put get; do
	dr=$(med "${rps["$w/detached"]}")
	ar=$(med "${rps["$w/attached"]}")
	dc=$(med "${cpu["$w/detached"]}")
	ac=$(med "${cpu["$w/attached"]}")
	printf '| %s | detached | %.0f | %.0f | %s | | |\n' "$w" "$dr" "$(med "${p99["$w/detached"]}")" "$dc"
	printf '| %s | attached | %.0f | %.0f | %s | %s | %s |\n' "$w" "$ar" \
		"$(med "${p99["$w/attached"]}")" "$ac" "$(bench_ratio "$ar" "$dr")" "$(bench_ratio "$ac" "$dc")"
	if [ -n "${BENCH_SUMMARY:-}" ]; then
		echo "goetcd $w rps_ratio=$(bench_ratio "$ar" "$dr") cpu_ratio=$(bench_ratio "$ac" "$dc")" \
			>>"$BENCH_SUMMARY"
	fi
done
