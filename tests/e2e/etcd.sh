# Helpers to run Debian's etcd 3.4 as the control of a test, on 127.0.0.1; sourced after
# lib.sh. Each etcd started is recorded in E2E_PIDS and ended with the test.

# start_etcd_single CLIENT_PORT [ARGS...]: one etcd member with its own data dir; waits until it
# serves.
start_etcd_single() {
	local cport=$1 pport
	shift
	pport=$(free_port)
	/usr/bin/etcd --name "etcd-$cport" --data-dir "$E2E_TMP/etcd-$cport" \
		--listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" \
		--listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "etcd-$cport=http://127.0.0.1:$pport" "$@" \
		>"$E2E_TMP/etcd-$cport.log" 2>&1 &
	E2E_PIDS+=("$!")
	wait_until 20 etcdctl --endpoints="127.0.0.1:$cport" --dial-timeout=1s endpoint health ||
		fail "etcd on port $cport did not start"
}
