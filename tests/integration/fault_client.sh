#!/bin/bash
# fault_client.sh - the client vanishes mid-dump: its connection closed
# (FIN) or reset (RST, SO_LINGER 0) at random byte offsets of the Synapse
# fixture, plain and gzip (one offset always inside COPY data; every gzip
# offset is inside the gzip stream).  Each time: the daemon logs the error
# with the bytes received and the line reached, the target is as it was
# (or, for a cut after pg_dump's trailer, the import is complete), and the
# same daemon serves the next import.  6 offsets x {FIN, RST}; 20 in the
# long variant.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/serve_common.bash"
. "$(dirname "$0")/fault_common.bash"
need_fixtures || exit 0
fault_init
start=$SECONDS

fault_setup || { not_ok "cluster and reference"; exit 1; }
serve_start --progress-interval 0 || { not_ok "daemon starts"; exit 1; }
n_offsets=6
[ -n "$FAULT_LONG" ] && n_offsets=20

plain_size=$(stat -c %s "$PLAIN")
gz_size=$(stat -c %s "$GZ")
n_copylines=$(wc -l <"$T/copylines")

sid=0 n_early=0 n_cuts=0 n_copy=0 n_gzip=0 n_complete=0 n_rolled=0
for ((i = 1; i <= n_offsets; i++)); do
	if [ "$i" -eq 1 ]; then
		rand_below "$n_copylines"
		l=$(sed -n "$((R + 1))p" "$T/copylines")
		rand_below 20
		file=$PLAIN kind=plain off=$(($(line_offset "$PLAIN" "$l") + R))
	elif [ $((i % 2)) -eq 0 ]; then
		rand_below $((gz_size - 1))
		file=$GZ kind=gzip off=$((1 + R))
	else
		rand_below $((plain_size - 1))
		file=$PLAIN kind=plain off=$((1 + R))
	fi
	for mode in close reset; do
		name="$mode at byte $off of the $kind dump"
		sid=$((sid + 1)) n_cuts=$((n_cuts + 1))
		"$CUT" -m "$mode" -n "$off" 127.0.0.1 "$SPORT" "$file" >/dev/null 2>"$T/cut.err"
		line=$(wait_summary "$sid" 60) || { not_ok "$name: the daemon logs a summary"; continue; }
		echo "# $name: ${line#*] }" | cut -c1-300
		case $line in
		*"ERROR dump truncated at line "*)
			ok "$name: logged as truncated, with the line reached"
			n_rolled=$((n_rolled + 1))
			if grep -A1 -F "$line" "$T/serve.log" | grep -q '([0-9]* bytes received'; then
				ok "$name: the log says how many bytes came"
			else
				not_ok "$name: the log says how many bytes came"
			fi
			case $line in *"inside COPY "*) n_copy=$((n_copy + 1)) ;; esac
			[ "$kind" = gzip ] && n_gzip=$((n_gzip + 1))
			expect_unchanged "$name"
			;;
		*"ERROR "*"during the preflight, before the import began"*)
			# a RST before the preflight ended: what came is lost with it
			ok "$name: logged as lost before the import began"
			n_rolled=$((n_rolled + 1)) n_early=$((n_early + 1))
			expect_unchanged "$name"
			;;
		*"ERROR "*"the client connection was lost"*"while statement"*"was running on the target"*)
			# a RST while a statement ran: noticed without reading the rest, rolled back
			ok "$name: the lost client was noticed while a statement ran"
			n_rolled=$((n_rolled + 1))
			expect_unchanged "$name"
			;;
		*"OK import"*)
			# a cut after the trailer: the dump was complete
			n_complete=$((n_complete + 1))
			expect_complete "$name"
			;;
		*)
			not_ok "$name: truncated or complete (got: $line)"
			;;
		esac
	done
done
check "a cut fell inside COPY data ($n_copy of $n_cuts)" test "$n_copy" -gt 0
check "cuts fell inside the gzip stream ($n_gzip of $n_cuts)" test "$n_gzip" -gt 0

# the same daemon then serves a complete import
sid=$((sid + 1))
"$CUT" 127.0.0.1 "$SPORT" "$GZ" >"$T/out" 2>/dev/null
check "then a complete import: OK" grep -q '^OK import into synapse committed' "$T/out"
expect_complete "then a complete import"
check "daemon alive" kill -0 "$SPID"
serve_stop
echo "# figures: $n_cuts cuts ($((n_cuts / 2)) FIN, $((n_cuts / 2)) RST): $n_rolled rolled back ($n_copy inside COPY data, $n_gzip in gzip, $n_early before the preflight ended), $n_complete complete; $((SECONDS - start)) s"
