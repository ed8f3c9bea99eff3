#!/bin/bash
# make check: boot the test kernel and run every test in the guest, print
# each TAP result and end with "N passed, N failed".
#
# Boots:
#   check            64 GiB + 1 TiB of pmem: KUnit, kselftests, the DAX
#                    baseline in every memmap mode, on-demand bind and rebind
#   check-4level     the on-demand KUnit and stress tests under 4-level paging
#   persist-create   a map=mem fsdax namespace with an ext4 file on a kept
#                    1 GiB pmem file, switched to on demand and back and on
#                    demand again; a switch refused on a misaligned one ...
#   persist-vanilla  ... Linux 6.12 without the series binds it map=mem ...
#   persist-off      ... so does this kernel with vmemmap_on_demand=off ...
#   persist-restored ... and a normal boot binds it on demand again
#
# Exit status 0 only when no test failed, every boot finished its test plan
# in time, and no console log holds a kernel report (see judge.sh).
# Argument: an injected failure (fail|skip|exit|short|kunit-init|warn|
# oops|panic|hang) for the first boot, to show that the harness notices.
# Each boot must report exactly its plan of results, its job must exit 0,
# and a skip fails unless harness/skips-allowed lists it.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

inject=${1:-}
t0=$(date +%s)
pass=0 fail=0 skip=0 status=0

# Skips that do not fail the run: one extended regex per line, matched
# against the result's description, each with the reason it may skip.
allowed_skips=$top/harness/skips-allowed

# CHECK_BOOTS="NAME ...": only these boots (make mutants); CHECK_FAIL_FAST=1:
# none after the first that failed; CHECK_PREFIX: put before each boot's
# name, so that its logs do not replace make check's.
want_boot() {
	[ -z "${CHECK_BOOTS:-}" ] || [[ " $CHECK_BOOTS " == *" $1 "* ]] || return 1
	[ "${CHECK_FAIL_FAST:-0}" = 0 ] || [ $status = 0 ]
}

# boot NAME PLAN QEMU-RUN-ARGS...: run one boot, judge it, add up its
# results. PLAN is the number of results the boot's job must report: a
# job that stops early, or that silently loses a test, reports fewer.
boot() {
	local name=$1 plan=$2 qrc judged=ok tap p s f got job bad_skips
	shift 2
	want_boot "$name" || return 0
	name=${CHECK_PREFIX:-}$name
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
	got=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$tap" | tail -n 1)
	if [ -z "$got" ]; then
		warn "$name: the guest did not finish its test plan (crash, panic or timeout)"
		fail=$((fail + 1)) status=1
	elif [ "$got" != "$plan" ]; then
		warn "$name: the guest reported $got results, this boot's plan is $plan"
		fail=$((fail + 1)) status=1
	fi
	job=$(sed -nE 's/^vod: job [^ ]+ exited ([0-9]+)\r?$/\1/p' "$B/logs/$name.console.log" | tail -n 1)
	if [ "$job" != 0 ]; then
		warn "$name: the guest's job did not exit 0 (${job:-no exit line})"
		fail=$((fail + 1)) status=1
	fi
	bad_skips=$(grep -E '^ok [0-9]+ .*# SKIP' "$tap" | sed -E 's/^ok [0-9]+ - //; s/ # SKIP.*//' |
		grep -vxEf <(grep -vE '^(#|$)' "$allowed_skips") || true)
	if [ -n "$bad_skips" ]; then
		warn "$name: tests skipped that harness/skips-allowed does not allow:"
		echo "$bad_skips"
		fail=$((fail + $(echo "$bad_skips" | wc -l))) status=1
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

boot check 152 --job check --pmem 64G,1T,2G,2G,2G --smp 2 --timeout "${CHECK_TIMEOUT:-1500}" \
	${inject:+--inject "$inject"}

# 4-level paging (QEMU offers LA57 otherwise): another vmemmap layout.
boot check-4level 48 --job od --pmem 60G,2G,2G,2G --la57 off --timeout 900

# The same kept pmem files across kernels: this one, Linux 6.12 without the
# series (build-vanilla.sh), this one with the feature off, this one again.
if want_boot persist-vanilla; then
	"$top/harness/build-vanilla.sh" || { warn "cannot build the unpatched kernel"; fail=$((fail + 1)) status=1; }
fi
persist=(--job persist --pmem 1G,1088M --pmem-name persist --keep-pmem --timeout 300)
rm -f "$B"/pmem/persist-*.img
boot persist-create 18 "${persist[@]}" --args create
VOD_KERNEL=$B/bzImage-vanilla boot persist-vanilla 4 "${persist[@]}" --args vanilla
boot persist-off 6 "${persist[@]}" --args off --append vmemmap_on_demand=off
boot persist-restored 3 "${persist[@]}" --args restored
rm -f "$B"/pmem/persist-*.img

say "check took $(($(date +%s) - t0)) s; logs in build/logs/"
echo "$pass passed, $fail failed, $skip skipped"
exit $status
