# Shared settings and helpers for the harness scripts (sourced).
# shellcheck shell=bash
B=${B:-$top/build}
KERNEL_PIN=6.12.117
KERNEL_PKG_PIN=6.12.117-1~deb12u1
say() { printf '[vod] %s\n' "$*"; }
warn() { printf '[vod] warning: %s\n' "$*" >&2; }
die() { printf '[vod] error: %s\n' "$*" >&2; exit 1; }

# What fails a boot when its console log shows it (judge.sh, make mutants).
KERNEL_REPORTS='Kernel panic|BUG:|Oops|WARNING:|general protection fault|kernel BUG at'
KERNEL_REPORTS+='|possible recursive locking|possible circular locking|inconsistent lock state'
KERNEL_REPORTS+='|suspicious RCU usage|INFO: task .* blocked for more than|KASAN:|UBSAN:'
KERNEL_REPORTS+='|soft lockup|hard LOCKUP|rcu_.*detected stalls|DEBUG_LOCKS_WARN_ON'
KERNEL_REPORTS+='|sleeping function called from invalid context|Call Trace:'
KERNEL_REPORTS+='|suspected memory leak|pagealloc: memory corruption|Poison overwritten'
