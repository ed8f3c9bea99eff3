/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86-64 page-table helpers for on-demand vmemmap.
 *
 * The fault path installs entries with cmpxchg so that it takes no lock and
 * works in any context, NMI included; a CPU that loses the race frees its
 * page and retries the access. Not-present to present needs no TLB flush.
 *
 * Reclaim "parks" an entry before it takes it away: the parked entry is not
 * present (an access faults) but still names its page, so the fault handler
 * can put the very same page back with one cmpxchg instead of waiting for
 * the reclaimer. A parked entry keeps the PAGE_KERNEL bits other than
 * present and global; pfn_pte() stores the pfn of such a not-present entry
 * inverted, as for any other (L1TF), and pte_page() reads it back.
 */
#ifndef _ASM_X86_VMEMMAP_OD_H
#define _ASM_X86_VMEMMAP_OD_H

#include <linux/pgtable.h>
#include <asm/cpufeature.h>

#define VMEMMAP_OD_PARKED_MASK	(_PAGE_PRESENT | _PAGE_GLOBAL)

/*
 * Not in a Xen PV guest: its page tables are read-only to it and every
 * update goes through the hypervisor, which the cmpxchg below bypasses.
 */
static inline bool arch_vmemmap_od_usable(void)
{
	return !cpu_feature_enabled(X86_FEATURE_XENPV);
}

/* The entry that maps a vmemmap page. */
static inline pte_t vmemmap_od_mk_pte(struct page *page)
{
	return pfn_pte(page_to_pfn(page), PAGE_KERNEL);
}

/* The same, parked: not present, still naming @page. */
static inline pte_t vmemmap_od_mk_parked_pte(struct page *page)
{
	return pfn_pte(page_to_pfn(page),
		       __pgprot(pgprot_val(PAGE_KERNEL) & ~VMEMMAP_OD_PARKED_MASK));
}

/*
 * A PMD entry pointing to a PTE table. Built as a PTE is (pfn_pmd() is for
 * huge pages: it would round the table's address down to 2 MiB).
 */
static inline pmd_t vmemmap_od_mk_pmd(struct page *pte_table)
{
	return __pmd(pte_val(pfn_pte(page_to_pfn(pte_table),
				     __pgprot(_KERNPG_TABLE))));
}

/* The same, parked. */
static inline pmd_t vmemmap_od_mk_parked_pmd(struct page *pte_table)
{
	return __pmd(pte_val(pfn_pte(page_to_pfn(pte_table),
				     __pgprot(_KERNPG_TABLE & ~VMEMMAP_OD_PARKED_MASK))));
}

/* Replace @old by @new in a kernel PTE; false if it held something else. */
static inline bool vmemmap_od_cmpxchg_pte(pte_t *ptep, pte_t old, pte_t new)
{
	pteval_t o = pte_val(old);

	return try_cmpxchg64(&ptep->pte, &o, pte_val(new));
}

/* Replace @old by @new in a kernel PMD; false if it held something else. */
static inline bool vmemmap_od_cmpxchg_pmd(pmd_t *pmdp, pmd_t old, pmd_t new)
{
	pmdval_t o = pmd_val(old);

	return try_cmpxchg64(&pmdp->pmd, &o, pmd_val(new));
}

#endif /* _ASM_X86_VMEMMAP_OD_H */
