#!/usr/bin/env bash
# End-to-end: etcdctl lease commands against metastore: grant, attach, keep-alive,
# time-to-live with keys, list, revoke, and expiry deleting the keys (seen by a watcher).
. "$(dirname "$0")/lib.sh"

MS_PORT=$(free_port)
start_metastore "$MS_PORT"

grant() { ctl lease grant "$1" | awk '$1 == "lease" && $3 == "granted" { print $2 }'; }
L60=$(grant 60)
L3=$(grant 3)
[ -n "$L60" ] && [ -n "$L3" ] && [ "$L60" != "$L3" ] || fail "lease grant: '$L60' '$L3'"

[ "$(ctl put k1 v --lease="$L3")" = OK ] || fail "put with lease"
[ "$(ctl put k2 v --lease="$L3")" = OK ] || fail "put with lease"
[ "$(ctl put keep v --lease="$L60")" = OK ] || fail "put with lease"
# The 3 s lease may expire while the steps below run: its expiry is the next revision.
rev=$(ctl get k1 -w json | sed 's/.*"revision":\([0-9]*\).*/\1/')
out=$(ctl lease timetolive "$L3" --keys)
[[ "$out" =~ ^lease\ $L3\ granted\ with\ TTL\(3s\),\ remaining\([0-3]s\),\ attached\ keys\(\[k1\ k2\]\)$ ]] ||
	fail "timetolive: $out"
[ "$(ctl lease list)" = "found 2 leases
$(printf '%s\n%s' "$L60" "$L3" | sort)" ] || fail "lease list: $(ctl lease list)"
[ "$(ctl lease keep-alive --once "$L60")" = "lease $L60 keepalived with TTL(60)" ] ||
	fail "keep-alive --once"
# The streaming keep-alive answers every renewal until the client goes away.
timeout 3 etcdctl --endpoints="127.0.0.1:$MS_PORT" lease keep-alive "$L60" >"$E2E_TMP/ka" 2>&1 || true
[ "$(grep -c "^lease $L60 keepalived with TTL(60)$" "$E2E_TMP/ka")" -ge 1 ] ||
	fail "keep-alive stream: $(cat "$E2E_TMP/ka")"

# A put naming an unknown lease is refused.
rc=0
ctl put bad v --lease=1234 2>"$E2E_TMP/err" || rc=$?
[ "$rc" != 0 ] && grep -qF "etcdserver: requested lease not found" "$E2E_TMP/err" ||
	fail "put with unknown lease: $(cat "$E2E_TMP/err")"

# Expiry: the 3 s lease's keys go, in one revision, and a watcher sees both deletes.
etcdctl --endpoints="127.0.0.1:$MS_PORT" watch k --prefix --rev=$((rev + 1)) >"$E2E_TMP/w" 2>&1 &
E2E_PIDS+=($!)
gone() { [ -z "$(ctl get k1)" ] && [ -z "$(ctl get k2)" ]; }
wait_until 10 gone || fail "keys of the expired lease are still there"
seen() { [ "$(grep -c "^DELETE$" "$E2E_TMP/w")" = 2 ]; }
wait_until 5 seen || fail "watcher did not see the expiry deletes: $(cat "$E2E_TMP/w")"
[ "$(ctl get k1 -w json | sed 's/.*"revision":\([0-9]*\).*/\1/')" = $((rev + 1)) ] ||
	fail "expiry did not delete both keys in one revision"
grep -q "^DELETE$" "$E2E_TMP/w" && [ "$(sed -n '2p;5p' "$E2E_TMP/w" | tr '\n' ' ')" = "k1 k2 " ] ||
	fail "expiry events: $(cat "$E2E_TMP/w")"
[ "$(ctl lease timetolive "$L3")" = "lease $L3 already expired" ] || fail "expired lease still listed"

# Revoke: the keys go at once; a second revoke is refused.
[ "$(ctl lease revoke "$L60")" = "lease $L60 revoked" ] || fail "revoke"
[ -z "$(ctl get keep)" ] || fail "key of a revoked lease survived"
rc=0
ctl lease revoke "$L60" 2>"$E2E_TMP/err" || rc=$?
[ "$rc" != 0 ] && grep -qF "etcdserver: requested lease not found" "$E2E_TMP/err" ||
	fail "second revoke: $(cat "$E2E_TMP/err")"
[ "$(ctl lease list)" = "found 0 leases" ] || fail "leases left: $(ctl lease list)"

# --max-leases: grants beyond the limit are refused until a lease goes; the store serves on.
kill "$MS_PID"
MS_PORT=$(free_port)
start_metastore "$MS_PORT" --max-leases 2
A=$(ctl lease grant 60 | awk '{print $2}')
ctl lease grant 60 >/dev/null || fail "second grant under the limit refused"
rc=0
ctl lease grant 60 2>"$E2E_TMP/err" || rc=$?
[ "$rc" != 0 ] && grep -qF "etcdserver: too many leases (--max-leases)" "$E2E_TMP/err" ||
	fail "grant over --max-leases: $(cat "$E2E_TMP/err")"
ctl lease revoke "$A" >/dev/null || fail "revoke"
ctl lease grant 60 >/dev/null || fail "grant after a revoke refused"
[ "$(ctl lease list | head -n 1)" = "found 2 leases" ] || fail "leases: $(ctl lease list)"
echo "PASS $E2E_NAME"
