// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for on-demand vmemmap (mm/vmemmap_od/): the window lookup,
 * struct pages byte-for-byte equal to what memmap_init_zone_device() makes,
 * base and compound, exactly one install when CPUs race on a fresh vmemmap
 * page, reclaim that leaves no CPU a stale translation and keeps what was
 * written through one before its flush, and
 * vmemmap_od_populate(), which consumers call where they may
 * sleep so that the fault path's reserve is not needed.
 *
 * The fault path only takes pages from a small per-CPU reserve: a test that
 * faults in more than a few vmemmap pages in a row tops it up first with
 * vmemmap_od_preload(), as a consumer without a sleepable point would.
 *
 * Each test maps free physical address space as MEMORY_DEVICE_PRIVATE (no
 * backing memory needed), once with an upfront memmap and once on demand.
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/ioport.h>
#include <linux/kthread.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/vmemmap_od.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>

#include "vmemmap_od.h"

#define OD_TEST_SIZE	(2 * (PAGES_PER_SECTION << PAGE_SHIFT))

struct od_test_map {
	struct dev_pagemap pgmap;
	struct resource *res;
	unsigned long start_pfn;
	unsigned long nr_pages;
};

static void od_page_free(struct page *page)
{
}

static vm_fault_t od_migrate_to_ram(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct dev_pagemap_ops od_test_ops = {
	.page_free = od_page_free,
	.migrate_to_ram = od_migrate_to_ram,
};

static void od_test_unmap(void *data)
{
	struct od_test_map *m = data;

	memunmap_pages(&m->pgmap);
	release_mem_region(m->res->start, resource_size(m->res));
}

/* A device-private range; on demand or not, base or compound pages. */
static struct od_test_map *od_test_map(struct kunit *test, bool on_demand,
				       unsigned int vmemmap_shift)
{
	struct od_test_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	void *ret;

	KUNIT_ASSERT_NOT_NULL(test, m);
	m->res = request_free_mem_region(&iomem_resource, OD_TEST_SIZE,
					 "vmemmap_od_kunit");
	KUNIT_ASSERT_FALSE(test, IS_ERR(m->res));
	m->pgmap.type = MEMORY_DEVICE_PRIVATE;
	m->pgmap.flags = on_demand ? PGMAP_ON_DEMAND : 0;
	m->pgmap.vmemmap_shift = vmemmap_shift;
	m->pgmap.range.start = m->res->start;
	m->pgmap.range.end = m->res->end;
	m->pgmap.nr_range = 1;
	m->pgmap.ops = &od_test_ops;
	m->pgmap.owner = m;
	ret = memremap_pages(&m->pgmap, numa_node_id());
	if (IS_ERR(ret)) {
		release_mem_region(m->res->start, resource_size(m->res));
		KUNIT_FAIL_AND_ABORT(test, "memremap_pages: %ld", PTR_ERR(ret));
	}
	m->start_pfn = PHYS_PFN(m->res->start);
	m->nr_pages = PHYS_PFN(resource_size(m->res));
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, od_test_unmap, m));
	return m;
}

static unsigned long od_event(enum vm_event_item item)
{
	unsigned long ev[NR_VM_EVENT_ITEMS];

	all_vm_events(ev);
	return ev[item];
}

static unsigned long od_faults(void)
{
	return od_event(VMEMMAP_OD_FAULTS);
}

/* Struct pages per vmemmap page. */

/*
 * A struct page, made comparable across ranges: words that point into the
 * page's own range (compound heads, list heads) become offsets, and the
 * pgmap pointer becomes a marker.
 */
static void od_normalise(struct page *dst, const struct page *src,
			 const struct od_test_map *m)
{
	unsigned long lo = (unsigned long)pfn_to_page(m->start_pfn);
	unsigned long hi = (unsigned long)pfn_to_page(m->start_pfn + m->nr_pages);
	unsigned long *w = (unsigned long *)dst;
	int i;

	memcpy(dst, src, sizeof(*dst));
	for (i = 0; i < sizeof(*dst) / sizeof(long); i++) {
		unsigned long v = w[i] & ~1UL;

		if (v >= lo && v < hi)
			w[i] = (v - lo) | (w[i] & 1) | (1UL << 62);
		else if (w[i] == (unsigned long)&m->pgmap)
			w[i] = 0xdead0000;
	}
}

static void od_check_equal(struct kunit *test, unsigned int shift)
{
	struct od_test_map *up = od_test_map(test, false, shift);
	struct od_test_map *od = od_test_map(test, true, shift);
	/* Touch from the middle of a compound page first, then all of it. */
	unsigned long order[] = { 130, 64, 0, 600, 511, 512, 1 };
	unsigned long faults = od_faults();
	struct page a, b;
	unsigned long i, bad = 0;

	/* Nothing of the on-demand side is mapped before it is touched... */
	for (i = 0; i < 2048; i += OD_STRUCT_PAGES)
		KUNIT_EXPECT_EQ(test, vmemmap_od_resident(od->start_pfn + i), 0);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		KUNIT_ASSERT_EQ(test, vmemmap_od_preload(GFP_KERNEL), 0);
		(void)page_ref_count(pfn_to_page(od->start_pfn + order[i]));
	}
	for (i = 0; i < 2048; i++) {
		if (!(i % (PAGE_SIZE / sizeof(struct page))))
			KUNIT_ASSERT_EQ(test, vmemmap_od_preload(GFP_KERNEL), 0);
		od_normalise(&a, pfn_to_page(up->start_pfn + i), up);
		od_normalise(&b, pfn_to_page(od->start_pfn + i), od);
		if (memcmp(&a, &b, sizeof(a))) {
			if (!bad++)
				kunit_info(test, "first difference at page %lu", i);
		}
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
	/* ...and each of its vmemmap pages was faulted in exactly once. */
	KUNIT_EXPECT_EQ(test, od_faults(), faults + 2048 / OD_STRUCT_PAGES);
	for (i = 0; i < 2048; i += OD_STRUCT_PAGES)
		KUNIT_EXPECT_EQ(test, vmemmap_od_resident(od->start_pfn + i), 1);
}

/* Base pages come out as memmap_init_zone_device() makes them. */
static void od_init_matches_upfront(struct kunit *test)
{
	od_check_equal(test, 0);
}

/* So do 2 MiB compound pages, whichever vmemmap page is touched first. */
static void od_init_matches_upfront_compound(struct kunit *test)
{
	od_check_equal(test, PMD_SHIFT - PAGE_SHIFT);
}

/* The fault filter and lookup accept the window and nothing around it. */
static void od_window_lookup(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, 0);
	unsigned long first = (unsigned long)pfn_to_page(m->start_pfn);
	unsigned long last = (unsigned long)pfn_to_page(m->start_pfn + m->nr_pages) - 1;
	unsigned long below = first - PAGE_SIZE, above = last + 1;
	unsigned long faults = od_faults();

	struct pt_regs regs = { .ip = _THIS_IP_ };
	bool hit[4];

	KUNIT_EXPECT_TRUE(test, is_vmemmap_od_address(first));
	KUNIT_EXPECT_TRUE(test, is_vmemmap_od_address(last));
	KUNIT_ASSERT_EQ(test, vmemmap_od_preload(GFP_KERNEL), 0);
	/* As the fault handler calls it: IRQs off. */
	local_irq_disable();
	hit[0] = vmemmap_od_fault(&regs, below);
	hit[1] = vmemmap_od_fault(&regs, above);
	hit[2] = vmemmap_od_fault(&regs, last);
	hit[3] = vmemmap_od_fault(&regs, last);
	local_irq_enable();
	/* Outside the window: no lookup hit, nothing populated. */
	KUNIT_EXPECT_FALSE(test, hit[0]);
	KUNIT_EXPECT_FALSE(test, hit[1]);
	/* Inside: populated once, then found mapped. */
	KUNIT_EXPECT_TRUE(test, hit[2]);
	KUNIT_EXPECT_TRUE(test, hit[3]);
	KUNIT_EXPECT_EQ(test, od_faults(), faults + 1);
	KUNIT_EXPECT_EQ(test, page_ref_count(pfn_to_page(m->start_pfn + m->nr_pages - 1)), 0);
}

struct od_racer {
	struct page *page;
	atomic_t *ready;
	int nr_racers;
	struct completion done;
	int refcount;
};

/* Wait until every racer runs, then first-touch the page at once. */
static int od_racer_fn(void *data)
{
	struct od_racer *r = data;

	atomic_inc(r->ready);
	while (atomic_read(r->ready) < r->nr_racers) {
		cpu_relax();
		cond_resched();
	}
	r->refcount = page_ref_count(r->page);
	complete(&r->done);
	return 0;
}

/* CPUs that first-touch the same vmemmap page at once install it once. */
static void od_concurrent_install(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, 0);
	struct task_struct **t = kunit_kcalloc(test, nr_cpu_ids, sizeof(*t), GFP_KERNEL);
	struct od_racer *r = kunit_kcalloc(test, nr_cpu_ids, sizeof(*r), GFP_KERNEL);
	atomic_t ready;
	unsigned long faults, round;
	int cpu, n;

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_NOT_NULL(test, r);
	for (round = 0; round < 32; round++) {
		struct page *page = pfn_to_page(m->start_pfn + round * 64 * 9);

		faults = od_faults();
		atomic_set(&ready, 0);
		n = 0;
		/*
		 * Create them all before any runs: a spinning racer may hold
		 * the CPU kthreadd would need.
		 */
		for_each_online_cpu(cpu) {
			r[n] = (struct od_racer){ .page = page, .ready = &ready,
						  .nr_racers = num_online_cpus(),
						  .refcount = -1 };
			init_completion(&r[n].done);
			t[n] = kthread_create_on_cpu(od_racer_fn, &r[n], cpu, "od_racer/%u");
			KUNIT_ASSERT_FALSE(test, IS_ERR(t[n]));
			n++;
		}
		for (cpu = 0; cpu < n; cpu++)
			wake_up_process(t[cpu]);
		while (n--) {
			wait_for_completion(&r[n].done);
			KUNIT_EXPECT_EQ(test, r[n].refcount, 0);
		}
		KUNIT_EXPECT_EQ(test, od_faults(), faults + 1);
	}
}

/*
 * vmemmap_od_populate() maps exactly the vmemmap pages of its pfns, without
 * the fault path: touching them afterwards, with IRQs off, faults nothing.
 */
static void od_populate_maps_without_faults(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, 0);
	unsigned long pfn = m->start_pfn + 5 * OD_STRUCT_PAGES + 3;
	unsigned long faults = od_faults();
	unsigned long atomic = od_event(VMEMMAP_OD_ATOMIC_FAULTS);
	unsigned long i, refs = 0;

	KUNIT_EXPECT_TRUE(test, vmemmap_od_pfn_mapped(m->start_pfn - 1));
	KUNIT_EXPECT_FALSE(test, vmemmap_od_pfn_mapped(pfn));
	/* Ten pfns that straddle two vmemmap pages. */
	pfn += OD_STRUCT_PAGES - 8;
	KUNIT_ASSERT_EQ(test, vmemmap_od_populate(pfn, 10, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, od_faults(), faults + 2);
	KUNIT_EXPECT_TRUE(test, vmemmap_od_pfn_mapped(pfn));
	KUNIT_EXPECT_TRUE(test, vmemmap_od_pfn_mapped(pfn + 9));
	KUNIT_EXPECT_FALSE(test, vmemmap_od_pfn_mapped(pfn - OD_STRUCT_PAGES));
	KUNIT_EXPECT_FALSE(test, vmemmap_od_pfn_mapped(pfn + 9 + OD_STRUCT_PAGES));
	local_irq_disable();
	for (i = 0; i < 10; i++)
		refs += page_ref_count(pfn_to_page(pfn + i));
	local_irq_enable();
	KUNIT_EXPECT_EQ(test, refs, 0);
	KUNIT_EXPECT_EQ(test, od_faults(), faults + 2);
	KUNIT_EXPECT_EQ(test, od_event(VMEMMAP_OD_ATOMIC_FAULTS), atomic);
	/* Populated already: nothing more. */
	KUNIT_ASSERT_EQ(test, vmemmap_od_populate(pfn, 10, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, od_faults(), faults + 2);
}

/* For a compound page, the head's vmemmap page comes with any of its pfns. */
static void od_populate_maps_compound_head(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, PMD_SHIFT - PAGE_SHIFT);
	unsigned long head = m->start_pfn + (1UL << (PMD_SHIFT - PAGE_SHIFT));
	unsigned long tail = head + 300;

	KUNIT_EXPECT_FALSE(test, vmemmap_od_pfn_mapped(tail));
	KUNIT_ASSERT_EQ(test, vmemmap_od_populate(tail, 1, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, vmemmap_od_pfn_mapped(tail));
	KUNIT_EXPECT_EQ(test, vmemmap_od_resident(head), 1);
	KUNIT_EXPECT_EQ(test, vmemmap_od_resident(head + OD_STRUCT_PAGES), 0);
	KUNIT_EXPECT_TRUE(test, compound_head(pfn_to_page(tail)) == pfn_to_page(head));
}

/* A fault the known consumers did not prepare is served from the reserve. */
static void od_fault_served_from_reserve(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, 0);
	unsigned long atomic = od_event(VMEMMAP_OD_ATOMIC_FAULTS);
	unsigned long failed = od_event(VMEMMAP_OD_FAULT_FAILED);
	int ref;

	KUNIT_ASSERT_EQ(test, vmemmap_od_preload(GFP_KERNEL), 0);
	local_irq_disable();
	ref = page_ref_count(pfn_to_page(m->start_pfn + 1000));
	local_irq_enable();
	KUNIT_EXPECT_EQ(test, ref, 0);
	KUNIT_EXPECT_EQ(test, od_event(VMEMMAP_OD_ATOMIC_FAULTS), atomic + 1);
	KUNIT_EXPECT_EQ(test, od_event(VMEMMAP_OD_FAULT_FAILED), failed);
}

/* vmemmap pages od_reclaim_flushes_tlb reads on each CPU. */
#define OD_TLB_VPAGES	64

struct od_tlb_reader {
	struct od_test_map *m;
	bool preload;
};

/* Read the first struct page of each of the first OD_TLB_VPAGES vmemmap pages. */
static long od_tlb_read(void *data)
{
	struct od_tlb_reader *r = data;
	unsigned long i;

	for (i = 0; i < OD_TLB_VPAGES; i++) {
		/* A bound worker: the reserve it fills is the faulting CPU's. */
		if (r->preload && vmemmap_od_preload(GFP_KERNEL))
			return -ENOMEM;
		(void)READ_ONCE(pfn_to_page(r->m->start_pfn + i * OD_STRUCT_PAGES)->flags);
	}
	return 0;
}

static unsigned long od_tlb_resident(struct od_test_map *m)
{
	unsigned long i, n = 0;

	for (i = 0; i < OD_TLB_VPAGES; i++)
		n += vmemmap_od_resident(m->start_pfn + i * OD_STRUCT_PAGES) > 0;
	return n;
}

/*
 * Reclaim flushes every CPU's TLB: each CPU first caches the vmemmap pages'
 * translations, then, one CPU after the other, the shrinker (drop_slab())
 * takes them all and the CPU reads them again. Every read must fault its
 * page back in (all are resident again); a read that does not went through a stale TLB entry to a
 * page reclaim freed (QEMU's TLB, like a real one, keeps kernel entries
 * until flushed or evicted).
 */
static void od_reclaim_flushes_tlb(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, 0);
	struct od_tlb_reader r = { .m = m };
	int cpu, tries;

	KUNIT_ASSERT_EQ(test, vmemmap_od_populate(m->start_pfn,
						  OD_TLB_VPAGES * OD_STRUCT_PAGES,
						  GFP_KERNEL), 0);
	for_each_online_cpu(cpu)
		KUNIT_ASSERT_EQ(test, work_on_cpu_safe(cpu, od_tlb_read, &r), 0);
	r.preload = true;
	for_each_online_cpu(cpu) {
		/* The shrinker only tries the reclaimer's lock. */
		for (tries = 0; tries < 100 && od_tlb_resident(m); tries++)
			drop_slab();
		KUNIT_ASSERT_EQ_MSG(test, od_tlb_resident(m), 0,
				    "the shrinker left the test's pages resident");
		KUNIT_ASSERT_EQ(test, work_on_cpu_safe(cpu, od_tlb_read, &r), 0);
		/* A read through a stale entry populates nothing. */
		KUNIT_EXPECT_EQ_MSG(test, od_tlb_resident(m), OD_TLB_VPAGES,
				    "CPU %d read reclaimed vmemmap pages without faulting", cpu);
	}
}

static void od_flush_pages_restore(void *old)
{
	WRITE_ONCE(od_flush_pages, (bool)(unsigned long)old);
}

/*
 * The same with debugfs flush_pages set: a batch that parks no PTE table
 * (the first, which takes the 64 pages; their table goes with the next)
 * shoots its pages down one by one, on every CPU.
 */
static void od_reclaim_flushes_tlb_by_page(struct kunit *test)
{
	void *old = (void *)(unsigned long)READ_ONCE(od_flush_pages);

	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, od_flush_pages_restore,
							old), 0);
	WRITE_ONCE(od_flush_pages, true);
	od_reclaim_flushes_tlb(test);
}

/*
 * The vmemmap page od_late_write() writes to, and how often it did; the
 * stub runs only in the test's task.
 */
static struct page *od_late_page;
static int od_late_hits;

/* A reference taken through a stale TLB entry, between park and flush. */
static void od_late_write(struct page *page)
{
	if (page != od_late_page)
		return;
	page_ref_inc((struct page *)page_address(page) + 3);
	od_late_hits++;
}

/*
 * Step 4 of the protocol checks a parked page again after the flush: a
 * reference taken between park and flush through a stale TLB entry keeps
 * the page, which is put back and still holds the reference.
 */
static void od_reclaim_keeps_late_writes(struct kunit *test)
{
	struct od_test_map *m = od_test_map(test, true, 0);
	struct page *page = pfn_to_page(m->start_pfn + 3);
	unsigned long put_back = od_event(VMEMMAP_OD_PUT_BACK);
	unsigned int level;
	pte_t *pte;
	int tries;

	KUNIT_ASSERT_EQ(test, vmemmap_od_populate(m->start_pfn, 1, GFP_KERNEL), 0);
	pte = lookup_address((unsigned long)page, &level);
	KUNIT_ASSERT_TRUE(test, pte && level == PG_LEVEL_4K && pte_present(*pte));
	od_late_page = pte_page(*pte);
	od_late_hits = 0;
	kunit_activate_static_stub(test, vmemmap_od_kunit_parked, od_late_write);
	for (tries = 0; tries < 100 && !od_late_hits; tries++)
		drop_slab();
	kunit_deactivate_static_stub(test, vmemmap_od_kunit_parked);
	KUNIT_ASSERT_EQ_MSG(test, od_late_hits, 1, "reclaim never parked the page");
	/* Freed with the reference (what the check after the flush prevents)? */
	KUNIT_ASSERT_EQ_MSG(test, vmemmap_od_resident(m->start_pfn), 1,
			    "a page written between park and flush was freed");
	KUNIT_EXPECT_LT(test, put_back, od_event(VMEMMAP_OD_PUT_BACK));
	KUNIT_EXPECT_EQ(test, page_ref_count(page), 1);
	page_ref_dec(page);
}

static bool fail_suite_init;
module_param(fail_suite_init, bool, 0444);
MODULE_PARM_DESC(fail_suite_init,
		 "Fail the suite's init, so that no case runs (to test a test harness)");

static int vmemmap_od_suite_init(struct kunit_suite *suite)
{
	return fail_suite_init ? -EINVAL : 0;
}

static struct kunit_case vmemmap_od_test_cases[] = {
	KUNIT_CASE(od_window_lookup),
	KUNIT_CASE(od_populate_maps_without_faults),
	KUNIT_CASE(od_populate_maps_compound_head),
	KUNIT_CASE(od_fault_served_from_reserve),
	KUNIT_CASE(od_init_matches_upfront),
	KUNIT_CASE(od_init_matches_upfront_compound),
	KUNIT_CASE(od_concurrent_install),
	KUNIT_CASE(od_reclaim_flushes_tlb),
	KUNIT_CASE(od_reclaim_flushes_tlb_by_page),
	KUNIT_CASE(od_reclaim_keeps_late_writes),
	{}
};

static struct kunit_suite vmemmap_od_test_suite = {
	.name = "vmemmap_od",
	.suite_init = vmemmap_od_suite_init,
	.test_cases = vmemmap_od_test_cases,
};

kunit_test_suite(vmemmap_od_test_suite);

MODULE_DESCRIPTION("KUnit tests for on-demand vmemmap");
MODULE_LICENSE("GPL");
