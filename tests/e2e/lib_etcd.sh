# Debian's etcd 3.4 as the control server of the resource tests: the same check against both.
# Sourced after lib.sh; the process is recorded, so it ends with the test.

: "${ETCD:=/usr/bin/etcd}"

# control_servers: "metastore etcd", or "metastore" with a line saying why when etcd is not
# installed (the Debian package etcd-server; it is not in `make deps`, as installing it
# starts a system etcd on the store's default port).
control_servers() {
	if [ -x "$ETCD" ]; then
		echo "metastore etcd"
	else
		echo "  $E2E_NAME: $ETCD missing (apt-get install etcd-server): no etcd control run" >&2
		echo metastore
	fi
}

# start_etcd PORT: a fresh single-member etcd serving clients on 127.0.0.1:PORT; sets ETCD_PID.
start_etcd() {
	local port=$1 peer
	[ -x "$ETCD" ] || fail "$ETCD missing (apt-get install etcd-server)"
	peer=$(free_port)
	"$ETCD" --name control --data-dir "$E2E_TMP/etcd-$port" \
		--listen-client-urls "http://127.0.0.1:$port" \
		--advertise-client-urls "http://127.0.0.1:$port" \
		--listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "control=http://127.0.0.1:$peer" --log-level error \
		>"$E2E_TMP/etcd-$port.log" 2>&1 &
	ETCD_PID=$!
	E2E_PIDS+=("$ETCD_PID")
	wait_until 20 etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=1s endpoint health ||
		fail "etcd on port $port did not start"
}

# rss_kb PID: resident set size of PID in KiB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
