#!/usr/bin/env bash
# End-to-end: --web-config (the exporters' format) serves /metrics over TLS with basic auth
# (bcrypt): the right user gets in, a wrong password or none gets 401, plain HTTP gets no
# answer; a real Prometheus scrapes it with tls_config and basic_auth; bad files are refused.
. "$(dirname "$0")/lib.sh"
need_root
: "${PROMETHEUS:=/usr/bin/prometheus}"
for tool in openssl python3 "$PROMETHEUS"; do
	command -v "$tool" >/dev/null || fail "needs $tool"
done

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" \
	>"$E2E_TMP/openssl.log" 2>&1 || fail "openssl: $(cat "$E2E_TMP/openssl.log")"
chmod 0600 "$E2E_TMP/key.pem"
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 6)))')
cat >"$E2E_TMP/web.yml" <<YML
tls_server_config:
  cert_file: $E2E_TMP/cert.pem
  key_file: $E2E_TMP/key.pem
basic_auth_users:
  prometheus: '$hash'
YML

MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
"$AGENT" --pid "$MS_PID" --listen "127.0.0.1:$AGENT_PORT" --web-config "$E2E_TMP/web.yml" \
	--user nobody >"$E2E_TMP/agent.log" 2>&1 &
AGENT_PID=$!
E2E_PIDS+=("$AGENT_PID")
base="https://127.0.0.1:$AGENT_PORT"
tls=(--cacert "$E2E_TMP/cert.pem" --max-time 5)
wait_until 20 curl -sf "${tls[@]}" -u prometheus:s3cret "$base/health" || fail "agent over TLS did not answer"
grep -q "serving https://127.0.0.1:$AGENT_PORT/metrics\$" "$E2E_TMP/agent.log" || fail "start-up line: $(cat "$E2E_TMP/agent.log")"

ctl put k v >/dev/null
code() { curl -s -o /dev/null -w '%{http_code}' "${tls[@]}" "$@"; }
[ "$(code -u prometheus:s3cret "$base/metrics")" = 200 ] || fail "right credentials not let in"
[ "$(code -u prometheus:wrong "$base/metrics")" = 401 ] || fail "a wrong password got in"
[ "$(code -u other:s3cret "$base/metrics")" = 401 ] || fail "an unknown user got in"
[ "$(code "$base/metrics")" = 401 ] || fail "no credentials got in"
[ "$(code "$base/health")" = 401 ] || fail "/health without credentials"
curl -s "${tls[@]}" -D - -o /dev/null "$base/metrics" | grep -qi '^WWW-Authenticate: Basic realm="metastore-agent"' ||
	fail "no basic auth challenge"
curl -sf --max-time 3 "http://127.0.0.1:$AGENT_PORT/metrics" >/dev/null 2>&1 && fail "plain HTTP answered"
curl -sf "${tls[@]}" -u prometheus:s3cret "$base/metrics" >"$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 1

# Prometheus as one would configure it for the agent.
PROM_PORT=$(free_port)
cat >"$E2E_TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: metastore
    scheme: https
    tls_config:
      ca_file: $E2E_TMP/cert.pem
    basic_auth:
      username: prometheus
      password: s3cret
    static_configs:
      - targets: ["127.0.0.1:$AGENT_PORT"]
YML
"$PROMETHEUS" --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$E2E_TMP/prometheus.log" 2>&1 &
E2E_PIDS+=("$!")
prom_up() {
	curl -sf --max-time 5 --get --data-urlencode 'query=up{job="metastore"}' \
		"http://127.0.0.1:$PROM_PORT/api/v1/query" | jq -e '.data.result[0].value[1] == "1"'
}
wait_until 30 prom_up || fail "Prometheus could not scrape the agent over TLS with basic auth"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exited non-zero on SIGTERM"

# Bad web configurations: one line each, exit 1.
printf 'basic_auth_users:\n  u: plain\n' >"$E2E_TMP/bad.yml"
rc=0
"$AGENT" --pid "$MS_PID" --web-config "$E2E_TMP/bad.yml" 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 1 ] && [ "$(cat "$E2E_TMP/err")" = "metastore-agent: --web-config: $E2E_TMP/bad.yml:2: a user's value is its bcrypt hash (\$2b\$...)" ] ||
	fail "bad web config: exit $rc, $(cat "$E2E_TMP/err")"
printf 'tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n' >"$E2E_TMP/bad.yml"
rc=0
"$AGENT" --pid "$MS_PID" --listen "127.0.0.1:$(free_port)" --web-config "$E2E_TMP/bad.yml" 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 1 ] && [ "$(cat "$E2E_TMP/err")" = "metastore-agent: --web-config: /nonexistent.pem: No such file or directory" ] ||
	fail "missing certificate: exit $rc, $(cat "$E2E_TMP/err")"
echo "PASS $E2E_NAME"
