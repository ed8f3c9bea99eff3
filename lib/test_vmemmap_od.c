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
 *             remove it; read "START_PFN END_PFN"
 *   access    write "CTX NR SEED": NR struct page accesses at random pfns
 *             from CTX = process | irqoff | spinlock | softirq | hardirq;
 *             the write fails with -EIO if an invariant was violated
 *   verify    write anything: check every struct page of every vmemmap
 *             page the accesses touched; -EIO on a violation
 *   nofault   write a pfn: read its struct page with get_kernel_nofault();
 *             the write returns its error (-EFAULT when the fault could
 *             not be served)
 *   stats     read "accesses N violations N touched N"
 *
 * An access checks page_to_pfn(pfn_to_page(pfn)) == pfn, the zone, the
 * node, the pgmap, the refcount (idle: 0) and _mapcount (-1), and takes and
 * drops a reference; verify checks that every reference came back.
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

#define STRUCT_PAGES_PER_VPAGE	(PAGE_SIZE / sizeof(struct page))
#define TVO_BATCH		64

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
static atomic_long_t tvo_accesses, tvo_violations;
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

static int tvo_create(u64 size)
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
	r->pgmap.flags = PGMAP_ON_DEMAND;
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
	page_ref_dec(page);
	set_bit((pfn - r->start_pfn) / STRUCT_PAGES_PER_VPAGE, r->touched);
	atomic_long_inc(&tvo_accesses);
	if (bad) {
		atomic_long_inc(&tvo_violations);
		pr_err_ratelimited("test_vmemmap_od: pfn %#lx: bad struct page\n", pfn);
	}
}

struct tvo_run {
	struct tvo_range *r;
	unsigned long left;
	u64 rnd;
	struct hrtimer timer;
	struct completion done;
};

static unsigned long tvo_next_pfn(struct tvo_run *run)
{
	/* xorshift64 */
	run->rnd ^= run->rnd << 13;
	run->rnd ^= run->rnd >> 7;
	run->rnd ^= run->rnd << 17;
	return run->r->start_pfn + run->rnd % run->r->nr_pages;
}

static void tvo_batch(struct tvo_run *run)
{
	unsigned long n = min_t(unsigned long, run->left, TVO_BATCH);

	run->left -= n;
	while (n--)
		tvo_touch(run->r, tvo_next_pfn(run));
}

static enum hrtimer_restart tvo_timer_fn(struct hrtimer *timer)
{
	struct tvo_run *run = container_of(timer, struct tvo_run, timer);

	tvo_batch(run);
	if (!run->left) {
		complete(&run->done);
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(timer, ns_to_ktime(1000));
	return HRTIMER_RESTART;
}

static int tvo_run_ctx(struct tvo_range *r, const char *ctx, unsigned long nr,
		       u64 seed)
{
	struct tvo_run run = { .r = r, .left = nr,
			       .rnd = (seed + 1) * 0x9e3779b97f4a7c15ULL };
	unsigned long flags;

	if (!strcmp(ctx, "process")) {
		while (run.left) {
			tvo_batch(&run);
			cond_resched();
		}
	} else if (!strcmp(ctx, "irqoff")) {
		while (run.left) {
			local_irq_save(flags);
			tvo_batch(&run);
			local_irq_restore(flags);
			cond_resched();
		}
	} else if (!strcmp(ctx, "spinlock")) {
		while (run.left) {
			spin_lock(&tvo_lock);
			tvo_batch(&run);
			spin_unlock(&tvo_lock);
			cond_resched();
		}
	} else if (!strcmp(ctx, "softirq") || !strcmp(ctx, "hardirq")) {
		enum hrtimer_mode mode = ctx[0] == 's' ? HRTIMER_MODE_REL_SOFT :
							  HRTIMER_MODE_REL_HARD;

		init_completion(&run.done);
		hrtimer_init_on_stack(&run.timer, CLOCK_MONOTONIC, mode);
		run.timer.function = tvo_timer_fn;
		hrtimer_start(&run.timer, ns_to_ktime(1000), mode);
		wait_for_completion(&run.done);
		hrtimer_cancel(&run.timer);
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
	u64 size;
	int ret;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	size = memparse(strim(buf), &end);
	ret = *end ? -EINVAL : 0;
	kfree(buf);
	if (ret)
		return ret;

	down_write(&tvo_sem);
	tvo_destroy();
	if (size)
		ret = tvo_create(size);
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
	char *buf = tvo_get_cmd(ubuf, count), ctx[16];
	long before = atomic_long_read(&tvo_violations);
	unsigned long nr;
	u64 seed;
	int ret;

	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sscanf(buf, "%15s %lu %llu", ctx, &nr, &seed) == 3 ? 0 : -EINVAL;
	kfree(buf);
	if (ret)
		return ret;

	down_read(&tvo_sem);
	ret = tvo ? tvo_run_ctx(tvo, ctx, nr, seed) : -ENODEV;
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
	seq_printf(m, "accesses %ld violations %ld touched %lu\n",
		   atomic_long_read(&tvo_accesses),
		   atomic_long_read(&tvo_violations), touched);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

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
