#!/bin/bash
# make demo: the "before" picture. Boot a 2 GiB guest with a PMEM-sized
# (default 1 TiB) emulated pmem and bind an fsdax namespace with map=mem
# ("ram"); boot it again with a 64 GiB pmem (or, with FULL=1, the full
# size) and bind one with map=dev ("pmem"). Print what each cost, measured
# in this run.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

big=${1:-1T} full=${2:-0}
bigb=$(numfmt --from=iec "$big")
devsize=64G
[ "$full" = 1 ] && devsize=$big
devb=$(numfmt --from=iec "$devsize")

# map=dev: an ordinary boot, judged like any test boot.
"$top/harness/qemu-run.sh" --name demo-dev --job demo --args "pmem,$devb" \
	--pmem "$devsize" --timeout 3600 >/dev/null
"$top/harness/judge.sh" demo-dev || exit 1

# map=mem: the bind is expected to fail, warn in add_pages() and leave the
# guest out of memory, which may end in OOM kills and an OOM panic. Any
# other kernel report fails the demo.
"$top/harness/qemu-run.sh" --name demo-mem --job demo --args "ram,$bigb" \
	--pmem "$big" --timeout 900 >/dev/null
expected='Call Trace:|WARNING: .* at arch/x86/mm/init_64.c:[0-9]+ add_pages'
expected+='|invoked oom-killer|Out of memory|Kernel panic - not syncing: (System is deadlocked on memory|Out of memory)'
"$top/harness/judge.sh" demo-mem "$expected" || exit 1

res=$(cat "$B/logs/demo-dev.tap" "$B/logs/demo-mem.tap" | tr -d '\r')
v() { sed -n "s/^demo\.$1=//p" <<<"$res" | head -n 1; }
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

echo
echo "Upstream Linux $KERNEL_PIN (this repository's test kernel), 2 GiB guest, QEMU $(cat "$B/logs/demo-mem.accel"),"
echo "one fsdax namespace bound through sysfs per boot. Measured in this run:"
echo
printf '%-16s %-6s %-12s %-17s %-14s %-14s %s\n' "memmap mode" size bind "nr_memmap_pages" "MemFree drop" "pmem reserved" result
row "ram (map=mem)" ram "$bigb" "$ram_result"
row "pmem (map=dev)" pmem "$devb"
echo
if [ "$(v ram.result)" != ok ]; then
	echo "Why map=mem failed, from the guest's kernel log (build/logs/demo-mem.console.log):"
	grep -E 'alloc failure|sparse_add_section|probe with driver|Killed process|Kernel panic' "$log" |
		sed 's/^\[ *[0-9.]*\] */  /' | awk '!seen[$0]++' | head -n 8
	echo "  A 4 KiB page needs a 64-byte struct page: $big of pmem needs $(numfmt --to=iec $((bigb / 64))) of memmap; the guest has 2 GiB."
	if [ -n "$(v ram.memfree_later_kb)" ]; then
		echo "  2 s after the failure the guest still missed $(mib "$(v ram.memfree_later_kb)") of MemFree: 6.12's __add_pages()"
		echo "  does not remove the sections it added before the failing one, so their memmap stays allocated."
	fi
	[ "$kills" -gt 0 ] && echo "  The guest then ran out of memory: the OOM killer killed $kills processes."
	grep -q 'Kernel panic' "$log" && echo "  The guest ended in an OOM panic."
	echo
fi
[ "$full" = 1 ] || echo "map=dev was measured at 64 GiB; 'make demo FULL=1' measures it at $big (minutes under TCG; it writes $(numfmt --to=iec $((bigb / 64))) into build/pmem)."
echo "nr_memmap_pages: growth of that /proc/vmstat counter during the bind (6.12 counts the memmap even when"
echo "it is placed on the device). MemFree drop: DRAM the bind took, as MemFree saw it (it moves by tens of"
echo "MiB either way for reasons of its own: small values are noise). pmem reserved: namespace bytes not"
echo "available as data (info block, alignment, and the memmap for map=dev)."
