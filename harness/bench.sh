#!/bin/bash
# make bench: measure on-demand vmemmap against map=mem and map=dev, and
# the fault hook against a kernel without it, and write bench/results.md
# and bench/*.png. Every number comes from this run.
#
# Boots (TCG, 2 CPUs, 2 GiB, pmem 64 GiB + 1 TiB):
#   bench       the test kernel (build/bzImage), job harness/guest/job-bench
#   bench-nood  the same configuration with CONFIG_VMEMMAP_ON_DEMAND=n,
#               built in build/linux-nood, job job-bench-nood
# FULL=1 also binds 1 TiB with map=dev (about 3 minutes more).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

FULL=${FULL:-0}
out=$top/bench
mkdir -p "$out" "$B/logs"

# BENCH_REPORT=1: only rewrite bench/ from the logs of the last boots.
if [ "${BENCH_REPORT:-0}" != 1 ]; then

# The kernel without the feature: the test tree, reconfigured.
N=$B/linux-nood
say "building the CONFIG_VMEMMAP_ON_DEMAND=n kernel in build/linux-nood"
rsync -a --delete "$B/linux/" "$N/"
"$N/scripts/config" --file "$N/.config" --disable VMEMMAP_ON_DEMAND \
	--disable TEST_VMEMMAP_OD --disable VMEMMAP_OD_KUNIT_TEST
make -s -C "$N" olddefconfig
! grep -q '^CONFIG_VMEMMAP_ON_DEMAND=y' "$N/.config" || die "could not disable CONFIG_VMEMMAP_ON_DEMAND"
make -s -C "$N" -j"$(nproc)" CC="ccache gcc" bzImage
cp "$N/arch/x86/boot/bzImage" "$B/bzImage-nood"

run() {
	local name=$1
	shift
	"$top/harness/qemu-run.sh" --name "$name" "$@" >/dev/null || warn "$name: QEMU exited with $?"
	sed -i 's/\r$//' "$B/logs/$name.tap"
	"$top/harness/judge.sh" "$name" || die "$name: the kernel reported a problem"
	grep -qE '^1\.\.[0-9]+$' "$B/logs/$name.tap" || die "$name: the guest did not finish"
	if grep -E '^not ok ' "$B/logs/$name.tap"; then
		die "$name: a measurement failed (build/logs/$name.tap)"
	fi
}
say "boot bench: TCG, 2 CPUs, 2 GiB, pmem 64G,1T$([ "$FULL" = 1 ] && echo ', with map=dev at 1 TiB')"
run bench --job bench --pmem 64G,1T --smp 2 --timeout 3000 \
	$([ "$FULL" = 1 ] && echo --args full)
say "boot bench-nood: CONFIG_VMEMMAP_ON_DEMAND=n"
VOD_KERNEL=$B/bzImage-nood run bench-nood --job bench-nood --pmem none --smp 2 --timeout 600
fi

cat "$B/logs/bench.tap" "$B/logs/bench-nood.tap" | sed -n 's/^# BENCH //p' >"$out/bench.txt"
sed -n 's/^# CSV reclaim //p' "$B/logs/bench.tap" >"$out/reclaim.csv"
sed -n 's/^# CSV resident //p' "$B/logs/bench.tap" >"$out/resident.csv"
sed -n 's/^# CSV flush //p' "$B/logs/bench.tap" >"$out/flush.csv"

machine="$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB"
python3 "$top/harness/bench-report.py" "$out" "$machine" "$FULL" >"$out/results.md"

gnuplot <<EOF
set terminal pngcairo size 800,480 font ",11" noenhanced
set datafile separator ","
set output "$out/reclaim_throughput.png"
set title "Accesses per second vs working set (one thread, budget 4 MiB, TCG)"
set xlabel "working set / budget"
set ylabel "struct page accesses per second"
set y2label "faults per access"
set logscale x 2
set ytics nomirror
set y2tics
set key top right
set grid
plot "< grep ^random, $out/reclaim.csv" using 2:(\$4 / (\$5 / 1e9)) with linespoints lw 2 title "uniform: accesses/s", \
     "< grep ^zipf, $out/reclaim.csv" using 2:(\$4 / (\$5 / 1e9)) with linespoints lw 2 title "zipf: accesses/s", \
     "< grep ^random, $out/reclaim.csv" using 2:(\$6 / \$4) axes x1y2 with linespoints dt 2 title "uniform: faults/access", \
     "< grep ^zipf, $out/reclaim.csv" using 2:(\$6 / \$4) axes x1y2 with linespoints dt 2 title "zipf: faults/access"
t0 = real(system("head -n 1 $out/resident.csv | cut -d, -f1"))
set output "$out/resident.png"
set title "resident_kb over time, uniform accesses over 8x the budget"
unset logscale x
unset y2label
unset y2tics
set xlabel "seconds"
set ylabel "kB"
set yrange [0:*]
plot "$out/resident.csv" using (\$1 - t0):2 with steps lw 2 title "resident_kb", \
     "$out/resident.csv" using (\$1 - t0):3 with lines lw 2 dt 2 title "budget_kb"
EOF
say "wrote bench/results.md, bench/reclaim_throughput.png, bench/resident.png"
cat "$out/results.md"
