#!/usr/bin/env bash
# End-to-end with a real Prometheus: it scrapes the agent, loads deploy/alerts.yml, and its
# queries return the exact etcdctl load; every dashboard query evaluates.
. "$(dirname "$0")/lib.sh"
need_root
: "${PROMETHEUS:=/usr/bin/prometheus}"
[ -x "$PROMETHEUS" ] || fail "needs $PROMETHEUS (Debian package prometheus)"
command -v jq >/dev/null || fail "needs jq (Debian package jq)"

N_PUT1=10 # before the second batch, so Put has two different samples for rate()
N_PUT2=10
N_GET=10

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all

PROM_PORT=$(free_port)
cat >"$E2E_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/alerts.yml
scrape_configs:
  - job_name: metastore
    static_configs:
      - targets: ["127.0.0.1:$AGENT_PORT"]
EOF
"$PROMETHEUS" --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$E2E_TMP/prometheus.log" 2>&1 &
E2E_PIDS+=("$!")

# prom_query EXPR: the value of a one-sample instant-query result, empty if there is none;
# fails on a query error or on more than one sample.
prom_query() {
	local out
	out=$(curl -sf --max-time 5 --get --data-urlencode "query=$1" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query") || return 1
	jq -e '.status == "success" and (.data.result | length) <= 1' <<<"$out" >/dev/null || return 1
	jq -r '.data.result[0].value[1] // empty' <<<"$out"
}

# query_is EXPR VALUE: succeeds when the query returns exactly VALUE.
query_is() {
	[ "$(prom_query "$1")" = "$2" ]
}

# A scrape that began after time $1 (seconds, fractional) has been stored.
scraped_after() {
	local ts
	ts=$(prom_query 'timestamp(up{job="metastore"})') || return 1
	[ -n "$ts" ] && awk -v a="$ts" -v b="$1" 'BEGIN { exit !(a > b) }'
}

wait_until 30 query_is 'up{job="metastore"}' 1 || fail "Prometheus never scraped the agent"

# Before any call, every served method (39) is there at 0, with every code (17) in the
# request counter: the first panic, rate-limit hit or error is an increase().
query_is 'count(grpc_server_panic_total{job="metastore"} == 0)' 39 || fail "panic series not all at 0"
query_is 'count(grpc_server_rate_limit_hits_total{job="metastore"} == 0)' 39 ||
	fail "rate-limit series not all at 0"
query_is 'count(grpc_server_request_total{job="metastore"} == 0)' 663 ||
	fail "request series not all at 0"
query_is 'count(lease_operations_total{job="metastore"} == 0)' 20 || fail "lease series not all at 0"
query_is 'count(storage_operation_total{job="metastore"} == 0)' 25 ||
	fail "storage series not all at 0"

put_sel='grpc_server_request_total{job="metastore",method="/etcdserverpb.KV/Put",code="OK"}'
range_sel='grpc_server_request_total{job="metastore",method="/etcdserverpb.KV/Range",code="OK"}'
for i in $(seq $N_PUT1); do ctl put "k$i" "v$i" >/dev/null; done
wait_until 15 query_is "sum($put_sel)" "$N_PUT1" || fail "first Put batch not seen by Prometheus"
for i in $(seq $N_PUT2); do ctl put "k$((N_PUT1 + i))" "v$i" >/dev/null; done
for i in $(seq $N_GET); do ctl get "k$i" >/dev/null; done
# A watch the client closes: its stream ends Canceled, which is not a server-side error.
timeout -s INT 1 etcdctl --endpoints="127.0.0.1:$MS_PORT" watch w >/dev/null 2>&1 || true
watch_sel='grpc_server_request_total{job="metastore",method="/etcdserverpb.Watch/Watch",code="Canceled"}'
wait_until 10 query_is "sum($watch_sel)" 1 || fail "canceled Watch not counted once"
# Its series was there at 0 before: increase() sees its first call.
got=$(prom_query "sum(increase(${watch_sel}[1m]))")
awk -v v="$got" 'BEGIN { exit !(v + 0 > 0) }' || fail "increase() missed the first Watch: '$got'"
# Every call was counted when it ended, before etcdctl exited; two scrapes after that, the
# last sample holds the whole load.
loaded=$(date +%s.%N)
wait_until 15 scraped_after "$(awk -v t="$loaded" 'BEGIN { printf "%.3f", t + 1 }')" ||
	fail "no scrape after the load"

got=$(prom_query "sum($put_sel)")
[ "$got" = $((N_PUT1 + N_PUT2)) ] || fail "Put count: expected $((N_PUT1 + N_PUT2)), got '$got'"
got=$(prom_query "sum($range_sel)")
[ "$got" = "$N_GET" ] || fail "Range count: expected $N_GET, got '$got'"
got=$(prom_query 'sum(grpc_server_request_total{job="metastore"})')
[ "$got" = $((N_PUT1 + N_PUT2 + N_GET + 1)) ] || fail "request total (and the Watch): got '$got'"

qps=$(prom_query 'sum(rate(grpc_server_request_total{job="metastore"}[1m]))')
awk -v v="$qps" 'BEGIN { exit !(v + 0 > 0) }' || fail "request rate not positive: '$qps'"

p99=$(prom_query 'histogram_quantile(0.99, sum by (le) (rate(grpc_server_request_duration_seconds_bucket{job="metastore",method="/etcdserverpb.KV/Put"}[1m])))')
# A number, not NaN or +Inf, inside the default bucket range (5 us ... 10 s).
[[ "$p99" =~ ^[0-9.]+(e[-+]?[0-9]+)?$ ]] || fail "Put p99 is not a number: '$p99'"
awk -v v="$p99" 'BEGIN { exit !(v > 0 && v <= 10) }' || fail "Put p99 out of range: $p99"

query_is 'up{job="metastore"}' 1 || fail "up{job=\"metastore\"} is not 1"
query_is 'min(metastore_agent_probe_attached{job="metastore"})' 1 ||
	fail "not every probe is attached"

# deploy/alerts.yml loads and every rule evaluates without error.
n_rules=$(grep -c -- '- alert:' deploy/alerts.yml)
rules_ok() {
	curl -sf --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules" |
		jq -e --argjson n "$n_rules" \
			'[.data.groups[].rules[]] | length == $n and all(.health == "ok")'
}
wait_until 10 rules_ok || fail "alert rules not all loaded and healthy"

# Under this load (all calls OK but one Watch the client canceled) no alert expression
# returns anything: the expressions themselves, without their `for:` delay.
curl -sf --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/rules" |
	jq -r '.data.groups[].rules[] | [.name, (.query | gsub("\n"; " "))] | @tsv' \
		>"$E2E_TMP/alert.exprs"
[ "$(wc -l <"$E2E_TMP/alert.exprs")" = "$n_rules" ] || fail "rules API lists no expressions"
# firing_exprs: the names of the alerts whose expression returns something now, one a line.
firing_exprs() {
	local name expr out
	while IFS=$'\t' read -r name expr; do
		out=$(curl -sf --max-time 5 --get --data-urlencode "query=$expr" \
			"http://127.0.0.1:$PROM_PORT/api/v1/query") || fail "alert $name: query rejected"
		[ "$(jq '.data.result | length' <<<"$out")" = 0 ] || echo "$name"
	done <"$E2E_TMP/alert.exprs"
}
got=$(firing_exprs)
[ -z "$got" ] || fail "alerts that would fire under normal load: $got"

# Every dashboard query parses, evaluates against this server and returns data under this
# load (every family is exported from the start, at 0 where nothing happened).
jq -r '.panels[].targets[]?.expr' deploy/grafana-dashboard.json |
	sed -e 's/\$job/metastore/g' -e 's/\$instance/.*/g' -e 's/\$node/.*/g' \
		-e 's/\$__rate_interval/1m/g' -e 's/\$max_connections/1024/g' >"$E2E_TMP/dash.exprs"
while IFS= read -r expr; do
	out=$(curl -sf --max-time 5 --get --data-urlencode "query=$expr" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query") || fail "dashboard query rejected: $expr"
	[ "$(jq '.data.result | length' <<<"$out")" -gt 0 ] || fail "dashboard query returns nothing: $expr"
done <"$E2E_TMP/dash.exprs"

# The store killed: its member reads metastore_up 0 and only MetastoreMemberDown's expression
# fires (its other gauges went with it, so no NoLeader and no lag).
kill -9 "$MS_PID"
{ wait "$MS_PID"; } 2>/dev/null || true
member_down() { query_is "metastore_up{job=\"metastore\",node=\"$NODE\"}" 0; }
wait_until 15 member_down || fail "metastore_up of the killed member is not 0 in Prometheus"
got=$(firing_exprs)
[ "$got" = MetastoreMemberDown ] || fail "with the member killed, firing: '$got'"

echo "PASS $E2E_NAME"
