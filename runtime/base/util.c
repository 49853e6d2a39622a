/* util.c: helpers shared by the shim's own threads (see base/util.h). */
#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/owned_fds.h"

int rt_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

int rt_write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n > 0) {
		if (!rt_owned_fd_usable(fd)) {
			errno = EBADF;
			return -1;
		}
		ssize_t w = REAL(write)(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int rt_spawn_detached(void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&t, &a, fn, arg); /* the new thread inherits the mask */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	return rc == 0 ? 0 : -1;
}

void rt_nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- resources ---- */

int rt_fd_scarce(int fd)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	rlim_t reserve = rl.rlim_cur / 4 < 64 ? rl.rlim_cur / 4 : 64;
	return (rlim_t)fd + reserve >= rl.rlim_cur;
}

int rt_fd_headroom(void)
{
	int fd = RT_OWNED_FD_OPEN(eventfd(0, EFD_CLOEXEC)); /* no file system involved: only the fd table */
	if (fd < 0)
		return -1;
	int scarce = rt_fd_scarce(fd);
	rt_owned_fd_close(fd);
	if (scarce) {
		errno = EMFILE;
		return -1;
	}
	return 0;
}

int rt_fsize_allows(unsigned long long end)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    end <= (unsigned long long)rl.rlim_cur)
		return 0;
	errno = EFBIG;
	return -1;
}
