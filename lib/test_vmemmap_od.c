// SPDX-License-Identifier: GPL-2.0
/*
 * Test driver for on-demand vmemmap (CONFIG_VMEMMAP_ON_DEMAND).
 *
 * Maps a range of free physical address space of any size as
 * MEMORY_DEVICE_PRIVATE with PGMAP_ON_DEMAND (no backing memory is needed),
 * and touches its struct pages on request from a chosen context, checking
 * what it finds. Driven through debugfs by
 * tools/testing/selftests/vmemmap_od/od_stress.c:
 *
 *   size      write a size (memparse syntax: 4T) to replace the range, 0 to
 *             remove it; "SIZE upfront" maps it with its memmap allocated
 *             up front instead (to compare with); read "START_PFN END_PFN"
 *   access    write "CTX NR SEED [PATTERN [WS]]": NR struct page accesses
 *             from CTX = process | irqoff | spinlock (held: the write's
 *             own, so that concurrent writes are not serialised) | softirq
 *             | hardirq | nmi | fault (process context, every access
 *             unprepared: the fault handler populates each new vmemmap
 *             page, for measuring it) | direct (process context, as a
 *             consumer makes its accesses: pfn_to_page() and the
 *             operations, nothing checked or populated first; the hot
 *             path, for measuring it), at random pfns (PATTERN random, the
 *             default), at every 8th pfn from a random start (seq), or at
 *             pfns whose vmemmap pages follow Zipf's law (zipf), all within
 *             the first WS vmemmap pages of the range (0 or none: all of
 *             it; random over a WS a few times the budget is a hot working
 *             set that reclaim keeps parking under the accesses); the write
 *             fails with -EIO if an invariant was violated, -ENOMEM if the
 *             memmap could not be populated, -EOPNOTSUPP for nmi where the
 *             driver cannot send itself NMIs (no local APIC), -ETIMEDOUT if
 *             such an NMI did not come within a second
 *   verify    write anything: compare every struct page of every vmemmap
 *             page the accesses touched byte for byte with its upfront
 *             twin, populating it first (reclaim may have taken it) and
 *             comparing with IRQs off, so that the check never faults;
 *             -EIO on a difference
 *   nofault   write a pfn: read its struct page with get_kernel_nofault(),
 *             unprepared; the write returns its error (-EFAULT when the
 *             fault could not be served)
 *   walk      write "SPAN": walk the pfns [START_PFN - SPAN, END_PFN + SPAN)
 *             as hibernation's mark_free_pages() does: pfn_valid(), then
 *             pfn_to_online_page() and page_zone(); "SPAN raw": the range's
 *             first SPAN pfns (at most 4096: 64 vmemmap pages) with
 *             pfn_to_page() instead, as mark_free_pages() did before it
 *             asked pfn_to_online_page(), which faults the memmap in
 *   stats     read "accesses N violations N touched N throttled N deferred N
 *             nmi N unprepared N walk_valid N walk_online N walk_zone N"
 *   page      write a pfn of any ZONE_DEVICE page (a DAX page, say), then
 *             read "pfn P resident R refcount N pinned B mapping M index I
 *             flags F dirty D hash H": R says whether its struct page was
 *             mapped before this read populated it (on-demand windows; -22
 *             elsewhere), M is the hashed page->mapping, D is this struct
 *             page's own PG_dirty bit (F is page->flags), H is a hash of
 *             all of the struct page's bytes (no pointers shown)
 *
 * The fault handler serves only a small per-CPU reserve, so the driver is a
 * known consumer, as kernel code that touches many struct pages must be: an
 * access batch draws its pfns (TVO_BATCH, TVO_NMI_BATCH in NMI) in process
 * context, populates their vmemmap with vmemmap_od_populate(), tops up this
 * CPU's reserve with vmemmap_od_preload() and then makes the accesses in the
 * chosen context, without migrating in between (the reserve it filled is
 * this CPU's). There, a pfn whose struct page reclaim took meanwhile
 * (vmemmap_od_pfn_mapped() says no) is not touched: it is "deferred", goes
 * back into the next batch, and is populated again first. To keep
 * exercising the fault path, each batch also makes up to TVO_UNPREPARED
 * "unprepared" accesses at pfns it did not populate, which the fault handler
 * serves from the reserve. Softirq and hardirq batches run in an hrtimer,
 * one per expiry; NMI batches in an NMI the task sends itself, while it
 * waits with preemption disabled. When the on-demand memmap is congested
 * (vmemmap_od_congested()), a batch is prepared or made only in part and
 * the task throttles (vmemmap_od_throttle()) before going on; every one of
 * the NR accesses is made in the end.
 *
 * An access checks page_to_pfn(pfn_to_page(pfn)) == pfn, the zone, the
 * node, the pgmap, the refcount (idle: 0) and _mapcount (-1), takes and
 * drops a reference and sets and clears PG_owner_priv_1. Each range comes
 * with a twin: one more section of free address space whose memmap is
 * initialised upfront, by memmap_init_zone_device(), and never touched.
 * verify compares each touched struct page byte for byte with the twin's
 * struct page at the same offset modulo a section, the pgmap pointer
 * aside: every reference came back, every flag was cleared, and a vmemmap
 * page that reclaim took and a fault rebuilt is what upfront init writes.
 *
 * Races. Writes with the same CTX, SEED, PATTERN and WS draw the same pfns
 * in the same order, populated and unprepared ones alike, and nothing in
 * the driver serialises two writes: each run has its own state, hrtimer
 * and lock, and the NMI run pointer is per CPU. So two such writes from
 * tasks pinned to different CPUs race for their first touches, populating
 * and, in the chosen context, faulting; od_stress asserts that some of
 * their installs were lost (vmemmap_od_lost_installs). Under a budget,
 * accesses to a hot working set race with reclaim; od_stress asserts that
 * some found their entry parked and put it back (vmemmap_od_rescued).
 *
 * walk counts, in the stats, the pfns that were pfn_valid() (walk_valid),
 * those that gave an online page (walk_online; raw walks do not ask), and
 * the struct pages it read that are in the range's zone (walk_zone): a walk
 * that asks pfn_to_online_page() reads none of the range's struct pages,
 * so it populates nothing; a raw walk reads them all.
 */
#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/ioport.h>
#include <linux/jhash.h>
#include <linux/memory_hotplug.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nmi.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/rwsem.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/vmemmap_od.h>
#ifdef CONFIG_X86_LOCAL_APIC
#include <asm/apic.h>
#include <asm/nmi.h>
#endif

#define STRUCT_PAGES_PER_VPAGE	(PAGE_SIZE / sizeof(struct page))
/*
 * Accesses prepared per batch. Small, so that what all threads have
 * populated and not yet touched stays far under the smallest budget
 * (budget_kb's minimum, 1 MiB: 256 vmemmap pages).
 */
#define TVO_BATCH		16
/* An NMI batch is shorter: NMIs should be. */
#define TVO_NMI_BATCH		4
/*
 * Accesses per batch at pfns it did not populate: the fault handler serves
 * them from the reserve, a vmemmap page and maybe a PTE table each. With
 * task, softirq, hardirq and NMI nested on one CPU, that is 4 * 2 * 2 = 16
 * pages, what the reserve holds.
 */
#define TVO_UNPREPARED		2
/*
 * Direct accesses per reserve top-up: an access can take two reserve pages
 * (a vmemmap page and its PTE table), and the reserve holds 16.
 */
#define TVO_DIRECT_BATCH	8
#define TVO_SLOTS		(TVO_BATCH + TVO_UNPREPARED)
#define TVO_SEQ_STRIDE		8
/* pfns per watchdog touch in a walk, as WD_PAGE_COUNT in mark_free_pages(). */
#define TVO_WALK_WD		(128 * 1024)
/* A raw walk populates at most 64 vmemmap pages. */
#define TVO_WALK_RAW_MAX	(64 * STRUCT_PAGES_PER_VPAGE)
/* How long a task waits for the NMI it sent itself. */
#define TVO_NMI_TIMEOUT_NS	NSEC_PER_SEC

struct tvo_range {
	struct dev_pagemap pgmap;
	struct resource *res;
	unsigned long start_pfn;
	unsigned long nr_pages;
	int nid;
	unsigned long *touched;		/* one bit per vmemmap page */
	struct dev_pagemap twin;	/* one section, memmap upfront */
	struct resource *twin_res;
	unsigned long twin_pfn;
};

static DECLARE_RWSEM(tvo_sem);		/* write: replace the range */
static struct tvo_range *tvo;
static atomic_long_t tvo_accesses, tvo_violations, tvo_throttled;
static atomic_long_t tvo_deferred, tvo_nmis, tvo_unprepared;
/* What the last walk counted. */
static unsigned long tvo_walk_valid, tvo_walk_online, tvo_walk_zone;
static struct dentry *tvo_dir;

static void tvo_page_free(struct page *page)
{
}

static vm_fault_t tvo_migrate_to_ram(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct dev_pagemap_ops tvo_ops = {
	.page_free = tvo_page_free,
	.migrate_to_ram = tvo_migrate_to_ram,
};

/*
 * Map @size bytes of free address space as device-private memory with
 * @pgmap, its memmap on demand or upfront; the region is returned.
 */
static struct resource *tvo_map(struct tvo_range *r, struct dev_pagemap *pgmap,
				u64 size, bool upfront)
{
	struct resource *res;
	void *ret;

	res = request_free_mem_region(&iomem_resource, size, "test_vmemmap_od");
	if (IS_ERR(res))
		return res;
	pgmap->type = MEMORY_DEVICE_PRIVATE;
	pgmap->flags = upfront ? 0 : PGMAP_ON_DEMAND;
	pgmap->range.start = res->start;
	pgmap->range.end = res->end;
	pgmap->nr_range = 1;
	pgmap->ops = &tvo_ops;
	pgmap->owner = r;
	ret = memremap_pages(pgmap, r->nid);
	if (IS_ERR(ret)) {
		release_mem_region(res->start, resource_size(res));
		return ERR_CAST(ret);
	}
	return res;
}

static void tvo_unmap(struct dev_pagemap *pgmap, struct resource *res)
{
	memunmap_pages(pgmap);
	release_mem_region(res->start, resource_size(res));
}

static void tvo_destroy(void)
{
	if (!tvo)
		return;
	tvo_unmap(&tvo->twin, tvo->twin_res);
	tvo_unmap(&tvo->pgmap, tvo->res);
	vfree(tvo->touched);
	kfree(tvo);
	tvo = NULL;
}

static int tvo_create(u64 size, bool upfront)
{
	struct tvo_range *r;
	int ret = -ENOMEM;

	size = round_up(size, PAGES_PER_SECTION << PAGE_SHIFT);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->nr_pages = size >> PAGE_SHIFT;
	r->nid = numa_node_id();
	r->touched = vzalloc(BITS_TO_LONGS(r->nr_pages / STRUCT_PAGES_PER_VPAGE) *
			     sizeof(long));
	if (!r->touched)
		goto err_free;
	r->res = tvo_map(r, &r->pgmap, size, upfront);
	if (IS_ERR(r->res)) {
		ret = PTR_ERR(r->res);
		goto err_free;
	}
	r->start_pfn = PHYS_PFN(r->res->start);
	r->twin_res = tvo_map(r, &r->twin, PAGES_PER_SECTION << PAGE_SHIFT, true);
	if (IS_ERR(r->twin_res)) {
		ret = PTR_ERR(r->twin_res);
		tvo_unmap(&r->pgmap, r->res);
		goto err_free;
	}
	r->twin_pfn = PHYS_PFN(r->twin_res->start);
	tvo = r;
	return 0;

err_free:
	vfree(r->touched);
	kfree(r);
	return ret;
}

/*
 * One access: check what init must have made, take and drop a reference.
 * Any context, NMI included: no lock, and printk defers itself in NMI.
 */
static void tvo_touch(struct tvo_range *r, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	bool bad = page_to_pfn(page) != pfn ||
		   page_zonenum(page) != ZONE_DEVICE ||
		   page_to_nid(page) != r->nid ||
		   page->pgmap != &r->pgmap ||
		   page_ref_count(page) < 0 ||
		   atomic_read(&page->_mapcount) != -1;

	page_ref_inc(page);
	set_bit(PG_owner_priv_1, &page->flags);
	page_ref_dec(page);
	clear_bit(PG_owner_priv_1, &page->flags);
	set_bit((pfn - r->start_pfn) / STRUCT_PAGES_PER_VPAGE, r->touched);
	atomic_long_inc(&tvo_accesses);
	if (bad) {
		atomic_long_inc(&tvo_violations);
		pr_err_ratelimited("test_vmemmap_od: pfn %#lx: bad struct page\n", pfn);
	}
}

enum tvo_pattern { TVO_RANDOM, TVO_SEQ, TVO_ZIPF };

enum tvo_ctx { TVO_PROCESS, TVO_IRQOFF, TVO_SPINLOCK, TVO_SOFTIRQ,
	       TVO_HARDIRQ, TVO_NMI, TVO_FAULT, TVO_DIRECT };

/**
 * struct tvo_run - the state of one access write
 * @r: the range
 * @left: accesses whose pfn is not drawn yet
 * @pattern: how pfns are drawn
 * @ws: working set, in vmemmap pages
 * @rnd: the pattern's state; only the task draws
 * @batch: prepared accesses per batch: TVO_BATCH, or TVO_NMI_BATCH
 * @nr: drawn pfns in @pfn whose access is not made yet
 * @nr_prep: @pfn[0, @nr_prep) are populated for this batch
 * @nr_go: the batch makes @pfn[0, @nr_go): [@nr_prep, @nr_go) unprepared;
 *	the rest waits for the next batch
 * @stopped: the batch stopped early, the memmap being congested
 * @pfn: the batch's pfns, drawn and populated in process context; deferred
 *	ones and those not reached come first after a batch
 * @lock: held around the batch in the spinlock context; this run's own,
 *	so that concurrent runs make their accesses at the same time
 * @mode: the hrtimer mode of the softirq and hardirq contexts
 * @timer: runs a batch in softirq or hardirq context
 * @done: the timer's batch is over
 */
struct tvo_run {
	struct tvo_range *r;
	unsigned long left;
	enum tvo_pattern pattern;
	unsigned long ws;
	u64 rnd;
	unsigned int batch;
	unsigned int nr;
	unsigned int nr_prep;
	unsigned int nr_go;
	bool stopped;
	unsigned long pfn[TVO_SLOTS];
	spinlock_t lock;		/* the spinlock context: this run's own */
	enum hrtimer_mode mode;
	struct hrtimer timer;
	struct completion done;
};

static u64 tvo_rand(struct tvo_run *run)
{
	/* xorshift64 */
	run->rnd ^= run->rnd << 13;
	run->rnd ^= run->rnd >> 7;
	run->rnd ^= run->rnd << 17;
	return run->rnd;
}

/*
 * A rank in [0, n) drawn with P(rank < r) ~ log(r + 1) / log(n), Zipf's
 * law with s = 1, from a uniform 32-bit @u: n^(u / 2^32) - 1, with log2
 * and 2^x taken piecewise linearly in 16.16 fixed point.
 */
static unsigned long tvo_zipf(u32 u, unsigned long n)
{
	unsigned int l = ilog2(n);
	u64 log2n = (u64)l << 16 | (((u64)n << 16 >> l) & 0xffff);
	u64 y = (u64)u * log2n >> 32;
	u64 pow = ((1ULL << 16) + (y & 0xffff)) << (y >> 16) >> 16;

	return min_t(u64, pow ? pow - 1 : 0, n - 1);
}

static unsigned long tvo_next_pfn(struct tvo_run *run)
{
	const unsigned long span = run->ws * STRUCT_PAGES_PER_VPAGE;
	unsigned long vpage;
	u64 v;

	switch (run->pattern) {
	case TVO_SEQ:
		run->rnd += TVO_SEQ_STRIDE;
		return run->r->start_pfn + run->rnd % span;
	case TVO_ZIPF:
		v = tvo_rand(run);
		/* Hot vmemmap pages scattered over the working set. */
		vpage = tvo_zipf(v >> 32, run->ws) * 0x9e3779b1UL % run->ws;
		return run->r->start_pfn + vpage * STRUCT_PAGES_PER_VPAGE +
		       v % STRUCT_PAGES_PER_VPAGE;
	default:
		return run->r->start_pfn + tvo_rand(run) % span;
	}
}

/* Draw the next pfn into the batch; the caller checked @run->left. */
static void tvo_draw(struct tvo_run *run)
{
	run->pfn[run->nr++] = tvo_next_pfn(run);
	run->left--;
}

static bool tvo_mapped(unsigned long pfn);

/**
 * tvo_prepare - draw and populate a batch, where sleeping is allowed
 * @run: the run
 * @congested: set if the memmap was congested and the batch is partial
 *
 * Tops the batch up with fresh pfns after those carried over from the last
 * one, populates their struct pages, then draws up to TVO_UNPREPARED more
 * that it leaves to the fault handler. Stops populating when the memmap is
 * congested (not before the first pfn, so that every batch makes progress);
 * the pfns it did not get to wait for the next batch, and the caller
 * throttles.
 *
 * Return: 0, or -ENOMEM from vmemmap_od_populate().
 */
static int tvo_prepare(struct tvo_run *run, bool *congested)
{
	unsigned int i, unprepared;
	int ret;

	*congested = false;
	while (run->nr < run->batch && run->left)
		tvo_draw(run);
	for (i = 0; i < run->nr; i++) {
		if (i && vmemmap_od_congested()) {
			*congested = true;
			break;
		}
		/* Resident already: nothing to do, as for a consumer. */
		if (tvo_mapped(run->pfn[i]))
			continue;
		/* -EAGAIN: reclaim keeps taking it; the batch defers it. */
		ret = vmemmap_od_populate(run->pfn[i], 1, GFP_KERNEL);
		if (ret == -ENOMEM)
			return ret;
	}
	run->nr_prep = i;
	run->nr_go = i;
	if (*congested)
		return 0;
	for (unprepared = 0; unprepared < TVO_UNPREPARED && run->left &&
	     run->nr < run->batch + TVO_UNPREPARED; unprepared++)
		tvo_draw(run);
	run->nr_go = run->nr;
	return 0;
}

/*
 * vmemmap_od_pfn_mapped() wants IRQs off, RCU or a spinlock; with IRQs off
 * (NMI included) its answer also holds until they are enabled again.
 */
static bool tvo_mapped(unsigned long pfn)
{
	bool mapped;

	if (irqs_disabled())
		return vmemmap_od_pfn_mapped(pfn);
	rcu_read_lock();
	mapped = vmemmap_od_pfn_mapped(pfn);
	rcu_read_unlock();
	return mapped;
}

/**
 * tvo_batch - make a prepared batch's accesses, in the chosen context
 * @run: the run, after tvo_prepare()
 *
 * Any context: no lock, no sleep, nothing but atomics and the struct pages.
 * A prepared pfn whose struct page is not mapped any more (reclaim took it
 * after tvo_prepare()) is not touched: that would fault, and take from the
 * reserve pages the unprepared accesses are sized to have. It is deferred
 * to the next batch, which populates it again. (With IRQs on, reclaim may
 * still take it between the check and the touch; the fault handler then
 * serves it.) Stops early, as a well-behaved producer does, when the
 * memmap is congested (@run->stopped); the task then throttles where it can
 * sleep. Leaves in @run->pfn, first, the deferred pfns and those not
 * reached.
 */
static void tvo_batch(struct tvo_run *run)
{
	unsigned int i, kept = 0;

	run->stopped = false;
	for (i = 0; i < run->nr_go; i++) {
		unsigned long pfn = run->pfn[i];

		if (i && vmemmap_od_congested()) {
			run->stopped = true;
			break;
		}
		if (i >= run->nr_prep) {
			atomic_long_inc(&tvo_unprepared);
		} else if (!tvo_mapped(pfn)) {
			atomic_long_inc(&tvo_deferred);
			run->pfn[kept++] = pfn;
			continue;
		}
		tvo_touch(run->r, pfn);
	}
	memmove(&run->pfn[kept], &run->pfn[i], (run->nr - i) * sizeof(run->pfn[0]));
	run->nr = kept + run->nr - i;
	run->nr_prep = 0;
	run->nr_go = 0;
}

static void tvo_throttle(struct tvo_run *run)
{
	atomic_long_inc(&tvo_throttled);
	vmemmap_od_throttle();
}

/* One batch per expiry; the task prepares the next one and re-arms. */
static enum hrtimer_restart tvo_timer_fn(struct hrtimer *timer)
{
	struct tvo_run *run = container_of(timer, struct tvo_run, timer);

	tvo_batch(run);
	complete(&run->done);
	return HRTIMER_NORESTART;
}

#ifdef CONFIG_X86_LOCAL_APIC
/* The run whose batch this CPU's next NMI makes; set with preemption off. */
static DEFINE_PER_CPU(struct tvo_run *, tvo_nmi_run);
static bool tvo_nmi_registered;

/*
 * Claims only the NMIs the driver sent: with no run pending here, another
 * handler's NMI (perf, say) is left to it.
 */
static int tvo_nmi_handler(unsigned int cmd, struct pt_regs *regs)
{
	struct tvo_run *run = this_cpu_read(tvo_nmi_run);

	if (!run)
		return NMI_DONE;
	tvo_batch(run);
	atomic_long_inc(&tvo_nmis);
	/* Last: the waiting task owns @run again once it reads NULL. */
	this_cpu_write(tvo_nmi_run, NULL);
	return NMI_HANDLED;
}

/*
 * Make the batch in an NMI sent to this CPU, as nmi_raise_cpu_backtrace()
 * sends them, and wait for it with preemption disabled, so that nothing
 * else runs here meanwhile and the per-CPU run pointer is ours.
 */
static int tvo_nmi_batch(struct tvo_run *run)
{
	u64 deadline;
	int ret = 0;

	preempt_disable();
	this_cpu_write(tvo_nmi_run, run);
	__apic_send_IPI_mask(cpumask_of(smp_processor_id()), NMI_VECTOR);
	deadline = local_clock() + TVO_NMI_TIMEOUT_NS;
	while (this_cpu_read(tvo_nmi_run)) {
		if (local_clock() > deadline) {
			/* Withdraw it, unless the NMI came just now. */
			if (this_cpu_cmpxchg(tvo_nmi_run, run, NULL) == run)
				ret = -ETIMEDOUT;
			break;
		}
		cpu_relax();
	}
	preempt_enable();
	return ret;
}

static bool tvo_nmi_supported(void)
{
	return tvo_nmi_registered;
}

static void tvo_nmi_init(void)
{
	tvo_nmi_registered = !register_nmi_handler(NMI_LOCAL, tvo_nmi_handler,
						   0, "test_vmemmap_od");
}

static void tvo_nmi_exit(void)
{
	if (tvo_nmi_registered)
		unregister_nmi_handler(NMI_LOCAL, "test_vmemmap_od");
}
#else
static int tvo_nmi_batch(struct tvo_run *run)
{
	return -EOPNOTSUPP;
}

static bool tvo_nmi_supported(void)
{
	return false;
}

static void tvo_nmi_init(void)
{
}

static void tvo_nmi_exit(void)
{
}
#endif /* CONFIG_X86_LOCAL_APIC */

/* Make the prepared batch from @ctx. */
static int tvo_section(struct tvo_run *run, enum tvo_ctx ctx)
{
	unsigned long flags;

	switch (ctx) {
	case TVO_PROCESS:
	case TVO_FAULT:
		tvo_batch(run);
		return 0;
	case TVO_DIRECT:	/* never batched: see tvo_run_direct() */
		break;
	case TVO_IRQOFF:
		local_irq_save(flags);
		tvo_batch(run);
		local_irq_restore(flags);
		return 0;
	case TVO_SPINLOCK:
		/*
		 * The fault comes with a spinlock held (as under a zone->lock
		 * or an rq lock); each run holds its own, so that another
		 * run's first touches race with ours meanwhile.
		 */
		spin_lock(&run->lock);
		tvo_batch(run);
		spin_unlock(&run->lock);
		return 0;
	case TVO_SOFTIRQ:
	case TVO_HARDIRQ:
		/* Pinned: it must run on the CPU whose reserve was filled. */
		init_completion(&run->done);
		hrtimer_start(&run->timer, ns_to_ktime(1000), run->mode);
		wait_for_completion(&run->done);
		hrtimer_cancel(&run->timer);
		return 0;
	case TVO_NMI:
		return tvo_nmi_batch(run);
	}
	return -EINVAL;
}

/*
 * The direct context: the accesses as a consumer makes them, with nothing
 * checked or populated first, so that on a resident memmap they cost what
 * they cost upfront (make bench compares the two). A vmemmap page that is
 * not resident is the fault handler's, from this CPU's reserve, topped up
 * once every TVO_DIRECT_BATCH accesses, which it always covers.
 */
static int tvo_run_direct(struct tvo_run *run)
{
	unsigned int i;
	int ret = 0;

	while (run->left && !ret) {
		if (fatal_signal_pending(current))
			return -EINTR;
		migrate_disable();
		ret = vmemmap_od_preload(GFP_KERNEL);
		for (i = 0; !ret && i < TVO_DIRECT_BATCH && run->left;
		     i++, run->left--)
			tvo_touch(run->r, tvo_next_pfn(run));
		migrate_enable();
		cond_resched();
	}
	return ret;
}

static int tvo_run_ctx(struct tvo_range *r, enum tvo_ctx ctx, unsigned long nr,
		       u64 seed, enum tvo_pattern pattern, unsigned long ws)
{
	struct tvo_run run = { .r = r, .left = nr, .pattern = pattern,
			       .rnd = (seed + 1) * 0x9e3779b97f4a7c15ULL,
			       .batch = ctx == TVO_NMI ? TVO_NMI_BATCH :
					ctx == TVO_FAULT ? 0 : TVO_BATCH };
	int ret = 0;

	if (ctx == TVO_NMI && !tvo_nmi_supported())
		return -EOPNOTSUPP;
	/* One lockdep class for every run's lock: they never nest. */
	spin_lock_init(&run.lock);
	run.ws = r->nr_pages / STRUCT_PAGES_PER_VPAGE;
	if (ws && ws < run.ws)
		run.ws = ws;
	if (pattern == TVO_SEQ)
		run.rnd %= run.ws * STRUCT_PAGES_PER_VPAGE;
	if (ctx == TVO_DIRECT)
		return tvo_run_direct(&run);
	if (ctx == TVO_SOFTIRQ || ctx == TVO_HARDIRQ) {
		run.mode = ctx == TVO_SOFTIRQ ? HRTIMER_MODE_REL_PINNED_SOFT :
						HRTIMER_MODE_REL_PINNED_HARD;
		hrtimer_init_on_stack(&run.timer, CLOCK_MONOTONIC, run.mode);
		run.timer.function = tvo_timer_fn;
	}

	while (run.left || run.nr) {
		bool congested;

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = tvo_prepare(&run, &congested);
		if (ret)
			break;
		/*
		 * The reserve that the unprepared accesses (and a prepared one
		 * reclaim takes before it is touched with IRQs on) draw on is
		 * this CPU's: fill it, and make the batch here.
		 */
		migrate_disable();
		ret = vmemmap_od_preload(GFP_KERNEL);
		if (!ret)
			ret = tvo_section(&run, ctx);
		migrate_enable();
		if (ret)
			break;
		if (congested || run.stopped)
			tvo_throttle(&run);
		cond_resched();
	}

	if (ctx == TVO_SOFTIRQ || ctx == TVO_HARDIRQ)
		destroy_hrtimer_on_stack(&run.timer);
	return ret;
}

/*
 * Say where the first struct page that differs from its twin differs:
 * @copy is it with its pgmap replaced by the twin's; @pgmap was its own.
 */
static void tvo_report(struct tvo_range *r, const struct page *copy,
		       const struct page *twin, unsigned long pfn,
		       const struct dev_pagemap *pgmap)
{
	const unsigned long *a = (const unsigned long *)copy;
	const unsigned long *b = (const unsigned long *)twin;
	const int n = sizeof(*copy) / sizeof(long);
	int i;

	if (pgmap != &r->pgmap) {
		pr_err_ratelimited("test_vmemmap_od: pfn %#lx: pgmap %p, not the range's\n",
				   pfn, pgmap);
		return;
	}
	for (i = 0; i < n - 1 && a[i] == b[i]; i++)
		;
	pr_err_ratelimited("test_vmemmap_od: pfn %#lx: word %d is %#lx, upfront init wrote %#lx\n",
			   pfn, i, a[i], b[i]);
}

/*
 * Compare the struct pages of the vmemmap page at @pfn (its first pfn) with
 * their twins, with IRQs off, after populating it: it cannot be reclaimed
 * under us then (the shootdown waits for us), so the check takes nothing
 * from the reserve. Only the pgmap pointer may differ, and must be ours.
 */
static int tvo_verify_vpage(struct tvo_range *r, unsigned long pfn, long *bad)
{
	unsigned long flags;
	int i, ret;

	for (;;) {
		ret = vmemmap_od_populate(pfn, STRUCT_PAGES_PER_VPAGE, GFP_KERNEL);
		if (ret == -ENOMEM)
			return ret;
		local_irq_save(flags);
		if (vmemmap_od_pfn_mapped(pfn))
			break;
		/* Reclaimed again since: populate again. */
		local_irq_restore(flags);
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	for (i = 0; i < STRUCT_PAGES_PER_VPAGE; i++, pfn++) {
		unsigned long off = (pfn - r->start_pfn) % PAGES_PER_SECTION;
		struct page *twin = pfn_to_page(r->twin_pfn + off);
		struct dev_pagemap *pgmap;
		struct page copy;

		memcpy(&copy, pfn_to_page(pfn), sizeof(copy));
		pgmap = copy.pgmap;
		copy.pgmap = &r->twin;
		if (pgmap != &r->pgmap || memcmp(&copy, twin, sizeof(copy))) {
			if (!(*bad)++)
				tvo_report(r, &copy, twin, pfn, pgmap);
		}
	}
	local_irq_restore(flags);
	return 0;
}

/* Every struct page of every touched vmemmap page equals its upfront twin. */
static int tvo_verify(struct tvo_range *r)
{
	unsigned long bit, nbits = r->nr_pages / STRUCT_PAGES_PER_VPAGE;
	long bad = 0;
	int ret = 0;

	for_each_set_bit(bit, r->touched, nbits) {
		ret = tvo_verify_vpage(r, r->start_pfn + bit * STRUCT_PAGES_PER_VPAGE,
				       &bad);
		if (ret)
			break;
		/* Under a budget, populating them all must not outrun reclaim. */
		vmemmap_od_throttle();
		cond_resched();
	}
	atomic_long_add(bad, &tvo_violations);
	return ret ? ret : bad ? -EIO : 0;
}

/*
 * A raw walk of [@lo, @hi), which the caller bounded to the range's first
 * TVO_WALK_RAW_MAX pfns: pfn_to_page() on every valid pfn, as
 * mark_free_pages() did, which faults in every vmemmap page it reaches.
 * Those faults are served from the reserve, so it is topped up before each
 * vmemmap page, on the CPU that then takes the fault.
 */
static int tvo_walk_raw(struct tvo_range *r, unsigned long lo, unsigned long hi,
			unsigned long *valid, unsigned long *in_zone)
{
	struct zone *zone = &NODE_DATA(r->nid)->node_zones[ZONE_DEVICE];
	unsigned long pfn, next;
	int ret;

	for (pfn = lo; pfn < hi; pfn = next) {
		next = min(ALIGN(pfn + 1, STRUCT_PAGES_PER_VPAGE), hi);
		migrate_disable();
		ret = vmemmap_od_preload(GFP_KERNEL);
		for (; !ret && pfn < next; pfn++) {
			if (!pfn_valid(pfn))
				continue;
			(*valid)++;
			*in_zone += page_zone(pfn_to_page(pfn)) == zone;
		}
		migrate_enable();
		if (ret)
			return ret;
		cond_resched();
	}
	return 0;
}

/**
 * tvo_walk - walk the pfns around and in the range as a pfn walker does
 * @r: the range
 * @span: pfns walked on either side of the range; for a raw walk, the
 *	range's first @span pfns are walked (at most TVO_WALK_RAW_MAX)
 * @raw: use pfn_to_page() where the walk uses pfn_to_online_page()
 *
 * The walk is that of hibernation's mark_free_pages() once it asks
 * pfn_to_online_page(): for each pfn_valid() pfn, the online page, if any,
 * and its page_zone(). ZONE_DEVICE sections are never online, so it reads
 * no struct page of the range, and must populate nothing.
 *
 * Return: 0, -EINTR on a fatal signal, or -ENOMEM from a raw walk.
 */
static int tvo_walk(struct tvo_range *r, unsigned long span, bool raw)
{
	struct zone *zone = &NODE_DATA(r->nid)->node_zones[ZONE_DEVICE];
	unsigned long pfn_limit = 1UL << (MAX_PHYSMEM_BITS - PAGE_SHIFT);
	unsigned long end_pfn = r->start_pfn + r->nr_pages;
	unsigned long valid = 0, online = 0, in_zone = 0;
	unsigned long pfn, lo, hi, wd = TVO_WALK_WD;
	struct page *page;
	int ret = 0;

	if (raw) {
		lo = r->start_pfn;
		hi = lo + min3(span, r->nr_pages, (unsigned long)TVO_WALK_RAW_MAX);
		ret = tvo_walk_raw(r, lo, hi, &valid, &in_zone);
		goto out;
	}
	lo = r->start_pfn - min(span, r->start_pfn);
	hi = end_pfn + min(span, pfn_limit > end_pfn ? pfn_limit - end_pfn : 0);
	for (pfn = lo; pfn < hi; pfn++) {
		if (!--wd) {
			touch_nmi_watchdog();
			cond_resched();
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			wd = TVO_WALK_WD;
		}
		if (!pfn_valid(pfn))
			continue;
		valid++;
		page = pfn_to_online_page(pfn);
		if (!page)
			continue;
		online++;
		in_zone += page_zone(page) == zone;
	}
out:
	WRITE_ONCE(tvo_walk_valid, valid);
	WRITE_ONCE(tvo_walk_online, online);
	WRITE_ONCE(tvo_walk_zone, in_zone);
	return ret;
}

static char *tvo_get_cmd(const char __user *ubuf, size_t count)
{
	if (count > 128)
		return ERR_PTR(-EINVAL);
	return memdup_user_nul(ubuf, count);
}

static ssize_t size_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	char *buf = tvo_get_cmd(ubuf, count), *end;
	bool upfront;
	u64 size;
	int ret;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	size = memparse(strim(buf), &end);
	end = strim(end);
	upfront = !strcmp(end, "upfront");
	ret = *end && !upfront ? -EINVAL : 0;
	kfree(buf);
	if (ret)
		return ret;

	down_write(&tvo_sem);
	tvo_destroy();
	if (size)
		ret = tvo_create(size, upfront);
	up_write(&tvo_sem);
	return ret ? ret : count;
}

static ssize_t size_read(struct file *file, char __user *ubuf, size_t count,
			 loff_t *ppos)
{
	char buf[64];
	int len;

	down_read(&tvo_sem);
	len = tvo ? scnprintf(buf, sizeof(buf), "%#lx %#lx\n", tvo->start_pfn,
			      tvo->start_pfn + tvo->nr_pages) :
		    scnprintf(buf, sizeof(buf), "none\n");
	up_read(&tvo_sem);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t access_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	static const char * const patterns[] = {
		[TVO_RANDOM] = "random", [TVO_SEQ] = "seq", [TVO_ZIPF] = "zipf",
	};
	static const char * const ctxs[] = {
		[TVO_PROCESS] = "process", [TVO_IRQOFF] = "irqoff",
		[TVO_SPINLOCK] = "spinlock", [TVO_SOFTIRQ] = "softirq",
		[TVO_HARDIRQ] = "hardirq", [TVO_NMI] = "nmi", [TVO_FAULT] = "fault",
		[TVO_DIRECT] = "direct",
	};
	char *buf = tvo_get_cmd(ubuf, count), ctx[16], pattern[16] = "random";
	long before = atomic_long_read(&tvo_violations);
	unsigned long nr, ws = 0;
	u64 seed;
	int ret, p, c;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sscanf(buf, "%15s %lu %llu %15s %lu", ctx, &nr, &seed, pattern, &ws);
	kfree(buf);
	if (ret < 3)
		return -EINVAL;
	p = match_string(patterns, ARRAY_SIZE(patterns), pattern);
	c = match_string(ctxs, ARRAY_SIZE(ctxs), ctx);
	if (p < 0 || c < 0)
		return -EINVAL;

	down_read(&tvo_sem);
	ret = tvo ? tvo_run_ctx(tvo, c, nr, seed, p, ws) : -ENODEV;
	up_read(&tvo_sem);
	if (!ret && atomic_long_read(&tvo_violations) != before)
		ret = -EIO;
	return ret ? ret : count;
}

static ssize_t verify_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	int ret;

	down_read(&tvo_sem);
	ret = tvo ? tvo_verify(tvo) : -ENODEV;
	up_read(&tvo_sem);
	return ret ? ret : count;
}

/*
 * Deliberately unprepared: no populate, no preload, so that the selftest
 * can empty the reserve by fault injection and see the fault not served.
 */
static ssize_t nofault_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	unsigned long pfn, flags;
	int ret;

	ret = kstrtoul_from_user(ubuf, count, 0, &pfn);
	if (ret)
		return ret;
	down_read(&tvo_sem);
	if (!tvo || pfn < tvo->start_pfn || pfn >= tvo->start_pfn + tvo->nr_pages)
		ret = -EINVAL;
	else
		ret = get_kernel_nofault(flags, &pfn_to_page(pfn)->flags);
	up_read(&tvo_sem);
	return ret ? ret : count;
}

static ssize_t walk_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	char *buf = tvo_get_cmd(ubuf, count), word[8];
	unsigned long span;
	bool raw;
	int ret;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sscanf(buf, "%lu %7s", &span, word);
	kfree(buf);
	raw = ret == 2 && !strcmp(word, "raw");
	if (ret < 1 || (ret == 2 && !raw))
		return -EINVAL;

	down_read(&tvo_sem);
	ret = tvo ? tvo_walk(tvo, span, raw) : -ENODEV;
	up_read(&tvo_sem);
	return ret ? ret : count;
}

static int stats_show(struct seq_file *m, void *v)
{
	unsigned long touched = 0;

	down_read(&tvo_sem);
	if (tvo)
		touched = bitmap_weight(tvo->touched,
					tvo->nr_pages / STRUCT_PAGES_PER_VPAGE);
	up_read(&tvo_sem);
	/* New fields go at the end: parsers read the line's first ones. */
	seq_printf(m, "accesses %ld violations %ld touched %lu throttled %ld deferred %ld nmi %ld unprepared %ld walk_valid %lu walk_online %lu walk_zone %lu\n",
		   atomic_long_read(&tvo_accesses),
		   atomic_long_read(&tvo_violations), touched,
		   atomic_long_read(&tvo_throttled),
		   atomic_long_read(&tvo_deferred),
		   atomic_long_read(&tvo_nmis),
		   atomic_long_read(&tvo_unprepared),
		   READ_ONCE(tvo_walk_valid), READ_ONCE(tvo_walk_online),
		   READ_ONCE(tvo_walk_zone));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

static unsigned long tvo_page_pfn;

static ssize_t page_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	unsigned long pfn;
	int ret;

	ret = kstrtoul_from_user(ubuf, count, 0, &pfn);
	if (ret)
		return ret;
	WRITE_ONCE(tvo_page_pfn, pfn);
	return count;
}

static int page_show(struct seq_file *m, void *v)
{
	unsigned long pfn = READ_ONCE(tvo_page_pfn);
	struct dev_pagemap *pgmap;
	struct page *page;
	int resident, ret;

	if (!pfn_valid(pfn))
		return -EINVAL;
	/* Keeps the struct page from going away while it is read. */
	pgmap = get_dev_pagemap(pfn, NULL);
	if (!pgmap)
		return -EINVAL;
	resident = vmemmap_od_resident(pfn);
	/*
	 * A known consumer: populate first (the head's too, for the pin
	 * count). If reclaim takes it again before the reads, they fault and
	 * are served from the reserve this topped up.
	 */
	ret = vmemmap_od_populate(pfn, 1, GFP_KERNEL);
	if (ret == -ENOMEM) {
		put_dev_pagemap(pgmap);
		return ret;
	}
	page = pfn_to_page(pfn);
	/* The fields, for people; then all of the struct page, hashed. */
	seq_printf(m, "pfn %#lx resident %d refcount %d pinned %d mapping %p index %#lx flags %#lx dirty %d hash %08x\n",
		   pfn, resident, page_ref_count(page),
		   folio_maybe_dma_pinned(page_folio(page)),
		   READ_ONCE(page->mapping), READ_ONCE(page->index),
		   READ_ONCE(page->flags), test_bit(PG_dirty, &page->flags),
		   jhash(page, sizeof(*page), 0));
	put_dev_pagemap(pgmap);
	return 0;
}

static int page_open(struct inode *inode, struct file *file)
{
	return single_open(file, page_show, NULL);
}

static const struct file_operations page_fops = {
	.open = page_open,
	.read = seq_read,
	.write = page_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static const struct file_operations size_fops = {
	.write = size_write,
	.read = size_read,
};

static const struct file_operations access_fops = {
	.write = access_write,
};

static const struct file_operations verify_fops = {
	.write = verify_write,
};

static const struct file_operations nofault_fops = {
	.write = nofault_write,
};

static const struct file_operations walk_fops = {
	.write = walk_write,
};

static int __init tvo_init(void)
{
	tvo_nmi_init();
	tvo_dir = debugfs_create_dir("test_vmemmap_od", NULL);
	debugfs_create_file("size", 0600, tvo_dir, NULL, &size_fops);
	debugfs_create_file("access", 0200, tvo_dir, NULL, &access_fops);
	debugfs_create_file("verify", 0200, tvo_dir, NULL, &verify_fops);
	debugfs_create_file("nofault", 0200, tvo_dir, NULL, &nofault_fops);
	debugfs_create_file("walk", 0200, tvo_dir, NULL, &walk_fops);
	debugfs_create_file("stats", 0400, tvo_dir, NULL, &stats_fops);
	debugfs_create_file("page", 0600, tvo_dir, NULL, &page_fops);
	return 0;
}

static void __exit tvo_exit(void)
{
	debugfs_remove_recursive(tvo_dir);
	down_write(&tvo_sem);
	tvo_destroy();
	up_write(&tvo_sem);
	tvo_nmi_exit();
}

module_init(tvo_init);
module_exit(tvo_exit);
MODULE_DESCRIPTION("Test driver for on-demand vmemmap");
MODULE_LICENSE("GPL");
