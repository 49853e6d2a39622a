/* bench_io.c: nanoseconds per read(2)/write(2) of 64 bytes on a tmpfs file, the cost
 * every non-socket fd pays for the interposers. Run with and without LD_PRELOAD by
 * run.sh; prints "write_ns R\nread_ns R". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/shm/otshim-bench-io";
	long n = argc > 2 ? atol(argv[2]) : 2000000;
	char buf[64] = { 0 };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if ((i & 1023) == 0)
			lseek(fd, 0, SEEK_SET);
		if (write(fd, buf, sizeof buf) != sizeof buf)
			return 1;
	}
	double t1 = now();
	for (long i = 0; i < n; i++) {
		if ((i & 1023) == 0)
			lseek(fd, 0, SEEK_SET);
		if (read(fd, buf, sizeof buf) != sizeof buf)
			return 1;
	}
	double t2 = now();
	close(fd);
	unlink(path);
	printf("write_ns %.2f\nread_ns %.2f\n", (t1 - t0) / n, (t2 - t1) / n);
	return 0;
}
