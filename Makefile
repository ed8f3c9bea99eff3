# On-demand vmemmap: the whole workflow. `make help` lists it.
#
# Everything lands under build/ (ignored by git): the kernel tree
# (build/linux), the image (build/bzImage), the initramfs, the QEMU serial
# logs of every boot (build/logs/) and the sparse pmem backing files, which
# are deleted after each boot.

SHELL := /bin/bash
H := harness

# Size of the emulated pmem for `make vm` and `make demo` (QEMU size syntax).
PMEM ?= 1T
# `make demo PMEM=8T`: above 1 TiB, nvdimms of 1 TiB each (up to 32T).
# `make demo FULL=1` measures map=dev at the full $(PMEM) (at most 1 TiB) instead of 64G;
# `make bench FULL=1` also binds 1 TiB with map=dev.
FULL ?= 0
# `make check INJECT=fail|skip|exit|short|kunit-init|warn|oops|panic|hang`
# breaks the run on purpose, to show that the harness notices.
INJECT ?=
# Guest paging: on = 5-level (QEMU -cpu max offers LA57), off = 4-level.
# The vmemmap layout differs between the two.
LA57 ?= on
export VOD_LA57 := $(LA57)

.PHONY: help deps kernel initramfs vm check stress mutants demo bench clean distclean

help:
	@echo 'On-demand vmemmap workbench. Targets:'
	@echo '  make deps       install what the project needs from Debian packages (idempotent)'
	@echo '  make kernel     unpack Linux 6.12, apply patches/series, build build/bzImage'
	@echo '  make initramfs  busybox, test binaries, perf, fio, ndctl, mkfs.ext4 -> build/initramfs.cpio'
	@echo '  make vm         boot an interactive guest: 2 GiB RAM + $$PMEM of pmem (default 1T)'
	@echo '  make check      boot the test kernel, run KUnit + kselftests, print "N passed, N failed"'
	@echo '  make stress     the stress kernel (PREEMPT, KASAN, page poison, kmemleak, ptdump), 8 vCPUs: long, not in CI'
	@echo '  make mutants    broken variants of the core (harness/mutants), each built and checked: which were caught; long, not in CI'
	@echo '  make demo       the main job: upstream cannot bind a 1 TiB pmem in a 2 GiB guest; on demand it binds, runs fio, stays in budget'
	@echo '  make bench      on-demand vs map=mem vs map=dev, fault cost, reclaim: bench/results.md + plots'
	@echo '  make clean      remove build/ except the kernel tree; distclean removes all of build/'
	@echo 'Variables: PMEM=SIZE (vm, demo), FULL=1 (demo, bench: map=dev at full size),'
	@echo '           INJECT=KIND (check; README), LA57=on|off (guest paging levels)'

deps:
	@$(H)/deps.sh

kernel: deps
	@$(H)/build-kernel.sh

initramfs: kernel
	@$(H)/mkinitramfs.sh

vm: initramfs
	@$(H)/qemu-run.sh --name vm --interactive --pmem $(PMEM) --job shell

check: initramfs
	@$(H)/check.sh $(INJECT)

stress: initramfs
	@$(H)/stress.sh

mutants: initramfs
	@$(H)/mutants.sh

demo: initramfs
	@$(H)/demo.sh $(PMEM) $(FULL)

bench: initramfs
	@FULL=$(FULL) $(H)/bench.sh

clean:
	rm -rf build/initramfs* build/selftests build/logs build/pmem build/bzImage

distclean:
	rm -rf build
