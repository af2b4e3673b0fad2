# Shared helpers for the end-to-end tests: ports, bounded waits, process cleanup, assertions.
# Sourced by tests/e2e/test_*.sh; every process a test starts is recorded and ended on exit.

set -euo pipefail

: "${METASTORE:=build/metastore}"
: "${AGENT:=build/metastore-agent}"
export ETCDCTL_API=3

E2E_PIDS=()
E2E_TMP=$(mktemp -d /tmp/ms-e2e.XXXXXX)
E2E_NAME=$(basename "$0" .sh)

e2e_cleanup() {
	local rc=$?
	local p
	for p in "${E2E_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${E2E_PIDS[@]}"; do
		# bounded: SIGKILL after 5 s
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "FAIL $E2E_NAME (logs below)" >&2
		for f in "$E2E_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f" >&2
			tail -n 30 "$f" >&2
		done
	fi
	rm -rf "$E2E_TMP"
	exit $rc
}
trap e2e_cleanup EXIT

# Each test runs its own copy of the store: uprobes attach to an inode, so an agent started
# with --binary here counts this test's processes only, even while other tests run.
[ -x "$METASTORE" ] || { echo "$E2E_NAME: $METASTORE not built (run make)" >&2; exit 1; }
cp "$METASTORE" "$E2E_TMP/metastore"
METASTORE=$E2E_TMP/metastore

fail() {
	echo "$E2E_NAME: $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" = 0 ] || fail "needs root (BPF uprobes); run as root"
	[ -r /sys/kernel/btf/vmlinux ] || fail "needs kernel BTF (/sys/kernel/btf/vmlinux)"
}

# A loopback port no socket uses, below the kernel's ephemeral range (so no client socket can
# take it between this check and the bind), and not handed out before in this test (callers
# often pick several before binding any; the record is a file since $(free_port) runs in a
# subshell).
free_port() {
	local p lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
	[ "$lo" -gt 12000 ] || lo=32768
	for _ in $(seq 200); do
		p=$((10000 + RANDOM % (lo - 10000)))
		grep -qx "$p" "$E2E_TMP/ports" 2>/dev/null && continue
		if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] &&
			! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p" >>"$E2E_TMP/ports"
			echo "$p"
			return 0
		fi
	done
	fail "no free port found"
}

# wait_until SECONDS CMD...: retries CMD every 0.1 s until it succeeds or time runs out.
wait_until() {
	local secs=$1
	shift
	local i
	for i in $(seq $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start_metastore PORT [ARGS...]: starts the store in the background; sets MS_PID and NODE
# (its member id, the `node` label of its series).
start_metastore() {
	local port=$1
	shift
	"$METASTORE" --listen "127.0.0.1:$port" --data-dir "$E2E_TMP/data-$port" "$@" \
		>"$E2E_TMP/metastore-$port.log" 2>&1 &
	MS_PID=$!
	E2E_PIDS+=("$MS_PID")
	# Ready = it logged that it serves (the log is replayed, its start-up events are out)
	# and accepts TCP; no gRPC request is made, so an attached agent counts nothing.
	wait_until 10 grep -q "serving gRPC on" "$E2E_TMP/metastore-$port.log" ||
		fail "metastore on port $port did not start"
	wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" ||
		fail "metastore on port $port did not start"
	NODE=$(member_id "$port")
}

# start_agent PORT ARGS...: starts the agent in the background; waits for /health; sets AGENT_PID.
start_agent() {
	local port=$1
	shift
	"$AGENT" --listen "127.0.0.1:$port" "$@" >"$E2E_TMP/agent-$port.log" 2>&1 &
	AGENT_PID=$!
	E2E_PIDS+=("$AGENT_PID")
	wait_until 20 curl -sf "http://127.0.0.1:$port/health" ||
		fail "agent on port $port did not become healthy"
}

# member_id PORT: the raft node / etcd member id (hex) the store on PORT logged at start-up,
# i.e. the `node` label of its raft and mvcc series; read from the log, so no request is made.
member_id() {
	sed -n 's/.* id \([0-9a-f]*\), .*/\1/p' "$E2E_TMP/metastore-$1.log" | tail -n 1
}

ctl() {
	etcdctl --endpoints="127.0.0.1:$MS_PORT" --dial-timeout=2s --command-timeout=5s "$@"
}

scrape() {
	curl -sf --max-time 10 "http://127.0.0.1:$AGENT_PORT/metrics"
}

# metric_is SERIES VALUE: a scrape has the line `SERIES VALUE`. The scrape is read whole
# before it is searched: `scrape | grep -q` under pipefail fails whenever grep exits at its
# match while curl is still writing (curl exit 23, write error), so single checks failed at
# random (test_agent_limits about one run in ten).
metric_is() {
	local m
	m=$(scrape) || return 1
	grep -qxF "$1 $2" <<<"$m"
}

# metric_absent SERIES: a scrape answered, with no sample of SERIES.
metric_absent() {
	local m
	m=$(scrape) || return 1
	! grep -qF "$1 " <<<"$m"
}

# sample_value FILE SERIES: value of the exact series line `SERIES value` (empty if absent).
sample_value() {
	awk -v s="$2" 'index($0, s " ") == 1 { print substr($0, length(s) + 2) }' "$1"
}

# assert_sample FILE SERIES EXPECTED
assert_sample() {
	local got
	got=$(sample_value "$1" "$2")
	[ "$got" = "$3" ] || fail "$2: expected $3, got '${got:-<absent>}'"
}

# node_series SERIES NODE: SERIES with node="NODE" as its first label, the form of every
# family that comes from a store process.
node_series() {
	case $1 in
	*'{'*) printf '%s{node="%s",%s' "${1%%\{*}" "$2" "${1#*\{}" ;;
	*) printf '%s{node="%s"}' "$1" "$2" ;;
	esac
}

# assert_node_sample FILE NODE SERIES EXPECTED: assert_sample of SERIES of member NODE.
assert_node_sample() {
	assert_sample "$1" "$(node_series "$3" "$2")" "$4"
}

# wait_member_known NODE: waits (5 s at most) until the agent on $AGENT_PORT knows member NODE
# (metastore_up{node="NODE"} 1), else fails with what it saw. A process's hits are counted
# from then on; before its first member status (raft's 100 ms tick) they are unattributed.
wait_member_known() {
	wait_until 5 metric_is "metastore_up{node=\"$1\"}" 1 ||
		fail "the agent on port $AGENT_PORT does not know member $1: $(scrape | grep -E '^metastore_(up|agent_unattributed)')"
}

# check_exposition FILE: promtool check metrics accepts FILE. The metric contract names two
# gauges watch_active_total and lease_active_total; promtool's lint (exit 3) flags their
# "_total" suffix, and only that lint finding is tolerated, for only those two names.
check_exposition() {
	local rc=0 out
	out=$(promtool check metrics <"$1" 2>&1) || rc=$?
	[ "$rc" = 0 ] && return 0
	[ "$rc" = 3 ] || fail "promtool check metrics failed ($rc): $out"
	if printf '%s\n' "$out" | grep -v -E '^(watch|lease)_active_total non-counter metrics should not have "_total" suffix$' | grep -q .; then
		fail "promtool check metrics: $out"
	fi
}
