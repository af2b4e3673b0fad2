#!/usr/bin/env bash
# A follower forwards writes to the leader over one kept HTTP/2 connection; the leader closes
# that connection once it has been idle for --idle-timeout (GOAWAY, then close). Writes sent
# through the follower before, and after several idle timeouts, are all answered: the
# follower opens a new connection instead of using the one that got the GOAWAY.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"

IDLE_MS=500
cluster_init
for n in "${MEMBERS[@]}"; do
	start_member "$n" --idle-timeout "$IDLE_MS"
done
leader=$(wait_leader)
follower=n1
[ "$leader" = n1 ] && follower=n2
fctl() {
	etcdctl --endpoints="127.0.0.1:${CPORT[$follower]}" --dial-timeout=2s --command-timeout=5s "$@"
}
# leader_conns: established connections to the leader's client port (the forwarder's)
leader_conns() {
	ss -Htn state established "( dport = :${CPORT[$leader]} )" | wc -l
}
no_leader_conns() {
	[ "$(leader_conns)" -eq 0 ]
}
for i in 1 2 3; do
	fctl put "fw/$i" "v$i" >/dev/null || fail "put $i through follower $follower failed"
	# the forwarding connection goes idle and the leader closes it
	wait_until 5 no_leader_conns ||
		fail "round $i: $(leader_conns) connections to the leader still open after ${IDLE_MS} ms idle"
done
grep -q "closed client connections: .* idle for $IDLE_MS ms" \
	"$E2E_TMP/metastore-${CPORT[$leader]}.log" || fail "the leader logged no idle closes"
for i in 1 2 3; do
	[ "$(fctl get --print-value-only "fw/$i")" = "v$i" ] || fail "fw/$i not readable through $follower"
done
echo "  3 writes through follower $follower, each after the leader had closed the idle forwarding connection"
echo "PASS $E2E_NAME"
