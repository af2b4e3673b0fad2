#!/usr/bin/env bash
# End-to-end: content negotiation and gzip on /metrics with curl: OpenMetrics 1.0 when
# asked for (with "# EOF" and its Content-Type), the 0.0.4 text format otherwise, and a gzip
# body, only when allowed, that inflates to exactly the plain body.
. "$(dirname "$0")/lib.sh"
need_root

AGENT_PORT=$(free_port)
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
for i in 1 2 3; do ctl put "k$i" v >/dev/null; done
url="http://127.0.0.1:$AGENT_PORT/metrics"
TEXT='text/plain; version=0.0.4; charset=utf-8'
OM='application/openmetrics-text; version=1.0.0; charset=utf-8'

# get NAME CURL-ARGS...: body to $E2E_TMP/NAME, headers to $E2E_TMP/NAME.h (no CRs).
get() {
	local name=$1
	shift
	curl -s --max-time 5 -D "$E2E_TMP/$name.h" -o "$E2E_TMP/$name" "$@" "$url" || fail "$name: curl failed"
	tr -d '\r' <"$E2E_TMP/$name.h" >"$E2E_TMP/$name.hh" && mv "$E2E_TMP/$name.hh" "$E2E_TMP/$name.h"
	head -n 1 "$E2E_TMP/$name.h" | grep -qx 'HTTP/1.1 200 OK' || fail "$name: $(head -n 1 "$E2E_TMP/$name.h")"
}
# hdr NAME HEADER: the header's value (empty if absent).
hdr() { awk -v h="$2" 'BEGIN { h = tolower(h) } { i = index($0, ":"); if (tolower(substr($0, 1, i - 1)) == h) print substr($0, i + 2) }' "$E2E_TMP/$1.h"; }
# Everything but what moves by itself between two scrapes of an idle store: the scrape time
# and the member status probe's counters (it fires every 20 ms).
stable() { grep -v -e '^metastore_agent_scrape_duration_seconds ' -e 'subsystem="member"' "$1"; }

# Default, explicit 0.0.4, and OpenMetrics ranked below text: the text format.
for variant in default text004 textfirst omq0 wildcard; do
	case $variant in
	default) get "$variant" ;;
	text004) get "$variant" -H 'Accept: text/plain; version=0.0.4' ;;
	textfirst) get "$variant" -H 'Accept: application/openmetrics-text;q=0.3, text/plain;q=0.9' ;;
	omq0) get "$variant" -H 'Accept: application/openmetrics-text; version=1.0.0; q=0' ;;
	wildcard) get "$variant" -H 'Accept: */*' ;;
	esac
	[ "$(hdr "$variant" Content-Type)" = "$TEXT" ] || fail "$variant: Content-Type '$(hdr "$variant" Content-Type)'"
	[ -z "$(hdr "$variant" Content-Encoding)" ] || fail "$variant: encoded without Accept-Encoding"
	[ "$(hdr "$variant" Vary)" = "Accept, Accept-Encoding" ] || fail "$variant: Vary '$(hdr "$variant" Vary)'"
	grep -q '^# EOF' "$E2E_TMP/$variant" && fail "$variant: '# EOF' in the text format"
	grep -qxF '# TYPE grpc_server_request_total counter' "$E2E_TMP/$variant" || fail "$variant: counter TYPE line"
	assert_node_sample "$E2E_TMP/$variant" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 3
	[ "$(stable "$E2E_TMP/$variant")" = "$(stable "$E2E_TMP/default")" ] || fail "$variant: body differs from default"
done
check_exposition "$E2E_TMP/default"

# OpenMetrics: asked for alone, as Prometheus asks, or ranked first.
for variant in om prom omfirst; do
	case $variant in
	om) get "$variant" -H 'Accept: application/openmetrics-text; version=1.0.0' ;;
	prom) get "$variant" -H 'Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' ;;
	omfirst) get "$variant" -H 'Accept: text/plain;q=0.5, application/openmetrics-text;q=0.9' ;;
	esac
	[ "$(hdr "$variant" Content-Type)" = "$OM" ] || fail "$variant: Content-Type '$(hdr "$variant" Content-Type)'"
	[ "$(tail -n 1 "$E2E_TMP/$variant")" = "# EOF" ] || fail "$variant: last line '$(tail -n 1 "$E2E_TMP/$variant")'"
	[ "$(grep -c '^# EOF' "$E2E_TMP/$variant")" = 1 ] || fail "$variant: '# EOF' not once"
	grep -qxF '# TYPE grpc_server_request counter' "$E2E_TMP/$variant" || fail "$variant: OpenMetrics counter TYPE"
	grep -q '^# TYPE grpc_server_request_total ' "$E2E_TMP/$variant" && fail "$variant: counter family keeps _total"
	assert_node_sample "$E2E_TMP/$variant" "$NODE" 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' 3
	[ "$(stable "$E2E_TMP/$variant")" = "$(stable "$E2E_TMP/om")" ] || fail "$variant: body differs from om"
done
# Same samples in both formats: only the TYPE/HELP names of counters and "# EOF" differ.
samples() { stable "$1" | grep -v '^#' | sort; }
[ "$(samples "$E2E_TMP/om")" = "$(samples "$E2E_TMP/default")" ] || fail "OpenMetrics and text samples differ"

# gzip: only when allowed; the body inflates to exactly the plain body of the same moment.
for variant in gz gzom gzlist gzstar; do
	case $variant in
	gz) get "$variant" -H 'Accept-Encoding: gzip'; plain=default ;;
	gzom) get "$variant" -H 'Accept-Encoding: gzip' -H 'Accept: application/openmetrics-text; version=1.0.0'; plain=om ;;
	gzlist) get "$variant" -H 'Accept-Encoding: deflate, br;q=0.9, gzip;q=0.8'; plain=default ;;
	gzstar) get "$variant" -H 'Accept-Encoding: *'; plain=default ;;
	esac
	[ "$(hdr "$variant" Content-Encoding)" = gzip ] || fail "$variant: Content-Encoding '$(hdr "$variant" Content-Encoding)'"
	[ "$(head -c 2 "$E2E_TMP/$variant" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "$variant: not gzip magic"
	gzip -t <"$E2E_TMP/$variant" || fail "$variant: corrupt gzip"
	clen=$(hdr "$variant" Content-Length)
	[ "$clen" = "$(stat -c %s "$E2E_TMP/$variant")" ] || fail "$variant: Content-Length $clen != body size"
	gzip -dc <"$E2E_TMP/$variant" >"$E2E_TMP/$variant.plain"
	[ "$(stat -c %s "$E2E_TMP/$variant")" -lt "$(stat -c %s "$E2E_TMP/$variant.plain")" ] || fail "$variant: gzip not smaller"
	[ "$(stable "$E2E_TMP/$variant.plain")" = "$(stable "$E2E_TMP/$plain")" ] || fail "$variant: inflated body differs from $plain"
	grep -qx 'metastore_agent_scrape_duration_seconds [0-9.e+-]*' "$E2E_TMP/$variant.plain" || fail "$variant: no scrape duration"
done
for variant in nogzq0 identity; do
	case $variant in
	nogzq0) get "$variant" -H 'Accept-Encoding: gzip;q=0' ;;
	identity) get "$variant" -H 'Accept-Encoding: identity' ;;
	esac
	[ -z "$(hdr "$variant" Content-Encoding)" ] || fail "$variant: encoded"
	[ "$(stable "$E2E_TMP/$variant")" = "$(stable "$E2E_TMP/default")" ] || fail "$variant: body differs"
done
# curl --compressed end to end, and HEAD with gzip gives the encoded length and no body.
curl -s --max-time 5 --compressed "$url" >"$E2E_TMP/curlgz"
[ "$(stable "$E2E_TMP/curlgz")" = "$(stable "$E2E_TMP/default")" ] || fail "--compressed body differs"
curl -s --max-time 5 -I -H 'Accept-Encoding: gzip' "$url" | tr -d '\r' >"$E2E_TMP/head.h"
[ "$(hdr head Content-Encoding)" = gzip ] || fail "HEAD with gzip: no Content-Encoding"
echo "PASS $E2E_NAME"
