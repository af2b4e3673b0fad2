#!/usr/bin/env bash
# A Go etcd's --binary file replaced on disk (new inode, as cp + mv or a package upgrade does)
# while the agent runs: the agent finds the Go sites in the new file and attaches the loaded
# programs there, an etcd started from it is counted on the same counters, the etcd still
# running the old file too, each under its own member id (node); a replacement whose offsets are
# unknown turns /health to 503.
source "$(dirname "$0")/lib.sh"

need_root
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server)"
mkdir -p "$E2E_TMP/bin"
ETCD=$E2E_TMP/bin/etcd
cp /usr/bin/etcd "$ETCD"
put_ok='grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}'
reattached=metastore_agent_binary_reattach_total

# start_etcd NAME: an etcd from the current $ETCD file on free ports; sets EP (client port).
start_etcd() {
	local pp
	EP=$(free_port)
	pp=$(free_port)
	"$ETCD" --name "$1" --data-dir "$E2E_TMP/$1.data" \
		--listen-client-urls "http://127.0.0.1:$EP" --advertise-client-urls "http://127.0.0.1:$EP" \
		--listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		--initial-cluster "$1=http://127.0.0.1:$pp" >"$E2E_TMP/$1.log" 2>&1 &
	E2E_PIDS+=("$!")
	MS_PORT=$EP
	wait_until 20 ctl endpoint health || fail "etcd $1 did not start"
}
replace() {
	local before
	before=$(stat -c %i "$ETCD")
	cp "$1" "$ETCD.tmp"
	mv "$ETCD.tmp" "$ETCD"
	[ "$(stat -c %i "$ETCD")" != "$before" ] || fail "replacing kept inode $before"
}
health() { curl -s --max-time 5 "http://127.0.0.1:$AGENT_PORT/health"; }

start_etcd one
ONE_PORT=$EP
node_one=$(ctl member list | cut -d, -f1)
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$ETCD" --probes grpc,mvcc
wait_member_known "$node_one"
for i in 1 2 3; do ctl put "a$i" v >/dev/null; done
scrape >"$E2E_TMP/m1"
assert_node_sample "$E2E_TMP/m1" "$node_one" "$put_ok" 3
assert_sample "$E2E_TMP/m1" "metastore_up{node=\"$node_one\"}" 1
assert_sample "$E2E_TMP/m1" "$reattached" 0

# The file replaced while etcd "one" runs the old one; etcd "two" starts from the new file.
replace /usr/bin/etcd
wait_until 5 metric_is "$reattached" 1 || fail "no re-attach after the binary was replaced: $(scrape | grep reattach)"
[ "$(health)" = ok ] || fail "/health after re-attach: $(health)"
start_etcd two
node_two=$(ctl member list | cut -d, -f1)
wait_member_known "$node_two"
for i in 1 2; do ctl put "b$i" v >/dev/null; done
MS_PORT=$ONE_PORT ctl put a4 v >/dev/null
scrape >"$E2E_TMP/m2"
# 3 on one before the replacement, then 2 on two and 1 more on one, each under its node
[ "$node_two" != "$node_one" ] || fail "both members have id $node_one"
assert_node_sample "$E2E_TMP/m2" "$node_one" "$put_ok" 4
assert_node_sample "$E2E_TMP/m2" "$node_two" "$put_ok" 2
assert_sample "$E2E_TMP/m2" "metastore_up{node=\"$node_two\"}" 1
# the revision gauges are sampled on each member's raft tick (100 ms): each member's own
# revision once the tick after its last write came
rev_two=$(ctl get b1 -w json | sed 's/.*"revision":\([0-9]*\).*/\1/')
rev_one=$(MS_PORT=$ONE_PORT ctl get a4 -w json | sed 's/.*"revision":\([0-9]*\).*/\1/')
[ -n "$rev_one" ] && [ -n "$rev_two" ] || fail "etcd's revisions missing"
wait_until 5 metric_is "mvcc_current_revision{node=\"$node_two\"}" "$rev_two" ||
	fail "mvcc_current_revision of $node_two is not $rev_two: $(scrape | grep '^mvcc_current_revision')"
wait_until 5 metric_is "mvcc_current_revision{node=\"$node_one\"}" "$rev_one" ||
	fail "mvcc_current_revision of $node_one is not $rev_one: $(scrape | grep '^mvcc_current_revision')"

# A replacement that cannot be probed: no build ID, no DWARF.
objcopy -R .note.gnu.build-id /usr/bin/etcd "$E2E_TMP/etcd-unknown"
replace "$E2E_TMP/etcd-unknown"
unhealthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$AGENT_PORT/health")" = 503 ]; }
wait_until 5 unhealthy || fail "/health stayed '$(health)' after an unknown build replaced the binary"
health | grep -q "no DWARF and build ID (none) is not in the offsets table" ||
	fail "/health reason: $(health)"
# what was attached keeps counting
ctl put b3 v >/dev/null
scrape >"$E2E_TMP/m3"
assert_node_sample "$E2E_TMP/m3" "$node_two" "$put_ok" 3
assert_node_sample "$E2E_TMP/m3" "$node_one" "$put_ok" 4
assert_sample "$E2E_TMP/m3" metastore_agent_binary_reattach_errors_total 1
echo "replaced Go binary: re-attached, puts counted on both files: one $(sample_value "$E2E_TMP/m3" "$(node_series "$put_ok" "$node_one")"), two $(sample_value "$E2E_TMP/m3" "$(node_series "$put_ok" "$node_two")")"
