# Debian's etcd 3.4 as the control server of the resource tests: the same check against both.
# Sourced after lib.sh; the process is recorded, so it ends with the test.

: "${ETCD:=/usr/bin/etcd}"
. "$(dirname "${BASH_SOURCE[0]}")/etcd.sh"

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

# start_etcd PORT: a fresh single-member etcd serving clients on 127.0.0.1:PORT (etcd.sh's
# start_etcd_single, quiet); sets ETCD_PID.
start_etcd() {
	start_etcd_single "$1" --log-level error
}

# rss_kb PID: resident set size of PID in KiB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
