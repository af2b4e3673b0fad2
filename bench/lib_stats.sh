# Shared by the overhead scripts: CPU per call from schedstat, the PMU check, ratio intervals, phase pairs.
# Sourced after lib.sh; needs BENCH_STATS (the path of build/bench/bench_stats).

# stats_run_ns PID: run time of all PID's live threads, ns (/proc/PID/task/*/schedstat).
stats_run_ns() {
	"$BENCH_STATS" schedstat "$1"
}

# stats_pmu: prints "yes", or "no: REASON" when perf_event_open cannot count instructions.
stats_pmu() {
	local line
	line=$("$BENCH_STATS" pmu)
	case $line in
	pmu=yes) echo yes ;;
	*) echo "no: $(sed 's/^pmu=no reason="\(.*\)"$/\1/' <<<"$line")" ;;
	esac
}

# stats_ratio SEED TARGET at-most|at-least: reads "A B" lines (one per round; "A B GROUP" for
# rounds in groups, resampled in two stages) on stdin and
# prints bench_stats' "n= median= lo= hi= ... verdict=" line for the median of A/B.
stats_ratio() {
	"$BENCH_STATS" ratio --seed "$1" --resamples "${STATS_RESAMPLES:-10000}" --target "$2" "--$3"
}

# stats_pairs "A1 A2 ..." "B1 B2 ...": prints "Ai Bi" lines.
stats_pairs() {
	local -a a b
	local i
	read -r -a a <<<"$1"
	read -r -a b <<<"$2"
	for i in "${!a[@]}"; do
		echo "${a[$i]} ${b[$i]}"
	done
}

# stats_headline LINE: "median [lo, hi]" of a bench_stats line, 3 decimals.
stats_headline() {
	printf '%.3f [%.3f, %.3f]' "$(bench_field "$1" median)" "$(bench_field "$1" lo)" \
		"$(bench_field "$1" hi)"
}

# stats_verdict LINE: "met", "not met" or "not resolved" from a bench_stats line.
stats_verdict() {
	bench_field "$1" verdict | tr _ ' '
}

# stats_med "V1 V2 ...": the median of a space-separated list.
stats_med() {
	local -a v
	read -r -a v <<<"$1"
	bench_median "${v[@]}"
}

# stats_pins: with PIN=1 (the default) and >= 2 CPUs, sets server_pin to run the server on
# the last CPU and lg_pin to run the load generator on the others (taskset prefixes; empty
# arrays otherwise). Fewer migrations: how many calls one loop iteration serves, and so
# the syscalls per call, moves less between runs.
stats_pins() {
	local ncpu
	ncpu=$(nproc)
	server_pin=()
	lg_pin=()
	pin_note=
	if [ "${PIN:-1}" = 1 ] && [ "$ncpu" -ge 2 ]; then
		server_pin=(taskset -c "$((ncpu - 1))")
		lg_pin=(taskset -c "0-$((ncpu - 2))")
		pin_note="the server pinned to CPU $((ncpu - 1)), the load generator to CPU 0-$((ncpu - 2))"
	fi
}

# stats_sem_addr BINARY: the address of the batch probe's semaphore (hex, no 0x) in BINARY;
# the store is linked non-PIE, so it is the same in its process. Empty when there is none.
stats_sem_addr() {
	nm "$1" | awk '$3 == "ms_probe_batch_semaphore" { print $1 }'
}

# stats_set_sem PID ADDR VALUE: writes the semaphore in the process's memory, as the kernel
# does while a uprobe with it as reference counter is attached (VALUE < 256).
stats_set_sem() {
	printf "\\x$(printf %02x "$3")\\x00" |
		dd of="/proc/$1/mem" bs=1 seek=$((0x$2)) conv=notrunc status=none
}

# stats_get_sem PID ADDR: the semaphore's value in the process's memory.
stats_get_sem() {
	dd if="/proc/$1/mem" bs=1 skip=$((0x$2)) count=2 status=none | od -An -tu2 | tr -d ' '
}

# stats_phase_pairs FILE cpu|calls: one "ON OFF RUN" line per pair of phases (CPU per call,
# or calls) of FILE's "phase: RUN.I on=0|1 calls=N cpu_ns=N ..." lines (phases 2k and 2k+1
# of a run are pair k), skipping pairs with a phase that finished no call. RUN groups the
# pairs for stats_ratio (a run's pairs share its process).
stats_phase_pairs() {
	awk -v what="$2" '{
		split($2, id, "."); k = id[1] "." int(id[2] / 2)
		on = ($3 == "on=1"); c = $4; t = $5; sub(/calls=/, "", c); sub(/cpu_ns=/, "", t)
		if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		if (on) { con[k] = c; ton[k] = t } else { coff[k] = c; toff[k] = t }
	} END {
		for (i = 1; i <= n; i++) {
			k = order[i]
			if (!(k in con) || !(k in coff) || con[k] < 1 || coff[k] < 1) continue
			split(k, r, ".")
			if (what == "cpu") printf "%.3f %.3f %d\n", ton[k] / con[k], toff[k] / coff[k], r[1]
			else printf "%d %d %d\n", con[k], coff[k], r[1]
		}
	}' "$1"
}

# stats_quantiles: "p5 / p25 / p50 / p75 / p95" of the ON/OFF ratios on stdin ("ON OFF" lines).
stats_quantiles() {
	awk '{ print $1 / $2 }' | sort -g | awk '{ v[NR] = $1 } END {
		split("0.05 0.25 0.5 0.75 0.95", q, " ")
		for (i = 1; i <= 5; i++) { j = int(q[i] * (NR - 1) + 0.5) + 1; printf "%s%.3f", (i > 1 ? " / " : ""), v[j] }
	}'
}

# stats_phases FILE SEED CPU_TARGET RPS_TARGET: the phase pairs of FILE summed up: phase_cpu
# and phase_rps (bench_stats lines for CPU per call on / off, at most CPU_TARGET, and calls
# on / off, at least RPS_TARGET), phase_pairs_all (every pair, those left out included),
# phase_off_med and phase_on_med (median CPU per call off and on, ns).
stats_phases() {
	phase_cpu=$(stats_phase_pairs "$1" cpu | stats_ratio "$2" "$3" at-most)
	phase_rps=$(stats_phase_pairs "$1" calls | stats_ratio "$2" "$4" at-least)
	phase_pairs_all=$(awk '{ split($2, id, "."); k[id[1] "." int(id[2] / 2)] = 1 } END { print length(k) }' "$1")
	phase_off_med=$(bench_median $(stats_phase_pairs "$1" cpu | awk '{ print $2 }'))
	phase_on_med=$(bench_median $(stats_phase_pairs "$1" cpu | awk '{ print $1 }'))
}
