// SPDX-License-Identifier: GPL-2.0
/*
 * On-demand vmemmap: reclaim. The LRA lists of resident vmemmap pages, the
 * batches that park pages and PTE tables, their TLB shootdown and what is
 * freed after it, the reclaimer kthread, the shrinker, and the watermarks
 * that wake the reclaimer and throttle producers. The race protocol and
 * the rest of the design are described at the top of core.c.
 */
#include <kunit/static_stub.h>
#include <linux/export.h>
#include <linux/kthread.h>
#include <linux/kprobes.h>
#include <linux/llist.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>
#include <linux/resume_user_mode.h>
#include <linux/sched/clock.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>
#include <linux/vmemmap_od.h>
#include <linux/vmstat.h>
#include <asm/tlbflush.h>
#include <asm/vmemmap_od.h>

#include "vmemmap_od.h"

#include <trace/events/vmemmap_od.h>

/* === Data === */

/*
 * The LRA (least recently allocated) order of resident vmemmap pages. The
 * backing page of each is linked through its lru field and records its
 * vmemmap address in page->private. Faults push onto od_lra_new; the
 * reclaimer moves those, oldest first, to the tail of od_lra. A page the
 * reclaimer found holding live state leaves od_lra for od_live, with
 * OD_LIVE set, and is looked at again, before od_lra (it is older), by
 * one budget pass per OD_RESCAN_MAX at most, and when the reclaimer is
 * stuck over budget, less often each time nothing came of it
 * (OD_RESCAN_MIN to OD_RESCAN_MAX): so the memmap of pages that went idle
 * without a fault (unpin, unmount, unlink) is found within about a second,
 * and live pages are not rescanned for every batch faulted in.
 */
#define OD_LIVE			1UL
static LLIST_HEAD(od_lra_new);
LIST_HEAD(od_lra);			/* under od_reclaim_lock */
LIST_HEAD(od_live);			/* under od_reclaim_lock */
DEFINE_MUTEX(od_reclaim_lock);
static atomic_long_t od_lra_nr;		/* pages on all three lists */
static atomic_long_t od_live_nr;	/* of which on od_live */
#define OD_RESCAN_MIN		(HZ / 10)
#define OD_RESCAN_MAX		HZ
/*
 * Budget passes that looked at the live pages again (debugfs
 * vmemmap_od/live_passes), under od_reclaim_lock.
 */
unsigned long od_live_passes;

/* budget_kb in pages; 0: no budget. */
unsigned long od_budget;
/* Resident size at which a pass last got stuck over the mark. */
long od_stuck_at;
struct task_struct *od_reclaimd;
/* Producers waiting in vmemmap_od_throttle(). */
DECLARE_WAIT_QUEUE_HEAD(od_throttle_wq);

/**
 * struct od_batch - what one TLB shootdown reclaims
 * @nr_pages: vmemmap pages parked in @page
 * @page: the parked vmemmap pages
 * @pte: their PTEs
 * @pwin: their windows
 * @runs: their DAX state to write back when they are rebuilt
 * @uniform: their rebuild image is @tmpl of their window, not in @img
 * @freed: vmemmap addresses of the pages freed
 * @nr_queued: vmemmap addresses in @queued
 * @queued: PMD-aligned vmemmap addresses whose PTE table the last batch
 *	left empty, to park with the next batch (its shootdown serves both)
 * @nr_tables: PTE tables in @table: parked with this batch
 * @table: PTE tables
 * @pmd: their PMD entries
 * @twin: their windows
 * @nr_dying: unhooked PTE tables waiting for a grace period in @dying
 * @dying: those tables
 * @dwin: their windows
 * @dying_gp: RCU state after the last of them was unhooked
 * @start: lowest vmemmap address parked
 * @end: end of the highest
 * @img: OD_BATCH page images: what a fault would build for each page
 */
struct od_batch {
	unsigned int nr_pages;
	unsigned int nr_tables;
	struct page *page[OD_BATCH];
	pte_t *pte[OD_BATCH];
	struct vmemmap_od_window *pwin[OD_BATCH];
	struct od_runs runs[OD_BATCH];
	bool uniform[OD_BATCH];
	unsigned long freed[OD_BATCH];
	unsigned int nr_queued;
	unsigned long queued[OD_BATCH];
	struct page *table[OD_BATCH];
	pmd_t *pmd[OD_BATCH];
	struct vmemmap_od_window *twin[OD_BATCH];
	unsigned int nr_dying;
	struct page *dying[2 * OD_BATCH];
	struct vmemmap_od_window *dwin[2 * OD_BATCH];
	unsigned long dying_gp;
	unsigned long start;
	unsigned long end;
	struct page *img;
};

struct od_batch *od_batch;	/* under od_reclaim_lock */

/* === Internals === */

/*
 * Watermarks under a budget B: a fault that takes the resident memmap over
 * B - OD_HIGH wakes the reclaimer, which brings it down to B - OD_LOW. The
 * headroom above the high watermark is for what CPUs fault in before the
 * reclaimer gets to run (a CPU with IRQs off does not even see the kick).
 */
#define OD_HIGH			(2 * OD_BATCH)
#define OD_LOW			(3 * OD_BATCH)

/* The resident memmap in pages: mapped, page tables and saved state. */
long od_resident_pages(void)
{
	return atomic_long_read(&od_resident) + od_saved_pages();
}
NOKPROBE_SYMBOL(od_resident_pages);

/* Pages the resident memmap is over the high watermark; 0 without a budget. */
static long od_over_mark(void)
{
	unsigned long budget = READ_ONCE(od_budget);
	long over = od_resident_pages() - (long)(budget - OD_HIGH);

	return budget && over > 0 ? over : 0;
}
NOKPROBE_SYMBOL(od_over_mark);

bool od_over_high(void)
{
	/*
	 * After a pass that freed nothing, or found nothing left to look at,
	 * with the memmap still over the mark (what is left is live), wait
	 * for a batch more: nobody is throttled for what it cannot take.
	 */
	return od_over_mark() &&
	       od_resident_pages() >= READ_ONCE(od_stuck_at) + OD_BATCH;
}
NOKPROBE_SYMBOL(od_over_high);

void od_wake_reclaimd(void)
{
	if (od_over_high() && !IS_ERR_OR_NULL(od_reclaimd))
		wake_up_process(od_reclaimd);
}

/*
 * User space has no vmemmap_od_throttle() to call: a task that populates a
 * vmemmap page while the memmap is over its high watermark, in a syscall or
 * a fault of its own (GUP for O_DIRECT, a DAX fault, a kernel fault on its
 * behalf), is noted here and throttled on its way back to user space
 * (__vmemmap_od_handle_over_high()), as memory.high throttles a cgroup.
 * The fault handler itself never waits. Not kernel threads (io_uring's
 * workers included: they never return to user space; kernel producers call
 * vmemmap_od_throttle()), not from interrupts, which borrow the task.
 * Any context: setting a task's own flag is an atomic bitop.
 */
void od_note_over_high(void)
{
	if (!od_over_high() || !in_task() || !current->mm ||
	    (current->flags & (PF_KTHREAD | PF_IO_WORKER)))
		return;
	current->vmemmap_od_over_high++;
	set_notify_resume(current);
}
NOKPROBE_SYMBOL(od_note_over_high);

/* Put the LRA link of a freshly mapped vmemmap page on od_lra_new. */
void od_lra_add(struct page *page, unsigned long vaddr)
{
	set_page_private(page, vaddr);
	llist_add((struct llist_node *)&page->lru, &od_lra_new);
	atomic_long_inc(&od_lra_nr);
}
NOKPROBE_SYMBOL(od_lra_add);

/* === Reclaim === */

/* Does the vmemmap PTE at @vaddr map @page? Under od_reclaim_lock. */
static bool od_maps(unsigned long vaddr, struct page *page)
{
	pmd_t *pmd = od_pmd(vaddr);
	pmd_t pmdval = pmd ? READ_ONCE(*pmd) : __pmd(0);

	return pmd_present(pmdval) && !pmd_leaf(pmdval) &&
	       pte_same(ptep_get(od_pte(pmdval, vaddr)), vmemmap_od_mk_pte(page));
}

/* Move what faults pushed since the last call to od_lra's tail, oldest first. */
void od_lra_drain(void)
{
	struct llist_node *node = llist_reverse_order(llist_del_all(&od_lra_new));

	lockdep_assert_held(&od_reclaim_lock);
	while (node) {
		struct page *page = container_of((struct list_head *)node,
						 struct page, lru);
		unsigned long vaddr = page_private(page) & PAGE_MASK;
		struct vmemmap_od_window *w = od_window_of(vaddr);

		node = node->next;
		list_add_tail(&page->lru, &od_lra);
		/*
		 * Rebuilt from its saved state, which the page now holds;
		 * not one a late fault put in a table being freed.
		 */
		if (w && od_maps(vaddr, page))
			od_save(w, page_to_pfn((struct page *)vaddr), NULL, GFP_NOWAIT);
	}
}

static void od_set_live(struct page *page, bool live)
{
	unsigned long priv = page_private(page);

	if (!!(priv & OD_LIVE) == live)
		return;
	set_page_private(page, priv ^ OD_LIVE);
	atomic_long_add(live ? 1 : -1, &od_live_nr);
}

/* Take a vmemmap page that is about to be freed off od_lra or od_live. */
static void od_lra_del(struct page *page)
{
	od_set_live(page, false);
	list_del(&page->lru);
	atomic_long_dec(&od_lra_nr);
	set_page_private(page, 0);
}

/* Take the vmemmap pages of a window that goes off @list. */
void od_lra_del_window(struct list_head *list, struct vmemmap_od_window *w)
{
	unsigned long start = od_vaddr(w->start_pfn), end = od_vaddr(w->end_pfn);
	struct page *page, *next;

	list_for_each_entry_safe(page, next, list, lru) {
		unsigned long vaddr = page_private(page) & PAGE_MASK;

		if (vaddr >= start && vaddr < end)
			od_lra_del(page);
	}
}

static bool od_table_empty(struct page *table)
{
	return !atomic_long_read(od_table_count(table));
}

/*
 * A vmemmap page holding only tail struct pages of compound pages is still
 * needed while their head is referenced (a pin, a GUP or mapping reference):
 * whoever drops the reference reads the tails again (unpin_user_pages() of
 * a tail page, O_DIRECT completion in IRQ context), maybe where it cannot
 * populate them. A head that is not resident is idle. The head is read
 * through the direct map of its vmemmap page, which may be parked in this
 * batch. Under od_reclaim_lock: only the reclaimer frees vmemmap pages.
 */
static bool od_head_busy(struct vmemmap_od_window *w, unsigned long pfn)
{
	unsigned long head, vaddr;
	pmd_t *pmd, pmdval;
	pte_t pte;

	if (!w->pgmap->vmemmap_shift)
		return false;
	head = od_head_pfn(w, pfn);
	/* A head in this vmemmap page is checked with the rest of it. */
	if (head >= pfn)
		return false;
	vaddr = od_vaddr(head);
	pmd = od_pmd(vaddr);
	pmdval = pmd ? READ_ONCE(*pmd) : __pmd(0);
	/* Present or parked, the entries still name their pages. */
	if (pmd_none(pmdval) || pmd_leaf(pmdval))
		return false;
	pte = ptep_get(od_pte(pmdval, vaddr));
	if (pte_none(pte))
		return false;
	return page_ref_count((struct page *)page_address(pte_page(pte)) +
			      head % OD_STRUCT_PAGES) != w->idle_head_ref;
}

/*
 * Steps 1 and 2 of the protocol (top of core.c) for @page, the oldest on
 * od_lra: park it into @b if it holds nothing live. False if it stays.
 */
static bool od_park_page(struct od_batch *b, struct page *page)
{
	unsigned long vaddr = page_private(page) & PAGE_MASK;
	unsigned long pfn = page_to_pfn((struct page *)vaddr);
	struct vmemmap_od_window *w = od_window_of(vaddr);
	unsigned int n = b->nr_pages;
	pmd_t *pmd = od_pmd(vaddr);
	pmd_t pmdval;
	pte_t *pte;

	/* Its window is going away, or it sits in a table being freed. */
	if (!w || !pmd)
		return false;
	pmdval = READ_ONCE(*pmd);
	if (!pmd_present(pmdval))
		return false;
	pte = od_pte(pmdval, vaddr);
	if (!pte_same(ptep_get(pte), vmemmap_od_mk_pte(page)))
		return false;

	if (od_head_busy(w, pfn) ||
	    !od_rebuildable(w, pfn, page_address(page),
			    b->img + n * OD_STRUCT_PAGES, &b->runs[n],
			    &b->uniform[n])) {
		od_set_live(page, true);
		count_vm_event(VMEMMAP_OD_LIVE_SKIPPED);
		return false;
	}
	od_set_live(page, false);
	if (!vmemmap_od_cmpxchg_pte(pte, vmemmap_od_mk_pte(page),
				    vmemmap_od_mk_parked_pte(page)))
		return false;
	list_del(&page->lru);
	b->page[n] = page;
	b->pte[n] = pte;
	b->pwin[n] = w;
	b->nr_pages++;
	b->start = min(b->start, vaddr);
	b->end = max(b->end, vaddr + PAGE_SIZE);
	return true;
}

/* Park the PTE tables the previous batch left empty, if they still are. */
static void od_park_tables(struct od_batch *b)
{
	unsigned int i;

	b->nr_tables = 0;
	for (i = 0; i < b->nr_queued; i++) {
		unsigned long vaddr = b->queued[i];
		struct vmemmap_od_window *w = od_window_of(vaddr);
		struct page *table;
		pmd_t *pmd, pmdval;

		/*
		 * Only a registered window's tables are sure to exist (and
		 * stay: unregistration frees them after taking our lock).
		 */
		if (!w)
			continue;
		pmd = od_pmd(vaddr);
		pmdval = pmd ? READ_ONCE(*pmd) : __pmd(0);
		if (!pmd_present(pmdval) || pmd_leaf(pmdval))
			continue;
		table = pmd_page(pmdval);
		if (!od_table_empty(table) ||
		    !vmemmap_od_cmpxchg_pmd(pmd, pmdval,
					    vmemmap_od_mk_parked_pmd(table)))
			continue;
		b->table[b->nr_tables] = table;
		b->pmd[b->nr_tables] = pmd;
		b->twin[b->nr_tables++] = w;
		b->start = min(b->start, vaddr);
		b->end = max(b->end, vaddr + PMD_SIZE);
	}
	b->nr_queued = 0;
}

/* Forget the queued tables of a window that goes. */
void od_unqueue_window(struct od_batch *b, struct vmemmap_od_window *w)
{
	unsigned long start = od_vaddr(w->start_pfn), end = od_vaddr(w->end_pfn);
	unsigned int i, n = 0;

	lockdep_assert_held(&od_reclaim_lock);
	for (i = 0; i < b->nr_queued; i++)
		if (b->queued[i] < start || b->queued[i] >= end)
			b->queued[n++] = b->queued[i];
	b->nr_queued = n;
}

/* Remember the PTE table of @vaddr for the next batch. */
static void od_queue_table(struct od_batch *b, unsigned long vaddr)
{
	unsigned int i;

	vaddr &= PMD_MASK;
	for (i = 0; i < b->nr_queued; i++)
		if (b->queued[i] == vaddr)
			return;
	/* Full (batches whose tables could not be parked): the table stays. */
	if (b->nr_queued < ARRAY_SIZE(b->queued))
		b->queued[b->nr_queued++] = vaddr;
}

#if IS_ENABLED(CONFIG_VMEMMAP_OD_KUNIT_TEST)
/**
 * vmemmap_od_kunit_parked - a parked vmemmap page, just before the flush
 * @page: the vmemmap page (its direct-map alias is page_address(@page))
 *
 * Does nothing. The KUnit tests stub it (kunit_activate_static_stub(),
 * which redirects only the test's own task: reclaim it runs through
 * drop_slab()) to write through the alias what a CPU with a stale TLB
 * entry could write then. Called under od_reclaim_lock, maybe under
 * mmap_read_lock(&init_mm), preemptible: a stub must not sleep.
 */
void vmemmap_od_kunit_parked(struct page *page)
{
	KUNIT_STATIC_STUB_REDIRECT(vmemmap_od_kunit_parked, page);
}

static void od_before_flush(struct od_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_pages; i++)
		vmemmap_od_kunit_parked(b->page[i]);
}
#else
static inline void od_before_flush(struct od_batch *b)
{
}
#endif

/*
 * debugfs vmemmap_od/flush_pages: shoot a batch down page by page, one IPI
 * to every CPU running flush_tlb_one_kernel() for each parked page (what
 * flush_tlb_kernel_range() does for up to tlb_single_page_flush_ceiling
 * pages, 33 by default), instead of the full flush it makes of a longer
 * range, which a full batch of 64 always is. For make bench, which
 * measures both. Only batches that park no PTE table: INVLPG drops the
 * paging-structure caches of the current PCID only. Both ways every CPU
 * takes the IPI and the reclaimer waits for it: the IRQs-off installs and
 * GUP-fast rely on that (see the top of core.c); a broadcast flush without
 * IPIs would not do. The addresses are the pages' page_private(), which
 * od_finish() clears only after the flush.
 */
bool od_flush_pages;

static void od_flush_pages_ipi(void *info)
{
	struct od_batch *b = info;
	unsigned int i;

	for (i = 0; i < b->nr_pages; i++)
		flush_tlb_one_kernel(page_private(b->page[i]) & PAGE_MASK);
}

/* Step 3: the batch's shootdown. */
static bool od_flush(struct od_batch *b)
{
	if (READ_ONCE(od_flush_pages) && !b->nr_tables) {
		on_each_cpu(od_flush_pages_ipi, b, true);
		return false;
	}
	flush_tlb_kernel_range(b->start, b->end);
	return true;
}

/* Step 4's unmap of a parked page, under @w->saved_lock. */
static bool od_unmap_parked(struct vmemmap_od_window *w, pte_t *pte, pte_t parked)
{
	bool ok;

	spin_lock_irq(&w->saved_lock);
	ok = vmemmap_od_cmpxchg_pte(pte, parked, __pte(0));
	spin_unlock_irq(&w->saved_lock);
	return ok;
}

/*
 * Steps 3 and 4, after the batch's TLB flush: free the pages that are still
 * rebuildable, put the others back; unhook the parked tables that are still
 * empty (freed after a grace period) and queue the tables of the freed
 * pages for the next batch. Returns the vmemmap pages freed.
 */
static unsigned int od_finish(struct od_batch *b, gfp_t gfp,
			      unsigned int *nr_put_back, unsigned int *nr_unhooked)
{
	unsigned int i, j, nr_freed = 0;

	for (i = 0; i < b->nr_pages; i++) {
		struct page *page = b->page[i];
		struct vmemmap_od_window *w = b->pwin[i];
		unsigned long vaddr = page_private(page) & PAGE_MASK;
		unsigned long pfn = page_to_pfn((struct page *)vaddr);
		const unsigned long nr = od_nr_struct_pages(w, pfn);
		const struct page *cur = page_address(page);
		pte_t parked = vmemmap_od_mk_parked_pte(page);
		bool same = true;

		if (b->uniform[i]) {
			for (j = 0; j < nr && same; j++)
				same = !memcmp(&cur[j], w->tmpl, sizeof(*cur));
		} else {
			same = !memcmp(b->img + i * OD_STRUCT_PAGES, cur,
				       nr * sizeof(*cur));
		}
		/*
		 * The state is saved before the page goes, and
		 * vmemmap_od_forget_dax() finds it saved or the page parked.
		 */
		if (same && !od_head_busy(w, pfn) &&
		    !od_save(w, pfn, b->uniform[i] ? NULL : &b->runs[i], gfp) &&
		    od_unmap_parked(w, b->pte[i], parked)) {
			atomic_long_dec(od_table_count(virt_to_page(b->pte[i])));
			atomic_long_dec(&od_lra_nr);
			set_page_private(page, 0);
			__free_page(page);
			od_account(w, -1, 0);
			b->freed[nr_freed++] = vaddr;
			continue;
		}
		/* Written since it was parked, or a fault put it back already. */
		od_save(w, pfn, NULL, gfp);
		if (vmemmap_od_cmpxchg_pte(b->pte[i], parked, vmemmap_od_mk_pte(page))) {
			count_vm_event(VMEMMAP_OD_PUT_BACK);
			(*nr_put_back)++;
		}
		list_add_tail(&page->lru, &od_lra);
	}

	for (i = 0; i < b->nr_tables; i++) {
		struct page *table = b->table[i];
		pmd_t parked = vmemmap_od_mk_parked_pmd(table);

		if (od_table_empty(table) &&
		    vmemmap_od_cmpxchg_pmd(b->pmd[i], parked, __pmd(0))) {
			b->dying[b->nr_dying] = table;
			b->dwin[b->nr_dying++] = b->twin[i];
			/* Starts one if none is under way: nobody waits for it. */
			b->dying_gp = start_poll_synchronize_rcu();
			(*nr_unhooked)++;
			continue;
		}
		if (vmemmap_od_cmpxchg_pmd(b->pmd[i], parked, vmemmap_od_mk_pmd(table))) {
			count_vm_event(VMEMMAP_OD_PUT_BACK);
			(*nr_put_back)++;
		}
	}

	b->nr_tables = 0;
	for (i = 0; i < nr_freed; i++)
		od_queue_table(b, b->freed[i]);
	return nr_freed;
}

/*
 * Free the unhooked PTE tables once no fault handler can hold them, with
 * any page a late handler installed in one: such a handler counted it in
 * the table before installing it, and it was never reachable. Returns the
 * pages freed. Without @wait, only if the grace period is over already.
 */
unsigned long od_free_dying(struct od_batch *b, bool wait)
{
	unsigned long freed = 0;
	unsigned int i, j;

	if (!b->nr_dying)
		return 0;
	if (!poll_state_synchronize_rcu(b->dying_gp)) {
		if (!wait)
			return 0;
		cond_synchronize_rcu(b->dying_gp);
	}
	/* Such a page was pushed to od_lra_new before its handler left RCU. */
	od_lra_drain();
	for (i = 0; i < b->nr_dying; i++) {
		struct page *table = b->dying[i];
		pte_t *pte = page_address(table);

		for (j = 0; j < PTRS_PER_PTE && !od_table_empty(table); j++) {
			pte_t entry = ptep_get(pte + j);
			struct page *page;

			if (pte_none(entry) || WARN_ON_ONCE(!pte_present(entry)))
				continue;
			page = pte_page(entry);
			atomic_long_dec(od_table_count(table));
			od_lra_del(page);
			__free_page(page);
			od_account(b->dwin[i], -1, 0);
			count_vm_event(VMEMMAP_OD_RECLAIMED);
			freed++;
		}
		set_page_private(table, 0);
		__free_page(table);
		od_account(b->dwin[i], 0, -1);
		freed++;
	}
	b->nr_dying = 0;
	return freed;
}

/* Tables wait for their grace period: the reclaimer frees them after it. */
static bool od_dying_pending;

void od_note_dying(struct od_batch *b)
{
	WRITE_ONCE(od_dying_pending, b->nr_dying != 0);
}

/* Free the unhooked tables whose grace period is over. */
static void od_reap_dying(void)
{
	mutex_lock(&od_reclaim_lock);
	if (od_batch) {
		od_free_dying(od_batch, false);
		od_note_dying(od_batch);
	}
	mutex_unlock(&od_reclaim_lock);
}

/*
 * Reclaim vmemmap pages, oldest first, until @nr_to_scan were looked at, or
 * the resident memmap is at most @low pages besides PTE tables in their
 * grace period, or none is left; and the PTE tables they leave empty. The
 * pages last found live are looked at only if @live: first (they are the
 * oldest), each at most once. Returns the pages (and tables) freed;
 * *@ran_out says whether the pass stopped for want of pages to look at
 * (what is left was found live), rather than at @low or after @nr_to_scan.
 * With a blocking @gfp, it may wait for an RCU grace period, holding
 * od_reclaim_lock.
 */
static unsigned long od_reclaim(unsigned long nr_to_scan, long low, gfp_t gfp,
				bool live, bool *ran_out)
{
	long nr_live = live ? atomic_long_read(&od_live_nr) : 0;
	struct od_batch *b = od_batch;
	unsigned long freed = 0;

	lockdep_assert_held(&od_reclaim_lock);
	od_lra_drain();
	freed += od_free_dying(b, false);
	for (;;) {
		unsigned int nr_freed, nr_put_back = 0, nr_unhooked = 0;
		u64 t0 = local_clock();
		u64 flush_ns;
		bool full;
		bool tables;

		b->nr_pages = 0;
		b->start = ULONG_MAX;
		b->end = 0;
		*ran_out = false;
		/*
		 * Tables waiting for their grace period go by themselves:
		 * taking more pages, the newest included, frees them no
		 * sooner (make stress, PREEMPT and KASAN: grace periods long
		 * enough that dying tables alone kept the memmap over the low
		 * mark, and every pass took the page a consumer had just
		 * populated, before it could touch it).
		 */
		while (b->nr_pages < OD_BATCH &&
		       od_resident_pages() - b->nr_dying > low) {
			struct list_head *from;
			struct page *page;

			/* Faults that came during the pass are candidates too. */
			if (list_empty(&od_lra))
				od_lra_drain();
			if (!nr_to_scan) {
				break;
			} else if (nr_live > 0 && !list_empty(&od_live)) {
				from = &od_live;
				nr_live--;
			} else if (!list_empty(&od_lra)) {
				from = &od_lra;
			} else {
				*ran_out = true;
				break;
			}
			page = list_first_entry(from, struct page, lru);
			nr_to_scan--;
			if (!od_park_page(b, page))
				list_move_tail(&page->lru, page_private(page) & OD_LIVE ?
					       &od_live : &od_lra);
		}
		/* Queued tables wait for a batch of pages to share its flush. */
		if (!b->nr_pages) {
			long resident = od_resident_pages();

			/*
			 * Over @low only by those dying tables: where it may
			 * sleep, a pass waits for their (normal) grace period,
			 * its producers still throttled, and looks again.
			 */
			if (b->nr_dying && resident > low &&
			    resident - b->nr_dying <= low &&
			    gfpflags_allow_blocking(gfp)) {
				freed += od_free_dying(b, true);
				continue;
			}
			break;
		}
		/*
		 * Not while ptdump walks the kernel page tables (it holds
		 * mmap_write_lock(&init_mm)): it may be reading a table we
		 * unhook. The shrinker only tries: it may run in an
		 * allocation made under mmap_read_lock(&init_mm) (hugetlb's
		 * vmemmap_remap_range() splitting a PMD), where a blocking
		 * read behind a queued ptdump writer would deadlock. What it
		 * cannot unhook stays queued for later, as do the tables of a
		 * batch that would not fit among those waiting for their
		 * grace period (see below).
		 */
		tables = b->nr_queued && b->nr_dying <= OD_BATCH &&
			 (gfpflags_allow_blocking(gfp) ?
			  (mmap_read_lock(&init_mm), true) :
			  mmap_read_trylock(&init_mm));
		if (tables)
			od_park_tables(b);

		od_before_flush(b);
		flush_ns = local_clock();
		full = od_flush(b);
		flush_ns = local_clock() - flush_ns;
		count_vm_event(VMEMMAP_OD_SHOOTDOWNS);

		nr_freed = od_finish(b, gfp, &nr_put_back, &nr_unhooked);
		if (tables)
			mmap_read_unlock(&init_mm);
		count_vm_events(VMEMMAP_OD_RECLAIMED, nr_freed);
		freed += nr_freed;
		trace_vmemmap_od_reclaim(nr_freed, nr_unhooked, nr_put_back,
					 local_clock() - t0, flush_ns, full);
		if (wq_has_sleeper(&od_throttle_wq))
			wake_up_all(&od_throttle_wq);
		/*
		 * Unhooked tables are freed once their grace period (started
		 * when they were unhooked) is over. Where it may sleep, when
		 * another batch's tables would not fit, a pass waits for it:
		 * a normal grace period, never an expedited one.
		 */
		freed += od_free_dying(b, b->nr_dying > OD_BATCH &&
				       gfpflags_allow_blocking(gfp));
		cond_resched();
	}
	od_note_dying(b);
	return freed;
}

/*
 * Bring the resident memmap down to the low watermark. The pages last
 * found live are looked at again with @live, and otherwise once every
 * OD_RESCAN_MAX at most (od_live_next), so that those that went idle are
 * reclaimed in their turn even while other pages are there to take.
 * Returns what was freed.
 */
static unsigned long od_reclaim_budget(bool live)
{
	static unsigned long od_live_next = INITIAL_JIFFIES;	/* under od_reclaim_lock */
	unsigned long budget, freed = 0;
	bool ran_out;

	mutex_lock(&od_reclaim_lock);
	budget = READ_ONCE(od_budget);
	if (budget && od_batch) {
		if (time_after_eq(jiffies, od_live_next))
			live = true;
		if (live) {
			od_live_next = jiffies + OD_RESCAN_MAX;
			od_live_passes++;
		}
		freed = od_reclaim(atomic_long_read(&od_lra_nr),
				   budget - OD_LOW, GFP_KERNEL, live, &ran_out);
		/*
		 * Stuck: still over the mark, and nothing was freed or nothing
		 * is left to look at (a pass that chases producers is not).
		 */
		WRITE_ONCE(od_stuck_at, (ran_out || !freed) && od_over_mark() ?
			   od_resident_pages() : 0);
	}
	mutex_unlock(&od_reclaim_lock);
	wake_up_all(&od_throttle_wq);
	return freed;
}

/*
 * The reclaimer: an ordinary kernel thread (producers that outrun it are
 * throttled, so it needs no real-time priority). It runs a budget pass
 * whenever the memmap goes over the high watermark; when a pass found
 * nothing to take and the memmap stays over the mark, it rescans the live
 * pages, after OD_RESCAN_MIN and then less often, up to OD_RESCAN_MAX. It
 * waits for no expedited grace period: PTE tables a pass unhooked are freed
 * by a later batch; a pass waits for a normal grace period only when its
 * dying tables would overflow, or alone keep the memmap over the low mark;
 * the reclaimer frees what is left OD_RESCAN_MIN after the last pass.
 */
int od_reclaimd_fn(void *unused)
{
	unsigned long backoff = OD_RESCAN_MIN;

	while (!kthread_should_stop()) {
		set_current_state(TASK_IDLE);
		if (od_over_high()) {
			__set_current_state(TASK_RUNNING);
			od_reclaim_budget(false);
			cond_resched();
			continue;
		}
		/* Under the mark; over it, not od_over_high() means stuck. */
		if (!od_over_mark()) {
			backoff = OD_RESCAN_MIN;
			if (!READ_ONCE(od_dying_pending)) {
				schedule();
			} else if (!schedule_timeout(OD_RESCAN_MIN)) {
				__set_current_state(TASK_RUNNING);
				od_reap_dying();
			}
			continue;
		}
		/* Woken early (a batch more, a new budget): look again. */
		if (schedule_timeout(backoff))
			continue;
		if (od_reclaim_budget(true))
			backoff = OD_RESCAN_MIN;
		else
			backoff = min_t(unsigned long, 2 * backoff, OD_RESCAN_MAX);
	}
	return 0;
}

/*
 * The live pages count for a sixteenth: most of them stay live, but the
 * shrinker is what finds those that went idle when there is no budget.
 */
unsigned long od_shrink_count(struct shrinker *shrinker,
			      struct shrink_control *sc)
{
	long live = atomic_long_read(&od_live_nr);
	long nr = atomic_long_read(&od_lra_nr) - live + live / 16;

	return nr > 0 ? nr : 0;
}

unsigned long od_shrink_scan(struct shrinker *shrinker,
			     struct shrink_control *sc)
{
	unsigned long freed = 0;
	bool ran_out;

	/* The reclaimer is at it already (or allocating, under the lock). */
	if (!mutex_trylock(&od_reclaim_lock))
		return SHRINK_STOP;
	if (od_batch)
		freed = od_reclaim(sc->nr_to_scan, LONG_MIN,
				   GFP_NOWAIT | __GFP_NOWARN, true, &ran_out);
	/* Room was made: a stuck budget pass may succeed again. */
	if (freed)
		WRITE_ONCE(od_stuck_at, 0);
	mutex_unlock(&od_reclaim_lock);
	return freed ?: SHRINK_STOP;
}

/* The reclaimer's batch, while any window exists. Under od_lock. */
int od_batch_alloc(void)
{
	struct od_batch *b = kvzalloc(sizeof(*b), GFP_KERNEL);

	if (!b)
		return -ENOMEM;
	b->img = vmalloc(OD_BATCH * PAGE_SIZE);
	if (!b->img) {
		kvfree(b);
		return -ENOMEM;
	}
	mutex_lock(&od_reclaim_lock);
	od_batch = b;
	mutex_unlock(&od_reclaim_lock);
	return 0;
}

void od_batch_free(void)
{
	struct od_batch *b;

	mutex_lock(&od_reclaim_lock);
	b = od_batch;
	od_batch = NULL;
	mutex_unlock(&od_reclaim_lock);
	if (b)
		vfree(b->img);
	kvfree(b);
}

/* === Public interface === */

/**
 * vmemmap_od_congested - should a producer of struct page faults back off?
 *
 * True while the resident on-demand memmap is over the high watermark of
 * budget_kb (two reclaim batches under it) and the reclaimer can still
 * bring it down. Cheap; callable from any context. A producer that can
 * stop at such a point, but not sleep there, stops, leaves its atomic
 * section and calls vmemmap_od_throttle().
 *
 * Return: true if the producer should back off.
 */
bool vmemmap_od_congested(void)
{
	return od_over_high();
}
EXPORT_SYMBOL_GPL(vmemmap_od_congested);

/**
 * vmemmap_od_throttle - wait for the reclaimer while the memmap is congested
 *
 * The fault handler never waits, so kernel code that faults in struct
 * pages at full speed on every CPU can outrun the reclaimer. Code that
 * faults in many of them from a context that can sleep calls this between
 * steps, as writers call balance_dirty_pages_ratelimited(): it returns at
 * once unless vmemmap_od_congested(), else wakes the reclaimer and sleeps
 * until the memmap is back under the high watermark, the budget goes, or
 * the reclaimer finds nothing more it may take.
 *
 * Return: 0, or -EINTR if a fatal signal arrived meanwhile.
 */
int vmemmap_od_throttle(void)
{
	might_sleep();
	if (!od_over_high())
		return 0;
	od_wake_reclaimd();
	return wait_event_killable(od_throttle_wq, !od_over_high()) ? -EINTR : 0;
}
EXPORT_SYMBOL_GPL(vmemmap_od_throttle);

/*
 * How long a task that went over the high watermark may be held on its way
 * back to user space: 10 ms per batch the memmap is over it, up to 1 s.
 */
#define OD_USER_PENALTY_MS	10
#define OD_USER_PENALTY_MAX	HZ

/**
 * __vmemmap_od_handle_over_high - throttle a task that went over the mark
 *
 * Called by resume_user_mode_work() when TIF_NOTIFY_RESUME is set. If the
 * current task populated vmemmap pages while the memmap was over its high
 * watermark (od_note_over_high()) and it still is, wake the reclaimer and
 * sleep until the memmap is back under the mark, for at most a time that
 * grows with how far it is over: however many threads produce, each one
 * waits for the reclaimer before it can fault in more, so the memmap stays
 * within one batch of the budget (and the reclaimer's stall rules still
 * apply: when it finds nothing more to take, nobody waits). A fatal signal
 * ends the wait.
 */
void __vmemmap_od_handle_over_high(void)
{
	long timeout;

	if (likely(!current->vmemmap_od_over_high))
		return;
	current->vmemmap_od_over_high = 0;
	if (!od_over_high())
		return;
	timeout = min_t(long, OD_USER_PENALTY_MAX,
			msecs_to_jiffies(OD_USER_PENALTY_MS) *
			DIV_ROUND_UP(od_over_mark(), OD_BATCH));
	count_vm_event(VMEMMAP_OD_USER_THROTTLED);
	od_wake_reclaimd();
	wait_event_killable_timeout(od_throttle_wq, !od_over_high(), timeout);
}
