// SPDX-License-Identifier: GPL-2.0
/*
 * dax_touch - keep touching a device-dax mapping until it goes away.
 *
 * Maps SIZE bytes of a /dev/daxX.Y and writes to random 4 KiB pages of it
 * for at most SECONDS, so that struct pages are faulted in and pinned by
 * page-table entries while the namespace is unbound underneath. The unbind
 * unmaps the device: the next access raises SIGBUS, which ends the program
 * successfully. Prints how many pages it touched.
 *
 * Usage: dax_touch /dev/daxX.Y SIZE SECONDS
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long touched;

static void on_sigbus(int sig)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "touched %lu pages, then SIGBUS\n", touched);

	if (write(STDOUT_FILENO, msg, n) < 0)
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned long size, npages, x = 88172645463325252UL;
	time_t end;
	char *map;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s /dev/daxX.Y SIZE SECONDS\n", argv[0]);
		return 2;
	}
	size = strtoul(argv[2], NULL, 0);
	end = time(NULL) + atoi(argv[3]);
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	signal(SIGBUS, on_sigbus);
	npages = size / 4096;
	while (time(NULL) < end) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		map[(x % npages) * 4096] = (char)x;
		touched++;
	}
	printf("touched %lu pages\n", touched);
	return 0;
}
