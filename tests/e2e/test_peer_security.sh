#!/usr/bin/env bash
# End-to-end: the raft peer port. (a) A member alone listens on its client port and nothing
# else. (d) Plain peers: connections whose handshake claims a server id that is not a member
# (or a member's id with another address, or this member's own) are closed and logged, and
# change nothing; the same bytes with a member's id and address do raise the term, which is
# why plain peer ports must be protected. (b) Three members over mutual TLS (a throwaway CA)
# elect a leader and replicate. (c) Without a valid client certificate (none, one from another
# CA, no TLS at all) a peer port does nothing and logs the refusal; with a member's
# certificate the same bytes raise the term. (e) Debian's etcd 3.4 runs a cluster with the same
# certificates and flags, and refuses a peer without a client certificate too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/pki.sh"

INJECT="python3 $(dirname "$0")/py/raft_inject.py"
command -v openssl >/dev/null || fail "needs openssl (Debian package openssl)"
command -v ss >/dev/null || fail "needs ss (Debian package iproute2)"

# listeners PID: the TCP addresses PID listens on, sorted, one a line.
listeners() {
	ss -Hltnp | awk -v p="pid=$1," 'index($0, p) { print $4 }' | sort
}

# stop_pid PID: ends one process this test started, waiting for it (bounded by lib.sh's
# cleanup otherwise).
stop_pid() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
}

# term_of NAME: the raft term member NAME reports.
term_of() {
	status_json "$1" | jq -r '.[0].Status.raftTerm'
}

# get_s NAME KEY: KEY's value as member NAME has applied it (serializable read).
get_s() {
	etcdctl --endpoints="127.0.0.1:${CPORT[$1]}" --dial-timeout=1s --command-timeout=2s \
		get --consistency=s --print-value-only "$2"
}

# count LOG PATTERN: lines of LOG matching the extended regex PATTERN.
count() {
	grep -cE "$2" "$1" || true
}

# --- (a) a member alone --------------------------------------------------------------
P=$(free_port)
start_metastore "$P" --name solo
[ "$(listeners "$MS_PID")" = "127.0.0.1:$P" ] ||
	fail "a member alone listens on: $(listeners "$MS_PID" | tr '\n' ' ')"
SOLO=$MS_PID
P2=$(free_port)
R2=$(free_port)
start_metastore "$P2" --name solo2 --initial-cluster "solo2=http://127.0.0.1:$R2"
[ "$(listeners "$MS_PID")" = "127.0.0.1:$P2" ] ||
	fail "a one-member --initial-cluster listens on: $(listeners "$MS_PID" | tr '\n' ' ')"
MS_PORT=$P2
[ "$(ctl put k v)" = OK ] || fail "put on a one-member cluster"
stop_pid "$SOLO"
stop_pid "$MS_PID"

# --- (d) plain peers: who is not a member is refused ----------------------------------
cluster_init
for n in n1 n2 n3; do start_member "$n"; done
LEADER=$(wait_leader)
wait_all_follow "$LEADER"
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || F=$n; done
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || [ "$n" = "$F" ] || OTHER=$n; done
for n in n1 n2 n3; do
	[ "$(listeners "${PID[$n]}")" = "$(printf '127.0.0.1:%s\n' "${CPORT[$n]}" "${RPORT[$n]}" | sort)" ] ||
		fail "$n listens on: $(listeners "${PID[$n]}" | tr '\n' ' ')"
done
# a second process for n1 finds n1's peer port taken: it says so and exits 1
rc=0
out=$(timeout 10 "$METASTORE" --name n1 --initial-cluster "$CLUSTER" --listen "127.0.0.1:$(free_port)" \
	--data-dir "$E2E_TMP/dup" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$out" = "metastore: raft start: cannot listen on peer address 127.0.0.1:${RPORT[n1]}: address already in use" ] ||
	fail "a taken peer port: exit $rc, '$out'"
etcdctl --endpoints="127.0.0.1:${CPORT[$LEADER]}" --command-timeout=3s put k v1 >/dev/null ||
	fail "put k"
wait_until 5 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$F]} get --consistency=s --print-value-only k)\" = v1 ]" ||
	fail "k did not reach $F"
TERM0=$(term_of "$F")
[ "$TERM0" -ge 1 ] || fail "no term from $F: '$TERM0'"
FLOG=$E2E_TMP/metastore-${CPORT[$F]}.log
OTHER_ID=$(member_id "${CPORT[$OTHER]}")
F_ID=$(member_id "${CPORT[$F]}")

out=$($INJECT "${RPORT[$F]}" deadbeef 127.0.0.1:1)
[ "$out" = closed ] || fail "a non-member's connection stayed $out"
out=$($INJECT "${RPORT[$F]}" "$OTHER_ID" 127.0.0.1:1)
[ "$out" = closed ] || fail "a member id with another address stayed $out"
out=$($INJECT "${RPORT[$F]}" "$F_ID" "127.0.0.1:${RPORT[$F]}")
[ "$out" = closed ] || fail "this member's own id stayed $out"
# a connection that never sends its handshake is closed at the deadline (5 s)
exec 3<>"/dev/tcp/127.0.0.1/${RPORT[$F]}"
wait_until 10 grep -q "no handshake within the deadline" "$FLOG" ||
	fail "a silent connection was not closed"
exec 3<&-
[ "$(count "$FLOG" "refused peer connection from 127\.0\.0\.1:[0-9]+: server id 00000000deadbeef \(address '127\.0\.0\.1:1'\) is not a member$")" = 1 ] ||
	fail "non-member refusal not logged once: $(grep refused "$FLOG")"
[ "$(count "$FLOG" "refused peer connection from 127\.0\.0\.1:[0-9]+: server id $OTHER_ID claims address '127\.0\.0\.1:1', member $OTHER is at 127\.0\.0\.1:${RPORT[$OTHER]}$")" = 1 ] ||
	fail "wrong-address refusal not logged once: $(grep refused "$FLOG")"
[ "$(count "$FLOG" "refused peer connection from 127\.0\.0\.1:[0-9]+: server id $F_ID is this member's own$")" = 1 ] ||
	fail "own-id refusal not logged once: $(grep refused "$FLOG")"
[ "$(count "$FLOG" "refused peer connection")" = 4 ] || fail "refusals: $(grep refused "$FLOG")"
for n in n1 n2 n3; do
	[ "$(term_of "$n")" = "$TERM0" ] || fail "term of $n moved: $TERM0 -> $(term_of "$n")"
	[ "$(get_s "$n" k)" = v1 ] || fail "k changed on $n"
done
[ "$(leader_member)" = "$LEADER" ] || fail "leader changed after refused connections"
# control: the same bytes with a member's id and address are a valid RequestVote
out=$($INJECT --wait 1 "${RPORT[$F]}" "$OTHER_ID" "127.0.0.1:${RPORT[$OTHER]}")
[ "$out" = open ] || fail "a member's connection was $out"
wait_until 5 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$F]} endpoint status -w json | jq -r '.[0].Status.raftTerm')\" -ge 1000 ]" ||
	fail "control: the injected RequestVote did not raise the term of $F"
[ "$(count "$FLOG" "refused peer connection")" = 4 ] || fail "the member's connection was refused"
for n in n1 n2 n3; do stop_pid "${PID[$n]}"; done

# --- certificates -------------------------------------------------------------------
pki_init
gen_ca ca
gen_ca rogue-ca
for n in n1 n2 n3; do gen_cert ca "$n"; done
gen_cert rogue-ca rogue

# tls_flags NAME PEERPORT: etcd's peer TLS flags for member NAME
tls_flags() {
	echo --listen-peer-urls "https://127.0.0.1:$2" --initial-advertise-peer-urls "https://127.0.0.1:$2" \
		--peer-cert-file "$D/$1.crt" --peer-key-file "$D/$1.key" \
		--peer-trusted-ca-file "$D/ca.crt" --peer-client-cert-auth
}

# --- (b) three members over mutual TLS ------------------------------------------------
cluster_init
CLUSTER=${CLUSTER//http:/https:}
# a small --snapshot-count: the member restarted below gets the leader's snapshot over TLS
# shellcheck disable=SC2046
for n in n1 n2 n3; do start_member "$n" --snapshot-count 8 $(tls_flags "$n" "${RPORT[$n]}"); done
LEADER=$(wait_leader)
wait_all_follow "$LEADER"
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || F=$n; done
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || [ "$n" = "$F" ] || OTHER=$n; done
for i in 1 2 3 4 5; do
	etcdctl --endpoints="127.0.0.1:${CPORT[$F]}" --command-timeout=3s put "t$i" "v$i" >/dev/null ||
		fail "put t$i through $F"
done
for n in n1 n2 n3; do
	wait_until 5 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} get --consistency=s --print-value-only t5)\" = v5 ]" ||
		fail "t5 did not reach $n over TLS"
	for i in 1 2 3 4 5; do [ "$(get_s "$n" "t$i")" = "v$i" ] || fail "t$i on $n"; done
	# members' own connections: no refusal, no failed handshake
	[ "$(count "$E2E_TMP/metastore-${CPORT[$n]}.log" "refused peer|peer connection to")" = 0 ] ||
		fail "$n: $(grep -E 'refused peer|peer connection to' "$E2E_TMP/metastore-${CPORT[$n]}.log")"
done

# a follower killed and restarted catches up over TLS (snapshot install, reconnects), and a
# 1 MB value crosses the pumps
kill -9 "${PID[$F]}"
{ wait "${PID[$F]}"; } 2>/dev/null || true
for i in $(seq 6 25); do
	etcdctl --endpoints="127.0.0.1:${CPORT[$LEADER]}" --command-timeout=3s put "t$i" "v$i" >/dev/null ||
		fail "put t$i while $F is down"
done
head -c 1000000 /dev/zero | tr '\0' x >"$E2E_TMP/big"
etcdctl --endpoints="127.0.0.1:${CPORT[$LEADER]}" --command-timeout=5s put big <"$E2E_TMP/big" >/dev/null ||
	fail "put of a 1 MB value"
# shellcheck disable=SC2046
start_member "$F" --snapshot-count 8 $(tls_flags "$F" "${RPORT[$F]}")
for n in n1 n2 n3; do
	wait_until 30 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} get --consistency=s --print-value-only t25)\" = v25 ]" ||
		fail "t25 did not reach $n over TLS"
	[ "$(etcdctl --endpoints="127.0.0.1:${CPORT[$n]}" get --consistency=s --print-value-only big | wc -c)" = 1000001 ] ||
		fail "the 1 MB value on $n"
done
ALL="127.0.0.1:${CPORT[n1]},127.0.0.1:${CPORT[n2]},127.0.0.1:${CPORT[n3]}"
wait_until 10 bash -c "[ \$(etcdctl --endpoints=$ALL endpoint hashkv -w json | jq '[.[].HashKV.hash] | unique | length') = 1 ]" ||
	fail "HashKV differs: $(etcdctl --endpoints="$ALL" endpoint hashkv)"
LEADER=$(wait_leader)
wait_all_follow "$LEADER"
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || F=$n; done
for n in n1 n2 n3; do [ "$n" = "$LEADER" ] || [ "$n" = "$F" ] || OTHER=$n; done

# --- (c) no valid client certificate: nothing happens, the refusal is logged ----------
FLOG=$E2E_TMP/metastore-${CPORT[$F]}.log
OTHER_ID=$(member_id "${CPORT[$OTHER]}")
TERM0=$(term_of "$F")
REV0=$(status_json "$F" | jq -r '.[0].Status.header.revision')
[ "$TERM0" -ge 1 ] && [ "$REV0" -ge 27 ] || fail "no term or revision from $F: '$TERM0' '$REV0'"
BEFORE=$(count "$FLOG" "refused peer connection")
[ "$BEFORE" = 0 ] || fail "refusals before the test: $(grep refused "$FLOG")"
ME="$OTHER_ID 127.0.0.1:${RPORT[$OTHER]}"
# shellcheck disable=SC2086
out=$($INJECT --tls "${RPORT[$F]}" $ME)
[ "$out" = closed ] || fail "TLS without a client certificate stayed $out"
# shellcheck disable=SC2086
out=$($INJECT --tls --cert "$D/rogue.crt" --key "$D/rogue.key" "${RPORT[$F]}" $ME)
[ "$out" = closed ] || fail "a certificate of another CA stayed $out"
# shellcheck disable=SC2086
out=$($INJECT "${RPORT[$F]}" $ME)
[ "$out" = closed ] || fail "plain bytes on a TLS peer port stayed $out"
wait_until 5 bash -c "[ \$(grep -c 'refused peer connection' '$FLOG') = 3 ]" ||
	fail "refusals: $(grep refused "$FLOG")"
[ "$(count "$FLOG" "refused peer connection from 127\.0\.0\.1:[0-9]+: TLS handshake: .*peer did not return a certificate")" = 1 ] ||
	fail "no-certificate refusal: $(grep refused "$FLOG")"
[ "$(count "$FLOG" "refused peer connection from 127\.0\.0\.1:[0-9]+: TLS handshake: certificate: unable to get local issuer certificate$")" = 1 ] ||
	fail "rogue-certificate refusal: $(grep refused "$FLOG")"
[ "$(count "$FLOG" "refused peer connection from 127\.0\.0\.1:[0-9]+: TLS handshake: .*(wrong version number|http request|unsupported protocol)")" = 1 ] ||
	fail "plain-bytes refusal: $(grep refused "$FLOG")"
for n in n1 n2 n3; do
	[ "$(term_of "$n")" = "$TERM0" ] || fail "term of $n moved: $TERM0 -> $(term_of "$n")"
	[ "$(status_json "$n" | jq -r '.[0].Status.header.revision')" = "$REV0" ] ||
		fail "revision of $n moved"
done
[ "$(leader_member)" = "$LEADER" ] || fail "leader changed after refused TLS connections"
# control: with a member's certificate the same bytes reach raft
# shellcheck disable=SC2086
out=$($INJECT --wait 1 --tls --cert "$D/$OTHER.crt" --key "$D/$OTHER.key" "${RPORT[$F]}" $ME)
[ "$out" = open ] || fail "a member's TLS connection was $out"
wait_until 5 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$F]} endpoint status -w json | jq -r '.[0].Status.raftTerm')\" -ge 1000 ]" ||
	fail "control: the RequestVote over a member's TLS did not raise the term of $F"
for n in n1 n2 n3; do stop_pid "${PID[$n]}"; done

# --- (e) etcd 3.4 with the same certificates and flags --------------------------------
declare -A EC EP
for n in n1 n2 n3; do EC[$n]=$(free_port); EP[$n]=$(free_port); done
EC_CLUSTER="n1=https://127.0.0.1:${EP[n1]},n2=https://127.0.0.1:${EP[n2]},n3=https://127.0.0.1:${EP[n3]}"
for n in n1 n2 n3; do
	# shellcheck disable=SC2046
	/usr/bin/etcd --name "$n" --data-dir "$E2E_TMP/etcd-$n" \
		--listen-client-urls "http://127.0.0.1:${EC[$n]}" \
		--advertise-client-urls "http://127.0.0.1:${EC[$n]}" \
		--initial-cluster "$EC_CLUSTER" --initial-cluster-state new \
		$(tls_flags "$n" "${EP[$n]}") >"$E2E_TMP/etcd-$n.log" 2>&1 &
	E2E_PIDS+=("$!")
done
EALL="127.0.0.1:${EC[n1]},127.0.0.1:${EC[n2]},127.0.0.1:${EC[n3]}"
wait_until 20 bash -c "[ \$(etcdctl --endpoints=$EALL --dial-timeout=1s endpoint health 2>&1 | grep -c 'is healthy') = 3 ]" ||
	fail "etcd over peer TLS: $(etcdctl --endpoints="$EALL" endpoint health 2>&1)"
etcdctl --endpoints="127.0.0.1:${EC[n1]}" --command-timeout=3s put e v >/dev/null || fail "etcd put"
for n in n1 n2 n3; do
	wait_until 5 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${EC[$n]} get --consistency=s --print-value-only e)\" = v ]" ||
		fail "etcd: e did not reach $n"
done
out=$($INJECT --tls "${EP[n2]}" deadbeef 127.0.0.1:1)
[ "$out" = closed ] || fail "etcd: TLS without a client certificate stayed $out"
wait_until 5 grep -q "client didn't provide a certificate" "$E2E_TMP/etcd-n2.log" ||
	fail "etcd did not log the refusal"
# all three at once: a member told alone waits for the others
for p in "${E2E_PIDS[@]: -3}"; do kill "$p" 2>/dev/null || true; done
for p in "${E2E_PIDS[@]: -3}"; do
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	{ wait "$p"; } 2>/dev/null || true
done

echo "PASS $E2E_NAME (a member alone: 1 listener; plain: 4 refusals; TLS cluster replicated 26 writes and a restarted member caught up, 3 refusals; etcd 3.4 accepts the same certificates)"
