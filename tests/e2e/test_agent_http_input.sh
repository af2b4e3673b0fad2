#!/usr/bin/env bash
# End-to-end: bad HTTP input to the agent (malformed request lines, huge headers and URLs,
# unknown paths, other methods, path traversal, HEAD, query strings) gets exact answers and
# leaves the agent healthy and counting.
. "$(dirname "$0")/lib.sh"
need_root

AGENT_PORT=$(free_port)
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
base="http://127.0.0.1:$AGENT_PORT"

# raw BYTES: sends BYTES (printf format) on a fresh connection and prints the whole answer;
# bounded: the server must close within 5 s (a reset, when it closes with input unread,
# counts as closed).
raw() {
	local rc=0
	timeout 5 bash -c 'trap "" PIPE; exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "$2" >&3 2>/dev/null
		cat <&3 2>/dev/null || true' _ "$AGENT_PORT" "$1" >"$E2E_TMP/raw" || rc=$?
	[ "$rc" = 0 ] || fail "no close within 5 s after '$1' (rc $rc)"
	cat "$E2E_TMP/raw"
}
# status_line BYTES: the first line of the answer, without the CR.
status_line() { raw "$1" >/dev/null; head -n 1 "$E2E_TMP/raw" | tr -d '\r'; }
code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }

# Request lines libmicrohttpd cannot parse: the connection is closed without an answer.
for bad in 'GARBAGE\r\n\r\n' ' / HTTP/1.1\r\nHost: x\r\n\r\n' '\x01\x02\x03\r\n\r\n'; do
	raw "$bad" >/dev/null
	out=$(od -An -c "$E2E_TMP/raw" | head -c 200)
	[ -z "$out" ] || fail "malformed request '$bad' answered: $out"
done
[ "$(status_line 'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n')" = "HTTP/1.1 505 HTTP Version Not Supported" ] ||
	fail "HTTP/9.9 not 505"
# A request line without a version is HTTP/0.9-like: 400.
[ "$(status_line 'GET /metrics\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || fail "no-version request not 400"
# A header line without a colon: 400.
[ "$(status_line 'GET /health HTTP/1.1\r\nHost: x\r\nBad header line\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] ||
	fail "malformed header not 400"

# Huge input: a 64 KiB header is 431, a 64 KiB URL is 414; 16 KiB of header still fits.
big=$(head -c 65536 /dev/zero | tr '\0' a)
[ "$(code -H "X-Big: $big" "$base/metrics")" = 431 ] || fail "64 KiB header not 431"
[ "$(code "$base/$big")" = 414 ] || fail "64 KiB URL not 414"
[ "$(code -H "X-Big: ${big:0:16384}" "$base/metrics")" = 200 ] || fail "16 KiB header not 200"
hdrs=()
for i in $(seq 200); do hdrs+=(-H "X-H$i: v"); done
[ "$(code "${hdrs[@]}" "$base/health")" = 200 ] || fail "200 small headers not 200"

# Unknown paths, other methods, traversal: 404/405 with the exact short bodies.
for p in /nope /metrics/ /metricsx /health/x /index.html "/$(printf 'a%.0s' $(seq 300))"; do
	[ "$(code "$base$p")" = 404 ] || fail "$p not 404"
done
for p in /../../etc/passwd /%2e%2e/%2e%2e/etc/passwd /..%2f..%2fetc%2fpasswd /metrics/../../../etc/passwd \
	/%2F/etc/passwd '/%00/etc/passwd' '/metrics%00x' '/health%00' /./metrics; do
	body=$(curl -s --max-time 5 --path-as-is -w '|%{http_code}' "$base$p")
	[ "$body" = "not found
|404" ] || fail "traversal $p: got '$(printf '%s' "$body" | head -c 200)'"
done
for m in POST PUT DELETE PATCH OPTIONS TRACE; do
	curl -s --max-time 5 -X "$m" -D "$E2E_TMP/h" -o "$E2E_TMP/b" "$base/metrics"
	head -n 1 "$E2E_TMP/h" | grep -qx $'HTTP/1.1 405 Method Not Allowed\r' || fail "$m /metrics: $(head -n 1 "$E2E_TMP/h")"
	grep -qix $'Allow: GET, HEAD\r' "$E2E_TMP/h" || fail "$m /metrics: no Allow header"
	[ "$(cat "$E2E_TMP/b")" = "method not allowed" ] || fail "$m /metrics body: $(cat "$E2E_TMP/b")"
done
# A body announced with a refused method is never read: 405 before "100 Continue", so the
# client does not send it, and the agent lives on.
head -c 4194304 /dev/zero >"$E2E_TMP/upload"
[ "$(code -H 'Expect: 100-continue' -X POST --data-binary @"$E2E_TMP/upload" "$base/metrics")" = 405 ] ||
	fail "4 MiB POST not 405"
[ "$(code -X POST -d x "$base/nope")" = 404 ] || fail "POST /nope not 404"

# HEAD: the GET headers with the GET length, no body.
raw 'HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$E2E_TMP/head"
head -n 1 "$E2E_TMP/head" | grep -qx $'HTTP/1.1 200 OK\r' || fail "HEAD /metrics: $(head -n 1 "$E2E_TMP/head")"
grep -qx $'Content-Type: text/plain; version=0.0.4; charset=utf-8\r' "$E2E_TMP/head" || fail "HEAD content type"
[ "$(tail -c 4 "$E2E_TMP/head" | od -An -c | tr -s ' ')" = ' \r \n \r \n' ] || fail "HEAD answer has a body"
hlen=$(awk -F': ' 'tolower($1) == "content-length" { print $2 }' "$E2E_TMP/head" | tr -d '\r')
[ -n "$hlen" ] && [ "$hlen" -gt 1000 ] || fail "HEAD Content-Length '$hlen'"
[ "$(code -I "$base/health")" = 200 ] || fail "HEAD /health not 200"

# Query strings are ignored on every path.
curl -s --max-time 5 -o "$E2E_TMP/q" -w '%{http_code} %{content_type}' "$base/metrics?name[]=x&debug=1&%zz" >"$E2E_TMP/qs"
[ "$(cat "$E2E_TMP/qs")" = "200 text/plain; version=0.0.4; charset=utf-8" ] || fail "query string: $(cat "$E2E_TMP/qs")"
grep -q '^metastore_agent_build_info{version="' "$E2E_TMP/q" || fail "query string: not the exposition"
[ "$(curl -s --max-time 5 "$base/health?x=1")" = ok ] || fail "/health?x=1 not ok"

# Still alive, healthy and counting exactly.
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
[ "$(curl -s --max-time 5 "$base/health")" = ok ] || fail "/health not ok afterwards"
for i in 1 2 3; do ctl put "k$i" v >/dev/null; done
scrape >"$E2E_TMP/m"
assert_node_sample "$E2E_TMP/m" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 3
assert_sample "$E2E_TMP/m" 'metastore_agent_map_read_errors_total' 0
check_exposition "$E2E_TMP/m"
# Keep-alive: three GETs over one connection (health, index, a scrape); a request that
# announces a body is answered and its connection closed (the body is never read).
base="http://127.0.0.1:$AGENT_PORT"
curl -sv "$base/health" "$base/" "$base/metrics" -o /dev/null -o /dev/null -o /dev/null \
	>"$E2E_TMP/keepalive.log" 2>&1 || fail "keep-alive requests failed"
[ "$(grep -c 'Re-using existing connection' "$E2E_TMP/keepalive.log")" = 2 ] ||
	fail "connection not kept alive: $(grep -i -e connection -e '^< HTTP' "$E2E_TMP/keepalive.log")"
grep -qi '^< Connection: close' "$E2E_TMP/keepalive.log" && fail "a body-less GET closed its connection"
curl -sv -X GET --data 'x=1' "$base/health" -o /dev/null >"$E2E_TMP/body.log" 2>&1 || true
grep -qi '^< Connection: close' "$E2E_TMP/body.log" || fail "a request with a body kept its connection"

# --metrics-path: the metrics move there (the index says so), /metrics is then unknown.
P2=$(free_port)
"$AGENT" --pid "$MS_PID" --listen "127.0.0.1:$P2" --metrics-path /prom/metrics >"$E2E_TMP/agent-path.log" 2>&1 &
P2_PID=$!
E2E_PIDS+=("$P2_PID")
wait_until 20 curl -sf "http://127.0.0.1:$P2/health" || fail "agent with --metrics-path did not start"
grep -q '^metastore_agent_build_info{' <<<"$(curl -sf "http://127.0.0.1:$P2/prom/metrics")" ||
	fail "/prom/metrics has no metrics"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/metrics")" = 404 ] || fail "/metrics still served"
curl -sf "http://127.0.0.1:$P2/" | grep -qF '<a href="/prom/metrics">/prom/metrics</a>' || fail "index does not link /prom/metrics"
grep -q "serving http://127.0.0.1:$P2/prom/metrics\$" "$E2E_TMP/agent-path.log" || fail "start-up line: $(cat "$E2E_TMP/agent-path.log")"
kill -TERM "$P2_PID"
wait "$P2_PID" || fail "agent with --metrics-path exited non-zero"

kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
[ "$rc" = 0 ] || fail "agent exited $rc on SIGTERM"
echo "PASS $E2E_NAME"
