#!/bin/bash
# The store against Debian's etcd 3.4 on this machine: same load generator, same load.
# usage: bench/etcd_compare.sh METASTORE LOADGEN   (root; prints a Markdown section)
# env: ROUNDS (default 3), DURATION seconds per run (2), WARMUP seconds (0.5),
#      CONNS (2), STREAMS (16), KEYS (10000), VALUE_SIZE (256); BENCH_SUMMARY: a file to
#      append "etcd WORKLOAD rps_ratio=X p99_ratio=Y" lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

store_bin=$(realpath "$1")
loadgen=$(realpath "$2")
rounds=${ROUNDS:-3}
load_settings
etcd=/usr/bin/etcd

# etcd is needed by the benchmark only; its package must not start a system service.
if [ ! -x "$etcd" ]; then
	echo "  BENCH    installing etcd-server (for the etcd comparison)" >&2
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
	# Where the package starts its system service (on 2379), stop it: only this script's
	# own etcd, on free ports, is wanted.
	if [ -d /run/systemd/system ] && systemctl is-active --quiet etcd 2>/dev/null; then
		echo "  BENCH    stopping and disabling the etcd service the package started" >&2
		systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
fi

tmp=$(mktemp -d /tmp/ms-bench-etcd.XXXXXX)
cleanup() {
	bench_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
cp "$store_bin" "$tmp/metastore"

# start_server KIND: starts a fresh metastore or etcd; sets srv_pid and srv_port.
start_server() {
	rm -rf "$tmp/data"
	srv_port=$(bench_free_port)
	if [ "$1" = metastore ]; then
		bench_spawn "$tmp/metastore.log" "$tmp/metastore" --listen "127.0.0.1:$srv_port" \
			--data-dir "$tmp/data"
	else
		local peer
		peer=$(bench_free_port)
		bench_spawn "$tmp/etcd.log" "$etcd" --name bench --data-dir "$tmp/data" \
			--listen-client-urls "http://127.0.0.1:$srv_port" \
			--advertise-client-urls "http://127.0.0.1:$srv_port" \
			--listen-peer-urls "http://127.0.0.1:$peer" \
			--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
			--initial-cluster "bench=http://127.0.0.1:$peer" --log-level error
	fi
	srv_pid=$BENCH_LAST_PID
	bench_wait_listen "$srv_pid" "$srv_port" 30 || { cat "$tmp/$1.log" >&2; return 1; }
	bench_wait_ready "$loadgen" "$srv_port" 30 || { cat "$tmp/$1.log" >&2; return 1; }
}

declare -A res_rps res_p50 res_p99 res_p999
workloads=(put get mixed)
common=(--verify --conns "$conns" --streams "$streams" --duration "$duration" --warmup "$warmup"
	--keys "$keys" --value-size "$value_size")
for w in "${workloads[@]}"; do
	for round in $(seq 1 "$rounds"); do
		for kind in metastore etcd; do
			start_server "$kind"
			line=$(bench_loadgen "$loadgen" --endpoint "127.0.0.1:$srv_port" \
				--workload "$w" "${common[@]}")
			bench_stop "$srv_pid"
			echo "  etcd-compare $w round $round $kind: $line" >&2
			res_rps["$w/$kind"]+=" $(bench_field "$line" rps)"
			res_p50["$w/$kind"]+=" $(bench_field "$line" p50_us)"
			res_p99["$w/$kind"]+=" $(bench_field "$line" p99_us)"
			res_p999["$w/$kind"]+=" $(bench_field "$line" p999_us)"
		done
	done
done

med() {
	local -a v
	read -r -a v <<<"$1"
	bench_median "${v[@]}"
}

echo "etcd: \`$("$etcd" --version 2>/dev/null | head -n 1)\`, single node, data dir in a"
echo "temp directory next to the store's, client and peer URLs on 127.0.0.1 free ports."
echo "Each run starts a fresh server (empty data dir); median of $rounds rounds, each round"
echo "runs the store then etcd. Load, the same for both:"
echo
echo "    loadgen --endpoint 127.0.0.1:PORT --workload put|get|mixed ${common[*]}"
echo
echo "get and mixed first put every key once; mixed is 90% get; gets are linearizable"
echo "(etcdctl's default). \`--verify\` decodes every response: a put must carry a revision,"
echo "a get must find its key with its ${value_size}-byte value, else the run fails."
echo
echo "| workload | server | req/s | p50 us | p99 us | p99.9 us | req/s store/etcd | p50 store/etcd | p99 store/etcd |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for w in "${workloads[@]}"; do
	ms_rps=$(med "${res_rps["$w/metastore"]}")
	et_rps=$(med "${res_rps["$w/etcd"]}")
	ms_p50=$(med "${res_p50["$w/metastore"]}")
	et_p50=$(med "${res_p50["$w/etcd"]}")
	ms_p99=$(med "${res_p99["$w/metastore"]}")
	et_p99=$(med "${res_p99["$w/etcd"]}")
	printf '| %s | metastore | %.0f | %.1f | %.1f | %.1f | %s | %s | %s |\n' "$w" \
		"$ms_rps" "$ms_p50" "$ms_p99" "$(med "${res_p999["$w/metastore"]}")" \
		"$(bench_ratio "$ms_rps" "$et_rps")" "$(bench_ratio "$ms_p50" "$et_p50")" \
		"$(bench_ratio "$ms_p99" "$et_p99")"
	if [ -n "${BENCH_SUMMARY:-}" ]; then
		echo "etcd $w rps_ratio=$(bench_ratio "$ms_rps" "$et_rps")" \
			"p99_ratio=$(bench_ratio "$ms_p99" "$et_p99")" >>"$BENCH_SUMMARY"
	fi
	printf '| %s | etcd | %.0f | %.1f | %.1f | %.1f | | | |\n' "$w" "$et_rps" "$et_p50" \
		"$et_p99" "$(med "${res_p999["$w/etcd"]}")"
done
