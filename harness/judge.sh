#!/bin/bash
# judge.sh NAME [ALLOW_REGEX]: scan build/logs/NAME.console.log for kernel
# reports that fail a run (oops, BUG, WARNING, lockdep, KASAN, hung task,
# soft lockup, RCU stall, panic, kmemleak, page poisoning). Lines matching ALLOW_REGEX are expected
# (the demo expects allocation failures). On a finding, print it, a decoded
# stack trace and the log's tail, and exit 1.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

name=$1
allow=${2:-^$}
log=$B/logs/$name.console.log
bad=$KERNEL_REPORTS

tail_log() {
	echo "---- last 60 lines of build/logs/$name.console.log"
	tail -n 60 "$log"
	echo "----"
}

[ -s "$log" ] || { warn "$name: empty console log"; exit 1; }
hits=$(grep -nE "$bad" "$log" | grep -vE "$allow")
[ -z "$hits" ] && exit 0

warn "$name: the kernel reported problems:"
echo "$hits" | head -n 20
first=$(echo "$hits" | head -n 1 | cut -d: -f1)
T=${VOD_TREE:-$B/linux}
if [ -x "$T/scripts/decode_stacktrace.sh" ] && [ -f "$T/vmlinux" ]; then
	echo "---- decoded (scripts/decode_stacktrace.sh) from line $first"
	sed -n "$first,$((first + 60))p" "$log" |
		"$T/scripts/decode_stacktrace.sh" "$T/vmlinux" "$T" 2>/dev/null |
		head -n 60
fi
tail_log
exit 1
