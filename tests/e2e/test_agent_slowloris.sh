#!/usr/bin/env bash
# End-to-end: slow clients (slowloris) do not keep scrapes out. 30 connections that never
# finish their request (partial headers, one byte per second, nothing at all, TLS bytes)
# are open while normal scrapes are answered at once; the silent ones are closed by the
# agent after its 30 s idle timeout. Then a flood of 300 such connections, more than the
# agent's connection limit: scrapes are still answered at once.
. "$(dirname "$0")/lib.sh"
need_root

AGENT_PORT=$(free_port)
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
start_agent "$AGENT_PORT" --binary "$METASTORE" --probes all
for i in 1 2; do ctl put "k$i" v >/dev/null; done
put_ok=$(node_series 'grpc_server_request_total{method="/etcdserverpb.KV/Put",code="OK"}' "$NODE")

t0=$(date +%s)
silent=()
# 15 partial requests, then silence.
for i in $(seq 15); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$AGENT_PORT"
	printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' >&"$fd"
	silent+=("$fd")
done
# 4 connections that send nothing, 1 that speaks TLS to a plain HTTP port.
for i in $(seq 4); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$AGENT_PORT"
	silent+=("$fd")
done
exec {fd}<>"/dev/tcp/127.0.0.1/$AGENT_PORT"
printf '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' >&"$fd"
silent+=("$fd")
# 10 that send their request one byte per second (bounded: 64 bytes, never the blank line).
for i in $(seq 10); do
	bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
		req="GET /metrics HTTP/1.1"$'"'"'\r\n'"'"'"Host: 127.0.0.1"$'"'"'\r\n'"'"'"X-Slow: aaaaaaaaaaaaaaaa"
		for ((k = 0; k < ${#req}; k++)); do printf "%s" "${req:k:1}" >&3 || exit 0; sleep 1; done' \
		_ "$AGENT_PORT" 2>/dev/null &
	E2E_PIDS+=($!)
done
# A reader per silent connection notes when the agent closes it (bounded: 50 s).
closers=()
for fd in "${silent[@]}"; do
	(
		rc=0
		timeout 50 cat <&"$fd" >/dev/null 2>&1 || rc=$?
		echo "$rc $(($(date +%s) - t0))" >"$E2E_TMP/closed-$fd"
	) &
	closers+=($!)
	E2E_PIDS+=($!)
done
sleep 1

# Normal scrapes meanwhile: each answered within 2 s, whole and exact.
for i in $(seq 20); do
	curl -s --max-time 2 -o "$E2E_TMP/m" -w '%{http_code}' "http://127.0.0.1:$AGENT_PORT/metrics" >"$E2E_TMP/code" ||
		fail "scrape $i with slow clients connected: no answer within 2 s"
	[ "$(cat "$E2E_TMP/code")" = 200 ] || fail "scrape $i: HTTP $(cat "$E2E_TMP/code")"
	assert_sample "$E2E_TMP/m" "$put_ok" 2
	[ "$(curl -s --max-time 2 "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health $i not ok"
	sleep 0.5
done
ctl put k3 v >/dev/null
scrape >"$E2E_TMP/m"
assert_sample "$E2E_TMP/m" "$put_ok" 3

# The silent connections are closed by the agent 30 s after their last byte (not before
# 28 s, not after 40 s); the trickling ones meanwhile do not hold scrapes up either.
for p in "${closers[@]}"; do wait "$p" || true; done
for fd in "${silent[@]}"; do
	read -r rc at <"$E2E_TMP/closed-$fd"
	[ "$rc" != 124 ] || fail "slow connection fd $fd still open after 50 s"
	[ "$at" -ge 28 ] && [ "$at" -le 40 ] || fail "slow connection fd $fd closed after $at s, expected ~30"
	exec {fd}>&-
done
curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$AGENT_PORT/metrics" || fail "scrape after the timeouts failed"

# A flood: 300 connections that never finish their request, more than the agent's 256
# connection slots. The ones that waited longest are pushed out for newcomers, so scrapes
# are still answered at once, and the agent never holds more than 256 client sockets.
flood=()
for i in $(seq 300); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$AGENT_PORT" || fail "flood connection $i refused"
	printf 'GET /metrics HTTP/1.1\r\nX-Slow: ' >&"$fd" 2>/dev/null || true
	flood+=("$fd")
done
sleep 1.5
for i in $(seq 10); do
	curl -s --max-time 2 -o "$E2E_TMP/m" -w '%{http_code}' "http://127.0.0.1:$AGENT_PORT/metrics" >"$E2E_TMP/code" ||
		fail "scrape $i during the flood: no answer within 2 s"
	[ "$(cat "$E2E_TMP/code")" = 200 ] || fail "scrape $i during the flood: HTTP $(cat "$E2E_TMP/code")"
	assert_sample "$E2E_TMP/m" "$put_ok" 3
done
socks=$(ls -l "/proc/$AGENT_PID/fd" | grep -c 'socket:' || true)
# 256 client connections at most, plus the listening socket.
[ "$socks" -le 257 ] || fail "agent holds $socks sockets during the flood"
for fd in "${flood[@]}"; do exec {fd}>&-; done
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
[ "$(curl -s --max-time 2 "http://127.0.0.1:$AGENT_PORT/health")" = ok ] || fail "/health not ok at the end"
echo "PASS $E2E_NAME"
