#!/bin/bash
# Build the guest's initramfs (build/initramfs.cpio, uncompressed newc):
# busybox, the guest scripts in harness/guest, the test binaries built from
# tools/testing/selftests/vmemmap_od and upstream's selftests/mm/gup_test,
# and the real perf, fio, ndctl, daxctl and mkfs.ext4 from this machine,
# each with the shared libraries ldd names, at the same paths, so they run
# unchanged in the guest.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

K=$B/linux
R=$B/initramfs
ST=$B/selftests
[ -d "$K/usr/include" ] || die "no kernel headers in build/linux: run 'make kernel'"

# Test binaries: static, against this kernel's uapi headers.
mkdir -p "$ST"
make -s -C "$K/tools/testing/selftests/vmemmap_od" OUTPUT="$ST"
# Upstream's gup_test, the user side of CONFIG_GUP_TEST, from the kernel
# tree itself (as tools/testing/selftests/mm/Makefile builds it, static).
(cd "$K/tools/testing/selftests/mm" &&
	gcc -Wall -O2 -static -D_GNU_SOURCE= -I.. -I../../../.. -I../../../../usr/include \
		-I../../../../tools/include/uapi gup_test.c vm_util.c -lpthread -o "$ST/gup_test")

rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,mnt,run,root,tests}
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
	[ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"
done

copy_with_libs() {
	local bin=$1 dst=$2 lib
	install -D -m 0755 "$bin" "$R$dst"
	for lib in $(ldd "$bin" | grep -oE '/[^ ]+'); do
		[ -e "$R$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$R$lib"
	done
}
copy_with_libs /usr/bin/perf /usr/bin/perf
copy_with_libs /usr/bin/fio /usr/bin/fio
copy_with_libs /usr/bin/ndctl /usr/bin/ndctl
copy_with_libs /usr/bin/daxctl /usr/bin/daxctl
copy_with_libs /usr/sbin/mke2fs /usr/sbin/mke2fs
ln -sf mke2fs "$R/usr/sbin/mkfs.ext4"
cp /etc/mke2fs.conf "$R/etc/"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"

install -m 0755 "$top/harness/guest/init" "$R/init"
for f in "$top"/harness/guest/*; do
	[ "$(basename "$f")" = init ] || install -m 0755 "$f" "$R/usr/bin/"
done
cp -a "$ST"/. "$R/tests/"
ln -s /tests/timed_write "$R/usr/bin/timed_write"

(cd "$R" && find . | LC_ALL=C sort | cpio --quiet -o -H newc) >"$B/initramfs.cpio.tmp"
mv "$B/initramfs.cpio.tmp" "$B/initramfs.cpio"
say "built build/initramfs.cpio ($(du -h "$B/initramfs.cpio" | cut -f1))"
