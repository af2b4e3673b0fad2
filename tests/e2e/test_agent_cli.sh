#!/usr/bin/env bash
# End-to-end: every bad command line or environment gives one clear line and a non-zero exit.
. "$(dirname "$0")/lib.sh"
need_root

cp "$METASTORE" "$E2E_TMP/stripped" && strip "$E2E_TMP/stripped"
printf '#!/bin/sh\n' >"$E2E_TMP/script" && chmod +x "$E2E_TMP/script"
# A pid that is not running: a finished child's.
sleep 0 & gone=$!
wait "$gone"

RUN_AS=()
# expect_error EXIT_CODE MESSAGE ARGS...: the agent exits with EXIT_CODE and prints exactly
# one line on stderr, which contains MESSAGE; nothing on stdout.
expect_error() {
	local want_rc=$1 msg=$2 rc=0
	shift 2
	timeout 20 "${RUN_AS[@]}" "$AGENT" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
	[ "$rc" = "$want_rc" ] || fail "'$*': exit $rc, expected $want_rc; stderr: $(cat "$E2E_TMP/err")"
	[ ! -s "$E2E_TMP/out" ] || fail "'$*': unexpected stdout: $(cat "$E2E_TMP/out")"
	[ "$(wc -l <"$E2E_TMP/err")" = 1 ] || fail "'$*': expected one line, got: $(cat "$E2E_TMP/err")"
	grep -qF -- "$msg" "$E2E_TMP/err" || fail "'$*': expected '$msg', got: $(cat "$E2E_TMP/err")"
}

expect_error 2 "one of --binary or --pid is required"
expect_error 2 "unknown option --bogus" --bogus
expect_error 2 "--pid: invalid process id 'abc'" --pid abc
expect_error 2 "--pid: invalid process id '0'" --pid 0
expect_error 2 "--pid: invalid process id '-5'" --pid -5
expect_error 2 "--binary and --pid are exclusive" --binary "$METASTORE" --pid 1
expect_error 2 "--probes: unknown subsystem 'bogus'" --binary "$METASTORE" --probes grpc,bogus
expect_error 2 "--listen: invalid address '127.0.0.1:99999'" --binary "$METASTORE" --listen 127.0.0.1:99999
expect_error 2 "--buckets:" --binary "$METASTORE" --buckets 0.5,0.1
expect_error 2 "--binary: missing value" --binary
printf 'bogus: 1\n' >"$E2E_TMP/bad-key.yaml"
printf 'binary: [unclosed\n' >"$E2E_TMP/bad-syntax.yaml"
expect_error 2 "$E2E_TMP/bad-key.yaml:1: unknown key 'bogus'" --config "$E2E_TMP/bad-key.yaml"
expect_error 2 "$E2E_TMP/bad-syntax.yaml:2: " --config "$E2E_TMP/bad-syntax.yaml"
expect_error 2 "/nonexistent.yaml: No such file or directory" --config /nonexistent.yaml
METASTORE_AGENT_PROBES=nope expect_error 2 "METASTORE_AGENT_PROBES: --probes: unknown subsystem 'nope'" --binary "$METASTORE"
expect_error 1 "no process with pid $gone" --pid "$gone"
expect_error 1 "binary /nonexistent/metastore: No such file or directory" --binary /nonexistent/metastore
expect_error 1 "$E2E_TMP/script is not a 64-bit ELF executable" --binary "$E2E_TMP/script"
expect_error 1 "symbol ms_probe_grpc_request_begin (subsystem grpc) not found in $E2E_TMP/stripped (stripped binary: no .symtab)" \
	--binary "$E2E_TMP/stripped"
expect_error 1 "symbol ms_probe_storage_begin (subsystem storage) not found in /bin/true" \
	--binary /bin/true --probes storage
RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
expect_error 1 "must run as root" --binary "$METASTORE"

echo "PASS $E2E_NAME"
