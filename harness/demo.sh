#!/bin/bash
# make demo: upstream's wall, then the same device with its memmap on
# demand, used for real. Three boots of a 2 GiB guest (the test kernel),
# every figure measured in this run:
#   demo-dev  upstream map=dev: bind a 64 GiB fsdax namespace (FULL=1: the
#             full size, at most 1 TiB), memmap on the device
#   demo-mem  upstream map=mem: bind a 1 TiB one, memmap in DRAM: it cannot
#   demo-od   PMEM (default 1 TiB; above 1 TiB, nvdimms of 1 TiB each) bound
#             ondemand, ext4 with DAX over all of it, fio DAX + O_DIRECT
#             verified under a memmap budget below its working set, perf on
#             the fault tracepoint, the od_stress kselftest
#             (harness/guest/job-demo-od)
# It prints each step with the time elapsed, then the six parts, and exits
# non-zero if any step fails. The plot of resident_kb goes to
# build/demo-resident.png.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

big=${1:-1T} full=${2:-0}
bigb=$(numfmt --from=iec "$big") || die "PMEM=$big: not a size"
T1=$((1 << 40))
# Up to 1 TiB one nvdimm, above that nvdimms of 1 TiB.
if [ "$bigb" -le $T1 ]; then
	od_pmem=$big nv=$big
else
	# Up to 32T: od_stress needs 16 TiB of free physical address space
	# (the guest has 64 TiB of it, phys-bits=46).
	[ $((bigb % T1)) = 0 ] && [ $((bigb / T1)) -le 32 ] ||
		die "PMEM=$big: above 1 TiB, a multiple of 1 TiB up to 32T (nvdimms of 1 TiB)"
	od_pmem=$(printf '1T,%.0s' $(seq $((bigb / T1))) | sed 's/,$//') nv=1T
fi
nvb=$(numfmt --from=iec "$nv")
devsize=64G
[ "$full" = 1 ] || [ "$nvb" -lt $((64 << 30)) ] && devsize=$nv
devb=$(numfmt --from=iec "$devsize")
t0=$(date +%s)
step() { printf '[demo %02d:%02d] %s\n' $((($(date +%s) - t0) / 60)) $((($(date +%s) - t0) % 60)) "$*"; }
fails=0
fail() { warn "$*"; fails=$((fails + 1)); }

# map=dev: an ordinary boot, judged like any test boot.
step "1. upstream map=dev: boot with a $devsize pmem, bind it (memmap on the device)"
"$top/harness/qemu-run.sh" --name demo-dev --job demo --args "pmem,$devb" \
	--pmem "$devsize" --timeout 3600 >/dev/null
"$top/harness/judge.sh" demo-dev || exit 1

# map=mem: the bind is expected to fail, warn in add_pages() and leave the
# guest out of memory, which may end in OOM kills and an OOM panic. Any
# other kernel report fails the demo.
step "1. upstream map=mem: boot with a $nv pmem, bind it (memmap in DRAM)"
"$top/harness/qemu-run.sh" --name demo-mem --job demo --args "ram,$nvb" \
	--pmem "$nv" --timeout 900 >/dev/null
expected='Call Trace:|WARNING: .* at arch/x86/mm/init_64.c:[0-9]+ add_pages'
expected+='|invoked oom-killer|Out of memory|Kernel panic - not syncing: (System is deadlocked on memory|Out of memory)'
"$top/harness/judge.sh" demo-mem "$expected" || exit 1

# On demand: a test boot like any other, judged strictly; its progress
# ("# step" lines) is shown as it goes.
step "2. on demand: boot with $big of pmem ($od_pmem)"
"$top/harness/qemu-run.sh" --name demo-od --job demo-od --pmem "$od_pmem" --timeout 1800 |
	while read -r line; do
		line=${line%$'\r'}
		case $line in "# step "*) step "   ${line#\# step }" ;; esac
	done
"$top/harness/judge.sh" demo-od || exit 1
odtap=$B/logs/demo-od.tap
sed -i 's/\r$//' "$odtap"
if ! grep -qE '^1\.\.[0-9]+$' "$odtap"; then
	tail -n 20 "$odtap"
	die "demo-od: the guest did not finish (build/logs/demo-od.tap, build/logs/demo-od.console.log)"
fi
grep -E '^not ok ' "$odtap" && fail "demo-od: a step failed (build/logs/demo-od.tap)"

res=$(cat "$B/logs/demo-dev.tap" "$B/logs/demo-mem.tap" | tr -d '\r')
v() { sed -n "s/^demo\.$1=//p" <<<"$res" | head -n 1; }
[ "$(v pmem.result)" = ok ] || fail "demo-dev: map=dev did not bind $devsize (build/logs/demo-dev.tap)"
ms() { [ -n "$1" ] && awk -v ns="$1" 'BEGIN { printf "%.1f ms", ns / 1e6 }' || echo '?'; }
mib() { [ -n "$1" ] && awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }' || echo '-'; }
row() {
	printf '%-16s %-6s %-12s %-17s %-14s %-14s %s\n' "$1" "$(numfmt --to=iec "$3")" \
		"$(ms "$(v "$2.bind_ns")")" "+$(mib "$(v "$2.memmap_kb")")" \
		"$(mib "$(v "$2.memfree_kb")")" "$(mib "$(v "$2.pmem_kb")")" "${4:-$(v "$2.result")}"
}
log=$B/logs/demo-mem.console.log
kills=$(grep -c 'Out of memory: Killed process' "$log")
# The bind's own error, as timed_write reported it, else the kernel's.
ram_result=$(v ram.result)
if [ "$ram_result" != ok ]; then
	why=$(grep -o "write '.*': .*" <<<"$res" | head -n 1)
	[ -n "$why" ] || why=$(grep -o 'probe with driver nd_pmem failed with error -[0-9]*' "$log" | head -n 1)
	ram_result="failed: $why"
fi

o() { grep '^demo\.od\.' "$odtap" | sed 's/^demo\.od\.//' | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
csv() { sed -n "s/^# CSV $1 //p" "$odtap"; }
sec() { awk -v ms="$1" 'BEGIN { printf "%.1f s", ms / 1000 }'; }
us() { awk -v ns="$1" 'BEGIN { printf "%.1f us", ns / 1000 }'; }

echo
echo "== On-demand vmemmap, make demo: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) host CPUs, QEMU $(cat "$B/logs/demo-od.accel"), 2 GiB guest, the test kernel"
echo "   (Linux $KERNEL_PIN + patches/, with lockdep and DEBUG_VM: absolute times are a debug kernel's under emulation)"
echo
echo "1. Upstream: one fsdax namespace bound through sysfs per boot"
printf '   %-16s %-6s %-12s %-17s %-14s %-14s %s\n' "memmap mode" size bind "nr_memmap_pages" "MemFree drop" "pmem reserved" result
printf '   '; row "ram (map=mem)" ram "$nvb" "$ram_result"
printf '   '; row "pmem (map=dev)" pmem "$devb"
if [ "$(v ram.result)" != ok ]; then
	echo "   map=mem: $nv of pmem needs $(numfmt --to=iec $((nvb / 64))) of struct pages in DRAM; the guest has 2 GiB.$([ "$kills" -gt 0 ] && echo " The OOM killer killed $kills processes.")$(grep -q 'Kernel panic' "$log" && echo ' It ended in an OOM panic.')"
fi
[ "$full" = 1 ] || echo "   map=dev was measured at 64 GiB (FULL=1: at $nv); at $nv it puts $(numfmt --to=iec $((nvb / 64))) of struct pages on the device."
echo
echo "2. The same pmem on demand: $(o namespaces) fsdax namespace(s), $(numfmt --to=iec "$(o bytes)") in all"
echo "   bind $(ms "$(o bind_ns)"), nr_memmap_pages +$(($(o memmap_kb) / 4)), MemFree drop $(mib "$(o memfree_kb)"), resident memmap $(o resident_kb) kB (page tables), pmem reserved $(mib "$(o pmem_kb)")"
echo "   ndctl list -N: $(o ndctl | cut -c1-150)"
echo "   (ndctl sees a ram-mode namespace; its pfn device's vmemmap_on_demand: $(o pfn_on_demand))"
echo "   mkfs.ext4 + mount -o dax over all of it: $(sec "$(o mkfs_ms)"), $(numfmt --to=iec $(($(o fs_kb) * 1024))) of file system"
echo "   fio, DAX + O_DIRECT: $(o jobs) jobs (8 at a time), each a 2 MiB MAP_SHARED DAX buffer in its own directory, 8 loops of"
echo "   O_DIRECT write to a RAM disk and read back, crc32c verified: $(($(o write_kib) / 1024)) MiB written, $(($(o read_kib) / 1024)) MiB read back, $(o errors) errors, exit $(o fio_rc), $(sec "$(o fio_ms)")"
echo "   the struct pages it populated lie in $(o gib_touched) different GiB, from GiB $(o span_gib_lo) to GiB $(o span_gib_hi) of the pmem"
echo
echo "3. kselftest od_stress (tools/testing/selftests/vmemmap_od), threads pinned to both CPUs racing first touches over 16 TiB:"
printf '   %-9s %-30s %-15s %s\n' context "threads x accesses" "installs lost" result
sed -n 's/^# //p' "$odtap" | awk '
	/^# [a-z]+: [0-9]+ threads x/ { c = $2; sub(":", "", c); acc[c] = $3 " x " $6 ", " $8 " violations"; order[++nc] = c }
	/^# [a-z]+: .*installs lost/ { c = $2; sub(":", "", c); lost[c] = $(NF - 2) }
	/^(not )?ok [0-9]+ od\./ { split($0, a, " od."); split(a[2], b, "."); res[b[1]] = ($1 == "ok") ? "ok" : "FAILED" }
	/^# Totals/ { tot = $0 }
	END { for (i = 1; i <= nc; i++) { c = order[i]
		printf "   %-9s %-30s %-15s %s\n", c, acc[c], lost[c], res[c] }
	      sub("^# ", "", tot); print "   " tot }'
echo
echo "4. perf record -e vmemmap_od:vmemmap_od_fault during the fio run: $(o faults) populations ($(o atomic) by the fault handler, the rest by GUP's vmemmap_od_populate())"
echo "   duration p50 $(us "$(o p50)"), p99 $(us "$(o p99)"), max $(us "$(o max)"); the fault handler's alone: p50 $(us "$(o handler_p50)")"
echo "   a first-touch anonymous fault (fault_bench, same boot): $(us "$(o anon_ns)"); population p50 / anon = $(awk -v a="$(o p50)" -v b="$(o anon_ns)" 'BEGIN { printf "%.2f", b ? a / b : 0 }'), handler p50 / anon = $(awk -v a="$(o handler_p50)" -v b="$(o anon_ns)" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
csv hist | awk -F, '{ c[NR] = $2; b[NR] = $1; if ($2 > m) m = $2 } END {
	for (i = 1; i <= NR; i++) { bar = ""; for (j = 0; j < 50 * c[i] / m; j++) bar = bar "#"
		printf "   %8.1f us+ %7d %s\n", b[i] / 1000, c[i], bar } }'
echo
png=$B/demo-resident.png
csv resident >"$B/demo-resident.csv"
if [ -s "$B/demo-resident.csv" ]; then
	gnuplot <<GP || fail "gnuplot could not draw $png"
set terminal pngcairo size 800,400 font ",11" noenhanced
set datafile separator ","
set output "$png"
set title "make demo: resident memmap during fio on the on-demand pmem ($(date -u +%Y-%m-%d))"
set xlabel "seconds"
set ylabel "kB"
set yrange [0:*]
set grid
t0 = real(system("head -n 1 $B/demo-resident.csv | cut -d, -f1"))
plot "$B/demo-resident.csv" using (\$1 - t0):2 with steps lw 2 title "resident_kb", \
     "$B/demo-resident.csv" using (\$1 - t0):3 with lines lw 2 dt 2 title "budget_kb"
GP
else
	fail "demo-od: no resident_kb samples"
fi
echo "5. Budget $(o budget_kb) kB, below the workload's $(($(o jobs) * 2048 / 64)) kB of struct pages: resident_max_kb $(o resident_max_kb) (the kernel's high-water"
echo "   mark; one reclaim batch is 256 kB), $(o populated) vmemmap pages populated and $(o reclaimed) reclaimed during the run; plot: ${png#$top/}"
echo
echo "6. Summary"
printf '   %-16s %-6s %-11s %-30s %-26s %s\n' mode size bind "memory at bind" "memory during the workload" works
printf '   %-16s %-6s %-11s %-30s %-26s %s\n' "map=mem" "$nv" "$(ms "$(v ram.bind_ns)")" "$([ -n "$(v ram.memmap_kb)" ] && echo "+$(mib "$(v ram.memmap_kb)") DRAM" || echo 'all of it (OOM)')" "-" \
	"$([ "$(v ram.result)" = ok ] && echo yes || echo 'no: cannot bind')"
printf '   %-16s %-6s %-11s %-30s %-26s %s\n' "map=dev" "$devsize" "$(ms "$(v pmem.bind_ns)")" "$(mib "$(v pmem.pmem_kb)") of the device" "(not run)" \
	"$([ "$(v pmem.result)" = ok ] && echo "binds; at $nv: $(numfmt --to=iec $((nvb / 64))) of device" || echo no)"
printf '   %-16s %-6s %-11s %-30s %-26s %s\n' "ondemand" "$big" "$(ms "$(o bind_ns)")" "$(o resident_kb) kB DRAM" "max $(o resident_max_kb) kB DRAM" \
	"$(grep -qE '^not ok ' "$odtap" && echo 'NO: see build/logs/demo-od.tap' || echo 'yes: fio verified, od_stress passed')"
echo
step "done: $fails failure(s)"
[ "$fails" = 0 ]
