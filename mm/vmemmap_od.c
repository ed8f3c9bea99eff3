// SPDX-License-Identifier: GPL-2.0
/*
 * On-demand vmemmap for device memory.
 *
 * A dev_pagemap with PGMAP_ON_DEMAND gets no memmap when it is bound: its
 * vmemmap window (the struct pages of its pfns, at the fixed addresses
 * pfn_to_page() computes) is registered here and left unmapped. The first
 * access to a struct page in the window faults, and vmemmap_od_fault(),
 * called from the arch kernel fault handler, allocates a vmemmap page,
 * initialises its 64 struct pages as memmap_init_zone_device() would, maps
 * it and returns, so the access is retried and succeeds. pfn_to_page()
 * stays pure arithmetic. A reclaimer unmaps idle vmemmap pages again, least
 * recently allocated first, to keep the memmap under a budget and under
 * memory pressure.
 *
 * Who populates. Code that hands out device pfns populates their struct
 * pages where it may still sleep, before it takes any lock, with
 * vmemmap_od_populate(): the DAX fault paths (before dax_associate_entry()
 * and dax_set_mapping()), slow GUP (a follow that finds a struct page not
 * mapped returns to __get_user_pages(), which populates and retries),
 * memory_failure(). GUP-fast checks vmemmap_od_pfn_mapped() and falls back
 * to slow GUP. pfn walkers skip ZONE_DEVICE pfns (pfn_to_online_page()).
 * What is left for the fault path is code with no sleepable point: debug
 * and dump readers, get_kernel_nofault() users, code not known here, and
 * a consumer whose page reclaim took again between its populate and its
 * touch. vmemmap_od_atomic_faults counts those.
 *
 * Contexts. The fault can come from any code that touches a struct page:
 * process context, spinlocks held (zone->lock, an rq lock), IRQs off,
 * softirq, hardirq, NMI. So the fault path never sleeps, takes no lock,
 * never waits for the reclaimer and never enters the page allocator (not
 * even GFP_NOWAIT, which wakes kswapd and takes zone->lock):
 *  - page-table levels down to the PMD tables are created at registration
 *    (sleepable), and synced to all page tables there; a fault only ever
 *    fills a PMD entry (with a PTE table) and a PTE;
 *  - entries are installed with cmpxchg; a CPU that loses a race gives its
 *    page back and returns (vmemmap_od_lost_installs), and the access is
 *    retried through the winner's mapping; not-present to present needs
 *    no TLB flush;
 *  - a new vmemmap page is initialised through its direct-map address
 *    before its PTE is installed, so no CPU ever sees it half made (x86
 *    stores are ordered, and the cmpxchg is a full barrier);
 *  - pages come only from a per-CPU reserve of the window's node, taken
 *    and refilled with atomic xchg/cmpxchg on its slots (safe against NMIs
 *    and remote refills), sized for a fault in each of four nested
 *    contexts, and refilled synchronously by vmemmap_od_populate() and
 *    vmemmap_od_preload(), by a worker kicked through irq_work, and for a
 *    CPU coming online before it runs; a page a fault cannot give back
 *    goes to a lock-free list the worker frees;
 *  - a new vmemmap page joins the reclaimer's LRA list through a lock-free
 *    llist.
 * When the reserve is empty the fault is not served: vmemmap_od_fault()
 * returns false and the access takes the ordinary bad-kernel-access path
 * (an exception-table fixup for get_kernel_nofault() and friends; an oops
 * otherwise, reported once with its context first).
 * vmemmap_od_fault_failed counts these.
 *
 * Reclaim. One reclaimer at a time (od_reclaim_lock): the vmemmap_od
 * kthread when the resident memmap nears budget_kb, or the shrinker. It
 * takes vmemmap pages oldest first and reclaims those whose struct pages
 * hold nothing a fault could not write again: they must be byte-identical
 * to what the fault path would build, which is memmap_init_zone_device()'s
 * image, plus, for DAX pages (fsdax and device-dax), the state their users
 * store and never clear: page->mapping and page->index, a function of
 * where a file's extent or a device-dax range lies, and the flags GUP and
 * the block layer set (OD_SAVED_FLAGS). That state is saved, compactly,
 * per vmemmap page (struct od_saved), counts as resident memmap, and is
 * written back by the fault that rebuilds the page. When fsdax clears a
 * mapping (truncate, inode eviction: dax_disassociate_entry()), a page
 * that is not resident is left alone and its saved mapping dropped
 * (vmemmap_od_forget_dax()). Anything else (a reference, a pin, a shared
 * fsdax page, poison, a compound page's mapcounts) keeps the page
 * resident, on a list of live pages that
 * is rescanned only while the reclaimer is stuck over budget. Producers
 * that outrun it are throttled: kernel code in vmemmap_od_throttle(), user
 * space on its way back to it (__vmemmap_od_handle_over_high()).
 *
 * The race protocol. A vmemmap page P, mapped at PTE e, is reclaimed thus:
 *  1. check P; if it holds live state, skip it (vmemmap_od_live_skipped);
 *  2. park e: cmpxchg it from "maps P" to "parked P", an entry that is not
 *     present but still names P;
 *  3. for a batch of parked pages, one flush_tlb_kernel_range(): from now
 *     on no CPU reaches P through the vmemmap, and every write made through
 *     a stale TLB entry before the flush is visible to us;
 *  4. check P again; if it is still rebuildable, cmpxchg e from "parked P"
 *     to empty and free P; otherwise cmpxchg e back to "maps P"
 *     (vmemmap_od_put_back).
 * A CPU that touches P after step 2 faults, finds e parked and puts P back
 * with cmpxchg ("parked P" to "maps P"; vmemmap_od_rescued), then retries.
 * So an access either reaches P before step 4's cmpxchg, which then fails
 * or sees its write and keeps P, or faults after it and gets a fresh page
 * built from the same image (the init image and, for DAX pages, the state
 * saved before step 4; see vmemmap_od_forget_dax() for state that fsdax
 * clears meanwhile): no update is lost, no CPU keeps a TLB entry
 * to a freed page, and the fault handler never waits: it only ever does a
 * cmpxchg the reclaimer may have beaten. Only the reclaimer parks, so a
 * parked entry cannot come back under a stale fault's cmpxchg (and if P
 * was freed, refaulted at the same address and parked again, putting it
 * back is right).
 *
 * PTE tables are reclaimed the same way at the PMD: a table a batch left
 * empty is parked with the next batch, checked empty again after that
 * batch's flush (which also drops the paging-structure caches that could
 * still reach it) and unhooked. A fault handler may still hold a pointer to
 * the table, read before it was parked, so it is freed only after an RCU
 * grace period (fault handlers run inside rcu_read_lock(), with IRQs off);
 * a page such a handler installed in it after the check was never
 * reachable by any CPU, holds only its initial image and is freed with the
 * table. Between two passes no entry is parked; unhooked tables may wait
 * for their grace period, and unregistration frees them first.
 *
 * Other walkers of the kernel page tables. ptdump (debugfs page_tables,
 * the W+X check) walks them under get_online_mems() and
 * mmap_write_lock(&init_mm), and reads a PTE table it found without any
 * other protection; the grace period above does not cover it. So a batch
 * parks and unhooks PTE tables under mmap_read_lock(&init_mm): a table
 * unhooked was not being walked, and a later walk cannot find it. The
 * shrinker only tries the lock (it may run in an allocation by the walker
 * itself) and otherwise leaves the tables queued. Registration and
 * unregistration run under mem_hotplug_begin(), which excludes ptdump and
 * every other creator or remover of vmemmap tables (memory hot-add and
 * hot-remove: vmemmap_populate() and vmemmap_free()). vmemmap_free()
 * keeps any table that serves a registered window, so a window's tables
 * down to the PMD tables live exactly as long as the window, whatever
 * happens around it (vmemmap_od_in_range()). A parked entry reads as not
 * present to every walker.
 *
 * Lifetime. Windows are found through an xarray indexed by section under
 * RCU. Unregistering a window removes it from the xarray, waits for an RCU
 * grace period, then, under od_reclaim_lock, takes its pages off the LRA
 * list and unmaps and frees them after one TLB flush. The caller
 * (memunmap_pages()) has waited for all pgmap references to go, so nobody
 * legitimately touches the struct pages any more.
 */
#include <kunit/static_stub.h>
#include <linux/cpuhotplug.h>
#include <linux/delay.h>
#include <linux/extable.h>
#include <linux/fault-inject.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/kobject.h>
#include <linux/kthread.h>
#include <linux/llist.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/page-isolation.h>
#include <linux/pgtable.h>
#include <linux/resume_user_mode.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/vmalloc.h>
#include <linux/vmemmap_od.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/tlbflush.h>
#include <asm/vmemmap_od.h>

#include "internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/vmemmap_od.h>

/* === Data === */

#define OD_STRUCT_PAGES		(PAGE_SIZE / sizeof(struct page))
/* Vmemmap pages parked per TLB shootdown, and the watermark step. */
#define OD_BATCH		64
/* The smallest budget: room for the watermarks and a few batches. */
#define OD_BUDGET_MIN_KB	(4 * OD_BATCH * (PAGE_SIZE / SZ_1K))
/*
 * Page flags that GUP (folio_mark_accessed(), MGLRU's folio_inc_refs()),
 * the block layer (bio_set_pages_dirty() after an O_DIRECT read) and page
 * waiters leave on DAX pages, which are on no LRU and which nothing else
 * reads: a rebuild writes them back as they were (struct od_saved).
 */
#ifdef CONFIG_LRU_GEN
#define OD_LRU_REFS		LRU_REFS_MASK
#else
#define OD_LRU_REFS		0UL
#endif
#define OD_SAVED_FLAGS		(BIT(PG_dirty) | BIT(PG_referenced) |		\
				 BIT(PG_active) | BIT(PG_workingset) |		\
				 BIT(PG_waiters) | OD_LRU_REFS)
/* Counters of faults building DAX pages, per window (one cache line). */
#define OD_BUILDING_SLOTS	16
/* How long vmemmap_od_forget_dax() waits for such a fault, in cpu_relax(). */
#define OD_FORGET_SPINS		10000

/**
 * struct vmemmap_od_window - the on-demand vmemmap of one pgmap range
 * @pgmap: the range's dev_pagemap
 * @range_id: index of the range in @pgmap
 * @start_pfn: first pfn of the range (section aligned)
 * @end_pfn: pfn after the range (section aligned)
 * @nid: node the struct pages are initialised for
 * @nr_tables: upper page-table pages created at registration
 * @nr_pages: vmemmap pages mapped by faults
 * @nr_pte_tables: PTE tables installed by faults
 * @tmpl: what init writes in every struct page of the window, when that
 *	is the same for all of them (no compound pages); else NULL
 * @idle_head_ref: refcount of an idle compound head (compound pages only)
 * @saved: (pfn - @start_pfn) / OD_STRUCT_PAGES -> struct od_saved: the DAX
 *	state a fault writes back when it rebuilds that vmemmap page; stored
 *	by the reclaimer before the page goes, dropped once it is back
 * @saved_lock: orders vmemmap_od_forget_dax() against the reclaimer's
 *	unmapping of a page whose state it saved
 * @building: faults between reading @saved and installing the page they
 *	built from it, by vmemmap page index modulo OD_BUILDING_SLOTS (see
 *	vmemmap_od_forget_dax())
 * @list: in od_windows_list, under od_lock
 */
struct vmemmap_od_window {
	struct dev_pagemap *pgmap;
	int range_id;
	unsigned long start_pfn;
	unsigned long end_pfn;
	int nid;
	unsigned long nr_tables;
	atomic_long_t nr_pages;
	atomic_long_t nr_pte_tables;
	struct page *tmpl;
	int idle_head_ref;
	struct xarray saved;
	spinlock_t saved_lock;		/* see vmemmap_od_forget_dax() */
	atomic_t building[OD_BUILDING_SLOTS];
	struct list_head list;
};

/* Section number -> window; read under RCU by the fault path. */
static DEFINE_XARRAY(od_windows);
/* Serialises registration and unregistration. */
static DEFINE_MUTEX(od_lock);
static LIST_HEAD(od_windows_list);

DEFINE_STATIC_KEY_FALSE(vmemmap_od_active);
/*
 * The bounds is_vmemmap_od_address() checks. Two slots: the unpublished one
 * is rewritten, published, and reused only after a grace period, so a
 * reader never sees a half-written pair.
 */
static struct vmemmap_od_bounds od_bounds_slot[2];
const struct vmemmap_od_bounds *vmemmap_od_bounds = &od_bounds_slot[0];

/* Mapped on-demand memmap, page tables included, in pages. */
static atomic_long_t od_resident;
/* Memory of the saved DAX state (struct od_saved), in bytes. */
static atomic_long_t od_saved_bytes;
/* The high-water mark of od_resident_pages() since resident_max_kb was reset. */
static atomic_long_t od_resident_max;

/*
 * The fault path's pages. A fault in one context can be interrupted by a
 * fault in a nested one (task, softirq, hardirq, NMI) before the refill
 * runs, and each may need a PTE table and a vmemmap page: room for two
 * such accesses per level. Known consumers populate in sleepable context
 * first (vmemmap_od_populate()), so the reserve only serves code that has
 * no sleepable point, and is refilled at those points and by a worker.
 */
#define OD_NEST_LEVELS		4
#define OD_RESERVE_SLOTS	(OD_NEST_LEVELS * 2 * 2)

/* One CPU's pages of one node. Slots are taken and filled with xchg/cmpxchg. */
struct od_reserve {
	struct page *slot[OD_RESERVE_SLOTS];
};

/*
 * Per node, the per-CPU reserves, allocated when the node's first window
 * registers and kept (empty) after its last one goes, so that the fault
 * path needs no lock to find them. od_node_windows[] counts the windows of
 * each node (under od_lock): reserves are filled only while it is not 0.
 */
static struct od_reserve __percpu **od_reserves;
static unsigned int *od_node_windows;
/* Pages a fault could not put back into a full reserve; freed by the worker. */
static LLIST_HEAD(od_spare);
static void od_kick(struct irq_work *work);
static DEFINE_PER_CPU(struct irq_work, od_kick_irq_work) =
	IRQ_WORK_INIT_HARD(od_kick);
static void od_refill_workfn(struct work_struct *work);
static DECLARE_WORK(od_refill_work, od_refill_workfn);
/*
 * Unbound, so that another CPU refills the reserve of one that faults in a
 * loop without scheduling; with a rescuer, as it refills under pressure.
 */
static struct workqueue_struct *od_wq;

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
static LIST_HEAD(od_lra);		/* under od_reclaim_lock */
static LIST_HEAD(od_live);		/* under od_reclaim_lock */
static DEFINE_MUTEX(od_reclaim_lock);
static atomic_long_t od_lra_nr;		/* pages on all three lists */
static atomic_long_t od_live_nr;	/* of which on od_live */
#define OD_RESCAN_MIN		(HZ / 10)
#define OD_RESCAN_MAX		HZ

/* budget_kb in pages; 0: no budget. */
static unsigned long od_budget;
/* Resident size at which a pass last got stuck over the mark. */
static long od_stuck_at;
static struct task_struct *od_reclaimd;
/* Producers waiting in vmemmap_od_throttle(). */
static DECLARE_WAIT_QUEUE_HEAD(od_throttle_wq);

/**
 * struct od_run - struct pages of one vmemmap page that carry the same DAX
 *	state beyond their init image
 * @mask: which of the OD_STRUCT_PAGES struct pages; after the run is
 *	published, bits are only ever cleared (vmemmap_od_forget_dax())
 * @mapping: a mapping run: their page->mapping, and
 * @delta: their page->index - pfn
 * @flags: a flag run: their page->flags ^ the image's, in OD_SAVED_FLAGS
 */
struct od_run {
	unsigned long mask;
	union {
		struct address_space *mapping;
		unsigned long flags;
	};
	unsigned long delta;
};

/**
 * struct od_saved - the DAX state of a reclaimed vmemmap page's struct
 *	pages that the fault which rebuilds the page writes back
 * @rcu: freed after a grace period: faults read it under RCU
 * @nr_mapping: mapping runs, at the start of @run
 * @nr_runs: all runs
 * @run: runs of struct pages with the same mapping and index - pfn (an
 *	fsdax extent, a device-dax range), then runs with the same flags
 *
 * An fsdax file's pages get their mapping and index in
 * dax_associate_entry(), device-dax pages in dax_set_mapping(): both are a
 * function of where the pages lie, so a contiguous extent gives one run
 * per vmemmap page, however large the file. Fragmented pages get more runs
 * (at most one per struct page). A reference, a pin, poison or a shared
 * (reflinked) fsdax page cannot be rebuilt and keeps its page resident.
 */
struct od_saved {
	struct rcu_head rcu;
	unsigned short nr_mapping;
	unsigned short nr_runs;
	struct od_run run[] __counted_by(nr_runs);
};

/**
 * struct od_runs - the DAX state of one vmemmap page being reclaimed
 * @nr_mapping: runs in @mapping
 * @nr_flags: runs in @flags
 * @mapping: its mapping runs
 * @flags: its flag runs
 */
struct od_runs {
	unsigned short nr_mapping;
	unsigned short nr_flags;
	struct od_run mapping[OD_STRUCT_PAGES];
	struct od_run flags[OD_STRUCT_PAGES];
};

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

static struct od_batch *od_batch;	/* under od_reclaim_lock */

static DECLARE_FAULT_ATTR(fail_vmemmap_od);

/* vmemmap_on_demand=off: refuse new windows (and ondemand namespaces). */
static bool od_disabled __ro_after_init;

static int __init od_setup(char *str)
{
	bool on;

	if (kstrtobool(str, &on))
		return -EINVAL;
	od_disabled = !on;
	return 0;
}
early_param("vmemmap_on_demand", od_setup);

/* === Internals === */

static unsigned long od_vaddr(unsigned long pfn)
{
	return (unsigned long)pfn_to_page(pfn);
}

static bool od_node_active(int nid)
{
	/* Pairs with the release in od_node_get(): od_reserves[nid] is set. */
	return smp_load_acquire(&od_node_windows[nid]);
}

static struct od_reserve *od_reserve_of(int cpu, int nid)
{
	return per_cpu_ptr(READ_ONCE(od_reserves[nid]), cpu);
}

/*
 * Fill the empty slots of @cpu's reserve of node @nid with pages from that
 * node. A page put in after the node's last window went is taken out
 * again (od_node_put() sets the count to 0 before it drains).
 */
static int od_reserve_fill_cpu(int cpu, int nid, gfp_t gfp)
{
	struct od_reserve *r = od_reserve_of(cpu, nid);
	int i;

	for (i = 0; i < OD_RESERVE_SLOTS; i++) {
		struct page *page;

		if (READ_ONCE(r->slot[i]))
			continue;
		page = alloc_pages_node(nid, gfp | __GFP_NOWARN, 0);
		if (!page)
			return -ENOMEM;
		if (cmpxchg(&r->slot[i], NULL, page)) {
			__free_page(page);
			continue;
		}
		if (!od_node_active(nid)) {
			page = xchg(&r->slot[i], NULL);
			if (page)
				__free_page(page);
			return 0;
		}
	}
	return 0;
}

/* Fill @cpu's reserves of every node that has a window. */
static int od_reserve_fill_nodes(int cpu, gfp_t gfp)
{
	int nid, ret = 0;

	for_each_node(nid)
		if (od_node_active(nid))
			ret = od_reserve_fill_cpu(cpu, nid, gfp) ?: ret;
	return ret;
}

static void od_reserve_drain_cpu(int cpu, int nid)
{
	struct od_reserve *r = od_reserve_of(cpu, nid);
	int i;

	for (i = 0; i < OD_RESERVE_SLOTS; i++) {
		struct page *page = xchg(&r->slot[i], NULL);

		if (page)
			__free_page(page);
	}
}

/* Free the pages faults could not put back. */
static void od_spare_free(void)
{
	struct llist_node *node = llist_del_all(&od_spare);

	while (node) {
		struct page *page = container_of((struct list_head *)node,
						 struct page, lru);

		node = node->next;
		__free_page(page);
	}
}

/*
 * A window of node @nid comes. Under od_lock; may sleep. The reserves of
 * this node are filled for every online CPU before the window can fault.
 */
static int od_node_get(int nid)
{
	int cpu;

	lockdep_assert_held(&od_lock);
	if (!od_reserves[nid]) {
		struct od_reserve __percpu *r = alloc_percpu(struct od_reserve);

		if (!r)
			return -ENOMEM;
		WRITE_ONCE(od_reserves[nid], r);
	}
	/* Pairs with the acquire in od_node_active(): od_reserves[nid] is set. */
	smp_store_release(&od_node_windows[nid], od_node_windows[nid] + 1);
	for_each_online_cpu(cpu)
		od_reserve_fill_cpu(cpu, nid, GFP_KERNEL);
	return 0;
}

/* A window of node @nid went, and no fault can still see it. Under od_lock. */
static void od_node_put(int nid)
{
	int cpu;

	lockdep_assert_held(&od_lock);
	WRITE_ONCE(od_node_windows[nid], od_node_windows[nid] - 1);
	if (od_node_windows[nid])
		return;
	/* Pairs with the cmpxchg in od_reserve_fill_cpu(). */
	smp_mb();
	for_each_possible_cpu(cpu)
		od_reserve_drain_cpu(cpu, nid);
}

static void od_refill_workfn(struct work_struct *work)
{
	int cpu;

	od_spare_free();
	/*
	 * No cpus_read_lock(): unregistration cancels this work under it. A
	 * CPU that goes meanwhile is drained by od_cpu_dead() or, if filled
	 * after that, when the node's last window goes.
	 */
	for_each_online_cpu(cpu)
		od_reserve_fill_nodes(cpu, GFP_KERNEL);
}

/*
 * CPU hotplug: a CPU gets its reserves before it runs anything (and again
 * once it is up, for a node whose first window came meanwhile). Never
 * fails the bring-up: what could not be had, the worker fills later.
 */
static int od_cpu_prepare(unsigned int cpu)
{
	if (od_reserve_fill_nodes(cpu, GFP_KERNEL))
		queue_work(od_wq, &od_refill_work);
	return 0;
}

/*
 * ... and gives them back once it is dead. A refill that comes after this
 * is drained when the node's last window goes. A kick still pending on it
 * is harmless: it runs when the CPU comes back.
 */
static int od_cpu_dead(unsigned int cpu)
{
	int nid;

	for_each_node(nid)
		if (od_reserves[nid])
			od_reserve_drain_cpu(cpu, nid);
	return 0;
}

/*
 * Watermarks under a budget B: a fault that takes the resident memmap over
 * B - OD_HIGH wakes the reclaimer, which brings it down to B - OD_LOW. The
 * headroom above the high watermark is for what CPUs fault in before the
 * reclaimer gets to run (a CPU with IRQs off does not even see the kick).
 */
#define OD_HIGH			(2 * OD_BATCH)
#define OD_LOW			(3 * OD_BATCH)

/* The resident memmap in pages: mapped, page tables and saved state. */
static long od_resident_pages(void)
{
	return atomic_long_read(&od_resident) +
	       DIV_ROUND_UP(max(atomic_long_read(&od_saved_bytes), 0L), PAGE_SIZE);
}

/* Pages the resident memmap is over the high watermark; 0 without a budget. */
static long od_over_mark(void)
{
	unsigned long budget = READ_ONCE(od_budget);
	long over = od_resident_pages() - (long)(budget - OD_HIGH);

	return budget && over > 0 ? over : 0;
}

static bool od_over_high(void)
{
	/*
	 * After a pass that freed nothing, or found nothing left to look at,
	 * with the memmap still over the mark (what is left is live), wait
	 * for a batch more: nobody is throttled for what it cannot take.
	 */
	return od_over_mark() &&
	       od_resident_pages() >= READ_ONCE(od_stuck_at) + OD_BATCH;
}

static void od_wake_reclaimd(void)
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
static void od_note_over_high(void)
{
	if (!od_over_high() || !in_task() || !current->mm ||
	    (current->flags & (PF_KTHREAD | PF_IO_WORKER)))
		return;
	current->vmemmap_od_over_high++;
	set_notify_resume(current);
}

/* irq_work: queueing work and waking tasks is not allowed from NMI, this is. */
static void od_kick(struct irq_work *work)
{
	queue_work(od_wq, &od_refill_work);
	od_wake_reclaimd();
}

/**
 * struct od_src - where od_populate() takes its pages from
 * @reserve: this CPU's reserve of the window's node (the fault path, which
 *	must not enter the page allocator: it may run under zone->lock, an
 *	rq lock, in NMI); else @spare
 * @spare: pages vmemmap_od_populate() allocated beforehand, where it could
 *	sleep; what od_populate() did not use stays here
 */
struct od_src {
	bool reserve;
	struct page *spare[2];
};

/*
 * A page for od_populate(). From the reserve with IRQs off, in any context:
 * never the page allocator. Kicks the refill.
 */
static struct page *od_page_get(struct od_src *src, int nid)
{
	struct od_reserve *r;
	struct page *page = NULL;
	int i;

	if (!src->reserve) {
		for (i = 0; i < ARRAY_SIZE(src->spare) && !page; i++)
			page = xchg(&src->spare[i], NULL);
		return page;
	}
	/*
	 * Fault injection: an empty reserve. Not in NMI (should_fail() takes a
	 * local_lock for its random numbers), never reporting (printk under
	 * the locks a fault may come with), and only while armed: a task's
	 * fail-nth must not fail an ordinary access.
	 */
	if (unlikely(READ_ONCE(fail_vmemmap_od.probability)) && !in_nmi() &&
	    should_fail_ex(&fail_vmemmap_od, PAGE_SIZE, FAULT_NOWARN))
		return NULL;
	r = this_cpu_ptr(READ_ONCE(od_reserves[nid]));
	for (i = 0; i < OD_RESERVE_SLOTS && !page; i++)
		page = xchg(&r->slot[i], NULL);
	/*
	 * Kick the refill once a nesting level's share of the reserve is
	 * gone (slots are taken, and refilled, lowest first), not for every
	 * page taken; and the reclaimer when over the high watermark.
	 */
	if (!page || !READ_ONCE(r->slot[OD_RESERVE_SLOTS / OD_NEST_LEVELS - 1]) ||
	    od_over_high())
		irq_work_queue(this_cpu_ptr(&od_kick_irq_work));
	return page;
}

/* Give back a page od_populate() did not use. */
static void od_page_put(struct od_src *src, int nid, struct page *page)
{
	struct od_reserve *r;
	int i;

	if (!src->reserve) {
		for (i = 0; i < ARRAY_SIZE(src->spare); i++)
			if (!cmpxchg(&src->spare[i], NULL, page))
				return;
		WARN_ON_ONCE(1);
		return;
	}
	r = this_cpu_ptr(READ_ONCE(od_reserves[nid]));
	for (i = 0; i < OD_RESERVE_SLOTS; i++)
		if (!cmpxchg(&r->slot[i], NULL, page))
			return;
	/* The slot it came from was refilled meanwhile: the worker frees it. */
	llist_add((struct llist_node *)&page->lru, &od_spare);
	irq_work_queue(this_cpu_ptr(&od_kick_irq_work));
}

static void od_account(struct vmemmap_od_window *w, long pages, long pte_tables)
{
	long resident = atomic_long_add_return(pages + pte_tables, &od_resident) +
			DIV_ROUND_UP(max(atomic_long_read(&od_saved_bytes), 0L), PAGE_SIZE);
	long max = atomic_long_read(&od_resident_max);

	atomic_long_add(pages, &w->nr_pages);
	atomic_long_add(pte_tables, &w->nr_pte_tables);
	memmap_pages_add(pages);
	while (resident > max &&
	       !atomic_long_try_cmpxchg(&od_resident_max, &max, resident))
		;
}

/* The PMD entry covering @vaddr; the levels above exist for any window. */
static pmd_t *od_pmd(unsigned long vaddr)
{
	pgd_t *pgd = pgd_offset_k(vaddr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, vaddr);
	if (p4d_none(*p4d))
		return NULL;
	pud = pud_offset(p4d, vaddr);
	if (pud_none(*pud) || pud_leaf(*pud))
		return NULL;
	return pmd_offset(pud, vaddr);
}

/* The PTE for @vaddr in the PTE table a present @pmdval points to. */
static pte_t *od_pte(pmd_t pmdval, unsigned long vaddr)
{
	return (pte_t *)pmd_page_vaddr(pmdval) + pte_index(vaddr);
}

/* The window of a vmemmap address, or NULL. Under RCU or od_reclaim_lock. */
static struct vmemmap_od_window *od_window_of(unsigned long vaddr)
{
	unsigned long pfn = page_to_pfn((struct page *)vaddr);
	struct vmemmap_od_window *w = xa_load(&od_windows, pfn_to_section_nr(pfn));

	return w && pfn >= w->start_pfn && pfn < w->end_pfn ? w : NULL;
}

/* Windows whose struct pages DAX users give state a rebuild restores. */
static bool od_is_dax(struct vmemmap_od_window *w)
{
	return w->pgmap->type == MEMORY_DEVICE_FS_DAX ||
	       w->pgmap->type == MEMORY_DEVICE_GENERIC;
}

/* The struct pages of the vmemmap page at @pfn (the first one's pfn). */
static unsigned long od_nr_struct_pages(struct vmemmap_od_window *w,
					unsigned long pfn)
{
	return min_t(unsigned long, OD_STRUCT_PAGES, w->end_pfn - pfn);
}

/* The index in @w->saved of the vmemmap page of @pfn. */
static unsigned long od_saved_index(struct vmemmap_od_window *w, unsigned long pfn)
{
	return (pfn - w->start_pfn) / OD_STRUCT_PAGES;
}

/* The count of faults building the vmemmap page of @pfn (and others). */
static atomic_t *od_building(struct vmemmap_od_window *w, unsigned long pfn)
{
	return &w->building[od_saved_index(w, pfn) % OD_BUILDING_SLOTS];
}

/*
 * Build in @map what the fault path writes for the vmemmap page at @pfn:
 * memmap_init_zone_device()'s struct pages, then the DAX state in @saved.
 */
static void od_build(struct vmemmap_od_window *w, struct page *map,
		     unsigned long pfn, const struct od_saved *saved)
{
	unsigned int r, i;

	BUILD_BUG_ON(OD_STRUCT_PAGES > BITS_PER_LONG);
	memmap_init_zone_device_pages(map, pfn, od_nr_struct_pages(w, pfn),
				      w->start_pfn, w->nid, w->pgmap);
	if (!saved)
		return;
	for (r = 0; r < saved->nr_runs; r++) {
		const struct od_run *run = &saved->run[r];
		unsigned long mask = READ_ONCE(run->mask);

		for_each_set_bit(i, &mask, OD_STRUCT_PAGES) {
			if (r < saved->nr_mapping) {
				map[i].mapping = run->mapping;
				map[i].index = pfn + i + run->delta;
			} else {
				map[i].flags ^= run->flags;
			}
		}
	}
}

/* A PTE table's count of PTEs that are not empty: its page->private. */
static atomic_long_t *od_table_count(struct page *table)
{
	BUILD_BUG_ON(sizeof(atomic_long_t) != sizeof(table->private));
	return (atomic_long_t *)&table->private;
}

/* Put the LRA link of a freshly mapped vmemmap page on od_lra_new. */
static void od_lra_add(struct page *page, unsigned long vaddr)
{
	set_page_private(page, vaddr);
	llist_add((struct llist_node *)&page->lru, &od_lra_new);
	atomic_long_inc(&od_lra_nr);
}

/*
 * Populate the vmemmap page at @vaddr, whose first struct page is @pfn's,
 * with pages from @src. Under RCU (the PTE table stays allocated, see the
 * top). Returns true when the access can be retried: the page is mapped
 * (by us, by a racing CPU, or put back from reclaim), or something moved
 * under us and the retry will fault again; false when @src had no page.
 */
static bool od_populate(struct vmemmap_od_window *w, unsigned long vaddr,
			unsigned long pfn, struct od_src *src)
{
	u64 t0 = local_clock();
	pmd_t *pmd = od_pmd(vaddr);
	bool dax = od_is_dax(w);
	pmd_t pmdval;
	pte_t *pte, pteval;
	struct page *page;

	if (WARN_ON_ONCE(!pmd))
		return false;
	pmdval = READ_ONCE(*pmd);
	if (pmd_none(pmdval)) {
		struct page *table = od_page_get(src, w->nid);

		if (!table)
			return false;
		clear_page(page_address(table));
		if (vmemmap_od_cmpxchg_pmd(pmd, pmdval, vmemmap_od_mk_pmd(table))) {
			od_account(w, 0, 1);
		} else {
			od_page_put(src, w->nid, table);
			count_vm_event(VMEMMAP_OD_LOST_INSTALLS);
		}
		pmdval = READ_ONCE(*pmd);
	} else if (!pmd_present(pmdval)) {
		/* Parked by the reclaimer: put the same table back. */
		if (vmemmap_od_cmpxchg_pmd(pmd, pmdval,
					   vmemmap_od_mk_pmd(pmd_page(pmdval))))
			count_vm_event(VMEMMAP_OD_RESCUED);
		return true;
	}
	if (!pmd_present(pmdval))
		return true;
	if (WARN_ON_ONCE(pmd_leaf(pmdval)))
		return false;

	/* The table stays allocated until we leave RCU (see the top). */
	pte = od_pte(pmdval, vaddr);
	pteval = ptep_get(pte);
	if (pte_present(pteval))
		return true;
	if (!pte_none(pteval)) {
		/* Parked by the reclaimer: put the same page back. */
		if (vmemmap_od_cmpxchg_pte(pte, pteval,
					   vmemmap_od_mk_pte(pte_page(pteval))))
			count_vm_event(VMEMMAP_OD_RESCUED);
		return true;
	}

	page = od_page_get(src, w->nid);
	if (!page)
		return false;
	if (dax) {
		atomic_inc(od_building(w, pfn));
		/* Seen by vmemmap_od_forget_dax() before we read the state. */
		smp_mb__after_atomic();
	}
	od_build(w, page_address(page), pfn,
		 dax ? xa_load(&w->saved, od_saved_index(w, pfn)) : NULL);
	/* Counted before it is installed: see od_free_dying(). */
	atomic_long_inc(od_table_count(pmd_page(pmdval)));
	if (!vmemmap_od_cmpxchg_pte(pte, pteval, vmemmap_od_mk_pte(page))) {
		if (dax)
			atomic_dec(od_building(w, pfn));
		atomic_long_dec(od_table_count(pmd_page(pmdval)));
		od_page_put(src, w->nid, page);
		count_vm_event(VMEMMAP_OD_LOST_INSTALLS);
		return true;
	}
	/* Ordered after the install (the cmpxchg is a full barrier). */
	if (dax)
		atomic_dec(od_building(w, pfn));
	od_account(w, 1, 0);
	od_lra_add(page, vaddr);
	od_note_over_high();
	count_vm_event(VMEMMAP_OD_FAULTS);
	if (src->reserve)
		count_vm_event(VMEMMAP_OD_ATOMIC_FAULTS);

	/* What memmap_init_zone_device() does per pageblock; now mapped. */
	if (IS_ALIGNED(pfn, pageblock_nr_pages))
		set_pageblock_migratetype(pfn_to_page(pfn), MIGRATE_MOVABLE);

	trace_vmemmap_od_fault(pfn, od_nr_struct_pages(w, pfn),
			       local_clock() - t0, src->reserve);
	return true;
}

/* Is the vmemmap page at @vaddr of a window mapped? Under RCU. */
static bool od_vaddr_mapped(unsigned long vaddr)
{
	pmd_t *pmd = od_pmd(vaddr);
	pmd_t pmdval;

	if (!pmd)
		return false;
	pmdval = READ_ONCE(*pmd);
	return pmd_present(pmdval) && !pmd_leaf(pmdval) &&
	       pte_present(ptep_get(od_pte(pmdval, vaddr)));
}

/* The pfn of the head of @pfn's compound page (@pfn without compound pages). */
static unsigned long od_head_pfn(struct vmemmap_od_window *w, unsigned long pfn)
{
	unsigned long nr = 1UL << w->pgmap->vmemmap_shift;

	return w->start_pfn + round_down(pfn - w->start_pfn, nr);
}

/* Tries of od_populate_gfp() against a reclaimer that takes the page again. */
#define OD_POPULATE_TRIES	4

static bool od_vaddr_mapped_rcu(unsigned long vaddr)
{
	bool mapped;

	rcu_read_lock();
	mapped = od_vaddr_mapped(vaddr);
	rcu_read_unlock();
	return mapped;
}

/*
 * Populate the vmemmap page at @vaddr with pages allocated with @gfp (which
 * may sleep) first, then installed under RCU. -EAGAIN if reclaim took it
 * again each time: the access that follows faults and is served from the
 * reserve.
 */
static int od_populate_gfp(struct vmemmap_od_window *w, unsigned long vaddr,
			   struct od_src *src, gfp_t gfp)
{
	unsigned long pfn = page_to_pfn((struct page *)vaddr);
	unsigned long flags;
	int tries, i;
	bool ok;

	for (tries = 0; tries < OD_POPULATE_TRIES; tries++) {
		if (od_vaddr_mapped_rcu(vaddr))
			return 0;
		for (i = 0; i < ARRAY_SIZE(src->spare); i++) {
			if (src->spare[i])
				continue;
			src->spare[i] = alloc_pages_node(w->nid, gfp | __GFP_NOWARN, 0);
			if (!src->spare[i])
				return -ENOMEM;
		}
		/*
		 * As in the fault handler, with IRQs off: a reclaimer's TLB
		 * flush waits for us, so what we install from empty was built
		 * from saved state that is still current (see
		 * vmemmap_od_forget_dax()), and no page of ours lands in a
		 * table the reclaimer checked empty after its flush.
		 */
		local_irq_save(flags);
		rcu_read_lock();
		ok = od_populate(w, vaddr, pfn, src) && od_vaddr_mapped(vaddr);
		rcu_read_unlock();
		local_irq_restore(flags);
		if (ok)
			return 0;
	}
	return -EAGAIN;
}

static struct vmemmap_od_window *od_find(struct dev_pagemap *pgmap, int range_id)
{
	struct vmemmap_od_window *w;

	lockdep_assert_held(&od_lock);
	list_for_each_entry(w, &od_windows_list, list)
		if (w->pgmap == pgmap && w->range_id == range_id)
			return w;
	return NULL;
}

/* Publish the bounds of the current windows. Under od_lock; may sleep. */
static void od_update_bounds(void)
{
	struct vmemmap_od_bounds *b = &od_bounds_slot[vmemmap_od_bounds == od_bounds_slot];
	unsigned long lo = ULONG_MAX, hi = 0;
	struct vmemmap_od_window *w;

	list_for_each_entry(w, &od_windows_list, list) {
		lo = min(lo, od_vaddr(w->start_pfn));
		hi = max(hi, od_vaddr(w->end_pfn));
	}
	b->lo = hi ? lo : 0;
	b->span = hi ? hi - lo : 0;
	/* Pairs with READ_ONCE() in is_vmemmap_od_address(): b is complete. */
	smp_store_release(&vmemmap_od_bounds, b);
	/* Readers of the old slot are done before it is rewritten. */
	synchronize_rcu();
}

/*
 * Create the page-table levels down to the PMD tables for [start, end) of
 * the vmemmap, and count the pages that took. On failure what was created
 * stays, as after a failed vmemmap_populate(). A table shared with another
 * window is counted by the window that created it.
 */
static int od_populate_tables(struct vmemmap_od_window *w, unsigned long start,
			      unsigned long end)
{
	unsigned long addr, next;

	for (addr = start; addr < end; addr = next) {
		pgd_t *pgd = pgd_offset_k(addr);
		p4d_t *p4d;
		pud_t *pud;
		pmd_t *pmd;
		unsigned long a;

		next = pud_addr_end(addr, end);
		w->nr_tables += pgd_none(*pgd);
		pgd = vmemmap_pgd_populate(addr, w->nid);
		if (!pgd)
			return -ENOMEM;
		p4d = p4d_offset(pgd, addr);
		w->nr_tables += p4d_none(*p4d);
		p4d = vmemmap_p4d_populate(pgd, addr, w->nid);
		if (!p4d)
			return -ENOMEM;
		pud = pud_offset(p4d, addr);
		w->nr_tables += pud_none(*pud);
		pud = vmemmap_pud_populate(p4d, addr, w->nid);
		if (!pud)
			return -ENOMEM;
		if (pud_leaf(*pud))
			return -EBUSY;
		/* Nobody else may have mapped any of the window. */
		for (a = addr; a < next; a += PMD_SIZE) {
			pmd = pmd_offset(pud, a);
			if (!pmd_none(*pmd))
				return -EBUSY;
		}
	}
	arch_sync_kernel_mappings(start, end);
	return 0;
}

/*
 * Unmap and free every page the window's faults populated, with one TLB
 * flush before anything is freed. The window is no longer findable.
 */
static void od_free_resident(struct vmemmap_od_window *w)
{
	unsigned long start = od_vaddr(w->start_pfn), end = od_vaddr(w->end_pfn);
	long nr_pages = 0, nr_tables = 0;
	unsigned long addr;
	LIST_HEAD(freelist);
	struct page *page, *next;

	for (addr = start; addr < end; addr += PMD_SIZE) {
		pmd_t *pmd = od_pmd(addr);
		pte_t *pte;
		int i;

		/* Nothing is parked between two reclaim passes. */
		if (!pmd || pmd_none(*pmd) || WARN_ON_ONCE(!pmd_present(*pmd)))
			continue;
		pte = pte_offset_kernel(pmd, addr);
		for (i = 0; i < PTRS_PER_PTE; i++) {
			pte_t entry = ptep_get_and_clear(&init_mm, addr + i * PAGE_SIZE,
							 pte + i);

			if (pte_none(entry) || WARN_ON_ONCE(!pte_present(entry)))
				continue;
			set_page_private(pte_page(entry), 0);
			list_add(&pte_page(entry)->lru, &freelist);
			nr_pages++;
		}
		set_page_private(pmd_page(*pmd), 0);
		list_add(&pmd_page(*pmd)->lru, &freelist);
		pmd_clear(pmd);
		nr_tables++;
		cond_resched();
	}
	flush_tlb_kernel_range(start, end);
	list_for_each_entry_safe(page, next, &freelist, lru)
		__free_page(page);
	od_account(w, -nr_pages, -nr_tables);
}

/* === Reclaim === */

static int od_save(struct vmemmap_od_window *w, unsigned long pfn,
		   const struct od_runs *runs, gfp_t gfp);

/* Does the vmemmap PTE at @vaddr map @page? Under od_reclaim_lock. */
static bool od_maps(unsigned long vaddr, struct page *page)
{
	pmd_t *pmd = od_pmd(vaddr);
	pmd_t pmdval = pmd ? READ_ONCE(*pmd) : __pmd(0);

	return pmd_present(pmdval) && !pmd_leaf(pmdval) &&
	       pte_same(ptep_get(od_pte(pmdval, vaddr)), vmemmap_od_mk_pte(page));
}

/* Move what faults pushed since the last call to od_lra's tail, oldest first. */
static void od_lra_drain(void)
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
static void od_lra_del_window(struct list_head *list, struct vmemmap_od_window *w)
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

/* Add struct page @i to the run of @runs (@nr of them) for @key, @delta. */
static void od_run_add(struct od_run *runs, unsigned short *nr,
		       unsigned long key, unsigned long delta, unsigned int i)
{
	unsigned int r;

	for (r = 0; r < *nr; r++)
		if (runs[r].flags == key && runs[r].delta == delta)
			break;
	if (r == *nr) {
		runs[r].mask = 0;
		runs[r].flags = key;
		runs[r].delta = delta;
		(*nr)++;
	}
	runs[r].mask |= BIT(i);
}

/*
 * Can @cur, struct page @i of a DAX window's vmemmap page at @pfn, which
 * differs from its init image @img, be rebuilt? If so, make @img the same
 * and add what it takes to @runs.
 */
static bool od_rebuildable_dax(struct vmemmap_od_window *w, unsigned long pfn,
			       unsigned int i, const struct page *cur,
			       struct page *img, struct od_runs *runs)
{
	struct address_space *mapping = READ_ONCE(cur->mapping);
	unsigned long index = READ_ONCE(cur->index);
	unsigned long flags = READ_ONCE(cur->flags) ^ img->flags;

	if (!od_is_dax(w) || (flags & ~OD_SAVED_FLAGS))
		return false;
	if (mapping != img->mapping) {
		/*
		 * Not over a tail's TAIL_MAPPING or a folio's fields in its
		 * second page, not a shared fsdax page.
		 */
		if (img->mapping || (READ_ONCE(img->compound_head) & 1) ||
		    ((unsigned long)mapping & PAGE_MAPPING_FLAGS))
			return false;
		od_run_add(runs->mapping, &runs->nr_mapping,
			   (unsigned long)mapping, index - (pfn + i), i);
	} else if (index != img->index) {
		return false;
	}
	if (flags)
		od_run_add(runs->flags, &runs->nr_flags, flags, 0, i);
	img->flags ^= flags;
	img->mapping = mapping;
	img->index = index;
	return !memcmp(img, cur, sizeof(*img));
}

/* Saved state of @nr_runs runs takes this much memory. */
static size_t od_saved_size(unsigned int nr_runs)
{
	return kmalloc_size_roundup(struct_size_t(struct od_saved, run, nr_runs));
}

/*
 * Would a fault rebuild the vmemmap page @cur, whose first struct page is
 * @pfn's, byte for byte? Its rebuild image is @w's template in every
 * struct page (*@uniform), or is built in @img, with the DAX state it
 * needs in @runs (see struct od_saved).
 */
static bool od_rebuildable(struct vmemmap_od_window *w, unsigned long pfn,
			   const struct page *cur, struct page *img,
			   struct od_runs *runs, bool *uniform)
{
	const unsigned long nr = od_nr_struct_pages(w, pfn);
	unsigned long i;

	runs->nr_mapping = 0;
	runs->nr_flags = 0;
	*uniform = false;
	if (w->tmpl) {
		for (i = 0; i < nr; i++)
			if (memcmp(&cur[i], w->tmpl, sizeof(*cur)))
				break;
		*uniform = i == nr;
		if (*uniform || !od_is_dax(w))
			return *uniform;
	}
	od_build(w, img, pfn, NULL);
	for (i = 0; i < nr; i++)
		if (memcmp(&img[i], &cur[i], sizeof(*img)) &&
		    !od_rebuildable_dax(w, pfn, i, &cur[i], &img[i], runs))
			return false;
	/* So fragmented that saving it would save little: it stays. */
	return od_saved_size(runs->nr_mapping + runs->nr_flags) <= PAGE_SIZE / 4;
}

static void od_saved_free(struct od_saved *saved)
{
	if (!saved)
		return;
	atomic_long_sub(od_saved_size(saved->nr_runs), &od_saved_bytes);
	kfree_rcu(saved, rcu);
}

/* Drop all of @w's saved state: no fault can reach @w any more. */
static void od_saved_destroy(struct vmemmap_od_window *w)
{
	struct od_saved *saved;
	unsigned long idx;

	xa_for_each(&w->saved, idx, saved) {
		atomic_long_sub(od_saved_size(saved->nr_runs), &od_saved_bytes);
		kfree(saved);
	}
	xa_destroy(&w->saved);
}

/*
 * Record @runs for the vmemmap page at @pfn, for the fault that rebuilds
 * it; with none, drop what was recorded. What was there before belonged to
 * a page that is mapped, and goes.
 */
static int od_save(struct vmemmap_od_window *w, unsigned long pfn,
		   const struct od_runs *runs, gfp_t gfp)
{
	unsigned int nr_runs = runs ? runs->nr_mapping + runs->nr_flags : 0;
	unsigned long idx = od_saved_index(w, pfn);
	struct od_saved *saved, *old;

	if (!nr_runs) {
		if (!xa_load(&w->saved, idx))
			return 0;
		spin_lock_irq(&w->saved_lock);
		old = xa_erase(&w->saved, idx);
		spin_unlock_irq(&w->saved_lock);
		od_saved_free(old);
		return 0;
	}
	saved = kmalloc(struct_size(saved, run, nr_runs), gfp | __GFP_NOWARN);
	if (!saved)
		return -ENOMEM;
	saved->nr_mapping = runs->nr_mapping;
	saved->nr_runs = nr_runs;
	memcpy(saved->run, runs->mapping, runs->nr_mapping * sizeof(*saved->run));
	memcpy(saved->run + runs->nr_mapping, runs->flags,
	       runs->nr_flags * sizeof(*saved->run));
	old = xa_store_irq(&w->saved, idx, saved, gfp);
	if (xa_is_err(old)) {
		kfree(saved);
		return xa_err(old);
	}
	atomic_long_add(od_saved_size(nr_runs), &od_saved_bytes);
	od_saved_free(old);
	return 0;
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
 * Steps 1 and 2 of the protocol (top of file) for @page, the oldest on
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
static void od_unqueue_window(struct od_batch *b, struct vmemmap_od_window *w)
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
static unsigned long od_free_dying(struct od_batch *b, bool wait)
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

static void od_note_dying(struct od_batch *b)
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
		flush_tlb_kernel_range(b->start, b->end);
		count_vm_event(VMEMMAP_OD_SHOOTDOWNS);

		nr_freed = od_finish(b, gfp, &nr_put_back, &nr_unhooked);
		if (tables)
			mmap_read_unlock(&init_mm);
		count_vm_events(VMEMMAP_OD_RECLAIMED, nr_freed);
		freed += nr_freed;
		trace_vmemmap_od_reclaim(nr_freed, nr_unhooked, nr_put_back,
					 local_clock() - t0);
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
		if (live)
			od_live_next = jiffies + OD_RESCAN_MAX;
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
static int od_reclaimd_fn(void *unused)
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
static unsigned long od_shrink_count(struct shrinker *shrinker,
				     struct shrink_control *sc)
{
	long live = atomic_long_read(&od_live_nr);
	long nr = atomic_long_read(&od_lra_nr) - live + live / 16;

	return nr > 0 ? nr : 0;
}

static unsigned long od_shrink_scan(struct shrinker *shrinker,
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

/*
 * Without compound pages, init writes the same struct page for every pfn
 * of a window (with SPARSEMEM_VMEMMAP no pfn-dependent bits go into
 * page->flags): keep one copy, which reclaim compares pages with instead
 * of building their image. Checked on the first and last vmemmap page.
 */
static int od_make_template(struct vmemmap_od_window *w)
{
	unsigned long pfns[] = { w->start_pfn, w->end_pfn - OD_STRUCT_PAGES };
	struct page *img;
	int i, j;

	img = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!img)
		return -ENOMEM;
	if (w->pgmap->vmemmap_shift) {
		memmap_init_zone_device_pages(img, w->start_pfn, OD_STRUCT_PAGES,
					      w->start_pfn, w->nid, w->pgmap);
		w->idle_head_ref = page_ref_count(&img[0]);
		kfree(img);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(pfns); i++) {
		memmap_init_zone_device_pages(img, pfns[i], OD_STRUCT_PAGES,
					      w->start_pfn, w->nid, w->pgmap);
		for (j = 1; j < OD_STRUCT_PAGES; j++)
			if (memcmp(&img[j], &img[0], sizeof(*img)))
				goto out;
		if (i && memcmp(&img[0], w->tmpl, sizeof(*img)))
			goto out;
		if (!i)
			w->tmpl = kmemdup(img, sizeof(*img), GFP_KERNEL);
		if (!w->tmpl)
			break;
	}
	kfree(img);
	return 0;
out:
	kfree(w->tmpl);
	w->tmpl = NULL;
	kfree(img);
	return 0;
}

/* The reclaimer's batch, while any window exists. Under od_lock. */
static int od_batch_alloc(void)
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

static void od_batch_free(void)
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
 * vmemmap_od_supported - can a range get an on-demand memmap?
 *
 * Return: false if the kernel was booted with vmemmap_on_demand=off.
 */
bool vmemmap_od_supported(void)
{
	return !od_disabled;
}
EXPORT_SYMBOL_GPL(vmemmap_od_supported);

/**
 * vmemmap_od_in_range - does an on-demand window lie in a vmemmap range?
 * @start: first vmemmap address of the range
 * @end: address after the range
 *
 * For the architecture's vmemmap_free(), before it frees a page table whose
 * entries are all empty: the entries of a registered window are empty until
 * faults fill them, and the window's fault path relies on its tables staying
 * (it reads them without a lock), so such a table must stay. Called with
 * mem_hotplug_lock held, as registration and unregistration are.
 *
 * Return: true if the vmemmap of a registered window intersects [@start, @end).
 */
bool vmemmap_od_in_range(unsigned long start, unsigned long end)
{
	unsigned long base = (unsigned long)vmemmap;
	unsigned long max_pfn = 1UL << (MAX_PHYSMEM_BITS - PAGE_SHIFT);
	unsigned long lo, hi, idx;

	if (end <= base)
		return false;
	lo = start > base ? (start - base) / sizeof(struct page) : 0;
	hi = min(DIV_ROUND_UP(end - base, sizeof(struct page)), max_pfn);
	if (lo >= hi)
		return false;
	idx = pfn_to_section_nr(lo);
	return xa_find(&od_windows, &idx, pfn_to_section_nr(hi - 1), XA_PRESENT);
}

/**
 * vmemmap_od_register - make a pgmap range's memmap populate on demand
 * @pgmap: dev_pagemap with PGMAP_ON_DEMAND
 * @range_id: which of its ranges
 * @nid: node for the struct pages and the page tables
 *
 * Called by memremap_pages() under mem_hotplug_begin(), before the range's
 * sections are added. Creates the page-table levels the window needs down
 * to the PMD tables, so that a fault only fills PMD entries and PTEs, and
 * makes the window findable by the fault path. mem_hotplug_lock serialises
 * this with every other creation and removal of vmemmap page tables (memory
 * hot-add and hot-remove, other pgmaps, other windows), and the window then
 * keeps those tables for its lifetime: vmemmap_free() leaves a table that
 * serves a registered window (vmemmap_od_in_range()) in place, however
 * empty its entries.
 *
 * Return: 0, -EOPNOTSUPP if disabled on the command line, -EINVAL for a
 * range that is not section aligned or has an altmap, -EBUSY if part of
 * the window is mapped already, -ENOMEM.
 */
int vmemmap_od_register(struct dev_pagemap *pgmap, int range_id, int nid)
{
	struct range *range = &pgmap->ranges[range_id];
	unsigned long start_pfn = PHYS_PFN(range->start);
	unsigned long end_pfn = PHYS_PFN(range->end + 1);
	struct vmemmap_od_window *w;
	int ret;

	if (od_disabled) {
		pr_warn_once("vmemmap_od: disabled (vmemmap_on_demand=off, or not available here)\n");
		return -EOPNOTSUPP;
	}
	if (!IS_ALIGNED(start_pfn | end_pfn, PAGES_PER_SECTION) ||
	    pgmap_altmap(pgmap)) {
		pr_warn_once("vmemmap_od: %#llx-%#llx: on-demand memmap needs a section-aligned range without altmap\n",
			     range->start, range->end);
		return -EINVAL;
	}

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return -ENOMEM;
	w->pgmap = pgmap;
	w->range_id = range_id;
	w->start_pfn = start_pfn;
	w->end_pfn = end_pfn;
	w->nid = nid;
	/* Also changed under fsdax's i_pages lock, which IRQs take. */
	xa_init_flags(&w->saved, XA_FLAGS_LOCK_IRQ);
	spin_lock_init(&w->saved_lock);
	if (od_make_template(w)) {
		kfree(w);
		return -ENOMEM;
	}

	/*
	 * mem_hotplug_begin() holds cpu_hotplug_lock. Never disabled again:
	 * with no window the bounds are empty and the filter stays one compare.
	 */
	static_branch_enable_cpuslocked(&vmemmap_od_active);

	mutex_lock(&od_lock);
	if (list_empty(&od_windows_list)) {
		ret = od_batch_alloc();
		if (ret) {
			mutex_unlock(&od_lock);
			kfree(w->tmpl);
			kfree(w);
			return ret;
		}
	}
	ret = od_populate_tables(w, od_vaddr(start_pfn), od_vaddr(end_pfn));
	atomic_long_add(w->nr_tables, &od_resident);
	if (ret)
		goto err;
	/* The reserves of the node first: a fault may come once w is findable. */
	ret = od_node_get(nid);
	if (ret)
		goto err;
	ret = xa_err(xa_store_range(&od_windows, pfn_to_section_nr(start_pfn),
				    pfn_to_section_nr(end_pfn - 1), w,
				    GFP_KERNEL));
	if (ret)
		goto err_xa;
	list_add(&w->list, &od_windows_list);
	od_update_bounds();
	mutex_unlock(&od_lock);
	return 0;
err_xa:
	/* Part of the range may point to w: make sure no fault still sees it. */
	xa_store_range(&od_windows, pfn_to_section_nr(start_pfn),
		       pfn_to_section_nr(end_pfn - 1), NULL, GFP_KERNEL);
	synchronize_rcu();
	od_node_put(nid);
err:
	atomic_long_sub(w->nr_tables, &od_resident);
	/*
	 * Not findable: what od_populate_tables() created and nobody uses
	 * goes; not after -EBUSY, when part of the range is someone's memmap.
	 */
	if (ret != -EBUSY)
		vmemmap_free(od_vaddr(start_pfn), od_vaddr(end_pfn), NULL);
	if (list_empty(&od_windows_list))
		od_batch_free();
	mutex_unlock(&od_lock);
	kfree(w->tmpl);
	kfree(w);
	return ret;
}

/**
 * vmemmap_od_unregister - free an on-demand range's memmap
 * @pgmap: the dev_pagemap passed to vmemmap_od_register()
 * @range_id: which of its ranges
 *
 * Called by memremap_pages()'s teardown, under mem_hotplug_begin(), once
 * nobody holds a reference to @pgmap, before the range's sections are
 * removed. Frees every resident vmemmap page and PTE table, then the upper
 * page tables of the window that no other window or memmap uses.
 */
void vmemmap_od_unregister(struct dev_pagemap *pgmap, int range_id)
{
	struct vmemmap_od_window *w;

	mutex_lock(&od_lock);
	w = od_find(pgmap, range_id);
	if (WARN_ON_ONCE(!w)) {
		mutex_unlock(&od_lock);
		return;
	}
	xa_store_range(&od_windows, pfn_to_section_nr(w->start_pfn),
		       pfn_to_section_nr(w->end_pfn - 1), NULL, GFP_KERNEL);
	list_del(&w->list);
	/* Also waits out the faults that found the window (IRQs off = RCU). */
	od_update_bounds();

	mutex_lock(&od_reclaim_lock);
	od_free_dying(od_batch, true);
	od_note_dying(od_batch);
	od_unqueue_window(od_batch, w);
	od_lra_drain();
	od_lra_del_window(&od_lra, w);
	od_lra_del_window(&od_live, w);
	od_free_resident(w);
	mutex_unlock(&od_reclaim_lock);
	od_saved_destroy(w);

	/*
	 * No longer findable, so vmemmap_free() takes the window's empty
	 * tables for unused; those another window or memmap shares stay.
	 */
	vmemmap_free(od_vaddr(w->start_pfn), od_vaddr(w->end_pfn), NULL);
	atomic_long_sub(w->nr_tables, &od_resident);
	WRITE_ONCE(od_stuck_at, 0);
	od_node_put(w->nid);
	if (list_empty(&od_windows_list)) {
		int cpu;

		/*
		 * No fault can come any more: let no kick or refill linger. An
		 * offline CPU runs a kick it got while dying when it comes back.
		 */
		for_each_online_cpu(cpu)
			irq_work_sync(per_cpu_ptr(&od_kick_irq_work, cpu));
		cancel_work_sync(&od_refill_work);
		od_spare_free();
		od_batch_free();
	}
	mutex_unlock(&od_lock);
	kfree(w->tmpl);
	kfree(w);
}

/**
 * vmemmap_od_congested - should a producer of struct page faults back off?
 *
 * True while the resident on-demand memmap is over the high watermark of
 * budget_kb (two reclaim batches under it) and the reclaimer can still
 * bring it down. Cheap; callable from any context. A producer that can
 * stop at such a point, but not sleep there, stops, leaves its atomic
 * section and calls vmemmap_od_throttle().
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

/**
 * vmemmap_od_resident - is the struct page of a pfn mapped right now?
 * @pfn: a pfn in an on-demand window
 *
 * For tests: whether touching pfn_to_page(@pfn) would fault, found without
 * touching it. The answer may be stale as soon as it is returned.
 *
 * Return: 1 if mapped, 0 if not (parked counts as not), -EINVAL if @pfn is
 * in no window.
 */
int vmemmap_od_resident(unsigned long pfn)
{
	unsigned long vaddr = od_vaddr(pfn) & PAGE_MASK;
	int ret = -EINVAL;

	rcu_read_lock();
	if (od_window_of(vaddr))
		ret = od_vaddr_mapped(vaddr);
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(vmemmap_od_resident);

/**
 * __vmemmap_od_pfn_mapped - vmemmap_od_pfn_mapped() for a pfn in the bounds
 * @pfn: the pfn
 *
 * Return: false if @pfn is in an on-demand window and its struct page, or
 * that of its compound head, is not mapped; else true.
 */
bool __vmemmap_od_pfn_mapped(unsigned long pfn)
{
	struct vmemmap_od_window *w;
	bool ret = true;

	rcu_read_lock();
	w = od_window_of(od_vaddr(pfn));
	if (w) {
		ret = od_vaddr_mapped(od_vaddr(pfn) & PAGE_MASK);
		if (ret && w->pgmap->vmemmap_shift)
			ret = od_vaddr_mapped(od_vaddr(od_head_pfn(w, pfn)) & PAGE_MASK);
	}
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(__vmemmap_od_pfn_mapped);
NOKPROBE_SYMBOL(__vmemmap_od_pfn_mapped);

/* Is the vmemmap page at @vaddr neither mapped nor parked? Under RCU. */
static bool od_vaddr_none(unsigned long vaddr)
{
	pmd_t *pmd = od_pmd(vaddr);
	pmd_t pmdval;

	if (!pmd)
		return false;
	pmdval = READ_ONCE(*pmd);
	if (pmd_none(pmdval))
		return true;
	/*
	 * A parked table still names its table, which RCU keeps: a fault
	 * that found it present before it was parked may have installed a
	 * page in it since (the reclaimer puts such a table back).
	 */
	if (pmd_present(pmdval) && pmd_leaf(pmdval))
		return false;
	return pte_none(ptep_get(od_pte(pmdval, vaddr)));
}

/**
 * __vmemmap_od_forget_dax - vmemmap_od_forget_dax() for a pfn in the bounds
 * @pfn: the pfn
 * @mapping: the mapping its fsdax entry belongs to
 *
 * Return: true if @pfn's struct page is in an on-demand window, is not
 * resident, and its saved mapping and index are dropped; else false.
 */
bool __vmemmap_od_forget_dax(unsigned long pfn, struct address_space *mapping)
{
	unsigned long vaddr = od_vaddr(pfn) & PAGE_MASK;
	unsigned int i = pfn % OD_STRUCT_PAGES, r;
	struct vmemmap_od_window *w;
	struct od_saved *saved;
	unsigned long flags;
	bool none = false;
	int spins;

	rcu_read_lock();
	w = od_window_of(vaddr);
	if (!w || !od_is_dax(w))
		goto out;
	spin_lock_irqsave(&w->saved_lock, flags);
	saved = xa_load(&w->saved, od_saved_index(w, pfn));
	if (saved) {
		unsigned long left = 0;

		for (r = 0; r < saved->nr_mapping; r++) {
			if (test_bit(i, &saved->run[r].mask)) {
				WARN_ON_ONCE(saved->run[r].mapping != mapping);
				clear_bit(i, &saved->run[r].mask);
			}
		}
		for (r = 0; r < saved->nr_runs; r++)
			left |= READ_ONCE(saved->run[r].mask);
		/* The last of an evicted file's pages: the state goes. */
		if (!left && xa_cmpxchg(&w->saved, od_saved_index(w, pfn),
					saved, NULL, 0) == saved)
			od_saved_free(saved);
	}
	/*
	 * A fault that read the bit before we cleared it is counted in
	 * building until it has installed its page, and one that did not
	 * count itself yet reads it cleared (both sides: a full barrier
	 * between the write and the read). Under saved_lock, the reclaimer
	 * cannot unmap a page whose state it saved before we looked. While
	 * such a fault is under way (it never waits, so not for long), wait:
	 * it installs the page, or was building another one; giving up
	 * leaves the caller to write the struct page, which may take a page
	 * from the fault path's reserve.
	 */
	smp_mb();
	for (spins = 0; spins < OD_FORGET_SPINS; spins++) {
		int busy = atomic_read_acquire(od_building(w, pfn));

		if (!od_vaddr_none(vaddr))
			break;
		if (!busy) {
			none = true;
			break;
		}
		cpu_relax();
	}
	spin_unlock_irqrestore(&w->saved_lock, flags);
out:
	rcu_read_unlock();
	return none;
}

/**
 * vmemmap_od_populate - populate the struct pages of device pfns
 * @pfn: first pfn
 * @nr_pages: number of pfns
 * @gfp: allocation flags for the vmemmap pages and PTE tables; GFP_KERNEL
 *	may reclaim
 *
 * For code that hands out device pfns and is about to touch their struct
 * pages where it must not fault, or under a lock: call this before, where
 * @gfp may sleep, so that the fault path and its reserve are not needed
 * (GUP, DAX faults, memory_failure()). Populates the vmemmap pages holding
 * the struct pages of [@pfn, @pfn + @nr_pages) that lie in an on-demand
 * window, and the one of the head of @pfn's compound page, and tops up the
 * calling CPU's reserve. pfns in no window are skipped: one compare.
 *
 * The pfns are of one dev_pagemap; a reference to it is taken for the
 * time of the call. Reclaim may take the pages again afterwards, like any
 * idle vmemmap page; a consumer that must not fault checks
 * vmemmap_od_pfn_mapped() where it takes its reference, and populates again
 * if it says false.
 *
 * Return: 0; -ENOMEM if a page could not be allocated; -EAGAIN if reclaim
 * took a page again as often as it was populated (the caller may touch the
 * struct page anyway: the fault path serves it).
 */
int vmemmap_od_populate(unsigned long pfn, unsigned long nr_pages, gfp_t gfp)
{
	struct od_src src = { .reserve = false };
	struct vmemmap_od_window *w;
	struct dev_pagemap *pgmap;
	unsigned long vaddr, end;
	bool in_window;
	int i, ret = 0;

	might_alloc(gfp);
	rcu_read_lock();
	in_window = nr_pages && is_vmemmap_od_address(od_vaddr(pfn));
	rcu_read_unlock();
	if (!in_window)
		return 0;
	/* Keeps the window from going away under us, whatever the caller holds. */
	pgmap = get_dev_pagemap(pfn, NULL);
	if (!pgmap)
		return 0;
	rcu_read_lock();
	w = od_window_of(od_vaddr(pfn));
	rcu_read_unlock();
	if (!w)
		goto out;
	if (gfpflags_allow_blocking(gfp))
		od_reserve_fill_cpu(raw_smp_processor_id(), w->nid, gfp);

	if (w->pgmap->vmemmap_shift)
		ret = od_populate_gfp(w, od_vaddr(od_head_pfn(w, pfn)) & PAGE_MASK,
				      &src, gfp);
	end = od_vaddr(min(pfn + nr_pages, w->end_pfn) - 1);
	for (vaddr = od_vaddr(pfn) & PAGE_MASK; !ret && vaddr <= end;
	     vaddr += PAGE_SIZE) {
		ret = od_populate_gfp(w, vaddr, &src, gfp);
		if (gfpflags_allow_blocking(gfp))
			cond_resched();
	}
	for (i = 0; i < ARRAY_SIZE(src.spare); i++)
		if (src.spare[i])
			__free_page(src.spare[i]);
	od_wake_reclaimd();
out:
	put_dev_pagemap(pgmap);
	return ret;
}
EXPORT_SYMBOL_GPL(vmemmap_od_populate);

/**
 * vmemmap_od_preload - top up this CPU's reserve
 * @gfp: allocation flags; GFP_KERNEL may reclaim
 *
 * For code that is about to enter a section that may fault on struct pages
 * it could not populate first (it does not know them yet): the fault path
 * then finds a full reserve. Like radix_tree_preload(), but nothing is kept
 * for the caller: the reserve serves whoever faults on this CPU. The caller
 * disables migration (migrate_disable()) around the preload and the section,
 * so that the reserve it filled is the one its faults take from.
 *
 * Return: 0, or -ENOMEM if the reserve could not be filled.
 */
int vmemmap_od_preload(gfp_t gfp)
{
	might_alloc(gfp);
	if (!static_branch_unlikely(&vmemmap_od_active))
		return 0;
	return od_reserve_fill_nodes(raw_smp_processor_id(), gfp);
}
EXPORT_SYMBOL_GPL(vmemmap_od_preload);

static const char *od_context(struct pt_regs *regs)
{
	if (in_nmi())
		return "NMI";
	if (in_hardirq())
		return "hardirq";
	if (in_serving_softirq())
		return "softirq";
	if (regs_irqs_disabled(regs))
		return "task, IRQs off";
	return preempt_count() ? "task, atomic" : "task";
}

/**
 * vmemmap_od_fault - serve a kernel fault in an on-demand vmemmap window
 * @regs: the faulting context
 * @addr: faulting address, which is_vmemmap_od_address() accepted
 *
 * Called by the arch fault handler for not-present kernel accesses, with
 * IRQs off, from any context. Never sleeps, never enters the page
 * allocator: pages come from this CPU's reserve.
 *
 * Return: true if the vmemmap page at @addr is now mapped and the access
 * can be retried; false if @addr is in no window or the reserve was empty
 * (see the top of this file). An access without an exception-table fixup
 * then oopses: that is reported first, once.
 */
bool vmemmap_od_fault(struct pt_regs *regs, unsigned long addr)
{
	struct od_src src = { .reserve = true };
	unsigned long vaddr = addr & PAGE_MASK;
	unsigned long pfn = page_to_pfn((struct page *)vaddr);
	struct vmemmap_od_window *w;
	bool ret;

	rcu_read_lock();
	w = od_window_of(vaddr);
	if (!w) {
		rcu_read_unlock();
		return false;
	}
	ret = od_populate(w, vaddr, pfn, &src);
	rcu_read_unlock();
	if (ret)
		return true;

	count_vm_event(VMEMMAP_OD_FAULT_FAILED);
	if (!search_exception_tables(instruction_pointer(regs)))
		pr_err_once("vmemmap_od: reserve empty: cannot populate the struct page of pfn %#lx in %s context at %pS\n",
			    pfn + (addr & ~PAGE_MASK) / sizeof(struct page),
			    od_context(regs), (void *)instruction_pointer(regs));
	return false;
}
NOKPROBE_SYMBOL(vmemmap_od_fault);

/* === sysfs: /sys/kernel/mm/vmemmap_on_demand/ === */

static ssize_t resident_kb_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  od_resident_pages() << (PAGE_SHIFT - 10));
}

static struct kobj_attribute resident_kb_attr = __ATTR_RO(resident_kb);

static ssize_t resident_max_kb_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&od_resident_max) << (PAGE_SHIFT - 10));
}

/* Writing 0 starts a new high-water mark from what is resident now. */
static ssize_t resident_max_kb_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned long kb;

	if (kstrtoul(buf, 10, &kb) || kb) {
		pr_warn_once("vmemmap_od: resident_max_kb: only 0 (reset) can be written\n");
		return -EINVAL;
	}
	atomic_long_set(&od_resident_max, od_resident_pages());
	return count;
}

static struct kobj_attribute resident_max_kb_attr = __ATTR_RW(resident_max_kb);

static ssize_t budget_kb_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(od_budget) << (PAGE_SHIFT - 10));
}

static ssize_t budget_kb_store(struct kobject *kobj,
			       struct kobj_attribute *attr,
			       const char *buf, size_t count)
{
	unsigned long max_kb = totalram_pages() << (PAGE_SHIFT - 10);
	unsigned long kb;

	if (kstrtoul(buf, 10, &kb) ||
	    (kb && (kb < OD_BUDGET_MIN_KB || kb > max_kb))) {
		pr_warn_once("vmemmap_od: budget_kb: 0 (no budget) or %lu..%lu\n",
			     OD_BUDGET_MIN_KB, max_kb);
		return -EINVAL;
	}
	WRITE_ONCE(od_budget, kb >> (PAGE_SHIFT - 10));
	WRITE_ONCE(od_stuck_at, 0);
	od_wake_reclaimd();
	wake_up_all(&od_throttle_wq);
	return count;
}

static struct kobj_attribute budget_kb_attr = __ATTR_RW(budget_kb);

static struct attribute *vmemmap_od_attrs[] = {
	&resident_kb_attr.attr,
	&resident_max_kb_attr.attr,
	&budget_kb_attr.attr,
	NULL,
};

static const struct attribute_group vmemmap_od_attr_group = {
	.attrs = vmemmap_od_attrs,
};

/* What the fault path needs: the reserves, their worker and CPU hotplug. */
static int __init od_init_reserves(void)
{
	int ret;

	od_reserves = kcalloc(nr_node_ids, sizeof(*od_reserves), GFP_KERNEL);
	od_node_windows = kcalloc(nr_node_ids, sizeof(*od_node_windows), GFP_KERNEL);
	if (!od_reserves || !od_node_windows)
		return -ENOMEM;
	od_wq = alloc_workqueue("vmemmap_od", WQ_UNBOUND | WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!od_wq)
		return -ENOMEM;
	ret = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "mm/vmemmap_od:prepare",
					od_cpu_prepare, od_cpu_dead);
	if (ret < 0)
		return ret;
	/* Again once up, for a node whose first window came meanwhile. */
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "mm/vmemmap_od:online",
					od_cpu_prepare, NULL);
	return ret < 0 ? ret : 0;
}

static int __init vmemmap_od_init(void)
{
	struct shrinker *shrinker;
	struct kobject *kobj;
	int ret;

	/* A vmemmap page holds whole struct pages: 64 on x86-64. */
	BUILD_BUG_ON(PAGE_SIZE % sizeof(struct page));
	/* A section's memmap fills whole PTE tables: none is shared. */
	BUILD_BUG_ON((PAGES_PER_SECTION * sizeof(struct page)) % PMD_SIZE);
	if (!arch_vmemmap_od_usable()) {
		od_disabled = true;
		pr_info("vmemmap_od: not available here (paravirtualised page tables)\n");
		return 0;
	}
	fault_create_debugfs_attr("fail_vmemmap_od", NULL, &fail_vmemmap_od);

	ret = od_init_reserves();
	if (ret) {
		/* No window may fault without its reserves: refuse them all. */
		od_disabled = true;
		pr_warn("vmemmap_od: disabled: cannot set up the fault path's reserves (%d)\n",
			ret);
		return ret;
	}

	od_reclaimd = kthread_run(od_reclaimd_fn, NULL, "vmemmap_od");
	if (IS_ERR(od_reclaimd))
		return PTR_ERR(od_reclaimd);
	shrinker = shrinker_alloc(0, "vmemmap_od");
	if (!shrinker)
		return -ENOMEM;
	shrinker->count_objects = od_shrink_count;
	shrinker->scan_objects = od_shrink_scan;
	shrinker_register(shrinker);

	kobj = kobject_create_and_add("vmemmap_on_demand", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &vmemmap_od_attr_group);
	if (ret)
		kobject_put(kobj);
	return ret;
}
subsys_initcall(vmemmap_od_init);
