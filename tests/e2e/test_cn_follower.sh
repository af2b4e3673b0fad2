#!/usr/bin/env bash
# End-to-end: users known by their client certificate's CN (auth on, --client-cert-auth, no
# password or token) on every member of a TLS cluster of 3, the same etcdctl sequence on
# metastore and on Debian's etcd 3.4 (the control). Through a follower and through the leader
# alice (role app: readwrite app/) writes and reads her prefix (linearizable and
# serializable), grants a lease and keeps it alive; she is denied outside it and bob (no role)
# is denied, with etcd's error; root administers through the follower; after a restart of the
# follower (a new forwarding key on metastore) alice writes through it again. Clients that are
# no member forge the forwarding of a Put as root (metastore's ms-forwarded-user header with
# a made-up proof): over TLS with bob's certificate to the leader and to a follower (marked
# forwarded, and not), and in plain text to a server with password auth. Nothing changes on
# either server; metastore logs each attempt.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/tls_cluster.sh"

[ -x /usr/bin/etcd ] || fail "needs Debian's etcd 3.4 (/usr/bin/etcd, package etcd-server)"
/usr/bin/python3 -c 'import grpc' 2>/dev/null || fail "needs python3-grpcio"
for v in $(env | sed -n 's/^\(ETCD_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
PY="/usr/bin/python3 $(dirname "$0")/py/forge_forward.py"

pki_init
gen_ca ca
for n in root alice bob n1 n2 n3; do gen_cert ca "$n"; done

# last_line CMD...: the last line CMD printed (stdout and stderr), whatever its status
last_line() {
	local out
	out=$("$@" 2>&1) || true
	tail -n 1 <<<"$out"
}

DENIED="Error: etcdserver: permission denied"

# as_cn KIND PORT WHERE: alice and bob by their CN through the member at PORT
as_cn() {
	local kind=$1 p=$2 w=$3 lease out
	[ "$(tctl "$p" alice put "app/$w" "v-$w")" = OK ] || fail "$kind: alice put app/$w via $w"
	[ "$(tctl "$p" alice get --print-value-only "app/$w")" = "v-$w" ] ||
		fail "$kind: alice linearizable get via $w"
	[ "$(tctl "$p" alice get --consistency=s --print-value-only "app/$w")" = "v-$w" ] ||
		fail "$kind: alice serializable get via $w right after her put"
	[ "$(tctl "$p" alice get --print-value-only --prefix app/ | wc -l)" = "$4" ] ||
		fail "$kind: alice sees $(tctl "$p" alice get --prefix app/ --keys-only) via $w"
	[ "$(last_line tctl "$p" alice put "secret-$w" 1)" = "$DENIED" ] ||
		fail "$kind: alice outside app/ via $w: $(last_line tctl "$p" alice put "secret-$w" 1)"
	[ "$(last_line tctl "$p" bob put "app/bob-$w" 1)" = "$DENIED" ] ||
		fail "$kind: bob put via $w: $(last_line tctl "$p" bob put "app/bob-$w" 1)"
	[ "$(last_line tctl "$p" bob get "app/$w")" = "$DENIED" ] ||
		fail "$kind: bob linearizable get via $w: $(last_line tctl "$p" bob get "app/$w")"
	[ "$(last_line tctl "$p" bob get --consistency=s "app/$w")" = "$DENIED" ] ||
		fail "$kind: bob serializable get via $w"
	lease=$(tctl "$p" alice lease grant 30 | awk '{ print $2 }')
	[ -n "$lease" ] || fail "$kind: alice lease grant via $w"
	[ "$(tctl "$p" alice put --lease="$lease" "app/l-$w" x)" = OK ] ||
		fail "$kind: alice put with a lease via $w"
	out=$(tctl "$p" alice lease keep-alive --once "$lease" 2>&1) ||
		fail "$kind: alice keep-alive via $w: $out"
	grep -q "keepalived with TTL(30)" <<<"$out" || fail "$kind: keep-alive via $w said: $out"
	tctl "$p" alice lease revoke "$lease" >/dev/null || fail "$kind: alice revoke via $w"
}

# forge PORT PROOF MARK: bob's TLS client at PORT claims to forward root's Put of forged-PORT
# (MARK 1: the call marked forwarded too)
forge() {
	$PY "127.0.0.1:$1" "forged-$1" x root "$2" "$3" "$D/ca.crt" "$D/bob.crt" "$D/bob.key"
}

# keys_on NAME: every key member NAME holds, read there (serializable), on one line
keys_on() {
	tctl "${CPORT[$1]}" root get --consistency=s --prefix "" --keys-only | sed '/^$/d' | tr '\n' ' '
}

holds() {
	[ "$(keys_on "$1")" = "$2" ]
}

caught_up() {
	[ "$(tctl "${CPORT[$1]}" alice get --consistency=s --print-value-only app/leader)" = v-leader ]
}

# forged_logged NAME: each forged attempt was one line on metastore member NAME that got it
# (a follower checks the assertion itself and passes nothing on as root), and no genuine
# forward was refused
forged_logged() {
	local log=$E2E_TMP/metastore-${CPORT[$1]}.log
	[ "$(grep -c "auth: refused forwarded user 'root' on /etcdserverpb.KV/Put: wrong MAC for member ${OTHER[metastore-$1]}; ignored" "$log")" = 2 ] ||
		fail "forged proofs not logged twice in $log: $(grep 'refused forwarded' "$log")"
	[ "$(grep -c "auth: refused forwarded user 'root' on /etcdserverpb.KV/Put: malformed proof; ignored" "$log")" = 1 ] ||
		fail "forged empty proof not logged once in $log: $(grep 'refused forwarded' "$log")"
	[ "$(grep -c "refused forwarded" "$log")" = 3 ] ||
		fail "refusals in $log: $(grep 'refused forwarded' "$log")"
}

# check_cluster KIND: the whole sequence on a started cluster
check_cluster() {
	local kind=$1 l f n other role proof out
	l=$(leader_member)
	for n in n1 n2 n3; do [ "$n" = "$l" ] || f=$n; done
	# root, by its CN, sets auth up through the follower
	tctl "${CPORT[$f]}" root user add root:rootpw >/dev/null || fail "$kind: user add root"
	tctl "${CPORT[$f]}" root role add app >/dev/null || fail "$kind: role add"
	tctl "${CPORT[$f]}" root role grant-permission app readwrite --prefix app/ >/dev/null ||
		fail "$kind: grant-permission"
	for u in alice bob; do
		tctl "${CPORT[$f]}" root user add "$u:pw" >/dev/null || fail "$kind: user add $u"
	done
	tctl "${CPORT[$f]}" root user grant-role alice app >/dev/null || fail "$kind: grant-role"
	tctl "${CPORT[$f]}" root auth enable >/dev/null 2>&1 || fail "$kind: auth enable"
	as_cn "$kind" "${CPORT[$f]}" follower 1
	as_cn "$kind" "${CPORT[$l]}" leader 2
	[ "$(tctl "${CPORT[$f]}" root user list | tr '\n' ' ')" = "alice bob root " ] ||
		fail "$kind: root user list via the follower"
	[ "$(tctl "${CPORT[$f]}" root put admin/x 1)" = OK ] || fail "$kind: root put via the follower"
	# forged forwarding, to the leader and to the follower (which checks what it would pass
	# on): a proof of the right form naming the other one's member id, and none at all
	# (member list prints ids in hex; JSON numbers would lose their low bits in jq)
	out=$(tctl "${CPORT[$f]}" root member list)
	for n in "$l" "$f"; do
		ID[$n]=$(awk -F', ' -v n="$n" '$3 == n { print $1 }' <<<"$out")
		[ -n "${ID[$n]}" ] || fail "$kind: no id of $n in member list: $out"
	done
	for n in "$l" "$f"; do
		[ "$n" = "$l" ] && other=$f role=leader || other=$l role=follower
		OTHER[$kind-$n]=$(printf '%016x' "0x${ID[$other]}")
		proof=$(printf 'v1:%s:1:%064d' "${OTHER[$kind-$n]}" 0)
		FORGED[$kind-$role-marked]=$(forge "${CPORT[$n]}" "$proof" 1)
		FORGED[$kind-$role-empty]=$(forge "${CPORT[$n]}" "" 1)
		# not marked forwarded: the call is bob's own, as the headers are ignored
		FORGED[$kind-$role-unmarked]=$(forge "${CPORT[$n]}" "$proof" 0)
		[ "${FORGED[$kind-$role-unmarked]}" = "PERMISSION_DENIED etcdserver: permission denied" ] ||
			fail "$kind: a forged forward not marked forwarded via $n: ${FORGED[$kind-$role-unmarked]}"
	done
	for k in "${!FORGED[@]}"; do
		case $k in "$kind"-*) ;; *) continue ;; esac
		case ${FORGED[$k]} in OK*) fail "$kind: a forged forward was served ($k)" ;; esac
	done
	[ "$kind" = metastore ] && for n in "$l" "$f"; do forged_logged "$n"; done
	# a follower started again (metastore: with a new forwarding key, its counter from 1):
	# CN users go on through it once it serves
	stop_pid "${PID[$f]}"
	start_tls_member "$kind" "$f"
	# caught up (it serves from its own state what the leader had), then one put: no retry
	wait_until 20 caught_up "$f" || fail "$kind: the restarted follower $f did not catch up"
	[ "$(tctl "${CPORT[$f]}" alice put app/restarted 1)" = OK ] ||
		fail "$kind: alice put via the restarted follower: $(last_line tctl "${CPORT[$f]}" alice put app/restarted 1)"
	[ "$(tctl "${CPORT[$f]}" alice get --consistency=s --print-value-only app/restarted)" = 1 ] ||
		fail "$kind: alice serializable get via the restarted follower"
	# (and the leader refused none of its forwards with the new key)
	[ "$kind" = metastore ] && forged_logged "$l"
	# the store as the sequence left it (no forged-* key), the same on every member (the
	# third one may apply a moment later)
	for n in n1 n2 n3; do
		wait_until 5 holds "$n" "admin/x app/follower app/leader app/restarted " ||
			fail "$kind: $n holds: $(keys_on "$n")"
	done
}

declare -A FORGED PLAIN ID OTHER

# --- metastore ------------------------------------------------------------------------
start_tls_cluster metastore
check_cluster metastore
stop_tls_cluster

# --- the control: etcd 3.4, the same flags and certificates -------------------------------
start_tls_cluster etcd
check_cluster etcd
stop_tls_cluster

# --- plain text: a client with no certificate at all forges root's forward ----------------
# plain_forge KIND: one server, auth on with root's password; the forged Put and whether it
# changed anything
plain_forge() {
	local kind=$1 port
	port=$(free_port)
	if [ "$kind" = metastore ]; then
		start_metastore "$port"
	else
		start_etcd "$port"
	fi
	local c=(etcdctl --endpoints="127.0.0.1:$port" --dial-timeout=2s --command-timeout=5s)
	"${c[@]}" user add root:rootpw >/dev/null || fail "$kind: plain user add root"
	"${c[@]}" auth enable >/dev/null 2>&1 || fail "$kind: plain auth enable"
	PLAIN[$kind]=$($PY "127.0.0.1:$port" forged x root "v1:$(printf '%016x' 1):1:$(printf '%064d' 0)" 1)
	[ -z "$("${c[@]}" --user root:rootpw get --keys-only --prefix forged)" ] ||
		fail "$kind: a plain-text forged put changed the store"
	if [ "$kind" = metastore ]; then
		[ "$(grep -c "auth: refused forwarded user 'root' on /etcdserverpb.KV/Put: no forwarding key of member 0000000000000001; ignored" "$E2E_TMP/metastore-$port.log")" = 1 ] ||
			fail "plain-text forged forward not logged once: $(grep 'refused forwarded' "$E2E_TMP/metastore-$port.log")"
		stop_pid "$MS_PID"
	else
		stop_pid "$ETCD_PID"
	fi
}
. "$(dirname "$0")/lib_etcd.sh"
for kind in metastore etcd; do plain_forge "$kind"; done
[ "${PLAIN[metastore]}" = "${PLAIN[etcd]}" ] ||
	fail "plain-text forged forward: metastore '${PLAIN[metastore]}', etcd '${PLAIN[etcd]}'"

for k in $(printf '%s\n' "${!FORGED[@]}" | sort); do
	printf 'forged forward %-28s %s\n' "$k:" "${FORGED[$k]}"
done
echo "plain-text forged forward:   ${PLAIN[metastore]} (etcd: ${PLAIN[etcd]})"
echo "PASS $E2E_NAME (CN users write, read, lease and are denied alike through a follower and the leader; forged forwards change nothing and are logged; the same sequence passes on etcd 3.4)"
