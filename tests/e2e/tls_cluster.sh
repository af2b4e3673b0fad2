# A 3-member cluster with https:// client and peer URLs, client and peer certificates checked,
# of metastore or of Debian's etcd 3.4 with the same flags; sourced after lib.sh, cluster.sh
# and pki.sh (pki_init done, certificates n1 n2 n3 and root made by gen_cert).

# tctl PORT CERT ARGS...: etcdctl over TLS to 127.0.0.1:PORT, verifying the server with the
# test CA; CERT "-" for no client certificate, else the name of one (its CN the user).
tctl() {
	local port=$1 who=$2
	shift 2
	local c=()
	[ "$who" = - ] || c=(--cert "$D/$who.crt" --key "$D/$who.key")
	etcdctl --endpoints="https://127.0.0.1:$port" --cacert "$D/ca.crt" "${c[@]}" \
		--dial-timeout=2s --command-timeout=5s "$@"
}

# stop_pid PID: ends one process this test started, waiting for it.
stop_pid() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
}

# cluster_flags NAME CPORT PPORT: etcd's client and peer TLS flags of member NAME
cluster_flags() {
	echo --listen-client-urls "https://127.0.0.1:$2" --advertise-client-urls "https://127.0.0.1:$2" \
		--cert-file "$D/$1.crt" --key-file "$D/$1.key" --trusted-ca-file "$D/ca.crt" \
		--client-cert-auth \
		--listen-peer-urls "https://127.0.0.1:$3" --initial-advertise-peer-urls "https://127.0.0.1:$3" \
		--peer-cert-file "$D/$1.crt" --peer-key-file "$D/$1.key" \
		--peer-trusted-ca-file "$D/ca.crt" --peer-client-cert-auth
}

# cluster.sh's status_json, over TLS as root: leader_member finds the leader with it
status_json() {
	tctl "${CPORT[$1]}" root endpoint status -w json 2>/dev/null || true
}

# start_tls_member KIND NAME: starts (or starts again, from its data dir) member NAME of KIND
# (metastore or etcd) of the cluster of start_tls_cluster; sets PID[NAME].
start_tls_member() {
	local kind=$1 n=$2
	if [ "$kind" = metastore ]; then
		# shellcheck disable=SC2046
		start_member "$n" $(cluster_flags "$n" "${CPORT[$n]}" "${RPORT[$n]}")
		return
	fi
	# shellcheck disable=SC2046
	/usr/bin/etcd --name "$n" --data-dir "$E2E_TMP/etcd-$n" --initial-cluster "$CLUSTER" \
		--initial-cluster-state new $(cluster_flags "$n" "${CPORT[$n]}" "${RPORT[$n]}") \
		>>"$E2E_TMP/etcd-$n.log" 2>&1 &
	PID[$n]=$!
	E2E_PIDS+=("${PID[$n]}")
}

# start_tls_cluster KIND: a new cluster of KIND on fresh ports (CPORT, RPORT, PID of
# cluster.sh); returns once a member says it leads (fails after 20 s).
start_tls_cluster() {
	local kind=$1 n
	cluster_init
	CLUSTER=${CLUSTER//http:/https:}
	for n in n1 n2 n3; do start_tls_member "$kind" "$n"; done
	wait_until 20 leader_member >/dev/null || fail "$kind: no leader over TLS"
}

# stop_tls_cluster: ends the members started last.
stop_tls_cluster() {
	local n
	for n in n1 n2 n3; do stop_pid "${PID[$n]}"; done
}
