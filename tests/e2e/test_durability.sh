#!/usr/bin/env bash
# End-to-end: kill -9 the store at random points of a write load, ROUNDS times, restarting it
# from the same data dir: every acknowledged write is there after each restart and the
# revision never goes backwards. `make stress` runs more rounds (ROUNDS=20).
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-4}
MS_PORT=$(free_port)
ACKED=$E2E_TMP/acked   # "key revision" of every acknowledged put
touch "$ACKED"

# writer ROUND: puts r<ROUND>-<i> until killed, logging each acknowledged one.
writer() {
	local i=0 out
	while [ $i -lt 100000 ]; do
		i=$((i + 1))
		out=$(etcdctl --endpoints="127.0.0.1:$MS_PORT" --dial-timeout=1s --command-timeout=2s \
			put "r$1-$i" "v$i" -w json 2>/dev/null) || return 0
		echo "r$1-$i $(jq -r .header.revision <<<"$out")" >>"$ACKED"
	done
}

last_rev=1
total=0
# a small --snapshot-count: restarts load snapshots as well as replay the log
SNAP=(--snapshot-count 16)
for round in $(seq "$ROUNDS"); do
	start_metastore "$MS_PORT" "${SNAP[@]}"
	rev=$(ctl get nothing -w json | jq -r .header.revision)
	[ "$rev" -ge "$last_rev" ] || fail "round $round: revision went back from $last_rev to $rev"
	# every write acknowledged so far is present, with the value it was given
	n=$(wc -l <"$ACKED")
	got=$(ctl get r --prefix --keys-only | sed '/^$/d' | sort)
	want=$(cut -d' ' -f1 "$ACKED" | sort)
	[ "$(comm -23 <(echo "$want") <(echo "$got") | sed '/^$/d' | wc -l)" = 0 ] ||
		fail "round $round: lost acknowledged writes: $(comm -23 <(echo "$want") <(echo "$got") | head -5 | tr '\n' ' ')"
	[ "$n" = 0 ] || [ "$(sort -n -k2 "$ACKED" | tail -n 1 | cut -d' ' -f2)" -le "$rev" ] ||
		fail "round $round: revision $rev below an acknowledged one"
	last_rev=$rev
	total=$n
	writer "$round" &
	WPID=$!
	E2E_PIDS+=("$WPID")
	# a random point of the load: 0.3 to 1.2 s in
	sleep "0.$((3 + RANDOM % 9))"
	kill -9 "$MS_PID"
	{ wait "$MS_PID"; } 2>/dev/null || true
	wait "$WPID" 2>/dev/null || true
done
# the last round's writes, checked once more after a final restart
start_metastore "$MS_PORT" "${SNAP[@]}"
got=$(ctl get r --prefix --keys-only | sed '/^$/d' | sort)
want=$(cut -d' ' -f1 "$ACKED" | sort)
lost=$(comm -23 <(echo "$want") <(echo "$got") | sed '/^$/d' | wc -l)
[ "$lost" = 0 ] || fail "lost $lost acknowledged writes after the last kill"
total=$(wc -l <"$ACKED")
[ "$total" -gt 0 ] || fail "no write was acknowledged at all"
echo "PASS $E2E_NAME ($ROUNDS kills, $total writes acknowledged, 0 lost)"
