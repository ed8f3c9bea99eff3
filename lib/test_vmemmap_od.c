// SPDX-License-Identifier: GPL-2.0
/*
 * Test driver for on-demand vmemmap (CONFIG_VMEMMAP_ON_DEMAND).
 *
 * Maps a range of free physical address space of any size as
 * MEMORY_DEVICE_PRIVATE with PGMAP_ON_DEMAND (no backing memory is needed),
 * and touches its struct pages on request from a chosen context, checking
 * what it finds. Driven through debugfs by
 * tools/testing/selftests/vmemmap_od/od_stress.c:
 *
 *   size      write a size (memparse syntax: 4T) to replace the range, 0 to
 *             remove it; "SIZE upfront" maps it with its memmap allocated
 *             up front instead (to compare with); read "START_PFN END_PFN"
 *   access    write "CTX NR SEED [PATTERN [WS]]": NR struct page accesses
 *             from CTX = process | irqoff | spinlock | softirq | hardirq,
 *             at random pfns (PATTERN random, the default), at every 8th
 *             pfn from a random start (seq), or at pfns whose vmemmap
 *             pages follow Zipf's law (zipf), all within the first WS
 *             vmemmap pages of the range (0 or none: all of it); the
 *             write fails with -EIO if
 *             an invariant was violated. When the on-demand memmap is
 *             congested (vmemmap_od_congested()), a batch stops early and
 *             the task throttles (vmemmap_od_throttle()) before going on
 *   verify    write anything: check every struct page of every vmemmap
 *             page the accesses touched; -EIO on a violation
 *   nofault   write a pfn: read its struct page with get_kernel_nofault();
 *             the write returns its error (-EFAULT when the fault could
 *             not be served)
 *   stats     read "accesses N violations N touched N throttled N"
 *   page      write a pfn of any ZONE_DEVICE page (a DAX page, say), then
 *             read "pfn P resident R refcount N pinned B mapping M index I
 *             flags F": R says whether its struct page was mapped before
 *             this read touched it (on-demand windows; -22 elsewhere), M is
 *             the hashed page->mapping
 *
 * An access checks page_to_pfn(pfn_to_page(pfn)) == pfn, the zone, the
 * node, the pgmap, the refcount (idle: 0) and _mapcount (-1), takes and
 * drops a reference and sets and clears PG_owner_priv_1; verify checks that
 * every reference came back and every flag was cleared.
 */
#include <linux/bitmap.h>
#include <linux/debugfs.h>
#include <linux/hrtimer.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rwsem.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/vmemmap_od.h>

#define STRUCT_PAGES_PER_VPAGE	(PAGE_SIZE / sizeof(struct page))
#define TVO_BATCH		64
#define TVO_SEQ_STRIDE		8

struct tvo_range {
	struct dev_pagemap pgmap;
	struct resource *res;
	unsigned long start_pfn;
	unsigned long nr_pages;
	int nid;
	unsigned long *touched;		/* one bit per vmemmap page */
};

static DECLARE_RWSEM(tvo_sem);		/* write: replace the range */
static struct tvo_range *tvo;
static DEFINE_SPINLOCK(tvo_lock);	/* the "spinlock held" context */
static atomic_long_t tvo_accesses, tvo_violations, tvo_throttled;
static struct dentry *tvo_dir;

static void tvo_page_free(struct page *page)
{
}

static vm_fault_t tvo_migrate_to_ram(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct dev_pagemap_ops tvo_ops = {
	.page_free = tvo_page_free,
	.migrate_to_ram = tvo_migrate_to_ram,
};

static void tvo_destroy(void)
{
	if (!tvo)
		return;
	memunmap_pages(&tvo->pgmap);
	release_mem_region(tvo->res->start, resource_size(tvo->res));
	vfree(tvo->touched);
	kfree(tvo);
	tvo = NULL;
}

static int tvo_create(u64 size, bool upfront)
{
	struct tvo_range *r;
	void *ret;

	size = round_up(size, PAGES_PER_SECTION << PAGE_SHIFT);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->nr_pages = size >> PAGE_SHIFT;
	r->touched = vzalloc(BITS_TO_LONGS(r->nr_pages / STRUCT_PAGES_PER_VPAGE) *
			     sizeof(long));
	if (!r->touched)
		goto err_free;
	r->res = request_free_mem_region(&iomem_resource, size, "test_vmemmap_od");
	if (IS_ERR(r->res)) {
		vfree(r->touched);
		kfree(r);
		return PTR_ERR(r->res);
	}
	r->nid = numa_node_id();
	r->start_pfn = PHYS_PFN(r->res->start);
	r->pgmap.type = MEMORY_DEVICE_PRIVATE;
	r->pgmap.flags = upfront ? 0 : PGMAP_ON_DEMAND;
	r->pgmap.range.start = r->res->start;
	r->pgmap.range.end = r->res->end;
	r->pgmap.nr_range = 1;
	r->pgmap.ops = &tvo_ops;
	r->pgmap.owner = r;
	ret = memremap_pages(&r->pgmap, r->nid);
	if (IS_ERR(ret)) {
		release_mem_region(r->res->start, resource_size(r->res));
		vfree(r->touched);
		kfree(r);
		return PTR_ERR(ret);
	}
	tvo = r;
	return 0;

err_free:
	vfree(r->touched);
	kfree(r);
	return -ENOMEM;
}

/* One access: check what init must have made, take and drop a reference. */
static void tvo_touch(struct tvo_range *r, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	bool bad = page_to_pfn(page) != pfn ||
		   page_zonenum(page) != ZONE_DEVICE ||
		   page_to_nid(page) != r->nid ||
		   page->pgmap != &r->pgmap ||
		   page_ref_count(page) < 0 ||
		   atomic_read(&page->_mapcount) != -1;

	page_ref_inc(page);
	set_bit(PG_owner_priv_1, &page->flags);
	page_ref_dec(page);
	clear_bit(PG_owner_priv_1, &page->flags);
	set_bit((pfn - r->start_pfn) / STRUCT_PAGES_PER_VPAGE, r->touched);
	atomic_long_inc(&tvo_accesses);
	if (bad) {
		atomic_long_inc(&tvo_violations);
		pr_err_ratelimited("test_vmemmap_od: pfn %#lx: bad struct page\n", pfn);
	}
}

enum tvo_pattern { TVO_RANDOM, TVO_SEQ, TVO_ZIPF };

struct tvo_run {
	struct tvo_range *r;
	unsigned long left;
	enum tvo_pattern pattern;
	unsigned long ws;		/* working set, in vmemmap pages */
	u64 rnd;
	struct hrtimer timer;
	struct completion done;
};

static u64 tvo_rand(struct tvo_run *run)
{
	/* xorshift64 */
	run->rnd ^= run->rnd << 13;
	run->rnd ^= run->rnd >> 7;
	run->rnd ^= run->rnd << 17;
	return run->rnd;
}

/*
 * A rank in [0, n) drawn with P(rank < r) ~ log(r + 1) / log(n), Zipf's
 * law with s = 1, from a uniform 32-bit @u: n^(u / 2^32) - 1, with log2
 * and 2^x taken piecewise linearly in 16.16 fixed point.
 */
static unsigned long tvo_zipf(u32 u, unsigned long n)
{
	unsigned int l = ilog2(n);
	u64 log2n = (u64)l << 16 | (((u64)n << 16 >> l) & 0xffff);
	u64 y = (u64)u * log2n >> 32;
	u64 pow = ((1ULL << 16) + (y & 0xffff)) << (y >> 16) >> 16;

	return min_t(u64, pow ? pow - 1 : 0, n - 1);
}

static unsigned long tvo_next_pfn(struct tvo_run *run)
{
	const unsigned long span = run->ws * STRUCT_PAGES_PER_VPAGE;
	unsigned long vpage;
	u64 v;

	switch (run->pattern) {
	case TVO_SEQ:
		run->rnd += TVO_SEQ_STRIDE;
		return run->r->start_pfn + run->rnd % span;
	case TVO_ZIPF:
		v = tvo_rand(run);
		/* Hot vmemmap pages scattered over the working set. */
		vpage = tvo_zipf(v >> 32, run->ws) * 0x9e3779b1UL % run->ws;
		return run->r->start_pfn + vpage * STRUCT_PAGES_PER_VPAGE +
		       v % STRUCT_PAGES_PER_VPAGE;
	default:
		return run->r->start_pfn + tvo_rand(run) % span;
	}
}

/*
 * Up to TVO_BATCH accesses; stops early when the on-demand memmap is
 * congested, as a well-behaved producer does: the caller then throttles
 * where it can sleep. Returns false if it stopped for that.
 */
static bool tvo_batch(struct tvo_run *run)
{
	unsigned long n = min_t(unsigned long, run->left, TVO_BATCH);

	for (; n; n--, run->left--) {
		if (vmemmap_od_congested())
			return false;
		tvo_touch(run->r, tvo_next_pfn(run));
	}
	return true;
}

static void tvo_throttle(struct tvo_run *run)
{
	atomic_long_inc(&tvo_throttled);
	vmemmap_od_throttle();
}

static enum hrtimer_restart tvo_timer_fn(struct hrtimer *timer)
{
	struct tvo_run *run = container_of(timer, struct tvo_run, timer);

	/* Congested: the waiting task throttles and restarts the timer. */
	if (!tvo_batch(run) || !run->left) {
		complete(&run->done);
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(timer, ns_to_ktime(1000));
	return HRTIMER_RESTART;
}

static int tvo_run_ctx(struct tvo_range *r, const char *ctx, unsigned long nr,
		       u64 seed, enum tvo_pattern pattern, unsigned long ws)
{
	struct tvo_run run = { .r = r, .left = nr, .pattern = pattern,
			       .rnd = (seed + 1) * 0x9e3779b97f4a7c15ULL };
	unsigned long flags;

	run.ws = r->nr_pages / STRUCT_PAGES_PER_VPAGE;
	if (ws && ws < run.ws)
		run.ws = ws;
	if (pattern == TVO_SEQ)
		run.rnd %= run.ws * STRUCT_PAGES_PER_VPAGE;

	if (!strcmp(ctx, "process")) {
		while (run.left) {
			if (!tvo_batch(&run))
				tvo_throttle(&run);
			cond_resched();
		}
	} else if (!strcmp(ctx, "irqoff")) {
		while (run.left) {
			bool done;

			local_irq_save(flags);
			done = tvo_batch(&run);
			local_irq_restore(flags);
			if (!done)
				tvo_throttle(&run);
			cond_resched();
		}
	} else if (!strcmp(ctx, "spinlock")) {
		while (run.left) {
			bool done;

			spin_lock(&tvo_lock);
			done = tvo_batch(&run);
			spin_unlock(&tvo_lock);
			if (!done)
				tvo_throttle(&run);
			cond_resched();
		}
	} else if (!strcmp(ctx, "softirq") || !strcmp(ctx, "hardirq")) {
		enum hrtimer_mode mode = ctx[0] == 's' ? HRTIMER_MODE_REL_SOFT :
							  HRTIMER_MODE_REL_HARD;

		hrtimer_init_on_stack(&run.timer, CLOCK_MONOTONIC, mode);
		run.timer.function = tvo_timer_fn;
		while (run.left) {
			init_completion(&run.done);
			hrtimer_start(&run.timer, ns_to_ktime(1000), mode);
			wait_for_completion(&run.done);
			hrtimer_cancel(&run.timer);
			if (run.left)
				tvo_throttle(&run);
		}
		destroy_hrtimer_on_stack(&run.timer);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Every struct page of every touched vmemmap page is idle and intact. */
static int tvo_verify(struct tvo_range *r)
{
	unsigned long bit, nbits = r->nr_pages / STRUCT_PAGES_PER_VPAGE;
	long bad = 0;
	int i;

	for_each_set_bit(bit, r->touched, nbits) {
		unsigned long pfn = r->start_pfn + bit * STRUCT_PAGES_PER_VPAGE;

		for (i = 0; i < STRUCT_PAGES_PER_VPAGE; i++, pfn++) {
			struct page *page = pfn_to_page(pfn);

			if (page_to_pfn(page) != pfn ||
			    page_zonenum(page) != ZONE_DEVICE ||
			    page->pgmap != &r->pgmap ||
			    page->zone_device_data ||
			    !PageReserved(page) || PageCompound(page) ||
			    test_bit(PG_owner_priv_1, &page->flags) ||
			    page_ref_count(page) != 0 ||
			    atomic_read(&page->_mapcount) != -1)
				bad++;
		}
		cond_resched();
	}
	atomic_long_add(bad, &tvo_violations);
	return bad ? -EIO : 0;
}

static char *tvo_get_cmd(const char __user *ubuf, size_t count)
{
	if (count > 128)
		return ERR_PTR(-EINVAL);
	return memdup_user_nul(ubuf, count);
}

static ssize_t size_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	char *buf = tvo_get_cmd(ubuf, count), *end;
	bool upfront;
	u64 size;
	int ret;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	size = memparse(strim(buf), &end);
	end = strim(end);
	upfront = !strcmp(end, "upfront");
	ret = *end && !upfront ? -EINVAL : 0;
	kfree(buf);
	if (ret)
		return ret;

	down_write(&tvo_sem);
	tvo_destroy();
	if (size)
		ret = tvo_create(size, upfront);
	up_write(&tvo_sem);
	return ret ? ret : count;
}

static ssize_t size_read(struct file *file, char __user *ubuf, size_t count,
			 loff_t *ppos)
{
	char buf[64];
	int len;

	down_read(&tvo_sem);
	len = tvo ? scnprintf(buf, sizeof(buf), "%#lx %#lx\n", tvo->start_pfn,
			      tvo->start_pfn + tvo->nr_pages) :
		    scnprintf(buf, sizeof(buf), "none\n");
	up_read(&tvo_sem);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static ssize_t access_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	static const char * const patterns[] = {
		[TVO_RANDOM] = "random", [TVO_SEQ] = "seq", [TVO_ZIPF] = "zipf",
	};
	char *buf = tvo_get_cmd(ubuf, count), ctx[16], pattern[16] = "random";
	long before = atomic_long_read(&tvo_violations);
	unsigned long nr, ws = 0;
	u64 seed;
	int ret, p;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sscanf(buf, "%15s %lu %llu %15s %lu", ctx, &nr, &seed, pattern, &ws);
	kfree(buf);
	p = match_string(patterns, ARRAY_SIZE(patterns), pattern);
	if (ret < 3 || p < 0)
		return -EINVAL;

	down_read(&tvo_sem);
	ret = tvo ? tvo_run_ctx(tvo, ctx, nr, seed, p, ws) : -ENODEV;
	up_read(&tvo_sem);
	if (!ret && atomic_long_read(&tvo_violations) != before)
		ret = -EIO;
	return ret ? ret : count;
}

static ssize_t verify_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	int ret;

	down_read(&tvo_sem);
	ret = tvo ? tvo_verify(tvo) : -ENODEV;
	up_read(&tvo_sem);
	return ret ? ret : count;
}

static ssize_t nofault_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	unsigned long pfn, flags;
	int ret;

	ret = kstrtoul_from_user(ubuf, count, 0, &pfn);
	if (ret)
		return ret;
	down_read(&tvo_sem);
	if (!tvo || pfn < tvo->start_pfn || pfn >= tvo->start_pfn + tvo->nr_pages)
		ret = -EINVAL;
	else
		ret = get_kernel_nofault(flags, &pfn_to_page(pfn)->flags);
	up_read(&tvo_sem);
	return ret ? ret : count;
}

static int stats_show(struct seq_file *m, void *v)
{
	unsigned long touched = 0;

	down_read(&tvo_sem);
	if (tvo)
		touched = bitmap_weight(tvo->touched,
					tvo->nr_pages / STRUCT_PAGES_PER_VPAGE);
	up_read(&tvo_sem);
	seq_printf(m, "accesses %ld violations %ld touched %lu throttled %ld\n",
		   atomic_long_read(&tvo_accesses),
		   atomic_long_read(&tvo_violations), touched,
		   atomic_long_read(&tvo_throttled));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

static unsigned long tvo_page_pfn;

static ssize_t page_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	unsigned long pfn;
	int ret;

	ret = kstrtoul_from_user(ubuf, count, 0, &pfn);
	if (ret)
		return ret;
	WRITE_ONCE(tvo_page_pfn, pfn);
	return count;
}

static int page_show(struct seq_file *m, void *v)
{
	unsigned long pfn = READ_ONCE(tvo_page_pfn);
	struct dev_pagemap *pgmap;
	struct page *page;
	int resident;

	if (!pfn_valid(pfn))
		return -EINVAL;
	/* Keeps the struct page from going away while it is read. */
	pgmap = get_dev_pagemap(pfn, NULL);
	if (!pgmap)
		return -EINVAL;
	resident = vmemmap_od_resident(pfn);
	page = pfn_to_page(pfn);
	seq_printf(m, "pfn %#lx resident %d refcount %d pinned %d mapping %p index %#lx flags %#lx\n",
		   pfn, resident, page_ref_count(page),
		   folio_maybe_dma_pinned(page_folio(page)),
		   READ_ONCE(page->mapping), READ_ONCE(page->index),
		   READ_ONCE(page->flags));
	put_dev_pagemap(pgmap);
	return 0;
}

static int page_open(struct inode *inode, struct file *file)
{
	return single_open(file, page_show, NULL);
}

static const struct file_operations page_fops = {
	.open = page_open,
	.read = seq_read,
	.write = page_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static const struct file_operations size_fops = {
	.write = size_write,
	.read = size_read,
};

static const struct file_operations access_fops = {
	.write = access_write,
};

static const struct file_operations verify_fops = {
	.write = verify_write,
};

static const struct file_operations nofault_fops = {
	.write = nofault_write,
};

static int __init tvo_init(void)
{
	tvo_dir = debugfs_create_dir("test_vmemmap_od", NULL);
	debugfs_create_file("size", 0600, tvo_dir, NULL, &size_fops);
	debugfs_create_file("access", 0200, tvo_dir, NULL, &access_fops);
	debugfs_create_file("verify", 0200, tvo_dir, NULL, &verify_fops);
	debugfs_create_file("nofault", 0200, tvo_dir, NULL, &nofault_fops);
	debugfs_create_file("stats", 0400, tvo_dir, NULL, &stats_fops);
	debugfs_create_file("page", 0600, tvo_dir, NULL, &page_fops);
	return 0;
}

static void __exit tvo_exit(void)
{
	debugfs_remove_recursive(tvo_dir);
	down_write(&tvo_sem);
	tvo_destroy();
	up_write(&tvo_sem);
}

module_init(tvo_init);
module_exit(tvo_exit);
MODULE_DESCRIPTION("Test driver for on-demand vmemmap");
MODULE_LICENSE("GPL");
