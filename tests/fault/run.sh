#!/bin/bash
# Fault suite driver: sets up a network namespace per member (when it can), runs the
# harness against etcd or metastore, and tears everything down by pid and by name even
# when the run fails. TARGET=etcd|metastore DURATION=seconds [SEED=n] [FAULT_NETNS=0].
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${TARGET:-metastore}
DURATION=${DURATION:-120}
SEED=${SEED:-}
FAULT_BIN=${FAULT_BIN:-$ROOT/build/fault/fault}
case $TARGET in
etcd) BIN=${ETCD:-/usr/bin/etcd} ;;
metastore) BIN=${METASTORE:-$ROOT/build/metastore} ;;
*) echo "fault: TARGET must be etcd or metastore, not '$TARGET'" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "fault: $BIN is not an executable" >&2; exit 2; }
[ -x "$FAULT_BIN" ] || { echo "fault: $FAULT_BIN missing (make build/fault/fault)" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/fault-$TARGET.XXXXXX")
NS=ft$$
NETNS_UP=0
HPID=
RC=1

# Ends what this run started: the harness, then any member still alive (pid files the
# harness wrote, and whatever runs in our namespaces), then the namespaces.
cleanup() {
	local f p
	trap - EXIT INT TERM
	if [ -n "$HPID" ] && kill -0 "$HPID" 2>/dev/null; then
		kill -TERM "$HPID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$HPID" 2>/dev/null
	fi
	for f in "$DIR"/n*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		if [ -n "$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ]; then
			kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null
		fi
	done
	if [ "$NETNS_UP" = 1 ]; then
		for i in 1 2 3; do
			for p in $(ip netns pids "$NS-m$i" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
			ip netns del "$NS-m$i" 2>/dev/null
		done
		ip netns del "$NS-br" 2>/dev/null
	fi
	if [ "$RC" = 0 ]; then rm -rf "$DIR"; else echo "fault: logs kept in $DIR" >&2; fi
	exit "$RC"
}
trap cleanup EXIT INT TERM

# One bridge namespace (the harness runs there, at 10.199.0.254) and one per member
# (10.199.0.N), joined by veth pairs fvN <-> eth0. Nothing is added outside them.
netns_setup() {
	[ "$(id -u)" = 0 ] || return 1
	ip netns add "$NS-br" || return 1
	NETNS_UP=1
	ip -n "$NS-br" link set lo up &&
	ip -n "$NS-br" link add br0 type bridge &&
	ip -n "$NS-br" addr add 10.199.0.254/24 dev br0 &&
	ip -n "$NS-br" link set br0 up || return 1
	for i in 1 2 3; do
		ip netns add "$NS-m$i" &&
		ip link add "fv$i" netns "$NS-br" type veth peer name eth0 netns "$NS-m$i" &&
		ip -n "$NS-br" link set "fv$i" master br0 &&
		ip -n "$NS-br" link set "fv$i" up &&
		ip -n "$NS-m$i" link set lo up &&
		ip -n "$NS-m$i" addr add "10.199.0.$i/24" dev eth0 &&
		ip -n "$NS-m$i" link set eth0 up || return 1
	done
}

free_base() {
	local b
	for b in $(seq 23000 10 29990); do
		if ! ss -Htan "( sport >= :$b and sport <= :$((b + 5)) )" 2>/dev/null | grep -q .; then
			echo "$b"; return 0
		fi
	done
	return 1
}

ARGS=(--target "$TARGET" --bin "$BIN" --dir "$DIR" --duration "$DURATION")
[ -n "$SEED" ] && ARGS+=(--seed "$SEED")
if [ "${FAULT_NETNS:-1}" = 1 ] && netns_setup; then
	ip netns exec "$NS-br" "$FAULT_BIN" "${ARGS[@]}" --netns "$NS" > >(tee "$DIR/fault.log") 2>&1 &
else
	echo "fault: network namespaces not available (needs root and ip netns): no partitions"
	BASE=$(free_base) || { echo "fault: no free ports" >&2; exit 2; }
	"$FAULT_BIN" "${ARGS[@]}" --port-base "$BASE" > >(tee "$DIR/fault.log") 2>&1 &
fi
HPID=$!
wait "$HPID"
RC=$?
HPID=
