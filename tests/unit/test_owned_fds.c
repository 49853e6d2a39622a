/* test_owned_fds.c: the table of descriptors the shim owns (runtime/base/owned_fds.c): numbers
 * above stdio, the service's close of ours refused, close_range split around ours,
 * dup2 onto ours handing the number over (LOST), a stale LOST entry never reused, and
 * the shim's own close (libdw's, on our threads) unregistering. The real close_range
 * is replaced by a recorder, so the pieces are checked exactly. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/owned_fds.h"
#include "sample/thread.h"

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static int rc_unused;
static unsigned int pieces[8][2];
static int npieces;
static int record(unsigned int first, unsigned int last, int flags)
{
	(void)flags;
	if (npieces < 8) {
		pieces[npieces][0] = first;
		pieces[npieces][1] = last;
	}
	npieces++;
	return 0;
}

static void test_above_stdio(void)
{
	int saved0 = dup(0);
	close(0); /* a daemon's: its next open must be able to return 0 */
	int fd = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	ok(fd >= 3, "an owned descriptor is never 0-2 (%d)", fd);
	ok(!is_open(0), "the number 0 is left free for the service");
	ok(rt_fd_owned(fd) && rt_owned_fd_usable(fd), "and it is registered");
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "and close-on-exec");
	rt_owned_fd_close(fd);
	ok(!rt_fd_owned(fd) && !is_open(fd), "rt_owned_fd_close unregisters and closes");
	dup2(saved0, 0);
	close(saved0);
}

static void test_service_close(void)
{
	int fd = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	rt_tls_depth = 0; /* a service thread */
	is_int(rt_on_owned_close(fd), 1, "the service's close of ours does not reach the kernel");
	ok(is_open(fd) && rt_fd_owned(fd), "and ours stays open and registered");
	rt_tls_depth = 1; /* one of ours: a library closing a number it was not lent */
	is_int(rt_on_owned_close(fd), 1, "a library on our threads may not close one of ours it was not lent");
	rt_owned_fd_lend(fd);
	is_int(rt_on_owned_close(fd), 0, "but closes what it was lent (libdw's debug files)");
	ok(!rt_fd_owned(fd), "unregistered first");
	rt_tls_depth = 0;
	close(fd);
}

static void test_close_range(void)
{
	int a = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	int b = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	int rc = -1;
	npieces = 0;
	is_int(rt_on_close_range_owned(3, ~0u, 0, record, &rc), 1, "close_range with ours inside is split");
	ok(rc == 0 && npieces >= 1 && npieces <= 3, "into at most three pieces (%d)", npieces);
	int covers_ours = 0, covers_all_else = 1;
	for (int i = 0; i < npieces && i < 8; i++)
		for (int fd = a; fd <= b; fd++)
			if ((unsigned int)fd >= pieces[i][0] && (unsigned int)fd <= pieces[i][1])
				covers_ours = 1;
	/* Every number from 3 up but ours is in some piece. */
	for (unsigned int fd = 3; fd < (unsigned int)b + 4; fd++) {
		int in = 0;
		for (int i = 0; i < npieces && i < 8; i++)
			in |= fd >= pieces[i][0] && fd <= pieces[i][1];
		if (!in && (int)fd != a && (int)fd != b)
			covers_all_else = 0;
	}
	ok(!covers_ours, "no piece covers ours (%d, %d)", a, b);
	ok(covers_all_else && pieces[npieces - 1][1] == ~0u, "every other number is closed, to the end");
	for (int i = 0; i < npieces && i < 8; i++)
		diag("piece %u-%u", pieces[i][0], pieces[i][1]);
	npieces = 0;
	is_int(rt_on_close_range_owned(3, ~0u, CLOSE_RANGE_CLOEXEC, record, &rc), 0,
	       "CLOSE_RANGE_CLOEXEC passes through (ours are close-on-exec)");
	rt_tls_depth = 1;
	is_int(rt_on_close_range_owned(3, ~0u, 0, record, &rc), 0, "as does one from our own threads");
	rt_tls_depth = 0;
	is_int(npieces, 0, "neither is split");
	rt_on_close_range_owned((unsigned int)b + 1, ~0u, 0, record, &rc);
	ok(npieces == 1 && pieces[0][0] == (unsigned int)b + 1 && pieces[0][1] == ~0u,
	   "a range without ours is closed whole");
	rt_owned_fd_close(a);
	rt_owned_fd_close(b);
}

static void test_dup_onto_ours(void)
{
	int fd = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	int svc = open("/dev/zero", O_RDONLY);
	rt_on_owned_dup(fd);
	ok(dup2(svc, fd) == fd, "dup2 onto ours is done");
	ok(!rt_owned_fd_usable(fd), "and the number is LOST to its owner");
	is_int(rt_on_owned_close(fd), 0, "the service may close it now (it is its own)");
	npieces = 0;
	rt_on_close_range_owned((unsigned int)fd, (unsigned int)fd, 0, record, &rc_unused);
	ok(npieces == 1 && pieces[0][0] == (unsigned int)fd, "nor does close_range step around it");
	rt_owned_fd_close(fd);
	ok(is_open(fd) && !rt_fd_owned(fd), "the owner's close only forgets it");
	close(fd);
	close(svc);
	fd = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	rt_on_owned_dup(fd);
	rt_on_owned_dup_failed(fd);
	ok(rt_owned_fd_usable(fd) && rt_fd_owned(fd), "a dup2 that failed leaves it ours");
	rt_owned_fd_close(fd);
}

static void test_stale_lost(void)
{
	int x = open("/dev/null", O_RDONLY);
	close(x);
	rt_owned_fd_state[x] = RT_FD_LOST; /* an owner that has yet to forget x */
	int fd = RT_OWNED_FD_OPEN(open("/dev/null", O_RDONLY));
	ok(fd >= 0 && fd != x, "a number a stale LOST entry names is not taken (%d, not %d)", fd, x);
	ok(!is_open(x), "and is left closed");
	rt_owned_fd_forget(x);
	rt_owned_fd_close(fd);
}

static void test_streams(void)
{
	unsigned int before = rt_owned_fd_count();
	FILE *f = rt_owned_fd_fopen("/proc/self/maps");
	DIR *d = rt_owned_fd_opendir("/proc/self/task");
	char line[512];
	ok(f && d && rt_owned_fd_count() == before + 2, "a stream and a directory are registered");
	ok(f && rt_owned_fd_fgets(line, sizeof line, f) != NULL, "and read");
	rt_owned_fd_fclose(f);
	rt_owned_fd_closedir(d);
	is_int(rt_owned_fd_count(), before, "and unregistered when closed");
}


int main(void)
{
	test_above_stdio();
	test_service_close();
	test_close_range();
	test_dup_onto_ours();
	test_stale_lost();
	test_streams();
	return done_testing();
}
