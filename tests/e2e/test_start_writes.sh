#!/usr/bin/env bash
# A write sent to the first member of a 3-member cluster while it is alone (no quorum, no
# leader) is answered OK once the other two have started and a leader is elected: the
# member holds the call until it can forward or serve it, as etcd 3.4, which serves no
# client before its cluster has a leader, answers it. Each member then has the key.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/etcd.sh"

need_root
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server) as the control"

# early_put PORT LOG: etcdctl put on PORT in the background, its output to LOG; sets PUT_PID.
early_put() {
	etcdctl --endpoints="127.0.0.1:$1" --dial-timeout=10s --command-timeout=10s \
		put early v1 >"$2" 2>&1 &
	PUT_PID=$!
	E2E_PIDS+=("$PUT_PID")
}

# check_put SERVER LOG PORTS...: the early put answered OK, and every member has the key.
check_put() {
	local srv=$1 log=$2 p
	shift 2
	wait "$PUT_PID" || fail "$srv: the put sent before a leader existed failed: $(cat "$log")"
	[ "$(cat "$log")" = OK ] || fail "$srv: the early put answered: $(cat "$log")"
	for p in "$@"; do
		wait_until 10 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:$p --dial-timeout=2s get early --print-value-only)\" = v1 ]" ||
			fail "$srv: member on $p does not have the early key"
	done
}

# metastore: n1 alone gets the put, then n2 and n3 start
cluster_init
start_member n1
early_put "${CPORT[n1]}" "$E2E_TMP/put-metastore.log"
# its connection is up; a second later the put is still unanswered (held, not refused)
conn_up() { [ "$(ss -Htn state established "( dport = :${CPORT[n1]} )" | wc -l)" -gt 0 ]; }
wait_until 10 conn_up || fail "metastore: etcdctl did not connect to n1: $(cat "$E2E_TMP/put-metastore.log")"
sleep 1
kill -0 "$PUT_PID" 2>/dev/null ||
	fail "metastore: n1 alone answered the put instead of holding it: $(cat "$E2E_TMP/put-metastore.log")"
start_member n2
start_member n3
check_put metastore "$E2E_TMP/put-metastore.log" "${CPORT[n1]}" "${CPORT[n2]}" "${CPORT[n3]}"

# etcd: the same with e1 alone first
etcd_cluster_init
start_etcd_member e1
wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/${ECPORT[e1]}" || fail "etcd e1 does not listen"
early_put "${ECPORT[e1]}" "$E2E_TMP/put-etcd.log"
start_etcd_member e2
start_etcd_member e3
check_put etcd "$E2E_TMP/put-etcd.log" "${ECPORT[e1]}" "${ECPORT[e2]}" "${ECPORT[e3]}"

echo "PASS $E2E_NAME (metastore and etcd each answered OK a put sent before their cluster had a leader)"
