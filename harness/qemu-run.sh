#!/bin/bash
# Boot build/bzImage + build/initramfs.cpio in QEMU with emulated pmem.
#
#   qemu-run.sh --name NAME [--job JOB] [--args A,B] [--pmem SIZE[,SIZE...]]
#               [--mem 2G] [--smp 2] [--timeout SECONDS] [--la57 on|off]
#               [--inject fail|skip|exit|short|kunit-init|warn|oops|panic|hang]
#               [--append "..."]
#               [--interactive] [--accel auto|tcg|kvm]
#               [--pmem-name NAME] [--keep-pmem]
#
# VOD_KERNEL=PATH boots another bzImage (make bench: the benchmark kernel and
# its CONFIG_VMEMMAP_ON_DEMAND=n twin). Each --pmem size becomes one -device nvdimm (an ACPI NFIT region) backed
# by a fresh sparse file under build/pmem/, deleted when QEMU exits; with
# --keep-pmem, files of the same --pmem-name are reused and kept (what the
# guest wrote persists across boots, as on real pmem). The
# serial console is kept in build/logs/NAME.console.log and the job's
# results (second serial port) in build/logs/NAME.tap, which is streamed to
# stdout while the guest runs. Exit status: QEMU's, or 124 when the guest
# ran past --timeout (then it is killed).
#
# TCG by default: KVM is used only when a short probe boot has proved that
# it works on this host (the result is cached for the host's uptime).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/harness/lib.sh"

name=vm job=shell args= pmem=64G mem=2G smp=2 timeout=1800 la57=${VOD_LA57:-on}
inject= append= interactive=0 accel=${VOD_ACCEL:-auto} pmem_name= keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--name) name=$2; shift ;;
	--job) job=$2; shift ;;
	--args) args=$2; shift ;;
	--pmem) pmem=$2; shift ;;
	--mem) mem=$2; shift ;;
	--smp) smp=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--la57) la57=$2; shift ;;
	--inject) inject=$2; shift ;;
	--append) append=$2; shift ;;
	--interactive) interactive=1 ;;
	--accel) accel=$2; shift ;;
	--pmem-name) pmem_name=$2; shift ;;
	--keep-pmem) keep=1 ;;
	*) die "qemu-run.sh: unknown argument $1" ;;
	esac
	shift
done
kernel=${VOD_KERNEL:-$B/bzImage}
[ -f "$kernel" ] && [ -f "$B/initramfs.cpio" ] || die "run 'make initramfs' first"
mkdir -p "$B/logs" "$B/pmem"
console=$B/logs/$name.console.log
tap=$B/logs/$name.tap
: >"$console"
: >"$tap"

# Emulated pmem: one nvdimm per size, sparse backing files.
files=()
cleanup() { [ $keep = 1 ] || rm -f "${files[@]}"; }
trap cleanup EXIT
dev_args=()
total=0
i=0
if [ "$pmem" != none ]; then
	for s in ${pmem//,/ }; do
		f=$B/pmem/${pmem_name:-$name}-$i.img
		[ $keep = 1 ] && [ -f "$f" ] || { rm -f "$f"; truncate -s "$s" "$f"; }
		files+=("$f")
		dev_args+=(-object "memory-backend-file,id=mem$i,share=on,mem-path=$f,size=$s"
			-device "nvdimm,id=nv$i,memdev=mem$i")
		total=$((total + $(numfmt --from=iec "$s")))
		i=$((i + 1))
	done
fi
ram=$(numfmt --from=iec "$mem")
memarg=$mem
[ $i -gt 0 ] && memarg="$mem,slots=$((i + 1)),maxmem=$(((ram + total) / 1048576))M"

cmdline="console=ttyS0 oops=panic panic=-1 brd.rd_nr=1 brd.rd_size=262144 vod.job=$job"
[ -n "$args" ] && cmdline+=" vod.args=$args"
[ -n "$inject" ] && cmdline+=" vod.inject=$inject"
# A KUnit suite whose init fails: no case runs, the suite says "not ok".
[ "$inject" = kunit-init ] && cmdline+=" vmemmap_od_kunit.fail_suite_init=1"
[ -n "$append" ] && cmdline+=" $append"

# VOD_PHYS_BITS: more than 64 TiB of guest physical addresses (make bench's
# 64 nvdimms of 1 TiB need 48, and 5-level paging in the guest).
cpu="max,phys-bits=${VOD_PHYS_BITS:-46}"
[ "$la57" = off ] && cpu+=",la57=off"

qargs=(-cpu "$cpu" -smp "$smp"
	-machine pc,nvdimm=on -m "$memarg"
	-kernel "$kernel" -initrd "$B/initramfs.cpio"
	-append "$cmdline" -display none -no-reboot "${dev_args[@]}")

# A KVM probe boot (no pmem, 30 s); cached per host boot.
if [ "$accel" = auto ]; then
	cache=$B/accel.$(cat /proc/sys/kernel/random/boot_id)
	if [ ! -f "$cache" ]; then
		echo tcg >"$cache"
		if [ -w /dev/kvm ]; then
			say "probing KVM (30 s at most)"
			if { timeout -k 5 30 qemu-system-x86_64 -accel kvm -cpu max -m 512M \
				-kernel "$kernel" -initrd "$B/initramfs.cpio" -display none \
				-no-reboot -serial "file:$B/logs/kvm-probe.log" \
				-append "console=ttyS0 panic=-1 vod.job=probe"; } >/dev/null 2>&1 &&
				grep -q 'vod: probe ok' "$B/logs/kvm-probe.log"; then
				echo kvm >"$cache"
			fi
		fi
		say "accelerator: $(cat "$cache") (probe: build/logs/kvm-probe.log)"
	fi
	accel=$(cat "$cache")
fi
echo "$accel" >"$B/logs/$name.accel"
[ "$accel" = tcg ] && accel="tcg,thread=multi"

say "boot $name: $accel, $smp cpus, $mem RAM, pmem ${pmem}, la57=$la57, job $job (log: build/logs/$name.console.log)"
if [ "$interactive" = 1 ]; then
	qemu-system-x86_64 -accel "$accel" "${qargs[@]}" \
		-chardev "stdio,id=con,mux=on,signal=off,logfile=$console" \
		-serial chardev:con -mon chardev=con -serial "file:$tap"
	exit
fi
rc=0
timeout -k 10 "$timeout" qemu-system-x86_64 -accel "$accel" "${qargs[@]}" \
	-serial "file:$console" -serial "file:$tap" -monitor none </dev/null &
qpid=$!
tail -n +1 -f --pid=$qpid "$tap" &
wait $qpid || rc=$?
sleep 0.2
kill %2 2>/dev/null || true
wait 2>/dev/null || true
[ $rc = 124 ] && warn "guest $name ran past ${timeout}s and was killed"
exit $rc
