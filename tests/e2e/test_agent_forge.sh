#!/usr/bin/env bash
# End-to-end: a process of another uid that maps the probed file (any user may read it) and
# calls its probe functions, claiming a real member's id and 64 invented ones, is counted
# nowhere: it does not run the probed executable. Its hits are dropped and counted; the real
# member's series and the node table are untouched. A real store of another uid is a member,
# unless --target-uid, --target-cgroup or --target-pidns names whose stores count.
. "$(dirname "$0")/lib.sh"
need_root
command -v gcc >/dev/null || fail "needs gcc"

gcc -O1 -o "$E2E_TMP/forge" "$(dirname "$0")/forge_probes.c" || fail "cannot build the forger"
chmod 0755 "$E2E_TMP" "$E2E_TMP/forge"
chmod 0755 "$METASTORE"

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
ctl lease grant 600 >/dev/null

# file_offset SYMBOL: where SYMBOL's code is in the file (its address in the executable
# segment, minus that segment's address, plus its file offset).
file_offset() {
	local addr seg
	addr=$(nm "$METASTORE" | awk -v s="$1" '$3 == s { print $1 }')
	[ -n "$addr" ] || fail "no symbol $1"
	seg=$(readelf -lW "$METASTORE" | awk '$1 == "LOAD" && / R E / { print $2, $3 }' | head -1)
	set -- $seg
	printf '0x%x\n' $((0x$addr - $2 + $1))
}
scrape >"$E2E_TMP/m0"
setpriv --reuid nobody --regid nogroup --clear-groups "$E2E_TMP/forge" "$METASTORE" \
	"$(file_offset ms_probe_raft_status)" "$(file_offset ms_probe_conn_reject)" \
	"$(file_offset ms_probe_lease_active)" "$NODE" || fail "the forger failed"
sleep 0.5
scrape >"$E2E_TMP/m1"
assert_sample "$E2E_TMP/m1" metastore_agent_foreign_process_total 65
assert_sample "$E2E_TMP/m1" 'metastore_agent_unattributed_total{subsystem="conn"}' 5
assert_sample "$E2E_TMP/m1" 'metastore_agent_unattributed_total{subsystem="lease"}' 1
assert_sample "$E2E_TMP/m1" 'metastore_agent_table_full_total{subsystem="member"}' 0
# exactly the real member, with its own values
[ "$(grep -c '^metastore_up{' "$E2E_TMP/m1")" = 1 ] || fail "members: $(grep '^metastore_up{' "$E2E_TMP/m1")"
assert_node_sample "$E2E_TMP/m1" "$NODE" metastore_up 1
assert_node_sample "$E2E_TMP/m1" "$NODE" raft_term "$(sample_value "$E2E_TMP/m0" "$(node_series raft_term "$NODE")")"
assert_node_sample "$E2E_TMP/m1" "$NODE" grpc_server_connections_rejected_total 0
assert_node_sample "$E2E_TMP/m1" "$NODE" lease_active_total 1
# the forger's calls did reach the probes (the uprobes fired in its process)
hits() { sample_value "$1" 'metastore_agent_probe_hits_total{subsystem="conn",function="ms_probe_conn_reject"}'; }
[ "$(( $(hits "$E2E_TMP/m1") - $(hits "$E2E_TMP/m0") ))" = 5 ] || fail "the forged calls did not fire the probes"

# A real store run by another user is a member (it runs the probed executable) unless
# --target-uid says whose processes count: nobody's store, counted by the agent above and
# ignored by one with --target-uid 0 (this test's stores run as root).
OTHER_PORT=$(free_port)
mkdir -p "$E2E_TMP/data-nobody" && chown nobody "$E2E_TMP/data-nobody"
setpriv --reuid nobody --regid nogroup --clear-groups "$METASTORE" --name other \
	--listen "127.0.0.1:$OTHER_PORT" --data-dir "$E2E_TMP/data-nobody" >"$E2E_TMP/metastore-nobody.log" 2>&1 &
E2E_PIDS+=("$!")
wait_until 10 grep -q "serving gRPC on" "$E2E_TMP/metastore-nobody.log" || fail "nobody's store did not start"
OTHER=$(sed -n 's/.* id \([0-9a-f]*\), .*/\1/p' "$E2E_TMP/metastore-nobody.log")
wait_until 5 bash -c "[ \"\$(curl -sf http://127.0.0.1:$AGENT_PORT/metrics | grep -c '^metastore_up{.*} 1\$')\" = 2 ]" ||
	fail "without a filter nobody's store is not a member: $(scrape | grep ^metastore_up)"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all --target-uid 0
etcdctl --endpoints="127.0.0.1:$OTHER_PORT" put x y >/dev/null
ctl put x y >/dev/null
scrape >"$E2E_TMP/m2"
[ "$(grep -c '^metastore_up{' "$E2E_TMP/m2")" = 1 ] || fail "members with --target-uid 0: $(grep '^metastore_up{' "$E2E_TMP/m2")"
assert_node_sample "$E2E_TMP/m2" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
grep -q "node=\"$OTHER\"" "$E2E_TMP/m2" && fail "nobody's store has series with --target-uid 0"
filtered=$(sample_value "$E2E_TMP/m2" metastore_agent_filtered_process_total)
[ "${filtered:-0}" -ge 1 ] || fail "nobody's status reports not counted as filtered: '$filtered'"

# --target-cgroup: only a store in that cgroup v2 counts (created here under the v2 mount).
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then V2=/sys/fs/cgroup; else V2=/sys/fs/cgroup/unified; fi
CG=ms-e2e-$$
mkdir "$V2/$CG" || fail "cannot create cgroup $V2/$CG"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all --target-cgroup "/$CG"
CG_PORT=$(free_port)
bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$V2/$CG" "$METASTORE" --name incg \
	--listen "127.0.0.1:$CG_PORT" --data-dir "$E2E_TMP/data-cg" >"$E2E_TMP/metastore-cg.log" 2>&1 &
CG_PID=$!
E2E_PIDS+=("$CG_PID")
wait_until 10 grep -q "serving gRPC on" "$E2E_TMP/metastore-cg.log" || fail "the store in $CG did not start"
INCG=$(sed -n 's/.* id \([0-9a-f]*\), .*/\1/p' "$E2E_TMP/metastore-cg.log")
etcdctl --endpoints="127.0.0.1:$CG_PORT" put x y >/dev/null
ctl put x y >/dev/null
scrape >"$E2E_TMP/m3"
[ "$(grep '^metastore_up{' "$E2E_TMP/m3")" = "metastore_up{node=\"$INCG\"} 1" ] ||
	fail "members with --target-cgroup: $(grep '^metastore_up{' "$E2E_TMP/m3")"
assert_node_sample "$E2E_TMP/m3" "$INCG" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
kill -TERM "$CG_PID"
wait "$CG_PID" 2>/dev/null || true
rmdir "$V2/$CG" 2>/dev/null || true
# --target-pidns: a store in a new pid namespace is no member, one in this test's is.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all --target-pidns /proc/self/ns/pid
NS_PORT=$(free_port)
unshare --pid --fork --kill-child "$METASTORE" --name inns --listen "127.0.0.1:$NS_PORT" \
	--data-dir "$E2E_TMP/data-ns" >"$E2E_TMP/metastore-ns.log" 2>&1 &
NS_PID=$!
E2E_PIDS+=("$NS_PID")
wait_until 10 grep -q "serving gRPC on" "$E2E_TMP/metastore-ns.log" || fail "the store in a new pid namespace did not start"
etcdctl --endpoints="127.0.0.1:$NS_PORT" put x y >/dev/null
ctl put x y >/dev/null
INNS=$(sed -n 's/.* id \([0-9a-f]*\), .*/\1/p' "$E2E_TMP/metastore-ns.log")
scrape >"$E2E_TMP/m4"
# this test's stores (root's, and nobody's from above) are in its pid namespace
[ "$(grep '^metastore_up{' "$E2E_TMP/m4" | sort)" = "$(printf 'metastore_up{node="%s"} 1\n' "$NODE" "$OTHER" | sort)" ] ||
	fail "members with --target-pidns: $(grep '^metastore_up{' "$E2E_TMP/m4")"
grep -q "node=\"$INNS\"" "$E2E_TMP/m4" && fail "the store in another pid namespace has series"
assert_node_sample "$E2E_TMP/m4" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1
# unshare waits for its child and does not pass SIGTERM on: end the store itself
NS_CHILD=$(pgrep -P "$NS_PID" || true)
E2E_PIDS+=(${NS_CHILD:+"$NS_CHILD"})
[ -n "$NS_CHILD" ] && kill -TERM "$NS_CHILD"
wait "$NS_PID" 2>/dev/null || true

expect_rc=0
"$AGENT" --binary "$METASTORE" --target-cgroup /no-such-cgroup-here 2>"$E2E_TMP/err" || expect_rc=$?
[ "$expect_rc" = 1 ] && [ "$(cat "$E2E_TMP/err")" = "metastore-agent: --target-cgroup: $V2/no-such-cgroup-here is no cgroup v2 directory" ] ||
	fail "bad --target-cgroup: exit $expect_rc, $(cat "$E2E_TMP/err")"
echo "PASS $E2E_NAME"
