#!/bin/bash
# The store's CPU per call and throughput with the agent detached and with `--probes all`.
# usage: bench/overhead.sh METASTORE AGENT LOADGEN   (root; prints a Markdown section)
# env: WORKLOADS ("read write"); the phase runs: PHASE_RUNS (6) runs of PHASE_DURATION
#      seconds (10) per workload, each on a new store process, in phases of PHASE_MS (50);
#      the restart rounds: ROUNDS (10)
#      per workload (READ_ROUNDS, WRITE_ROUNDS), each round one detached and one attached run
#      of DURATION seconds (1; writes WRITE_DURATION, 1); WARMUP (0.3), CONNS (2),
#      STREAMS (16), KEYS (10000), VALUE_SIZE (256); the breakdown: STORE_PHASE_RUNS (4)
#      phase runs of STORE_PHASE_DURATION seconds (8), each on a new store process, with the
#      semaphore written and nothing attached (the store's own part),
#      BREAKDOWN_DURATION (5) seconds with kernel.bpf_stats_enabled (BPF run time); DATA_ROOT (/dev/shm when writable: the
#      store's data dir, so disk latency spikes stay out of the CPU figures);
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
read_rounds=${READ_ROUNDS:-${ROUNDS:-10}}
write_rounds=${WRITE_ROUNDS:-${ROUNDS:-10}}
phase_runs=${PHASE_RUNS:-6}
phase_duration=${PHASE_DURATION:-10}
phase_ms=${PHASE_MS:-50}
store_phase_runs=${STORE_PHASE_RUNS:-4}
store_phase_duration=${STORE_PHASE_DURATION:-8}
breakdown_duration=${BREAKDOWN_DURATION:-5}
here_root=$(cd "$here/.." && pwd)
# The store's BPF programs (bpf/*.bpf.c but the Go target's), by name: bpftool's statistics
# are per program.
store_progs=$(cat "$here_root"/bpf/*.bpf.c | grep -v '^//' |
	sed -n 's/^int BPF_K\(RET\)\{0,1\}PROBE(\([a-z_]*\).*/\2/p' | grep -v '^go_' | sort -u | tr '\n' ' ')
load_settings
duration=${DURATION:-1}
warmup=${WARMUP:-0.3}
write_duration=${WRITE_DURATION:-1}
read -r -a modes <<<"${MODES:-detached all}"
seed=${SEED:-$(date +%s%N | cut -c 8-16)}
pmu=$(stats_pmu)

tmp=$(mktemp -d /tmp/ms-bench-overhead.XXXXXX)
data_root=${DATA_ROOT:-}
if [ -z "$data_root" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	data_root=/dev/shm
fi
data=$(mktemp -d "${data_root:-$tmp}/ms-bench-overhead-data.XXXXXX")
bpf_stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
cleanup() {
	sysctl -q kernel.bpf_stats_enabled="$bpf_stats_was" 2>/dev/null || true
	bench_cleanup
	rm -rf "$tmp" "$data"
}
trap cleanup EXIT

# A private copy: the agent's --binary then probes only the store this script started.
cp "$store_bin" "$tmp/metastore"
store=$tmp/metastore
sem=$(stats_sem_addr "$store")
[ -n "$sem" ] || { echo "bench: no ms_probe_batch_semaphore in $store_bin" >&2; exit 1; }

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

# store_start NAME LOADGEN-ARGS...: a fresh store process on an empty data dir, warmed up by
# one unmeasured run; sets spid and port.
store_start() {
	local name=$1
	shift
	port=$(bench_free_port)
	rm -rf "$data/$name"
	# No raft snapshot during the runs: each one (a cost that grows with the data) would
	# otherwise fall in one mode's run more often than in the other's.
	bench_spawn "$tmp/store.log" "${server_pin[@]}" "$store" --listen "127.0.0.1:$port" \
		--data-dir "$data/$name" --snapshot-count 100000000 --quota-backend-bytes -1
	spid=$BENCH_LAST_PID
	bench_wait_listen "$spid" "$port" 10
	bench_wait_ready "$loadgen" "$port" 30
	# One unmeasured run: the store's first allocations and the page cache warm up.
	bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" "$@" >/dev/null
}

# store_restart NAME LOADGEN-ARGS...: the store stopped and started afresh (store_start).
# Each phase run gets its own process: the cost of the records moves by about 1 % of a
# call between processes of the same binary (their memory layouts are one cause), far more than
# between runs on one process, so the interval is taken over processes too.
store_restart() {
	bench_stop "$spid"
	store_start "$@"
}

# run_workload NAME ROUNDS LOADGEN-ARGS...: all rounds of one workload on one store process,
# then the phase runs, each on a new one.
run_workload() {
	local name=$1 rounds=$2 round i n=${#modes[@]}
	shift 2
	store_start "$name" "$@"
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
	phase_runs_of "$name" "$@"
	store_side_runs_of "$name" "$@"
	bpf_breakdown_of "$name" "$@"
	bench_stop "$spid"
}

# phase_run_into FILE RUN LOADGEN-ARGS...: one load generator run that switches the batch probe
# off and on (lg_phases.c), its "phase:" lines appended to FILE as "phase: RUN.I ..."; prints
# its result line. Fails when the run does, or when any answer was not OK.
phase_run_into() {
	local file=$1 run=$2 line
	shift 2
	line=$("${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" "$@" \
		--phase-pid "$spid" --phase-sem "$sem" --phase-ms "$phase_ms") ||
		{ echo "bench: load generator (phases) failed: $line" >&2; return 1; }
	grep '^phase: ' <<<"$line" | sed "s/^phase: /phase: $run./" >>"$file"
	line=$(grep '^result: ' <<<"$line")
	grep -q '^result: .* errors=0 ' <<<"$line" ||
		{ echo "bench: load generator (phases) failed: $line" >&2; return 1; }
	echo "$line"
}

# with_duration SECONDS ARGS...: ARGS with --duration's value replaced, into run_args.
with_duration() {
	local d=$1 i
	shift
	run_args=("$@")
	for i in "${!run_args[@]}"; do
		[ "${run_args[$i]}" != --duration ] || run_args[$((i + 1))]=$d
	done
}

# store_side_runs_of NAME LOADGEN-ARGS...: the store's own part of the cost. Nothing is
# attached; the script writes the semaphore to 1, so in an on phase the store takes its
# timestamps, writes its records and calls the empty ms_probe_batch (no uprobe there), in an
# off phase it does none of it. Phase lines to $tmp/sphases.NAME.
store_side_runs_of() {
	local name=$1 run line
	shift
	with_duration "$store_phase_duration" "$@"
	: >"$tmp/sphases.$name"
	for run in $(seq 1 "$store_phase_runs"); do
		store_restart "$name" "$@"
		[ "$(stats_get_sem "$spid" "$sem")" = 0 ] ||
			{ echo "bench: the batch probe's semaphore is not 0 with no agent attached" >&2; return 1; }
		stats_set_sem "$spid" "$sem" 1
		line=$(phase_run_into "$tmp/sphases.$name" "$run" "${run_args[@]}") ||
			{ stats_set_sem "$spid" "$sem" 0; return 1; }
		stats_set_sem "$spid" "$sem" 0
		echo "  overhead $name store-side run $run: $line" >&2
	done
}

# bpf_breakdown_of NAME LOADGEN-ARGS...: one run with the agent attached and the kernel's BPF
# statistics on: the run time of each of the store's BPF programs per call, into
# res_bpf[NAME] ("total prog=ns ..." per call).
bpf_breakdown_of() {
	local name=$1 line calls
	shift
	with_duration "$breakdown_duration" "$@"
	bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$store" --probes all
	sysctl -q kernel.bpf_stats_enabled=1
	bpftool prog show >"$tmp/bpf0"
	line=$(bench_loadgen "${lg_pin[@]}" "$loadgen" --endpoint "127.0.0.1:$port" "${run_args[@]}")
	bpftool prog show >"$tmp/bpf1"
	sysctl -q kernel.bpf_stats_enabled="$bpf_stats_was"
	bench_stop "$BENCH_AGENT_PID"
	calls=$(bench_field "$line" calls)
	# the store's programs by name (each id in both listings): run time over the run per call
	awk -v names="$store_progs" -v calls="$calls" '
		BEGIN { split(names, n, " "); for (i in n) want[n[i]] = 1 }
		FNR == 1 { f++ }
		/^[0-9]+: / { id = $1; nm = ""; rt = 0
			for (i = 1; i <= NF; i++) { if ($i == "name") nm = $(i + 1); if ($i == "run_time_ns") rt = $(i + 1) }
			name[id] = nm; if (f == 1) r0[id] = rt; else r1[id] = rt }
		END {
			for (id in r1) if (want[name[id]] && (id in r0)) { d[name[id]] += r1[id] - r0[id] }
			for (k in d) { tot += d[k]; if (d[k] / calls >= 0.05) out = out sprintf(" %s=%.1f", k, d[k] / calls) }
			printf "%.1f%s\n", tot / calls, out
		}' "$tmp/bpf0" "$tmp/bpf1" >"$tmp/bpf.$name"
	res_bpf[$name]=$(cat "$tmp/bpf.$name")
	echo "  overhead $name bpf breakdown: ${res_bpf[$name]} ($line)" >&2
}

# phase_runs_of NAME LOADGEN-ARGS...: with one agent (--probes all) attached throughout,
# PHASE_RUNS load generator runs that switch the batch probe off and on every PHASE_MS
# (lg_phases.c), each on a new store process; their "phase:" lines go to $tmp/phases.NAME,
# the agent's counters over the runs (not the warm-ups) to res_phase_*.
phase_runs_of() {
	local name=$1 run apid aport line metrics calls=0 off_calls hits=0 recs=0 c0 c1
	shift
	with_duration "$phase_duration" "$@"
	bench_start_agent "$tmp/agent.log" "$agent_bin" --binary "$store" --probes all
	apid=$BENCH_AGENT_PID
	aport=$BENCH_AGENT_PORT
	: >"$tmp/phases.$name"
	for run in $(seq 1 "$phase_runs"); do
		store_restart "$name" "$@"
		# the counters over the run only: the warm-up of the new process counts too
		c0=$(agent_counts "$aport")
		line=$(phase_run_into "$tmp/phases.$name" "$run" "${run_args[@]}") || return 1
		c1=$(agent_counts "$aport")
		hits=$((hits + ${c1% *} - ${c0% *}))
		recs=$((recs + ${c1#* } - ${c0#* }))
		calls=$((calls + $(bench_field "$line" calls)))
		echo "  overhead $name phase run $run: $line" >&2
	done
	metrics=$(curl -s --max-time 5 "http://127.0.0.1:$aport/metrics" || true)
	grep -q '^grpc_server_request_total{.*} [1-9]' <<<"$metrics" ||
		{ echo "bench: agent (phase runs) counted no calls" >&2; return 1; }
	bench_stop "$apid"
	# The calls that ran with the batch probe on: all but those of the off phases.
	off_calls=$(awk '$3 == "on=0" { sub(/calls=/, "", $4); s += $4 } END { printf "%.0f", s }' \
		"$tmp/phases.$name")
	res_phase_hits[$name]=$(awk -v h="$hits" -v n="$((calls - off_calls))" 'BEGIN { printf "%.4f", h / n }')
	res_phase_recs[$name]=$(awk -v h="$recs" -v n="$((calls - off_calls))" 'BEGIN { printf "%.3f", h / n }')
}

# agent_counts PORT: "HITS RECORDS" of the agent on PORT: the batch probe's uprobe hits and
# the records it took, so far.
agent_counts() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk '
		$1 ~ /^metastore_agent_probe_hits_total[{]/ && $1 ~ /function="ms_probe_batch"/ {
			if ($2 > h) h = $2 }
		$1 ~ /^metastore_agent_probe_records_total[{]/ { r += $2 }
		END { printf "%.0f %.0f\n", h, r }'
}

# phase_pairs NAME cpu|calls [FILE-PREFIX]: stats_phase_pairs of $tmp/PREFIX.NAME (phases).
phase_pairs() {
	stats_phase_pairs "$tmp/${3:-phases}.$1" "$2"
}

declare -A res_rps res_p50 res_p99 res_cpu res_hits res_recs res_ins res_phase_hits res_phase_recs res_bpf
declare -A ph_off ph_added
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

wname() { [ "$1" = read ] && echo "read-heavy (90% get)" || echo "write (put)"; }

echo "Two measurements per workload (data dir in"
echo "\`${data_root:-$tmp}\`$([ -n "$data_root" ] && echo ", a tmpfs: a disk's latency spikes stall whole phases and are no probe cost"),"
echo "\`--snapshot-count 100000000\`: no raft snapshot inside a run, \`--quota-backend-bytes -1\`: a history never compacted raises no NOSPACE)${pin_note:+, $pin_note}. Load"
echo "(\`build/bench/loadgen\`, same machine):"
echo
echo "- read-heavy: \`loadgen --endpoint 127.0.0.1:PORT ${read_args[*]}\`"
echo "- write: \`loadgen --endpoint 127.0.0.1:PORT ${write_args[*]}\`"
echo
echo "\`--verify\` decodes every response; any non-OK or wrong response fails the run."
echo
echo "**Phases (the headline).** A shared VM's speed moves by tens of percent from one second to"
echo "the next, and the same for both modes only by chance, so whole runs a second apart cannot"
echo "resolve 1 %. So one agent (\`--probes all\`) stays attached while the load generator"
echo "(\`--phase-pid\`, \`bench/lg_phases.c\`) writes the store's batch probe semaphore to 0 and"
echo "back every $phase_ms ms, as the kernel does when the agent detaches and attaches. In an off"
echo "phase the store takes its detached path (no timestamps, no records, no call of"
echo "\`ms_probe_batch\`, so no uprobe hit there; the agent's other uprobes stay, on functions this"
echo "load calls about 50 times a second: member status, connections), in an on phase its attached"
echo "one. Phases come in pairs, off-on and on-off alternately (ABBA); $phase_runs runs of"
echo "${phase_duration} s per workload, each on a store process of its own, started afresh and"
echo "warmed up by one unmeasured run: what the records cost moves by about 1 % of a call between"
echo "processes of the same binary (their memory layouts are one cause, not the only one),"
echo "far more than between runs on one process. Per phase: the store's CPU time (all its threads,"
echo "\`/proc/<pid>/task/*/schedstat\`, ns; the uprobe handlers and BPF programs it runs included)"
echo "divided by the calls the load generator finished in it; per pair the ratio on / off; the"
echo "table gives the median of those ratios and a 95 % bootstrap percentile interval of it"
echo "(${STATS_RESAMPLES:-10000} resamples, seed $seed, in two stages: as many runs as there are,"
echo "drawn with replacement, then as many of each drawn run's pairs, so that the interval"
echo "holds the spread between processes; $phase_runs processes make it coarse). Pairs with a phase that"
echo "finished no call are left out (their count is in the table). Target: <= 1.01; \"not"
echo "resolved\" when the interval has values on both sides of it. req/s: calls per phase, on / off."
echo
echo "**Restart rounds (cross-check).** On one store process, rounds of ${modes[*]} runs (${duration} s; writes"
echo "${write_duration} s), the agent started before and stopped after its run (it must answer"
echo "\`/health\` 200 and count the calls), odd rounds in that order and even rounds in reverse:"
echo "the real detached store against the real attach, what the phases take on trust. CPU per"
echo "call: the store's schedstat over the run divided by every call it finished (warm-up and"
echo "preload included); ratio per round, median and bootstrap interval as above. A round lasts"
echo "a second, so its interval is wide."
if [ "$pmu" = yes ]; then
	echo "Instructions per call: hardware counters (\`perf_event_open\`) on the store's threads."
else
	echo "Instructions per call: not measured, this machine has no hardware counters"
	echo "(${pmu#no: }); \`bench/store_instr.sh\` counts the store's own instructions instead."
fi
echo
echo "Probe hits per call: hits of the batch probe (\`metastore_agent_probe_hits_total\`,"
echo "function \`ms_probe_batch\`) over the calls served with it on; records per call: its"
echo "records (\`metastore_agent_probe_records_total\`, all subsystems) over the same calls."
echo "The whole $elapsed s for both workloads."
echo
echo "| workload | measurement | pairs / rounds | store CPU ns/call off | on | CPU/call on / off [95 % CI] | target <= 1.01 | req/s on / off [95 % CI] | probe hits/call | records/call |$([ "$pmu" = yes ] && echo " instructions/call |")"
echo "|---|---|---:|---:|---:|---|---|---|---:|---:|$([ "$pmu" = yes ] && echo "---:|")"
for name in "${workloads[@]}"; do
	stats_phases "$tmp/phases.$name" "$seed" 1.01 1
	pl=$phase_cpu prl=$phase_rps pairs_all=$phase_pairs_all off_med=$phase_off_med on_med=$phase_on_med
	# ns from the median ratio (a difference of two medians of noisy phases is noisier)
	ph_off[$name]=$off_med
	ph_added[$name]=$(awk -v r="$(bench_field "$pl" median)" -v b="$off_med" 'BEGIN { printf "%.0f", (r - 1) * b }')
	verdict=$(stats_verdict "$pl")
	printf '| %s | phases of %s ms | %s of %s | %.0f | %.0f | %s | %s | %s | %s | %s |%s\n' \
		"$(wname "$name")" "$phase_ms" "$(bench_field "$pl" n)" "$pairs_all" "$off_med" "$on_med" \
		"$(stats_headline "$pl")" "$([ "$verdict" = met ] && echo met || echo "**$verdict**")" \
		"$(stats_headline "$prl")" "${res_phase_hits[$name]}" "${res_phase_recs[$name]}" \
		"$([ "$pmu" = yes ] && echo " - |")"
	for mode in "${modes[@]}"; do
		[ "$mode" != detached ] || continue
		cl=$(stats_pairs "${res_cpu["$name/$mode"]}" "${res_cpu["$name/detached"]}" |
			stats_ratio "$seed" 1.01 at-most)
		rl=$(stats_pairs "${res_rps["$name/$mode"]}" "${res_rps["$name/detached"]}" |
			stats_ratio "$seed" 1 at-least)
		rv=$(stats_verdict "$cl")
		ins=
		[ "$pmu" != yes ] || ins=" $(stats_med "${res_ins["$name/$mode"]}") / $(stats_med "${res_ins["$name/detached"]}") |"
		printf '| %s | restart rounds, `--probes %s` | %s | %.0f | %.0f | %s | %s | %s | %.4f | %.3f |%s\n' \
			"$(wname "$name")" "$mode" "$(bench_field "$cl" n)" \
			"$(stats_med "${res_cpu["$name/detached"]}")" "$(stats_med "${res_cpu["$name/$mode"]}")" \
			"$(stats_headline "$cl")" "$([ "$rv" = met ] && echo met || echo "**$rv**")" \
			"$(stats_headline "$rl")" "$(stats_med "${res_hits["$name/$mode"]}")" \
			"$(stats_med "${res_recs["$name/$mode"]}")" "$ins"
		if [ -n "${BENCH_SUMMARY:-}" ] && [ "$mode" = all ]; then
			echo "overhead $name all cpu=$(bench_field "$pl" median) cpu_lo=$(bench_field "$pl" lo)" \
				"cpu_hi=$(bench_field "$pl" hi) verdict=$(bench_field "$pl" verdict)" \
				"rps=$(bench_field "$prl" median) rps_lo=$(bench_field "$prl" lo)" \
				"rps_hi=$(bench_field "$prl" hi) hits=${res_phase_hits[$name]}" \
				"records=${res_phase_recs[$name]} cpu_ns=$(printf '%.0f' "$off_med")" \
				"added_ns=${ph_added[$name]}" \
				"pairs=$(bench_field "$pl" n) processes=$(bench_field "$pl" groups) phase_ms=$phase_ms" \
				"restart_cpu=$(bench_field "$cl" median) restart_cpu_lo=$(bench_field "$cl" lo)" \
				"restart_cpu_hi=$(bench_field "$cl" hi) restart_verdict=$(bench_field "$cl" verdict)" \
				"restart_rounds=$(bench_field "$cl" n) seed=$seed pmu=${pmu%%:*} seconds=$elapsed" >>"$BENCH_SUMMARY"
		fi
	done
done
echo
echo "**Where the added CPU per call goes.** \"Store's own part\": $store_phase_runs more phase runs of"
echo "${store_phase_duration} s, each on a new store process, with no agent attached and the semaphore written to 1 by this script, so"
echo "an on phase takes the timestamps, writes the records and calls the empty \`ms_probe_batch\`"
echo "with no uprobe there (ratio and interval as above). \"BPF programs\": one ${breakdown_duration} s run with"
echo "the agent attached and \`kernel.bpf_stats_enabled\`, the run time of each of the store's"
echo "BPF programs (\`bpftool prog show\`) over the calls of the run (\`--probes all\` attaches"
echo "one batch program per subsystem on \`ms_probe_batch\`). \"The rest\": added minus both, the"
echo "uprobe's entry into the kernel and what a hand-over costs the store after it (its caches)."
echo "The ns columns are (median ratio - 1) x the median off CPU per call of the phase runs."
echo
echo "| workload | added ns/call, \`--probes all\` (phases) | store's own part: on / off [95 % CI] | its ns/call | BPF programs ns/call | by program | the rest ns/call |"
echo "|---|---:|---|---:|---:|---|---:|"
for name in "${workloads[@]}"; do
	sl=$(phase_pairs "$name" cpu sphases | stats_ratio "$seed" 1.01 at-most)
	added=${ph_added[$name]}
	s_added=$(awk -v r="$(bench_field "$sl" median)" -v b="${ph_off[$name]}" 'BEGIN { printf "%.0f", (r - 1) * b }')
	read -r bpf_ns bpf_by <<<"${res_bpf[$name]}"
	rest=$(awk -v a="$added" -v s="$s_added" -v b="$bpf_ns" 'BEGIN { printf "%.0f", a - s - b }')
	printf '| %s | %s | %s | %s | %.0f | %s | %s |\n' "$(wname "$name")" "$added" \
		"$(stats_headline "$sl")" "$s_added" "$bpf_ns" "$(tr ' ' '\n' <<<"$bpf_by" | sort | tr '\n' ' ' | sed 's/ $//; s/=/ /g')" "$rest"
	[ -z "${BENCH_SUMMARY:-}" ] ||
		echo "breakdown $name added_ns=$added store=$(bench_field "$sl" median)" \
			"store_lo=$(bench_field "$sl" lo) store_hi=$(bench_field "$sl" hi)" \
			"store_ns=$s_added bpf_ns=$bpf_ns rest_ns=$rest" >>"$BENCH_SUMMARY"
done
echo
echo "Spread of the phase pairs' CPU per call on / off (5th / 25th / 50th / 75th / 95th percentile):"
echo
for name in "${workloads[@]}"; do
	echo "- $(wname "$name"): $(phase_pairs "$name" cpu | stats_quantiles)"
done
echo
echo "Per-round store CPU per call of the restart rounds (ns, ${modes[*]}):"
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
