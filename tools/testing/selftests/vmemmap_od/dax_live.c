// SPDX-License-Identifier: GPL-2.0
/*
 * dax_live - on-demand vmemmap reclaim keeps the live state of DAX pages.
 *
 * A DAX mapping (a file on an fsdax mount, or a device-dax device, in the
 * ondemand memmap mode) is filled with a pattern and, for device-dax, half
 * of it is registered as io_uring fixed buffers: a long-term pin (GUP
 * refuses long-term pins of fsdax pages, whose live state is the file's
 * DAX entries: page->mapping and index). With DAX_LIVE_SOURCE, the other
 * half is then filled by O_DIRECT reads from that file: the block layer
 * marks the DAX pages they land in dirty (bio_set_pages_dirty()), flags
 * that reclaim must save and the rebuild write back. The test records the
 * struct page of one pfn per vmemmap page (or of every page, with
 * DAX_LIVE_STEP=4096) through the test driver's "page" file (its fields
 * and a hash of all its bytes), sets a tiny budget_kb and makes the driver fault in far more
 * struct pages than the budget holds, so that reclaim runs, oldest pages
 * first. Then:
 *  - every recorded struct page reads back byte for byte the same, whether
 *    it stayed resident or was reclaimed and rebuilt;
 *  - the vmemmap pages of pinned pages stayed resident; those of mapped
 *    but unpinned pages were reclaimed, fsdax and device-dax alike (their
 *    mapping, index and flags are saved and rebuilt);
 *  - the data is unchanged;
 * and once the pins are dropped and the fsdax file is deleted, the same
 * vmemmap pages are reclaimed too: the budget holds for pages that have
 * been mapped, not only for pages never mapped.
 *
 * Environment:
 *   DAX_LIVE_TARGET     a directory on a DAX filesystem, or /dev/daxX.Y
 *   DAX_LIVE_SIZE       bytes to map (default 16 MiB; 2 MiB multiple)
 *   DAX_LIVE_FILES      fsdax: files to share DAX_LIVE_SIZE among, mapped
 *                       side by side (default 1, at most 8)
 *   DAX_LIVE_STEP       bytes between recorded pages (default 256 KiB: one
 *                       per vmemmap page)
 *   DAX_LIVE_BUDGET_KB  budget during the test (default 1024)
 *   DAX_LIVE_PRESSURE   driver accesses per pressure step, random over
 *                       1 TiB (default 20000: 80x a 1 MiB budget's pages)
 *   DAX_LIVE_SOURCE     a file on a block device, at least half of
 *                       DAX_LIVE_SIZE long, to O_DIRECT-read from (optional)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "../kselftest_harness.h"
#include "vod_util.h"

#define PFNS_PER_VPAGE	64
#define MAX_FILES	8
#define STATE_LEN	256

/* The pfn behind a mapped user address, from /proc/self/pagemap. */
static unsigned long user_pfn(void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, sizeof(e), (uintptr_t)addr / 4096 * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return (e >> 63) & 1 ? e & ((1ULL << 55) - 1) : 0;
}

/*
 * The state of @pfn's struct page, without the "resident" field, in @state;
 * whether its vmemmap page was mapped before this read touched it.
 */
static int page_state(unsigned long pfn, char *state, size_t len)
{
	char buf[STATE_LEN + 64], *rest;
	int resident = -1;
	FILE *f;

	snprintf(buf, sizeof(buf), "%#lx", pfn);
	if (write_str(TVO "page", buf))
		return -1;
	f = fopen(TVO "page", "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f) ||
	    sscanf(buf, "pfn %*s resident %d", &resident) != 1) {
		fclose(f);
		return -1;
	}
	fclose(f);
	rest = strstr(buf, " refcount ");
	snprintf(state, len, "%s", rest ? rest : "");
	return resident;
}

/* Fault in far more struct pages than the budget holds: reclaim runs. */
static int pressure(unsigned long seed)
{
	const char *nr = getenv("DAX_LIVE_PRESSURE") ?: "20000";
	char cmd[64];
	int ret;

	ret = write_str(TVO "size", "1T");
	if (ret)
		return ret;
	snprintf(cmd, sizeof(cmd), "process %s %lu", nr, seed);
	ret = write_str(TVO "access", cmd);
	write_str(TVO "size", "0");
	return ret;
}

struct sample {
	unsigned long pfn;
	bool pinned;
	char state[STATE_LEN];
};

FIXTURE(dax_live) {
	bool devdax;
	char path[256];
	int fd;
	unsigned int nr_files;
	int fds[MAX_FILES];
	char paths[MAX_FILES][256];
	int ring;
	size_t size;
	size_t step;
	char *map;
	long budget0;
	uint64_t sum;
	unsigned int nr;
	unsigned int max;
	struct sample *s;
};

/* Close and delete the fsdax files. */
static int drop_files(FIXTURE_DATA(dax_live) *self)
{
	int ret = 0;
	unsigned int k;

	for (k = 0; k < self->nr_files; k++) {
		if (self->fds[k] >= 0)
			close(self->fds[k]);
		self->fds[k] = -1;
		if (self->paths[k][0] && unlink(self->paths[k]))
			ret = -errno;
		self->paths[k][0] = 0;
	}
	return ret;
}

FIXTURE_SETUP(dax_live)
{
	const char *tgt = getenv("DAX_LIVE_TARGET");
	char budget[32];
	struct stat st;
	size_t i;

	self->fd = -1;
	for (i = 0; i < MAX_FILES; i++)
		self->fds[i] = -1;
	self->ring = -1;
	self->map = MAP_FAILED;
	self->budget0 = -1;
	if (!tgt)
		SKIP(return, "DAX_LIVE_TARGET not set");
	if (access(TVO "page", W_OK))
		SKIP(return, "no test_vmemmap_od driver (CONFIG_TEST_VMEMMAP_OD)");
	self->size = strtoull(getenv("DAX_LIVE_SIZE") ?: "16777216", NULL, 0);
	self->step = strtoull(getenv("DAX_LIVE_STEP") ?: "262144", NULL, 0);
	ASSERT_TRUE(self->step >= 4096 && self->step % 4096 == 0);
	self->max = self->size / self->step;
	self->s = calloc(self->max, sizeof(*self->s));
	ASSERT_NE(NULL, self->s);
	ASSERT_EQ(0, stat(tgt, &st));
	self->devdax = S_ISCHR(st.st_mode);
	if (self->devdax) {
		snprintf(self->path, sizeof(self->path), "%s", tgt);
		self->fd = open(tgt, O_RDWR);
		ASSERT_LE(0, self->fd) TH_LOG("%s: %s", self->path, strerror(errno));
		self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->fd, 0);
		ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	} else {
		size_t fsize;

		self->nr_files = strtoul(getenv("DAX_LIVE_FILES") ?: "1", NULL, 0);
		ASSERT_TRUE(self->nr_files >= 1 && self->nr_files <= MAX_FILES);
		fsize = self->size / self->nr_files;
		ASSERT_EQ(0, fsize % (2 << 20)) TH_LOG("DAX_LIVE_SIZE / DAX_LIVE_FILES");
		/* The files side by side in one range of the address space. */
		self->map = mmap(NULL, self->size, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->map);
		for (i = 0; i < self->nr_files; i++) {
			char *p = self->paths[i];
			int fd;

			snprintf(p, sizeof(self->paths[i]), "%s/dax_live.%zu", tgt, i);
			fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
			self->fds[i] = fd;
			ASSERT_LE(0, fd) TH_LOG("%s: %s", p, strerror(errno));
			ASSERT_EQ(0, posix_fallocate(fd, 0, fsize));
			ASSERT_EQ(self->map + i * fsize,
				  mmap(self->map + i * fsize, fsize, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_FIXED, fd, 0))
				TH_LOG("mmap %s: %s", p, strerror(errno));
		}
	}
	for (i = 0; i < self->size / 8; i++)
		((uint64_t *)self->map)[i] = (i * 0x9e3779b97f4a7c15ULL) ^ (i >> 7);
	self->sum = fnv1a(self->map, self->size);

	self->budget0 = read_long(OD_SYSFS "budget_kb");
	ASSERT_LE(0, self->budget0) TH_LOG("no " OD_SYSFS "budget_kb");
	snprintf(budget, sizeof(budget), "%s", getenv("DAX_LIVE_BUDGET_KB") ?: "1024");
	ASSERT_EQ(0, write_str(OD_SYSFS "budget_kb", budget));
}

FIXTURE_TEARDOWN(dax_live)
{
	char buf[32];

	if (self->ring >= 0)
		close(self->ring);
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->fd >= 0)
		close(self->fd);
	drop_files(self);
	free(self->s);
	if (self->budget0 >= 0) {
		snprintf(buf, sizeof(buf), "%ld", self->budget0);
		write_str(OD_SYSFS "budget_kb", buf);
	}
}

/* Long-term pin the first half of the mapping as io_uring fixed buffers. */
static int pin_half(FIXTURE_DATA(dax_live) *self)
{
	struct io_uring_params p = { 0 };
	struct iovec iov = { self->map, self->size / 2 };

	self->ring = syscall(__NR_io_uring_setup, 4, &p);
	if (self->ring < 0)
		return -errno;
	if (syscall(__NR_io_uring_register, self->ring, IORING_REGISTER_BUFFERS,
		    &iov, 1) < 0)
		return -errno;
	return 0;
}

/*
 * O_DIRECT-read @src into the second half of the mapping, 64 KiB at a time;
 * then the checksum is the new data's.
 */
static int dio_second_half(FIXTURE_DATA(dax_live) *self, const char *src)
{
	size_t off, chunk = 64 << 10;
	int fd = open(src, O_RDONLY | O_DIRECT);

	if (fd < 0)
		return -errno;
	for (off = self->size / 2; off < self->size; off += chunk)
		if (pread(fd, self->map + off, chunk, off - self->size / 2) != (ssize_t)chunk) {
			close(fd);
			return errno ? -errno : -EIO;
		}
	close(fd);
	self->sum = fnv1a(self->map, self->size);
	return 0;
}

/* One pfn every DAX_LIVE_STEP of the mapping, and the state of each. */
static int record(FIXTURE_DATA(dax_live) *self)
{
	size_t off;

	self->nr = 0;
	for (off = 0; off < self->size && self->nr < self->max; off += self->step) {
		struct sample *s = &self->s[self->nr++];

		s->pfn = user_pfn(self->map + off);
		s->pinned = self->ring >= 0 && off < self->size / 2;
		if (!s->pfn || page_state(s->pfn, s->state, sizeof(s->state)) < 0)
			return -1;
	}
	return 0;
}

/* Does sample @i start a vmemmap page (the previous one is in another)? */
static bool first_in_vpage(FIXTURE_DATA(dax_live) *self, unsigned int i)
{
	return !i || self->s[i].pfn / PFNS_PER_VPAGE !=
		     self->s[i - 1].pfn / PFNS_PER_VPAGE;
}

/*
 * Compare every sample with what was recorded, byte for byte; count the
 * vmemmap pages of the samples (pinned and unpinned ones) and those that
 * were reclaimed, as the first read of each found it.
 */
static void check(struct __test_metadata *_metadata, FIXTURE_DATA(dax_live) *self,
		  unsigned int *vp_pinned, unsigned int *vp_other,
		  unsigned int *gone_pinned, unsigned int *gone_other)
{
	unsigned int i, differ = 0;
	char state[STATE_LEN];

	*vp_pinned = *vp_other = *gone_pinned = *gone_other = 0;
	for (i = 0; i < self->nr; i++) {
		struct sample *s = &self->s[i];
		int resident = page_state(s->pfn, state, sizeof(state));

		ASSERT_LE(0, resident) TH_LOG("pfn %#lx: no state", s->pfn);
		if (strcmp(s->state, state) && differ++ < 4)
			TH_LOG("pfn %#lx changed (resident %d):\n  was %s\n  now %s",
			       s->pfn, resident, s->state, state);
		if (!first_in_vpage(self, i))
			continue;
		(*(s->pinned ? vp_pinned : vp_other))++;
		if (!resident)
			(*(s->pinned ? gone_pinned : gone_other))++;
	}
	EXPECT_EQ(0, differ) TH_LOG("%u of %u struct pages changed", differ, self->nr);
}

TEST_F_TIMEOUT(dax_live, reclaim_keeps_live_state, 120)
{
	long reclaimed0 = read_vmstat("vmemmap_od_reclaimed");
	long rescued0 = read_vmstat("vmemmap_od_rescued");
	unsigned int gone_pinned, gone_other, vp_pinned, vp_other;
	unsigned int nr_pinned = 0, dirtied = 0, i;
	const char *src = getenv("DAX_LIVE_SOURCE");
	int ret;

	if (self->devdax) {
		ret = pin_half(self);
		ASSERT_EQ(0, ret) TH_LOG("io_uring fixed buffers: %s", strerror(-ret));
	}
	ASSERT_EQ(0, record(self)) TH_LOG("cannot read the struct pages (pagemap, " TVO "page)");
	if (src) {
		ret = dio_second_half(self, src);
		ASSERT_EQ(0, ret) TH_LOG("O_DIRECT from %s: %s", src, strerror(-ret));
		ASSERT_EQ(0, record(self));
		/*
		 * The flag the block layer set (on a device-dax folio's head
		 * only) is part of what must survive; an earlier test on the
		 * same device may have set it already.
		 */
		for (i = 0; i < self->nr; i++)
			dirtied += !!strstr(self->s[i].state, " dirty 1");
		ksft_print_msg("%u of %u sampled struct pages are PG_dirty after O_DIRECT\n",
			       dirtied, self->nr);
		EXPECT_GT(dirtied, 0)
			TH_LOG("no sampled struct page is dirty: %s",
			       "the rebuild of DAX page flags goes untested");
	}
	for (i = 0; i < self->nr; i++)
		nr_pinned += self->s[i].pinned;

	ASSERT_EQ(0, pressure(1));
	ASSERT_EQ(0, pressure(2));
	ksft_print_msg("%s: %u samples (%u pinned): reclaimed +%ld, rescued +%ld, resident %ld kB, budget %ld kB\n",
		       self->devdax ? "devdax" : "fsdax", self->nr, nr_pinned,
		       read_vmstat("vmemmap_od_reclaimed") - reclaimed0,
		       read_vmstat("vmemmap_od_rescued") - rescued0,
		       read_long(OD_SYSFS "resident_kb"), read_long(OD_SYSFS "budget_kb"));
	check(_metadata, self, &vp_pinned, &vp_other, &gone_pinned, &gone_other);
	ksft_print_msg("under pressure: %u of %u pinned and %u of %u other sampled vmemmap pages were reclaimed; %u struct pages compared\n",
		       gone_pinned, vp_pinned, gone_other, vp_other, self->nr);
	EXPECT_EQ(self->sum, fnv1a(self->map, self->size)) TH_LOG("data changed");
	/* Unpinned mapped pages go, mapping, index and flags rebuilt. */
	EXPECT_GT(vp_other, 0);
	EXPECT_EQ(vp_other, gone_other);
	if (self->devdax) {
		/*
		 * The vmemmap page holding a pinned 2 MiB page's head and pin
		 * count stays; the tail-only ones of it may go.
		 */
		for (i = 0; i < self->nr; i++) {
			char state[STATE_LEN];

			if (self->s[i].pinned && self->s[i].pfn % 512 == 0)
				EXPECT_EQ(1, page_state(self->s[i].pfn, state, sizeof(state)))
					TH_LOG("pinned head pfn %#lx was reclaimed", self->s[i].pfn);
		}
	}

	/* Drop the pins and the mapping (and the fsdax file): now they go. */
	if (self->ring >= 0) {
		close(self->ring);
		self->ring = -1;
	}
	munmap(self->map, self->size);
	self->map = MAP_FAILED;
	if (!self->devdax)
		ASSERT_EQ(0, drop_files(self));
	ASSERT_EQ(0, pressure(3));
	for (i = 0, gone_other = vp_other = 0; i < self->nr; i++) {
		char state[STATE_LEN];
		int resident = page_state(self->s[i].pfn, state, sizeof(state));

		if (!first_in_vpage(self, i))
			continue;
		vp_other++;
		gone_other += resident == 0;
	}
	ksft_print_msg("after unpin/unmap%s: %u of %u sampled vmemmap pages were reclaimed\n",
		       self->devdax ? "" : "/unlink", gone_other, vp_other);
	EXPECT_EQ(vp_other, gone_other);

	if (self->devdax) {
		/* The device still holds the data; struct pages as recorded. */
		self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 self->fd, 0);
		ASSERT_NE(MAP_FAILED, self->map);
		EXPECT_EQ(self->sum, fnv1a(self->map, self->size)) TH_LOG("data changed");
		for (i = 0; i < self->nr; i++) {
			char state[STATE_LEN];

			if (self->s[i].pinned)
				continue;	/* recorded while pinned */
			page_state(self->s[i].pfn, state, sizeof(state));
			EXPECT_STREQ(self->s[i].state, state)
				TH_LOG("pfn %#lx changed", self->s[i].pfn);
		}
	}
}

TEST_HARNESS_MAIN
