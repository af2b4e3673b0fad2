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
expect_error 2 "$E2E_TMP/bad-syntax.yaml:2: did not find expected ',' or ']'" --config "$E2E_TMP/bad-syntax.yaml"
expect_error 2 "/nonexistent.yaml: No such file or directory" --config /nonexistent.yaml
METASTORE_AGENT_PROBES=nope expect_error 2 "METASTORE_AGENT_PROBES: --probes: unknown subsystem 'nope'" --binary "$METASTORE"
expect_error 1 "no process with pid $gone" --pid "$gone"
expect_error 1 "binary /nonexistent/metastore: No such file or directory" --binary /nonexistent/metastore
expect_error 1 "$E2E_TMP/script is not a 64-bit ELF executable" --binary "$E2E_TMP/script"
expect_error 1 "symbol ms_probe_batch (subsystem grpc) not found in $E2E_TMP/stripped (stripped binary: no .symtab)" \
	--binary "$E2E_TMP/stripped"
expect_error 1 "symbol ms_probe_batch (subsystem storage) not found in /bin/true" \
	--binary /bin/true --probes storage
# A store of another major probe contract version: its ms_probe_abi_version patched to 1.7.
cp "$METASTORE" "$E2E_TMP/old-abi"
read -r abi_addr abi_ndx < <(readelf -sW "$E2E_TMP/old-abi" |
	awk '$8 == "ms_probe_abi_version" { print $2, $7; exit }')
read -r sec_addr sec_off < <(readelf -SW "$E2E_TMP/old-abi" | sed 's/\[ */[/' |
	awk -v n="[$abi_ndx]" '$1 == n { print $4, $5; exit }')
[ -n "$abi_addr" ] && [ -n "$sec_addr" ] || fail "no ms_probe_abi_version in $METASTORE"
abi_off=$((0x$abi_addr - 0x$sec_addr + 0x$sec_off))
major=$(dd if="$E2E_TMP/old-abi" bs=1 skip=$((abi_off + 2)) count=2 status=none | od -An -tu2 | tr -d ' ')
minor=$(dd if="$E2E_TMP/old-abi" bs=1 skip="$abi_off" count=2 status=none | od -An -tu2 | tr -d ' ')
printf '\x07\x00\x01\x00' | dd of="$E2E_TMP/old-abi" bs=1 seek="$abi_off" conv=notrunc status=none
expect_error 1 "$E2E_TMP/old-abi speaks probe contract 1.7 and this agent $major.$minor: the major versions differ, nothing attached" \
	--binary "$E2E_TMP/old-abi"

# Configuration files and values, each with its exact line: "metastore-agent: MSG (see --help)".
# expect_line EXIT_CODE LINE ARGS...: the agent exits so with exactly "metastore-agent: LINE".
expect_line() {
	local rc=$1 line=$2
	shift 2
	expect_error "$rc" "$line" "$@"
	[ "$(cat "$E2E_TMP/err")" = "metastore-agent: $line" ] ||
		fail "'$*': expected exactly 'metastore-agent: $line', got: $(cat "$E2E_TMP/err")"
}
# expect_exact MESSAGE ARGS...: a usage error (exit 2, with the --help hint).
expect_exact() {
	local msg=$1
	shift
	expect_line 2 "$msg (see --help)" "$@"
}
# expect_fatal MESSAGE ARGS...: exit 1 with exactly that one line (no usage hint).
expect_fatal() {
	local msg=$1
	shift
	expect_line 1 "$msg" "$@"
}
C=$E2E_TMP/c.yaml
conf() { printf -- "$1" >"$C"; }
conf 'binary: "unterminated\n'
expect_exact "$C:2: found unexpected end of stream" --config "$C"
conf 'binary: x\n\tprobes: all\n'
expect_exact "$C:2: found a tab character that violates indentation" --config "$C"
conf 'binary: x\x01\x02\n'
expect_exact "$C:1: control characters are not allowed" --config "$C"
conf 'binary: \xff\xfe\n'
expect_exact "$C:1: invalid leading UTF-8 octet" --config "$C"
conf '- binary\n- x\n'
expect_exact "$C:1: the top level must be a mapping" --config "$C"
conf 'binary: x\nbogus_option: 1\n'
expect_exact "$C:2: unknown key 'bogus_option'" --config "$C"
conf 'help: true\n'
expect_exact "$C:1: unknown key 'help'" --config "$C"
conf 'binary: x\nbinary: y\n'
expect_exact "$C:2: duplicate key" --config "$C"
conf 'pid: abc\n'
expect_exact "$C:1: --pid: invalid process id 'abc'" --config "$C"
conf 'pid: [1, 2]\n'
expect_exact "$C:1: --pid: invalid process id '1,2'" --config "$C"
conf 'binary: x\nprobes: {grpc: true}\n'
expect_exact "$C:2: values are scalars or lists of scalars" --config "$C"
conf 'binary: x\nprobes: [grpc, [conn]]\n'
expect_exact "$C:2: list items must be scalars" --config "$C"
conf 'binary: x\nbpf_stats: maybe\n'
expect_exact "$C:2: --bpf-stats: expects true or false, not 'maybe'" --config "$C"
conf 'binary: x\nbuckets: [0.1, fast]\n'
expect_exact "$C:2: --buckets: 'fast' is not a number of seconds" --config "$C"
conf 'binary: x\nlisten: 9464\n'
expect_exact "$C:2: --listen: invalid address '9464': want IP:PORT or [IPv6]:PORT" --config "$C"
mkdir "$E2E_TMP/confdir"
expect_exact "$E2E_TMP/confdir: Is a directory" --config "$E2E_TMP/confdir"
expect_exact "--config: empty path" --config ""
METASTORE_AGENT_CONFIG=$E2E_TMP/missing.yaml expect_exact "$E2E_TMP/missing.yaml: No such file or directory"
# Invalid command-line values.
expect_exact "--pid: invalid process id '99999999999'" --pid 99999999999
expect_exact "--buckets: empty bucket list" --binary x --buckets ''
expect_exact "--buckets: bounds must increase: '0.1' after '0.1'" --binary x --buckets 0.1,0.1
expect_exact "--buckets: '-1' is not positive" --binary x --buckets -1
expect_exact "--buckets: 'nan' is not finite" --binary x --buckets nan
expect_exact "--probes: empty subsystem name in 'grpc,,conn'" --binary x --probes grpc,,conn
expect_exact "--listen: invalid address '1.2.3.4.5:80': want IP:PORT or [IPv6]:PORT" --binary x --listen 1.2.3.4.5:80
expect_exact "--bpf-stats: expects true or false, not 'maybe'" --binary x --bpf-stats=maybe
expect_exact "--config: missing value" --binary x --config

RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# A configuration file the user cannot read (root reads anything, so as nobody; the file
# is read before the root check).
printf 'binary: x\n' >"$E2E_TMP/secret.yaml" && chmod 000 "$E2E_TMP/secret.yaml"
expect_exact "$E2E_TMP/secret.yaml: Permission denied" --config "$E2E_TMP/secret.yaml"
# Not root, no capability: each missing one named.
expect_fatal "missing capabilities: CAP_SETPCAP, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN load and attach the uprobes, CAP_SETPCAP drops the rest)" --binary "$METASTORE"
expect_fatal "missing capabilities: CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN load and attach the uprobes, CAP_SETPCAP drops the rest, CAP_SETUID and CAP_SETGID switch to --user)" --binary "$METASTORE" --user nobody
# Root without two of them: named, not "Operation not permitted".
RUN_AS=(setpriv --bounding-set -bpf,-perfmon)
expect_fatal "missing capabilities: CAP_PERFMON, CAP_BPF (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN load and attach the uprobes, CAP_SETPCAP drops the rest)" --binary "$METASTORE"

# Another user holding every capability it needs runs (and drops them after attaching).
RUN_AS=()
chmod 0755 "$E2E_TMP" "$METASTORE"
caps=+bpf,+perfmon,+sys_admin,+setpcap
port=$(free_port)
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps "$caps" --ambient-caps "$caps" \
	"$AGENT" --binary "$METASTORE" --listen "127.0.0.1:$port" >"$E2E_TMP/agent-nobody.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
wait_until 20 curl -sf "http://127.0.0.1:$port/health" || fail "agent as nobody with the capabilities did not start"
grep -q "^Uid:	65534	" "/proc/$pid/status" || fail "not running as nobody"
grep -qx "CapEff:	0000000000000000" "/proc/$pid/status" || fail "capabilities kept: $(grep CapEff "/proc/$pid/status")"
kill -TERM "$pid"
wait "$pid" || fail "agent as nobody exited non-zero on SIGTERM"

# --check: settings, kernel, BTF and the binary's probes, nothing attached; one line, 0 or 1.
out=$("$AGENT" --check --binary "$METASTORE" --probes grpc,lease 2>"$E2E_TMP/err") || fail "--check failed: $(cat "$E2E_TMP/err")"
[ "$out" = "metastore-agent: check ok: $METASTORE has every probe of grpc,lease; kernel and BTF usable; capabilities present" ] ||
	fail "--check said: $out"
[ ! -s "$E2E_TMP/err" ] || fail "--check wrote to stderr: $(cat "$E2E_TMP/err")"
expect_fatal "symbol ms_probe_batch (subsystem grpc) not found in $E2E_TMP/stripped (stripped binary: no .symtab)" \
	--check --binary "$E2E_TMP/stripped"
printf 'check: true\nbinary: x\n' >"$E2E_TMP/check.yaml"
expect_exact "$E2E_TMP/check.yaml:1: unknown key 'check'" --config "$E2E_TMP/check.yaml"

# --log-format json: one JSON object a line (errors too); --log-level error: no start-up line.
expect_error 1 '"level":"error","msg":"binary /nonexistent/metastore: No such file or directory"}' \
	--log-format json --binary /nonexistent/metastore
jq -e '.level == "error" and (.ts | test("^[0-9-]+T[0-9:.]+Z$"))' "$E2E_TMP/err" >/dev/null ||
	fail "JSON error line: $(cat "$E2E_TMP/err")"
expect_exact "--log-level: 'loud' is not error, warn, info or debug" --binary x --log-level loud
expect_exact "--log-format: 'xml' is not text or json" --binary x --log-format xml
for fmt in json quiet; do
	port=$(free_port)
	if [ "$fmt" = json ]; then set -- --log-format json; else set -- --log-level error; fi
	"$AGENT" --binary "$METASTORE" --listen "127.0.0.1:$port" "$@" >"$E2E_TMP/agent-$fmt.log" 2>&1 &
	pid=$!
	E2E_PIDS+=("$pid")
	wait_until 20 curl -sf "http://127.0.0.1:$port/health" || fail "agent with $* did not start"
	kill -TERM "$pid"
	wait "$pid" || fail "agent with $* exited non-zero"
	if [ "$fmt" = json ]; then
		jq -s -e --arg p "$port" 'length == 2 and all(.level == "info")
			and (.[0].msg | test("serving http://127.0.0.1:" + $p + "/metrics$"))
			and .[1].msg == "Terminated, detaching"' "$E2E_TMP/agent-json.log" >/dev/null ||
			fail "JSON log: $(cat "$E2E_TMP/agent-json.log")"
	else
		[ ! -s "$E2E_TMP/agent-quiet.log" ] || fail "--log-level error logged: $(cat "$E2E_TMP/agent-quiet.log")"
	fi
done

# A BTF file that is not there; the running kernel's given as --btf works like the default.
expect_fatal "--btf /nonexistent/vmlinux: No such file or directory" --binary "$METASTORE" --btf /nonexistent/vmlinux

# --listen with port 0 says which port it got; flags take true/false; SIGHUP does not stop it.
"$AGENT" --binary "$METASTORE" --listen 127.0.0.1:0 --bpf-stats false --btf /sys/kernel/btf/vmlinux \
	>"$E2E_TMP/agent-0.log" 2>&1 &
pid=$!
E2E_PIDS+=("$pid")
wait_until 20 grep -q 'serving http://127.0.0.1:[0-9]*/metrics' "$E2E_TMP/agent-0.log" || fail "no serving line: $(cat "$E2E_TMP/agent-0.log")"
port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$E2E_TMP/agent-0.log")
[ "$port" != 0 ] || fail "port 0 printed"
wait_until 10 curl -sf "http://127.0.0.1:$port/health" || fail "printed port $port does not answer"
kill -HUP "$pid"
sleep 0.3
kill -0 "$pid" 2>/dev/null || fail "SIGHUP ended the agent"
grep -q 'SIGHUP' "$E2E_TMP/agent-0.log" || fail "SIGHUP not logged: $(cat "$E2E_TMP/agent-0.log")"
curl -sf "http://127.0.0.1:$port/health" >/dev/null || fail "not serving after SIGHUP"
kill -TERM "$pid"
wait "$pid" || fail "agent exited non-zero on SIGTERM"

echo "PASS $E2E_NAME"
