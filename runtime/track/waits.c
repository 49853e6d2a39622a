/* waits.c: a thread's waits within its current request (see track/waits.h). */
#include "track/waits.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rt.h"
#include "base/ticks.h"
#include "sample/unwind.h"

RT_API uint64_t rt_wait_min_ticks; /* 0 until the tick rate is known: nothing is timed */
static uint64_t stack_ticks;

/* Under ThreadSanitizer our interposers run inside its interceptors, and libunwind set
 * up there (its per-thread cache, its lock) breaks TSan's own bookkeeping of that lock
 * when the thread exits: a wait there keeps its call site only. */
#if defined(__SANITIZE_THREAD__)
#define WALKS_IN_INTERCEPTORS_BREAK 1
#else
#define WALKS_IN_INTERCEPTORS_BREAK 0
#endif

/* The thread's table: sites grouped by (kind, return address, stack depth, fd), so a
 * call made from one place on one descriptor, again and again, is walked once. */
typedef struct site {
	uintptr_t ret, sp;
	int fd;
	uint64_t ticks;
	socklen_t addr_len;           /* a socket's peer, named by rt_waits_take (0: none) */
	struct sockaddr_storage addr;
	rt_wait_t w;                  /* ns (and a socket's peer) filled in by rt_waits_take */
} site_t;

typedef struct rt_waits {
	uint64_t serial;              /* the request the sites belong to */
	uint32_t n;
	uint64_t other_ticks;
	uint32_t other_count;
	site_t site[RT_WAIT_SITES];
} rt_waits_t;

static const char *const names[RT_WAIT_KINDS] = {
	[RT_WAIT_READ] = "read", [RT_WAIT_READV] = "readv", [RT_WAIT_RECV] = "recv",
	[RT_WAIT_RECVFROM] = "recvfrom", [RT_WAIT_RECVMSG] = "recvmsg",
	[RT_WAIT_WRITE] = "write", [RT_WAIT_WRITEV] = "writev", [RT_WAIT_SEND] = "send",
	[RT_WAIT_SENDTO] = "sendto", [RT_WAIT_SENDMSG] = "sendmsg",
	[RT_WAIT_SENDFILE] = "sendfile", [RT_WAIT_CONNECT] = "connect",
	[RT_WAIT_ACCEPT] = "accept", [RT_WAIT_POLL] = "poll", [RT_WAIT_PPOLL] = "ppoll",
	[RT_WAIT_SELECT] = "select", [RT_WAIT_PSELECT] = "pselect",
	[RT_WAIT_EPOLL_WAIT] = "epoll_wait", [RT_WAIT_EPOLL_PWAIT] = "epoll_pwait",
	[RT_WAIT_NANOSLEEP] = "nanosleep", [RT_WAIT_CLOCK_NANOSLEEP] = "clock_nanosleep",
	[RT_WAIT_SLEEP] = "sleep", [RT_WAIT_USLEEP] = "usleep",
	[RT_WAIT_MUTEX_LOCK] = "pthread_mutex_lock", [RT_WAIT_COND_WAIT] = "pthread_cond_wait",
	[RT_WAIT_COND_TIMEDWAIT] = "pthread_cond_timedwait",
	[RT_WAIT_COND_CLOCKWAIT] = "pthread_cond_clockwait", [RT_WAIT_SEM_WAIT] = "sem_wait",
	[RT_WAIT_SEM_TIMEDWAIT] = "sem_timedwait", [RT_WAIT_SEM_CLOCKWAIT] = "sem_clockwait",
};

const char *rt_wait_name(int kind)
{
	return kind > 0 && kind < RT_WAIT_KINDS && names[kind] ? names[kind] : "wait";
}

void rt_waits_enable(int may_sleep)
{
	if (__atomic_load_n(&rt_wait_min_ticks, __ATOMIC_ACQUIRE) || rt_ticks_calibrate(may_sleep) != 0)
		return;
	stack_ticks = rt_ns_to_ticks(RT_WAIT_STACK_NS);
	uint64_t min = rt_ns_to_ticks(RT_WAIT_MIN_NS);
	__atomic_store_n(&rt_wait_min_ticks, min ? min : 1, __ATOMIC_RELEASE);
}

void rt_waits_ensure(rt_thread_t *t)
{
	if (!t->waits)
		t->waits = calloc(1, sizeof(rt_waits_t));
}

/* What fd is connected to, in one or two system calls, no allocation and no
 * formatting: a socket's address is kept as it is (named only if the request turns out
 * slow, by peer_name), anything else is named by /proc. */
static void peer_capture(site_t *s, int fd)
{
	s->addr_len = 0;
	s->w.peer[0] = '\0';
	if (fd < 0)
		return;
	socklen_t sl = sizeof s->addr;
	if (getpeername(fd, (struct sockaddr *)&s->addr, &sl) == 0) {
		s->addr_len = sl;
		return;
	}
	/* Not a connected socket: a file, a pipe, a device; /proc names it. */
	char link[32] = "/proc/self/fd/", digits[12];
	int nd = 0;
	for (unsigned v = (unsigned)fd; nd == 0 || v; v /= 10)
		digits[nd++] = (char)('0' + v % 10);
	size_t at = strlen(link);
	while (nd > 0)
		link[at++] = digits[--nd];
	link[at] = '\0';
	ssize_t n = readlink(link, s->w.peer, sizeof s->w.peer - 1);
	s->w.peer[n > 0 ? n : 0] = '\0';
}

/* A socket's peer as text: "ip:port", "[ip6]:port", "unix:path" or "unix:@name". */
static void peer_name(const struct sockaddr_storage *ss, socklen_t sl, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	out[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *a = (const struct sockaddr_un *)ss;
		size_t n = sl > offsetof(struct sockaddr_un, sun_path)
				   ? sl - offsetof(struct sockaddr_un, sun_path) : 0;
		if (n && a->sun_path[0] == '\0')
			snprintf(out, len, "unix:@%.*s", (int)(n - 1), a->sun_path + 1);
		else
			snprintf(out, len, "unix:%.*s", (int)strnlen(a->sun_path, n), a->sun_path);
	}
}

static void walk(site_t *s, const void *site)
{
	uintptr_t pcs[RT_WAIT_DEPTH + 16];
	size_t n = rt_unwind_here(pcs, RT_WAIT_DEPTH + 16, 0);
	size_t own = rt_unwind_own_prefix(pcs, n);
	if (n > own) {
		n -= own;
		if (n > RT_WAIT_DEPTH)
			n = RT_WAIT_DEPTH;
		memcpy(s->w.pcs, pcs + own, n * sizeof *pcs);
		s->w.npcs = (uint8_t)n;
		s->w.whole = 1;
		return;
	}
	s->w.pcs[0] = (uintptr_t)site; /* the walk failed: the call site alone */
	s->w.npcs = 1;
}

void rt_waits_record(rt_thread_t *t, int kind, int fd, uint64_t t0, uint64_t t1,
		     const void *site, const void *sp)
{
	rt_waits_t *w = t->waits;
	uint64_t serial = atomic_load_explicit(&t->cur_serial, memory_order_relaxed);
	uint64_t d = t1 - t0;
	if (!w || !serial)
		return;
	if (w->serial != serial) {
		w->serial = serial;
		w->n = 0;
		w->other_ticks = 0;
		w->other_count = 0;
	}
	/* A request already slow, or a wait long enough to matter, is worth a walk; a
	 * wait for libunwind's own lock (a service that walks its stacks) never is, nor
	 * one for the allocator's (the lock is held now: see rt_unwind_is_allocator). */
	int walk_now = (d >= stack_ticks || atomic_load_explicit(&t->armed, memory_order_relaxed)) &&
		       !rt_unwind_is_unwinder((uintptr_t)site) &&
		       !rt_unwind_is_allocator((uintptr_t)site) && !WALKS_IN_INTERCEPTORS_BREAK;
	for (uint32_t i = 0; i < w->n; i++) {
		site_t *s = &w->site[i];
		if (s->ret == (uintptr_t)site && s->sp == (uintptr_t)sp && s->fd == fd &&
		    s->w.kind == kind) {
			s->ticks += d;
			s->w.count++;
			if (!s->w.whole && walk_now)
				walk(s, site);
			return;
		}
	}
	if (w->n == RT_WAIT_SITES) {
		w->other_ticks += d;
		w->other_count++;
		return;
	}
	site_t *s = &w->site[w->n++];
	s->ret = (uintptr_t)site;
	s->sp = (uintptr_t)sp;
	s->fd = fd;
	s->ticks = d;
	s->w.kind = (uint8_t)kind;
	s->w.count = 1;
	s->w.whole = 0;
	peer_capture(s, fd);
	if (walk_now) {
		walk(s, site);
	} else {
		s->w.pcs[0] = (uintptr_t)site;
		s->w.npcs = 1;
	}
}

rt_req_waits_t *rt_waits_take(rt_thread_t *t, uint64_t serial)
{
	rt_waits_t *w = t->waits;
	if (!w || w->serial != serial || (w->n == 0 && w->other_count == 0))
		return NULL;
	rt_req_waits_t *r = malloc(sizeof *r + w->n * sizeof(rt_wait_t));
	if (!r)
		return NULL;
	r->n = w->n;
	r->other_ns = rt_ticks_to_ns(w->other_ticks);
	r->other_count = w->other_count;
	r->total_ns = r->other_ns;
	for (uint32_t i = 0; i < w->n; i++) {
		r->w[i] = w->site[i].w;
		r->w[i].ns = rt_ticks_to_ns(w->site[i].ticks);
		if (w->site[i].addr_len)
			peer_name(&w->site[i].addr, w->site[i].addr_len, r->w[i].peer,
				  sizeof r->w[i].peer);
		r->total_ns += r->w[i].ns;
	}
	w->serial = 0;
	return r;
}
