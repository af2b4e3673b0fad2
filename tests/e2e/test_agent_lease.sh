#!/usr/bin/env bash
# End-to-end: the lease subsystem counts lease operations by result and active leases.
. "$(dirname "$0")/lib.sh"
need_root

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes lease
grant() { ctl lease grant "$1" | awk '$1 == "lease" && $3 == "granted" { print $2 }'; }

A=$(grant 60)
B=$(grant 60)
C=$(grant 1)
ctl lease keep-alive --once "$A" >/dev/null
ctl lease revoke "$B" >/dev/null
ctl lease revoke "$B" >/dev/null 2>&1 && fail "second revoke succeeded"
wait_until 10 metric_is "$(node_series 'lease_operations_total{operation="expire",status="ok"}' "$NODE")" 1 ||
	fail "lease $C did not expire"
[ -n "$C" ] || fail "no lease granted"

scrape >"$E2E_TMP/m"
check_exposition "$E2E_TMP/m"
ops='lease_operations_total'
assert_node_sample "$E2E_TMP/m" "$NODE" "$ops{operation=\"grant\",status=\"ok\"}" 3
assert_node_sample "$E2E_TMP/m" "$NODE" "$ops{operation=\"renew\",status=\"ok\"}" 1
assert_node_sample "$E2E_TMP/m" "$NODE" "$ops{operation=\"revoke\",status=\"ok\"}" 1
assert_node_sample "$E2E_TMP/m" "$NODE" "$ops{operation=\"revoke\",status=\"not_found\"}" 1
assert_node_sample "$E2E_TMP/m" "$NODE" "$ops{operation=\"expire\",status=\"ok\"}" 1
# Granted 3, revoked 1, expired 1: what etcdctl lists.
assert_node_sample "$E2E_TMP/m" "$NODE" 'lease_active_total' 1
[ "$(ctl lease list | head -1)" = "found 1 leases" ] || fail "etcdctl lists $(ctl lease list | head -1)"
echo "PASS $E2E_NAME"
