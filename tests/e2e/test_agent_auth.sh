#!/usr/bin/env bash
# End-to-end: the auth subsystem counts Authenticate results and permission-check results.
. "$(dirname "$0")/lib.sh"
need_root

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes auth
as() { # USER:PASSWORD ARGS...
	local u=$1
	shift
	ctl --user "$u" "$@"
}

# Set-up while auth is disabled: no Authenticate call, no permission check counted.
ctl user add root:rootpw >/dev/null
ctl user add alice:alicepw >/dev/null
ctl role add r >/dev/null
ctl role grant-permission r readwrite k >/dev/null
ctl user grant-role alice r >/dev/null
ctl put secret s >/dev/null
ctl auth enable >/dev/null 2>&1 # its first AuthEnable fails until it grants the root role
scrape >"$E2E_TMP/m0"
assert_node_sample "$E2E_TMP/m0" "$NODE" 'auth_authentication_total{result="success"}' 0
assert_node_sample "$E2E_TMP/m0" "$NODE" 'auth_authorization_total{result="allowed"}' 0

# Each etcdctl run with --user authenticates once, then makes its one request: K allowed
# and J denied requests make K + J successful authentications; M logins fail.
K=4 J=2 M=3
for _ in $(seq "$K"); do as alice:alicepw put k v >/dev/null; done       # allowed
for _ in $(seq "$J"); do
	as alice:alicepw get secret >/dev/null 2>&1 && fail "alice read secret" # denied
done
for _ in $(seq "$M"); do
	as alice:nope get k >/dev/null 2>&1 && fail "a wrong password was accepted"
done
# No credentials: no Authenticate, one denied check ("user name is empty").
ctl get k >/dev/null 2>&1 && fail "a request without a user was allowed"

scrape >"$E2E_TMP/m"
check_exposition "$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'auth_authentication_total{result="success"}' $((K + J))
assert_node_sample "$E2E_TMP/m" "$NODE" 'auth_authentication_total{result="failure"}' "$M"
assert_node_sample "$E2E_TMP/m" "$NODE" 'auth_authorization_total{result="allowed"}' "$K"
assert_node_sample "$E2E_TMP/m" "$NODE" 'auth_authorization_total{result="denied"}' $((J + 1))
grep -qxF '# TYPE auth_authentication_total counter' "$E2E_TMP/m" || fail "no counter TYPE line"
# The batch probe's site is a 5-byte NOP (the optimized uprobe path); it carried one record
# per Authenticate call and per permission check.
assert_sample "$E2E_TMP/m" 'metastore_agent_probe_nop5{subsystem="auth",function="ms_probe_batch"}' 1
assert_sample "$E2E_TMP/m" 'metastore_agent_probe_records_total{subsystem="auth",function="ms_probe_batch"}' \
	$((K + J + M + K + J + 1))

# AuthDisable is one more login and one allowed check; then no check is made any more.
as root:rootpw auth disable >/dev/null
ctl get k >/dev/null
scrape >"$E2E_TMP/m2"
assert_node_sample "$E2E_TMP/m2" "$NODE" 'auth_authorization_total{result="allowed"}' $((K + 1))
assert_node_sample "$E2E_TMP/m2" "$NODE" 'auth_authentication_total{result="success"}' $((K + J + 1))
echo "PASS $E2E_NAME"
