// SPDX-License-Identifier: GPL-2.0
/*
 * od_stress - struct page accesses over an on-demand vmemmap window.
 *
 * Uses the test_vmemmap_od driver (lib/test_vmemmap_od.c) to map a range of
 * free physical address space (OD_SIZE, default 4T) with an on-demand
 * memmap, then has THREADS threads each make NR accesses at random pfns
 * from one context (a variant per context: process, IRQs off, spinlock
 * held, softirq, hardirq), two threads on each pfn sequence so that first
 * touches race. The driver checks every access; the test checks
 * that none failed, that every touched struct page is intact and idle
 * afterwards, that one fault populated each touched vmemmap page, that
 * resident_kb grew by what was touched (plus page tables), and that it
 * falls back when the range goes away. reserve_empty checks the documented
 * behaviour when no page can be had: the access is not served and
 * get_kernel_nofault() sees -EFAULT.
 *
 * The reclaim variants run the same threads, random or sequential, under a
 * budget (OD_BUDGET_KB, default 2048) many times smaller than what they
 * touch, while a sampler reads resident_kb. The driver's threads back off
 * when the memmap is congested and throttle (vmemmap_od_throttle()); the
 * memmap must stay within one reclaim batch (64 vmemmap pages) of the
 * budget, reclaim must free at least 32 pages per TLB shootdown, and every
 * struct page must come back intact. budget_kb_rejects_nonsense writes nonsense to budget_kb.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "vod_util.h"

#define FAIL_OD	"/sys/kernel/debug/fail_vmemmap_od/"
#define THREADS	4
/* One reclaim batch: 64 vmemmap pages of 4 kB. */
#define BATCH_KB	256

/* "accesses N violations N touched N" */
static void read_stats(long *accesses, long *violations, long *touched)
{
	FILE *f = fopen(TVO "stats", "r");

	*accesses = *violations = *touched = -1;
	if (!f)
		return;
	if (fscanf(f, "accesses %ld violations %ld touched %ld",
		   accesses, violations, touched) != 3)
		*accesses = -1;
	fclose(f);
}

static long read_throttled(void)
{
	long a, v, t, thr = -1;
	FILE *f = fopen(TVO "stats", "r");

	if (f) {
		if (fscanf(f, "accesses %ld violations %ld touched %ld throttled %ld",
			   &a, &v, &t, &thr) != 4)
			thr = -1;
		fclose(f);
	}
	return thr;
}

struct worker {
	const char *ctx;
	const char *pattern;
	unsigned long nr;
	unsigned long seed;
	int ret;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "%s %lu %lu %s", w->ctx, w->nr, w->seed,
		 w->pattern ?: "random");
	w->ret = write_str(TVO "access", cmd);
	return NULL;
}

FIXTURE(od) {
	long resident0;
	long faults0;
	long memmap0;
	long reclaimed0;
};

FIXTURE_VARIANT(od) {
	const char *ctx;
};

FIXTURE_VARIANT_ADD(od, process) { .ctx = "process" };
FIXTURE_VARIANT_ADD(od, irqoff) { .ctx = "irqoff" };
FIXTURE_VARIANT_ADD(od, spinlock) { .ctx = "spinlock" };
FIXTURE_VARIANT_ADD(od, softirq) { .ctx = "softirq" };
FIXTURE_VARIANT_ADD(od, hardirq) { .ctx = "hardirq" };

FIXTURE_SETUP(od)
{
	const char *size = getenv("OD_SIZE") ?: "4T";

	if (access(TVO "size", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	self->resident0 = read_long(OD_SYSFS "resident_kb");
	ASSERT_LE(0, self->resident0) TH_LOG("no " OD_SYSFS "resident_kb");
	ASSERT_EQ(0, write_str(TVO "size", size)) TH_LOG("cannot map %s", size);
	self->faults0 = read_vmstat("vmemmap_od_faults");
	ASSERT_LE(0, self->faults0) TH_LOG("no vmemmap_od_faults in /proc/vmstat");
	self->memmap0 = read_vmstat("nr_memmap_pages");
	self->reclaimed0 = read_vmstat("vmemmap_od_reclaimed");
}

FIXTURE_TEARDOWN(od)
{
	write_str(TVO "size", "0");
}

TEST_F(od, threads)
{
	unsigned long nr = strtoul(getenv("OD_NR") ?: "20000", NULL, 0);
	long accesses, violations, touched, resident, faults;
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	int i;

	/*
	 * Threads 2k and 2k+1 share a pfn sequence, so every vmemmap page is
	 * first touched by two CPUs at once: the concurrent-install race.
	 */
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .ctx = variant->ctx, .nr = nr,
					.seed = (strlen(variant->ctx) << 8) + i / 2 };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, worker_fn, &w[i]));
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, w[i].ret) TH_LOG("thread %d: %s", i, strerror(-w[i].ret));
	}
	EXPECT_EQ(0, write_str(TVO "verify", "1")) TH_LOG("a touched struct page is not intact");

	read_stats(&accesses, &violations, &touched);
	resident = read_long(OD_SYSFS "resident_kb") - self->resident0;
	faults = read_vmstat("vmemmap_od_faults") - self->faults0;
	ksft_print_msg("%s: %d threads x %lu accesses, %ld violations, %ld vmemmap pages touched, %ld faults\n",
		       variant->ctx, THREADS, nr, violations, touched, faults);
	ksft_print_msg("%s: resident +%ld kB (%.2f kB per touched page)\n", variant->ctx,
		       resident, touched > 0 ? (double)resident / touched : 0);
	EXPECT_EQ(0, violations);
	/* One fault populated each touched vmemmap page, no more. */
	if (read_vmstat("vmemmap_od_reclaimed") == self->reclaimed0) {
		EXPECT_EQ(touched, faults);
	} else {
		ksft_print_msg("%s: the shrinker reclaimed some: refaults allowed\n",
			       variant->ctx);
	}
	/* nr_memmap_pages counts the resident on-demand vmemmap pages. */
	EXPECT_EQ(touched, read_vmstat("nr_memmap_pages") - self->memmap0);
	/* 4 kB per vmemmap page, plus at most one PTE table each. */
	EXPECT_LE(touched * 4, resident);
	EXPECT_GE(touched * 8 + 1024, resident);

	ASSERT_EQ(0, write_str(TVO "size", "0"));
	EXPECT_EQ(self->resident0, read_long(OD_SYSFS "resident_kb"))
		TH_LOG("resident memmap not freed with the range");
}

/* Samples resident_kb until told to stop. */
struct sampler {
	atomic_int stop;
	long max;
	long samples;
};

static void *sampler_fn(void *arg)
{
	struct sampler *s = arg;

	while (!atomic_load(&s->stop)) {
		long kb = read_long(OD_SYSFS "resident_kb");

		if (kb > s->max)
			s->max = kb;
		s->samples++;
		usleep(500);
	}
	return NULL;
}

FIXTURE(reclaim) {
	long budget0;
	long budget;
};

FIXTURE_VARIANT(reclaim) {
	const char *ctx;
	const char *pattern;
};

FIXTURE_VARIANT_ADD(reclaim, process_random) { "process", "random" };
FIXTURE_VARIANT_ADD(reclaim, process_seq) { "process", "seq" };
FIXTURE_VARIANT_ADD(reclaim, irqoff_random) { "irqoff", "random" };
FIXTURE_VARIANT_ADD(reclaim, irqoff_seq) { "irqoff", "seq" };
FIXTURE_VARIANT_ADD(reclaim, spinlock_random) { "spinlock", "random" };
FIXTURE_VARIANT_ADD(reclaim, spinlock_seq) { "spinlock", "seq" };
FIXTURE_VARIANT_ADD(reclaim, softirq_random) { "softirq", "random" };
FIXTURE_VARIANT_ADD(reclaim, softirq_seq) { "softirq", "seq" };
FIXTURE_VARIANT_ADD(reclaim, hardirq_random) { "hardirq", "random" };
FIXTURE_VARIANT_ADD(reclaim, hardirq_seq) { "hardirq", "seq" };

FIXTURE_SETUP(reclaim)
{
	const char *size = getenv("OD_SIZE") ?: "4T";
	char buf[32];

	if (access(TVO "size", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	self->budget0 = read_long(OD_SYSFS "budget_kb");
	ASSERT_LE(0, self->budget0) TH_LOG("no " OD_SYSFS "budget_kb");
	self->budget = strtol(getenv("OD_BUDGET_KB") ?: "2048", NULL, 0);
	snprintf(buf, sizeof(buf), "%ld", self->budget);
	ASSERT_EQ(0, write_str(OD_SYSFS "budget_kb", buf));
	ASSERT_EQ(0, write_str(TVO "size", size)) TH_LOG("cannot map %s", size);
}

FIXTURE_TEARDOWN(reclaim)
{
	char buf[32];

	write_str(TVO "size", "0");
	snprintf(buf, sizeof(buf), "%ld", self->budget0);
	write_str(OD_SYSFS "budget_kb", buf);
}

TEST_F(reclaim, threads)
{
	unsigned long nr = strtoul(getenv("OD_NR") ?: "20000", NULL, 0);
	long reclaimed0 = read_vmstat("vmemmap_od_reclaimed");
	long rescued0 = read_vmstat("vmemmap_od_rescued");
	long shootdowns0 = read_vmstat("vmemmap_od_shootdowns");
	long faults0 = read_vmstat("vmemmap_od_faults");
	long throttled0 = read_throttled();
	long accesses, violations, touched, reclaimed, shootdowns;
	struct sampler smp = { .max = 0 };
	struct worker w[THREADS];
	pthread_t tid[THREADS], stid;
	int i;

	ASSERT_LE(0, reclaimed0) TH_LOG("no vmemmap_od_reclaimed in /proc/vmstat");
	ASSERT_EQ(0, pthread_create(&stid, NULL, sampler_fn, &smp));
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .ctx = variant->ctx, .nr = nr,
					.pattern = variant->pattern,
					.seed = (strlen(variant->ctx) << 8) + i / 2 };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, worker_fn, &w[i]));
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, w[i].ret) TH_LOG("thread %d: %s", i, strerror(-w[i].ret));
	}
	atomic_store(&smp.stop, 1);
	pthread_join(stid, NULL);
	reclaimed = read_vmstat("vmemmap_od_reclaimed") - reclaimed0;
	shootdowns = read_vmstat("vmemmap_od_shootdowns") - shootdowns0;

	read_stats(&accesses, &violations, &touched);
	ksft_print_msg("%s/%s: %d threads x %lu accesses, %ld vmemmap pages touched (%ld kB), budget %ld kB, %ld throttles\n",
		       variant->ctx, variant->pattern, THREADS, nr, touched,
		       touched * 4, self->budget, read_throttled() - throttled0);
	ksft_print_msg("%s/%s: resident_kb max %ld over %ld samples; %ld faults, %ld reclaimed, %ld rescued, %ld shootdowns: %.1f pages per shootdown\n",
		       variant->ctx, variant->pattern, smp.max, smp.samples,
		       read_vmstat("vmemmap_od_faults") - faults0, reclaimed,
		       read_vmstat("vmemmap_od_rescued") - rescued0, shootdowns,
		       shootdowns ? (double)reclaimed / shootdowns : 0);
	EXPECT_EQ(0, violations);
	/* Many times the budget was touched. */
	EXPECT_LE(self->budget * 4, touched * 4);
	EXPECT_LT(0, smp.samples);
	EXPECT_GE(self->budget + BATCH_KB, smp.max)
		TH_LOG("resident_kb reached %ld kB, budget %ld kB", smp.max, self->budget);
	EXPECT_LT(0, reclaimed);
	EXPECT_LE(32 * shootdowns, reclaimed) TH_LOG("shootdowns are not batched");

	/* Reclaimed and refaulted struct pages are as they must be. */
	EXPECT_EQ(0, write_str(TVO "verify", "1")) TH_LOG("a touched struct page is not intact");
	read_stats(&accesses, &violations, &touched);
	EXPECT_EQ(0, violations);
}

/* Nonsense in budget_kb fails with -EINVAL and changes nothing. */
TEST(budget_kb_rejects_nonsense)
{
	static const char * const bad[] = {
		"-1", "-4096", "abc", "12abc", "4096 4096", "0x", "\n", " ",
		"18446744073709551616", "99999999999999999999999",
		"9223372036854775807", "1",
	};
	long before = read_long(OD_SYSFS "budget_kb");
	unsigned int i;
	int fd;

	if (before < 0)
		SKIP(return, "no " OD_SYSFS "budget_kb");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, write_str(OD_SYSFS "budget_kb", bad[i]))
			TH_LOG("budget_kb accepted \"%s\"", bad[i]);
		EXPECT_EQ(before, read_long(OD_SYSFS "budget_kb"));
	}
	/* A zero-length write reaches no handler in sysfs: it changes nothing. */
	fd = open(OD_SYSFS "budget_kb", O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, write(fd, "", 0));
	close(fd);
	EXPECT_EQ(before, read_long(OD_SYSFS "budget_kb"));
	/* Sense is taken, and read back in kB. */
	EXPECT_EQ(0, write_str(OD_SYSFS "budget_kb", "8192\n"));
	EXPECT_EQ(8192, read_long(OD_SYSFS "budget_kb"));
	EXPECT_EQ(0, write_str(OD_SYSFS "budget_kb", "0"));
	EXPECT_EQ(0, read_long(OD_SYSFS "budget_kb"));
	if (before) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%ld", before);
		write_str(OD_SYSFS "budget_kb", buf);
	}
}

/* No page to be had: the fault is not served, nofault readers see -EFAULT. */
TEST(reserve_empty)
{
	long failed0 = read_vmstat("vmemmap_od_fault_failed");
	unsigned long start, end;
	char pfn[32];
	FILE *f;

	if (access(TVO "size", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	if (access(FAIL_OD "probability", W_OK))
		SKIP(return, "no " FAIL_OD " (CONFIG_FAULT_INJECTION_DEBUG_FS)");
	ASSERT_EQ(0, write_str(TVO "size", "1G"));
	f = fopen(TVO "size", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(2, fscanf(f, "%lx %lx", &start, &end));
	fclose(f);
	snprintf(pfn, sizeof(pfn), "%#lx", start + (end - start) / 2);

	ASSERT_EQ(0, write_str(FAIL_OD "verbose", "0"));
	ASSERT_EQ(0, write_str(FAIL_OD "interval", "1"));
	ASSERT_EQ(0, write_str(FAIL_OD "times", "1"));
	ASSERT_EQ(0, write_str(FAIL_OD "probability", "100"));
	EXPECT_EQ(-EFAULT, write_str(TVO "nofault", pfn));
	write_str(FAIL_OD "probability", "0");
	EXPECT_EQ(failed0 + 1, read_vmstat("vmemmap_od_fault_failed"));
	/* With pages to be had again, the same access is served. */
	EXPECT_EQ(0, write_str(TVO "nofault", pfn));
	EXPECT_EQ(0, write_str(TVO "size", "0"));
}

TEST_HARNESS_MAIN
