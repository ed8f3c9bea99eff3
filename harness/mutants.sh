#!/bin/bash
# make mutants: show that make check catches broken variants of the core.
# Each harness/mutants/*.patch breaks the core, mm/vmemmap_od/, in one way
# (its first lines say how, and which test is expected to catch it). For
# each: the patched copy of the directory goes into an overlay,
# build-kernel.sh builds it in build/linux-mutant (seeded from build/linux,
# so only the core rebuilds) into build/bzImage-mutant, and check.sh boots
# it, the 4-level boot first
# (KUnit, od_stress, page-table lifetime: a few minutes), then, if that
# passed, the main boot (the DAX tests); a patch's "# boots:" line may put
# the main boot first. A mutant is caught when check.sh
# fails; the boot is stopped at its first "not ok" or kernel report, and
# the table says which test failed first. Not in CI: about 10 min
# per mutant here. MUTANTS="01 07" runs only those.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

M=$top/harness/mutants

K=$B/linux-mutant
O=$B/mutants
t0=$(date +%s)

"$top/harness/build-kernel.sh" || die "the test kernel does not build"
[ -f "$B/initramfs.cpio" ] || "$top/harness/mkinitramfs.sh" || die "no initramfs"
if [ ! -d "$K/.vod" ]; then
	say "seeding ${K#$top/} from build/linux"
	rm -rf "$K"
	cp -a "$B/linux" "$K"
fi

results=()
caught=0 total=0
for p in "$M"/*.patch; do
	n=$(basename "$p" .patch)
	if [ -n "${MUTANTS:-}" ] && [[ " $MUTANTS " != *" ${n%%-*} "* ]]; then
		continue
	fi
	total=$((total + 1))
	say "mutant $n: $(sed -n 's/^# mutant: //p' "$p")"
	rm -rf "$O/$n"
	mkdir -p "$O/$n/mm"
	cp -r "$top/mm/vmemmap_od" "$O/$n/mm/"
	if ! patch -s -p1 -d "$O/$n" <"$p"; then
		results+=("$n|does not apply: refresh it|-")
		continue
	fi
	if ! VOD_TREE=$K VOD_IMAGE=bzImage-mutant VOD_OVERLAY=$O/$n \
		"$top/harness/build-kernel.sh" >"$O/$n/build.log" 2>&1; then
		results+=("$n|does not build (build/mutants/$n/build.log)|-")
		continue
	fi
	by=
	# "# boots:" in the patch: the boot expected to catch it goes first.
	order=$(sed -n 's/^# boots: //p' "$p")
	for boots in ${order:-check-4level check}; do
		tap=$B/logs/mutant-$boots.tap con=$B/logs/mutant-$boots.console.log
		rm -f "$tap" "$con"
		VOD_KERNEL=$B/bzImage-mutant CHECK_BOOTS=$boots CHECK_PREFIX=mutant- \
			"$top/harness/check.sh" >"$O/$n/$boots.log" 2>&1 &
		cpid=$!
		# Caught at the first failure or kernel report: stop the boot there.
		while kill -0 $cpid 2>/dev/null; do
			if grep -qE '^not ok ' "$tap" 2>/dev/null ||
			   grep -qE "$KERNEL_REPORTS" "$con" 2>/dev/null; then
				sleep 5	# the rest of the report
				pkill -f "file:$tap" 2>/dev/null
				break
			fi
			sleep 5
		done
		wait $cpid && continue
		by=$( (grep -m1 -E '^not ok ' "$tap" ||
			grep -m1 -oE "($KERNEL_REPORTS).*" "$con" ||
			grep -m1 -E '^\[vod\].*(warning|error|!)' "$O/$n/$boots.log" ||
			grep -m1 -iE 'warn|fail' "$O/$n/$boots.log") |
			sed -E 's/^not ok [0-9]+ - //' | cut -c1-90)
		by="$boots: ${by:-check.sh failed}"
		break
	done
	if [ -n "$by" ]; then
		caught=$((caught + 1))
		results+=("$n|caught|$by")
	else
		results+=("$n|NOT CAUGHT|-")
	fi
	say "mutant $n: ${results[-1]#*|}"
done
rm -f "$B/bzImage-mutant"

echo
echo "make mutants: $((($(date +%s) - t0) / 60)) min"
printf '| %-36s | %-10s | %s |\n' mutant verdict "first failure (boot: test)"
printf '|%s|%s|%s|\n' "$(printf '%.0s-' {1..38})" "$(printf '%.0s-' {1..12})" "----------"
for r in "${results[@]}"; do
	IFS='|' read -r n v by <<<"$r"
	printf '| %-36s | %-10s | %s |\n' "$n" "$v" "$by"
done
echo "$caught of $total mutants caught"
[ "$caught" = "$total" ]
