#!/usr/bin/env bash
# The benchmark load generator's workloads (bench/loadgen.c, etcd's benchmark tool's set)
# on metastore and on Debian's etcd 3.4 as the control: each run of N measured calls with
# --verify ends with exactly N OK calls (watch-latency: N puts, each event at each watcher)
# and no non-OK answer, so bench/etcd_compare.sh measures the same work on both servers;
# and a put of the watched key from elsewhere during watch-latency fails the run (its
# events are checked, not only counted).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_etcd.sh"

: "${LOADGEN:=build/bench/loadgen}"
[ -x "$LOADGEN" ] || fail "$LOADGEN not built (make build/bench/loadgen)"
N=200

# run_ok PORT WANT_OK ARGS...: one load generator run; its result line must say ok=WANT_OK
# errors=0 (and for watch-latency puts=N).
run_ok() {
	local port=$1 want=$2 out line
	shift 2
	out=$(timeout -k 5 60 "$LOADGEN" --endpoint "127.0.0.1:$port" --warmup 0 --verify \
		--keys 50 --value-size 64 "$@" 2>&1) || fail "loadgen $* failed: $out"
	line=$(grep '^result: ' <<<"$out") || fail "loadgen $*: no result line: $out"
	grep -q " ok=$want errors=0 " <<<"$line" || fail "loadgen $*: expected ok=$want errors=0: $line"
	case " $* " in
	*" watch-latency "*) grep -q " puts=$N " <<<"$line" || fail "loadgen $*: expected puts=$N: $line" ;;
	esac
}

for server in $(control_servers); do
	port=$(free_port)
	if [ "$server" = metastore ]; then start_metastore "$port"; else start_etcd "$port"; fi
	run_ok "$port" "$N" --workload put --requests "$N" --conns 2 --streams 4
	run_ok "$port" "$N" --workload get --requests "$N" --conns 2 --streams 4
	run_ok "$port" "$N" --workload get --serializable --requests "$N" --conns 2 --streams 4
	run_ok "$port" "$N" --workload mixed --requests "$N" --conns 2 --streams 4
	run_ok "$port" "$N" --workload txn-put --txn-ops 3 --requests "$N" --conns 2 --streams 4
	run_ok "$port" "$N" --workload lease-keepalive --requests "$N" --conns 2 --streams 4
	# 2 connections x 2 streams x 3 watchers: each put's event at 12 watchers
	run_ok "$port" $((N * 12)) --workload watch-latency --requests "$N" --conns 2 --streams 2 \
		--watchers 3
	# An intruding put of the watched key: its event is not the load generator's next put.
	timeout -k 5 60 "$LOADGEN" --endpoint "127.0.0.1:$port" --workload watch-latency \
		--duration 20 --warmup 0 --conns 1 --streams 2 --put-rate 200 \
		>"$E2E_TMP/intruded.out" 2>&1 &
	lg=$!
	# put until it ends (its watchers may not exist yet at the first put), 10 s at most
	for _ in $(seq 1 50); do
		kill -0 "$lg" 2>/dev/null || break
		etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s put bench/watched intruder \
			>/dev/null || fail "etcdctl put of the watched key failed"
		sleep 0.2
	done
	rc=0
	wait "$lg" || rc=$?
	[ "$rc" = 1 ] || fail "watch-latency with an intruding put exited $rc, not 1: $(cat "$E2E_TMP/intruded.out")"
	grep -q "watch answers were not the next put's event" "$E2E_TMP/intruded.out" ||
		fail "watch-latency with an intruding put: $(cat "$E2E_TMP/intruded.out")"
	echo "  $E2E_NAME: $server: 7 workloads, $N calls each, every answer checked; an intruding put is caught"
done
echo "PASS $E2E_NAME"
