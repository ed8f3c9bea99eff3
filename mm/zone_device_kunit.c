// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the memmap of ZONE_DEVICE memory as memremap_pages()
 * builds it today: the reference that any other way of producing device
 * struct pages (such as on-demand vmemmap) has to match.
 *
 * The suite maps a section of free physical address space as
 * MEMORY_DEVICE_PRIVATE, the way lib/test_hmm.c does, so no backing memory
 * is needed, and checks what memmap_init_zone_device() wrote.
 */
#include <kunit/test.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mmzone.h>

#define ZD_TEST_SIZE	(PAGES_PER_SECTION << PAGE_SHIFT)

struct zd_test {
	struct dev_pagemap pgmap;
	struct resource *res;
	unsigned long pfn_first;
	unsigned long nr_pages;
};

static struct zd_test zd;

static void zd_page_free(struct page *page)
{
}

static vm_fault_t zd_migrate_to_ram(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct dev_pagemap_ops zd_ops = {
	.page_free = zd_page_free,
	.migrate_to_ram = zd_migrate_to_ram,
};

static int zd_suite_init(struct kunit_suite *suite)
{
	void *ret;

	zd.res = request_free_mem_region(&iomem_resource, ZD_TEST_SIZE,
					 "zone_device_kunit");
	if (IS_ERR(zd.res))
		return PTR_ERR(zd.res);
	zd.pgmap.type = MEMORY_DEVICE_PRIVATE;
	zd.pgmap.range.start = zd.res->start;
	zd.pgmap.range.end = zd.res->end;
	zd.pgmap.nr_range = 1;
	zd.pgmap.ops = &zd_ops;
	zd.pgmap.owner = &zd;
	ret = memremap_pages(&zd.pgmap, numa_node_id());
	if (IS_ERR(ret)) {
		release_mem_region(zd.res->start, resource_size(zd.res));
		return PTR_ERR(ret);
	}
	zd.pfn_first = PHYS_PFN(zd.res->start);
	zd.nr_pages = PHYS_PFN(resource_size(zd.res));
	return 0;
}

static void zd_suite_exit(struct kunit_suite *suite)
{
	memunmap_pages(&zd.pgmap);
	release_mem_region(zd.res->start, resource_size(zd.res));
}

/* pfn_to_page() and page_to_pfn() are inverse over the whole range. */
static void zd_pfn_page_round_trip(struct kunit *test)
{
	unsigned long i, bad = 0;

	for (i = 0; i < zd.nr_pages; i++) {
		unsigned long pfn = zd.pfn_first + i;

		if (page_to_pfn(pfn_to_page(pfn)) != pfn)
			bad++;
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
}

/* Every struct page is what __init_zone_device_page() makes of it. */
static void zd_pages_initialised(struct kunit *test)
{
	unsigned long i;

	for (i = 0; i < zd.nr_pages; i++) {
		struct page *page = pfn_to_page(zd.pfn_first + i);

		KUNIT_ASSERT_TRUE(test, is_zone_device_page(page));
		KUNIT_ASSERT_EQ(test, page_zonenum(page), ZONE_DEVICE);
		KUNIT_ASSERT_PTR_EQ(test, page->pgmap, &zd.pgmap);
		KUNIT_ASSERT_NULL(test, page->zone_device_data);
		KUNIT_ASSERT_TRUE(test, PageReserved(page));
		KUNIT_ASSERT_EQ(test, page_ref_count(page), 0);
		KUNIT_ASSERT_EQ(test, atomic_read(&page->_mapcount), -1);
		KUNIT_ASSERT_FALSE(test, PageCompound(page));
	}
}

/* The pgmap is found from any of its pfns, and only from those. */
static void zd_pgmap_lookup(struct kunit *test)
{
	struct dev_pagemap *pgmap;

	pgmap = get_dev_pagemap(zd.pfn_first, NULL);
	KUNIT_EXPECT_PTR_EQ(test, pgmap, &zd.pgmap);
	if (pgmap)
		put_dev_pagemap(pgmap);
	pgmap = get_dev_pagemap(zd.pfn_first + zd.nr_pages - 1, NULL);
	KUNIT_EXPECT_PTR_EQ(test, pgmap, &zd.pgmap);
	if (pgmap)
		put_dev_pagemap(pgmap);
	KUNIT_EXPECT_NULL(test, pfn_to_online_page(zd.pfn_first));
}

static struct kunit_case zd_test_cases[] = {
	KUNIT_CASE(zd_pfn_page_round_trip),
	KUNIT_CASE(zd_pages_initialised),
	KUNIT_CASE(zd_pgmap_lookup),
	{}
};

static struct kunit_suite zd_test_suite = {
	.name = "zone_device_memmap",
	.suite_init = zd_suite_init,
	.suite_exit = zd_suite_exit,
	.test_cases = zd_test_cases,
};

kunit_test_suite(zd_test_suite);

MODULE_DESCRIPTION("KUnit tests for the ZONE_DEVICE memmap");
MODULE_LICENSE("GPL");
