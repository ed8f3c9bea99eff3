#!/bin/bash
# make check: boot the test kernel with a 64 GiB and a 1 TiB pmem, run every test in the
# guest, print each TAP result and end with "N passed, N failed".
# Exit status 0 only when no test failed, the guest finished its plan in
# time, and the console log holds no kernel report (see judge.sh).
# Argument: an injected failure (fail|warn|oops|panic|hang), for testing this.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

inject=${1:-}
name=check
t0=$(date +%s)
"$top/harness/qemu-run.sh" --name $name --job check --pmem 64G,1T --smp 2 \
	--timeout "${CHECK_TIMEOUT:-1500}" ${inject:+--inject "$inject"}
qrc=$?

tap=$B/logs/$name.tap
sed -i 's/\r$//' "$tap"
pass=$(grep -cE '^ok [0-9]+ ' "$tap" | tr -d ' ')
skip=$(grep -cE '^ok [0-9]+ .*# SKIP' "$tap" | tr -d ' ')
fail=$(grep -cE '^not ok [0-9]+ ' "$tap" | tr -d ' ')
pass=$((pass - skip))

status=0
if [ $qrc != 0 ]; then
	warn "QEMU exited with status $qrc$([ $qrc = 124 ] && echo ' (guest timed out)')"
	status=1
fi
if ! grep -qE '^1\.\.[0-9]+$' "$tap"; then
	warn "the guest did not finish its test plan (crash, panic or timeout)"
	status=1
fi
judged=ok
"$top/harness/judge.sh" $name || { judged=bad; status=1; }
if [ "$fail" != 0 ]; then
	echo "failed tests:"
	grep -E '^not ok ' "$tap"
	status=1
fi
# judge.sh printed the log's tail with its findings; otherwise print it here.
if [ $status != 0 ] && [ $judged = ok ]; then
	echo "---- last 40 lines of build/logs/$name.console.log"
	tail -n 40 "$B/logs/$name.console.log"
fi
# A run that did not complete counts as a failure even if no line said so.
[ $status != 0 ] && [ "$fail" = 0 ] && fail=1
say "check took $(($(date +%s) - t0)) s; logs in build/logs/$name.*"
echo "$pass passed, $fail failed, $skip skipped"
exit $status
