#!/usr/bin/env bash
# make install into a DESTDIR: the binaries, systemd units, alert rules, dashboard and the
# Prometheus config land at the README's paths, the installed binaries run, the units start
# what was installed, and the agent reports the tree's git revision in --version and
# metastore_agent_build_info.
source "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$E2E_TMP/dest
make -C "$ROOT" --no-print-directory install DESTDIR="$DEST" >"$E2E_TMP/install.log" 2>&1 ||
	fail "make install: $(tail -5 "$E2E_TMP/install.log")"
for f in usr/local/bin/metastore usr/local/bin/metastore-agent \
	etc/systemd/system/metastore.service etc/systemd/system/metastore-agent.service \
	usr/local/share/metastore/alerts.yml usr/local/share/metastore/grafana-dashboard.json \
	usr/local/share/metastore/prometheus.yml; do
	[ -f "$DEST/$f" ] || fail "make install left out /$f"
done
[ -x "$DEST/usr/local/bin/metastore" ] && [ -x "$DEST/usr/local/bin/metastore-agent" ] ||
	fail "installed binaries are not executable"
"$DEST/usr/local/bin/metastore" --version >/dev/null || fail "installed metastore does not run"
rev=unknown
if git -C "$ROOT" rev-parse --short=12 HEAD >/dev/null 2>&1; then
	rev=$(git -C "$ROOT" rev-parse --short=12 HEAD)
fi
got=$("$DEST/usr/local/bin/metastore-agent" --version)
[ "$got" = "metastore-agent 0.1.0 (revision $rev)" ] || fail "agent --version: '$got' (tree at $rev)"
# every unit starts a binary make install put in place
for u in metastore metastore-agent; do
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$DEST/etc/systemd/system/$u.service")
	[ -x "$DEST$exe" ] || fail "$u.service starts $exe, which make install did not install"
done
# the installed agent's build_info carries the revision
MS_PORT=$(free_port)
start_metastore "$MS_PORT"
AGENT_PORT=$(free_port)
need_root
start_agent "$AGENT_PORT" --pid "$MS_PID" --probes grpc
grep -qF "metastore_agent_build_info{version=\"0.1.0\",revision=\"$rev\"} 1" <<<"$(curl -sf "http://127.0.0.1:$AGENT_PORT/metrics")" ||
	fail "build_info: $(curl -sf "http://127.0.0.1:$AGENT_PORT/metrics" | grep build_info)"
echo "PASS $E2E_NAME (7 files at the README's paths, revision $rev)"
