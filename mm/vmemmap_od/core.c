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
 *    llist;
 *  - its functions are NOKPROBE_SYMBOL(), as the x86 fault handler's are: a
 *    kprobe there would trap inside the page fault it serves.
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
 *  3. for a batch of parked pages, one TLB shootdown (od_flush(): an IPI
 *     to every CPU, waited for; flush_tlb_kernel_range()): from now
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
 *
 * Files. This one: the windows, their registration, the per-CPU
 * reserves, the fault path, the public interface, sysfs and init;
 * reclaim.c: the LRA lists, the reclaimer, its batches and the
 * watermarks; saved.c: the saved DAX state; vmemmap_od.h: what they
 * share.
 */
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/export.h>
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
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/vmemmap_od.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/tlbflush.h>
#include <asm/vmemmap_od.h>

#include "../internal.h"
#include "vmemmap_od.h"

#define CREATE_TRACE_POINTS
#include <trace/events/vmemmap_od.h>

/* === Data === */

/* The smallest budget: room for the watermarks and a few batches. */
#define OD_BUDGET_MIN_KB	(4 * OD_BATCH * (PAGE_SIZE / SZ_1K))

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
atomic_long_t od_resident;
/* Memory of the saved DAX state (struct od_saved), in bytes. */
atomic_long_t od_saved_bytes;
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

static DECLARE_FAULT_ATTR(fail_vmemmap_od);

/*
 * Fault injection: an empty reserve. Not in NMI (should_fail() takes a
 * local_lock for its random numbers), never reporting (printk under the
 * locks a fault may come with), and only while armed: a task's fail-nth
 * must not fail an ordinary access.
 */
static __always_inline bool od_fail_reserve(void)
{
#ifdef CONFIG_FAULT_INJECTION
	return unlikely(READ_ONCE(fail_vmemmap_od.probability)) && !in_nmi() &&
	       should_fail_ex(&fail_vmemmap_od, PAGE_SIZE, FAULT_NOWARN);
#else
	return false;
#endif
}

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
	if (od_fail_reserve())
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
NOKPROBE_SYMBOL(od_page_get);

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
NOKPROBE_SYMBOL(od_page_put);

void od_account(struct vmemmap_od_window *w, long pages, long pte_tables)
{
	long resident = atomic_long_add_return(pages + pte_tables, &od_resident) +
			od_saved_pages();
	long max = atomic_long_read(&od_resident_max);

	atomic_long_add(pages, &w->nr_pages);
	atomic_long_add(pte_tables, &w->nr_pte_tables);
	memmap_pages_add(pages);
	while (resident > max &&
	       !atomic_long_try_cmpxchg(&od_resident_max, &max, resident))
		;
}
NOKPROBE_SYMBOL(od_account);

/* The PMD entry covering @vaddr; the levels above exist for any window. */
pmd_t *od_pmd(unsigned long vaddr)
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
NOKPROBE_SYMBOL(od_pmd);

/* The window of a vmemmap address, or NULL. Under RCU or od_reclaim_lock. */
struct vmemmap_od_window *od_window_of(unsigned long vaddr)
{
	unsigned long pfn = page_to_pfn((struct page *)vaddr);
	struct vmemmap_od_window *w = xa_load(&od_windows, pfn_to_section_nr(pfn));

	return w && pfn >= w->start_pfn && pfn < w->end_pfn ? w : NULL;
}
NOKPROBE_SYMBOL(od_window_of);

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
	/* Timed only for the tracepoint, which the clock reads would slow. */
	const bool timed = trace_vmemmap_od_fault_enabled();
	u64 t0 = timed ? local_clock() : 0, table_ns = 0, init_ns = 0;
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
		if (timed)
			table_ns = local_clock() - t0;
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
	if (timed)
		init_ns = local_clock();
	od_build(w, page_address(page), pfn,
		 dax ? xa_load(&w->saved, od_saved_index(w, pfn)) : NULL);
	if (timed)
		init_ns = local_clock() - init_ns;
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

	if (timed)
		trace_vmemmap_od_fault(pfn, od_nr_struct_pages(w, pfn),
				       local_clock() - t0, table_ns, init_ns,
				       src->reserve);
	return true;
}
NOKPROBE_SYMBOL(od_populate);

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
NOKPROBE_SYMBOL(od_vaddr_mapped);

/* The pfn of the head of @pfn's compound page (@pfn without compound pages). */
unsigned long od_head_pfn(struct vmemmap_od_window *w, unsigned long pfn)
{
	unsigned long nr = 1UL << w->pgmap->vmemmap_shift;

	return w->start_pfn + round_down(pfn - w->start_pfn, nr);
}
NOKPROBE_SYMBOL(od_head_pfn);

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
	struct dentry *dir;
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
	dir = debugfs_create_dir("vmemmap_od", NULL);
	debugfs_create_bool("flush_pages", 0600, dir, &od_flush_pages);
	debugfs_create_ulong("live_passes", 0400, dir, &od_live_passes);

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
