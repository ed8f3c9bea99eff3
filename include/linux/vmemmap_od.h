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
#include <linux/jump_label.h>
#include <linux/types.h>

struct dev_pagemap;

#ifdef CONFIG_VMEMMAP_ON_DEMAND

/* The vmemmap addresses [lo, lo + span) cover every window. */
struct vmemmap_od_bounds {
	unsigned long lo;
	unsigned long span;
};

DECLARE_STATIC_KEY_FALSE(vmemmap_od_active);
extern const struct vmemmap_od_bounds *vmemmap_od_bounds;

bool vmemmap_od_supported(void);
int vmemmap_od_register(struct dev_pagemap *pgmap, int range_id, int nid);
void vmemmap_od_unregister(struct dev_pagemap *pgmap, int range_id);
bool vmemmap_od_fault(unsigned long addr);
int vmemmap_od_resident(unsigned long pfn);
bool vmemmap_od_congested(void);
int vmemmap_od_throttle(void);

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

#else /* CONFIG_VMEMMAP_ON_DEMAND */

static inline bool vmemmap_od_supported(void)
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

static inline bool vmemmap_od_fault(unsigned long addr)
{
	return false;
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

#endif /* CONFIG_VMEMMAP_ON_DEMAND */
#endif /* _LINUX_VMEMMAP_OD_H */
