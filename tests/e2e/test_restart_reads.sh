#!/usr/bin/env bash
# A member that restarts never answers a local (serializable) read from state older than
# what it had applied before it stopped: alone (no quorum) it holds such reads, and once its
# cluster has a leader it answers them only after catching up. Readers hammer every member
# while the 3 members stop (SIGTERM, then SIGKILL) and start again one by one; every read
# answered must show the last write. A watch "from now" opened on the lone member reports
# only the write made after the restart, not the replayed one. etcd 3.4 runs the same rounds
# as the control.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/etcd.sh"

[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server) as the control"
command -v jq >/dev/null || fail "needs jq"

# sread PORT: one serializable get of key `mark`; prints "REVISION VALUE" (VALUE empty when
# the key is missing), fails when not answered within a second.
sread() {
	local out
	out=$(etcdctl --endpoints="127.0.0.1:$1" --dial-timeout=1s --command-timeout=1s \
		--consistency=s get mark -w json 2>/dev/null) || return 1
	jq -r '"\(.header.revision) \(((.kvs // [])[0].value // "") | @base64d)"' <<<"$out"
}

# reads_current PORT REV VALUE: the member on PORT answers a local read with VALUE at REV or later.
reads_current() {
	local got
	got=$(sread "$1") || return 1
	[ "${got#* }" = "$3" ] && [ "${got%% *}" -ge "$2" ]
}

# reader PORT OUT STOP: serializable reads on PORT until file STOP exists (at most 2000),
# one line each to OUT: "ok REVISION VALUE" or "none".
reader() {
	local got
	for _ in $(seq 2000); do
		[ -e "$3" ] && return 0
		if got=$(sread "$1"); then
			echo "ok $got" >>"$2"
		else
			echo none >>"$2"
		fi
	done
}

# attempts_after FILE N: FILE has more than N lines.
attempts_after() { [ "$(wc -l <"$1")" -gt "$2" ]; }

# round SYSTEM MODE NAMES...: writes 20 keys and `mark`, waits until every member reads it
# locally, stops every member (kill -MODE), starts the first alone while readers run on all,
# then the others; every answered read must show the mark. Uses PORTS/PIDS of the caller.
round() {
	local sys=$1 mode=$2 n rev val out i=0 stop
	shift 2
	local names=("$@")
	val="$sys-$mode-$RANDOM"
	for k in $(seq 20); do
		etcdctl --endpoints="127.0.0.1:${PORTS[${names[0]}]}" put "k/$k" "$val" >/dev/null ||
			fail "$sys: put k/$k"
	done
	out=$(etcdctl --endpoints="127.0.0.1:${PORTS[${names[0]}]}" put mark "$val" -w json) ||
		fail "$sys: put mark"
	rev=$(jq -r .header.revision <<<"$out")
	for n in "${names[@]}"; do
		wait_until 10 reads_current "${PORTS[$n]}" "$rev" "$val" ||
			fail "$sys: member $n does not read mark=$val at $rev before the stop: $(sread "${PORTS[$n]}" || echo none)"
	done
	for n in "${names[@]}"; do kill "-$mode" "${PIDS[$n]}"; done
	for n in "${names[@]}"; do wait "${PIDS[$n]}" 2>/dev/null || true; done
	stop=$E2E_TMP/stop-$sys-$mode
	declare -A RPID
	for n in "${names[@]}"; do
		: >"$E2E_TMP/reads-$sys-$mode-$n"
		reader "${PORTS[$n]}" "$E2E_TMP/reads-$sys-$mode-$n" "$stop" &
		RPID[$n]=$!
		E2E_PIDS+=("$!")
	done
	# the first member alone, for 5 of its readers' attempts after it listens
	"start_in_$sys" "${names[0]}"
	wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/${PORTS[${names[0]}]}" ||
		fail "$sys: ${names[0]} does not listen after its restart"
	local seen
	seen=$(wc -l <"$E2E_TMP/reads-$sys-$mode-${names[0]}")
	wait_until 20 attempts_after "$E2E_TMP/reads-$sys-$mode-${names[0]}" $((seen + 5)) ||
		fail "$sys: the reader of ${names[0]} stalled"
	LONE_OK=$(awk -v s="$seen" 'NR > s && $1 == "ok"' "$E2E_TMP/reads-$sys-$mode-${names[0]}" | wc -l)
	# a watch from now on the lone member (etcd takes the connection once it is ready)
	local wlog=$E2E_TMP/watch-$sys-$mode wpid
	timeout 60 etcdctl --endpoints="127.0.0.1:${PORTS[${names[0]}]}" --dial-timeout=50s \
		watch mark >"$wlog" 2>&1 &
	wpid=$!
	E2E_PIDS+=("$wpid")
	for n in "${names[@]:1}"; do "start_in_$sys" "$n"; done
	for n in "${names[@]}"; do
		wait_until 20 reads_current "${PORTS[$n]}" "$rev" "$val" ||
			fail "$sys: member $n does not read mark=$val at $rev after the restart: $(sread "${PORTS[$n]}" || echo none)"
	done
	touch "$stop"
	for n in "${names[@]}"; do wait "${RPID[$n]}" || true; done
	# the watch (created by now: the member answers reads) sees the next write, only it
	etcdctl --endpoints="127.0.0.1:${PORTS[${names[1]}]}" put mark "$val-after" >/dev/null ||
		fail "$sys: put mark after the restart"
	wait_until 20 grep -qx -- "$val-after" "$wlog" ||
		fail "$sys (kill -$mode): the watch opened on ${names[0]} while alone did not see the next write: $(paste -sd';' "$wlog")"
	kill "$wpid" 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	[ "$(paste -sd';' "$wlog")" = "PUT;mark;$val-after" ] ||
		fail "$sys (kill -$mode): the watch from now opened on ${names[0]} while alone reported: $(paste -sd';' "$wlog") (want only PUT;mark;$val-after)"
	ANSWERED=0
	HELD=0
	for n in "${names[@]}"; do
		local f=$E2E_TMP/reads-$sys-$mode-$n bad
		bad=$(awk -v r="$rev" -v v="$val" '$1 == "ok" && ($2 < r || $3 != v)' "$f" | head -3 | paste -sd';')
		[ -z "$bad" ] || fail "$sys (kill -$mode): member $n answered a local read from before the stop (mark=$val at $rev): $bad"
		ANSWERED=$((ANSWERED + $(grep -c '^ok' "$f" || true)))
		HELD=$((HELD + $(grep -c '^none' "$f" || true)))
	done
	echo "$sys, kill -$mode: $ANSWERED local reads answered, all at revision >= $rev with the mark; $HELD not answered; the lone member answered $LONE_OK; its watch from now got the next write only"
}

# etcd 3.4, the control
start_in_etcd() {
	start_etcd_member "$1"
	PIDS[$1]=${EPID[$1]}
}
etcd_cluster_init
declare -A PORTS PIDS
for n in "${ETCD_MEMBERS[@]}"; do
	PORTS[$n]=${ECPORT[$n]}
	start_in_etcd "$n"
done
wait_etcd_cluster
round etcd TERM "${ETCD_MEMBERS[@]}"
ETCD_SUMMARY="etcd: lone member answered $LONE_OK"
round etcd KILL "${ETCD_MEMBERS[@]}"
ETCD_SUMMARY="$ETCD_SUMMARY and $LONE_OK"

# metastore
start_in_metastore() {
	start_member "$1"
	PIDS[$1]=${PID[$1]}
}
cluster_init
PORTS=()
PIDS=()
for n in "${MEMBERS[@]}"; do
	PORTS[$n]=${CPORT[$n]}
	start_in_metastore "$n"
done
wait_leader >/dev/null
wait_published "$(wait_leader)"
round metastore TERM "${MEMBERS[@]}"
MS_SUMMARY="metastore: lone member answered $LONE_OK"
round metastore KILL "${MEMBERS[@]}"
MS_SUMMARY="$MS_SUMMARY and $LONE_OK"

echo "PASS $E2E_NAME (no stale local read and no replayed watch event after a restart, SIGTERM and SIGKILL; $ETCD_SUMMARY; $MS_SUMMARY)"
