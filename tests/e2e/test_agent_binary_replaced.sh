#!/usr/bin/env bash
# End-to-end: the --binary file replaced on disk (new inode, as cp + mv or a package upgrade
# does) while the agent runs: the agent attaches to the new file by itself, the restarted
# store is counted again, counters never go backwards, processes of the old file keep being
# counted, and a replacement that cannot be probed shows in /health and the metrics.
# Also: the agent started before any store process stays healthy with no series; while the
# member is stopped /health names it.
. "$(dirname "$0")/lib.sh"
need_root

# one record (the end, carrying the begin time) per call
grpc_records='metastore_agent_probe_records_total{subsystem="grpc",function="ms_probe_batch"}'
reattached=metastore_agent_binary_reattach_total
reattach_errors=metastore_agent_binary_reattach_errors_total
ORIG=$E2E_TMP/metastore.orig
cp "$METASTORE" "$ORIG"

AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
health() { curl -s --max-time 5 "http://127.0.0.1:$AGENT_PORT/health"; }
# replace SOURCE: puts a copy of SOURCE at $METASTORE under a new inode (cp + mv).
# revision FILE: the value of the one mvcc_current_revision series (its node label is the
# member id, which other work may change).
revision() { awk '/^mvcc_current_revision\{/ { print $2 }' "$1" | tr '\n' ' ' | sed 's/ $//'; }
replace() {
	local before
	before=$(stat -c %i "$METASTORE")
	cp "$1" "$METASTORE.tmp"
	mv "$METASTORE.tmp" "$METASTORE"
	[ "$(stat -c %i "$METASTORE")" != "$before" ] || fail "replacing kept inode $before"
}

# No store process yet: healthy, attached, and no series of the store's families.
sleep 1
[ "$(health)" = ok ] || fail "/health without a store: $(health)"
scrape >"$E2E_TMP/m0"
for fam in grpc_server_request_total grpc_server_request_duration_seconds storage_operation_total \
	storage_operation_duration_seconds mvcc_current_revision grpc_server_panic_total; do
	grep -q "^$fam[{ _]" "$E2E_TMP/m0" && fail "$fam has series before any store ran"
done
# Every series carries its member: none before a member reported, only the families' TYPE.
for fam in grpc_server_in_flight_requests grpc_server_active_connections watch_active_total \
	watch_events_sent_total lease_active_total lease_operations_total mvcc_compaction_total \
	metastore_up; do
	grep -q "^# TYPE $fam " "$E2E_TMP/m0" || fail "$fam missing"
	grep -q "^$fam[{ ]" "$E2E_TMP/m0" && fail "$fam has series before any store ran"
done
assert_sample "$E2E_TMP/m0" "$reattached" 0
assert_sample "$E2E_TMP/m0" "$reattach_errors" 0
assert_sample "$E2E_TMP/m0" 'metastore_agent_probe_attached{subsystem="grpc",function="ms_probe_batch"}' 1

# Generation 1: the original file.
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
put_ok=$(node_series 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' "$NODE")
down="member $NODE is down (its process exited or stopped reporting)"
for i in 1 2 3; do ctl put "a$i" v >/dev/null; done
scrape >"$E2E_TMP/m1"
assert_sample "$E2E_TMP/m1" "$put_ok" 3
assert_sample "$E2E_TMP/m1" "$grpc_records" 3
rev=$(ctl get a1 -w json | jq -r .header.revision)
[ "$(revision "$E2E_TMP/m1")" = "$rev" ] || fail "revision '$(revision "$E2E_TMP/m1")', the store says $rev"

# Stop, replace the file (new inode), start again from the new file.
kill -TERM "$MS_PID"
wait "$MS_PID" 2>/dev/null || true
replace "$ORIG"
wait_until 5 metric_is "$reattached" 1 || fail "no re-attach after the binary was replaced: $(scrape | grep reattach)"
[ "$(health)" = "unhealthy: $down" ] || fail "/health after re-attach, member stopped: $(health)"
start_metastore "$MS_PORT"
[ "$(health)" = ok ] || fail "/health with the member back: $(health)"
for i in 1 2; do ctl put "b$i" v >/dev/null; done
rev=$(ctl get b1 -w json | jq -r .header.revision)
scrape >"$E2E_TMP/m2"
assert_sample "$E2E_TMP/m2" "$put_ok" 5
assert_node_sample "$E2E_TMP/m2" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Range",code="OK"}' 2
[ "$(revision "$E2E_TMP/m2")" = "$rev" ] || fail "revision of the new store '$(revision "$E2E_TMP/m2")', it says $rev"
assert_sample "$E2E_TMP/m2" "$grpc_records" 7
assert_node_sample "$E2E_TMP/m2" "$NODE" 'grpc_server_in_flight_requests{method="/etcdserverpb.KV/Put"}' 0
assert_sample "$E2E_TMP/m2" "$reattach_errors" 0
check_exposition "$E2E_TMP/m2"

# Replaced while the store runs: the running process (old, deleted file) is still counted,
# and a process started from the new file too.
OLD_PID=$MS_PID OLD_PORT=$MS_PORT
replace "$ORIG"
wait_until 5 metric_is "$reattached" 2 || fail "no second re-attach"
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
ctl put c1 v >/dev/null
MS_PORT=$OLD_PORT ctl put c2 v >/dev/null
scrape >"$E2E_TMP/m3"
assert_sample "$E2E_TMP/m3" "$put_ok" 7
assert_sample "$E2E_TMP/m3" "$grpc_records" 9
# both processes are member $NODE (same name): one series, their sum
assert_node_sample "$E2E_TMP/m3" "$NODE" grpc_server_active_connections 0
kill -TERM "$OLD_PID" "$MS_PID"
wait "$OLD_PID" "$MS_PID" 2>/dev/null || true

# A file that cannot be probed (stripped): counted as an error, /health says why.
cp "$ORIG" "$E2E_TMP/stripped" && strip "$E2E_TMP/stripped"
replace "$E2E_TMP/stripped"
wait_until 5 metric_is "$reattach_errors" 1 || fail "stripped replacement not reported"
want="unhealthy: cannot attach to the replaced binary: symbol ms_probe_batch (subsystem grpc) not found in $METASTORE (stripped binary: no .symtab)"
[ "$(health)" = "$want" ] || fail "/health with a stripped binary: '$(health)'"
grep -qxF "metastore-agent: cannot attach to the replaced binary: ${want#unhealthy: cannot attach to the replaced binary: }" \
	"$E2E_TMP/agent-$AGENT_PORT.log" || fail "failed re-attach not logged: $(cat "$E2E_TMP/agent-$AGENT_PORT.log")"
[ "$(grep -c 'attached to the replaced binary' "$E2E_TMP/agent-$AGENT_PORT.log")" = 2 ] ||
	fail "re-attachments not logged once each: $(cat "$E2E_TMP/agent-$AGENT_PORT.log")"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AGENT_PORT/health")
[ "$code" = 503 ] || fail "/health with a stripped binary: HTTP $code"
sleep 1
assert_sample <(scrape) "$reattach_errors" 1 # reported once, not retried while unchanged
# Scrapes still work and counters kept their values.
scrape >"$E2E_TMP/m4"
assert_sample "$E2E_TMP/m4" "$put_ok" 7
assert_sample "$E2E_TMP/m4" "$reattached" 2

# A good file again: attached, healthy, counted on top.
replace "$ORIG"
wait_until 5 metric_is "$reattached" 3 || fail "no re-attach after a good binary came back"
[ "$(health)" = "unhealthy: $down" ] || fail "/health after recovery, member stopped: $(health)"
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
ctl put d1 v >/dev/null
scrape >"$E2E_TMP/m5"
assert_sample "$E2E_TMP/m5" "$put_ok" 8
assert_sample "$E2E_TMP/m5" "$grpc_records" 10
assert_sample "$E2E_TMP/m5" "$reattach_errors" 1
check_exposition "$E2E_TMP/m5"

# The watcher is a child of the agent and goes with it on SIGTERM.
helper=$(pgrep -P "$AGENT_PID" || true)
[ -n "$helper" ] || fail "no --binary watcher process under the agent"
[ "$(cat "/proc/$helper/comm")" = agent-binwatch ] || fail "watcher comm '$(cat "/proc/$helper/comm")'"
ls -l "/proc/$helper/fd" | grep -q 'socket:' && fail "the privileged watcher holds a socket"
# It keeps CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF (what attaching needs) and
# CAP_DAC_READ_SEARCH (reading the binary), nothing else.
for f in CapEff CapPrm CapBnd; do
	grep -qx "$f:	000000c000200004" "/proc/$helper/status" || fail "watcher $(grep "^$f" "/proc/$helper/status")"
done
for f in CapInh CapAmb; do
	grep -qx "$f:	0000000000000000" "/proc/$helper/status" || fail "watcher $(grep "^$f" "/proc/$helper/status")"
done
grep -qx "NoNewPrivs:	1" "/proc/$helper/status" || fail "watcher without no_new_privs"
kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
[ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM"
kill -0 "$helper" 2>/dev/null && fail "watcher $helper outlived the agent"
echo "PASS $E2E_NAME"
