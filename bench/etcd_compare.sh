#!/bin/bash
# The store against Debian's etcd 3.4 on etcd's benchmark workloads: same load generator, same load.
# usage: bench/etcd_compare.sh METASTORE LOADGEN   (root; prints a Markdown section)
# env: ROUNDS (default 5), DURATION seconds per run (2), WARMUP seconds (0.5),
#      CONNS (2), STREAMS (16), KEYS (10000), VALUE_SIZE (256); WORKLOADS (default: all,
#      names as in the table); BENCH_SUMMARY: a file to append
#      "etcd WORKLOAD rps_ratio=X p99_ratio=Y met=yes|no" lines to
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

store_bin=$(realpath "$1")
loadgen=$(realpath "$2")
rounds=${ROUNDS:-5}
load_settings
etcd=/usr/bin/etcd
t_start=$(date +%s)

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

# The table's workload names and the load generator options of each (etcd's benchmark
# tool: put, range --consistency l|s, txn-put, watch-latency, lease-keepalive; mixed is
# the load generator's own).
declare -A wl_args=(
	[put]="--workload put"
	[range-l]="--workload get"
	[range-s]="--workload get --serializable"
	[txn-put]="--workload txn-put --txn-ops 1"
	[watch-latency]="--workload watch-latency --watchers 1 --put-rate 0"
	[lease-keepalive]="--workload lease-keepalive"
	[mixed]="--workload mixed --get-percent 90"
)
read -r -a workloads <<<"${WORKLOADS:-put range-l range-s txn-put watch-latency lease-keepalive mixed}"
for w in "${workloads[@]}"; do
	[ -n "${wl_args[$w]:-}" ] || { echo "bench: unknown workload $w" >&2; exit 1; }
done

declare -A res_rps res_p50 res_p99 res_p999 res_put_p99 res_rounds
common=(--verify --conns "$conns" --streams "$streams" --duration "$duration" --warmup "$warmup"
	--keys "$keys" --value-size "$value_size")
runs=0
# Rounds outside, workloads inside, and the server order flips every round, so that a
# slow spell on the shared machine lands on both servers and on every workload.
for round in $(seq 1 "$rounds"); do
	if [ $((round % 2)) = 1 ]; then order=(metastore etcd); else order=(etcd metastore); fi
	for w in "${workloads[@]}"; do
		for kind in "${order[@]}"; do
			start_server "$kind"
			# shellcheck disable=SC2086
			line=$(bench_loadgen "$loadgen" --endpoint "127.0.0.1:$srv_port" \
				${wl_args[$w]} "${common[@]}")
			bench_stop "$srv_pid"
			runs=$((runs + 1))
			echo "  etcd-compare round $round $w $kind: $line" >&2
			res_rps["$w/$kind"]+=" $(bench_field "$line" rps)"
			res_p50["$w/$kind"]+=" $(bench_field "$line" p50_us)"
			res_p99["$w/$kind"]+=" $(bench_field "$line" p99_us)"
			res_p999["$w/$kind"]+=" $(bench_field "$line" p999_us)"
			res_put_p99["$w/$kind"]+=" $(bench_field "$line" put_p99_us)"
		done
		res_rounds[$w]+="${res_rounds[$w]:+; }$(printf '%.0f / %.0f' \
			"${res_rps["$w/metastore"]##* }" "${res_rps["$w/etcd"]##* }")"
	done
done
elapsed=$(($(date +%s) - t_start))

med() {
	local -a v
	read -r -a v <<<"$1"
	bench_median "${v[@]}"
}
# below A B: A < B.
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

echo "etcd: \`$("$etcd" --version 2>/dev/null | head -n 1)\`, single node, data dir in a"
echo "temp directory next to the store's, client and peer URLs on 127.0.0.1 free ports."
echo "Each run starts a fresh server (empty data dir). $rounds rounds; each round runs every"
echo "workload on both servers, the server order flipping from round to round; the table"
echo "shows medians over rounds. ${runs} runs took ${elapsed} s in all. Load, the same for both:"
echo
echo "    loadgen --endpoint 127.0.0.1:PORT WORKLOAD ${common[*]}"
echo
echo "| table name | WORKLOAD (load generator options) | what a call is |"
echo "|---|---|---|"
echo "| put | \`${wl_args[put]}\` | Put of a random key |"
echo "| range-l | \`${wl_args[range-l]}\` | linearizable Range of one random key (every key put first) |"
echo "| range-s | \`${wl_args[range-s]}\` | the same, serializable |"
echo "| txn-put | \`${wl_args[txn-put]}\` | Txn without compares, one Put |"
echo "| watch-latency | \`${wl_args[watch-latency]}\` | $((conns * streams)) watchers (one per stream) on one key; one more connection puts it, the next put once every watcher got the last one's event; one client thread serves every connection; a call is one event |"
echo "| lease-keepalive | \`${wl_args[lease-keepalive]}\` | each stream grants a lease (TTL 100 s) first; a call is one LeaseKeepAlive stream with one request and one answer (clientv3's KeepAliveOnce) |"
echo "| mixed | \`${wl_args[mixed]}\` | 90 % linearizable Range, 10 % Put, random keys (every key put first) |"
echo
echo "\`--verify\` decodes every answer: a put or txn carries a revision (a txn succeeded,"
echo "one put answer), a get finds its key with its ${value_size}-byte value, a keep-alive names"
echo "its lease with a TTL > 0; every watcher gets each put's event once, in order, with its"
echo "key and value. Any other answer fails the run. watch-latency's latency runs from"
echo "sending the put to receiving the event (etcd's tool times from the put's answer), its"
echo "req/s counts events; \"put p99\" is that workload's put latency."
echo
echo "Target: req/s store/etcd >= 2 and the store's p99 below etcd's."
echo
echo "| workload | server | req/s | p50 us | p99 us | p99.9 us | req/s store/etcd | p50 store/etcd | p99 store/etcd | target met |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
for w in "${workloads[@]}"; do
	ms_rps=$(med "${res_rps["$w/metastore"]}")
	et_rps=$(med "${res_rps["$w/etcd"]}")
	ms_p50=$(med "${res_p50["$w/metastore"]}")
	et_p50=$(med "${res_p50["$w/etcd"]}")
	ms_p99=$(med "${res_p99["$w/metastore"]}")
	et_p99=$(med "${res_p99["$w/etcd"]}")
	r_rps=$(bench_ratio "$ms_rps" "$et_rps")
	r_p99=$(bench_ratio "$ms_p99" "$et_p99")
	met=no
	if ! below "$r_rps" 2 && below "$r_p99" 1; then met=yes; fi
	printf '| %s | metastore | %.0f | %.1f | %.1f | %.1f | %s | %s | %s | %s |\n' "$w" \
		"$ms_rps" "$ms_p50" "$ms_p99" "$(med "${res_p999["$w/metastore"]}")" \
		"$r_rps" "$(bench_ratio "$ms_p50" "$et_p50")" "$r_p99" "$met"
	printf '| %s | etcd | %.0f | %.1f | %.1f | %.1f | | | | |\n' "$w" "$et_rps" "$et_p50" \
		"$et_p99" "$(med "${res_p999["$w/etcd"]}")"
	if [ -n "${BENCH_SUMMARY:-}" ]; then
		echo "etcd $w rps_ratio=$r_rps p99_ratio=$r_p99 met=$met" >>"$BENCH_SUMMARY"
	fi
done
if [[ " ${workloads[*]} " == *" watch-latency "* ]]; then
	echo
	printf 'watch-latency put p99 (median): metastore %.1f us, etcd %.1f us.\n' \
		"$(med "${res_put_p99["watch-latency/metastore"]}")" \
		"$(med "${res_put_p99["watch-latency/etcd"]}")"
fi
echo
echo "Per-round req/s (metastore / etcd), to read the noise by:"
echo
for w in "${workloads[@]}"; do
	echo "- $w: ${res_rounds[$w]}"
done
