#!/bin/bash
# Turn this repository into a built kernel at build/bzImage:
# unpack the pinned Debian linux-source-6.12 into build/linux, apply
# patches/series, copy the repository's kernel-tree files over it, configure
# from tinyconfig + kernel/configs/$FRAGMENT and build with ccache.
# Incremental: a re-run after an edit rebuilds only what changed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

# VOD_TREE, FRAGMENT (one or more, merged in order) and VOD_IMAGE select
# another kernel: make stress builds build/linux-stress with the test
# fragment plus vmemmap_od_stress.config into build/bzImage-stress;
# make mutants builds build/linux-mutant with VOD_OVERLAY (below).
K=${VOD_TREE:-$B/linux}
TAR=/usr/src/linux-source-6.12.tar.xz
FRAGMENT=${FRAGMENT:-vmemmap_od_test.config}
IMAGE=$B/${VOD_IMAGE:-bzImage}
KDIRS="arch Documentation drivers include kernel lib mm tools"

[ -f "$TAR" ] || die "$TAR missing: run 'make deps'"

unpack() {
	say "unpacking $TAR into ${K#$top/}"
	rm -rf "$K" "$K.tmp"
	mkdir -p "$K.tmp"
	tar -C "$K.tmp" -xf "$TAR"
	mv "$K.tmp/linux-source-6.12" "$K"
	rmdir "$K.tmp"
	mkdir -p "$K/.vod"
}
[ -d "$K/.vod" ] || unpack

ver=$(make -s -C "$K" kernelversion)
pkg=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo '?')
[ "$ver" = "$KERNEL_PIN" ] || die "kernel source is $ver, this project is pinned to $KERNEL_PIN (package $KERNEL_PKG_PIN)"
say "kernel: Linux $ver (Debian linux-source-6.12 $pkg)"

# Patches: take off the applied ones from the end back to the first that
# differs from the series (by name or content), then put the rest of the
# series on, so an appended patch rebuilds only what it touches. If the
# tree will not un-patch cleanly, start again from the tarball.
series() { grep -v -e '^#' -e '^[[:space:]]*$' "$1/series" 2>/dev/null || true; }
applied=$K/.vod/patches
mapfile -t old < <(series "$applied")
mapfile -t new < <(series "$top/patches")
keep=0
while [ $keep -lt ${#old[@]} ] && [ $keep -lt ${#new[@]} ] &&
	[ "${old[$keep]}" = "${new[$keep]}" ] &&
	cmp -s "$applied/${old[$keep]}" "$top/patches/${new[$keep]}"; do
	keep=$((keep + 1))
done
for ((i = ${#old[@]} - 1; i >= keep; i--)); do
	say "unpatch ${old[$i]}"
	if ! patch -p1 -s -R --no-backup-if-mismatch -d "$K" <"$applied/${old[$i]}"; then
		unpack
		keep=0
		break
	fi
done
mkdir -p "$applied"
for ((i = keep; i < ${#new[@]}; i++)); do
	say "patch ${new[$i]}"
	patch -p1 -s -N --no-backup-if-mismatch -d "$K" <"$top/patches/${new[$i]}"
done
rm -rf "$applied"
cp -r "$top/patches" "$applied"

# New kernel-tree files of this repository: copy only what changed, so
# make's timestamps stay meaningful.
for d in $KDIRS; do
	[ -d "$top/$d" ] && rsync -rc "$top/$d/" "$K/$d/"
done
# VOD_OVERLAY: a directory of kernel-tree files copied over those (make
# mutants: a broken variant of the core).
[ -n "${VOD_OVERLAY:-}" ] && rsync -rc "$VOD_OVERLAY/" "$K/"

# Configuration: tinyconfig plus the fragment, regenerated when the
# fragment or the patches change. A symbol the fragment asks for that does
# not make it into .config is an error, not a warning.
frags=()
for f in $FRAGMENT; do frags+=("$top/kernel/configs/$f"); done
cfg_id=$(cat "${frags[@]}" "$top"/patches/* | sha256sum | cut -c1-16)
if [ ! -f "$K/.config" ] || [ "$(cat "$K/.vod/config-id" 2>/dev/null)" != "$cfg_id" ]; then
	say "configuring: tinyconfig + $FRAGMENT"
	make -s -C "$K" tinyconfig >/dev/null
	for f in $FRAGMENT; do make -s -C "$K" "$f" >/dev/null; done
	bad=0
	while IFS== read -r k v; do
		if [ "$v" = n ]; then
			grep -q "^$k=" "$K/.config" && { warn "$k=n requested but set"; bad=1; }
		else
			grep -qx "$k=$v" "$K/.config" || { warn "$k=$v requested, .config has: $(grep "^$k=\|^# $k is" "$K/.config" || echo nothing)"; bad=1; }
		fi
	done < <(cat "${frags[@]}" | grep -oE '^CONFIG_[A-Za-z0-9_]+=[^[:space:]]+' |
		awk -F= '{ v[$1] = $0 } END { for (k in v) print v[k] }')
	[ $bad = 0 ] || die "config fragment not satisfied"
	echo "$cfg_id" >"$K/.vod/config-id"
fi

say "building ($(nproc) jobs, ccache)"
# Hits across clones: paths are relative to the tree, not to where it is.
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$K CCACHE_NOHASHDIR=1
make -s -C "$K" -j"$(nproc)" CC="ccache gcc" bzImage modules
make -s -C "$K" headers >/dev/null
cp "$K/arch/x86/boot/bzImage" "$IMAGE"
say "built ${IMAGE#$top/} ($(du -h "$IMAGE" | cut -f1))"
