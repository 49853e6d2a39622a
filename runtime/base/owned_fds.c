/* owned_fds.c: the descriptors the shim owns (see base/owned_fds.h): a table of one byte per
 * descriptor number, FREE / OWNED / LENT / LOST. The owner registers a number right after
 * its open and unregisters it right before its close; the interposers in shim/ keep
 * the service's close, close_range, closefrom, dup2 and dup3 from closing ours
 * (rt_on_owned_*). Opening and closing the files themselves stays with their owners.
 *
 * 64 KiB of zeroed BSS for 65,536 numbers: only the pages of numbers ever used become
 * resident (one page for a service below 4,096 descriptors), nothing is allocated, so
 * it is ready before our constructor and usable from a signal handler. One byte (not
 * a bit) per number lets each transition be a single compare-and-swap.
 *
 * What remains racy, in windows of nanoseconds no table can close without a lock
 * around the service's own system calls: a service's close() of one number it does
 * not hold, landing between our open of that number and its registration (see
 * "owning" below for why a close-everything loop does not); a dup2 onto ours between
 * the owner's check (rt_owned_fd_usable) and its write; and the owner's close, which
 * unregisters first, racing a service close of the same number. */
#include "base/owned_fds.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "base/guard.h"

_Atomic unsigned char rt_owned_fd_state[RT_OWNED_FD_MAX];
/* One past the highest number ever registered: bounds the scans of close_range. */
static _Atomic unsigned int high;

/* Our own closes go through libc's close() (a sanitizer's interceptor must see them:
 * TSan tracks descriptors), past our interposer, which this flag tells to forward: the
 * number is unregistered by then, or a fresh one of ours that is not registered. */
static __thread int closing_own __attribute__((tls_model("initial-exec")));
static int own_close(int fd)
{
	closing_own = 1;
	int rc = close(fd);
	closing_own = 0;
	return rc;
}

/* Ours and open: the numbers the service may not close. */
static int mine(unsigned int fd)
{
	unsigned char st = atomic_load_explicit(&rt_owned_fd_state[fd], memory_order_relaxed);
	return st == RT_FD_OWNED || st == RT_FD_LENT;
}

static int cas(int fd, unsigned char from, unsigned char to)
{
	unsigned char expect = from;
	return atomic_compare_exchange_strong(&rt_owned_fd_state[fd], &expect, to);
}

/* ---- owning ----
 * A service's close_range or closefrom closes numbers it never opened, all at once,
 * in the kernel: one of ours opened a moment earlier, not yet registered, would go
 * with them, and the number be handed to the service's next open, then written and
 * closed by us. So the two announce themselves (Dekker style, sequentially consistent
 * counters): an open waits while a range close runs, a range close waits for the opens
 * in flight to be registered. Both waits are bounded (a signal handler may close a
 * range while its own thread is inside our open): past the bound, the old race. A
 * service's close() waits for the opens in flight too, but announces nothing (close
 * is hot: one more load, of a counter that is almost always 0): what is left is a
 * close() that read the counter before our open began and reaches the kernel after
 * it returned, nanoseconds between a load and a system call. The ones that close
 * numbers they do not hold are close-everything loops, and they run upwards: a fresh
 * number, the lowest free one, is mostly behind them. */

enum { WAIT_MAX = 10000 }; /* sched_yield()s: milliseconds */
_Atomic int rt_owned_fd_opening;
static _Atomic int closing;

void rt_owned_fd_begin(void)
{
	for (int i = 0; i < WAIT_MAX; i++) {
		atomic_fetch_add(&rt_owned_fd_opening, 1);
		if (!atomic_load(&closing))
			return;
		atomic_fetch_sub(&rt_owned_fd_opening, 1);
		sched_yield();
	}
	atomic_fetch_add(&rt_owned_fd_opening, 1);
}

/* Registers fd (below the table's end). 0, or -1 when a stale LOST entry names it. */
static int claim(int fd)
{
	if (fd >= RT_OWNED_FD_MAX)
		return 0;
	if (!cas(fd, RT_FD_FREE, RT_FD_OWNED))
		return -1;
	unsigned int h = atomic_load_explicit(&high, memory_order_relaxed);
	while (h < (unsigned int)fd + 1 && !atomic_compare_exchange_weak(&high, &h, (unsigned int)fd + 1))
		;
	return 0;
}

int rt_owned_fd_opened(int fd)
{
	int saved = errno;
	/* Below 3, or a number a LOST entry still names (its owner has yet to forget it,
	 * and would forget ours): a copy higher up, each try above the last. */
	for (int tries = 0; fd >= 0 && (fd < 3 || claim(fd) != 0); tries++) {
		int to = tries < 8 ? fcntl(fd, F_DUPFD_CLOEXEC, fd < 3 ? 3 : fd + 1) : -1;
		own_close(fd);
		if ((fd = to) < 0)
			saved = EMFILE;
	}
	atomic_fetch_sub(&rt_owned_fd_opening, 1);
	if (fd < 0) {
		errno = saved;
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	errno = saved;
	return fd;
}

/* Unregisters fd. 1 when the owner may close it, 0 when it was LOST (the service's). */
static int disown(int fd)
{
	if ((unsigned int)fd >= RT_OWNED_FD_MAX)
		return 1;
	if (cas(fd, RT_FD_OWNED, RT_FD_FREE) || cas(fd, RT_FD_LENT, RT_FD_FREE))
		return 1;
	if (cas(fd, RT_FD_LOST, RT_FD_FREE))
		return 0;
	return 1; /* not registered (a failed registration): ours all the same */
}

/* Unregistered before the close: once it returns, the number may be the service's. */
int rt_owned_fd_close(int fd)
{
	if (fd < 0)
		return 0;
	return disown(fd) ? own_close(fd) : 0;
}

void rt_owned_fd_forget(int fd)
{
	if (fd >= 0)
		(void)disown(fd);
}

int rt_owned_fd_usable(int fd)
{
	return (unsigned int)fd >= RT_OWNED_FD_MAX ||
	       atomic_load_explicit(&rt_owned_fd_state[fd], memory_order_relaxed) != RT_FD_LOST;
}

int rt_owned_fd_lend(int fd)
{
	if (fd >= 0 && fd < RT_OWNED_FD_MAX)
		cas(fd, RT_FD_OWNED, RT_FD_LENT);
	return fd;
}

unsigned rt_owned_fd_count(void)
{
	unsigned n = 0, h = atomic_load_explicit(&high, memory_order_relaxed);
	for (unsigned i = 0; i < h; i++)
		n += mine(i);
	return n;
}

/* The threads counted in the fences did not come along: a count left above 0 would
 * make every close() in the child wait. Their descriptors did: still registered. */
void rt_owned_fd_fork_child(void)
{
	atomic_store(&rt_owned_fd_opening, 0);
	atomic_store(&closing, 0);
	closing_own = 0;
}

/* ---- stdio and dirent ---- */

FILE *rt_owned_fd_fopen(const char *path)
{
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "r");
	if (!f)
		rt_owned_fd_close(fd);
	return f;
}

int rt_owned_fd_fclose(FILE *f)
{
	if (!f)
		return 0;
	/* The interposed fclose sees no connection here and forwards. */
	return disown(fileno(f)) ? fclose(f) : 0;
}

DIR *rt_owned_fd_opendir(const char *path)
{
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d)
		rt_owned_fd_close(fd);
	return d;
}

int rt_owned_fd_closedir(DIR *d)
{
	if (!d)
		return 0;
	return disown(dirfd(d)) ? closedir(d) : 0;
}

char *rt_owned_fd_fgets(char *line, int n, FILE *f)
{
	return rt_owned_fd_usable(fileno(f)) ? fgets(line, n, f) : NULL;
}

/* ---- the service's calls (from shim/) ---- */

int rt_on_owned_close(int fd)
{
	if (closing_own)
		return 0;
	if (!rt_tls_depth) { /* the service's */
		for (int i = 0; i < WAIT_MAX && atomic_load(&rt_owned_fd_opening); i++)
			sched_yield();
		return (unsigned int)fd < RT_OWNED_FD_MAX && mine((unsigned int)fd);
	}
	if ((unsigned int)fd >= RT_OWNED_FD_MAX ||
	    atomic_load_explicit(&rt_owned_fd_state[fd], memory_order_relaxed) == RT_FD_FREE)
		return 0;
	/* One of our threads: a library closing what it was lent goes through. Any other
	 * number is not its to close: a LOST one is the service's now (left LOST: its
	 * owner may yet look), an OWNED one another owner's (the library's own number was
	 * closed under it, then reused by us). */
	return !cas(fd, RT_FD_LENT, RT_FD_FREE);
}

void rt_on_owned_dup(int fd)
{
	if (!rt_tls_depth && !cas(fd, RT_FD_OWNED, RT_FD_LOST))
		cas(fd, RT_FD_LENT, RT_FD_LOST);
}

/* The number still holds our file: dup2 fails before it closes anything (a lent one
 * comes back as OWNED: its library's close is then refused, and the file stays open). */
void rt_on_owned_dup_failed(int fd)
{
	if (!rt_tls_depth)
		cas(fd, RT_FD_LOST, RT_FD_OWNED);
}

/* The first of ours in [from, last], or -1. */
static long next_owned(unsigned int from, unsigned int last)
{
	unsigned int h = atomic_load_explicit(&high, memory_order_relaxed);
	for (unsigned int i = from; i < h && i <= last; i++)
		if (mine(i))
			return i;
	return -1;
}

/* Runs real over [first, last] minus our numbers. */
static int close_around(unsigned int first, unsigned int last, int flags,
			int (*real)(unsigned int, unsigned int, int))
{
	unsigned int lo = first;
	for (long o; (o = next_owned(lo, last)) >= 0; lo = (unsigned int)o + 1) {
		int rc = (unsigned int)o > lo ? real(lo, (unsigned int)o - 1, flags) : 0;
		if (rc != 0 || (unsigned int)o == last)
			return rc;
	}
	return real(lo, last, flags);
}

int rt_on_close_range_owned(unsigned int first, unsigned int last, int flags,
			    int (*real)(unsigned int, unsigned int, int), int *rc)
{
	/* Only marking (CLOEXEC: ours are close-on-exec), or flags the kernel refuses. */
	if (rt_tls_depth || ((unsigned int)flags & ~(unsigned int)CLOSE_RANGE_UNSHARE) || first > last)
		return 0;
	atomic_fetch_add(&closing, 1);
	for (int i = 0; i < WAIT_MAX && atomic_load(&rt_owned_fd_opening); i++)
		sched_yield();
	*rc = close_around(first, last, flags, real);
	int saved = errno;
	atomic_fetch_sub(&closing, 1);
	errno = saved;
	return 1;
}
