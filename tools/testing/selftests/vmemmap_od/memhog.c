// SPDX-License-Identifier: GPL-2.0
/*
 * memhog - hold the machine's memory low until killed.
 *
 * Maps anonymous memory, touches and mlocks it, chunk by chunk, until
 * MemAvailable in /proc/meminfo is down to LEAVE_MIB, then prints one line
 * ("memhog: holding ...") and sleeps until a signal ends it. The chunks
 * shrink as the target nears, so it does not overshoot by more than a MiB
 * or two. Its oom_score_adj is 1000 first, so that if the OOM killer has to
 * run after all, memhog is its victim rather than the test that runs
 * meanwhile. With transparent huge pages enabled "always" (the test
 * kernel's default), the chunks get huge pages where free 2 MiB blocks are
 * left, so fewer faults (which matters under TCG), and fall back to base
 * pages without compaction (no MADV_HUGEPAGE) where they are not.
 *
 * Usage: memhog LEAVE_MIB
 * Exit status 1 (with a message) if it could not start; a target it cannot
 * reach (mmap or memory fails first) is reported in the line it prints, and
 * it holds what it has.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB		(1UL << 20)
#define MAX_CHUNK_MIB	64

/* MemAvailable in MiB, or -1. */
static long mem_available_mib(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 1024;
}

int main(int argc, char **argv)
{
	unsigned long held = 0, locked = 0;
	long leave, avail, excess;
	const char *why = "target reached";
	char *end;
	int fd, i;

	if (argc != 2) {
		fprintf(stderr, "usage: memhog LEAVE_MIB\n");
		return 1;
	}
	leave = strtol(argv[1], &end, 0);
	if (*end || leave < 0) {
		fprintf(stderr, "memhog: bad LEAVE_MIB '%s'\n", argv[1]);
		return 1;
	}
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0 || write(fd, "1000", 4) != 4) {
		fprintf(stderr, "memhog: oom_score_adj: %s\n", strerror(errno));
		return 1;
	}
	close(fd);

	for (i = 0; i < 100000; i++) {
		unsigned long chunk, off;
		char *p;

		avail = mem_available_mib();
		if (avail < 0) {
			why = "no MemAvailable in /proc/meminfo";
			break;
		}
		excess = avail - leave;
		if (excess < 1)
			break;
		/* Halve the step near the target: MemAvailable is an estimate. */
		chunk = excess > 2 * MAX_CHUNK_MIB ? MAX_CHUNK_MIB :
			excess > 2 ? (unsigned long)excess / 2 : 1;
		chunk *= MIB;
		p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			why = "mmap failed";
			break;
		}
		/* One write per base page faults it in (or its huge page). */
		for (off = 0; off < chunk; off += 4096)
			p[off] = 0x6d;
		held += chunk;
		if (!mlock(p, chunk))
			locked += chunk;
	}
	if (i == 100000)
		why = "gave up after 100000 chunks";
	printf("memhog: holding %lu MiB (%lu MiB mlocked), MemAvailable %ld MiB, asked to leave %ld MiB: %s\n",
	       held / MIB, locked / MIB, mem_available_mib(), leave, why);
	fflush(stdout);
	for (;;)
		pause();
}
