#!/usr/bin/env bash
# End-to-end: membership changes with etcdctl on a 3-member cluster, on metastore and, as the
# control, on Debian's etcd 3.4 (the same commands and assertions). Under a write load a 4th
# member is added (etcdctl member add, then started with --initial-cluster-state existing
# and an empty data dir) and a follower removed (it stops serving; the others go on); every
# acknowledged write is then on every member. Then: a peer URL is updated and its member
# restarted there, a learner is added, started and promoted, etcd's refusals (unknown id,
# used peer URL, promoting a voter, a second learner, a voter added while another added one
# has not started: the strict reconfiguration check), and the leader is removed
# (leadership moves on). Last, a member joins a cluster whose peers speak mutual TLS, and
# one joins a cluster with auth enabled (it publishes its name while it follows).
# MEMBERS_SERVERS names the servers to run (default: both).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_etcd.sh"
. "$(dirname "$0")/pki.sh"

SERVERS=${MEMBERS_SERVERS:-$(control_servers)}
declare -A CP PP PIDOF
PEER=http # the peer URLs' scheme

# member_start KIND NAME STATE CLUSTER [ARGS...]: starts member NAME of KIND (metastore,
# etcd) with client port CP[NAME], peer port PP[NAME] ($PEER://), --initial-cluster CLUSTER
# and --initial-cluster-state STATE; its data dir is kept across restarts. A small
# --snapshot-count: a member that joins under load may get the leader's snapshot.
member_start() {
	local kind=$1 n=$2 state=$3 cluster=$4 log="$E2E_TMP/$1-$2.log"
	shift 4
	local common=(--name "$n" --initial-cluster "$cluster" --initial-cluster-state "$state"
		--listen-peer-urls "$PEER://127.0.0.1:${PP[$n]}"
		--initial-advertise-peer-urls "$PEER://127.0.0.1:${PP[$n]}"
		--election-timeout 500 --heartbeat-interval 50 --snapshot-count 16 "$@")
	if [ "$kind" = metastore ]; then
		"$METASTORE" "${common[@]}" --listen "127.0.0.1:${CP[$n]}" \
			--data-dir "$E2E_TMP/$kind-$n.d" >>"$log" 2>&1 &
	else
		env $(env | sed -n 's/^\(ETCD_[A-Z_]*\)=.*/-u \1/p') \
		"$ETCD" "${common[@]}" --data-dir "$E2E_TMP/$kind-$n.d" \
			--listen-client-urls "http://127.0.0.1:${CP[$n]}" \
			--advertise-client-urls "http://127.0.0.1:${CP[$n]}" >>"$log" 2>&1 &
	fi
	PIDOF[$n]=$!
	E2E_PIDS+=("$!")
}

# on NAME ARGS...: etcdctl against member NAME only.
on() {
	local n=$1
	shift
	etcdctl --endpoints="127.0.0.1:${CP[$n]}" --dial-timeout=2s --command-timeout=5s "$@"
}

# id_of NAME FROM: the member id (hex) member FROM lists for peer URL of NAME.
id_of() {
	on "$2" member list | awk -F', ' -v u="$PEER://127.0.0.1:${PP[$1]}" '$4 == u { print $1 }'
}

# url NAME: NAME=its peer URL, an --initial-cluster entry.
url() { echo "$1=$PEER://127.0.0.1:${PP[$1]}"; }

# exited PID: the process is gone (or a zombie: it exited, not yet reaped).
exited() {
	! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]
}

# leader_of NAMES...: the one of those members whose status says it leads.
leader_of() {
	local n
	for n in "$@"; do
		if [ "$(on "$n" endpoint status 2>/dev/null | awk -F', ' '{ print $5 }')" = true ]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# retry_ctl SECS WHY CMD...: runs the etcdctl command until it succeeds while its error is
# WHY (a condition that passes: not yet connected long enough, a learner catching up).
retry_ctl() {
	local secs=$1 why=$2 out
	shift 2
	for _ in $(seq $((secs * 10))); do
		if out=$("$@" 2>&1); then
			echo "$out"
			return 0
		fi
		grep -q "$why" <<<"$out" || { echo "$out"; return 1; }
		sleep 0.1
	done
	echo "$out"
	return 1
}

run_server() {
	local kind=$1 n out id2 id3 id5 lid leader removed cluster ep acked missing load
	CP=() PP=() PIDOF=()
	PEER=http
	for n in n1 n2 n3 n4 n5; do CP[$n]=$(free_port); PP[$n]=$(free_port); done
	cluster="$(url n1),$(url n2),$(url n3)"
	for n in n1 n2 n3; do member_start "$kind" "$n" new "$cluster"; done
	for n in n1 n2 n3; do
		wait_until 20 on "$n" endpoint health || fail "$kind: $n did not become healthy"
	done

	# (a) a write load through the first three members, acknowledged keys recorded
	acked="$E2E_TMP/$kind-acked"
	: >"$acked"
	rm -f "$E2E_TMP/stop"
	ep="127.0.0.1:${CP[n1]},127.0.0.1:${CP[n2]},127.0.0.1:${CP[n3]}"
	(
		i=0
		while [ ! -f "$E2E_TMP/stop" ]; do
			i=$((i + 1))
			if etcdctl --endpoints="$ep" --dial-timeout=1s --command-timeout=3s \
				put "w-$i" "v$i" >/dev/null 2>&1; then
				echo "w-$i" >>"$acked"
			fi
		done
	) &
	load=$!
	E2E_PIDS+=("$load")
	wait_until 20 test -s "$acked" || fail "$kind: no write acknowledged"

	# (b) member add: the new id and the member list, the new member unstarted and unnamed
	out=$(retry_ctl 20 "unhealthy cluster" on n1 member add n4 --peer-urls="http://127.0.0.1:${PP[n4]}") ||
		fail "$kind: member add: $out"
	grep -q '^Member  *[0-9a-f]* added to cluster  *[0-9a-f]*$' <<<"$out" || fail "$kind: member add: $out"
	grep -qx 'ETCD_INITIAL_CLUSTER_STATE="existing"' <<<"$out" || fail "$kind: member add: $out"
	grep -qx "ETCD_INITIAL_CLUSTER=\"$(url n1),$(url n2),$(url n3),$(url n4)\"" <<<"$out" ||
		[ "$(grep -o 'n[1-4]=' <<<"$out" | sort | tr -d '\n')" = "n1=n2=n3=n4=" ] ||
		fail "$kind: member add: initial cluster: $out"
	out=$(on n2 member list)
	[ "$(grep -c . <<<"$out")" = 4 ] || fail "$kind: member list after add: $out"
	grep -qx "[0-9a-f]*, unstarted, , http://127.0.0.1:${PP[n4]}, , false" <<<"$out" ||
		fail "$kind: the added member is not listed unstarted: $out"
	# etcd's strict reconfiguration check: no other voter while one added has not started
	out=$(on n1 member add n6 --peer-urls="http://127.0.0.1:$(free_port)" 2>&1) &&
		fail "$kind: added a voter while another added one is not started"
	grep -q "Error: etcdserver: unhealthy cluster" <<<"$out" || fail "$kind: strict check: $out"
	# it starts with an empty data dir and learns its id from the cluster
	member_start "$kind" n4 existing "$(url n1),$(url n2),$(url n3),$(url n4)"
	wait_until 30 bash -c "etcdctl --endpoints=127.0.0.1:${CP[n1]} member list | grep -qx '[0-9a-f]*, started, n4, http://127.0.0.1:${PP[n4]}, http://127.0.0.1:${CP[n4]}, false'" ||
		fail "$kind: n4 never listed started: $(on n1 member list)"
	local id4
	id4=$(id_of n4 n1)
	wait_until 20 bash -c "etcdctl --endpoints=127.0.0.1:${CP[n4]} endpoint status | grep -q '^127.0.0.1:${CP[n4]}, $id4, '" ||
		fail "$kind: n4 does not serve under the id the cluster gave it ($id4): $(on n4 endpoint status 2>&1)"
	wait_until 30 bash -c "[ -n \"\$(etcdctl --endpoints=127.0.0.1:${CP[n4]} get w-1 --consistency=s --print-value-only)\" ]" ||
		fail "$kind: n4 has not caught up (w-1 missing)"
	local before_remove
	before_remove=$(wc -l <"$acked")

	# (c) member remove of a follower, under the load: it stops serving, the rest goes on
	leader=$(leader_of n1 n2 n3 n4) || fail "$kind: no leader"
	removed=n2
	[ "$leader" != n2 ] || removed=n3
	id2=$(id_of "$removed" n1)
	out=$(on n1 member remove "$id2") || fail "$kind: member remove $removed: $out"
	grep -qx "Member  *$id2 removed from cluster  *[0-9a-f]*" <<<"$out" || fail "$kind: member remove: $out"
	wait_until 20 exited "${PIDOF[$removed]}" ||
		fail "$kind: removed member $removed still runs"
	grep -q "the member has been permanently removed from the cluster" "$E2E_TMP/$kind-$removed.log" ||
		fail "$kind: removed member $removed did not say why it stopped"
	! on "$removed" endpoint health >/dev/null 2>&1 || fail "$kind: removed member $removed still serves"
	for n in n1 n2 n3 n4; do
		[ "$n" = "$removed" ] && continue
		out=$(on "$n" member list)
		[ "$(grep -c . <<<"$out")" = 3 ] && ! grep -q "$id2" <<<"$out" ||
			fail "$kind: $n lists after the removal: $out"
	done
	wait_until 20 bash -c "[ \$(wc -l <'$acked') -gt $((before_remove + 5)) ]" ||
		fail "$kind: writes stopped after the removal"
	touch "$E2E_TMP/stop"
	wait "$load" || true

	# (d) every acknowledged write is on every member (serializable reads, once each
	# member applied a write made after the load)
	local live=()
	for n in n1 n2 n3 n4; do [ "$n" = "$removed" ] || live+=("$n"); done
	on "${live[0]}" put barrier "$kind" >/dev/null || fail "$kind: barrier put"
	for n in "${live[@]}"; do
		wait_until 20 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CP[$n]} get barrier --consistency=s --print-value-only)\" = $kind ]" ||
			fail "$kind: $n did not apply the barrier"
		missing=$(comm -23 <(sort "$acked") <(on "$n" get w- --prefix --keys-only --consistency=s | grep . | sort) | wc -l)
		[ "$missing" = 0 ] || fail "$kind: $n lacks $missing of $(wc -l <"$acked") acknowledged writes"
	done
	echo "  $kind: $(wc -l <"$acked") acknowledged writes ($before_remove before the removal) on each of ${live[*]}"

	# (e) refusals, as etcd words them
	out=$(on n1 member remove 1234 2>&1) && fail "$kind: removed an unknown member"
	grep -q "Error: etcdserver: member not found" <<<"$out" || fail "$kind: remove unknown: $out"
	out=$(on n1 member add x --peer-urls="http://127.0.0.1:${PP[n4]}" 2>&1) && fail "$kind: added a used peer URL"
	grep -q "Error: etcdserver: Peer URLs already exists" <<<"$out" || fail "$kind: used peer URL: $out"
	out=$(on n1 member promote "$(id_of n1 n1)" 2>&1) && fail "$kind: promoted a voter"
	grep -q "Error: etcdserver: can only promote a learner member" <<<"$out" || fail "$kind: promote voter: $out"
	out=$(on n1 member update 1234 --peer-urls=http://127.0.0.1:1 2>&1) && fail "$kind: updated an unknown member"
	grep -q "Error: etcdserver: member not found" <<<"$out" || fail "$kind: update unknown: $out"

	# (f) member update: the new peer URL is listed everywhere; the member restarted there
	# serves, and the cluster writes through it
	local upd=n3
	[ "$removed" != n3 ] || upd=n1
	id3=$(id_of "$upd" n4)
	local newp
	newp=$(free_port)
	out=$(on n4 member update "$id3" --peer-urls="http://127.0.0.1:$newp") || fail "$kind: member update: $out"
	grep -q "^Member  *$id3 updated in cluster " <<<"$out" || fail "$kind: member update: $out"
	for n in "${live[@]}"; do
		wait_until 10 bash -c "etcdctl --endpoints=127.0.0.1:${CP[$n]} member list | grep -q '^$id3, started, $upd, http://127.0.0.1:$newp, '" ||
			fail "$kind: $n does not list the new peer URL: $(on "$n" member list)"
	done
	kill "${PIDOF[$upd]}"
	wait_until 20 exited "${PIDOF[$upd]}" || fail "$kind: $upd did not stop"
	PP[$upd]=$newp
	cluster=""
	for n in "${live[@]}"; do cluster="$cluster${cluster:+,}$(url "$n")"; done
	member_start "$kind" "$upd" existing "$cluster"
	wait_until 30 on "$upd" put after-update "$kind" || fail "$kind: $upd does not write after its update"
	wait_until 20 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CP[$upd]} get after-update --consistency=s --print-value-only)\" = $kind ]" ||
		fail "$kind: $upd did not apply its own write"

	# (g) a learner: added, refused a second one, started, promoted once in sync
	out=$(retry_ctl 20 "unhealthy cluster" on n4 member add n5 --peer-urls="http://127.0.0.1:${PP[n5]}" --learner) ||
		fail "$kind: member add --learner: $out"
	grep -q "^Member  *[0-9a-f]* added to cluster " <<<"$out" || fail "$kind: learner add: $out"
	out=$(on n4 member add n6 --peer-urls="http://127.0.0.1:$(free_port)" --learner 2>&1) &&
		fail "$kind: added a second learner"
	grep -q "Error: etcdserver: too many learner members in cluster" <<<"$out" || fail "$kind: second learner: $out"
	id5=$(id_of n5 n4)
	out=$(on n4 member list)
	grep -qx "$id5, unstarted, , http://127.0.0.1:${PP[n5]}, , true" <<<"$out" || fail "$kind: learner listed: $out"
	member_start "$kind" n5 existing "$cluster,$(url n5)"
	wait_until 30 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CP[n5]} endpoint status | awk -F', ' '{ print \$6 }')\" = true ]" ||
		fail "$kind: n5 does not report itself a learner: $(on n5 endpoint status 2>&1)"
	out=$(retry_ctl 30 "in sync with leader" on n4 member promote "$id5") || fail "$kind: promote: $out"
	grep -q "^Member  *$id5 promoted in cluster " <<<"$out" || fail "$kind: promote: $out"
	for n in "${live[@]}" n5; do
		wait_until 10 bash -c "etcdctl --endpoints=127.0.0.1:${CP[$n]} member list | grep -qx '$id5, started, n5, http://127.0.0.1:${PP[n5]}, http://127.0.0.1:${CP[n5]}, false'" ||
			fail "$kind: $n does not list n5 as a voter: $(on "$n" member list)"
	done
	live+=(n5)

	# (h) removing the leader: it stops, another member leads, writes go on
	leader=$(leader_of "${live[@]}") || fail "$kind: no leader before removing it"
	lid=$(id_of "$leader" n5)
	local rest=()
	for n in "${live[@]}"; do [ "$n" = "$leader" ] || rest+=("$n"); done
	# etcd's leader may answer "server stopped" as it goes: the effect is what counts
	on "${rest[0]}" member remove "$lid" >/dev/null 2>&1 || true
	wait_until 20 exited "${PIDOF[$leader]}" || fail "$kind: removed leader $leader still runs"
	wait_until 20 leader_of "${rest[@]}" || fail "$kind: no leader after removing $leader"
	wait_until 20 on "${rest[0]}" put after-leader "$kind" || fail "$kind: no write after removing the leader"
	for n in "${rest[@]}"; do
		wait_until 10 bash -c "[ \$(etcdctl --endpoints=127.0.0.1:${CP[$n]} member list | grep -c .) = ${#rest[@]} ]" ||
			fail "$kind: $n lists after the leader's removal: $(on "$n" member list)"
		on "$n" member list | grep -q "^$lid," && fail "$kind: $n still lists the removed leader"
		[ "$(on "$n" endpoint status | awk -F', ' '{ print $2 }')" = "$(id_of "$n" "${rest[0]}")" ] ||
			fail "$kind: $n changed its id"
	done
	echo "  $kind: added n4 and learner n5 (promoted), removed $removed and the leader $leader, updated $upd's peer URL"
	for p in "${PIDOF[@]}"; do kill "$p" 2>/dev/null || true; done
}

# run_tls KIND: members t1-t3 over mutual TLS peers; t4 is added and joins (the member list
# it learns its id from comes over TLS as well), catches up and serves.
run_tls() {
	local kind=$1 n out cluster tls
	CP=() PP=() PIDOF=()
	PEER=https
	for n in t1 t2 t3 t4; do CP[$n]=$(free_port); PP[$n]=$(free_port); done
	tls() { echo --peer-cert-file "$D/$1.crt" --peer-key-file "$D/$1.key" \
		--peer-trusted-ca-file "$D/ca.crt" --peer-client-cert-auth; }
	cluster="$(url t1),$(url t2),$(url t3)"
	# shellcheck disable=SC2046
	for n in t1 t2 t3; do member_start "$kind" "$n" new "$cluster" $(tls "$n"); done
	for n in t1 t2 t3; do
		wait_until 20 on "$n" endpoint health || fail "$kind tls: $n did not become healthy"
	done
	on t1 put tls-key "$kind" >/dev/null || fail "$kind tls: put"
	out=$(retry_ctl 20 "unhealthy cluster" on t2 member add t4 --peer-urls="https://127.0.0.1:${PP[t4]}") ||
		fail "$kind tls: member add: $out"
	# shellcheck disable=SC2046
	member_start "$kind" t4 existing "$cluster,$(url t4)" $(tls t4)
	wait_until 30 bash -c "etcdctl --endpoints=127.0.0.1:${CP[t1]} member list | grep -qx '[0-9a-f]*, started, t4, https://127.0.0.1:${PP[t4]}, http://127.0.0.1:${CP[t4]}, false'" ||
		fail "$kind tls: t4 never listed started: $(on t1 member list)"
	wait_until 30 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CP[t4]} get tls-key --consistency=s --print-value-only)\" = $kind ]" ||
		fail "$kind tls: t4 has not caught up"
	wait_until 20 on t4 put tls-after "$kind" || fail "$kind tls: no write through t4"
	echo "  $kind: t4 joined a cluster of mutual-TLS peers"
	for p in "${PIDOF[@]}"; do kill "$p" 2>/dev/null || true; done
}

# run_auth KIND: with auth enabled, a4 is added (by root) and joins: it publishes its name
# and client URL while it follows (etcd's member publishes through its raft log, which
# needs no user), then serves root's writes.
run_auth() {
	local kind=$1 n out cluster
	CP=() PP=() PIDOF=()
	PEER=http
	for n in a1 a2 a3 a4; do CP[$n]=$(free_port); PP[$n]=$(free_port); done
	cluster="$(url a1),$(url a2),$(url a3)"
	for n in a1 a2 a3; do member_start "$kind" "$n" new "$cluster"; done
	for n in a1 a2 a3; do
		wait_until 20 on "$n" endpoint health || fail "$kind auth: $n did not become healthy"
	done
	on a1 user add root --new-user-password=pw >/dev/null || fail "$kind auth: user add root"
	on a1 auth enable >/dev/null || fail "$kind auth: auth enable"
	out=$(retry_ctl 20 "unhealthy cluster" on a2 --user root:pw member add a4 --peer-urls="http://127.0.0.1:${PP[a4]}") ||
		fail "$kind auth: member add: $out"
	member_start "$kind" a4 existing "$cluster,$(url a4)"
	wait_until 30 bash -c "etcdctl --endpoints=127.0.0.1:${CP[a1]} --user root:pw member list | grep -qx '[0-9a-f]*, started, a4, http://127.0.0.1:${PP[a4]}, http://127.0.0.1:${CP[a4]}, false'" ||
		fail "$kind auth: a4 never listed started with its name and client URL: $(on a1 --user root:pw member list 2>&1)"
	wait_until 20 on a4 --user root:pw put auth-after "$kind" || fail "$kind auth: no write through a4"
	out=$(on a4 put no-user x 2>&1) && fail "$kind auth: a write without a user through a4"
	grep -q "Error: etcdserver: user name is empty" <<<"$out" || fail "$kind auth: no user: $out"
	echo "  $kind: a4 joined and published itself with auth enabled"
	for p in "${PIDOF[@]}"; do kill "$p" 2>/dev/null || true; done
}

pki_init
gen_ca ca
for n in t1 t2 t3 t4; do gen_cert ca "$n"; done
for s in $SERVERS; do
	run_server "$s"
	run_tls "$s"
	run_auth "$s"
done
echo "PASS $E2E_NAME"
