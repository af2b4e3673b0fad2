#!/bin/bash
# The store's own user-space instructions per call, detached and writing batch records, under
# callgrind: the store-side part of the probes' cost, counted instead of timed.
# usage: bench/store_instr.sh METASTORE LOADGEN   (root; prints a Markdown section)
# env: WORKLOADS ("read write"), ROUNDS (2: each an off and an on run), REQUESTS (20000 per
#      read run; writes WRITE_REQUESTS, 10000), CONNS (2), STREAMS (16), KEYS (1000),
#      VALUE_SIZE (256); BENCH_SUMMARY: a file to append "instr WORKLOAD k=v..." lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib_stats.sh"

store_bin=$(realpath "$1")
loadgen=$(realpath "$2")
rounds=${ROUNDS:-2}
load_settings
keys=${KEYS:-1000}
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
	{ echo "bench: needs valgrind (callgrind)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ms-bench-instr.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
cp "$store_bin" "$tmp/metastore"
sem=$(stats_sem_addr "$tmp/metastore")
[ -n "$sem" ] || { echo "bench: no ms_probe_batch_semaphore in $store_bin" >&2; exit 1; }

# dump_instr PID: instructions since the previous dump (callgrind zeroes its counters), and
# (inclusive) those of the event clock's anchors, "TOTAL ANCHORS".
dump_instr() {
	local f
	callgrind_control -d "$1" >/dev/null 2>&1
	f=$(ls -t "$tmp"/cg.out.* | head -n 1)
	echo "$(awk '/^(summary|totals):/ { print $2; exit }' "$f")" \
		"$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
			awk '/clock\.c:ms_clock_anchor / { gsub(/,/, "", $1); print $1; found = 1; exit }
				END { if (!found) print 0 }')"
}

declare -A per_call anchors
read -r -a workloads <<<"${WORKLOADS:-read write}"
for w in "${workloads[@]}"; do
	port=$(bench_free_port)
	rm -rf "$tmp/data" "$tmp"/cg.out.*
	bench_spawn "$tmp/store.log" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out.%p" \
		"$tmp/metastore" --listen "127.0.0.1:$port" --data-dir "$tmp/data" \
		--snapshot-count 100000000
	vpid=$BENCH_LAST_PID
	bench_wait_listen "$vpid" "$port" 60
	bench_wait_ready "$loadgen" "$port" 60
	case $w in
	read) args=(--workload mixed --get-percent 90 --requests "${REQUESTS:-20000}") ;;
	write) args=(--workload put --requests "${WRITE_REQUESTS:-10000}") ;;
	*) echo "bench: unknown workload $w" >&2; exit 2 ;;
	esac
	args+=(--warmup 0 --conns "$conns" --streams "$streams" --keys "$keys" --value-size "$value_size")
	# one unmeasured run first (allocations, the key set)
	bench_loadgen "$loadgen" --endpoint "127.0.0.1:$port" "${args[@]}" >/dev/null
	for round in $(seq 1 "$rounds"); do
		for mode in off on; do
			# on: the store takes its timestamps, writes its records and calls
			# ms_probe_batch, with no uprobe there (an empty call)
			stats_set_sem "$vpid" "$sem" "$([ "$mode" = on ] && echo 1 || echo 0)"
			dump_instr "$vpid" >/dev/null
			line=$(bench_loadgen "$loadgen" --endpoint "127.0.0.1:$port" "${args[@]}")
			read -r ins anc <<<"$(dump_instr "$vpid")"
			calls=$(bench_field "$line" calls)
			echo "  instr $w round $round $mode: instructions=$ins anchors=$anc calls=$calls" >&2
			per_call["$w/$mode"]+=" $(awk -v i="$ins" -v n="$calls" 'BEGIN { printf "%.1f", i / n }')"
			anchors["$w/$mode"]+=" $(awk -v i="$anc" -v n="$calls" 'BEGIN { printf "%.1f", i / n }')"
		done
	done
	stats_set_sem "$vpid" "$sem" 0
	bench_stop "$vpid"
done

echo "The store under \`valgrind --tool=callgrind\` (user-space instructions of every thread),"
echo "$rounds rounds of one run with the batch probe's semaphore at 0 (detached) and one with it"
echo "written to 1 through \`/proc/PID/mem\` (what the kernel does while the agent is attached):"
echo "the store then takes its timestamps, writes its records and calls the empty"
echo "\`ms_probe_batch\`; no uprobe fires, so this is the store's own part of the cost, counted"
echo "rather than timed (the kernel's uprobe path and the BPF programs are in the probe cost"
echo "table). A timestamp counts here as what it is made of (an rdtsc and a multiply between"
echo "anchors; clock_gettime is a system call under valgrind, not counted), not what it costs:"
echo "that is the probe cost table's timestamp line. The clock re-anchors once per millisecond"
echo "of wall time, and valgrind runs the store some 50 times slower, so its anchors"
echo "(\`ms_clock_anchor\`, inclusive) come about 50 times as often per call as in a live run:"
echo "they have their own column, and \"without anchors\" is the rest. Median per mode."
echo "Load: \`loadgen --workload mixed --get-percent 90 --requests ${REQUESTS:-20000}\` (read) or"
echo "\`--workload put --requests ${WRITE_REQUESTS:-10000}\` (write), \`--conns $conns --streams $streams --keys $keys --value-size $value_size\`."
echo
echo "| workload | instructions per call, detached | with records written | added per call | added | of which clock anchors | added without anchors |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for w in "${workloads[@]}"; do
	off=$(stats_med "${per_call["$w/off"]}")
	on=$(stats_med "${per_call["$w/on"]}")
	add=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.0f", a - b }')
	pct=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f %%", (a / b - 1) * 100 }')
	anc=$(stats_med "${anchors["$w/on"]}")
	rest=$(awk -v a="$add" -v c="$anc" -v b="$off" 'BEGIN { printf "%.0f (%.2f %%)", a - c, (a - c) / b * 100 }')
	printf '| %s | %.0f | %.0f | %s | %s | %.0f | %s |\n' "$([ "$w" = read ] && echo "read-heavy (90% get)" || echo "write (put)")" \
		"$off" "$on" "$add" "$pct" "$anc" "$rest"
	[ -z "${BENCH_SUMMARY:-}" ] ||
		echo "instr $w off=$off on=$on added=$add pct=${pct% %} anchors=$anc rest=${rest%% *}" \
			"rest_pct=$(awk -v a="$add" -v c="$anc" -v b="$off" 'BEGIN { printf "%.2f", (a - c) / b * 100 }')" >>"$BENCH_SUMMARY"
done
