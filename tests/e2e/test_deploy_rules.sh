#!/usr/bin/env bash
# Checks deploy/: Prometheus config and alert rules (promtool), alert unit tests, the Grafana
# dashboard JSON (jq) and the systemd units (systemd-analyze verify). Needs no root.
. "$(dirname "$0")/lib.sh"

D=deploy
for tool in promtool jq systemd-analyze; do
	command -v "$tool" >/dev/null || fail "needs $tool (Debian packages: prometheus, jq, systemd)"
done

promtool check config "$D/prometheus.yml" >"$E2E_TMP/config.log" 2>&1 ||
	fail "promtool check config: $(cat "$E2E_TMP/config.log")"
promtool check rules "$D/alerts.yml" >"$E2E_TMP/rules.log" 2>&1 ||
	fail "promtool check rules: $(cat "$E2E_TMP/rules.log")"
promtool test rules "$D/alerts_test.yml" >"$E2E_TMP/rules-test.log" 2>&1 ||
	fail "promtool test rules failed"

# Every alert is tested both firing (exp_alerts with labels) and quiet (exp_alerts: []).
alerts=$(awk '$1 == "-" && $2 == "alert:" { print $3 }' "$D/alerts.yml")
[ -n "$alerts" ] || fail "no alerts found in $D/alerts.yml"
for a in $alerts; do
	awk -v a="$a" '
		$1 == "alertname:" { cur = $2 }
		$1 == "exp_alerts:" && cur == a { if ($2 == "[]") quiet = 1; else firing = 1 }
		END { exit !(quiet && firing) }' "$D/alerts_test.yml" ||
		fail "alert $a is not tested both firing and quiet in $D/alerts_test.yml"
done

dash="$D/grafana-dashboard.json"
jq empty "$dash" 2>"$E2E_TMP/jq.log" || fail "$dash is not valid JSON: $(cat "$E2E_TMP/jq.log")"
jq -e '.schemaVersion >= 36
	and any(.templating.list[]; .type == "datasource" and .query == "prometheus")
	and all(.panels[] | select(.type != "row"); .datasource.uid == "${datasource}"
		and (.targets | length) > 0
		and all(.targets[]; .datasource.uid == "${datasource}" and (.expr | length) > 0))' \
	"$dash" >/dev/null || fail "$dash: every panel must query the \$datasource variable"
# Panel ids and positions must be unique or Grafana silently drops panels.
jq -e '[.panels[].id] | length == (unique | length)' "$dash" >/dev/null ||
	fail "$dash: duplicate panel ids"
exprs=$(jq -r '.panels[].targets[]?.expr' "$dash")
for m in grpc_server_request_total grpc_server_request_duration_seconds_bucket \
	grpc_server_in_flight_requests grpc_server_active_connections grpc_server_panic_total \
	grpc_server_rate_limit_hits_total grpc_server_connections_rejected_total \
	storage_operation_total storage_operation_duration_seconds_bucket mvcc_current_revision \
	mvcc_compaction_total lease_active_total lease_operations_total watch_active_total \
	watch_events_sent_total raft_applied_index raft_commit_duration_seconds_bucket \
	auth_authentication_total auth_authorization_total metastore_up raft_is_leader raft_term \
	raft_leader_changes_total metastore_agent_probe_attached \
	metastore_agent_bpf_prog_run_time_seconds_total metastore_agent_record_faults_total \
	metastore_agent_table_full_total metastore_agent_binary_reattach_total \
	metastore_agent_binary_reattach_errors_total metastore_agent_map_read_errors_total \
	metastore_limit; do
	grep -q "$m" <<<"$exprs" || fail "$dash has no panel on $m"
done
# Grafana conventions: windows follow the scrape interval ($__rate_interval, never a fixed
# [1m]); every panel says what it shows; one unit per panel; a member (node) variable that
# every store query follows; rows for status, RED, storage, raft, leases and the agent.
bad=$(grep -E '\[[0-9]+[smh]\]' <<<"$exprs" || true)
[ -z "$bad" ] || fail "$dash: fixed range instead of \$__rate_interval: $bad"
jq -e 'all(.panels[] | select(.type != "row"); (.description | length) > 0)' "$dash" >/dev/null ||
	fail "$dash: a panel without a description"
jq -e 'all(.panels[] | select(.type != "row"); (.fieldConfig.defaults.unit | length) > 0)' "$dash" >/dev/null ||
	fail "$dash: a panel without a unit"
jq -e 'any(.templating.list[]; .name == "node" and .includeAll and .multi)' "$dash" >/dev/null ||
	fail "$dash: no multi-value node variable"
store_fams='grpc_server_|storage_operation_|mvcc_|raft_|lease_|watch_|auth_|metastore_up|metastore_limit'
bad=$(grep -E "($store_fams)" <<<"$exprs" | grep -v 'node=~"\$node"' || true)
[ -z "$bad" ] || fail "$dash: store queries without the node filter: $bad"
for r in Status gRPC Storage Raft Leases Agent; do
	jq -e --arg r "$r" 'any(.panels[]; .type == "row" and (.title | startswith($r)))' "$dash" >/dev/null ||
		fail "$dash: no row $r"
done
grep -q '1024' <<<"$exprs" && fail "$dash: the connection limit is a constant in a query"

# verify needs the ExecStart binaries to exist: check copies that point at build/.
# It reports unknown keys and bad values as warnings with exit status 0, so any output fails.
for u in metastore metastore-agent; do
	sed "s#/usr/local/bin/#$PWD/build/#g" "$D/$u.service" >"$E2E_TMP/$u.service"
done
systemd-analyze verify "$E2E_TMP/metastore.service" "$E2E_TMP/metastore-agent.service" \
	>"$E2E_TMP/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$E2E_TMP/verify.log")"
[ ! -s "$E2E_TMP/verify.log" ] || fail "systemd-analyze verify: $(cat "$E2E_TMP/verify.log")"

echo "PASS $E2E_NAME"
