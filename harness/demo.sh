#!/bin/bash
# make demo: the "before" picture. Boot a 2 GiB guest with a PMEM-sized
# (default 1 TiB) emulated pmem and a 64 GiB one, bind an fsdax namespace
# on each the way upstream 6.12 offers (map=mem on the big one, map=dev on
# the 64 GiB one, or on the big one with FULL=1) and print what it cost,
# measured in this run.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

big=${1:-1T} full=${2:-0}
bigb=$(numfmt --from=iec "$big")
if [ "$full" = 1 ]; then
	devb=$bigb pmem=$big timeout=3600
else
	devb=$(numfmt --from=iec 64G) pmem=$big,64G timeout=900
fi
name=demo
"$top/harness/qemu-run.sh" --name $name --job demo --args "$bigb,$devb" \
	--pmem "$pmem" --timeout $timeout >/dev/null
qrc=$?
# What the map=mem bind is expected to cause upstream: the allocation
# failure report, and add_pages() warning about the failure it returns.
"$top/harness/judge.sh" $name 'Call Trace:|WARNING: .* at arch/x86/mm/init_64.c:[0-9]+ add_pages' || exit 1
tap=$B/logs/$name.tap
grep -q '^demo.done' "$tap" || { warn "the demo job did not finish (QEMU status $qrc)"; tail -n 40 "$B/logs/$name.console.log"; exit 1; }

v() { sed -n "s/^demo\.$1=//p" "$tap" | head -n 1; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f ms", ns / 1e6 }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

echo
echo "Upstream Linux $KERNEL_PIN (this repository's test kernel, patches/series),"
echo "2 GiB guest under QEMU $(cat "$B/logs/$name.accel"), fsdax namespaces bound through sysfs. Measured in this run:"
echo
printf '%-16s %-8s %-12s %-16s %-16s %-16s %s\n' "memmap mode" size bind "nr_memmap_pages" "MemFree drop" "pmem reserved" result
row() {
	local pm=-
	[ -n "$(v "$2.pmem_kb")" ] && pm=$(mib "$(v "$2.pmem_kb")")
	printf '%-16s %-8s %-12s %-16s %-16s %-16s %s\n' "$1" "$(numfmt --to=iec "$(v "$2.size")")" \
		"$(ms "$(v "$2.bind_ns")")" "+$(mib "$(v "$2.memmap_kb")")" "$(mib "$(v "$2.memfree_kb")")" \
		"$pm" "$(v "$2.result")"
}
row "ram (map=mem)" ram
row "pmem (map=dev)" pmem
echo
if [ "$(v ram.result)" != ok ]; then
	echo "Why map=mem failed, from the guest's kernel log:"
	grep -E 'alloc failure|sparse_add_section|probe with driver|invoked oom-killer|Out of memory' \
		"$B/logs/$name.console.log" | sed 's/^\[ *[0-9.]*\] */  /' | awk '!seen[$0]++' | head -n 8
	echo "  (a 4 KiB page needs a 64-byte struct page: $big of pmem needs $(numfmt --to=iec $((bigb / 64))) of memmap; the guest has 2 GiB)"
	echo "  2 s after the failure the guest still misses $(mib "$(v ram.memfree_later_kb)") of MemFree: 6.12's __add_pages()"
	echo "  does not remove the sections it added before the failing one, so their memmap stays allocated."
	echo
fi
[ "$full" = 1 ] || echo "map=dev was measured at 64 GiB; 'make demo FULL=1' measures it at $big (minutes under TCG, and it writes $(numfmt --to=iec $((bigb / 64))) into build/pmem)."
echo "nr_memmap_pages: growth of that /proc/vmstat counter during the bind (6.12 counts"
echo "the memmap even when it is placed on the device); MemFree drop: DRAM the bind took, as"
echo "MemFree saw it (it moves by tens of MiB either way for reasons of its own: small values are noise)."
echo "Serial logs: build/logs/$name.console.log, build/logs/$name.tap"
