/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-demand vmemmap: what core.c, reclaim.c and saved.c share. The design
 * is described at the top of core.c.
 */
#ifndef _MM_VMEMMAP_OD_H
#define _MM_VMEMMAP_OD_H

#include <linux/atomic.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pgtable.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

struct od_batch;
struct od_saved;
struct shrink_control;
struct shrinker;
struct task_struct;

#define OD_STRUCT_PAGES		(PAGE_SIZE / sizeof(struct page))
/* Vmemmap pages parked per TLB shootdown, and the watermark step. */
#define OD_BATCH		64
/* Counters of faults building DAX pages, per window (one cache line). */
#define OD_BUILDING_SLOTS	16

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
 *	is the same for all of them (no compound pages), for od_build() to
 *	copy; else NULL
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

static inline unsigned long od_vaddr(unsigned long pfn)
{
	return (unsigned long)pfn_to_page(pfn);
}

/* The PTE for @vaddr in the PTE table a present @pmdval points to. */
static inline pte_t *od_pte(pmd_t pmdval, unsigned long vaddr)
{
	return (pte_t *)pmd_page_vaddr(pmdval) + pte_index(vaddr);
}

/* Windows whose struct pages DAX users give state a rebuild restores. */
static inline bool od_is_dax(struct vmemmap_od_window *w)
{
	return w->pgmap->type == MEMORY_DEVICE_FS_DAX ||
	       w->pgmap->type == MEMORY_DEVICE_GENERIC;
}

/* The struct pages of the vmemmap page at @pfn (the first one's pfn). */
static inline unsigned long od_nr_struct_pages(struct vmemmap_od_window *w,
					       unsigned long pfn)
{
	return min_t(unsigned long, OD_STRUCT_PAGES, w->end_pfn - pfn);
}

/* The index in @w->saved of the vmemmap page of @pfn. */
static inline unsigned long od_saved_index(struct vmemmap_od_window *w, unsigned long pfn)
{
	return (pfn - w->start_pfn) / OD_STRUCT_PAGES;
}

/* The count of faults building the vmemmap page of @pfn (and others). */
static inline atomic_t *od_building(struct vmemmap_od_window *w, unsigned long pfn)
{
	return &w->building[od_saved_index(w, pfn) % OD_BUILDING_SLOTS];
}

/* A PTE table's count of PTEs that are not empty: its page->private. */
static inline atomic_long_t *od_table_count(struct page *table)
{
	BUILD_BUG_ON(sizeof(atomic_long_t) != sizeof(table->private));
	return (atomic_long_t *)&table->private;
}

/* core.c */
extern atomic_long_t od_resident;
extern atomic_long_t od_saved_bytes;

/* The memory of the saved DAX state, in pages: part of the resident memmap. */
static inline long od_saved_pages(void)
{
	return DIV_ROUND_UP(max(atomic_long_read(&od_saved_bytes), 0L), PAGE_SIZE);
}

void od_account(struct vmemmap_od_window *w, long pages, long pte_tables);
pmd_t *od_pmd(unsigned long vaddr);
struct vmemmap_od_window *od_window_of(unsigned long vaddr);
unsigned long od_head_pfn(struct vmemmap_od_window *w, unsigned long pfn);

/* reclaim.c */
extern struct list_head od_lra;
extern struct list_head od_live;
extern struct mutex od_reclaim_lock;
extern unsigned long od_budget;
extern long od_stuck_at;
extern struct task_struct *od_reclaimd;
extern wait_queue_head_t od_throttle_wq;
extern struct od_batch *od_batch;
extern bool od_flush_pages;
extern unsigned long od_live_passes;
long od_resident_pages(void);
bool od_over_high(void);
void od_wake_reclaimd(void);
void od_note_over_high(void);
void od_lra_add(struct page *page, unsigned long vaddr);
void od_lra_drain(void);
void od_lra_del_window(struct list_head *list, struct vmemmap_od_window *w);
void od_unqueue_window(struct od_batch *b, struct vmemmap_od_window *w);
unsigned long od_free_dying(struct od_batch *b, bool wait);
void od_note_dying(struct od_batch *b);
int od_reclaimd_fn(void *unused);
unsigned long od_shrink_count(struct shrinker *shrinker,
			      struct shrink_control *sc);
unsigned long od_shrink_scan(struct shrinker *shrinker,
			     struct shrink_control *sc);
int od_batch_alloc(void);
void od_batch_free(void);

/* saved.c */
void od_build(struct vmemmap_od_window *w, struct page *map,
	      unsigned long pfn, const struct od_saved *saved);
bool od_rebuildable(struct vmemmap_od_window *w, unsigned long pfn,
		    const struct page *cur, struct page *img,
		    struct od_runs *runs, bool *uniform);
void od_saved_destroy(struct vmemmap_od_window *w);
int od_save(struct vmemmap_od_window *w, unsigned long pfn,
	    const struct od_runs *runs, gfp_t gfp);

#endif /* _MM_VMEMMAP_OD_H */
