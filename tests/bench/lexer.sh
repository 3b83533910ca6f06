#!/bin/bash
# lexer.sh - the lexer's throughput on the Synapse fixtures (COPY-heavy data
# dump, DDL-heavy schema dump), each beside cat's speed on the same input in
# the same run.  Goals: >= 1000 MB/s COPY-heavy, >= 300 MB/s DDL.
set -euo pipefail
cd "$(dirname "$0")/../.."
fx=../shared/fixtures/synapse
if [ ! -d "$fx" ]; then
	echo "skip: $fx missing, no lexer benchmark" >&2
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zcat "$fx/synapse-small.sql.gz" >"$tmp/data.sql"
cp "$fx/synapse-schema.sql" "$tmp/schema.sql"
cat_speed() { # MB/s of cat over the file, repeated for about 1 s
	local f=$1 size n=0 start end
	size=$(stat -c %s "$f")
	start=$(date +%s%N)
	while :; do
		cat "$f" "$f" "$f" "$f" "$f" "$f" "$f" "$f" "$f" "$f" >/dev/null
		n=$((n + 10))
		end=$(date +%s%N)
		[ $((end - start)) -gt 1000000000 ] && break
	done
	echo $((size * n * 1000 / (end - start)))
}
printf '%-34s %10s %10s %8s\n' "lexer throughput (one core)" "lexer MB/s" "cat MB/s" "ratio"
for kind in data schema; do
	f=$tmp/$kind.sql
	read -r mbs _ < <(build/lexer_bench "$f" 2)
	c=$(cat_speed "$f")
	label="synapse $kind ($(($(stat -c %s "$f") / 1000)) kB)"
	[ "$kind" = data ] && label="$label, COPY-heavy" || label="$label, DDL-heavy"
	printf '%-34s %10s %10s %8s\n' "$label" "$mbs" "$c" "$(awk -v a="$mbs" -v b="$c" 'BEGIN{printf "%.2f", a/b}')"
done
