# Guest-side helpers shared by the jobs (sourced).
#
# Results are a flat TAP stream on $TAP (the second serial port): every
# result line is numbered here, whether it comes from a shell check, a
# kselftest program or a KUnit suite, and the job ends with the plan.
# shellcheck shell=sh
TAP=${TAP:-/dev/ttyS1}
TAPN=/tmp/tap.count
VOD_LOG=/tmp/vod.log

# One /proc/vmstat counter; the resident on-demand memmap in kB.
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
resident_kb() { cat /sys/kernel/mm/vmemmap_on_demand/resident_kb; }

tap_emit() {
	echo "$*" >>"$TAP"
	echo "$*"
}

# tap_result ok|fail|skip DESCRIPTION [REASON]
tap_result() {
	n=$(($(cat $TAPN 2>/dev/null || echo 0) + 1))
	echo $n >$TAPN
	case "$1" in
	ok) tap_emit "ok $n - $2" ;;
	fail) tap_emit "not ok $n - $2${3:+ # $3}" ;;
	skip) tap_emit "ok $n - $2 # SKIP ${3:-no reason given}" ;;
	esac
}

# tap_check DESCRIPTION COMMAND...: one result from a command's status.
tap_check() {
	d=$1
	shift
	if "$@" >$VOD_LOG 2>&1; then
		tap_result ok "$d"
	else
		tap_comment <$VOD_LOG
		tap_result fail "$d"
	fi
}

tap_comment() {
	while IFS= read -r line; do tap_emit "# $line"; done
}

# tap_ktap PREFIX INDENT: read KTAP/TAP from stdin; result lines indented by
# exactly INDENT spaces become top-level results named PREFIX.NAME, the
# rest become comments.
tap_ktap() {
	awk -v pfx="$1" -v ind="$2" -v cnt="$TAPN" -v tap="$TAP" '
	function out(s) { print s >> tap; print s; fflush() }
	BEGIN { n = 0; if ((getline n < cnt) <= 0) n = 0; close(cnt) }
	{
		line = $0
		pad = sprintf("%" ind "s", "")
		if (ind == 0) pad = ""
		# A result above the expected depth (a KUnit suite whose init
		# failed, so that no case ran) fails when it is a failure.
		if (match(line, /^ *not ok [0-9]+ /) &&
		    match(line, /^ */) && RLENGTH < length(pad)) {
			rest = line
			sub(/^ *not ok [0-9]+ (- )?/, "", rest)
			n++
			out("not ok " n " - " pfx ": " rest " (above the case level)")
			next
		}
		if (substr(line, 1, length(pad)) == pad &&
		    match(substr(line, length(pad) + 1), /^(not )?ok [0-9]+ (- )?/)) {
			rest = substr(line, length(pad) + 1)
			bad = (rest ~ /^not /)
			sub(/^(not )?ok [0-9]+ (- )?/, "", rest)
			n++
			out((bad ? "not ok " : "ok ") n " - " pfx "." rest)
			next
		}
		out("# " line)
	}
	END { print n > cnt; close(cnt) }'
}

# run_kselftest PREFIX PROGRAM...: a kselftest binary's results, flattened.
# A program that exits non-zero without reporting a failure (a crash, a
# skip by exit status 4, a bail-out) counts as one.
run_kselftest() {
	local name=$1 rc
	shift
	"$@" >/tmp/ksft.out 2>&1
	rc=$?
	tap_ktap "$name" 0 </tmp/ksft.out
	if [ $rc != 0 ] && ! grep -q '^not ok' /tmp/ksft.out; then
		tap_result fail "$name: exit status $rc"
	fi
}

# od_settles NAME: with nothing touching struct pages, the memmap goes back
# under budget_kb plus one batch (256 kB) by itself within 5 s: reclaim
# rescans the pages it found live without waiting for new faults, and
# none come meanwhile.
od_settles() {
	local b f0 kb t=0
	b=$(cat /sys/kernel/mm/vmemmap_on_demand/budget_kb)
	f0=$(vmstat vmemmap_od_faults)
	while kb=$(resident_kb) && [ "$kb" -gt $((b + 256)) ] && [ $t -lt 50 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	f0=$(($(vmstat vmemmap_od_faults) - f0))
	tap_emit "# $1: resident_kb $kb after $((t * 100)) ms (budget $b kB), vmemmap_od_faults +$f0"
	tap_check "$1" sh -c "[ $kb -le $((b + 256)) ] && [ $f0 = 0 ]"
}

# od_rebind NAME REGION N: bind an ondemand devdax namespace on REGION and
# unbind it N times while dax_touch keeps faulting its pages in. Every
# unbind frees the whole memmap: resident_kb comes back to what it was
# before the first bind, within 5 s (unhooked PTE tables are freed after
# an RCU grace period); each time it does not is printed. What was
# resident before is read once it stops changing: what earlier tests left
# may still be going (make stress: 376 kB before, then 68 kB after every
# unbind).
od_rebind() {
	local name=$1 region=$2 n=$3 i=0 leaks=0 od0 out pid busy=0 now t=0
	od0=$(resident_kb)
	while sleep 0.5 && now=$(resident_kb) && [ "$now" != "$od0" ] && [ $t -lt 20 ]; do
		od0=$now t=$((t + 1))
	done
	while [ $i -lt "$n" ]; do
		i=$((i + 1))
		if ! out=$(ndns create devdax ondemand "$region"); then
			echo "$out" | tap_comment
			tap_result fail "$name: bind $i"
			return
		fi
		eval "$out"
		/tests/dax_touch "$node" $((1 << 30)) 5 >/tmp/touch.out 2>&1 &
		pid=$!
		sleep 1
		busy=$(resident_kb)
		if ! ndns destroy "$region" >/tmp/destroy.out 2>&1; then
			tap_comment </tmp/destroy.out
			leaks=$((leaks + 1))
		fi
		kill $pid 2>/dev/null
		wait $pid
		t=0
		while now=$(resident_kb) && [ "$now" != "$od0" ] && [ $t -lt 50 ]; do
			sleep 0.1
			t=$((t + 1))
		done
		if [ "$now" != "$od0" ]; then
			tap_emit "# $name: after unbind $i: resident_kb $now, $od0 before the first bind"
			leaks=$((leaks + 1))
		fi
	done
	tap_emit "# $name: $n binds, each unbound while dax_touch faulted pages in ($(cat /tmp/touch.out); resident +$((busy - od0)) kB before the last unbind)"
	tap_check "$name" [ $leaks = 0 ]
}

# The KUnit suites every test kernel runs, by name: each must have run.
KUNIT_SUITES="vmemmap_od zone_device_memmap"

kunit() {
	for s in $KUNIT_SUITES; do
		r=/sys/kernel/debug/kunit/$s/results
		if [ -e "$r" ]; then
			tap_ktap "kunit.$s" 4 <"$r"
		else
			tap_result fail "kunit.$s" "the suite did not run (no $r)"
		fi
	done
}

# setup_check DESCRIPTION COMMAND...: a prerequisite, not a test: a
# comment when it holds, a failure when it does not.
setup_check() {
	d=$1
	shift
	if "$@" >$VOD_LOG 2>&1; then
		tap_emit "# setup: $d: ok"
	else
		tap_comment <$VOD_LOG
		tap_result fail "setup: $d"
	fi
}

tap_plan() {
	tap_emit "1..$(cat $TAPN 2>/dev/null || echo 0)"
}

# Injected failures, to show that the host notices each kind: a failed
# result, a skip, a kselftest exiting 3 after "ok" lines, kernel reports
# (lkdtm), a hang. "short" (a missing result) is in the jobs, "kunit-init"
# (a failing suite init) on the kernel command line (qemu-run.sh).
vod_inject() {
	case "$VOD_INJECT" in
	fail) tap_result fail "injected failure (vod.inject=fail)" ;;
	skip) tap_result skip "injected skip (vod.inject=skip)" "not on the allowed list" ;;
	exit) run_kselftest "injected" sh -c 'echo "ok 1 - looks fine"; exit 3' ;;
	warn) echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT ;;
	oops) echo EXCEPTION >/sys/kernel/debug/provoke-crash/DIRECT ;;
	panic) echo PANIC >/sys/kernel/debug/provoke-crash/DIRECT ;;
	hang) sleep 100000 ;;
	esac
}
