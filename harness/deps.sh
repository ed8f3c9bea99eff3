#!/bin/bash
# Install what the project needs from Debian's packages. Idempotent: only
# missing packages are installed, and the run says which.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

pkgs=(
	"linux-source-6.12=$KERNEL_PKG_PIN"
	# kernel build
	build-essential bc flex bison libelf-dev libssl-dev dwarves cpio kmod
	xz-utils rsync ccache python3 perl
	# emulation and the guest userspace
	qemu-system-x86 busybox-static
	# real tools copied into the guest
	linux-perf fio ndctl daxctl e2fsprogs
	# make bench: the plots
	gnuplot-nox
)
missing=()
for p in "${pkgs[@]}"; do
	name=${p%%=*}
	want=${p#*=}
	have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$name" 2>/dev/null || true)
	if [[ $have == "ii "* ]] && { [ "$name" = "$p" ] || [ "$have" = "ii  $want" ]; }; then
		continue
	fi
	missing+=("$p")
done
if [ ${#missing[@]} = 0 ]; then
	say "deps: all ${#pkgs[@]} packages already installed"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
say "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	tail -n 20 "$log"
	die "apt-get failed"
fi
rm -f "$log"
say "deps: installed ${missing[*]}"
