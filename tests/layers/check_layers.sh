#!/usr/bin/env bash
# The store's include rules: a layer includes only itself and the layers below it, and
# store/ includes neither libuv nor libraft. Prints each violation; exits 1 if any.
set -u
cd "$(dirname "$0")/../.."

# layer -> the folders it may include from (besides system headers and include/)
declare -A ALLOWED=(
	[probe]="probe"
	[store]="store probe"
	[apply]="apply store probe"
	[rpc]="rpc store probe"
	[raft]="raft rpc apply store probe"
	[api]="api rpc raft apply store probe"
	[cmd]="cmd api rpc raft apply store probe"
)
# system headers a layer must not include
declare -A BANNED=(
	[probe]="raft.h raft/uv.h"
	[store]="uv.h raft.h raft/uv.h nghttp2/nghttp2.h"
	[apply]="uv.h raft.h raft/uv.h nghttp2/nghttp2.h"
)

bad=0
for layer in "${!ALLOWED[@]}"; do
	for f in metastore/$layer/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r line; do
			inc=${line#*\"}
			inc=${inc%%\"*}
			case $inc in */*) ;; *) continue ;; esac # include/ and generated headers
			dir=${inc%%/*}
			ok=0
			for a in ${ALLOWED[$layer]}; do [ "$dir" = "$a" ] && ok=1; done
			if [ $ok = 0 ]; then
				echo "$f: layer $layer includes $inc"
				bad=1
			fi
		done < <(grep -E '^#include "' "$f")
		for sys in ${BANNED[$layer]:-}; do
			if grep -qE "^#include <${sys//./\\.}>" "$f"; then
				echo "$f: layer $layer includes <$sys>"
				bad=1
			fi
		done
	done
done
for f in metastore/*.[ch]; do
	[ -e "$f" ] && { echo "$f: outside every layer folder"; bad=1; }
done
if [ $bad = 0 ]; then echo "layers: include rules hold"; fi
exit $bad
