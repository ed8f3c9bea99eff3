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
 * stays pure arithmetic.
 *
 * Contexts. The fault can come from any code that touches a struct page:
 * process context, spinlocks held, IRQs off, softirq, hardirq, NMI. So the
 * fault path never sleeps and takes no lock:
 *  - page-table levels down to the PMD tables are created at registration
 *    (sleepable), and synced to all page tables there; a fault only ever
 *    fills a PMD entry (with a PTE table) and a PTE;
 *  - entries are installed with cmpxchg; a CPU that loses a race gives its
 *    page back and returns, and the access is retried through the winner's
 *    mapping; not-present to present needs no TLB flush;
 *  - a new vmemmap page is initialised through its direct-map address
 *    before its PTE is installed, so no CPU ever sees it half made (x86
 *    stores are ordered, and the cmpxchg is a full barrier);
 *  - pages come from a per-CPU reserve, taken and refilled with atomic
 *    xchg/cmpxchg on its slots (safe against NMIs and remote refills), and
 *    refilled from a workqueue kicked by irq_work; when the reserve is empty
 *    a non-NMI fault tries one GFP_NOWAIT allocation (no reclaim, no
 *    recursion into the fault path).
 * When both fail, or in NMI with an empty reserve, the fault is not served:
 * vmemmap_od_fault() returns false and the access takes the ordinary
 * bad-kernel-access path (an exception-table fixup for get_kernel_nofault()
 * and friends, an oops otherwise). vmemmap_od_fault_failed counts these.
 *
 * Lifetime. Windows are found through an xarray indexed by section under
 * RCU; fault handlers run with IRQs off, which is an RCU read-side critical
 * section. Unregistering a window removes it from the xarray, waits for an
 * RCU grace period, then unmaps and frees its pages after one TLB flush.
 * The caller (memunmap_pages()) has waited for all pgmap references to go,
 * so nobody legitimately touches the struct pages any more.
 */
#include <linux/fault-inject.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/kobject.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/page-isolation.h>
#include <linux/pgtable.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
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

/* Resident on-demand memmap, page tables included, in pages. */
static atomic_long_t od_resident;

#define OD_RESERVE_SLOTS	16

/* Pages for the fault path. Slots are taken and filled with xchg/cmpxchg. */
struct od_reserve {
	struct page *slot[OD_RESERVE_SLOTS];
};

static DEFINE_PER_CPU(struct od_reserve, od_reserve);
static void od_refill_kick(struct irq_work *work);
static DEFINE_PER_CPU(struct irq_work, od_refill_irq_work) =
	IRQ_WORK_INIT_HARD(od_refill_kick);
static void od_refill_workfn(struct work_struct *work);
static DECLARE_WORK(od_refill_work, od_refill_workfn);

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

/* Fill every empty reserve slot of every online CPU. May sleep. */
static void od_reserve_fill(void)
{
	int cpu, i;

	for_each_online_cpu(cpu) {
		struct od_reserve *r = per_cpu_ptr(&od_reserve, cpu);

		for (i = 0; i < OD_RESERVE_SLOTS; i++) {
			struct page *page;

			if (READ_ONCE(r->slot[i]))
				continue;
			page = alloc_pages_node(cpu_to_node(cpu),
						GFP_KERNEL | __GFP_NOWARN, 0);
			if (!page)
				return;
			if (cmpxchg(&r->slot[i], NULL, page))
				__free_page(page);
		}
	}
}

static void od_reserve_drain(void)
{
	int cpu, i;

	for_each_possible_cpu(cpu) {
		struct od_reserve *r = per_cpu_ptr(&od_reserve, cpu);

		for (i = 0; i < OD_RESERVE_SLOTS; i++) {
			struct page *page = xchg(&r->slot[i], NULL);

			if (page)
				__free_page(page);
		}
	}
}

static void od_refill_workfn(struct work_struct *work)
{
	if (static_key_enabled(&vmemmap_od_active))
		od_reserve_fill();
}

/* irq_work: queueing work is not allowed from NMI, this is. */
static void od_refill_kick(struct irq_work *work)
{
	queue_work(system_highpri_wq, &od_refill_work);
}

/*
 * A page for the fault path: from this CPU's reserve, else (not in NMI)
 * one GFP_NOWAIT attempt. Called with IRQs off.
 */
static struct page *od_page_get(int nid)
{
	struct od_reserve *r = this_cpu_ptr(&od_reserve);
	struct page *page = NULL;
	int i;

	/* Fault injection: an empty reserve and a failing allocator. */
	if (should_fail(&fail_vmemmap_od, PAGE_SIZE))
		return NULL;

	for (i = 0; i < OD_RESERVE_SLOTS && !page; i++)
		page = xchg(&r->slot[i], NULL);
	irq_work_queue(this_cpu_ptr(&od_refill_irq_work));
	if (!page && !in_nmi())
		page = alloc_pages_node(nid, GFP_NOWAIT | __GFP_NOWARN, 0);
	return page;
}

/* Give back a page the fault path did not use. */
static void od_page_put(struct page *page)
{
	struct od_reserve *r = this_cpu_ptr(&od_reserve);
	int i;

	for (i = 0; i < OD_RESERVE_SLOTS; i++)
		if (!cmpxchg(&r->slot[i], NULL, page))
			return;
	/* The slot it came from was refilled meanwhile. */
	if (!WARN_ON_ONCE(in_nmi()))
		__free_page(page);
}

static void od_account(struct vmemmap_od_window *w, long pages, long pte_tables)
{
	atomic_long_add(pages, &w->nr_pages);
	atomic_long_add(pte_tables, &w->nr_pte_tables);
	atomic_long_add(pages + pte_tables, &od_resident);
	memmap_pages_add(pages);
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

/*
 * Populate the vmemmap page at @vaddr, whose first struct page is @pfn's.
 * Returns true when the page is mapped (by us or by a racing CPU).
 */
static bool od_populate(struct vmemmap_od_window *w, unsigned long vaddr,
			unsigned long pfn)
{
	const unsigned long nr = min_t(unsigned long, PAGE_SIZE / sizeof(struct page),
				       w->end_pfn - pfn);
	u64 t0 = local_clock();
	pmd_t *pmd = od_pmd(vaddr);
	struct page *page;
	pte_t *pte;

	if (WARN_ON_ONCE(!pmd))
		return false;
	if (pmd_none(READ_ONCE(*pmd))) {
		struct page *table = od_page_get(w->nid);

		if (!table)
			goto fail;
		clear_page(page_address(table));
		if (vmemmap_od_set_pmd(pmd, table))
			od_account(w, 0, 1);
		else
			od_page_put(table);
	}
	if (WARN_ON_ONCE(pmd_leaf(READ_ONCE(*pmd))))
		return false;

	pte = pte_offset_kernel(pmd, vaddr);
	if (pte_present(ptep_get(pte)))
		return true;

	page = od_page_get(w->nid);
	if (!page)
		goto fail;
	memmap_init_zone_device_pages(page_address(page), pfn, nr, w->start_pfn,
				      w->nid, w->pgmap);
	if (!vmemmap_od_set_pte(pte, page)) {
		od_page_put(page);
		return true;
	}
	od_account(w, 1, 0);
	count_vm_event(VMEMMAP_OD_FAULTS);

	/* What memmap_init_zone_device() does per pageblock; now mapped. */
	if (IS_ALIGNED(pfn, pageblock_nr_pages))
		set_pageblock_migratetype(pfn_to_page(pfn), MIGRATE_MOVABLE);

	trace_vmemmap_od_fault(pfn, nr, local_clock() - t0);
	return true;

fail:
	count_vm_event(VMEMMAP_OD_FAULT_FAILED);
	return false;
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

		if (!pmd || pmd_none(*pmd))
			continue;
		pte = pte_offset_kernel(pmd, addr);
		for (i = 0; i < PTRS_PER_PTE; i++) {
			pte_t entry = ptep_get_and_clear(&init_mm, addr + i * PAGE_SIZE,
							 pte + i);

			if (!pte_present(entry))
				continue;
			list_add(&pte_page(entry)->lru, &freelist);
			nr_pages++;
		}
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
 * vmemmap_od_register - make a pgmap range's memmap populate on demand
 * @pgmap: dev_pagemap with PGMAP_ON_DEMAND
 * @range_id: which of its ranges
 * @nid: node for the struct pages and the page tables
 *
 * Called by memremap_pages() before the range's sections are added. Creates
 * the page-table levels the window needs down to the PMD tables, so that
 * a fault only fills PMD entries and PTEs, and makes the window findable by
 * the fault path.
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
		pr_warn_once("vmemmap_od: disabled by vmemmap_on_demand=off\n");
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

	mutex_lock(&od_lock);
	ret = od_populate_tables(w, od_vaddr(start_pfn), od_vaddr(end_pfn));
	atomic_long_add(w->nr_tables, &od_resident);
	if (ret)
		goto err;
	ret = xa_err(xa_store_range(&od_windows, pfn_to_section_nr(start_pfn),
				    pfn_to_section_nr(end_pfn - 1), w,
				    GFP_KERNEL));
	if (ret)
		goto err;
	if (list_empty(&od_windows_list))
		od_reserve_fill();
	list_add(&w->list, &od_windows_list);
	od_update_bounds();
	static_branch_enable(&vmemmap_od_active);
	mutex_unlock(&od_lock);
	return 0;
err:
	atomic_long_sub(w->nr_tables, &od_resident);
	mutex_unlock(&od_lock);
	kfree(w);
	return ret;
}

/**
 * vmemmap_od_unregister - free an on-demand range's memmap
 * @pgmap: the dev_pagemap passed to vmemmap_od_register()
 * @range_id: which of its ranges
 *
 * Called by memremap_pages()'s teardown once nobody holds a reference to
 * @pgmap, before the range's sections are removed (which frees the
 * remaining page tables). Frees every resident vmemmap page and PTE table.
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
	od_free_resident(w);
	/* The upper tables go with the sections, in vmemmap_free(). */
	atomic_long_sub(w->nr_tables, &od_resident);
	if (list_empty(&od_windows_list)) {
		static_branch_disable(&vmemmap_od_active);
		cancel_work_sync(&od_refill_work);
		od_reserve_drain();
	}
	mutex_unlock(&od_lock);
	kfree(w);
}

/**
 * vmemmap_od_fault - serve a kernel fault in an on-demand vmemmap window
 * @addr: faulting address, which is_vmemmap_od_address() accepted
 *
 * Called by the arch fault handler for not-present kernel accesses, with
 * IRQs off, from any context. Never sleeps.
 *
 * Return: true if the vmemmap page at @addr is now mapped and the access
 * can be retried; false if @addr is in no window or the page could not be
 * populated (see the top of this file).
 */
bool vmemmap_od_fault(unsigned long addr)
{
	unsigned long vaddr = addr & PAGE_MASK;
	unsigned long pfn = page_to_pfn((struct page *)vaddr);
	struct vmemmap_od_window *w;
	bool ret = false;

	rcu_read_lock();
	w = xa_load(&od_windows, pfn_to_section_nr(pfn));
	if (w && pfn >= w->start_pfn && pfn < w->end_pfn)
		ret = od_populate(w, vaddr, pfn);
	rcu_read_unlock();
	return ret;
}
NOKPROBE_SYMBOL(vmemmap_od_fault);

/* === sysfs: /sys/kernel/mm/vmemmap_on_demand/ === */

static ssize_t resident_kb_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&od_resident) << (PAGE_SHIFT - 10));
}

static struct kobj_attribute resident_kb_attr = __ATTR_RO(resident_kb);

static struct attribute *vmemmap_od_attrs[] = {
	&resident_kb_attr.attr,
	NULL,
};

static const struct attribute_group vmemmap_od_attr_group = {
	.attrs = vmemmap_od_attrs,
};

static int __init vmemmap_od_init(void)
{
	struct kobject *kobj;
	int ret;

	fault_create_debugfs_attr("fail_vmemmap_od", NULL, &fail_vmemmap_od);

	kobj = kobject_create_and_add("vmemmap_on_demand", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kobj, &vmemmap_od_attr_group);
	if (ret)
		kobject_put(kobj);
	return ret;
}
subsys_initcall(vmemmap_od_init);
