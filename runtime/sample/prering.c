/* prering.c: the per-thread perf rings kept before the threshold (see sample/prering.h).
 * The ring is a forward perf ring mapped writable, so the kernel honours data_tail: it
 * never overwrites what is after the tail and drops (counting) what does not fit. A
 * request's first byte moves the tail to the writer's position, so what the request
 * does next is kept for at least a ring's worth of samples, sized for OTSHIM_SLOW_MS of
 * CPU at OTSHIM_CPU_HZ with a quarter to spare. The worker reads a stretch without
 * moving the tail, and trusts its copy only if the kernel cannot have written over it
 * meanwhile (the tail still where the request put it, or the writer far enough
 * behind). */
#include "sample/prering.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif

#include "base/log.h"
#include "base/owned_fds.h"
#include "base/stats.h"
#include "base/util.h"
#include "sample/cputimer.h"
#include "sample/ring.h"
#include "sample/unwind_regs.h"

#define STACK_MAX_BYTES 8192u      /* user stack copied per sample, at most */
#define STACK_MIN_BYTES 2048u
/* One thread's ring data, at most: the kernel locks it, and a process's share of
 * locked memory is small (perf_event_mlock_kb, 516 KiB a CPU per user, then
 * RLIMIT_MEMLOCK), so half a MiB, which holds the default threshold's 100 ms at 1 kHz
 * with 4 KiB of stack a sample (enough for C servers' and CPython's depth: tested). */
#define RING_MAX_BYTES (1u << 19)
#define WANTS_MAX 32
#define WANT_WAIT_NS (2 * 1000000000ull) /* a want whose request is never watched */

#if defined(__x86_64__)
/* Callee-saved registers and where the thread was: in the ring in this (bit) order. */
#define REGS_MASK ((1ull << PERF_REG_X86_BX) | (1ull << PERF_REG_X86_BP) |             \
		   (1ull << PERF_REG_X86_SP) | (1ull << PERF_REG_X86_IP) |             \
		   (1ull << PERF_REG_X86_R12) | (1ull << PERF_REG_X86_R13) |           \
		   (1ull << PERF_REG_X86_R14) | (1ull << PERF_REG_X86_R15))
#define NREGS 8
#endif

static int enabled;                /* set once at start-up */
static _Atomic int refused_logged;
static uint64_t period_ns;
static uint32_t stack_bytes;
static size_t data_bytes, page_bytes;

/* Ring slots: never freed, so a pointer kept by a request stays a slot. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* slots' lifetime, the budget */
static rt_prering_t slots[RT_PRERING_MAX];
static size_t mapped;

struct want {
	int used;
	uint64_t asked_ns;
	rt_prering_stretch_t s;
};
static pthread_mutex_t want_mu = PTHREAD_MUTEX_INITIALIZER;
static struct want wants[WANTS_MAX];

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One sample record: header, time, count, regs ABI, registers, stack size, stack,
 * the stack's dynamic size. */
static size_t record_bytes(uint32_t stack)
{
#if defined(__x86_64__)
	return 8 + 8 + 8 + 8 + NREGS * 8 + 8 + stack + 8;
#else
	return 8 + 8 + 8 + 8 + 8 + stack + 8;
#endif
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

void rt_prering_init(int on, uint32_t hz, uint32_t slow_ms)
{
#if !defined(__x86_64__)
	on = 0; /* the unwinder from registers is x86_64's only */
#endif
	page_bytes = (size_t)sysconf(_SC_PAGESIZE);
	period_ns = 1000000000ull / (hz ? hz : 1);
	/* The samples a threshold's worth of CPU makes (a thread's CPU time cannot
	 * outrun the wall clock), an eighth more for the watchdog's lateness, and the
	 * first one after it. What comes later may be dropped: the SIGPROF sampler has it. */
	uint64_t need = (uint64_t)slow_ms * hz / 1000;
	need += need / 8 + 4;
	stack_bytes = STACK_MAX_BYTES;
	while (stack_bytes > STACK_MIN_BYTES && need * record_bytes(stack_bytes) > RING_MAX_BYTES)
		stack_bytes /= 2;
	size_t want = (size_t)(need * record_bytes(stack_bytes));
	if (want > RING_MAX_BYTES)
		want = RING_MAX_BYTES; /* the ring keeps the request's first RING_MAX_BYTES */
	data_bytes = pow2_at_least(want < 2 * page_bytes ? 2 * page_bytes : want);
	if (data_bytes > RING_MAX_BYTES)
		data_bytes = RING_MAX_BYTES;
	enabled = on;
}

uint32_t rt_prering_stack_bytes(void) { return stack_bytes; }
size_t rt_prering_ring_bytes(void) { return enabled ? data_bytes + page_bytes : 0; }

size_t rt_prering_bytes(void)
{
	pthread_mutex_lock(&mu);
	size_t n = mapped;
	pthread_mutex_unlock(&mu);
	return n;
}

static void refuse(const char *why, int err)
{
	rt_stat_add(RT_STAT_PRE_RING_REFUSED, 1);
	if (!atomic_exchange(&refused_logged, 1))
		rt_log(RT_LOG_INFO, "a thread gets no CPU ring before the threshold (%s%s%s): its "
		       "slow requests are sampled from the threshold on; counted as "
		       "cpu_pre_rings_refused", why, err ? ": " : "", err ? strerror(err) : "");
}

/* The event's id still names our event on fd: then it is closed, else only forgotten
 * (the service dup2'ed onto the number; see sample/cputimer.c). */
static void event_close(int fd, uint64_t id)
{
	uint64_t now = 0;
	if (!rt_owned_fd_usable(fd) || ioctl(fd, PERF_EVENT_IOC_ID, &now) != 0 || now != id) {
		rt_owned_fd_forget(fd);
		return;
	}
	rt_owned_fd_close(fd);
}

static int event_open(pid_t tid)
{
	struct perf_event_attr pe;
	memset(&pe, 0, sizeof pe);
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof pe;
	pe.config = PERF_COUNT_SW_TASK_CLOCK;
	pe.sample_period = period_ns;
	/* User mode only (what perf_event_paranoid 2 allows): a sample never lands in a
	 * system call; the clock runs on in the kernel, and the count says so. */
	pe.exclude_kernel = 1;
	pe.exclude_hv = 1;
	pe.use_clockid = 1;
	pe.clockid = CLOCK_MONOTONIC;
	pe.sample_type = PERF_SAMPLE_TIME | PERF_SAMPLE_READ;
#if defined(__x86_64__)
	pe.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	pe.sample_regs_user = REGS_MASK;
	pe.sample_stack_user = stack_bytes;
#endif
	pe.watermark = 1;
	pe.wakeup_watermark = 0x7fffffff; /* nobody polls it */
	pe.disabled = 1; /* the worker enables it for a request that runs a while */
	return RT_OWNED_FD_OPEN((int)syscall(SYS_perf_event_open, &pe, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

/* A ring for thread tid, or NULL (counted and said once). Worker. */
static rt_prering_t *ring_open(pid_t tid)
{
	size_t len = page_bytes + data_bytes;
	rt_prering_t *p = NULL;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < RT_PRERING_MAX && !p; i++)
		if (!slots[i].page && mapped + len <= RT_PRERING_BUDGET)
			p = &slots[i];
	if (p) {
		p->page = (void *)1; /* taken */
		mapped += len;
	}
	pthread_mutex_unlock(&mu);
	if (!p) {
		refuse("the process's ring budget is spent", 0);
		return NULL;
	}
	int fd = event_open(tid), err = errno;
	void *map = MAP_FAILED;
	uint64_t id = 0;
	if (fd < 0) {
		if (err == ESRCH) {
			/* the thread is gone: nothing to count */
		} else if (err == EACCES || err == EPERM || err == ENOSYS || err == ENOENT ||
			   err == EINVAL || err == EOPNOTSUPP) {
			__atomic_store_n(&enabled, 0, __ATOMIC_RELAXED);
			rt_log(RT_LOG_INFO, "perf_event_open refused for the CPU ring kept before the "
			       "threshold (%s); slow requests are sampled from the threshold on",
			       strerror(err));
		} else {
			refuse("perf_event_open", err);
		}
		goto fail;
	}
	if (rt_fd_scarce(fd)) {
		refuse("descriptors are scarce", 0);
		goto fail;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		refuse("locked memory (perf_event_mlock_kb, RLIMIT_MEMLOCK)", errno);
		goto fail;
	}
	if (ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0) {
		refuse("PERF_EVENT_IOC_ID", errno);
		goto fail;
	}
	pthread_mutex_lock(&mu);
	p->fd = fd;
	p->id = id;
	p->map_len = len;
	p->data_len = data_bytes;
	p->tid = tid;
	p->opened_ns = mono_ns();
	p->enabled_ns = 0;
	atomic_store(&p->on, 0);
	p->page = map;
	atomic_store(&p->orphan, 0);
	atomic_store(&p->open, 1);
	pthread_mutex_unlock(&mu);
	rt_stat_add(RT_STAT_PRE_RING_OPENED, 1);
	return p;
fail:
	if (map != MAP_FAILED)
		munmap(map, len);
	if (fd >= 0)
		rt_owned_fd_close(fd);
	pthread_mutex_lock(&mu);
	p->page = NULL;
	mapped -= len;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* mu held. */
static void slot_free(rt_prering_t *p, int unmap)
{
	atomic_store(&p->open, 0);
	if (unmap)
		munmap(p->page, p->map_len);
	event_close(p->fd, p->id);
	mapped -= p->map_len;
	p->page = NULL;
}

/* A thread's life is over (or the ring turned out to be another life's): the worker
 * closes it at its next round. */
static void let_go(rt_prering_t *p)
{
	atomic_store(&p->orphan, 1);
}

void rt_prering_close(rt_thread_t *t)
{
	rt_prering_t *p = atomic_exchange(&t->prering, NULL);
	t->prering_asked = 0; /* the state's next life asks again */
	atomic_store(&t->prering_want_ns, 0);
	if (p)
		let_go(p);
}

/* Opens t's ring if t asked a while ago and serves a request now. Worker. */
static int open_for(rt_thread_t *t, uint64_t now)
{
	uint64_t asked = atomic_load_explicit(&t->prering_want_ns, memory_order_relaxed);
	if (!asked || now - asked < RT_PRERING_OPEN_AFTER_NS ||
	    !atomic_load_explicit(&t->in_use, memory_order_acquire) ||
	    !atomic_load_explicit(&t->cur_serial, memory_order_relaxed) ||
	    atomic_load_explicit(&t->prering, memory_order_relaxed))
		return 0;
	pid_t tid = __atomic_load_n(&t->tid, __ATOMIC_RELAXED);
	/* Answered, whatever comes of it: a thread asks once per life. */
	if (!atomic_compare_exchange_strong(&t->prering_want_ns, &asked, 0))
		return 0;
	rt_prering_t *p = ring_open(tid);
	if (!p)
		return 1;
	rt_prering_t *none = NULL;
	if (!atomic_compare_exchange_strong(&t->prering, &none, p)) {
		let_go(p);
		return 1;
	}
	/* The thread may have exited meanwhile and its state begun another life: the ring
	 * then stays with that life, useless (its requests' wants name another thread id)
	 * but harmless, until it exits; it is not taken back, for that life may be using
	 * its control page this instant. */
	return 1;
}

/* Enables t's ring if its current request has run RT_PRERING_ENABLE_AFTER_NS. The
 * count and the thread's clock are read first, while the event stands still. Worker. */
static void enable_for(rt_thread_t *t, uint64_t now)
{
	rt_prering_t *p = atomic_load_explicit(&t->prering, memory_order_acquire);
	if (!p || atomic_load_explicit(&p->on, memory_order_relaxed) || !atomic_load(&p->open) ||
	    atomic_load(&p->orphan) || p->tid != __atomic_load_n(&t->tid, __ATOMIC_RELAXED))
		return;
	uint64_t start = atomic_load_explicit(&t->cur_start_ns, memory_order_relaxed);
	if (!atomic_load_explicit(&t->cur_serial, memory_order_relaxed) || !start ||
	    now < start + RT_PRERING_ENABLE_AFTER_NS)
		return;
	uint64_t count = 0;
	if (read(p->fd, &count, sizeof count) != (ssize_t)sizeof count)
		count = 0;
	uint64_t cpu = rt_cputimer_thread_ns(p->tid);
	if (ioctl(p->fd, PERF_EVENT_IOC_ENABLE, 0) != 0)
		return;
	pthread_mutex_lock(&mu);
	p->enabled_ns = mono_ns();
	p->count_at_enable = count;
	p->cpu_at_enable_ns = cpu;
	pthread_mutex_unlock(&mu);
	atomic_store_explicit(&p->on, 1, memory_order_relaxed);
	rt_stat_add(RT_STAT_PRE_RING_ENABLED, 1);
}

void rt_prering_disable(rt_prering_t *p)
{
	int saved = errno;
	ioctl(p->fd, PERF_EVENT_IOC_DISABLE, 0);
	atomic_store_explicit(&p->on, 0, memory_order_relaxed);
	errno = saved;
}

void rt_prering_tick(void)
{
	static uint64_t window_ns;
	static int opened;
	if (!__atomic_load_n(&enabled, __ATOMIC_RELAXED) && !rt_prering_bytes())
		return;
	uint64_t now = mono_ns();
	if (now - window_ns >= 1000000000ull) {
		window_ns = now;
		opened = 0;
	}
	for (rt_thread_t *t = rt_thread_first(); t && opened < RT_PRERING_OPENS_PER_S; t = t->next)
		if (__atomic_load_n(&enabled, __ATOMIC_RELAXED))
			opened += open_for(t, now);
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next)
		if (atomic_load_explicit(&t->in_use, memory_order_acquire))
			enable_for(t, now);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < RT_PRERING_MAX; i++)
		if (atomic_load(&slots[i].open) && atomic_load(&slots[i].orphan))
			slot_free(&slots[i], 1);
	pthread_mutex_unlock(&mu);
}

rt_prering_t *rt_prering_made_since(rt_thread_t *t, uint64_t start_ns, uint64_t *pos)
{
	rt_prering_t *p = atomic_load_explicit(&t->prering, memory_order_acquire);
	if (!p || p->opened_ns < start_ns)
		return NULL;
	*pos = 0;
	return p;
}

void rt_prering_fork_child(void)
{
	pthread_mutex_init(&mu, NULL);
	pthread_mutex_init(&want_mu, NULL);
	memset(wants, 0, sizeof wants);
	/* The mappings were not inherited (perf maps are not copied); the descriptors
	 * were, and count the parent's threads: closed. */
	for (int i = 0; i < RT_PRERING_MAX; i++)
		if (slots[i].page && atomic_load(&slots[i].open))
			slot_free(&slots[i], 0);
	mapped = 0;
	for (rt_thread_t *t = rt_thread_first(); t; t = t->next) {
		atomic_store(&t->prering, NULL);
		t->prering_asked = 0;
		atomic_store(&t->prering_want_ns, 0);
	}
}

/* ---- the watchdog's want ---- */

int rt_prering_want(const rt_prering_stretch_t *s)
{
	if (!s->ring || s->pos == RT_PRERING_NOPOS)
		return 0;
	int ok = 0;
	pthread_mutex_lock(&want_mu);
	for (int i = 0; i < WANTS_MAX && !ok; i++) {
		if (wants[i].used)
			continue;
		wants[i] = (struct want){ .used = 1, .asked_ns = mono_ns(), .s = *s };
		ok = 1;
	}
	pthread_mutex_unlock(&want_mu);
	if (!ok)
		rt_stat_add(RT_STAT_PRE_INCOMPLETE, 1);
	return ok;
}

/* ---- the worker's read ---- */

/* The ring's last enabling, as the worker left it. */
struct enabling {
	uint64_t at_ns, count, cpu_ns;
};

/* Copies the ring's bytes from pos to its writer into a new buffer (*len bytes), and
 * its last enabling to *en. NULL when the stretch is not there whole: another ring, or
 * written over. */
static unsigned char *copy_stretch(const struct want *w, size_t *len, struct enabling *en)
{
	rt_prering_t *p = w->s.ring;
	unsigned char *buf = NULL;
	pthread_mutex_lock(&mu);
	/* A ring is closed only as its thread exits, so one still open for the same thread
	 * id is the ring the request began on (the thread's first request opens it during
	 * its own begin). */
	if (!atomic_load(&p->open) || p->tid != w->s.tid)
		goto out;
	*en = (struct enabling){ p->enabled_ns, p->count_at_enable, p->cpu_at_enable_ns };
	struct perf_event_mmap_page *pg = p->page;
	const unsigned char *data = (const unsigned char *)pg + page_bytes;
	size_t size = p->data_len, maxrec = record_bytes(stack_bytes);
	uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
	if (head < w->s.pos || head - w->s.pos > size)
		goto out;
	size_t n = (size_t)(head - w->s.pos);
	buf = malloc(n ? n : 1);
	if (!buf)
		goto out;
	size_t off = (size_t)(w->s.pos % size), first = n < size - off ? n : size - off;
	memcpy(buf, data + off, first);
	memcpy(buf + first, data, n - first);
	/* The copy's reads before the second look at the writer (a seqlock's reader). TSan
	 * has no fences, and cannot see the kernel's writes anyway. */
#if !defined(__SANITIZE_THREAD__)
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
	uint64_t head2 = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail2 = __atomic_load_n(&pg->data_tail, __ATOMIC_RELAXED);
	/* With the tail still at pos the kernel cannot have reached past pos + size; once
	 * a later request moved it, only a writer short of that is proof. */
	if (tail2 != w->s.pos && head2 + 2 * maxrec > w->s.pos + size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = n;
out:
	pthread_mutex_unlock(&mu);
	return buf;
}

struct psample {
	uint64_t time, count;
	const unsigned char *regs;  /* NREGS words, or NULL */
	const unsigned char *stack;
	uint64_t stack_len;
};

/* The sample record at rec (its header read), or 0 when it is not one we can use. */
static int parse_sample(const unsigned char *rec, size_t size, struct psample *s)
{
	const unsigned char *p = rec + 8, *end = rec + size;
	uint64_t abi = 0, ssize = 0;
	memset(s, 0, sizeof *s);
	if (end - p < 24)
		return 0;
	memcpy(&s->time, p, 8);
	memcpy(&s->count, p + 8, 8);
	memcpy(&abi, p + 16, 8);
	p += 24;
#if defined(__x86_64__)
	if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
		if (end - p < NREGS * 8)
			return 0;
		s->regs = p;
		p += NREGS * 8;
	}
	if (end - p < 8)
		return 0;
	memcpy(&ssize, p, 8);
	p += 8;
	if (ssize) {
		if ((uint64_t)(end - p) < ssize + 8)
			return 0;
		s->stack = p;
		memcpy(&s->stack_len, p + ssize, 8);
		if (s->stack_len > ssize)
			s->stack_len = ssize;
	}
#else
	(void)abi;
	(void)ssize;
#endif
	return 1;
}

static size_t unwind_sample(const struct psample *s, uintptr_t *pcs, size_t max)
{
#if defined(__x86_64__)
	if (!s->regs)
		return 0;
	uint64_t v[NREGS]; /* BX, BP, SP, IP, R12, R13, R14, R15 */
	memcpy(v, s->regs, sizeof v);
	rt_uregs_t r = { .bx = v[0], .bp = v[1], .sp = v[2], .ip = v[3], .r12 = v[4],
			 .r13 = v[5], .r14 = v[6], .r15 = v[7],
			 .have = RT_UREG_BX | RT_UREG_BP | RT_UREG_R12 | RT_UREG_R13 | RT_UREG_R14 |
				 RT_UREG_R15 };
	return rt_unwind_regs(&r, s->stack, s->stack ? (size_t)s->stack_len : 0, pcs, max);
#else
	(void)s, (void)pcs, (void)max;
	return 0;
#endif
}

/* The samples of w's stretch between its first byte and its threshold, weighted by the
 * event's count (the thread's CPU time): the first by the count since the enabling (or
 * one period, when the ring was on before the first byte), each next by the count since
 * the previous, the last also by the CPU from it to the threshold, estimated from the
 * first sample after the threshold. */
static void read_one(const struct want *w, const rt_prering_sink_t *sink)
{
	size_t len = 0;
	struct enabling en = { 0, 0, 0 };
	unsigned char *buf = copy_stretch(w, &len, &en);
	if (!buf) {
		rt_log(RT_LOG_DEBUG, "request %llu: its ring's part before the threshold is gone",
		       (unsigned long long)w->s.serial);
		rt_stat_add(RT_STAT_PRE_INCOMPLETE, 1);
		sink->done(w->s.serial, 0, 0, sink->arg);
		return;
	}
	struct psample prev, cur, next;
	memset(&prev, 0, sizeof prev);
	memset(&next, 0, sizeof next);
	int have_prev = 0, have_next = 0, lost = 0;
	uint64_t total = 0, first_count = 0, lead = 0;
	/* Enabled between the first byte and the threshold: what it then read applies. */
	int during = en.at_ns > w->s.start_ns && en.at_ns <= w->s.slow_ns;
	uintptr_t pcs[RT_STACK_MAX];
	size_t npcs = 0;
	for (size_t off = 0; off + 8 <= len;) {
		struct perf_event_header h;
		memcpy(&h, buf + off, sizeof h);
		if (h.size < 8 || off + h.size > len)
			break;
		const unsigned char *rec = buf + off;
		off += h.size;
		if (h.type == PERF_RECORD_LOST) {
			lost = 1;
			continue;
		}
		if (h.type != PERF_RECORD_SAMPLE || !parse_sample(rec, h.size, &cur) ||
		    cur.time < w->s.start_ns)
			continue;
		if (cur.time > w->s.slow_ns) {
			next = cur;
			have_next = 1;
			break;
		}
		/* The previous sample's stack is given once its weight is known. */
		if (have_prev) {
			uint64_t wgt = cur.count > prev.count ? cur.count - prev.count : 0;
			if (npcs)
				sink->sample(w->s.serial, w->s.tid, wgt, pcs, (uint32_t)npcs, sink->arg);
			total += wgt;
		} else {
			first_count = cur.count;
		}
		npcs = unwind_sample(&cur, pcs, RT_STACK_MAX);
		prev = cur;
		have_prev = 1;
	}
	if (have_prev) {
		/* The last sample's own period, then on to the threshold. */
		uint64_t gap = period_ns;
		if (have_next && next.time > prev.time && next.count > prev.count) {
			uint64_t span = next.count - prev.count;
			gap = (uint64_t)((double)span * (double)(w->s.slow_ns - prev.time) /
					 (double)(next.time - prev.time));
			if (gap > span)
				gap = span;
		} else if (w->s.slow_ns - prev.time < gap) {
			gap = w->s.slow_ns - prev.time;
		}
		/* And the CPU before the first sample: since the ring's enabling, when that
		 * was during the request, its count; else (on since before the first byte) at
		 * most a period in user mode. */
		lead = during && first_count >= en.count ? first_count - en.count : period_ns;
		uint64_t wgt = lead + gap;
		if (npcs)
			sink->sample(w->s.serial, w->s.tid, wgt, pcs, (uint32_t)npcs, sink->arg);
		total += wgt;
	}
	/* A full ring drops what does not fit, and says so (a lost record) only once it
	 * has room again, which a request that outran it does not give it: a stretch that
	 * fills the ring and holds nothing after the threshold lost its last part. */
	if (!have_next && len + record_bytes(stack_bytes) > data_bytes)
		lost = 1;
	if (lost)
		rt_stat_add(RT_STAT_PRE_INCOMPLETE, 1);
	/* What was lost still ran: the thread's clock at the threshold, less its clock at
	 * the first sample (the count since the enabling, on top of the clock then), less
	 * that sample's lead, is the stretch's CPU. A watchdog made late by a busy machine
	 * is when it happens. */
	uint64_t first_clock = en.cpu_ns + (first_count - en.count);
	if (lost && have_prev && en.cpu_ns && en.at_ns <= w->s.slow_ns && first_count >= en.count &&
	    w->s.cpu_at_slow_ns > first_clock) {
		uint64_t clock = w->s.cpu_at_slow_ns - first_clock + lead;
		if (clock > total)
			total = clock;
	}
	/* A ring enabled while the request ran saw nothing before. On a thread's first
	 * request (as each one is in a thread-per-connection service) its clock was read at
	 * the first byte, and says how much CPU that was. No stack has it. */
	if (during && w->s.cpu_at_begin_ns && en.cpu_ns > w->s.cpu_at_begin_ns)
		total += en.cpu_ns - w->s.cpu_at_begin_ns;
	rt_log(RT_LOG_DEBUG, "request %llu: %zu bytes before the threshold, %llu ns of CPU%s",
	       (unsigned long long)w->s.serial, len, (unsigned long long)total,
	       lost ? ", some samples lost (the ring was full)" : "");
	sink->done(w->s.serial, total, !lost, sink->arg);
	free(buf);
}

void rt_prering_collect(const rt_prering_sink_t *sink)
{
	struct want todo[WANTS_MAX];
	int n = 0;
	uint64_t now = mono_ns();
	pthread_mutex_lock(&want_mu);
	for (int i = 0; i < WANTS_MAX; i++) {
		if (!wants[i].used)
			continue;
		if (sink->known(wants[i].s.serial, sink->arg)) {
			todo[n++] = wants[i];
			wants[i].used = 0;
		} else if (now - wants[i].asked_ns > WANT_WAIT_NS) {
			wants[i].used = 0; /* its request was dropped before it was watched */
		}
	}
	pthread_mutex_unlock(&want_mu);
	for (int i = 0; i < n; i++)
		read_one(&todo[i], sink);
}
