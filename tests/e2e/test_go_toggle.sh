#!/usr/bin/env bash
# The phase benchmarks' probe switcher (bench/go_toggle.c, loader_detach / loader_reattach) on
# an unmodified Go etcd: detached, no uprobe is left (no perf event) and puts count no hit;
# re-attached, the same number of uprobes and the puts count again; a connection that closes
# while detached leaves them attached; an unknown command is refused; SIGTERM ends it.
source "$(dirname "$0")/lib.sh"

need_root
: "${GO_TOGGLE:=build/bench/go_toggle}"
[ -x "$GO_TOGGLE" ] || fail "$GO_TOGGLE not built (make)"
[ -x /usr/bin/etcd ] || fail "needs Debian's etcd (etcd-server)"
command -v python3 >/dev/null || fail "needs python3 (the socket client)"
# Its own copy: uprobes attach to an inode, so etcds other tests run are not counted here.
cp /usr/bin/etcd "$E2E_TMP/etcd"
ETCD=$E2E_TMP/etcd
. "$(dirname "$0")/etcd.sh"
MS_PORT=$(free_port)
start_etcd_single "$MS_PORT" --log-level error

# A subsystem Go targets lack: one line, non-zero exit, nothing listening.
out=$("$GO_TOGGLE" --binary "$ETCD" --probes grpc,auth --ctl "$E2E_TMP/refused.sock" 2>&1) &&
	fail "auth on a Go target was accepted"
grep -q "subsystem auth is not available for Go targets" <<<"$out" || fail "refusal: $out"
[ ! -e "$E2E_TMP/refused.sock" ] || fail "a refused switcher left its socket"

SOCK=$E2E_TMP/toggle.sock
"$GO_TOGGLE" --binary "$ETCD" --probes grpc,storage,mvcc,raft,lease,watch --ctl "$SOCK" \
	>"$E2E_TMP/toggle.log" 2>&1 &
TOGGLE_PID=$!
E2E_PIDS+=("$TOGGLE_PID")
wait_until 30 grep -q '^ready ' "$E2E_TMP/toggle.log" || fail "the switcher is not ready"

# uprobes the switcher holds: one perf event each, or one uprobe_multi link each (on kernels
# that have them: the "links=" of its ready line)
kind=$(sed -n 's/^ready .* links=\([a-z_]*\).*/\1/p' "$E2E_TMP/toggle.log")
case $kind in
uprobe_multi) uprobes() { grep -l '^link_type:[[:space:]]*uprobe_multi' /proc/"$TOGGLE_PID"/fdinfo/* 2>/dev/null | wc -l; } ;;
perf_event) uprobes() { find "/proc/$TOGGLE_PID/fd" -lname 'anon_inode:*perf_event*' | wc -l; } ;;
*) fail "the switcher's ready line names no link kind: $(cat "$E2E_TMP/toggle.log")" ;;
esac
uprobes_are() { [ "$(uprobes)" = "$1" ]; }
N=$(uprobes)
# every site of the six subsystems and the member one: 1+2+3+2+1+4+3
[ "$N" = 16 ] || fail "$N $kind uprobes attached, not 16"

# One connection for several commands (closing it re-attaches): a python3 client as a
# coprocess, one answer line per command line.
coproc CLIENT { python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rb")
for line in sys.stdin:
    s.sendall(line.encode())
    print(f.readline().decode().rstrip("\n"), flush=True)
' "$SOCK"; }
E2E_PIDS+=("$CLIENT_PID")
# cmd C: sends C, sets ANS to the answer (bounded wait)
cmd() {
	echo "$1" >&"${CLIENT[1]}"
	read -r -t 30 ANS <&"${CLIENT[0]}" || fail "no answer to '$1'"
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$ANS"; }
puts() { for i in $(seq 1 "$1"); do ctl put "toggle/k$i" v >/dev/null; done; }

cmd 0
[[ $ANS =~ ^ok\ on=0\  ]] || fail "detach answered: $ANS"
[ "$(uprobes)" = 0 ] || fail "$(uprobes) uprobes left after the detach"
off_from=$(field hits_after)
puts 5
cmd 1
[[ $ANS =~ ^ok\ on=1\  ]] || fail "attach answered: $ANS"
[ "$(field hits_before)" = "$off_from" ] ||
	fail "hits counted while detached: $off_from before the puts, $(field hits_before) after"
[ "$(uprobes)" = "$N" ] || fail "$(uprobes) uprobes after the re-attach, $N before"
on_from=$(field hits_after)
puts 5
cmd 0
# each unary call hits at least handleStream and its WriteStatus
[ $(($(field hits_before) - on_from)) -ge 10 ] ||
	fail "5 puts attached counted $(($(field hits_before) - on_from)) hits, fewer than 10"
cmd x
[ "$ANS" = "err unknown command 'x'" ] || fail "unknown command answered: $ANS"

# The connection closes while detached: the switcher attaches again.
eval "exec ${CLIENT[1]}>&-"
wait_until 10 uprobes_are "$N" || fail "$(uprobes) uprobes after the client left, $N before"

kill -TERM "$TOGGLE_PID"
rc=0
wait "$TOGGLE_PID" || rc=$?
[ "$rc" = 0 ] || fail "the switcher exited $rc on SIGTERM"
[ ! -e "$SOCK" ] || fail "the switcher left its socket"
echo "PASS $E2E_NAME ($N $kind uprobes detached and re-attached)"
