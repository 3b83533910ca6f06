#!/bin/bash
# filter_chunking.sh - `pgsluice filter` writes the same bytes whatever
# sizes its input arrives in: in one read (`< file`), one byte per read
# (build/tools/dribble 1), or random sizes (dribble random SEED).
#
# Fixtures: the Synapse fixture, ours (build/fixtures/synapse) and
# ../shared's when it is there (gzip and plain forms of both small
# dumps, and the plain schema dump) and the kitchen-sink dumps made here
# (plain and gzip).  One-byte mode runs on whole files up to 512 KB (not
# on every kitchen-sink variant: it takes a few seconds each), and on
# the first 300 KB of the bigger ones (a truncated dump: the output up to
# the error, and the exit status, must match too); random mode runs on
# whole files.  Each case also checks stderr (summary, --explain) is the
# same, and the exit status.
#
# The seed is printed; rerun a failure with FILTER_CHUNKING_SEED=N.
. "$(dirname "$0")/../lib/common.sh"

DRIBBLE=$ROOT/build/tools/dribble
if [ ! -x "$PGSLUICE" ]; then
	not_ok "chunking: $PGSLUICE not built (run make)"
	exit 1
fi
if [ ! -x "$DRIBBLE" ]; then
	not_ok "chunking: $DRIBBLE not built (run make build/tools/dribble)"
	exit 1
fi
seed=${FILTER_CHUNKING_SEED:-$(((RANDOM << 15) | RANDOM))}
echo "# random seed $seed (rerun with FILTER_CHUNKING_SEED=$seed)"


# same NAME MODE FILE [filter options]: output of `dribble MODE < FILE |
# filter` equals that of `filter < FILE` (stdout, stderr, exit status)
n=0
same() {
	local name=$1 mode=$2 file=$3
	shift 3
	n=$((n + 1))
	local ref=$T/ref-$n out=$T/out-$n
	"$PGSLUICE" filter "$@" <"$file" >"$ref.out" 2>"$ref.err"
	local ref_rc=$?
	# shellcheck disable=SC2086
	"$DRIBBLE" $mode <"$file" | "$PGSLUICE" filter "$@" >"$out.out" 2>"$out.err"
	local rc=${PIPESTATUS[1]}
	local what="chunking $name: dribble $mode${*:+ (filter $*)}"
	if [ ! -s "$ref.out" ]; then
		not_ok "$what: filter < file wrote nothing (exit $ref_rc)"
		sed 's/^/#   /' "$ref.err" | tail -5
	elif [ "$rc" -ne "$ref_rc" ]; then
		not_ok "$what: exit $rc, but $ref_rc when read whole"
		sed 's/^/#   /' "$out.err" | tail -5
	elif ! cmp -s "$ref.out" "$out.out"; then
		not_ok "$what: stdout differs from filter < file ($(cmp "$ref.out" "$out.out" 2>&1 | head -1))"
		diff "$ref.out" "$out.out" | head -10 | cut -c1-200 | sed 's/^/#   /'
	elif ! cmp -s "$ref.err" "$out.err"; then
		not_ok "$what: stderr differs from filter < file"
		diff "$ref.err" "$out.err" | head -10 | cut -c1-200 | sed 's/^/#   /'
	else
		ok "$what"
	fi
	rm -f "$ref.out" "$out.out"
}

# chunk_all NAME FILE [filter options]: the three modes on one file
# (one-byte mode only when $one_byte is 1: it is the slow one)
one_byte=1
chunk_all() {
	local name=$1 file=$2
	shift 2
	local size
	size=$(stat -c %s "$file")
	if [ "$one_byte" -eq 0 ]; then
		:
	elif [ "$size" -le $((512 * 1024)) ]; then
		same "$name" 1 "$file" "$@"
	else
		head -c $((300 * 1024)) "$file" >"$T/prefix"
		same "$name (first 300 KB)" 1 "$T/prefix" "$@"
	fi
	same "$name" "random $seed" "$file" "$@"
	same "$name" "random $((seed + 1))" "$file" "$@"
}

pg_start src || { not_ok "chunking: start a cluster for the kitchen-sink dumps"; exit 1; }
if make_kitchen_sink src "$T"; then
	for f in ks ks-noowner ks-ssa ks-inserts; do
		gzip -9 -n -c "$T/$f.sql" >"$T/$f.sql.gz"
		# one byte at a time: the plain dumps with owners and with
		# INSERTs (the others differ little), all the gzip ones
		case $f in ks | ks-inserts) one_byte=1 ;; *) one_byte=0 ;; esac
		chunk_all "kitchen-sink $f.sql" "$T/$f.sql" --explain
		one_byte=1
		chunk_all "kitchen-sink $f.sql.gz" "$T/$f.sql.gz"
	done
	one_byte=0
	chunk_all "kitchen-sink ks.sql" "$T/ks.sql" --keep-owners --keep-privileges --explain
	one_byte=1
	# gzip members concatenated are one input: one dump, cut in two
	# members mid-way (two whole dumps in a row are refused: the second
	# one's data would come after the first one's post-data)
	half=$(($(wc -l <"$T/ks.sql") / 2))
	{ head -n "$half" "$T/ks.sql" | gzip -n; tail -n +$((half + 1)) "$T/ks.sql" | gzip -n; } >"$T/two-members.gz"
	chunk_all "kitchen-sink two gzip members" "$T/two-members.gz"
else
	not_ok "chunking: build the kitchen-sink database (tests/fixtures/kitchen-sink.sql)"
fi
pg_stop src

# the Synapse fixture, ours and (when it is there) ../shared's
if need_fixtures; then
	for dir in $(fixture_corpora); do
		c=""
		[ "$dir" = "$FIXTURES/synapse" ] || c="shared "
		for f in synapse-small.sql.gz synapse-small-noowner.sql.gz; do
			if [ ! -f "$dir/$f" ]; then
				not_ok "chunking: fixture $dir/$f missing"
				continue
			fi
			chunk_all "$c$f" "$dir/$f"
			gzip -dc "$dir/$f" >"$T/${f%.gz}"
			chunk_all "$c${f%.gz}" "$T/${f%.gz}" --explain
			rm -f "$T/${f%.gz}"
		done
		if [ -f "$dir/synapse-schema.sql" ]; then
			chunk_all "${c}synapse-schema.sql" "$dir/synapse-schema.sql" --explain
		else
			not_ok "chunking: fixture $dir/synapse-schema.sql missing"
		fi
	done
fi
exit 0
