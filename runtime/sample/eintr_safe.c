/* eintr_safe.c: which threads a signal cannot hurt (see sample/eintr_safe.h). Who signals
 * them, and what a thread that is not signalled gets instead, is sample/thread_capture.c. */
#include "sample/eintr_safe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/owned_fds.h"

/* ---- the file's text ---- */

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* One number, decimal or 0x-hex, optionally negative; *ok = 0 if there was none. */
static const char *number(const char *p, const char *end, uint64_t *v, int *ok)
{
	int neg = 0, base = 10, digits = 0;
	uint64_t x = 0;
	p = skip_space(p, end);
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (end - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (; p < end; p++, digits++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		x = x * (uint64_t)base + (uint64_t)d;
	}
	*ok = digits > 0 && (p == end || *p == ' ' || *p == '\t' || *p == '\n');
	*v = neg ? (uint64_t)0 - x : x;
	return p;
}

int rt_eintr_safe_parse(const char *buf, size_t len, rt_eintr_safe_state_t *st)
{
	const char *p = buf, *end = buf + len;
	uint64_t v[9];
	int n = 0, ok = 1;
	memset(st, 0, sizeof *st);
	if (len >= 7 && memcmp(buf, "running", 7) == 0) {
		st->kind = RT_EINTR_SAFE_RUNNING;
		return 0;
	}
	while (n < 9 && ok) {
		p = skip_space(p, end);
		if (p == end || *p == '\n')
			break;
		p = number(p, end, &v[n], &ok);
		n += ok;
	}
	if (!ok)
		return -1;
	if (n == 3 && (int64_t)v[0] == -1) {
		st->kind = RT_EINTR_SAFE_USER;
	} else if (n == 9 && (int64_t)v[0] >= 0) {
		st->kind = RT_EINTR_SAFE_SYSCALL;
		memcpy(st->args, &v[1], sizeof st->args);
	} else {
		return -1;
	}
	st->nr = (long)(int64_t)v[0];
	st->sp = (uintptr_t)v[n - 2];
	st->pc = (uintptr_t)v[n - 1];
	return 0;
}

/* ---- the judgement ---- */

int rt_eintr_safe_sock_timeout(int fd, int which)
{
	struct timeval tv;
	socklen_t len = sizeof tv;
	if (getsockopt(fd, SOL_SOCKET, which ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &len) != 0)
		return errno == ENOTSOCK ? 0 : 1;
	return tv.tv_sec != 0 || tv.tv_usec != 0;
}

/* The side whose socket timeout matters for call nr (0 receive, 1 send), -1 when nr
 * is not a descriptor call of our list. */
static int io_side(long nr)
{
	switch (nr) {
	case SYS_read: case SYS_readv: case SYS_pread64: case SYS_preadv:
	case SYS_accept4: case SYS_recvfrom: case SYS_recvmsg:
#ifdef SYS_accept
	case SYS_accept:
#endif
		return 0;
	case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_sendto: case SYS_sendmsg:
		return 1;
	}
	return -1;
}

int rt_eintr_safe_safe(const rt_eintr_safe_state_t *st, rt_eintr_safe_timeout_fn timeout)
{
	if (st->kind != RT_EINTR_SAFE_SYSCALL)
		return 1; /* no call to interrupt (a thread about to enter one: sample/thread_capture.c) */
	switch (st->nr) {
	case SYS_futex: {
		/* Without a timeout the kernel asks for a restart (ERESTARTSYS); with one it
		 * asks for a restart block, which becomes EINTR once a handler has run, and
		 * sem_timedwait hands that to its caller. */
		int op = (int)st->args[1] & FUTEX_CMD_MASK;
		return (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) && st->args[3] == 0;
	}
	case SYS_wait4: case SYS_waitid: case SYS_flock:
		return 1;
	}
	int side = io_side(st->nr);
	if (side < 0)
		return 0;
	/* The descriptor may have been closed or reused since the file was read: a stale
	 * answer errs either way as rarely as that race, and a closed one says "unsafe". */
	return timeout((int)st->args[0], side) == 0;
}

/* ---- the file ---- */

/* "/proc/self/task/<tid>/syscall" without snprintf's locale machinery. */
static void path_of(pid_t tid, char *out)
{
	static const char head[] = "/proc/self/task/", tail[] = "/syscall";
	char digits[16];
	int n = 0;
	unsigned v = (unsigned)tid;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof digits);
	memcpy(out, head, sizeof head - 1);
	out += sizeof head - 1;
	while (n > 0)
		*out++ = digits[--n];
	memcpy(out, tail, sizeof tail);
}

int rt_eintr_safe_probe(pid_t tid, rt_eintr_safe_state_t *st)
{
	char path[64], buf[256];
	path_of(tid, path);
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return -1;
	ssize_t n;
	while ((n = REAL(read)(fd, buf, sizeof buf)) < 0 && errno == EINTR)
		;
	rt_owned_fd_close(fd);
	if (n <= 0)
		return -1;
	return rt_eintr_safe_parse(buf, (size_t)n, st);
}
