// SPDX-License-Identifier: GPL-2.0
/*
 * fault_bench - cost of a first-touch anonymous page fault.
 *
 * Maps MIB MiB of anonymous memory, writes one byte per 4 KiB page so that
 * each write faults in a fresh zeroed page, and times the loop; unmaps and
 * repeats ROUNDS times. Prints one line per round and the median:
 *
 *   fault_bench: round R: N faults, T ns, X ns/fault
 *   fault_bench: median X ns/fault over R rounds of N faults
 *
 * The yardstick for an on-demand vmemmap fault (make bench), and the user
 * page-fault microbenchmark run on kernels with and without
 * CONFIG_VMEMMAP_ON_DEMAND.
 *
 * Usage: fault_bench [MIB [ROUNDS]]   (default 64 MiB, 7 rounds)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	size_t len = mib << 20, n = len / 4096, i;
	double *per = calloc(rounds, sizeof(*per));
	int r;

	if (!per || rounds < 1 || !n)
		return 1;
	for (r = 0; r < rounds; r++) {
		volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		double t0, t1;

		if (p == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		/* No THP: one fault per 4 KiB page. */
		madvise((void *)p, len, MADV_NOHUGEPAGE);
		t0 = now_ns();
		for (i = 0; i < n; i++)
			p[i * 4096] = 1;
		t1 = now_ns();
		munmap((void *)p, len);
		per[r] = (t1 - t0) / n;
		printf("fault_bench: round %d: %zu faults, %.0f ns, %.1f ns/fault\n",
		       r, n, t1 - t0, per[r]);
	}
	qsort(per, rounds, sizeof(*per), cmp);
	printf("fault_bench: median %.1f ns/fault over %d rounds of %zu faults\n",
	       per[rounds / 2], rounds, n);
	return 0;
}
