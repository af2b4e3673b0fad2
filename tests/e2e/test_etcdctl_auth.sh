#!/usr/bin/env bash
# End-to-end: etcdctl auth against metastore: users, roles, key-range permissions, enable and
# disable, allowed and denied requests (KV, txn, watch, lease, admin), etcd's error texts.
. "$(dirname "$0")/lib.sh"

MS_PORT=$(free_port)
start_metastore "$MS_PORT"

# run CMD...: stdout of CMD in $OUT, stderr in $ERR, status in $RC (never fails).
run() {
	RC=0
	OUT=$("$@" 2>"$E2E_TMP/stderr") || RC=$?
	ERR=$(cat "$E2E_TMP/stderr")
}
# expect_out EXPECTED CMD...: CMD succeeds and prints exactly EXPECTED.
expect_out() {
	local want=$1
	shift
	run "$@"
	[ "$RC" = 0 ] || fail "'$*' failed ($RC): $OUT $ERR"
	[ "$OUT" = "$want" ] || fail "'$*': expected:
$want
got:
$OUT"
}
# expect_err MESSAGE CMD...: CMD fails and its last line is "Error: MESSAGE".
expect_err() {
	local want=$1
	shift
	run "$@"
	[ "$RC" != 0 ] || fail "'$*' succeeded: $OUT"
	[ "$(printf '%s\n' "$ERR" | tail -n 1)" = "Error: $want" ] ||
		fail "'$*': expected 'Error: $want', got: $ERR"
}
as() { # USER:PASSWORD ARGS...
	local u=$1
	shift
	ctl --user "$u" "$@"
}
DENIED='etcdserver: permission denied'
NO_USER='etcdserver: user name is empty'
BAD_LOGIN='etcdserver: authentication failed, invalid user ID or password'

# --- set-up, auth still disabled -------------------------------------------------------
expect_err 'etcdserver: root user does not exist' ctl auth enable
expect_out 'User root created' ctl user add root:rootpw
expect_out 'Role reader created' ctl role add reader
expect_out 'Role reader updated' ctl role grant-permission reader read --prefix app/
expect_out 'Role writer created' ctl role add writer
expect_out 'Role writer updated' ctl role grant-permission writer readwrite foo
expect_out 'Role writer updated' ctl role grant-permission writer write --from-key z
expect_out 'User alice created' ctl user add alice:alicepw
expect_out 'Role reader is granted to user alice' ctl user grant-role alice reader
expect_out 'Role writer is granted to user alice' ctl user grant-role alice writer
expect_err 'etcdserver: user name already exists' ctl user add alice:other
expect_err 'etcdserver: role name already exists' ctl role add reader
expect_err 'etcdserver: role name not found' ctl user grant-role alice nosuch
expect_err 'etcdserver: user name not found' ctl user grant-role nobody reader
# Disabled: no credentials needed, and Authenticate says so (clients then go on without).
expect_out OK ctl put app/a 1
expect_out OK ctl put secret s
expect_out $'secret\ns' as alice:wrong get secret
# etcdctl adds the root role and grants it to root before enabling, as with etcd.
expect_out 'Authentication Enabled' ctl auth enable

# --- enabled: who may do what ----------------------------------------------------------
expect_err "$NO_USER" ctl put foo x
expect_err "$NO_USER" ctl get foo
expect_err "$BAD_LOGIN" as alice:wrong get foo
expect_err "$BAD_LOGIN" as ghost:x get foo
expect_out OK as root:rootpw put foo v1
# A token this member never issued: Unauthenticated, as etcd answers it (raw gRPC, since
# etcdctl only sends tokens it got).
printf '\0\0\0\0\3\n\1a' >"$E2E_TMP/range.bin" # framed RangeRequest{key: "a"}
status=$(curl -s --max-time 5 --http2-prior-knowledge -X POST -H 'content-type: application/grpc' \
	-H 'te: trailers' -H 'token: bogus.1' --data-binary @"$E2E_TMP/range.bin" \
	"http://127.0.0.1:$MS_PORT/etcdserverpb.KV/Range" -D - -o /dev/null | tr -d '\r' | grep '^grpc-')
[ "$status" = $'grpc-status: 16\ngrpc-message: etcdserver: invalid auth token' ] ||
	fail "bogus token: $status"
expect_out $'foo\nv1' as alice:alicepw get foo
expect_out OK as alice:alicepw put foo v2
expect_out $'app/a\n1' as alice:alicepw get --prefix app/
expect_out '' as alice:alicepw get app/none
expect_err "$DENIED" as alice:alicepw put app/a 2
expect_err "$DENIED" as alice:alicepw get secret
expect_err "$DENIED" as alice:alicepw get --prefix app
expect_err "$DENIED" as alice:alicepw get --prefix ''
expect_err "$DENIED" as alice:alicepw del foo --prev-kv --prefix
expect_out OK as alice:alicepw put zz 1
expect_err "$DENIED" as alice:alicepw get zz
expect_out 1 as alice:alicepw del zz
expect_err "$DENIED" as alice:alicepw compaction 1
expect_out $'secret\ns' as root:rootpw get secret

# Txn: every compare needs READ, every op its own permission.
expect_out $'SUCCESS\n\nOK' as alice:alicepw txn <<<$'value("foo") = "v2"\n\nput foo v3\n\n'
expect_err "$DENIED" as alice:alicepw txn <<<$'value("secret") = "s"\n\nput foo v4\n\n'
expect_err "$DENIED" as alice:alicepw txn <<<$'value("foo") = "v3"\n\nput foo v4\n\nget secret\n'

# Leases need a user; revoking one needs WRITE on its keys.
run as alice:alicepw lease grant 60
[ "$RC" = 0 ] || fail "lease grant as alice: $ERR"
LEASE=$(printf '%s\n' "$OUT" | awk '$1 == "lease" && $3 == "granted" { print $2 }')
[ -n "$LEASE" ] || fail "no lease id in: $OUT"
expect_err "failed to grant lease ($NO_USER)" ctl lease grant 60
expect_out "lease $LEASE keepalived with TTL(60)" as alice:alicepw lease keep-alive --once "$LEASE"
expect_err "$NO_USER" ctl lease keep-alive --once "$LEASE" # the stream is refused as it opens
expect_out OK as root:rootpw put secret2 x --lease="$LEASE"
expect_err "failed to revoke lease ($DENIED)" as alice:alicepw lease revoke "$LEASE"
expect_out "lease $LEASE revoked" as root:rootpw lease revoke "$LEASE"

# Admin methods need the root role; a user may look at itself.
expect_out $'alice\nroot' as root:rootpw user list
expect_out $'reader\nroot\nwriter' as root:rootpw role list
expect_err "$DENIED" as alice:alicepw user list
expect_err "$DENIED" as alice:alicepw role add hacker
expect_out $'User: alice\nRoles: reader writer' as alice:alicepw user get alice
expect_err "$DENIED" as alice:alicepw user get root
expect_out $'Role reader\nKV Read:\n\t[app/, app0) (prefix app/)\nKV Write:' \
	as alice:alicepw role get reader
expect_err "$DENIED" as alice:alicepw role get root
expect_err 'etcdserver: invalid auth management' as root:rootpw user delete root
expect_err 'etcdserver: invalid auth management' as root:rootpw role delete root
expect_err 'etcdserver: invalid auth management' as root:rootpw user revoke-role root root
expect_err 'etcdserver: role is not granted to the user' as root:rootpw user revoke-role alice root
expect_err 'etcdserver: permission is not granted to the role' \
	as root:rootpw role revoke-permission reader nosuch

# Watch: a create on a range the user may not read is canceled with etcd's reason.
run timeout 10 etcdctl --endpoints="127.0.0.1:$MS_PORT" --user alice:alicepw watch secret
[ "$RC" != 0 ] && [ "$RC" != 124 ] || fail "denied watch: status $RC: $OUT $ERR"
printf '%s\n' "$ERR" | grep -qxF "watch was canceled ($DENIED)" || fail "denied watch: $ERR"
etcdctl --endpoints="127.0.0.1:$MS_PORT" --user alice:alicepw watch foo >"$E2E_TMP/w" 2>&1 &
E2E_PIDS+=($!)
seen() { grep -qx "$1" "$E2E_TMP/w"; }
# Puts until the watcher (registering in the background) reports one: bounded.
for i in $(seq 50); do
	as root:rootpw put foo "w$i" >/dev/null
	seen "w$i" && break
	sleep 0.1
done
seen "w$i" || fail "allowed watch saw nothing: $(cat "$E2E_TMP/w")"

# A password change takes effect at once.
run as root:rootpw user passwd alice --interactive=false <<<'newpw'
[ "$RC" = 0 ] && [ "$OUT" = 'Password updated' ] || fail "user passwd: $OUT $ERR"
expect_err "$BAD_LOGIN" as alice:alicepw get foo
expect_out "$(printf 'foo\nw%s' "$i")" as alice:newpw get foo

# --- disable ---------------------------------------------------------------------------
expect_err "$DENIED" as alice:newpw auth disable
expect_out 'Authentication Disabled' as root:rootpw auth disable
expect_out $'secret\ns' ctl get secret
expect_out OK ctl put after disable
echo "PASS $E2E_NAME"
