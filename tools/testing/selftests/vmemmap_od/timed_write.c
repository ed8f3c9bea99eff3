// SPDX-License-Identifier: GPL-2.0
/*
 * timed_write - write a string to a file (a sysfs attribute) in one
 * write(2) and print how long the call took, in nanoseconds.
 *
 * Used to time namespace binds ("echo pfn0.0 > .../nd_pmem/bind"), which
 * busybox cannot time below 10 ms. On failure the errno is reported and
 * the exit status is 1, so callers see why a bind failed.
 *
 * A bind that fails for lack of memory can leave the machine without any:
 * the process is locked in memory before the write and reports with
 * write(2) from the stack, so it needs no new page after it.
 *
 * Usage: timed_write PATH STRING
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long t0, t1;
	char out[256];
	ssize_t ret;
	size_t len;
	int fd, err, n;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PATH STRING\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "%s: open: %s\n", argv[1], strerror(errno));
		return 1;
	}
	len = strlen(argv[2]);
	memset(out, 0, sizeof(out));
	mlockall(MCL_CURRENT);
	t0 = now_ns();
	ret = write(fd, argv[2], len);
	err = errno;
	t1 = now_ns();
	close(fd);
	n = snprintf(out, sizeof(out), "%llu\n", t1 - t0);
	if (write(STDOUT_FILENO, out, n) != n)
		return 1;
	if (ret != (ssize_t)len) {
		n = snprintf(out, sizeof(out), "%s: write '%s': %s\n", argv[1],
			     argv[2], ret < 0 ? strerror(err) : "short write");
		if (write(STDERR_FILENO, out, n) != n)
			return 1;
		return 1;
	}
	return 0;
}
