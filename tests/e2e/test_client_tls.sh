#!/usr/bin/env bash
# End-to-end: TLS on the client port, with etcd's flags, checked on metastore and on Debian's
# etcd 3.4 (the control: a check etcd fails is a wrong check). (a) Server-only TLS: etcdctl
# with --cacert puts, gets, watches and keeps a lease alive; a plain-text client on the TLS
# port is refused (metastore says why, and logs it). (b) --client-cert-auth: a client without
# a certificate, or with one of another CA, is refused (logged); with auth enabled a verified
# certificate's CN is the user, with no password: alice may write her prefix only, root
# administers. (c) Three members with https:// client and peer URLs: etcdctl through a
# follower writes (forwarded over TLS to the leader), a serializable read on that follower
# sees it, and member list shows the leader's https:// client and peer URLs. (d) metastore only: the
# handshake deadline and the connection limit cover connections stuck in a TLS handshake.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/tls_cluster.sh"

[ -x /usr/bin/etcd ] || fail "needs Debian's etcd 3.4 (/usr/bin/etcd, package etcd-server)"
# etcd takes ETCD_* variables as its configuration: none of the caller's reach the control
for v in $(env | sed -n 's/^\(ETCD_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

pki_init
gen_ca ca
gen_ca rogue-ca
for n in server root alice n1 n2 n3; do gen_cert ca "$n"; done
gen_cert rogue-ca rogue

# start_server KIND PORT ARGS...: metastore or etcd alone, clients on https://127.0.0.1:PORT
# with the server certificate and ARGS; sets SRV_PID and SRV_LOG.
start_server() {
	local kind=$1 port=$2 pport
	shift 2
	local tls=(--listen-client-urls "https://127.0.0.1:$port"
		--advertise-client-urls "https://127.0.0.1:$port"
		--cert-file "$D/server.crt" --key-file "$D/server.key" "$@")
	if [ "$kind" = metastore ]; then
		start_metastore "$port" "${tls[@]}"
		SRV_PID=$MS_PID
		SRV_LOG=$E2E_TMP/metastore-$port.log
	else
		pport=$(free_port)
		SRV_LOG=$E2E_TMP/etcd-$port.log
		/usr/bin/etcd --name "e$port" --data-dir "$E2E_TMP/etcd-$port" \
			--listen-peer-urls "http://127.0.0.1:$pport" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
			--initial-cluster "e$port=http://127.0.0.1:$pport" "${tls[@]}" >"$SRV_LOG" 2>&1 &
		SRV_PID=$!
		E2E_PIDS+=("$SRV_PID")
	fi
	wait_until 20 tctl "$port" root endpoint health || fail "$kind on $port did not serve TLS"
}

# check_server_tls KIND: (a) on KIND (metastore or etcd)
check_server_tls() {
	local kind=$1 port out rc lease
	port=$(free_port)
	start_server "$kind" "$port"
	[ "$(tctl "$port" - put k v1)" = OK ] || fail "$kind: put over TLS"
	[ "$(tctl "$port" - get --print-value-only k)" = v1 ] || fail "$kind: get over TLS"
	timeout 10 etcdctl --endpoints="https://127.0.0.1:$port" --cacert "$D/ca.crt" watch k \
		>"$E2E_TMP/watch-$kind" 2>&1 &
	local wpid=$!
	sleep 1
	tctl "$port" - put k v2 >/dev/null || fail "$kind: put v2"
	wait_until 5 grep -qx v2 "$E2E_TMP/watch-$kind" ||
		fail "$kind: the watch over TLS saw: $(cat "$E2E_TMP/watch-$kind")"
	kill "$wpid" 2>/dev/null || true
	{ wait "$wpid"; } 2>/dev/null || true
	lease=$(tctl "$port" - lease grant 30 | awk '{ print $2 }')
	[ -n "$lease" ] || fail "$kind: lease grant over TLS"
	out=$(tctl "$port" - lease keep-alive --once "$lease") ||
		fail "$kind: keep-alive over TLS: $out"
	grep -q "keepalived with TTL(30)" <<<"$out" || fail "$kind: keep-alive said: $out"
	# a plain-text client on the TLS port
	rc=0
	out=$(etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s --command-timeout=3s \
		get k 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "$kind: a plain-text client was served on the TLS port"
	PLAIN_OUT[$kind]=$(tail -n 1 <<<"$out")
	if [ "$kind" = metastore ]; then
		[ "${PLAIN_OUT[$kind]}" = "Error: rpc error: code = FailedPrecondition desc = metastore: this port serves TLS only: connect with https:// and TLS" ] ||
			fail "plain text on the TLS port: '${PLAIN_OUT[$kind]}'"
		wait_until 5 grep -q "1 that sent plain text to this TLS port" "$SRV_LOG" ||
			fail "plain text on the TLS port not logged"
	fi
	[ "$(tctl "$port" - get --print-value-only k)" = v2 ] || fail "$kind: TLS after plain text"
	stop_pid "$SRV_PID"
}

# check_client_certs KIND: (b) on KIND
check_client_certs() {
	local kind=$1 port out rc
	port=$(free_port)
	start_server "$kind" "$port" --trusted-ca-file "$D/ca.crt" --client-cert-auth
	for who in - rogue; do
		rc=0
		out=$(tctl "$port" "$who" put k v 2>&1) || rc=$?
		[ "$rc" != 0 ] || fail "$kind: a client with certificate '$who' was served"
		CERT_OUT[$kind-$who]=$(tail -n 1 <<<"$out")
	done
	if [ "$kind" = metastore ]; then
		wait_until 15 grep -qE "failed TLS handshakes? \(last: .*(peer did not return a certificate|unknown ca|certificate)" "$SRV_LOG" ||
			fail "refused client certificates not logged: $(cat "$SRV_LOG")"
	else
		wait_until 5 grep -q "client didn't provide a certificate" "$SRV_LOG" ||
			fail "etcd did not log the refusal"
	fi
	[ "$(tctl "$port" alice put k v)" = OK ] || fail "$kind: a client with a CA certificate"
	# auth on: the certificate's CN is the user, no password is asked
	tctl "$port" root user add root:rootpw >/dev/null || fail "$kind: user add root"
	tctl "$port" root role add app >/dev/null || fail "$kind: role add"
	tctl "$port" root role grant-permission app readwrite --prefix app/ >/dev/null ||
		fail "$kind: grant-permission"
	tctl "$port" root user add alice:pw >/dev/null || fail "$kind: user add alice"
	tctl "$port" root user grant-role alice app >/dev/null || fail "$kind: grant-role"
	tctl "$port" root auth enable >/dev/null 2>&1 || fail "$kind: auth enable"
	[ "$(tctl "$port" alice put app/x 1)" = OK ] || fail "$kind: alice (by CN) put app/x"
	[ "$(tctl "$port" alice get --print-value-only app/x)" = 1 ] || fail "$kind: alice get"
	out=$(tctl "$port" alice put secret 1 2>&1) && fail "$kind: alice wrote outside app/"
	[ "$(tail -n 1 <<<"$out")" = "Error: etcdserver: permission denied" ] ||
		fail "$kind: alice outside app/: $out"
	out=$(tctl "$port" alice user list 2>&1) && fail "$kind: alice listed users"
	[ "$(tctl "$port" root put secret 2)" = OK ] || fail "$kind: root (by CN) put"
	[ "$(tctl "$port" root user list | tr '\n' ' ')" = "alice root " ] ||
		fail "$kind: root (by CN) user list"
	# a certificate whose CN is no user: nothing granted
	out=$(tctl "$port" n1 get app/x 2>&1) && fail "$kind: CN n1 (no such user) read"
	CN_OUT[$kind]=$(tail -n 1 <<<"$out")
	# a password still works, and a token wins over the certificate
	[ "$(tctl "$port" n1 --user alice:pw get --print-value-only app/x)" = 1 ] ||
		fail "$kind: alice by password"
	tctl "$port" root auth disable >/dev/null || fail "$kind: auth disable"
	stop_pid "$SRV_PID"
}

# silent_tls PORT SECONDS: opens a connection that sends the first 3 bytes of a TLS record
# and nothing more; prints after how many seconds the server closed it ("open" if it did not
# within SECONDS).
silent_tls() {
	python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\x16\x03\x01")
t = time.time()
s.settimeout(float(sys.argv[2]))
try:
    s.recv(1)
    print(round(time.time() - t, 1))
except ConnectionResetError:
    print(round(time.time() - t, 1))
except socket.timeout:
    print("open")
' "$1" "$2"
}

# check_tls_deadlines: metastore's --handshake-timeout covers the TLS handshake, and at
# --max-connections a client with TLS takes the place of a connection stuck in its TLS
# handshake (etcd 3.4 has neither bound: not compared)
check_tls_deadlines() {
	local port t
	port=$(free_port)
	start_server metastore "$port" --handshake-timeout 500 --max-connections 2
	t=$(silent_tls "$port" 5)
	[ "$t" != open ] && awk -v t="$t" 'BEGIN { exit !(t >= 0.4 && t <= 2) }' ||
		fail "a silent TLS handshake was closed after $t s (--handshake-timeout 500)"
	wait_until 15 grep -q "1 without a TLS and HTTP/2 handshake within 500 ms" "$SRV_LOG" ||
		fail "the TLS handshake deadline not logged: $(cat "$SRV_LOG")"
	local s1 s2
	silent_tls "$port" 10 >"$E2E_TMP/silent1" &
	s1=$!
	silent_tls "$port" 10 >"$E2E_TMP/silent2" &
	s2=$!
	sleep 0.2
	[ "$(tctl "$port" - put full 1)" = OK ] ||
		fail "no room for a TLS client next to 2 silent handshakes at --max-connections 2"
	wait "$s1" "$s2"
	stop_pid "$SRV_PID"
}

declare -A PLAIN_OUT CERT_OUT CN_OUT
for kind in etcd metastore; do
	check_server_tls "$kind"
	check_client_certs "$kind"
done
check_tls_deadlines

# --- (c) three members, https:// client and peer URLs ---------------------------------
# check_cluster KIND LEADER FOLLOWER: writes through FOLLOWER, reads them there
# (serializable), and the leader's https:// client URL in member list. Ports from CPORT.
check_cluster() {
	local kind=$1 l=$2 f=$3 out
	for i in 1 2 3; do
		[ "$(tctl "${CPORT[$f]}" root put "c$i" "v$i")" = OK ] ||
			fail "$kind: put c$i through follower $f"
		[ "$(tctl "${CPORT[$f]}" root get --consistency=s --print-value-only "c$i")" = "v$i" ] ||
			fail "$kind: a serializable read on $f right after the put"
	done
	[ "$(tctl "${CPORT[$f]}" root get --print-value-only c3)" = v3 ] ||
		fail "$kind: a linearizable read through $f"
	out=$(tctl "${CPORT[$f]}" root member list -w json)
	[ "$(jq -r --arg n "$l" '.members[] | select(.name == $n) | .clientURLs[0]' <<<"$out")" = "https://127.0.0.1:${CPORT[$l]}" ] ||
		fail "$kind: member list: $out"
	[ "$(jq -r --arg n "$l" '.members[] | select(.name == $n) | .peerURLs[0]' <<<"$out")" = "https://127.0.0.1:${RPORT[$l]}" ] ||
		fail "$kind: member list peer URLs: $out"
	rc=0
	out=$(tctl "${CPORT[$f]}" - get c1 2>&1) || rc=$?
	[ "$rc" != 0 ] || fail "$kind: a follower served a client without a certificate"
}

start_tls_cluster metastore
LEADER=$(leader_member)
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || F=$n; done
check_cluster metastore "$LEADER" "$F"
# the follower's forwarding connections to the leader passed its certificate checks
LLOG=$E2E_TMP/metastore-${CPORT[$LEADER]}.log
if grep -qE "failed TLS handshake|refused peer" "$LLOG"; then
	fail "leader $LEADER refused: $(grep -E 'failed TLS|refused peer' "$LLOG")"
fi
stop_tls_cluster

# the control: etcd 3.4 with the same flags and certificates
start_tls_cluster etcd
LEADER=$(leader_member)
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || F=$n; done
check_cluster etcd "$LEADER" "$F"
stop_tls_cluster

cat <<EOF
plain text on a TLS port:    etcd: ${PLAIN_OUT[etcd]}
                             metastore: ${PLAIN_OUT[metastore]}
no client certificate:       etcd: ${CERT_OUT[etcd--]}
                             metastore: ${CERT_OUT[metastore--]}
another CA's certificate:    etcd: ${CERT_OUT[etcd-rogue]}
                             metastore: ${CERT_OUT[metastore-rogue]}
CN that is no user:          etcd: ${CN_OUT[etcd]}
                             metastore: ${CN_OUT[metastore]}
EOF
echo "PASS $E2E_NAME (server-only TLS, client certificates with CN as the user, a TLS cluster of 3 with writes through a follower; the same checks pass on etcd 3.4)"
