#!/usr/bin/env bash
# A Go target whose calls in flight outnumber the agent's table (--go-max-calls 4): watch
# streams hold the table's 4 slots and more, puts run beside them, and every call still
# counts once, as etcd's own /metrics counts it; the spill gauge follows what is held, and
# what a killed etcd held is freed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/etcd.sh"

need_root
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server)"
# Its own copy: uprobes attach to an inode, so etcds other tests run are not counted here.
cp /usr/bin/etcd "$E2E_TMP/etcd"
ETCD=$E2E_TMP/etcd
EP=$(free_port)
MS_PORT=$EP
start_etcd_single "$EP"
NODE=$(ctl member list | cut -d, -f1)
[ -n "$NODE" ] || fail "etcd's member id missing"

AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$ETCD" --probes grpc --go-max-calls 4
assert_sample <(scrape) 'metastore_agent_go_table_slots{table="calls"}' 4
assert_sample <(scrape) 'metastore_agent_go_table_spilled{table="calls"}' 0

etcd_metrics() { curl -sf --max-time 10 "http://127.0.0.1:$EP/metrics"; }
# "METHOD|CODE N" from etcd's grpc_server_handled_total, and the same from the agent
etcd_calls() {
	awk '/^grpc_server_handled_total\{/ {
		code = $0; sub(/.*grpc_code="/, "", code); sub(/".*/, "", code)
		m = $0; sub(/.*grpc_method="/, "", m); sub(/".*/, "", m)
		s = $0; sub(/.*grpc_service="/, "", s); sub(/".*/, "", s)
		print "/" s "/" m "|" code, $2 }' "$1" | sort
}
agent_calls() {
	awk '/^grpc_server_request_total\{/ {
		m = $0; sub(/.*method="/, "", m); sub(/".*/, "", m)
		c = $0; sub(/.*code="/, "", c); sub(/".*/, "", c)
		if ($2 != 0) print m "|" c, $2 }' "$1" | sort
}
wait_member_known "$NODE"
sleep 1
etcd_metrics >"$E2E_TMP/etcd-before.txt"

# 10 watch streams: 4 in the table's one set, 6 spilled
WATCHERS=10
WATCH_PIDS=()
for i in $(seq 1 "$WATCHERS"); do
	etcdctl --endpoints="127.0.0.1:$EP" watch "w$i" >"$E2E_TMP/watch-$i.out" 2>&1 &
	WATCH_PIDS+=("$!")
	E2E_PIDS+=("$!")
done
held() {
	local m
	m=$(scrape) || return 1
	grep -qxF "$(node_series 'grpc_server_in_flight_requests{method="/etcdserverpb.Watch/Watch"}' "$NODE") $1" <<<"$m" &&
		grep -qxF "metastore_agent_go_table_spilled{table=\"calls\"} $2" <<<"$m"
}
wait_until 20 held "$WATCHERS" $((WATCHERS - 4)) || {
	scrape | grep -E 'in_flight_requests\{.*Watch|go_table' >&2
	fail "the $WATCHERS watch streams are not all in flight, $((WATCHERS - 4)) of them spilled"
}

# 40 puts, 4 at a time: each claims a spill entry beside the watches and frees it
for round in $(seq 1 10); do
	pids=()
	for j in 1 2 3 4; do
		ctl put "k$round-$j" v >/dev/null &
		pids+=("$!")
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a put failed"; done
done
wait_until 10 held "$WATCHERS" $((WATCHERS - 4)) || fail "the puts left spill entries behind"
assert_node_sample <(scrape) "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 40

# the watches end: every stream counted once, the table empty again
kill "${WATCH_PIDS[@]}"
for p in "${WATCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
same() {
	etcd_metrics >"$E2E_TMP/etcd-after.txt" && scrape >"$E2E_TMP/agent.txt" || return 1
	join -a1 -a2 -e 0 -o 0,1.2,2.2 <(etcd_calls "$E2E_TMP/etcd-before.txt") \
		<(etcd_calls "$E2E_TMP/etcd-after.txt") |
		awk '$3 - $2 != 0 { print $1, $3 - $2 }' | sort >"$E2E_TMP/etcd-delta.txt"
	agent_calls "$E2E_TMP/agent.txt" >"$E2E_TMP/agent-delta.txt"
	cmp -s "$E2E_TMP/etcd-delta.txt" "$E2E_TMP/agent-delta.txt" &&
		held 0 0
}
wait_until 15 same || {
	echo "etcd's own counts (delta) vs the agent's:" >&2
	diff "$E2E_TMP/etcd-delta.txt" "$E2E_TMP/agent-delta.txt" >&2 || true
	grep go_table "$E2E_TMP/agent.txt" >&2
	fail "the agent's counts differ from etcd's /metrics, or the table is not empty"
}
[ "$(awk -F'[| ]' '$1 == "/etcdserverpb.Watch/Watch" { n += $3 } END { print n + 0 }' "$E2E_TMP/agent-delta.txt")" = "$WATCHERS" ] ||
	fail "not $WATCHERS watch calls: $(cat "$E2E_TMP/agent-delta.txt")"
grep '^metastore_agent_go_sanity_failures_total{' "$E2E_TMP/agent.txt" | grep -qv ' 0$' &&
	fail "sanity checks failed: $(grep '^metastore_agent_go_sanity' "$E2E_TMP/agent.txt" | grep -v ' 0$')"
grep -q '^metastore_agent_table_full_total{subsystem="grpc"} 0$' "$E2E_TMP/agent.txt" ||
	fail "calls were dropped: $(grep '^metastore_agent_table_full_total' "$E2E_TMP/agent.txt")"
check_exposition "$E2E_TMP/agent.txt"

# etcd killed with 6 watches open: what they held (4 slots, 2 spilled) is freed
table_is() {
	local m
	m=$(scrape) || return 1
	grep -qxF "metastore_agent_go_table_held{table=\"calls\"} $1" <<<"$m" &&
		grep -qxF "metastore_agent_go_table_spilled{table=\"calls\"} $2" <<<"$m"
}
for i in $(seq 1 6); do
	etcdctl --endpoints="127.0.0.1:$EP" watch "x$i" >"$E2E_TMP/watch-x$i.out" 2>&1 &
	E2E_PIDS+=("$!")
done
wait_until 20 table_is 4 2 || fail "6 watches do not hold 4 slots and 2 spill entries: $(scrape | grep go_table_)"
kill -KILL "$ETCD_PID"
wait "$ETCD_PID" 2>/dev/null || true
wait_until 10 table_is 0 0 || fail "the killed etcd's entries were not freed: $(scrape | grep go_table_)"
echo "agent == etcd /metrics with $WATCHERS watches in a 4-call table: $(tr '\n' ' ' <"$E2E_TMP/agent-delta.txt"); a killed etcd's 6 entries freed"
