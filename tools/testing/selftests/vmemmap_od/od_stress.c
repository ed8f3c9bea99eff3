// SPDX-License-Identifier: GPL-2.0
/*
 * od_stress - struct page accesses over an on-demand vmemmap window.
 *
 * Uses the test_vmemmap_od driver (lib/test_vmemmap_od.c) to map a range of
 * free physical address space (OD_SIZE, default 4T) with an on-demand
 * memmap, then has THREADS threads each make NR accesses at random pfns
 * from one context (a variant per context: process, IRQs off, spinlock
 * held, softirq, hardirq, NMI), two threads on each pfn sequence, pinned
 * to two different CPUs and started together behind a barrier, so that
 * first touches race. The driver is a known consumer: it populates each
 * batch's struct pages (vmemmap_od_populate()) and fills this CPU's reserve
 * (vmemmap_od_preload()) where it can sleep, then makes the accesses in the
 * chosen context, plus a few unprepared ones that the fault handler serves
 * from the reserve. The driver checks every access; the test checks that
 * none failed, that all NR were made, that every touched struct page is
 * afterwards byte for byte what upfront init writes (the driver's verify
 * compares it with an upfront twin), that each touched vmemmap page was
 * populated once (vmemmap_od_faults counts every population, by populate
 * or fault),
 * that the race happened: some installs were lost to the other CPU
 * (vmemmap_od_lost_installs), that the fault handler served some of them
 * (vmemmap_od_atomic_faults), never more than the unprepared accesses,
 * that no fault went unserved (vmemmap_od_fault_failed), that resident_kb
 * grew by what was touched (plus page tables), and that it falls back when
 * the range goes away. With fewer than two CPUs the variants skip.
 * reserve_empty checks the documented behaviour when no page can be had:
 * the access is not served and get_kernel_nofault() sees -EFAULT.
 *
 * The reclaim variants run the same threads (not pinned), random or
 * sequential, under a budget (OD_BUDGET_KB, default 2048) many times
 * smaller than what they touch, while a sampler reads resident_kb. The
 * driver's threads back off when the memmap is congested and throttle
 * (vmemmap_od_throttle()); the memmap must stay within one reclaim batch
 * (64 vmemmap pages) of the budget, by the sampler and by the kernel's own
 * high-water mark (resident_max_kb, reset first), reclaim must free at
 * least 32 pages per TLB shootdown, and every struct page must come back
 * intact; the races and refusals (vmemmap_od_lost_installs, _rescued,
 * _put_back, _live_skipped) are printed.
 *
 * reclaim_race forces the un-park race: THREADS threads, pinned to
 * different CPUs and started together, make NR / 2 random accesses each,
 * from process context or with IRQs off, over a hot working set whose
 * vmemmap is RACE_HOT_X times the budget, so that reclaim keeps parking
 * pages the threads are about to touch. Some must find their entry parked
 * and put it back (vmemmap_od_rescued); reclaim must have run, every
 * access be made, every struct page come back intact, no fault go
 * unserved, and resident_max_kb stay within one batch of the budget.
 * budget_kb_rejects_nonsense writes nonsense to budget_kb. OD_NR_RANDOM
 * (default OD_NR) is NR for the random reclaim variants: a random access
 * nearly always touches a new vmemmap page, a sequential one every eighth.
 *
 * walk_populates_nothing walks the pfns of an on-demand range and around it
 * as hibernation's mark_free_pages() does, pfn_valid() then
 * pfn_to_online_page(): it sees the pfns valid, none online, and populates
 * nothing; the same walk with pfn_to_page(), as mark_free_pages() did
 * before, faults in every vmemmap page it reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "vod_util.h"

#define FAIL_OD	"/sys/kernel/debug/fail_vmemmap_od/"
#define THREADS	4
/*
 * How far over the budget the memmap may go, by the sampler and by the
 * kernel's own high-water mark (resident_max_kb): one reclaim batch, 64
 * vmemmap pages of 4 kB.
 * The memmap is congested from two batches under the budget on, so there
 * are three batches of room above that point. The driver checks for
 * congestion before each page it populates (a batch prepares up to 16,
 * TVO_BATCH; 4 in NMI) and before each access, and then throttles: once
 * congested, a thread adds at most the first page of a batch and one
 * unprepared access (another if it raced with the check), each with a PTE
 * table, about 6 pages; 24 for 4 threads. The rest is for the reclaimer's
 * latency, as before.
 */
#define BATCH_KB	256
/* pfns a walk covers on either side of the range: one 128 MiB section. */
#define WALK_SPAN	32768
/* A raw walk: the range's first 64 vmemmap pages. */
#define WALK_RAW_VPAGES	64
#define WALK_RAW_PFNS	(WALK_RAW_VPAGES * 64)
/*
 * reclaim_race: the hot working set, in vmemmap pages, is this many times
 * what the budget holds. Big enough that reclaim keeps running (about 2/3
 * of the set is not resident at any time), small enough that the pages a
 * batch parks are touched again soon after.
 */
#define RACE_HOT_X	2

/* The driver's stats line. */
#define STATS_FMT "accesses %ld violations %ld touched %ld throttled %ld deferred %ld nmi %ld unprepared %ld walk_valid %ld walk_online %ld walk_zone %ld"
struct tvo_stats {
	long accesses, violations, touched, throttled, deferred, nmi;
	long unprepared, walk_valid, walk_online, walk_zone;
};

/* 0, or -1 if the driver's stats could not be read. */
static int read_stats(struct tvo_stats *st)
{
	FILE *f = fopen(TVO "stats", "r");
	int n = 0;

	memset(st, 0xff, sizeof(*st));
	if (!f)
		return -1;
	n = fscanf(f, STATS_FMT, &st->accesses, &st->violations, &st->touched, &st->throttled,
		   &st->deferred, &st->nmi, &st->unprepared, &st->walk_valid,
		   &st->walk_online, &st->walk_zone);
	fclose(f);
	return n == 10 ? 0 : -1;
}

/* The range the driver maps: [start, end) in pfns; 0 or -1. */
static int read_range(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen(TVO "size", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lx %lx", start, end);
	fclose(f);
	return n == 2 ? 0 : -1;
}

/*
 * Whether the driver cannot make accesses from @ctx in this kernel: nmi
 * needs a local APIC to send itself NMIs. Needs a range mapped.
 */
static bool ctx_unsupported(const char *ctx)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%s 0 0", ctx);
	return write_str(TVO "access", cmd) == -EOPNOTSUPP;
}

/*
 * One access write: @ctx @nr @seed @pattern @ws (0: the whole range). It
 * waits at @go, if set, for its siblings first, then records the CPU it
 * runs on in @ran_on; start_pinned() sets @go and @cpu, the CPU it pins it
 * to.
 */
struct worker {
	const char *ctx;
	const char *pattern;
	unsigned long nr;
	unsigned long seed;
	unsigned long ws;
	pthread_barrier_t *go;
	int cpu;
	int ran_on;
	int ret;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	char cmd[96];

	if (w->go)
		pthread_barrier_wait(w->go);
	w->ran_on = sched_getcpu();
	snprintf(cmd, sizeof(cmd), "%s %lu %lu %s %lu", w->ctx, w->nr, w->seed,
		 w->pattern ?: "random", w->ws);
	w->ret = write_str(TVO "access", cmd);
	return NULL;
}

/* The CPUs this task may run on, at most @max of them, in @cpus: how many. */
static int usable_cpus(int *cpus, int max)
{
	cpu_set_t set;
	int cpu, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[n++] = cpu;
	return n;
}

/*
 * Start @n workers, worker i pinned to @cpus[i % @nr_cpus] (so that with
 * two CPUs or more, workers 2k and 2k + 1 run on different ones), all
 * released at once by @go when the last is pinned. 0, or an error number;
 * then the workers started wait for good, and the test must end.
 */
static int start_pinned(struct worker *w, pthread_t *tid, int n, const int *cpus,
			int nr_cpus, pthread_barrier_t *go)
{
	int i, ret;

	ret = pthread_barrier_init(go, NULL, n + 1);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		cpu_set_t set;

		w[i].go = go;
		w[i].cpu = cpus[i % nr_cpus];
		ret = pthread_create(&tid[i], NULL, worker_fn, &w[i]);
		if (ret)
			return ret;
		CPU_ZERO(&set);
		CPU_SET(w[i].cpu, &set);
		ret = pthread_setaffinity_np(tid[i], sizeof(set), &set);
		if (ret)
			return ret;
	}
	pthread_barrier_wait(go);
	return 0;
}

/* Wait for the workers start_pinned() started: each must have succeeded on its CPU. */
static void join_pinned(struct __test_metadata *_metadata, struct worker *w, pthread_t *tid,
			int n, pthread_barrier_t *go)
{
	int i;

	for (i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, w[i].ret) TH_LOG("thread %d: %s", i, strerror(-w[i].ret));
		EXPECT_EQ(w[i].cpu, w[i].ran_on) TH_LOG("thread %d not on its CPU", i);
	}
	pthread_barrier_destroy(go);
}

FIXTURE(od) {
	long resident0;
	long faults0;
	long atomic0;
	long failed0;
	long memmap0;
	long reclaimed0;
	long lost0;
};

FIXTURE_VARIANT(od) {
	const char *ctx;
};

FIXTURE_VARIANT_ADD(od, process) { .ctx = "process" };
FIXTURE_VARIANT_ADD(od, irqoff) { .ctx = "irqoff" };
FIXTURE_VARIANT_ADD(od, spinlock) { .ctx = "spinlock" };
FIXTURE_VARIANT_ADD(od, softirq) { .ctx = "softirq" };
FIXTURE_VARIANT_ADD(od, hardirq) { .ctx = "hardirq" };
FIXTURE_VARIANT_ADD(od, nmi) { .ctx = "nmi" };

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
	self->atomic0 = read_vmstat("vmemmap_od_atomic_faults");
	ASSERT_LE(0, self->atomic0) TH_LOG("no vmemmap_od_atomic_faults in /proc/vmstat");
	self->failed0 = read_vmstat("vmemmap_od_fault_failed");
	ASSERT_LE(0, self->failed0) TH_LOG("no vmemmap_od_fault_failed in /proc/vmstat");
	self->memmap0 = read_vmstat("nr_memmap_pages");
	self->reclaimed0 = read_vmstat("vmemmap_od_reclaimed");
	self->lost0 = read_vmstat("vmemmap_od_lost_installs");
	ASSERT_LE(0, self->lost0) TH_LOG("no vmemmap_od_lost_installs in /proc/vmstat");
}

FIXTURE_TEARDOWN(od)
{
	write_str(TVO "size", "0");
}

TEST_F_TIMEOUT(od, threads, 120)
{
	unsigned long nr = strtoul(getenv("OD_NR") ?: "20000", NULL, 0);
	long resident, faults, atomic, touched, lost;
	int cpus[THREADS], nr_cpus, i;
	struct tvo_stats st0, st;
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t go;
	bool reclaimed;

	if (ctx_unsupported(variant->ctx))
		SKIP(return, "%s: not in this kernel (no local APIC to send NMIs)",
		     variant->ctx);
	nr_cpus = usable_cpus(cpus, THREADS);
	if (nr_cpus < 2)
		SKIP(return, "only %d CPU usable: the two threads of a pair need two CPUs to race",
		     nr_cpus);
	ASSERT_EQ(0, read_stats(&st0)) TH_LOG("cannot parse " TVO "stats");
	/*
	 * Threads 2k and 2k+1 share a pfn sequence and run on two CPUs,
	 * started together, so that every vmemmap page is first touched by
	 * two CPUs at once: the concurrent-install race, in populate and in
	 * the chosen context's unprepared accesses. It must be seen to happen.
	 */
	for (i = 0; i < THREADS; i++)
		w[i] = (struct worker){ .ctx = variant->ctx, .nr = nr,
					.seed = (strlen(variant->ctx) << 8) + i / 2 };
	ASSERT_EQ(0, start_pinned(w, tid, THREADS, cpus, nr_cpus, &go))
		TH_LOG("cannot start the threads pinned");
	join_pinned(_metadata, w, tid, THREADS, &go);
	lost = read_vmstat("vmemmap_od_lost_installs") - self->lost0;
	EXPECT_EQ(0, write_str(TVO "verify", "1"))
		TH_LOG("a touched struct page differs from its upfront twin");

	ASSERT_EQ(0, read_stats(&st));
	touched = st.touched;
	resident = read_long(OD_SYSFS "resident_kb") - self->resident0;
	faults = read_vmstat("vmemmap_od_faults") - self->faults0;
	atomic = read_vmstat("vmemmap_od_atomic_faults") - self->atomic0;
	reclaimed = read_vmstat("vmemmap_od_reclaimed") != self->reclaimed0;
	ksft_print_msg("%s: %d threads x %lu accesses, %ld violations\n",
		       variant->ctx, THREADS, nr, st.violations);
	ksft_print_msg("%s: %ld vmemmap pages touched, %ld populated, %ld by faults\n",
		       variant->ctx, touched, faults, atomic);
	ksft_print_msg("%s: %ld unprepared accesses, %ld deferred, %ld NMIs\n",
		       variant->ctx, st.unprepared - st0.unprepared,
		       st.deferred - st0.deferred, st.nmi - st0.nmi);
	ksft_print_msg("%s: resident +%ld kB (%.2f kB per touched page)\n", variant->ctx,
		       resident, touched > 0 ? (double)resident / touched : 0);
	ksft_print_msg("%s: %d threads on %d CPUs, pairs apart: %ld installs lost\n",
		       variant->ctx, THREADS, nr_cpus, lost);
	/* Every context can race: the two threads of a pair are on two CPUs. */
	EXPECT_LT(0, lost) TH_LOG("%s: no install was lost: the threads never raced",
				  variant->ctx);
	EXPECT_EQ(0, st.violations);
	/* Deferred accesses are made later: every one of them is made. */
	EXPECT_EQ((long)(THREADS * nr), st.accesses - st0.accesses);
	/* Every fault was served: the reserve sufficed. */
	EXPECT_EQ(self->failed0, read_vmstat("vmemmap_od_fault_failed"));
	/* The fault handler served the unprepared accesses... */
	EXPECT_LT(0, atomic) TH_LOG("no fault served from the reserve");
	EXPECT_GE(faults, atomic);
	if (!strcmp(variant->ctx, "nmi"))
		EXPECT_LT(0, st.nmi - st0.nmi);
	/*
	 * ...and, with nothing reclaimed, only those; each touched vmemmap
	 * page was populated once, by vmemmap_od_populate() or a fault.
	 */
	if (!reclaimed) {
		EXPECT_EQ(touched, faults);
		EXPECT_GE(st.unprepared - st0.unprepared, atomic);
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

/* The races and refusals of reclaim, counted apart in /proc/vmstat. */
struct races {
	long lost;		/* vmemmap_od_lost_installs */
	long rescued;		/* vmemmap_od_rescued */
	long put_back;		/* vmemmap_od_put_back */
	long live_skipped;	/* vmemmap_od_live_skipped */
};

/* 0, or -1 if a counter is missing. */
static int read_races(struct races *r)
{
	r->lost = read_vmstat("vmemmap_od_lost_installs");
	r->rescued = read_vmstat("vmemmap_od_rescued");
	r->put_back = read_vmstat("vmemmap_od_put_back");
	r->live_skipped = read_vmstat("vmemmap_od_live_skipped");
	return r->lost < 0 || r->rescued < 0 || r->put_back < 0 ||
	       r->live_skipped < 0 ? -1 : 0;
}

/* @r becomes what was counted since @r0 was read. */
static void races_since(struct races *r, const struct races *r0)
{
	r->lost -= r0->lost;
	r->rescued -= r0->rescued;
	r->put_back -= r0->put_back;
	r->live_skipped -= r0->live_skipped;
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
FIXTURE_VARIANT_ADD(reclaim, nmi_random) { "nmi", "random" };
FIXTURE_VARIANT_ADD(reclaim, nmi_seq) { "nmi", "seq" };

/* Save budget_kb in @budget0 and set it to OD_BUDGET_KB (default 2048), in @budget. */
static void set_budget(struct __test_metadata *_metadata, long *budget0, long *budget)
{
	char buf[32];

	*budget0 = read_long(OD_SYSFS "budget_kb");
	ASSERT_LE(0, *budget0) TH_LOG("no " OD_SYSFS "budget_kb");
	*budget = strtol(getenv("OD_BUDGET_KB") ?: "2048", NULL, 0);
	snprintf(buf, sizeof(buf), "%ld", *budget);
	ASSERT_EQ(0, write_str(OD_SYSFS "budget_kb", buf))
		TH_LOG("budget_kb refused %s", buf);
}

/* Remove the range and put budget_kb back to @budget0. */
static void restore_budget(long budget0)
{
	char buf[32];

	write_str(TVO "size", "0");
	snprintf(buf, sizeof(buf), "%ld", budget0);
	write_str(OD_SYSFS "budget_kb", buf);
}

/* Start a new high-water mark of resident_kb: resident_max_kb reads it. */
static void reset_resident_max(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, write_str(OD_SYSFS "resident_max_kb", "0"))
		TH_LOG("cannot reset " OD_SYSFS "resident_max_kb");
	ASSERT_LE(0, read_long(OD_SYSFS "resident_max_kb"));
}

FIXTURE_SETUP(reclaim)
{
	const char *size = getenv("OD_SIZE") ?: "4T";

	if (access(TVO "size", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	set_budget(_metadata, &self->budget0, &self->budget);
	ASSERT_EQ(0, write_str(TVO "size", size)) TH_LOG("cannot map %s", size);
}

FIXTURE_TEARDOWN(reclaim)
{
	restore_budget(self->budget0);
}

TEST_F_TIMEOUT(reclaim, threads, 120)
{
	const char *nr_env = getenv("OD_NR") ?: "20000";
	unsigned long nr = strtoul(strcmp(variant->pattern, "random") ? nr_env :
				   getenv("OD_NR_RANDOM") ?: nr_env, NULL, 0);
	long reclaimed0 = read_vmstat("vmemmap_od_reclaimed");
	long shootdowns0 = read_vmstat("vmemmap_od_shootdowns");
	long faults0 = read_vmstat("vmemmap_od_faults");
	long atomic0 = read_vmstat("vmemmap_od_atomic_faults");
	long failed0 = read_vmstat("vmemmap_od_fault_failed");
	long reclaimed, shootdowns, kmax;
	struct sampler smp = { .max = 0 };
	struct tvo_stats st0, st;
	struct races r0, r;
	struct worker w[THREADS];
	pthread_t tid[THREADS], stid;
	int i;

	ASSERT_LE(0, reclaimed0) TH_LOG("no vmemmap_od_reclaimed in /proc/vmstat");
	ASSERT_LE(0, atomic0) TH_LOG("no vmemmap_od_atomic_faults in /proc/vmstat");
	ASSERT_LE(0, failed0) TH_LOG("no vmemmap_od_fault_failed in /proc/vmstat");
	ASSERT_EQ(0, read_races(&r0))
		TH_LOG("no vmemmap_od_{lost_installs,rescued,put_back,live_skipped}");
	if (ctx_unsupported(variant->ctx))
		SKIP(return, "%s: not in this kernel (no local APIC to send NMIs)",
		     variant->ctx);
	ASSERT_EQ(0, read_stats(&st0)) TH_LOG("cannot parse " TVO "stats");
	reset_resident_max(_metadata);
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
	kmax = read_long(OD_SYSFS "resident_max_kb");
	reclaimed = read_vmstat("vmemmap_od_reclaimed") - reclaimed0;
	shootdowns = read_vmstat("vmemmap_od_shootdowns") - shootdowns0;
	ASSERT_EQ(0, read_races(&r));
	races_since(&r, &r0);

	ASSERT_EQ(0, read_stats(&st));
	ksft_print_msg("%s/%s: %d threads x %lu accesses, budget %ld kB, %ld throttles\n",
		       variant->ctx, variant->pattern, THREADS, nr, self->budget,
		       st.throttled - st0.throttled);
	ksft_print_msg("%s/%s: %ld vmemmap pages touched (%ld kB), resident_kb max %ld\n",
		       variant->ctx, variant->pattern, st.touched, st.touched * 4,
		       smp.max);
	ksft_print_msg("%s/%s: resident_max_kb %ld (the kernel's high-water mark)\n",
		       variant->ctx, variant->pattern, kmax);
	ksft_print_msg("%s/%s: %ld populated, %ld by faults, %ld reclaimed\n",
		       variant->ctx, variant->pattern,
		       read_vmstat("vmemmap_od_faults") - faults0,
		       read_vmstat("vmemmap_od_atomic_faults") - atomic0, reclaimed);
	ksft_print_msg("%s/%s: %ld lost installs, %ld rescued, %ld put back, %ld live skipped\n",
		       variant->ctx, variant->pattern, r.lost, r.rescued, r.put_back,
		       r.live_skipped);
	ksft_print_msg("%s/%s: %ld shootdowns: %.1f pages per shootdown; %ld samples\n",
		       variant->ctx, variant->pattern, shootdowns,
		       shootdowns ? (double)reclaimed / shootdowns : 0, smp.samples);
	ksft_print_msg("%s/%s: %ld unprepared accesses, %ld deferred, %ld NMIs\n",
		       variant->ctx, variant->pattern, st.unprepared - st0.unprepared,
		       st.deferred - st0.deferred, st.nmi - st0.nmi);
	EXPECT_EQ(0, st.violations);
	/* Deferred accesses are made later: every one of them is made. */
	EXPECT_EQ((long)(THREADS * nr), st.accesses - st0.accesses);
	/* Every fault was served: the reserve sufficed, under reclaim too. */
	EXPECT_EQ(failed0, read_vmstat("vmemmap_od_fault_failed"));
	/* Many times the budget was touched. */
	EXPECT_LE(self->budget * 4, st.touched * 4);
	EXPECT_LT(0, smp.samples);
	EXPECT_GE(self->budget + BATCH_KB, smp.max)
		TH_LOG("resident_kb reached %ld kB, budget %ld kB", smp.max, self->budget);
	/* The kernel's own mark sees the peaks between two samples too. */
	EXPECT_LE(0, kmax) TH_LOG("cannot read " OD_SYSFS "resident_max_kb");
	EXPECT_GE(self->budget + BATCH_KB, kmax)
		TH_LOG("resident_max_kb: %ld kB, budget %ld kB", kmax, self->budget);
	EXPECT_LT(0, reclaimed);
	EXPECT_LE(32 * shootdowns, reclaimed) TH_LOG("shootdowns are not batched");

	/* Reclaimed and repopulated struct pages are as they must be. */
	EXPECT_EQ(0, write_str(TVO "verify", "1"))
		TH_LOG("a touched struct page differs from its upfront twin");
	ASSERT_EQ(0, read_stats(&st));
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(failed0, read_vmstat("vmemmap_od_fault_failed"));
}

/*
 * The un-park race, forced: THREADS threads, pinned to different CPUs and
 * started together, make random accesses over a hot working set whose
 * vmemmap is RACE_HOT_X times the budget, on a range just that big. Reclaim
 * keeps running and parks the oldest resident pages, which the threads
 * touch again soon after: some must find their entry parked and put it
 * back (vmemmap_od_rescued).
 */
FIXTURE(reclaim_race) {
	long budget0;
	long budget;
	unsigned long ws;
};

FIXTURE_VARIANT(reclaim_race) {
	const char *ctx;
};

/*
 * Process context, where reclaim may take a page between the driver's
 * check and its touch; IRQs off, where the TLB flush waits for the batch
 * while the batch touches pages parked before the flush.
 */
FIXTURE_VARIANT_ADD(reclaim_race, process) { .ctx = "process" };
FIXTURE_VARIANT_ADD(reclaim_race, irqoff) { .ctx = "irqoff" };

FIXTURE_SETUP(reclaim_race)
{
	char size[32];

	if (access(TVO "size", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	set_budget(_metadata, &self->budget0, &self->budget);
	/* 4 kB per vmemmap page; each covers 64 pfns of 4 kB: 256 kB of range. */
	self->ws = RACE_HOT_X * self->budget / 4;
	snprintf(size, sizeof(size), "%luK", self->ws * 256);
	ASSERT_EQ(0, write_str(TVO "size", size)) TH_LOG("cannot map %s", size);
}

FIXTURE_TEARDOWN(reclaim_race)
{
	restore_budget(self->budget0);
}

TEST_F_TIMEOUT(reclaim_race, hot_set, 120)
{
	unsigned long nr = strtoul(getenv("OD_NR") ?: "20000", NULL, 0) / 2;
	long reclaimed0 = read_vmstat("vmemmap_od_reclaimed");
	long failed0 = read_vmstat("vmemmap_od_fault_failed");
	long reclaimed, kmax;
	int cpus[THREADS], nr_cpus, i;
	struct tvo_stats st0, st;
	struct races r0, r;
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t go;

	ASSERT_LE(0, reclaimed0) TH_LOG("no vmemmap_od_reclaimed in /proc/vmstat");
	ASSERT_LE(0, failed0) TH_LOG("no vmemmap_od_fault_failed in /proc/vmstat");
	ASSERT_EQ(0, read_races(&r0))
		TH_LOG("no vmemmap_od_{lost_installs,rescued,put_back,live_skipped}");
	nr_cpus = usable_cpus(cpus, THREADS);
	if (nr_cpus < 2)
		SKIP(return, "only %d CPU usable: the threads need two CPUs to race with reclaim",
		     nr_cpus);
	ASSERT_EQ(0, read_stats(&st0)) TH_LOG("cannot parse " TVO "stats");
	reset_resident_max(_metadata);
	for (i = 0; i < THREADS; i++)
		w[i] = (struct worker){ .ctx = variant->ctx, .nr = nr, .ws = self->ws,
					.seed = 100 + i };
	ASSERT_EQ(0, start_pinned(w, tid, THREADS, cpus, nr_cpus, &go))
		TH_LOG("cannot start the threads pinned");
	join_pinned(_metadata, w, tid, THREADS, &go);
	kmax = read_long(OD_SYSFS "resident_max_kb");
	reclaimed = read_vmstat("vmemmap_od_reclaimed") - reclaimed0;
	ASSERT_EQ(0, read_races(&r));
	races_since(&r, &r0);

	ASSERT_EQ(0, read_stats(&st));
	ksft_print_msg("%s: %d threads on %d CPUs x %lu accesses, budget %ld kB\n",
		       variant->ctx, THREADS, nr_cpus, nr, self->budget);
	ksft_print_msg("%s: hot set %lu vmemmap pages (%lu kB), %ld touched, %ld reclaimed\n",
		       variant->ctx, self->ws, self->ws * 4, st.touched, reclaimed);
	ksft_print_msg("%s: %ld throttles, %ld deferred, resident_max_kb %ld\n", variant->ctx,
		       st.throttled - st0.throttled, st.deferred - st0.deferred, kmax);
	ksft_print_msg("%s: %ld rescued, %ld put back, %ld live skipped, %ld lost installs\n",
		       variant->ctx, r.rescued, r.put_back, r.live_skipped, r.lost);
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ((long)(THREADS * nr), st.accesses - st0.accesses);
	EXPECT_EQ(failed0, read_vmstat("vmemmap_od_fault_failed"));
	/* The accesses stayed in the hot set, and it does not fit the budget. */
	EXPECT_GE((long)self->ws, st.touched);
	EXPECT_LT(self->budget / 4, st.touched);
	EXPECT_LT(0, reclaimed) TH_LOG("reclaim never ran: the hot set fits the budget");
	EXPECT_LT(0, r.rescued)
		TH_LOG("no fault found a parked entry: the un-park race did not happen");
	/*
	 * Printed, not asserted: reclaim puts a parked page back itself
	 * (vmemmap_od_put_back) only if it is not as built after the flush,
	 * which takes a touch caught mid-way by the flush's IPI (an access
	 * leaves its struct page as it found it; with IRQs off the IPI waits
	 * for the whole batch), so it may well be 0; and it skips a page as
	 * live (vmemmap_od_live_skipped) only if it checks it mid-touch.
	 */
	EXPECT_LE(0, kmax) TH_LOG("cannot read " OD_SYSFS "resident_max_kb");
	EXPECT_GE(self->budget + BATCH_KB, kmax)
		TH_LOG("resident_max_kb: %ld kB, budget %ld kB", kmax, self->budget);

	EXPECT_EQ(0, write_str(TVO "verify", "1"))
		TH_LOG("a touched struct page differs from its upfront twin");
	ASSERT_EQ(0, read_stats(&st));
	EXPECT_EQ(0, st.violations);
	EXPECT_EQ(failed0, read_vmstat("vmemmap_od_fault_failed"));
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

	if (access(TVO "size", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	if (access(FAIL_OD "probability", W_OK))
		SKIP(return, "no " FAIL_OD " (CONFIG_FAULT_INJECTION_DEBUG_FS)");
	ASSERT_EQ(0, write_str(TVO "size", "1G"));
	ASSERT_EQ(0, read_range(&start, &end));
	/* The driver's nofault access is unprepared: the fault handler's. */
	snprintf(pfn, sizeof(pfn), "%#lx", start + (end - start) / 2);

	ASSERT_EQ(0, write_str(FAIL_OD "verbose", "0"));
	ASSERT_EQ(0, write_str(FAIL_OD "interval", "1"));
	ASSERT_EQ(0, write_str(FAIL_OD "times", "1"));
	/* Only this task's faults: another CPU's must not take the one failure. */
	ASSERT_EQ(0, write_str(FAIL_OD "task-filter", "Y"));
	ASSERT_EQ(0, write_str("/proc/self/make-it-fail", "1"));
	ASSERT_EQ(0, write_str(FAIL_OD "probability", "100"));
	EXPECT_EQ(-EFAULT, write_str(TVO "nofault", pfn));
	write_str(FAIL_OD "probability", "0");
	write_str("/proc/self/make-it-fail", "0");
	write_str(FAIL_OD "task-filter", "N");
	EXPECT_EQ(failed0 + 1, read_vmstat("vmemmap_od_fault_failed"));
	/* With pages to be had again, the same access is served. */
	EXPECT_EQ(0, write_str(TVO "nofault", pfn));
	EXPECT_EQ(0, write_str(TVO "size", "0"));
}

/*
 * A pfn walker that asks pfn_to_online_page() (hibernation's
 * mark_free_pages(), say) sees the on-demand pfns valid but not online, so
 * it reads none of their struct pages and populates nothing. One that uses
 * pfn_to_page() on every valid pfn faults the memmap in as it goes.
 */
TEST(walk_populates_nothing)
{
	const char *size = getenv("OD_WALK_SIZE") ?: "1G";
	long faults0, atomic0, failed0, resident0, faults, atomic, resident;
	unsigned long start, end;
	struct tvo_stats st;
	char cmd[32];

	if (access(TVO "walk", W_OK))
		SKIP(return, "no test_vmemmap_od driver with walk (CONFIG_TEST_VMEMMAP_OD)");
	ASSERT_EQ(0, write_str(TVO "size", size)) TH_LOG("cannot map %s", size);
	ASSERT_EQ(0, read_range(&start, &end));
	faults0 = read_vmstat("vmemmap_od_faults");
	atomic0 = read_vmstat("vmemmap_od_atomic_faults");
	failed0 = read_vmstat("vmemmap_od_fault_failed");
	resident0 = read_long(OD_SYSFS "resident_kb");
	ASSERT_LE(0, faults0) TH_LOG("no vmemmap_od_faults in /proc/vmstat");
	ASSERT_LE(0, atomic0) TH_LOG("no vmemmap_od_atomic_faults in /proc/vmstat");
	ASSERT_LE(0, resident0) TH_LOG("no " OD_SYSFS "resident_kb");

	snprintf(cmd, sizeof(cmd), "%d", WALK_SPAN);
	ASSERT_EQ(0, write_str(TVO "walk", cmd));
	ASSERT_EQ(0, read_stats(&st));
	faults = read_vmstat("vmemmap_od_faults") - faults0;
	resident = read_long(OD_SYSFS "resident_kb") - resident0;
	ksft_print_msg("walk of [%#lx - %d, %#lx + %d): %ld valid, %ld online, %ld read\n",
		       start, WALK_SPAN, end, WALK_SPAN, st.walk_valid,
		       st.walk_online, st.walk_zone);
	ksft_print_msg("walk: %ld vmemmap pages populated, resident %+ld kB\n",
		       faults, resident);
	/* It saw the on-demand pfns as valid, none as online... */
	EXPECT_LE((long)(end - start), st.walk_valid);
	EXPECT_EQ(0, st.walk_online);
	EXPECT_EQ(0, st.walk_zone);
	/* ...and populated nothing. */
	EXPECT_EQ(0, faults) TH_LOG("the walk populated the memmap");
	EXPECT_EQ(0, resident);

	/* Without the check, pfn_to_page() on the same pfns faults them in. */
	snprintf(cmd, sizeof(cmd), "%d raw", WALK_RAW_PFNS);
	ASSERT_EQ(0, write_str(TVO "walk", cmd));
	ASSERT_EQ(0, read_stats(&st));
	faults = read_vmstat("vmemmap_od_faults") - faults0;
	atomic = read_vmstat("vmemmap_od_atomic_faults") - atomic0;
	resident = read_long(OD_SYSFS "resident_kb") - resident0;
	ksft_print_msg("raw walk of the first %d pfns: %ld struct pages read\n",
		       WALK_RAW_PFNS, st.walk_zone);
	ksft_print_msg("raw walk: %ld vmemmap pages populated, %ld by faults, resident %+ld kB\n",
		       faults, atomic, resident);
	EXPECT_EQ(WALK_RAW_PFNS, st.walk_valid);
	EXPECT_EQ(WALK_RAW_PFNS, st.walk_zone);
	EXPECT_EQ(WALK_RAW_VPAGES, faults);
	EXPECT_EQ(WALK_RAW_VPAGES, atomic);
	/* 4 kB per vmemmap page, and the PTE table that maps them. */
	EXPECT_LE(WALK_RAW_VPAGES * 4, resident);
	EXPECT_GE(WALK_RAW_VPAGES * 4 + 4, resident);
	EXPECT_EQ(failed0, read_vmstat("vmemmap_od_fault_failed"));
	EXPECT_EQ(0, write_str(TVO "size", "0"));
}

TEST_HARNESS_MAIN
