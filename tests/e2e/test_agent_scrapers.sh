#!/usr/bin/env bash
# End-to-end: 100 scrapers at once. Each gets 200 or a quick 503 (at most 10 scrapes are
# served at a time), none hangs or is dropped, the agent stays healthy and exact.
. "$(dirname "$0")/lib.sh"
need_root

N=100
AGENT_PORT=$(free_port)
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
for i in 1 2 3 4 5; do ctl put "k$i" v >/dev/null; done
put_ok=$(node_series 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' "$NODE")

# Rounds of N concurrent curls (gzip and OpenMetrics mixed in); each writes "code time" to
# its own file. Bounded: --max-time 10 each, and the whole round must end within 20 s.
round() {
	local r=$1 pids=() i start end
	start=$(date +%s)
	for i in $(seq $N); do
		args=(-s --max-time 10 -o "$E2E_TMP/body-$r-$i" -w '%{http_code} %{time_total}')
		case $((i % 3)) in
		1) args+=(--compressed) ;;
		2) args+=(-H 'Accept: application/openmetrics-text; version=1.0.0') ;;
		esac
		curl "${args[@]}" "http://127.0.0.1:$AGENT_PORT/metrics" >"$E2E_TMP/code-$r-$i" 2>/dev/null &
		pids+=($!)
		E2E_PIDS+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
	end=$(date +%s)
	[ $((end - start)) -le 20 ] || fail "round $r of $N scrapes took $((end - start)) s"
	ok=0 busy=0 other=0
	for i in $(seq $N); do
		code=none secs=
		[ -s "$E2E_TMP/code-$r-$i" ] && read -r code secs <"$E2E_TMP/code-$r-$i" || true
		case $code in
		200)
			ok=$((ok + 1))
			# A 200 is a whole exposition with the exact count.
			grep -qxF "$put_ok 5" "$E2E_TMP/body-$r-$i" ||
				fail "round $r scrape $i: 200 without '$put_ok 5'"
			;;
		503)
			busy=$((busy + 1))
			[ "$(cat "$E2E_TMP/body-$r-$i")" = "too many scrapes" ] ||
				fail "round $r scrape $i: 503 body '$(head -c 100 "$E2E_TMP/body-$r-$i")'"
			;;
		*) other=$((other + 1)); echo "round $r scrape $i: '$code $secs'" >&2 ;;
		esac
	done
	echo "round $r: $ok x 200, $busy x 503, $other other, $((end - start)) s"
	[ "$other" = 0 ] || fail "round $r: $other scrapes neither 200 nor 503"
	[ $((ok + busy)) = "$N" ] || fail "round $r: $ok + $busy != $N"
	[ "$ok" -ge 1 ] || fail "round $r: no scrape got 200"
	rm -f "$E2E_TMP"/body-"$r"-* "$E2E_TMP"/code-"$r"-*
}
for r in 1 2 3; do round "$r"; done

# Healthy, exact, and serving normally afterwards.
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
[ "$(curl -s --max-time 5 "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health not ok"
ctl put k6 v >/dev/null
scrape >"$E2E_TMP/m"
assert_sample "$E2E_TMP/m" "$put_ok" 6
assert_sample "$E2E_TMP/m" 'metastore_agent_map_read_errors_total' 0
check_exposition "$E2E_TMP/m"
# No connection left behind: the agent holds only a handful of sockets again.
socks() { ls -l "/proc/$AGENT_PID/fd" 2>/dev/null | grep -c 'socket:' || true; }
few_socks() { [ "$(socks)" -le 5 ]; }
wait_until 10 few_socks || fail "agent still holds $(socks) sockets"
echo "PASS $E2E_NAME"
