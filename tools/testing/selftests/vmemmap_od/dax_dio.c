// SPDX-License-Identifier: GPL-2.0
/*
 * dax_dio - O_DIRECT reads into a DAX mapping, verified by checksum.
 *
 * The target is a file on a filesystem mounted with -o dax (fsdax) or a
 * device-dax character device (devdax). It is mapped MAP_SHARED and filled
 * by O_DIRECT reads from a source file on an ordinary block device, chunk by
 * chunk in a shuffled order. The block layer pins the destination pages with
 * GUP (pin_user_pages_fast), so every chunk needs the struct pages of the
 * DAX pfns behind the mapping. The data is then checked three ways: through
 * the mapping, through a fresh mapping (or, for fsdax, read(2) of the file),
 * and against the source read without O_DIRECT.
 *
 * With DAX_DIO_THREADS=N the reads are shared among N threads: every chunk
 * is read once, thread t taking every Nth entry of the shuffled order, so
 * that all threads work across the whole mapping at the same time and race
 * to pin (and first touch the struct pages of) neighbouring DAX pages.
 *
 * Environment (set by the wrapper that creates the namespace):
 *   DAX_DIO_TARGET  file on a DAX filesystem, or /dev/daxX.Y
 *   DAX_DIO_SOURCE  file to read with O_DIRECT, at least DAX_DIO_SIZE long
 *   DAX_DIO_SIZE    bytes to map and fill (default 64 MiB)
 *   DAX_DIO_CHUNK   bytes per O_DIRECT read (default 64 KiB)
 *   DAX_DIO_THREADS threads doing the O_DIRECT reads (default 1)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "vod_util.h"

static size_t env_size(const char *name, size_t def)
{
	const char *v = getenv(name);

	return v ? strtoull(v, NULL, 0) : def;
}

/*
 * Value of one /proc/vmstat counter, or -1 if it is not there. Per-cpu
 * deltas are folded first (vm.stat_refresh), so the value is exact.
 */
static long long read_vmstat_exact(const char *name)
{
	char key[64];
	long long val;
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1", f);
		fclose(f);
	}
	f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

FIXTURE(dax_dio) {
	int src;
	int tgt;
	bool devdax;
	size_t size;
	size_t chunk;
	size_t threads;
	char *map;
	void *expect;
};

FIXTURE_SETUP(dax_dio)
{
	const char *tgt = getenv("DAX_DIO_TARGET");
	const char *src = getenv("DAX_DIO_SOURCE");
	struct stat st;
	ssize_t n;
	int fd;

	self->map = MAP_FAILED;
	self->expect = NULL;
	self->src = -1;
	self->tgt = -1;
	if (!tgt || !src)
		SKIP(return, "DAX_DIO_TARGET and DAX_DIO_SOURCE not set");
	self->size = env_size("DAX_DIO_SIZE", 64 << 20);
	self->chunk = env_size("DAX_DIO_CHUNK", 64 << 10);
	self->threads = env_size("DAX_DIO_THREADS", 1);
	ASSERT_EQ(0UL, self->size % self->chunk);
	ASSERT_EQ(0UL, self->chunk % 4096);
	ASSERT_LE(1UL, self->threads);
	ASSERT_GE(256UL, self->threads);
	ASSERT_LE(self->threads, self->size / self->chunk)
		TH_LOG("more threads than %zu KiB chunks", self->chunk >> 10);

	/* What the source holds, read through the page cache. */
	self->expect = malloc(self->size);
	ASSERT_NE(NULL, self->expect);
	fd = open(src, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", src, strerror(errno));
	n = pread(fd, self->expect, self->size, 0);
	ASSERT_EQ((ssize_t)self->size, n) TH_LOG("%s is shorter than %zu", src, self->size);
	close(fd);

	self->src = open(src, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, self->src) TH_LOG("%s: O_DIRECT: %s", src, strerror(errno));

	self->tgt = open(tgt, O_RDWR | O_CREAT, 0644);
	ASSERT_LE(0, self->tgt) TH_LOG("%s: %s", tgt, strerror(errno));
	ASSERT_EQ(0, fstat(self->tgt, &st));
	self->devdax = S_ISCHR(st.st_mode);
	if (!self->devdax) {
		struct statx stx;

		/* Without DAX this would test the page cache, not pmem. */
		ASSERT_EQ(0, statx(self->tgt, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx));
		ASSERT_TRUE(stx.stx_attributes & STATX_ATTR_DAX)
			TH_LOG("%s is not a DAX file", tgt);
		ASSERT_EQ(0, posix_fallocate(self->tgt, 0, self->size));
	}

	self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->tgt, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap %s: %s", tgt, strerror(errno));
	/* Start from a pattern the source cannot match by accident. */
	memset(self->map, 0x5a, self->size);
}

FIXTURE_TEARDOWN(dax_dio)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->tgt >= 0)
		close(self->tgt);
	if (self->src >= 0)
		close(self->src);
	free(self->expect);
}

/* One thread's share of the reads: entries first, first + step, ... of order. */
struct dio_share {
	struct __test_metadata *_metadata;
	FIXTURE_DATA(dax_dio) *self;
	const size_t *order;
	size_t nchunks;
	size_t first;
	size_t step;
	int ret;
};

static void *dio_share_fill(void *arg)
{
	struct dio_share *sh = arg;
	struct __test_metadata *_metadata = sh->_metadata;
	FIXTURE_DATA(dax_dio) *self = sh->self;
	size_t i;

	for (i = sh->first; i < sh->nchunks; i += sh->step) {
		off_t off = (off_t)sh->order[i] * self->chunk;
		ssize_t n = pread(self->src, self->map + off, self->chunk, off);

		if (n != (ssize_t)self->chunk) {
			TH_LOG("thread %zu: O_DIRECT read at %lld into the DAX mapping: %zd (%s)",
			       sh->first, (long long)off, n, n < 0 ? strerror(errno) : "short");
			sh->ret = -1;
			break;
		}
	}
	return NULL;
}

/*
 * Fill the whole mapping with O_DIRECT reads in a shuffled chunk order,
 * from self->threads threads (the calling one among them).
 */
static int dio_fill(struct __test_metadata *_metadata, FIXTURE_DATA(dax_dio) *self)
{
	size_t nchunks = self->size / self->chunk, i, started = 1;
	size_t *order = calloc(nchunks, sizeof(*order));
	struct dio_share *share = calloc(self->threads, sizeof(*share));
	pthread_t *tid = calloc(self->threads, sizeof(*tid));
	int ret = 0;

	if (!order || !share || !tid) {
		ret = -1;
		goto out;
	}
	for (i = 0; i < nchunks; i++)
		order[i] = i;
	srandom(0x7a11);
	for (i = nchunks - 1; i > 0; i--) {
		size_t j = random() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < self->threads; i++)
		share[i] = (struct dio_share){ _metadata, self, order, nchunks,
					       i, self->threads, 0 };
	for (; started < self->threads; started++) {
		int err = pthread_create(&tid[started], NULL, dio_share_fill,
					 &share[started]);

		if (err) {
			TH_LOG("pthread_create: %s", strerror(err));
			ret = -1;
			break;
		}
	}
	/* A share no thread could take is read here, so every chunk is read. */
	for (i = started; i < self->threads; i++)
		dio_share_fill(&share[i]);
	dio_share_fill(&share[0]);
	for (i = 1; i < started; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < self->threads; i++)
		if (share[i].ret)
			ret = -1;
out:
	free(tid);
	free(share);
	free(order);
	return ret;
}

TEST_F(dax_dio, scattered_reads_pin_dax_pages)
{
	long long pins0 = read_vmstat_exact("nr_foll_pin_acquired"), pins;

	ASSERT_LE(0, pins0) TH_LOG("no nr_foll_pin_acquired in /proc/vmstat");
	ASSERT_EQ(0, dio_fill(_metadata, self));
	pins = read_vmstat_exact("nr_foll_pin_acquired") - pins0;
	ksft_print_msg("%zu MiB in %zu KiB O_DIRECT reads from %zu thread%s, %lld pages pinned\n",
		       self->size >> 20, self->chunk >> 10, self->threads,
		       self->threads == 1 ? "" : "s", pins);
	/* Each destination page was pinned through GUP at least once. */
	EXPECT_LE((long long)(self->size / 4096), pins);
}

TEST_F(dax_dio, data_matches_through_mapping_and_file)
{
	uint64_t want, via_map, via_file;
	char *buf, *map2;

	ASSERT_EQ(0, dio_fill(_metadata, self));
	want = fnv1a(self->expect, self->size);
	via_map = fnv1a(self->map, self->size);
	/* Device-dax is always synchronous and has no fsync. */
	if (!self->devdax)
		ASSERT_EQ(0, msync(self->map, self->size, MS_SYNC));
	ASSERT_EQ(0, munmap(self->map, self->size));
	self->map = MAP_FAILED;

	if (self->devdax) {
		/* Device-dax has no read(2): look again through a new mapping. */
		map2 = mmap(NULL, self->size, PROT_READ, MAP_SHARED, self->tgt, 0);
		ASSERT_NE(MAP_FAILED, map2);
		via_file = fnv1a(map2, self->size);
		munmap(map2, self->size);
	} else {
		buf = malloc(self->size);
		ASSERT_NE(NULL, buf);
		ASSERT_EQ((ssize_t)self->size, pread(self->tgt, buf, self->size, 0));
		via_file = fnv1a(buf, self->size);
		free(buf);
	}
	ksft_print_msg("fnv1a source %016llx mapping %016llx %s %016llx\n",
		       (unsigned long long)want, (unsigned long long)via_map,
		       self->devdax ? "remap" : "read(2)",
		       (unsigned long long)via_file);
	EXPECT_EQ(want, via_map);
	EXPECT_EQ(want, via_file);
}

TEST_HARNESS_MAIN
