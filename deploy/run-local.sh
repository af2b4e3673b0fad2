#!/usr/bin/env bash
# Starts metastore and metastore-agent (all probes) on loopback defaults; Ctrl-C stops both.
set -euo pipefail

: "${METASTORE:=build/metastore}"
: "${AGENT:=build/metastore-agent}"
: "${MS_LISTEN:=127.0.0.1:2379}"
: "${AGENT_LISTEN:=127.0.0.1:9464}"
: "${DATA_DIR:=build/run/data}"

if [ "$(id -u)" != 0 ]; then
	echo "run-local: the agent needs root for BPF; run as root" >&2
	exit 1
fi
mkdir -p "$DATA_DIR"

pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop EXIT INT TERM

"$METASTORE" --listen "$MS_LISTEN" --data-dir "$DATA_DIR" &
pids+=($!)
"$AGENT" --binary "$METASTORE" --probes all --listen "$AGENT_LISTEN" &
pids+=($!)

sleep 1
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null || { echo "run-local: a process exited at start-up" >&2; exit 1; }
done
cat <<MSG

metastore        etcdctl --endpoints=$MS_LISTEN put foo bar
metrics          http://$AGENT_LISTEN/metrics   (Prometheus: scrape $AGENT_LISTEN)
health           http://$AGENT_LISTEN/health
Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
