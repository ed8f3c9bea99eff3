#!/bin/bash
# make stress: build the stress kernel (the test kernel's config plus
# kernel/configs/vmemmap_od_stress.config, in build/linux-stress), boot it
# with 8 vCPUs, page_poison=1 and the 64 GiB, 1 TiB and three 2 GiB pmem
# regions, run job-stress, judge the log (KASAN, lockdep, kmemleak, page
# poison, any report) and print a table. Not part of make check: it takes
# long under TCG (the README says how long).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

t0=$(date +%s)
VOD_TREE=$B/linux-stress FRAGMENT="vmemmap_od_test.config vmemmap_od_stress.config" \
	VOD_IMAGE=bzImage-stress "$top/harness/build-kernel.sh" || die "stress kernel build failed"
t1=$(date +%s)
VOD_KERNEL=$B/bzImage-stress "$top/harness/qemu-run.sh" --name stress --job stress \
	--pmem 64G,1T,2G,2G,2G --smp 8 --timeout "${STRESS_TIMEOUT:-3600}" --append page_poison=1
qrc=$?
t2=$(date +%s)
tap=$B/logs/stress.tap
sed -i 's/\r$//' "$tap"
VOD_TREE=$B/linux-stress "$top/harness/judge.sh" stress
jrc=$?
reports=$(grep -cE "$KERNEL_REPORTS" "$B/logs/stress.console.log")
v() { awk -v k="$1" '$1 == "#" && $2 == "STRESS" && $3 == k { print $4 }' "$tap" | tail -n 1; }
p=$(grep -cE '^ok [0-9]+ ' "$tap") f=$(grep -cE '^not ok [0-9]+ ' "$tap")
echo
echo "make stress: build $((t1 - t0)) s, boot and run $((t2 - t1)) s"
printf '| %-34s | %s |\n' what value "$(printf '%.0s-' {1..34})" -----
for c in process irqoff spinlock softirq hardirq nmi; do
	printf '| %-34s | %s |\n' "driver accesses, $c" "$(v accesses.$c)"
done
for k in faults atomic_faults reclaimed rescued shootdowns fault_failed injected \
	bind_unbind_cycles ptdump_reads ptdump_seconds violations kmemleak; do
	printf '| %-34s | %s |\n' "$k" "$(v $k)"
done
printf '| %-34s | %s |\n' "kernel reports (KASAN, lockdep, ...)" "$reports" "tests" "$p passed, $f failed"
grep -E '^not ok' "$tap"
status=0
[ $qrc = 0 ] && [ $jrc = 0 ] && [ "$f" = 0 ] && grep -qE '^1\.\.[0-9]+$' "$tap" || status=1
echo "$p passed, $f failed"
exit $status
