#!/bin/bash
# make check: boot the test kernel and run every test in the guest, print
# each TAP result and end with "N passed, N failed".
#
# Boots:
#   check            64 GiB + 1 TiB of pmem: KUnit, kselftests, the DAX
#                    baseline in every memmap mode, on-demand bind and rebind
#   check-4level     the on-demand KUnit and stress tests under 4-level paging
#   persist-create   an ondemand namespace on a kept 1 GiB pmem file ...
#   persist-refused  ... refused after a reboot with vmemmap_on_demand=off ...
#   persist-restored ... and restored by a normal reboot
#
# Exit status 0 only when no test failed, every boot finished its test plan
# in time, and no console log holds a kernel report (see judge.sh).
# Argument: an injected failure (fail|warn|oops|panic|hang) for the first
# boot, to show that the harness notices.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

inject=${1:-}
t0=$(date +%s)
pass=0 fail=0 skip=0 status=0

# boot NAME QEMU-RUN-ARGS...: run one boot, judge it, add up its results.
boot() {
	local name=$1 qrc judged=ok tap p s f
	shift
	"$top/harness/qemu-run.sh" --name "$name" "$@"
	qrc=$?
	tap=$B/logs/$name.tap
	sed -i 's/\r$//' "$tap"
	p=$(grep -cE '^ok [0-9]+ ' "$tap")
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$tap")
	f=$(grep -cE '^not ok [0-9]+ ' "$tap")
	pass=$((pass + p - s)) skip=$((skip + s)) fail=$((fail + f))
	if [ $qrc != 0 ]; then
		warn "$name: QEMU exited with status $qrc$([ $qrc = 124 ] && echo ' (guest timed out)')"
		status=1
	fi
	if ! grep -qE '^1\.\.[0-9]+$' "$tap"; then
		warn "$name: the guest did not finish its test plan (crash, panic or timeout)"
		fail=$((fail + 1)) status=1
	fi
	"$top/harness/judge.sh" "$name" || { judged=bad; status=1; }
	if [ "$f" != 0 ]; then
		echo "failed tests ($name):"
		grep -E '^not ok ' "$tap"
		status=1
	fi
	# judge.sh printed the log's tail with its findings; else print it here.
	if [ $status != 0 ] && [ $judged = ok ]; then
		echo "---- last 40 lines of build/logs/$name.console.log"
		tail -n 40 "$B/logs/$name.console.log"
	fi
	return 0
}

boot check --job check --pmem 64G,1T --smp 2 --timeout "${CHECK_TIMEOUT:-1500}" \
	${inject:+--inject "$inject"}

# 4-level paging (QEMU offers LA57 otherwise): another vmemmap layout.
boot check-4level --job od --pmem none --la57 off --timeout 900

persist=(--job persist --pmem 1G --pmem-name persist --keep-pmem --timeout 300)
rm -f "$B"/pmem/persist-*.img
boot persist-create "${persist[@]}" --args create
boot persist-refused "${persist[@]}" --args refused --append vmemmap_on_demand=off
boot persist-restored "${persist[@]}" --args restored
rm -f "$B"/pmem/persist-*.img

say "check took $(($(date +%s) - t0)) s; logs in build/logs/"
echo "$pass passed, $fail failed, $skip skipped"
exit $status
