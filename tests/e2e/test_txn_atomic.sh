#!/usr/bin/env bash
# A txn that etcd refuses is refused whole (no revision, no key changed), and nested compares
# see the store before the txn, on a follower of a 3-member cluster (applied through the
# leader) and every member alike; etcd 3.4 runs the same checks as control.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/etcd.sh"

PY=/usr/bin/python3
CHECK=$(dirname "$0")/py/txn_atomic.py

EP=$(free_port)
start_etcd_single "$EP"
$PY "$CHECK" "127.0.0.1:$EP" >"$E2E_TMP/etcd-check.log" 2>&1 ||
	fail "etcd control failed: $(tail -3 "$E2E_TMP/etcd-check.log")"

cluster_init
for n in "${MEMBERS[@]}"; do start_member "$n"; done
leader=$(wait_leader)
follower=n1
[ "$leader" = n1 ] && follower=n2
$PY "$CHECK" "127.0.0.1:${CPORT[$follower]}" >"$E2E_TMP/follower-check.log" 2>&1 ||
	fail "follower $follower: $(tail -3 "$E2E_TMP/follower-check.log")"
[ "$(grep -c '^ok' "$E2E_TMP/follower-check.log")" = "$(grep -c '^ok' "$E2E_TMP/etcd-check.log")" ] ||
	fail "metastore ran $(grep -c '^ok' "$E2E_TMP/follower-check.log") checks, etcd $(grep -c '^ok' "$E2E_TMP/etcd-check.log")"
# every member holds the same keys at the same revision
want=$(etcdctl --endpoints="127.0.0.1:${CPORT[$leader]}" get t/ --prefix -w json | $PY -c \
	'import json,sys; r=json.load(sys.stdin); print(r["header"]["revision"], [(k["key"],k["value"]) for k in r.get("kvs",[])])')
for n in "${MEMBERS[@]}"; do
	wait_until 10 bash -c "[ \"\$(etcdctl --endpoints=127.0.0.1:${CPORT[$n]} --consistency=s get t/ --prefix -w json | $PY -c 'import json,sys; r=json.load(sys.stdin); print(r[\"header\"][\"revision\"], [(k[\"key\"],k[\"value\"]) for k in r.get(\"kvs\",[])])')\" = \"$want\" ]" ||
		fail "member $n differs from the leader's '$want': $(etcdctl --endpoints="127.0.0.1:${CPORT[$n]}" --consistency=s get t/ --prefix 2>&1 | head -20)"
done
echo "PASS $E2E_NAME (etcd and metastore: $(grep -c '^ok' "$E2E_TMP/etcd-check.log") checks each, 3 members agree at revision ${want%% *})"
