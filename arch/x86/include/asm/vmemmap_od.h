/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86-64 page-table helpers for on-demand vmemmap. The fault path installs
 * entries with cmpxchg so that it takes no lock and works in any context,
 * NMI included; a CPU that loses the race frees its page and retries the
 * access. Not-present to present needs no TLB flush on x86.
 */
#ifndef _ASM_X86_VMEMMAP_OD_H
#define _ASM_X86_VMEMMAP_OD_H

#include <linux/pgtable.h>

/* Install @pte_table under an empty kernel @pmd; false if one was there. */
static inline bool vmemmap_od_set_pmd(pmd_t *pmd, struct page *pte_table)
{
	pmdval_t old = 0;

	return try_cmpxchg64(&pmd->pmd, &old,
			     __pa(page_address(pte_table)) | _KERNPG_TABLE);
}

/* Map @page at an empty kernel @pte; false if something was mapped there. */
static inline bool vmemmap_od_set_pte(pte_t *pte, struct page *page)
{
	pteval_t old = 0;

	return try_cmpxchg64(&pte->pte, &old,
			     pte_val(pfn_pte(page_to_pfn(page), PAGE_KERNEL)));
}

#endif /* _ASM_X86_VMEMMAP_OD_H */
