#!/bin/bash
# The agent's own CPU and memory: idle, scraped every second, and scraped under load.
# usage: bench/agent_usage.sh METASTORE AGENT LOADGEN   (root; prints a Markdown section)
# env: SECONDS_PER_PHASE (default 10); BENCH_SUMMARY: a file to append
#      "agent PHASE cpu_pct=X rss_kb=Y" lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

store_bin=$(realpath "$1")
agent_bin=$(realpath "$2")
loadgen=$(realpath "$3")
secs=${SECONDS_PER_PHASE:-10}
hz=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/ms-bench-agent.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
cp "$store_bin" "$tmp/metastore"

# run_ns PID: CPU time of PID's live threads in ns (/proc/PID/task/*/schedstat), finer
# than the clock ticks of /proc/PID/stat.
run_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# status_kb PID FIELD: a kB value from /proc/PID/status (VmRSS, VmHWM).
status_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# scrape_loop URL SECONDS OUT: one scrape per second; "time_s bytes" per line to OUT.
scrape_loop() {
	local i start
	: >"$3"
	for i in $(seq 1 "$2"); do
		start=$(date +%s.%N)
		curl -s --max-time 5 -o /dev/null -w '%{time_total} %{size_download} %{http_code}\n' \
			"$1" >>"$3"
		sleep "$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { d = 1 - (n - s); print (d > 0 ? d : 0) }')"
	done
	if grep -qv ' 200$' "$3"; then
		echo "bench: a scrape did not answer 200" >&2
		return 1
	fi
}

# phase NAME: measures the agent over one phase of $secs seconds; appends a table row.
phase() {
	local name=$1 t0 t1 ticks0 ticks1 ns0 ns1 lpid=
	ticks0=$(bench_cpu_ticks "$apid")
	ns0=$(run_ns "$apid")
	t0=$(date +%s.%N)
	case $name in
	idle) sleep "$secs" ;;
	scraped) scrape_loop "http://127.0.0.1:$aport/metrics" "$secs" "$tmp/scrapes" ;;
	loaded)
		bench_spawn "$tmp/loadgen.log" "$loadgen" --endpoint "127.0.0.1:$sport" \
			--workload mixed --conns 1 --streams 8 --duration "$secs" --warmup 0 --verify
		lpid=$BENCH_LAST_PID
		scrape_loop "http://127.0.0.1:$aport/metrics" "$secs" "$tmp/scrapes"
		;;
	esac
	ticks1=$(bench_cpu_ticks "$apid")
	ns1=$(run_ns "$apid")
	t1=$(date +%s.%N)
	if [ -n "$lpid" ]; then
		wait "$lpid" || { cat "$tmp/loadgen.log" >&2; return 1; }
		bench_stop "$lpid"
		grep -q '^result: .* errors=0 ' "$tmp/loadgen.log"
	fi
	local scr="-" bytes="-" collect="-"
	if [ "$name" != idle ]; then
		# The agent's own gauge: time it spent reading the BPF maps for that scrape.
		collect=$(curl -s --max-time 5 "http://127.0.0.1:$aport/metrics" |
			awk '$1 == "metastore_agent_scrape_duration_seconds" { printf "%.3f", $2 * 1000 }')
		scr=$(bench_median $(awk '{ print $1 * 1000 }' "$tmp/scrapes"))
		bytes=$(printf '%.0f' "$(bench_median $(awk '{ print $2 }' "$tmp/scrapes"))")
		scr=$(printf '%.2f' "$scr")
	fi
	rows+="$(awk -v n="$name" -v a="$ticks0" -v b="$ticks1" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
		-v ns0="$ns0" -v ns1="$ns1" \
		-v rss="$(status_kb "$apid" VmRSS)" -v hwm="$(status_kb "$apid" VmHWM)" \
		-v thr="$(status_kb "$apid" Threads)" -v scr="$scr" -v bytes="$bytes" \
		-v collect="${collect:--}" 'BEGIN {
		printf "| %s | %.1f | %.2f %% | %.3f %% | %.1f | %d | %d | %s | %s | %s | %s |\n", n,
			t1 - t0, (b - a) / hz / (t1 - t0) * 100, (ns1 - ns0) / 1e9 / (t1 - t0) * 100,
			(ns1 - ns0) / 1e6, rss, hwm, thr, scr, collect, bytes }')"$'\n'
	if [ -n "${BENCH_SUMMARY:-}" ]; then
		awk -v n="$name" -v ns0="$ns0" -v ns1="$ns1" -v t0="$t0" -v t1="$t1" \
			-v rss="$(status_kb "$apid" VmRSS)" 'BEGIN {
			printf "agent %s cpu_pct=%.3f rss_kb=%d\n", n, (ns1 - ns0) / 1e9 / (t1 - t0) * 100, rss }' \
			>>"$BENCH_SUMMARY"
	fi
}

sport=$(bench_free_port)
bench_spawn "$tmp/store.log" "$tmp/metastore" --listen "127.0.0.1:$sport" --data-dir "$tmp/data"
spid=$BENCH_LAST_PID
bench_wait_listen "$spid" "$sport" 10
bench_wait_ready "$loadgen" "$sport" 30
bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$tmp/metastore" --probes all
apid=$BENCH_AGENT_PID
aport=$BENCH_AGENT_PORT
# Some series: Put and Range calls (OK), storage and mvcc activity.
bench_loadgen "$loadgen" --endpoint "127.0.0.1:$sport" --workload mixed --conns 1 \
	--streams 8 --duration 1 --warmup 0 >/dev/null
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$aport/metrics")
nseries=$(grep -cv '^#' <<<"$metrics" || true)

rows=
phase idle
phase scraped
phase loaded

echo "One agent (\`--probes all\`) on a live store copy; before the phases the store served"
echo "1 s of mixed load, so the scrape holds $nseries sample lines ($(wc -c <<<"$metrics") bytes)."
echo "CPU is utime + stime from \`/proc/<pid>/stat\` over the phase (100 % = one CPU; 10 ms"
echo "ticks, so small values round to 0) and, finer, the run time of its threads from"
echo "\`/proc/<pid>/task/*/schedstat\` (ns); RSS and its peak (VmHWM) from \`/proc/<pid>/status\` at the end of the phase. \"scraped\": one"
echo "\`curl /metrics\` per second; \"under load\": the same while \`loadgen --workload mixed"
echo "--conns 1 --streams 8\` drives the store (BPF programs run in the store's context, so"
echo "their cost is not in the agent's CPU; see the overhead table for it)."
echo
echo "\"scrape ms\" is curl's total time per scrape (median); \"map read ms\" is the agent's own"
echo "\`metastore_agent_scrape_duration_seconds\` of one more scrape right after the phase: the"
echo "collect part: per-CPU arrays read in one batched syscall each, and the small per-process"
echo "tables (in-flight calls per method, gauges), so it grows with the series and the store"
echo "processes, not with the requests served."
echo
echo "| phase | seconds | agent CPU (stat) | agent CPU (schedstat) | CPU ms | RSS kB | peak RSS kB | threads | scrape ms | map read ms | scrape bytes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$rows" | sed 's/^| loaded /| under load /'
