# Helpers to run Debian's etcd 3.4 as the control of a test, on 127.0.0.1; sourced after
# lib.sh. Each etcd started is recorded in E2E_PIDS and ended with the test.

# start_etcd_single CLIENT_PORT [ARGS...]: one etcd member ($ETCD, default /usr/bin/etcd)
# with its own data dir (or $E2E_ETCD_DIR); waits until it serves; sets ETCD_PID.
start_etcd_single() {
	local cport=$1 pport
	shift
	[ -x "${ETCD:-/usr/bin/etcd}" ] || fail "${ETCD:-/usr/bin/etcd} missing (apt-get install etcd-server)"
	pport=$(free_port)
	"${ETCD:-/usr/bin/etcd}" --name "etcd-$cport" --data-dir "${E2E_ETCD_DIR:-$E2E_TMP/etcd-$cport}" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "etcd-$cport=http://127.0.0.1:$pport" "$@" \
		>"$E2E_TMP/etcd-$cport.log" 2>&1 &
	ETCD_PID=$!
	E2E_PIDS+=("$ETCD_PID")
	wait_until 20 etcdctl --endpoints="127.0.0.1:$cport" --dial-timeout=1s endpoint health ||
		fail "etcd on port $cport did not start"
}

# A 3-member etcd cluster (members e1 e2 e3), as cluster.sh is for metastore.
ETCD_MEMBERS=(e1 e2 e3)
declare -A ECPORT ERPORT EPID

# etcd_cluster_init: client and peer ports of every member, and the --initial-cluster string.
etcd_cluster_init() {
	local n
	for n in "${ETCD_MEMBERS[@]}"; do
		ECPORT[$n]=$(free_port)
		ERPORT[$n]=$(free_port)
	done
	ETCD_CLUSTER="e1=http://127.0.0.1:${ERPORT[e1]},e2=http://127.0.0.1:${ERPORT[e2]},e3=http://127.0.0.1:${ERPORT[e3]}"
}

# etcd_restore_member NAME FILE: etcdctl snapshot restore of FILE into that member's data dir.
etcd_restore_member() {
	local n=$1
	env -u ETCDCTL_ENDPOINTS etcdctl snapshot restore "$2" --name "$n" \
		--data-dir "$E2E_TMP/etcd-${ECPORT[$n]}" --initial-cluster "$ETCD_CLUSTER" \
		--initial-advertise-peer-urls "http://127.0.0.1:${ERPORT[$n]}" \
		>"$E2E_TMP/etcd-restore-$n.log" 2>&1 || fail "etcdctl snapshot restore for $n"
}

# start_etcd_member NAME: starts that member (its data dir may hold a restored snapshot);
# no ETCD_* variable of the caller reaches it (etcd reads them as flags).
start_etcd_member() {
	local n=$1
	env $(env | sed -n 's/^\(ETCD_[A-Z_]*\)=.*/-u \1/p') \
	/usr/bin/etcd --name "$n" --data-dir "$E2E_TMP/etcd-${ECPORT[$n]}" \
		--listen-client-urls "http://127.0.0.1:${ECPORT[$n]}" \
		--advertise-client-urls "http://127.0.0.1:${ECPORT[$n]}" \
		--listen-peer-urls "http://127.0.0.1:${ERPORT[$n]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${ERPORT[$n]}" \
		--initial-cluster "$ETCD_CLUSTER" --election-timeout 500 --heartbeat-interval 50 \
		--log-level error >"$E2E_TMP/etcd-${ECPORT[$n]}.log" 2>&1 &
	EPID[$n]=$!
	E2E_PIDS+=("$!")
}

# wait_etcd_cluster: every member answers endpoint health (up to 20 s).
wait_etcd_cluster() {
	local n
	for n in "${ETCD_MEMBERS[@]}"; do
		wait_until 20 etcdctl --endpoints="127.0.0.1:${ECPORT[$n]}" --dial-timeout=1s \
			endpoint health || fail "etcd member $n did not start"
	done
}
