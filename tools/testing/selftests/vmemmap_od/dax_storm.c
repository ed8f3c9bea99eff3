// SPDX-License-Identifier: GPL-2.0
/*
 * dax_storm - user space against the budget, with no kernel-side back-off.
 *
 * Maps a DAX target (a device-dax character device, or a file on a DAX
 * filesystem) MAP_SHARED and has DAX_STORM_THREADS threads (default twice
 * the CPUs) hammer it for DAX_STORM_SECONDS: each thread does O_DIRECT
 * reads from a source file into the mapping at random offsets (the block
 * layer pins the destination with GUP, which populates the struct pages)
 * and writes a word to a random page of the mapping (a DAX fault). Nothing
 * in user space backs off, and no kernel producer calls
 * vmemmap_od_throttle(): only the kernel's throttling of tasks on their way
 * back to user space (vmemmap_od_user_throttled) and the reclaimer hold the
 * budget. The mapping's memmap is DAX_STORM_SIZE / 64 (default 1 GiB, so
 * 16 MiB), many times the budget (DAX_STORM_BUDGET_KB, default 1024).
 *
 * Checked: no read or write failed; the kernel's high-water mark of the
 * resident memmap (resident_max_kb, reset at the start) stayed within one
 * reclaim batch (64 vmemmap pages, 256 kB) of the budget; reclaim freed
 * pages; for a file it made, deleting it faulted in fewer vmemmap pages
 * than a sixteenth of the file's (the struct pages reclaim took are left
 * alone when the file's mapping is cleared). Printed: the throttles, the
 * reclaim counters and the rate.
 *
 * Environment:
 *   DAX_STORM_TARGET     /dev/daxX.Y, or a file on a DAX filesystem
 *                        (created, DAX_STORM_SIZE long, deleted at the end)
 *   DAX_STORM_SOURCE     file to read with O_DIRECT (at least 1 MiB)
 *   DAX_STORM_SIZE       bytes of the target to map (default 1 GiB)
 *   DAX_STORM_THREADS    threads (default 2 x online CPUs)
 *   DAX_STORM_SECONDS    how long (default 10)
 *   DAX_STORM_BUDGET_KB  budget_kb during the run (default 1024)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "vod_util.h"

#define CHUNK		(64 << 10)
#define SRC_SPAN	(1 << 20)
#define OD_DEBUGFS	"/sys/kernel/debug/vmemmap_od/"
#define BATCH_KB	256
#define MAP_ALIGN	(2UL << 20)

static size_t env_num(const char *name, size_t def)
{
	const char *v = getenv(name);

	return v ? strtoull(v, NULL, 0) : def;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct storm {
	char *map;
	size_t size;
	const char *source;
	double end;
	atomic_long reads, writes, errors;
};

struct stormer {
	struct storm *s;
	unsigned int seed;
	int err;
};

static void *stormer_fn(void *arg)
{
	struct stormer *t = arg;
	struct storm *s = t->s;
	int fd = open(s->source, O_RDONLY | O_DIRECT);

	if (fd < 0) {
		t->err = errno;
		atomic_fetch_add(&s->errors, 1);
		return NULL;
	}
	while (now() < s->end) {
		size_t chunks = s->size / CHUNK;
		size_t dst = (rand_r(&t->seed) % chunks) * CHUNK;
		off_t src = (rand_r(&t->seed) % (SRC_SPAN / CHUNK)) * CHUNK;
		size_t page = rand_r(&t->seed) % (s->size / 4096);

		if (pread(fd, s->map + dst, CHUNK, src) != CHUNK) {
			t->err = errno ?: EIO;
			atomic_fetch_add(&s->errors, 1);
			break;
		}
		atomic_fetch_add(&s->reads, 1);
		__atomic_store_n((uint64_t *)(s->map + page * 4096) + 1, page,
				 __ATOMIC_RELAXED);
		atomic_fetch_add(&s->writes, 1);
	}
	close(fd);
	return NULL;
}

FIXTURE(dax_storm) {
	long budget0;
};

FIXTURE_SETUP(dax_storm)
{
	self->budget0 = read_long(OD_SYSFS "budget_kb");
}

FIXTURE_TEARDOWN(dax_storm)
{
	char buf[32];

	if (self->budget0 >= 0) {
		snprintf(buf, sizeof(buf), "%ld", self->budget0);
		write_str(OD_SYSFS "budget_kb", buf);
	}
}

TEST_F_TIMEOUT(dax_storm, user_space_keeps_budget, 300)
{
	const char *target = getenv("DAX_STORM_TARGET");
	struct storm s = { .source = getenv("DAX_STORM_SOURCE") };
	long budget = env_num("DAX_STORM_BUDGET_KB", 1024);
	int nthreads = env_num("DAX_STORM_THREADS", 2 * sysconf(_SC_NPROCESSORS_ONLN));
	double secs = env_num("DAX_STORM_SECONDS", 10), t0;
	long rec0, thr0, live0, shoot0, passes0, max_kb, res0;
	long rec, thr, live, passes;
	struct stormer *w;
	pthread_t *tid;
	bool created = false;
	struct stat st;
	char buf[32];
	int fd, i;

	if (!target || !s.source)
		SKIP(return, "DAX_STORM_TARGET and DAX_STORM_SOURCE not set");
	ASSERT_LE(0, self->budget0) TH_LOG("no " OD_SYSFS "budget_kb");
	ASSERT_LE(0, read_long(OD_SYSFS "resident_max_kb"))
		TH_LOG("no " OD_SYSFS "resident_max_kb");
	s.size = env_num("DAX_STORM_SIZE", 1UL << 30) & ~(MAP_ALIGN - 1);
	ASSERT_LT(0, s.size);
	if (stat(target, &st) || S_ISREG(st.st_mode)) {
		/* A file on a DAX filesystem: made for the run, in use all along. */
		fd = open(target, O_RDWR | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, fd) TH_LOG("open %s: %s", target, strerror(errno));
		created = true;
		ASSERT_EQ(0, posix_fallocate(fd, 0, s.size))
			TH_LOG("fallocate %s: %zu bytes", target, s.size);
	} else {
		fd = open(target, O_RDWR);
		ASSERT_LE(0, fd) TH_LOG("open %s: %s", target, strerror(errno));
	}
	s.map = mmap(NULL, s.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, s.map) TH_LOG("mmap %s: %s", target, strerror(errno));

	snprintf(buf, sizeof(buf), "%ld", budget);
	ASSERT_EQ(0, write_str(OD_SYSFS "budget_kb", buf));
	/* Let the reclaimer bring the memmap under the new budget first. */
	for (i = 0; i < 50 && read_long(OD_SYSFS "resident_kb") > budget; i++)
		usleep(100000);
	res0 = read_long(OD_SYSFS "resident_kb");
	ASSERT_GE(budget, res0)
		TH_LOG("the memmap is over budget before the storm (live pages elsewhere)");
	ASSERT_EQ(0, write_str(OD_SYSFS "resident_max_kb", "0"));
	rec0 = read_vmstat("vmemmap_od_reclaimed");
	thr0 = read_vmstat("vmemmap_od_user_throttled");
	live0 = read_vmstat("vmemmap_od_live_skipped");
	passes0 = read_long(OD_DEBUGFS "live_passes");
	ASSERT_LE(0, passes0) TH_LOG("no " OD_DEBUGFS "live_passes");
	shoot0 = read_vmstat("vmemmap_od_shootdowns");
	ASSERT_LE(0, thr0) TH_LOG("no vmemmap_od_user_throttled in /proc/vmstat");

	w = calloc(nthreads, sizeof(*w));
	tid = calloc(nthreads, sizeof(*tid));
	ASSERT_TRUE(w && tid);
	t0 = now();
	s.end = t0 + secs;
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct stormer){ .s = &s, .seed = 0x5eed + i };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, stormer_fn, &w[i]));
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(0, w[i].err) TH_LOG("thread %d: %s", i, strerror(w[i].err));
	}
	secs = now() - t0;
	max_kb = read_long(OD_SYSFS "resident_max_kb");
	rec = read_vmstat("vmemmap_od_reclaimed") - rec0;
	thr = read_vmstat("vmemmap_od_user_throttled") - thr0;
	live = read_vmstat("vmemmap_od_live_skipped") - live0;
	passes = read_long(OD_DEBUGFS "live_passes") - passes0;
	ksft_print_msg("%d threads, %.1f s: %ld O_DIRECT reads of %d kB, %ld writes, %ld errors\n",
		       nthreads, secs, atomic_load(&s.reads), CHUNK >> 10,
		       atomic_load(&s.writes), atomic_load(&s.errors));
	ksft_print_msg("budget %ld kB: resident_kb %ld at start, max %ld (limit %ld)\n",
		       budget, res0, max_kb, budget + BATCH_KB);
	ksft_print_msg("%ld vmemmap pages reclaimed (%.0f/s), %ld shootdowns\n",
		       rec, rec / secs, read_vmstat("vmemmap_od_shootdowns") - shoot0);
	ksft_print_msg("%ld live skips (%.0f/s), %ld passes over the live pages (%.1f/s)\n",
		       live, live / secs, passes, passes / secs);
	ksft_print_msg("%ld tasks throttled on their way back to user space (%.0f/s)\n",
		       thr, thr / secs);
	EXPECT_EQ(0, atomic_load(&s.errors));
	EXPECT_LT(0, atomic_load(&s.reads));
	/* The memmap the storm touched must not fit the budget... */
	EXPECT_LT(budget * 4, (long)(s.size >> 16))
		TH_LOG("DAX_STORM_SIZE too small for the budget");
	/* ...and yet stays within one batch of it, by the kernel's own mark. */
	EXPECT_GE(budget + BATCH_KB, max_kb);
	EXPECT_LT(0, rec) TH_LOG("nothing was reclaimed");
	/*
	 * Live pages leave the LRA scan: the reclaimer looks at them again
	 * once a second, and while it is stuck over budget every 100 ms at
	 * most, not for every batch faulted in.
	 */
	EXPECT_GE((long)(11 * secs) + 2, passes);
	/*
	 * ...with the throttle in play: a storm that never took the memmap
	 * over the high watermark showed the reclaimer alone (make mutants:
	 * without the throttle, max 656 kB here, within the limit).
	 */
	EXPECT_LT(0, thr)
		TH_LOG("no task was throttled: the storm never outran the reclaimer");
	munmap(s.map, s.size);
	close(fd);
	if (created) {
		/*
		 * Deleting the file clears the mapping of every struct page
		 * its DAX entries associated (nearly all of its 4096 vmemmap
		 * pages' worth): those reclaim took are left alone, not
		 * faulted back just to be cleared.
		 */
		long f0 = read_vmstat("vmemmap_od_faults"), faults;
		long kb0 = read_long(OD_SYSFS "resident_kb");

		ASSERT_EQ(0, unlink(target));
		faults = read_vmstat("vmemmap_od_faults") - f0;
		ksft_print_msg("unlink of the %zu MiB file: %ld vmemmap pages faulted in, %s %ld -> %ld\n",
			       s.size >> 20, faults, "resident_kb", kb0,
			       read_long(OD_SYSFS "resident_kb"));
		EXPECT_GT((long)(s.size >> 22), faults)
			TH_LOG("the unlink faulted the file's memmap back in");
	}
	free(w);
	free(tid);
}

TEST_HARNESS_MAIN
