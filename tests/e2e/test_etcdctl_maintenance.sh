#!/usr/bin/env bash
# End-to-end: etcdctl endpoint status/health/hashkv and member list against metastore.
. "$(dirname "$0")/lib.sh"

P1=$(free_port)
start_metastore "$P1" --name one
PID1=$MS_PID
P2=$(free_port)
start_metastore "$P2" --name two
e1() { etcdctl --endpoints="127.0.0.1:$P1" --dial-timeout=2s --command-timeout=5s "$@"; }
e2() { etcdctl --endpoints="127.0.0.1:$P2" --dial-timeout=2s --command-timeout=5s "$@"; }

for e in e1 e2; do
	$e put a 1 >/dev/null
	$e put b 2 >/dev/null
done
# The same writes give the same digest; the digest follows the data, at any revision.
h1=$(e1 endpoint hashkv | awk '{ print $2 }')
h2=$(e2 endpoint hashkv | awk '{ print $2 }')
[ -n "$h1" ] && [ "$h1" = "$h2" ] || fail "hashkv differs for equal stores: $h1 $h2"
e2 put c 3 >/dev/null
h2c=$(e2 endpoint hashkv | awk '{ print $2 }')
[ "$h2c" != "$h1" ] || fail "hashkv did not change with the data"
[ "$(e2 endpoint hashkv --rev=3 | awk '{ print $2 }')" = "$h1" ] || fail "hashkv at revision 3"
[ "$(e1 endpoint hashkv --rev=1)" = "127.0.0.1:$P1, 0" ] || fail "hashkv of the empty store"
e2 compaction 4 >/dev/null
e2 endpoint hashkv --rev=3 >/dev/null 2>"$E2E_TMP/err" && fail "hashkv below the compaction"
grep -qF "required revision has been compacted" "$E2E_TMP/err" || fail "$(cat "$E2E_TMP/err")"

# Status: one member, its own leader; member list names it with its client URL.
e1 endpoint status -w json >"$E2E_TMP/status"
id=$(e1 member list | awk -F', ' '{ print $1 }')
for field in '"version":"3.4.0"' '"revision":3' '"raft_term":1'; do
	grep -qF "$field" "$E2E_TMP/status" || fail "endpoint status lacks $field: $(cat "$E2E_TMP/status")"
done
member=$(sed 's/.*"member_id":\([0-9]*\).*/\1/' "$E2E_TMP/status")
leader=$(sed 's/.*"leader":\([0-9]*\).*/\1/' "$E2E_TMP/status")
[ -n "$member" ] && [ "$member" = "$leader" ] || fail "leader $leader, member $member"
[ "$(e1 member list)" = "$id, started, one, , http://127.0.0.1:$P1, false" ] ||
	fail "member list: $(e1 member list)"
[ "$(e2 member list | awk -F', ' '{ print $1 }')" != "$id" ] || fail "two names, one member id"
e1 endpoint health 2>&1 | grep -q "127.0.0.1:$P1 is healthy" || fail "endpoint health"
kill -0 "$PID1" || fail "metastore died"
echo "PASS $E2E_NAME"
