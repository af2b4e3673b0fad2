#!/bin/bash
# Debian's etcd with the agent's uprobes attached and detached (every Go subsystem): etcd's CPU
# per request and throughput, put and range, in phases (headline) and restart rounds.
# usage: bench/go_overhead.sh AGENT LOADGEN   (root; prints a Markdown section)
# env: the phases: PHASE_RUNS (2) runs of PHASE_DURATION seconds (40) per workload, phases
#      of PHASE_MS (200); their control: SHAM_RUNS (1) runs of SHAM_DURATION (20) with a
#      sham switch (0: none); the restart rounds (cross-check): ROUNDS (4), each one detached and
#      one attached run of DURATION seconds (1) per workload; WARMUP (0.3), CONNS (2),
#      STREAMS (16), KEYS (10000; gets: GET_KEYS, 100), VALUE_SIZE (256); PROBES (all six Go
#      subsystems); DATA_ROOT (/dev/shm when writable: etcd's data dir, so that fsync latency
#      spikes stay out of the CPU figures); PIN (1: etcd on the last CPU, the load generator
#      and the switcher on the others, when >= 2 CPUs); SEED (bootstrap seed; default from
#      the clock, printed); BENCH_STATS, GO_TOGGLE (bench_stats, go_toggle next to LOADGEN);
#      BENCH_SUMMARY: a file to append "goetcd WORKLOAD k=v..." lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/lib_stats.sh"

agent_bin=$(realpath "$1")
loadgen=$(realpath "$2")
BENCH_STATS=${BENCH_STATS:-$(dirname "$loadgen")/bench_stats}
GO_TOGGLE=${GO_TOGGLE:-$(dirname "$loadgen")/go_toggle}
for b in "$BENCH_STATS" "$GO_TOGGLE"; do
	[ -x "$b" ] || { echo "bench: $b not built (make bench)" >&2; exit 1; }
done
rounds=${ROUNDS:-4}
phase_runs=${PHASE_RUNS:-2}
phase_duration=${PHASE_DURATION:-40}
phase_ms=${PHASE_MS:-200}
sham_runs=${SHAM_RUNS:-1}
sham_duration=${SHAM_DURATION:-20}
load_settings
duration=${DURATION:-1}
warmup=${WARMUP:-0.3}
probes=${PROBES:-grpc,storage,mvcc,raft,lease,watch}
seed=${SEED:-$(date +%s%N | cut -c 8-16)}
[ -x /usr/bin/etcd ] || { echo "bench: needs Debian's etcd (etcd-server)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ms-bench-goetcd.XXXXXX)
data_root=${DATA_ROOT:-}
if [ -z "$data_root" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	data_root=/dev/shm
fi
data=$(mktemp -d "${data_root:-$tmp}/ms-bench-goetcd-data.XXXXXX")
cleanup() {
	bench_cleanup
	rm -rf "$tmp" "$data"
}
trap cleanup EXIT
# A private copy: the agent's --binary then probes only the etcd this script started.
cp /usr/bin/etcd "$tmp/etcd"

stats_pins

port=$(bench_free_port)
peer=$(bench_free_port)
bench_spawn "$tmp/etcd.log" "${server_pin[@]}" "$tmp/etcd" --name bench --data-dir "$data/etcd" \
	--listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
	--listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
	--initial-cluster "bench=http://127.0.0.1:$peer" --log-level error
etcd_pid=$BENCH_LAST_PID
bench_wait_listen "$etcd_pid" "$port" 30 || { cat "$tmp/etcd.log" >&2; exit 1; }
bench_wait_ready "$loadgen" "$port" 30 || { cat "$tmp/etcd.log" >&2; exit 1; }

declare -A rps p99 cpu hpc
common=(--verify --conns "$conns" --streams "$streams" --warmup "$warmup" --value-size "$value_size")
# A get run first puts each of its keys: few keys keep those puts out of its CPU per request.
declare -A wkeys=([put]=$keys [get]=${GET_KEYS:-100})
# Unmeasured runs first: etcd's heap and the data dir settle.
for w in put get; do
	bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" --workload "$w" \
		--keys "${wkeys[$w]}" --duration "$duration" "${common[@]}" >/dev/null
done

# phase_sum W on|off FIELD [PREFIX]: the sum of FIELD (calls, cpu_ns, hits) over W's on or
# off phases ($tmp/PREFIX.W, PREFIX phases).
phase_sum() {
	awk -v on="on=$([ "$2" = on ] && echo 1 || echo 0)" -v f="$3=" '$3 == on {
		for (i = 4; i <= NF; i++) if (index($i, f) == 1) s += substr($i, length(f) + 1) }
		END { printf "%.0f", s }' "$tmp/${4:-phases}.$1"
}
# switch_ms W on|off: the median time (ms) of the switches that opened W's on or off phases.
switch_ms() {
	bench_median $(awk -v on="on=$([ "$2" = on ] && echo 1 || echo 0)" '$3 == on {
		for (i = 4; i <= NF; i++) if (index($i, "switch_ns=") == 1) printf "%.1f\n", substr($i, 11) / 1e6 }' \
		"$tmp/phases.$1")
}

# start_toggle [--sham]: the switcher (bench/go_toggle.c) on $ctl, its objects loaded, ready.
start_toggle() {
	local i
	rm -f "$ctl"
	bench_spawn "$tmp/toggle.log" "${lg_pin[@]}" "$GO_TOGGLE" --binary "$tmp/etcd" \
		--probes "$probes" --ctl "$ctl" "$@"
	toggle_pid=$BENCH_LAST_PID
	for i in $(seq 1 300); do
		grep -q '^ready ' "$tmp/toggle.log" && return 0
		kill -0 "$toggle_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench: the probe switcher is not ready after 30 s:" >&2
	cat "$tmp/toggle.log" >&2
	return 1
}

# phase_runs_into FILE W RUNS SECONDS: RUNS load generator runs of workload W whose phases
# the switcher switches; their "phase:" lines to FILE as "phase: RUN.I ...".
phase_runs_into() {
	local file=$1 w=$2 run out
	: >"$file"
	for run in $(seq 1 "$3"); do
		out=$("${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" --workload "$w" \
			--keys "${wkeys[$w]}" --duration "$4" "${common[@]}" \
			--phase-pid "$etcd_pid" --phase-ctl "$ctl" --phase-ms "$phase_ms" 2>&1) || true
		if ! grep -q '^result: .* errors=0 ' <<<"$out"; then
			echo "bench: load generator (phases) failed: $out" >&2
			cat "$tmp/toggle.log" >&2
			return 1
		fi
		grep '^phase: ' <<<"$out" | sed "s/^phase: /phase: $run./" >>"$file"
		echo "  go-etcd $w phase run $run ($(basename "$file")): $(grep '^result: ' <<<"$out")" >&2
	done
}

# --- phases: one switcher keeps the agent's objects loaded and detaches / re-attaches every
# uprobe on the load generator's command (bench/go_toggle.c, bench/lg_phase_ctl.h).
t0=$(date +%s)
ctl=$tmp/toggle.sock
start_toggle
link_kind=$(sed -n 's/^ready .* links=\([a-z_]*\).*/\1/p' "$tmp/toggle.log")
for w in put get; do
	phase_runs_into "$tmp/phases.$w" "$w" "$phase_runs" "$phase_duration"
	# Detached means no uprobe hit: the switcher's counts say so, or nothing is measured.
	off_hits=$(phase_sum "$w" off hits)
	[ "$off_hits" = 0 ] ||
		{ echo "bench: $off_hits uprobe hits counted in $w phases with the uprobes detached" >&2; exit 1; }
done
bench_stop "$toggle_pid"
phase_elapsed=$(($(date +%s) - t0))

# --- the method's control: the same phases with a sham switch (go_toggle --sham: the
# detach's kernel work, then attached again), so both phases of a pair run attached.
t0=$(date +%s)
if [ "$sham_runs" -gt 0 ]; then
	start_toggle --sham
	for w in put get; do
		phase_runs_into "$tmp/sham.$w" "$w" "$sham_runs" "$sham_duration"
	done
	bench_stop "$toggle_pid"
fi
sham_elapsed=$(($(date +%s) - t0))

# --- restart rounds (cross-check): the agent itself started before and stopped after its run.
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
				--workload "$w" --keys "${wkeys[$w]}" --duration "$duration" "${common[@]}")
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
round_elapsed=$(($(date +%s) - t0))

# inside_1 LINE: "yes" when a bench_stats line's interval holds 1, else "no".
inside_1() {
	awk -v lo="$(bench_field "$1" lo)" -v hi="$(bench_field "$1" hi)" \
		'BEGIN { print (lo <= 1 && hi >= 1) ? "yes" : "no" }'
}

echo "Debian's etcd (\`$(/usr/bin/etcd --version | head -n 1)\`), single node, a private copy"
echo "of the binary, its data dir in \`${data_root:-$tmp}\`$([ -n "$data_root" ] && echo " (a tmpfs: fsync latency spikes stall whole phases and are no probe cost)")${pin_note:+, $pin_note}."
echo "Every subsystem a Go target has: \`--probes $probes\`. Load:"
echo
echo "    loadgen --endpoint 127.0.0.1:PORT --workload put --keys ${wkeys[put]} ${common[*]}"
echo "    loadgen --endpoint 127.0.0.1:PORT --workload get --keys ${wkeys[get]} ${common[*]}"
echo
echo "**Phases (the headline).** A Go binary has no semaphore to flip: what the agent costs it"
echo "is the uprobe traps themselves, so the switch is a real detach and re-attach."
echo "\`build/bench/go_toggle\` (\`bench/go_toggle.c\`) loads the agent's objects once, exactly as"
echo "\`metastore-agent --binary COPY --probes $probes\` does (the agent's own loader, default"
echo "buckets), and on the load generator's command (\`--phase-ctl\`, a Unix socket) detaches"
echo "every uprobe or attaches them again at the same sites with the same cookies"
echo "(\`loader_detach\`, \`loader_reattach\`); the objects, maps and counters stay loaded. A"
echo "phase of $phase_ms ms starts once the switch is answered, so the switch's own time is in no"
echo "phase. The switcher attaches every Go site as an uprobe_multi link where the kernel has"
echo "them (this run: $link_kind; else one perf-event uprobe per site) and detaches by closing"
echo "the links from parallel threads, so that the grace periods each close waits for overlap"
echo "(one after the other they add up: a grace period per link)."
echo "Median switch: detach $(switch_ms put off) ms before the put workload's off phases, $(switch_ms get off) ms before the get ones;"
echo "attach $(switch_ms put on) / $(switch_ms get on) ms. Short against a phase, so pairs come ABBA as for the store"
echo "(off on, on off, ...): a drift over a run cancels between a pair and the next."
echo "$phase_runs runs of $phase_duration s per workload ($phase_elapsed s in all). Per phase: etcd's CPU time (all"
echo "its threads, \`/proc/<pid>/task/*/schedstat\`, ns; the uprobe traps and BPF programs it runs"
echo "included) divided by the calls the load generator finished in it; per pair the ratio"
echo "on / off; the table gives the median of those ratios and a 95 % bootstrap percentile"
echo "interval of it (${STATS_RESAMPLES:-10000} resamples of the pairs, seed $seed); req/s: calls per phase, on / off."
echo "Targets: CPU per request <= 1.03 and req/s >= 0.97; \"not resolved\" when the interval has"
echo "values on both sides of the target. Uprobe hits per request: the switcher reads the"
echo "\`probe_hits\` tables of the loaded objects (what \`metastore_agent_probe_hits_total\` reports)"
echo "just after each attach and just before each detach; their sum over the on phases over"
echo "the calls of the on phases. A hit the Go stack check re-enters is counted once, as by the"
echo "agent. The off phases counted no hit (the script checks it)."
echo
echo "**The method's control (sham switch).** $sham_runs run(s) of $sham_duration s per workload ($sham_elapsed s) with"
echo "\`go_toggle --sham\`: before each \"off\" phase the switcher detaches and at once re-attaches"
echo "every uprobe (the same kernel work), before each \"on\" phase it does nothing; so both"
echo "phases of a pair run attached, in the same order and timing as above. Its ratio shows"
echo "what the schedule itself (the switch before each phase, the order of a pair) does to the"
echo "ratio: an interval holding 1 finds no such bias at this resolution; one that does not"
echo "is a bias the headline carries too. Its hits per request (off / on) must agree: both"
echo "phases attached.$([ "$sham_runs" -gt 0 ] || echo " Not run (SHAM_RUNS=0).")"
echo
echo "**Restart rounds (cross-check).** $rounds rounds ($round_elapsed s), each one detached and one"
echo "attached run of $duration s per workload, \`metastore-agent\` itself started before the attached run"
echo "(it must answer \`/health\`) and stopped after it, odd rounds detached first, even rounds"
echo "attached first. CPU per request: etcd's schedstat over the run divided by every call it"
echo "finished (warm-up included); ratio per round, median and bootstrap interval as above;"
echo "hits per request from the agent's \`metastore_agent_probe_hits_total\` at the end of the"
echo "attached run over its calls. Rounds a second long, seconds apart: wide intervals."
echo
echo "| workload | measurement | pairs / rounds | etcd CPU ns per request off | on | CPU on / off [95 % CI] | CPU <= 1.03 | req/s on / off [95 % CI] | req/s >= 0.97 | uprobe hits per request |"
echo "|---|---|---:|---:|---:|---|---|---|---|---:|"
for w in put get; do
	stats_phases "$tmp/phases.$w" "$seed" 1.03 0.97
	pl=$phase_cpu prl=$phase_rps pairs_all=$phase_pairs_all off_med=$phase_off_med on_med=$phase_on_med
	phits=$(awk -v h="$(phase_sum "$w" on hits)" -v n="$(phase_sum "$w" on calls)" \
		'BEGIN { printf "%.3f", h / n }')
	cl=$(stats_pairs "${cpu["$w/attached"]}" "${cpu["$w/detached"]}" | stats_ratio "$seed" 1.03 at-most)
	rl=$(stats_pairs "${rps["$w/attached"]}" "${rps["$w/detached"]}" | stats_ratio "$seed" 0.97 at-least)
	printf '| %s | phases of %s ms | %s of %s | %.0f | %.0f | %s | %s | %s | %s | %s |\n' "$w" \
		"$phase_ms" "$(bench_field "$pl" n)" "$pairs_all" "$off_med" "$on_med" \
		"$(stats_headline "$pl")" "$(stats_verdict "$pl")" "$(stats_headline "$prl")" \
		"$(stats_verdict "$prl")" "$phits"
	sham_kv=
	if [ "$sham_runs" -gt 0 ]; then
		stats_phases "$tmp/sham.$w" "$seed" 1.03 0.97
		shits=$(awk -v a="$(phase_sum "$w" off hits sham)" -v b="$(phase_sum "$w" off calls sham)" \
			-v c="$(phase_sum "$w" on hits sham)" -v d="$(phase_sum "$w" on calls sham)" \
			'BEGIN { printf "%.3f / %.3f", a / b, c / d }')
		printf '| %s | control: sham switch, phases of %s ms | %s of %s | %.0f | %.0f | %s | 1 inside: %s | %s | 1 inside: %s | %s |\n' \
			"$w" "$phase_ms" "$(bench_field "$phase_cpu" n)" "$phase_pairs_all" "$phase_off_med" \
			"$phase_on_med" "$(stats_headline "$phase_cpu")" "$(inside_1 "$phase_cpu")" \
			"$(stats_headline "$phase_rps")" "$(inside_1 "$phase_rps")" "$shits"
		sham_kv="sham_cpu=$(bench_field "$phase_cpu" median) sham_cpu_lo=$(bench_field "$phase_cpu" lo)"
		sham_kv+=" sham_cpu_hi=$(bench_field "$phase_cpu" hi) sham_pairs=$(bench_field "$phase_cpu" n)"
	fi
	printf '| %s | restart rounds | %s | %.0f | %.0f | %s | %s | %s | %s | %.3f |\n' "$w" \
		"$(bench_field "$cl" n)" "$(stats_med "${cpu["$w/detached"]}")" \
		"$(stats_med "${cpu["$w/attached"]}")" "$(stats_headline "$cl")" "$(stats_verdict "$cl")" \
		"$(stats_headline "$rl")" "$(stats_verdict "$rl")" "$(stats_med "${hpc["$w"]}")"
	if [ -n "${BENCH_SUMMARY:-}" ]; then
		echo "goetcd $w cpu=$(bench_field "$pl" median) cpu_lo=$(bench_field "$pl" lo)" \
			"cpu_hi=$(bench_field "$pl" hi) cpu_verdict=$(bench_field "$pl" verdict)" \
			"rps=$(bench_field "$prl" median) rps_lo=$(bench_field "$prl" lo)" \
			"rps_hi=$(bench_field "$prl" hi) rps_verdict=$(bench_field "$prl" verdict)" \
			"hits=$phits pairs=$(bench_field "$pl" n) phase_ms=$phase_ms" \
			"detach_ms=$(switch_ms "$w" off) attach_ms=$(switch_ms "$w" on)" \
			"restart_cpu=$(bench_field "$cl" median) restart_cpu_lo=$(bench_field "$cl" lo)" \
			"restart_cpu_hi=$(bench_field "$cl" hi) restart_cpu_verdict=$(bench_field "$cl" verdict)" \
			"restart_rps=$(bench_field "$rl" median) restart_rps_lo=$(bench_field "$rl" lo)" \
			"restart_rps_hi=$(bench_field "$rl" hi) restart_hits=$(stats_med "${hpc["$w"]}")" \
			"rounds=$rounds seed=$seed seconds=$((phase_elapsed + sham_elapsed + round_elapsed))" \
			$sham_kv >>"$BENCH_SUMMARY"
	fi
done
echo
echo "Pairs left out (a phase that finished no call: etcd or the load generator stalled for a"
echo "whole phase), by the phase that did:$(for w in put get; do
	printf ' %s %s off, %s on;' "$w" "$(awk '$3 == "on=0" && $4 == "calls=0"' "$tmp/phases.$w" | wc -l)" \
		"$(awk '$3 == "on=1" && $4 == "calls=0"' "$tmp/phases.$w" | wc -l)"
done | sed 's/;$/./')"
echo
echo "Spread of the phase pairs' CPU per request on / off (5th / 25th / 50th / 75th / 95th percentile):"
echo
for w in put get; do
	echo "- $w: $(stats_phase_pairs "$tmp/phases.$w" cpu | stats_quantiles)"
done
echo
echo "Per-round etcd CPU per request of the restart rounds (ns, detached/attached):"
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
