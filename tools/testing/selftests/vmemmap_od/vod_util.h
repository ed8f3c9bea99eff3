/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers the vmemmap_od selftests share: sysfs/debugfs reads and
 * writes, /proc/vmstat counters, a data checksum, and VOD_TIMEOUT.
 */
#ifndef VOD_UTIL_H
#define VOD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TVO		"/sys/kernel/debug/test_vmemmap_od/"
#define OD_SYSFS	"/sys/kernel/mm/vmemmap_on_demand/"

/* Write @s to @path in one write(2); 0 or -errno. */
static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The number @path starts with, or -1. */
static inline long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* One /proc/vmstat counter, or -1 if it is not there. */
static inline long read_vmstat(const char *name)
{
	char key[64];
	long val;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	fclose(f);
	return -1;
}

static inline uint64_t fnv1a(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

#ifdef TEST_HARNESS_MAIN
/*
 * VOD_TIMEOUT (seconds), if set, replaces the timeout of every test of the
 * program: the stress kernel (KASAN, PREEMPT, 8 vCPUs on few host CPUs)
 * runs them several times slower than the test kernel does. The harness
 * arms alarm() from each test's metadata when the test starts; this runs
 * after the tests registered (KSELFTEST_PRIO_TEST + 1) and walks the
 * harness's __fixture_list (6.12's kselftest_harness.h).
 */
static void __attribute__((constructor(KSELFTEST_PRIO_TEST + 1))) vod_timeout(void)
{
	const char *s = getenv("VOD_TIMEOUT");
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	char *end;
	long secs;

	if (!s)
		return;
	secs = strtol(s, &end, 10);
	if (end == s || *end || secs <= 0 || secs > 86400) {
		fprintf(stderr, "VOD_TIMEOUT=%s: not a number of seconds (1..86400)\n", s);
		exit(KSFT_FAIL);
	}
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout = secs;
}
#endif

#endif /* VOD_UTIL_H */
