#!/bin/bash
# The kernel this series must stay compatible with: the same Debian
# linux-source-6.12 tarball, none of patches/, none of this repository's
# kernel files, the test kernel's .config (olddefconfig drops the symbols
# the series adds). Built in build/linux-vanilla, copied to
# build/bzImage-vanilla. Incremental, with ccache; run after build-kernel.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

K=$B/linux-vanilla
TAR=/usr/src/linux-source-6.12.tar.xz
[ -f "$B/linux/.config" ] || die "build the test kernel first (make kernel)"
if [ ! -d "$K/.vod" ]; then
	say "unpacking $TAR into build/linux-vanilla (no patches)"
	rm -rf "$K" "$B/vanilla.tmp"
	mkdir -p "$B/vanilla.tmp"
	tar -C "$B/vanilla.tmp" -xf "$TAR"
	mv "$B/vanilla.tmp/linux-source-6.12" "$K"
	rmdir "$B/vanilla.tmp"
	mkdir -p "$K/.vod"
fi
if ! cmp -s "$B/linux/.config" "$K/.vod/config.in"; then
	cp "$B/linux/.config" "$K/.vod/config.in"
	cp "$B/linux/.config" "$K/.config"
	make -s -C "$K" olddefconfig
fi
! grep -q '^CONFIG_VMEMMAP_ON_DEMAND' "$K/.config" || die "build/linux-vanilla has the series' config"
say "building the unpatched kernel ($(nproc) jobs, ccache)"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$K CCACHE_NOHASHDIR=1
make -s -C "$K" -j"$(nproc)" CC="ccache gcc" bzImage
cp "$K/arch/x86/boot/bzImage" "$B/bzImage-vanilla"
say "built build/bzImage-vanilla ($(du -h "$B/bzImage-vanilla" | cut -f1))"
