#!/usr/bin/env bash
# End-to-end: a process of another uid that maps the probed file (any user may read it) and
# calls its probe functions, claiming a real member's id and 64 invented ones, is counted
# nowhere: it does not run the probed executable. Its hits are dropped and counted; the real
# member's series and the node table are untouched.
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
echo "PASS $E2E_NAME"
