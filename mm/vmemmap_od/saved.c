// SPDX-License-Identifier: GPL-2.0
/*
 * On-demand vmemmap: the saved DAX state. What DAX users store in the
 * struct pages of a vmemmap page beyond their init image is saved, as
 * runs, before the reclaimer frees the page, and written back by the fault
 * that rebuilds it; fsdax drops it for the pages whose mapping it clears.
 * The design is described at the top of core.c.
 */
#include <linux/kprobes.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/slab.h>
#include <linux/vmemmap_od.h>
#include <linux/xarray.h>

#include "../internal.h"
#include "vmemmap_od.h"

/* === Data === */

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
/*
 * How long vmemmap_od_forget_dax() waits for a fault building DAX pages
 * (OD_BUILDING_SLOTS), in cpu_relax().
 */
#define OD_FORGET_SPINS		10000

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

/* === Internals === */

/*
 * Build in @map what the fault path writes for the vmemmap page at @pfn:
 * memmap_init_zone_device()'s struct pages, then the DAX state in @saved.
 * Where init writes the same in every struct page of @w (@w->tmpl, no
 * compound pages), the template is copied instead of running it for each.
 */
void od_build(struct vmemmap_od_window *w, struct page *map,
	      unsigned long pfn, const struct od_saved *saved)
{
	const unsigned long nr = od_nr_struct_pages(w, pfn);
	unsigned int r, i;

	BUILD_BUG_ON(OD_STRUCT_PAGES > BITS_PER_LONG);
	if (w->tmpl) {
		for (i = 0; i < nr; i++)
			memcpy(&map[i], w->tmpl, sizeof(*map));
	} else {
		memmap_init_zone_device_pages(map, pfn, nr, w->start_pfn,
					      w->nid, w->pgmap);
	}
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
NOKPROBE_SYMBOL(od_build);

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
bool od_rebuildable(struct vmemmap_od_window *w, unsigned long pfn,
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
void od_saved_destroy(struct vmemmap_od_window *w)
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
int od_save(struct vmemmap_od_window *w, unsigned long pfn,
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

/* === Public interface === */

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
