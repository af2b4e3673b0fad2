#!/usr/bin/env bash
# End-to-end: the store's rate limit refuses calls with ResourceExhausted, and the agent
# counts every refusal in grpc_server_rate_limit_hits_total, exactly.
. "$(dirname "$0")/lib.sh"
need_root

MS_PORT=$(free_port)
# Two calls at once, then one per 100 s: everything after the first two is refused.
start_metastore "$MS_PORT" --rate-limit 0.01 --rate-burst 2
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes grpc

ok=0 refused=0
for i in 1 2 3 4 5; do
	if ctl put "k$i" v >/dev/null 2>"$E2E_TMP/err"; then
		ok=$((ok + 1))
	else
		grep -qF "etcdserver: too many requests" "$E2E_TMP/err" || fail "put $i: $(cat "$E2E_TMP/err")"
		refused=$((refused + 1))
	fi
done
[ "$ok" = 2 ] && [ "$refused" = 3 ] || fail "ok=$ok refused=$refused, expected 2 and 3"

scrape >"$E2E_TMP/m"
check_exposition "$E2E_TMP/m"
assert_sample "$E2E_TMP/m" 'grpc_server_rate_limit_hits_total{method="/etcdserverpb.KV/Put"}' 3
assert_sample "$E2E_TMP/m" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="ResourceExhausted"}' 3
assert_sample "$E2E_TMP/m" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 2
echo "PASS $E2E_NAME"
