# Shared settings and helpers for the harness scripts (sourced).
# shellcheck shell=bash
B=${B:-$top/build}
KERNEL_PIN=6.12.117
KERNEL_PKG_PIN=6.12.117-1~deb12u1
say() { printf '[vod] %s\n' "$*"; }
warn() { printf '[vod] warning: %s\n' "$*" >&2; }
die() { printf '[vod] error: %s\n' "$*" >&2; exit 1; }
