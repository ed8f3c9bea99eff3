#!/bin/bash
# make bench: measure on-demand vmemmap against map=mem and map=dev, and
# the fault hook against a kernel without it, and write bench/results.json
# and, from it, bench/results.md and bench/*.png. Every number comes from
# this run.
#
# The kernels are the benchmark kernel: the same patches, with the options
# a distribution ships instead of the test kernel's debugging
# (kernel/configs/vmemmap_od_bench.config), in build/linux-bench, and its
# CONFIG_VMEMMAP_ON_DEMAND=n twin in build/linux-bench-nood. Boots (TCG,
# 2 CPUs, 2 GiB), BOOTS times each of the first two, alternating:
#   bench-K       pmem 64 GiB + 1 TiB, job harness/guest/job-bench: every
#                 comparison, modes interleaved over 7 rounds (boot 1 also
#                 the reclaim sweep, the profiles and the resident series)
#   bench-nood-K  the twin, no pmem, job job-bench-nood: the fault hook's cost
#   bench-big     64 nvdimms of 1 TiB, job job-bench-big: 8 and 64 TiB binds
# One boot's rounds agree with each other better than two boots do (the
# guest's memory layout, KASLR, the host), so each row pools the rounds
# of all BOOTS boots (default 3): its interval takes in both.
# FULL=1 also binds 1 TiB with map=dev (about 3 minutes more).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

FULL=${FULL:-0}
BOOTS=${BOOTS:-3}
[[ $BOOTS =~ ^[1-9][0-9]?$ ]] || die "BOOTS=$BOOTS: a number of boots, 1 to 99"
out=$top/bench
mkdir -p "$out" "$B/logs"
t0=$(date +%s)

# BENCH_REPORT=1: only rewrite bench/ from the logs of the last boots.
if [ "${BENCH_REPORT:-0}" != 1 ]; then

say "building the benchmark kernel in build/linux-bench"
VOD_TREE=$B/linux-bench VOD_IMAGE=bzImage-bench \
	FRAGMENT="vmemmap_od_test.config vmemmap_od_bench.config" \
	"$top/harness/build-kernel.sh"
# The comparison means nothing on a debug kernel: make sure it is not one.
for opt in LOCKDEP DEBUG_LOCK_ALLOC DEBUG_SPINLOCK DEBUG_VM DEBUG_ATOMIC_SLEEP KASAN KUNIT; do
	! grep -q "^CONFIG_$opt=y" "$B/linux-bench/.config" ||
		die "the benchmark kernel has CONFIG_$opt=y (kernel/configs/vmemmap_od_bench.config)"
done
N=$B/linux-bench-nood
say "building its CONFIG_VMEMMAP_ON_DEMAND=n twin in build/linux-bench-nood"
rsync -a --delete "$B/linux-bench/" "$N/"
"$N/scripts/config" --file "$N/.config" --disable VMEMMAP_ON_DEMAND \
	--disable TEST_VMEMMAP_OD --disable VMEMMAP_OD_KUNIT_TEST
make -s -C "$N" olddefconfig
! grep -q '^CONFIG_VMEMMAP_ON_DEMAND=y' "$N/.config" || die "could not disable CONFIG_VMEMMAP_ON_DEMAND"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$N CCACHE_NOHASHDIR=1
make -s -C "$N" -j"$(nproc)" CC="ccache gcc" bzImage
cp "$N/arch/x86/boot/bzImage" "$B/bzImage-bench-nood"

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
rm -f "$B"/logs/bench-[0-9]*.tap "$B"/logs/bench-nood-[0-9]*.tap
for k in $(seq "$BOOTS"); do
	args=
	[ "$k" -gt 1 ] && args=repeat
	[ "$k" = 1 ] && [ "$FULL" = 1 ] && args=full
	say "boot bench-$k of $BOOTS: TCG, 2 CPUs, 2 GiB, pmem 64G,1T${args:+, $args}"
	VOD_KERNEL=$B/bzImage-bench run bench-$k --job bench --pmem 64G,1T --smp 2 --timeout 3600 \
		${args:+--args $args}
	say "boot bench-nood-$k of $BOOTS: CONFIG_VMEMMAP_ON_DEMAND=n"
	VOD_KERNEL=$B/bzImage-bench-nood run bench-nood-$k --job bench-nood --pmem none --smp 2 --timeout 900
done
say "boot bench-big: 64 nvdimms of 1 TiB (physical addresses above 64 TiB: phys-bits=48, 5-level paging)"
VOD_KERNEL=$B/bzImage-bench VOD_LA57=on VOD_PHYS_BITS=48 run bench-big --job bench-big \
	--pmem "$(printf '1T,%.0s' {1..64} | sed 's/,$//')" --smp 2 --timeout 1200
echo $(($(date +%s) - t0)) >"$B/logs/bench.seconds"
fi

# Boot K's round R becomes round K*100+R: rounds stay paired within their
# boot, and the report pools them (round // 100 is the boot).
boots=$(ls "$B"/logs/bench-[0-9]*.tap 2>/dev/null | wc -l || true)
[ "$boots" -ge 1 ] || die "no bench boot's log in build/logs"
mkdir -p "$out/raw"
: >"$out/bench.txt"
for series in reclaim resident flush; do : >"$out/raw/$series.csv"; done
for k in $(seq "$boots"); do
	for f in "$B/logs/bench-$k.tap" "$B/logs/bench-nood-$k.tap"; do
		[ -f "$f" ] || die "${f#$top/} is missing"
		sed -n 's/^# BENCH //p' "$f" | awk -v k="$k" '{ for (i = 2; i <= NF; i++)
			if ($i ~ /^round=/) $i = "round=" k * 100 + substr($i, 7); print }' >>"$out/bench.txt"
	done
	for series in reclaim resident; do
		sed -n "s/^# CSV $series //p" "$B/logs/bench-$k.tap" >>"$out/raw/$series.csv"
	done
	sed -n "s/^# CSV flush //p" "$B/logs/bench-$k.tap" |
		awk -F, -v OFS=, -v k="$k" '{ $1 = k * 100 + $1; print }' >>"$out/raw/flush.csv"
done
sed -n 's/^# BENCH //p' "$B/logs/bench-big.tap" >>"$out/bench.txt"
# The last run's results, to compare with (two runs in a row must agree).
[ -f "$out/results.json" ] && cp "$out/results.json" "$B/bench-previous.json"

machine="$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB"
python3 "$top/harness/bench-report.py" "$out" "$machine" "$FULL" "$(cat "$B/logs/bench.seconds" 2>/dev/null || echo 0)" "$boots"
rm -rf "$out/raw"

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
plot "< grep ^uniform, $out/reclaim.csv" using 2:(\$4 / (\$5 / 1e9)) with linespoints lw 2 title "uniform: accesses/s", \
     "< grep ^zipf, $out/reclaim.csv" using 2:(\$4 / (\$5 / 1e9)) with linespoints lw 2 title "zipf: accesses/s", \
     "< grep ^uniform, $out/reclaim.csv" using 2:(\$6 / \$4) axes x1y2 with linespoints dt 2 title "uniform: faults/access", \
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
set output "$out/ratios.png"
set title "Ratios (median, interval of the rounds) and their targets (x)"
set xlabel ""
set ylabel "ratio"
set logscale y
set yrange [*:*]
set xrange [0.5:*]
set xtics rotate by -30 font ",9"
set key off
plot "$out/ratios.csv" using 1:3:4:5:xtic(2) with yerrorbars pt 7 lw 2, \\
     "$out/ratios.csv" using 1:6 with points pt 2 ps 2 lw 2
EOF
say "wrote bench/results.json, bench/results.md, bench/reclaim_throughput.png, bench/resident.png, bench/ratios.png"
cat "$out/results.md"
if [ -f "$B/bench-previous.json" ]; then
	say "against the previous run (build/bench-previous.json):"
	python3 "$top/harness/bench-report.py" --compare "$out/results.json" "$B/bench-previous.json" || true
fi
