#!/usr/bin/env bash
# The agent on an unmodified Go etcd (Debian's 3.4.23): gRPC calls by method and code, WAL
# fsyncs and backend commits, lease grants/revokes/renewals/expiries, compactions, watch events
# sent and open watchers, the current revision and the applied index equal etcd's own /metrics
# series by series, in-flight back to 0, with --binary (uprobe_multi links where the kernel
# has them) and --pid (perf-event uprobes); an unknown build without DWARF and a subsystem Go targets lack
# are refused in one line with nothing attached.
source "$(dirname "$0")/lib.sh"

need_root
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server)"
# Its own copy: uprobes attach to an inode, so etcds other tests run are not counted here.
cp /usr/bin/etcd "$E2E_TMP/etcd"
ETCD=$E2E_TMP/etcd

EP=$(free_port)
PP=$(free_port)
"$ETCD" --name go-e2e --data-dir "$E2E_TMP/etcd-data" \
	--listen-client-urls "http://127.0.0.1:$EP" --advertise-client-urls "http://127.0.0.1:$EP" \
	--listen-peer-urls "http://127.0.0.1:$PP" --initial-advertise-peer-urls "http://127.0.0.1:$PP" \
	--initial-cluster "go-e2e=http://127.0.0.1:$PP" >"$E2E_TMP/etcd.log" 2>&1 &
ETCD_PID=$!
E2E_PIDS+=("$ETCD_PID")
MS_PORT=$EP
wait_until 20 ctl endpoint health || fail "etcd did not start"
# every family carries the member id etcdctl prints (the member subsystem reads it from etcd)
NODE=$(ctl member list | cut -d, -f1)
[ -n "$NODE" ] || fail "etcd's member id missing"

# Refusals first: nothing may be attached after them.
out=$("$AGENT" --binary "$ETCD" --probes grpc,auth --listen 127.0.0.1:0 2>&1) &&
	fail "auth on a Go target was accepted"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "refusal is not one line: $out"
grep -q "subsystem auth is not available for Go targets" <<<"$out" || fail "refusal: $out"
objcopy -R .note.gnu.build-id "$ETCD" "$E2E_TMP/etcd-unknown"
out=$("$AGENT" --binary "$E2E_TMP/etcd-unknown" --probes grpc --listen 127.0.0.1:0 2>&1) &&
	fail "an unknown build without DWARF was accepted"
grep -q "no DWARF and build ID (none) is not in the offsets table" <<<"$out" || fail "refusal: $out"

AGENT_PORT=$(free_port)
PROBES=grpc,storage,mvcc,raft,lease,watch
start_agent "$AGENT_PORT" --binary "$ETCD" --probes "$PROBES"
PID_PORT=$(free_port)
# the --pid agent takes perf-event uprobes (what kernels before 6.6 have), the other one
# uprobe_multi links where the kernel has them: both must count the same
"$AGENT" --listen "127.0.0.1:$PID_PORT" --pid "$ETCD_PID" --probes "$PROBES" --go-perf-event-links \
	>"$E2E_TMP/agent-pid.log" 2>&1 &
E2E_PIDS+=("$!")
wait_until 20 curl -sf "http://127.0.0.1:$PID_PORT/health" || fail "the --pid agent did not start"
grep -q "Go target: sites attached as perf_event links" "$E2E_TMP/agent-pid.log" ||
	fail "the --pid agent's sites are not perf-event uprobes: $(cat "$E2E_TMP/agent-pid.log")"
links=$(sed -n 's/.*Go target: sites attached as \([a-z_]*\) links.*/\1/p' "$E2E_TMP/agent-$AGENT_PORT.log")
[ -n "$links" ] || fail "the --binary agent does not say how its sites are attached"

etcd_metrics() { curl -sf --max-time 10 "http://127.0.0.1:$EP/metrics"; }

# etcd's counts in the agent's terms: "METHOD|CODE N" from grpc_server_handled_total,
# "wal|- N" / "bbolt|- N" from the disk histograms' counts, the lease counters (revoked
# includes expiries) and compactions from the compaction histogram's count.
etcd_counts() {
	awk '
	/^grpc_server_handled_total\{/ {
		code = $0; sub(/.*grpc_code="/, "", code); sub(/".*/, "", code)
		m = $0; sub(/.*grpc_method="/, "", m); sub(/".*/, "", m)
		s = $0; sub(/.*grpc_service="/, "", s); sub(/".*/, "", s)
		print "/" s "/" m "|" code, $2
	}
	/^etcd_disk_wal_fsync_duration_seconds_count / { print "wal|-", $2 }
	/^etcd_disk_backend_commit_duration_seconds_count / { print "bbolt|-", $2 }
	/^etcd_debugging_lease_granted_total / { print "lease|granted", $2 }
	/^etcd_debugging_lease_revoked_total / { print "lease|revoked", $2 }
	/^etcd_debugging_lease_renewed_total / { print "lease|renewed", $2 }
	/^etcd_debugging_server_lease_expired_total / { print "lease|expired", $2 }
	/^etcd_debugging_mvcc_events_total / { print "watch|events", $2 }
	/^etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count / {
		print "mvcc|compactions", $2
	}' "$1" | sort
}

# The agent's counts, same shape (storage summed over status).
agent_counts() {
	awk '
	/^grpc_server_request_total\{/ {
		m = $0; sub(/.*method="/, "", m); sub(/".*/, "", m)
		c = $0; sub(/.*code="/, "", c); sub(/".*/, "", c)
		print m "|" c, $2
	}
	/^storage_operation_total\{node="[0-9a-f]+",operation="fsync",storage="wal"/ { wal += $2 }
	/^storage_operation_total\{node="[0-9a-f]+",operation="commit",storage="bbolt"/ { bolt += $2 }
	/^lease_operations_total\{node="[0-9a-f]+",operation="grant",status="ok"\}/ { granted = $2 }
	/^lease_operations_total\{node="[0-9a-f]+",operation="revoke",status="ok"\}/ { revoked += $2 }
	/^lease_operations_total\{node="[0-9a-f]+",operation="expire",status="ok"\}/ { revoked += $2; expired = $2 }
	/^lease_operations_total\{node="[0-9a-f]+",operation="renew",status="ok"\}/ { renewed = $2 }
	/^mvcc_compaction_total\{node="[0-9a-f]+"\} / { compactions = $2 }
	/^watch_events_sent_total\{/ { events += $2 }
	END {
		print "wal|-", wal + 0; print "bbolt|-", bolt + 0
		print "lease|granted", granted + 0; print "lease|revoked", revoked + 0
		print "lease|renewed", renewed + 0; print "lease|expired", expired + 0
		print "mvcc|compactions", compactions + 0; print "watch|events", events + 0
	}' "$1" | sort
}

# each agent counts etcd's calls once it knows etcd's member
for p in "$AGENT_PORT" "$PID_PORT"; do
	AGENT_PORT=$p wait_member_known "$NODE"
done
# Nothing runs against etcd now: its counts from here on are what the agents must see.
sleep 1
etcd_metrics >"$E2E_TMP/etcd-before.txt"

# The load: puts, gets, deletes, txns, a failing call, a snapshot, leases (one left to
# expire), watches, a compaction.
for i in $(seq 1 20); do ctl put "k$i" "v$i" >/dev/null; done
for i in $(seq 1 7); do ctl get "k$i" >/dev/null; done
ctl get k --prefix >/dev/null
for i in $(seq 1 3); do ctl del "k$i" >/dev/null; done
for i in 1 2; do
	printf 'value("k10") = "v10"\n\nput k10 t%s\n\nput k11 f\n\n' "$i" | ctl txn >/dev/null
done
ctl compaction 1000000 >/dev/null 2>&1 && fail "a compaction to a future revision succeeded"
# a stream whose handler sends on its own goroutine (Maintenance/Snapshot): its end is the
# handler's status, not one of its sends
ctl snapshot save "$E2E_TMP/snap.db" >"$E2E_TMP/snap.log" 2>&1 || fail "etcdctl snapshot save failed: $(cat "$E2E_TMP/snap.log")"
lease=$(ctl lease grant 60 | awk '{print $2}')
ctl put --lease="$lease" leased x >/dev/null
ctl lease keep-alive --once "$lease" >/dev/null
lease2=$(ctl lease grant 60 | awk '{print $2}')
ctl lease revoke "$lease2" >/dev/null
ctl lease grant 2 >/dev/null
timeout 3 etcdctl --endpoints="127.0.0.1:$EP" watch w >"$E2E_TMP/watch.out" 2>&1 &
WATCH_PID=$!
E2E_PIDS+=("$WATCH_PID")
watch_in_flight() {
	metric_is "$(node_series 'grpc_server_in_flight_requests{method="/etcdserverpb.Watch/Watch"}' "$NODE")" 1 &&
		metric_is "$(node_series watch_active_total "$NODE")" 1
}
wait_until 10 watch_in_flight || fail "the watch stream or its watcher is not seen"
watchers_before=$(sample_value "$E2E_TMP/etcd-before.txt" etcd_debugging_mvcc_watcher_total)
[ "$(etcd_metrics | sample_value /dev/stdin etcd_debugging_mvcc_watcher_total)" = $((watchers_before + 1)) ] ||
	fail "etcd does not count one more watcher"
ctl put w 1 >/dev/null
ctl del w >/dev/null
wait "$WATCH_PID" || true
rev=$(ctl get k10 -w json | sed 's/.*"revision":\([0-9]*\).*/\1/')
ctl compaction "$rev" >/dev/null

# The 2 s lease expires (a revoke through raft: a WAL fsync and a commit); then the counts
# settle. etcd counts a call after it returned: wait until both sides agree, bounded.
same() {
	etcd_metrics >"$E2E_TMP/etcd-after.txt" && scrape >"$E2E_TMP/agent.txt" &&
		curl -sf "http://127.0.0.1:$PID_PORT/metrics" >"$E2E_TMP/agent-pid.txt" || return 1
	join -a1 -a2 -e 0 -o 0,1.2,2.2 <(etcd_counts "$E2E_TMP/etcd-before.txt") \
		<(etcd_counts "$E2E_TMP/etcd-after.txt") |
		awk '$3 - $2 != 0 { print $1, $3 - $2 }' | sort >"$E2E_TMP/etcd-delta.txt"
	agent_counts "$E2E_TMP/agent.txt" | awk '$2 != 0' >"$E2E_TMP/agent-delta.txt"
	agent_counts "$E2E_TMP/agent-pid.txt" | awk '$2 != 0' >"$E2E_TMP/agent-pid-delta.txt"
	grep -q '^bbolt|- ' "$E2E_TMP/etcd-delta.txt" &&
		[ "$(grep -c . "$E2E_TMP/etcd-delta.txt")" -gt 8 ] &&
		cmp -s "$E2E_TMP/etcd-delta.txt" "$E2E_TMP/agent-delta.txt" &&
		cmp -s "$E2E_TMP/etcd-delta.txt" "$E2E_TMP/agent-pid-delta.txt"
}
sleep 4
wait_until 15 same || {
	echo "etcd's own counts (delta) vs the agent's (--binary) and the --pid agent's:" >&2
	diff "$E2E_TMP/etcd-delta.txt" "$E2E_TMP/agent-delta.txt" >&2 || true
	diff "$E2E_TMP/etcd-delta.txt" "$E2E_TMP/agent-pid-delta.txt" >&2 || true
	fail "the agent's counts differ from etcd's /metrics"
}

# The exact load is visible as such, not only as agreement.
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 22
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/DeleteRange",code="OK"}' 4
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Txn",code="OK"}' 2
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Compact",code="OutOfRange"}' 1
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Compact",code="OK"}' 1
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.Lease/LeaseGrant",code="OK"}' 3
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.Lease/LeaseRevoke",code="OK"}' 1
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.Maintenance/Snapshot",code="OK"}' 1
for op in grant:3 revoke:1 renew:1 expire:1; do
	assert_node_sample "$E2E_TMP/agent.txt" "$NODE" "lease_operations_total{operation=\"${op%:*}\",status=\"ok\"}" "${op#*:}"
done
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'mvcc_compaction_total' 1
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'watch_events_sent_total{type="PUT"}' 1
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'watch_events_sent_total{type="DELETE"}' 1
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'watch_active_total' 0
assert_sample "$E2E_TMP/etcd-after.txt" etcd_debugging_mvcc_watcher_total "$watchers_before"
# one lease is left: the one kept alive
assert_node_sample "$E2E_TMP/agent.txt" "$NODE" 'lease_active_total' 1
# the gauges: etcd's own values, under the member id etcdctl prints
node=$NODE
rev=$(sample_value "$E2E_TMP/etcd-after.txt" etcd_debugging_mvcc_current_revision)
applied=$(sample_value "$E2E_TMP/etcd-after.txt" etcd_server_proposals_applied_total)
[ -n "$node" ] && [ -n "$rev" ] && [ -n "$applied" ] || fail "etcd's member id or gauges missing"
for f in agent.txt agent-pid.txt; do
	assert_sample "$E2E_TMP/$f" "mvcc_current_revision{node=\"$node\"}" "$rev"
	assert_sample "$E2E_TMP/$f" "raft_applied_index{node=\"$node\"}" "$applied"
done
# every in-flight gauge is back to 0
grep '^grpc_server_in_flight_requests{' "$E2E_TMP/agent.txt" | grep -qv ' 0$' &&
	fail "in-flight not back to 0: $(grep '^grpc_server_in_flight_requests{' "$E2E_TMP/agent.txt" | grep -v ' 0$')"
# liveness from the process table; no leadership (etcd reports none to the agent) and no
# families no Go site measures
for f in agent.txt agent-pid.txt; do
	assert_sample "$E2E_TMP/$f" "metastore_up{node=\"$node\"}" 1
	grep -q '^raft_is_leader\|^raft_term\|^raft_leader_changes_total\|^grpc_server_panic_total\|^grpc_server_rate_limit_hits_total' \
		"$E2E_TMP/$f" && fail "$f: a family the Go target does not measure is exported"
done
# no probe hit failed a sanity check (7 checks for each of the 6 subsystems and the member object)
[ "$(grep -c '^metastore_agent_go_sanity_failures_total{' "$E2E_TMP/agent.txt")" = 49 ] ||
	fail "sanity counters missing"
grep '^metastore_agent_go_sanity_failures_total{' "$E2E_TMP/agent.txt" | grep -qv ' 0$' &&
	fail "sanity checks failed: $(grep '^metastore_agent_go_sanity' "$E2E_TMP/agent.txt" | grep -v ' 0$')"
# the 16 probe sites (1 of them the member subsystem's), each with how the kernel handles its
# hits: none is single-stepped
[ "$(grep -c '^metastore_agent_go_probe_site{' "$E2E_TMP/agent.txt")" = 16 ] || fail "probe sites missing"
grep -q '^metastore_agent_go_probe_site{subsystem="grpc",function="google.golang.org/grpc.(\*Server).handleStream",site="stack_check_jbe",kernel="emulated"} 1$' \
	"$E2E_TMP/agent.txt" || fail "handleStream's site missing"
grep -q '^metastore_agent_go_probe_site{subsystem="storage",function="go.etcd.io/etcd/mvcc/backend.(\*batchTx).commit",site="after_call",kernel="nop5"} 1$' \
	"$E2E_TMP/agent.txt" || fail "the backend commit's end is not on its nop5"
grep '^metastore_agent_go_probe_site{' "$E2E_TMP/agent.txt" | grep -q 'kernel="single_step"' &&
	fail "a single-stepped site: $(grep 'kernel="single_step"' "$E2E_TMP/agent.txt")"
check_exposition "$E2E_TMP/agent.txt"
echo "agent ($links links) == agent (perf_event links) == etcd /metrics: $(tr '\n' ' ' <"$E2E_TMP/agent-delta.txt")"
