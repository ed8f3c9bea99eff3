/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-demand vmemmap: the memmap of a device range is populated by the
 * kernel page-fault handler on first touch. See
 * Documentation/mm/vmemmap_on_demand.rst.
 *
 * Users ask for it with PGMAP_ON_DEMAND in dev_pagemap::flags; the rest of
 * this header is for mm/memremap.c and the arch fault handler.
 */
#ifndef _LINUX_VMEMMAP_OD_H
#define _LINUX_VMEMMAP_OD_H

#include <linux/errno.h>
#include <linux/gfp_types.h>
#include <linux/jump_label.h>
#include <linux/types.h>

struct address_space;
struct dev_pagemap;
struct pt_regs;

/*
 * Windows are registered in whole memory sections: the alignment, in
 * bytes, that a range's start and end need (users include <linux/mm.h>).
 */
#define vmemmap_od_align()	(PAGES_PER_SECTION << PAGE_SHIFT)

#ifdef CONFIG_VMEMMAP_ON_DEMAND

/* The vmemmap addresses [lo, lo + span) cover every window. */
struct vmemmap_od_bounds {
	unsigned long lo;
	unsigned long span;
};

DECLARE_STATIC_KEY_FALSE(vmemmap_od_active);
extern const struct vmemmap_od_bounds *vmemmap_od_bounds;

bool vmemmap_od_supported(void);
bool vmemmap_od_in_range(unsigned long start, unsigned long end);
int vmemmap_od_register(struct dev_pagemap *pgmap, int range_id, int nid);
void vmemmap_od_unregister(struct dev_pagemap *pgmap, int range_id);
bool vmemmap_od_fault(struct pt_regs *regs, unsigned long addr);
int vmemmap_od_resident(unsigned long pfn);
bool vmemmap_od_congested(void);
int vmemmap_od_throttle(void);
int vmemmap_od_populate(unsigned long pfn, unsigned long nr_pages, gfp_t gfp);
int vmemmap_od_preload(gfp_t gfp);
bool __vmemmap_od_pfn_mapped(unsigned long pfn);
bool __vmemmap_od_forget_dax(unsigned long pfn, struct address_space *mapping);
void __vmemmap_od_handle_over_high(void);

#if IS_ENABLED(CONFIG_VMEMMAP_OD_KUNIT_TEST)
void vmemmap_od_kunit_parked(struct page *page);	/* KUnit static stub */
#endif

/*
 * On the way back to user space (resume_user_mode_work()): throttle a task
 * that populated vmemmap pages while the memmap was over its high mark.
 */
static inline void vmemmap_od_handle_over_high(void)
{
	if (static_branch_unlikely(&vmemmap_od_active))
		__vmemmap_od_handle_over_high();
}

/**
 * is_vmemmap_od_address - may @addr lie in an on-demand vmemmap window?
 * @addr: faulting kernel address
 *
 * The fault path's filter: a static branch and one compare against the
 * span of all windows. vmemmap_od_fault() does the exact lookup. Called
 * with IRQs off: the bounds stay valid until it returns.
 */
static __always_inline bool is_vmemmap_od_address(unsigned long addr)
{
	const struct vmemmap_od_bounds *b;

	if (!static_branch_unlikely(&vmemmap_od_active))
		return false;
	b = READ_ONCE(vmemmap_od_bounds);
	return addr - b->lo < b->span;
}

/**
 * vmemmap_od_pfn_mapped - can @pfn's struct page be touched without a fault?
 * @pfn: any pfn whose struct page the caller is about to touch
 *
 * True when the struct page of @pfn, and that of the head of its compound
 * page, are mapped right now, or when @pfn is in no on-demand window. For
 * code that may fall back to a sleepable path (GUP-fast) or must not fault
 * (slow GUP under the page-table lock): when this says false, populate with
 * vmemmap_od_populate() where sleeping is allowed, and retry. Called with
 * IRQs off, or under rcu_read_lock() or a spinlock. One compare unless @pfn
 * is in a window.
 *
 * A true answer stays true until the caller enables IRQs again (reclaim
 * frees a vmemmap page only after a TLB shootdown, which waits for CPUs
 * with IRQs off); with IRQs on, the page may be taken at any time after,
 * and a touch then faults and is served from the reserve.
 */
static __always_inline bool vmemmap_od_pfn_mapped(unsigned long pfn)
{
	if (!is_vmemmap_od_address((unsigned long)pfn_to_page(pfn)))
		return true;
	return __vmemmap_od_pfn_mapped(pfn);
}

/**
 * vmemmap_od_forget_dax - clear the fsdax association of a struct page
 *	that is not resident
 * @pfn: a pfn whose page->mapping and page->index the caller is about to
 *	clear (dax_disassociate_entry())
 * @mapping: the mapping they were set to
 *
 * A struct page that reclaim took was idle (no reference, not shared):
 * instead of faulting it back just to clear it, drop the mapping and index
 * saved for its rebuild. Called with IRQs off or under a spinlock.
 *
 * Return: true if @pfn's struct page is in an on-demand window and not
 * resident, and is now as cleared: the caller must not touch it. False
 * otherwise (one compare for a pfn in no window): clear it as usual.
 */
static __always_inline bool vmemmap_od_forget_dax(unsigned long pfn,
						  struct address_space *mapping)
{
	if (!is_vmemmap_od_address((unsigned long)pfn_to_page(pfn)))
		return false;
	return __vmemmap_od_forget_dax(pfn, mapping);
}

#else /* CONFIG_VMEMMAP_ON_DEMAND */

static inline bool vmemmap_od_supported(void)
{
	return false;
}

static inline bool vmemmap_od_in_range(unsigned long start, unsigned long end)
{
	return false;
}

static inline int vmemmap_od_register(struct dev_pagemap *pgmap, int range_id,
				      int nid)
{
	return -EOPNOTSUPP;
}

static inline void vmemmap_od_unregister(struct dev_pagemap *pgmap,
					 int range_id)
{
}

static inline bool is_vmemmap_od_address(unsigned long addr)
{
	return false;
}

static inline bool vmemmap_od_fault(struct pt_regs *regs, unsigned long addr)
{
	return false;
}

static inline bool vmemmap_od_pfn_mapped(unsigned long pfn)
{
	return true;
}

static inline bool vmemmap_od_forget_dax(unsigned long pfn,
					 struct address_space *mapping)
{
	return false;
}

static inline int vmemmap_od_populate(unsigned long pfn, unsigned long nr_pages,
				      gfp_t gfp)
{
	return 0;
}

static inline int vmemmap_od_preload(gfp_t gfp)
{
	return 0;
}

static inline int vmemmap_od_resident(unsigned long pfn)
{
	return -EINVAL;
}

static inline bool vmemmap_od_congested(void)
{
	return false;
}

static inline int vmemmap_od_throttle(void)
{
	return 0;
}

static inline void vmemmap_od_handle_over_high(void)
{
}

#endif /* CONFIG_VMEMMAP_ON_DEMAND */
#endif /* _LINUX_VMEMMAP_OD_H */
