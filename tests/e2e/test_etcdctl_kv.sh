#!/usr/bin/env bash
# End-to-end: Debian's etcdctl against metastore (KV, txn, compaction), and bad gRPC input.
. "$(dirname "$0")/lib.sh"

MS_PORT=$(free_port)
start_metastore "$MS_PORT" --max-request-bytes 4096

# expect CMD... <<< EXPECTED: the command's stdout equals EXPECTED exactly.
expect() {
	local want got
	want=$(cat)
	got=$("$@" 2>"$E2E_TMP/stderr") || fail "'$*' failed: $(cat "$E2E_TMP/stderr")"
	[ "$got" = "$want" ] || fail "'$*': expected:
$want
got:
$got"
}

# expect_fail MESSAGE CMD...: the command fails and its stderr names MESSAGE.
expect_fail() {
	local msg=$1
	shift
	if "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/stderr"; then
		fail "'$*' succeeded: $(cat "$E2E_TMP/out")"
	fi
	grep -qF -- "$msg" "$E2E_TMP/stderr" || fail "'$*': expected '$msg', got: $(cat "$E2E_TMP/stderr")"
}

expect ctl put a 1 <<<"OK"                        # rev 2
expect ctl put b 2 <<<"OK"                        # rev 3
expect ctl put a 3 <<<"OK"                        # rev 4
expect ctl put c 4 <<<"OK"                        # rev 5
expect ctl put other x <<<"OK"                    # rev 6
expect ctl get a <<<$'a\n3'
expect ctl get a --rev=2 <<<$'a\n1'
expect ctl get a --rev=3 <<<$'a\n1'
expect ctl get a c <<<$'a\n3\nb\n2'               # [a, c)
expect ctl get a --prefix <<<$'a\n3'
expect ctl get "" --prefix --keys-only <<<$'a\n\nb\n\nc\n\nother\n'
expect ctl get "" --prefix --limit=2 <<<$'a\n3\nb\n2'
ctl get "" --prefix --limit=1 -w fields >"$E2E_TMP/fields"
for line in '"Revision" : 6' '"RaftTerm" : 1' '"More" : true' '"Count" : 4' '"Key" : "a"'; do
	grep -qxF "$line" "$E2E_TMP/fields" || fail "get --limit=1 -w fields lacks $line: $(cat "$E2E_TMP/fields")"
done
expect ctl get "" --prefix --sort-by=VALUE --order=DESCEND <<<$'other\nx\nc\n4\na\n3\nb\n2'
expect ctl get a --from-key <<<$'a\n3\nb\n2\nc\n4\nother\nx'
expect ctl get missing <<<""

# JSON: header revision, count, and the kv's revisions and version (base64 key "a" = YQ==).
ctl get a -w json >"$E2E_TMP/json"
for field in '"revision":6' '"count":1' '"key":"YQ=="' '"create_revision":2' '"mod_revision":4' '"version":2' '"value":"Mw=="'; do
	grep -qF "$field" "$E2E_TMP/json" || fail "get -w json lacks $field: $(cat "$E2E_TMP/json")"
done

expect ctl put a 5 --prev-kv <<<$'OK\na\n3'        # rev 7
expect ctl del b <<<"1"                            # rev 8
expect ctl del b <<<"0"                            # no revision
expect ctl del c --prev-kv <<<$'1\nc\n4'           # rev 9
expect ctl put p/1 1 <<<"OK"                       # rev 10
expect ctl put p/2 2 <<<"OK"                       # rev 11
expect ctl del p/ --prefix <<<"2"                  # rev 12
expect ctl get b --rev=7 <<<$'b\n2'

# Txn: compare on value, version, create and mod revision; both branches; nested reads.
printf 'value("a") = "5"\nversion("a") = "3"\n\nput t1 yes\nget a\n\nput t1 no\n\n' >"$E2E_TMP/txn1"
got=$(ctl txn <"$E2E_TMP/txn1")
[ "$got" = $'SUCCESS\n\nOK\n\na\n5' ] || fail "txn success branch: $got"
printf 'create("a") > "2"\n\nput t2 yes\n\nput t2 no\ndel other\n\n' >"$E2E_TMP/txn2"
got=$(ctl txn <"$E2E_TMP/txn2")
[ "$got" = $'FAILURE\n\nOK\n\n1' ] || fail "txn failure branch: $got"
expect ctl get t1 <<<$'t1\nyes'
expect ctl get t2 <<<$'t2\nno'
printf 'mod("t2") = "14"\n\nput t3 x\n\n\n' >"$E2E_TMP/txn3"
got=$(ctl txn <"$E2E_TMP/txn3")
[ "$got" = $'SUCCESS\n\nOK' ] || fail "txn on mod revision: $got"
# A txn's writes share one revision: t1 at 13, t2 and the delete at 14, t3 at 15.
ctl get t3 -w json | grep -qF '"revision":15' || fail "txn revisions: $(ctl get t3 -w json)"
printf '\nput d 1\nput d 2\n\n\n' >"$E2E_TMP/txn4"
expect_fail "etcdserver: duplicate key given in txn request" ctl txn <"$E2E_TMP/txn4"

# Compaction: reads below the compacted revision fail; at and above it they work.
expect ctl compaction 7 <<<"compacted revision 7"
expect ctl get a --rev=7 <<<$'a\n5'
expect_fail "etcdserver: mvcc: required revision has been compacted" ctl get a --rev=6
expect_fail "etcdserver: mvcc: required revision has been compacted" ctl compaction 5
expect_fail "etcdserver: mvcc: required revision is a future revision" ctl get a --rev=1000
expect_fail "etcdserver: mvcc: required revision is a future revision" ctl compaction 1000

# Limits: a put above --max-request-bytes is refused with etcd's error.
head -c 5000 /dev/zero | tr '\0' v >"$E2E_TMP/big"
expect_fail "etcdserver: request is too large" ctl put big "$(cat "$E2E_TMP/big")"
expect_fail "etcdserver: key is not provided" ctl put "" x

# Raw gRPC with curl: bad input gets a status and the server keeps serving.
grpc_status() { # PATH BODYFILE [CONTENT-TYPE]: prints "HTTP-status grpc-status"
	curl -s --max-time 5 --http2-prior-knowledge -X POST -H "content-type: ${3:-application/grpc}" \
		--data-binary @"$2" -D "$E2E_TMP/hdr" -o /dev/null "http://127.0.0.1:$MS_PORT$1"
	awk 'NR == 1 { s = $2 } /^grpc-status:/ { g = $2 } END { gsub("\r", "", g); print s, g }' "$E2E_TMP/hdr"
}
printf '\x00\x00\x00\x00\x03\xff\xff\xff' >"$E2E_TMP/malformed"     # not a protobuf
printf '\x00\x00\x00\x00\x09\x0a' >"$E2E_TMP/truncated"            # 9 bytes declared, 1 sent
printf '\x01\x00\x00\x00\x02\x0a\x00' >"$E2E_TMP/compressed"       # compressed flag, no codec
printf '\x00\x7f\xff\xff\xff' >"$E2E_TMP/huge"                     # declares 2 GiB
printf '\x00\x00\x00\x00\x03\x0a\x01\x61' >"$E2E_TMP/range_a"      # RangeRequest{key: "a"}
head -c 700000 /dev/zero >"$E2E_TMP/oversize"                      # above 4 KiB + 512 KiB
[ "$(grpc_status /etcdserverpb.KV/Range "$E2E_TMP/malformed")" = "200 13" ] || fail "malformed protobuf"
[ "$(grpc_status /etcdserverpb.KV/Range "$E2E_TMP/truncated")" = "200 13" ] || fail "truncated message"
[ "$(grpc_status /etcdserverpb.KV/Range "$E2E_TMP/compressed")" = "200 12" ] || fail "compressed message"
[ "$(grpc_status /etcdserverpb.KV/Range "$E2E_TMP/huge")" = "200 8" ] || fail "declared oversize"
[ "$(grpc_status /etcdserverpb.KV/Put "$E2E_TMP/oversize")" = "200 8" ] || fail "oversize body"
[ "$(grpc_status /etcdserverpb.Nope/Nope "$E2E_TMP/range_a")" = "200 12" ] || fail "unknown service"
grep -qF 'grpc-message: unknown service etcdserverpb.Nope' "$E2E_TMP/hdr" || fail "unknown service message: $(cat "$E2E_TMP/hdr")"
[ "$(grpc_status /etcdserverpb.KV/Nope "$E2E_TMP/range_a")" = "200 12" ] || fail "unknown method"
grep -qF 'grpc-message: unknown method Nope for service etcdserverpb.KV' "$E2E_TMP/hdr" || fail "unknown method message: $(cat "$E2E_TMP/hdr")"
[ "$(grpc_status /etcdserverpb.KV/Range "$E2E_TMP/range_a" text/plain)" = "415 " ] || fail "wrong content type"
[ "$(grpc_status /etcdserverpb.KV/Range "$E2E_TMP/range_a")" = "200 0" ] || fail "valid raw request"
# Garbage instead of the HTTP/2 preface: the connection is dropped, the server lives on.
head -c 4096 /dev/urandom | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$MS_PORT" 2>/dev/null || true
kill -0 "$MS_PID" || fail "metastore died on bad input"
expect ctl get a <<<$'a\n5'

# Large values with the default limits: 1 MB puts (value on stdin) and a 3 MB range
# response, which HTTP/2 flow control has to let through in pieces.
BIG_PORT=$(free_port)
start_metastore "$BIG_PORT"
bigctl() { etcdctl --endpoints="127.0.0.1:$BIG_PORT" --dial-timeout=2s --command-timeout=5s "$@"; }
head -c 1000000 /dev/zero | tr '\0' w >"$E2E_TMP/1mb"
for k in big/1 big/2 big/3; do
	[ "$(bigctl put "$k" <"$E2E_TMP/1mb")" = "OK" ] || fail "put $k (1 MB)"
done
got=$(bigctl get big/ --prefix --print-value-only | tr -d '\n' | wc -c)
[ "$got" = 3000000 ] || fail "3 MB range returned $got value bytes"
head -c 1600000 /dev/zero | tr '\0' w >"$E2E_TMP/1600kb"
expect_fail "etcdserver: request is too large" bigctl put big/4 <"$E2E_TMP/1600kb"

# --help and a bad flag.
"$METASTORE" --help | grep -q -- "--listen" || fail "--help lacks --listen"
rc=0
"$METASTORE" --listen nonsense 2>"$E2E_TMP/err" || rc=$?
[ "$rc" = 2 ] && grep -qF -- "--listen: invalid address 'nonsense'" "$E2E_TMP/err" ||
	fail "bad --listen: exit $rc, $(cat "$E2E_TMP/err")"
echo "PASS $E2E_NAME"
