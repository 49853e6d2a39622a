/* rt.h: the runtime's door for the interposers in shim/: the events a forwarded call
 * reports, and the one-load checks an interposer makes before anything else (is this
 * descriptor a tracked connection, is it one of ours). boot/events.c dispatches the
 * events; the owners of the tables are track/conn.c and base/owned_fds.c. (The other
 * runtime headers the interposers may include are listed in shim/shim.h.) Every function here may be
 * called from any host thread, at any time (also before the runtime is initialised,
 * then it does nothing), preserves errno, never blocks on I/O and never calls back
 * into an interposed function without the reentrancy guard. */
#ifndef RT_H
#define RT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <stdatomic.h>

#include "base/guard.h"

#define RT_API __attribute__((visibility("hidden")))

/* The fd -> connection table (owned by track/conn.c). Visible here only so an interposer
 * can tell in one load that an fd is not a tracked connection and skip everything
 * else, errno handling included. */
struct rt_conn;
struct ssl_st;
extern RT_API _Atomic(struct rt_conn *) *rt_conn_table;
extern RT_API size_t rt_conn_table_len;

static inline int rt_fd_tracked(int fd)
{
	return (size_t)fd < rt_conn_table_len &&
	       atomic_load_explicit(&rt_conn_table[fd], memory_order_relaxed) != NULL;
}

/* The incarnation of the connection on fd (0: none), taken before a call on a tracked
 * fd and handed back with its bytes: a call that began before fd was closed and its
 * number given to another connection then reports nothing, rather than the old
 * connection's bytes as the newcomer's. */
RT_API uint64_t rt_fd_token(int fd);

/* Timing the service's blocking calls (track/waits.h). A thread serving a request
 * (its current-request word, owned by track/conn.c, is not 0) times each call that may
 * block -- socket and file I/O, connect, poll/select/epoll, sleeps, lock and condition
 * waits -- with rt_ticks() (base/ticks.h) and reports the calls that took at least
 * rt_wait_min_ticks. Any other thread, and every thread until the tick rate is known
 * (rt_wait_min_ticks 0), and the runtime itself (the reentrancy guard, base/guard.h:
 * its own locks, and libunwind's while it walks a stack), pays a few thread-local
 * loads and a branch. */
extern __thread _Atomic uint64_t *rt_tls_serving __attribute__((tls_model("initial-exec")));
extern RT_API uint64_t rt_wait_min_ticks;

static inline int rt_wait_timed(void)
{
	_Atomic uint64_t *serving = rt_tls_serving;
	return serving && atomic_load_explicit(serving, memory_order_relaxed) != 0 &&
	       __atomic_load_n(&rt_wait_min_ticks, __ATOMIC_ACQUIRE) != 0 && !rt_tls_depth;
}

/* What a thread waited in: the wall profile's `wait` label is its name (rt_wait_name). */
enum rt_wait_kind {
	RT_WAIT_READ = 1, RT_WAIT_READV, RT_WAIT_RECV, RT_WAIT_RECVFROM, RT_WAIT_RECVMSG,
	RT_WAIT_WRITE, RT_WAIT_WRITEV, RT_WAIT_SEND, RT_WAIT_SENDTO, RT_WAIT_SENDMSG,
	RT_WAIT_SENDFILE, RT_WAIT_CONNECT, RT_WAIT_ACCEPT,
	RT_WAIT_POLL, RT_WAIT_PPOLL, RT_WAIT_SELECT, RT_WAIT_PSELECT, RT_WAIT_EPOLL_WAIT,
	RT_WAIT_EPOLL_PWAIT, RT_WAIT_NANOSLEEP, RT_WAIT_CLOCK_NANOSLEEP, RT_WAIT_SLEEP,
	RT_WAIT_USLEEP, RT_WAIT_MUTEX_LOCK, RT_WAIT_COND_WAIT, RT_WAIT_COND_TIMEDWAIT,
	RT_WAIT_COND_CLOCKWAIT, RT_WAIT_SEM_WAIT, RT_WAIT_SEM_TIMEDWAIT, RT_WAIT_SEM_CLOCKWAIT,
	RT_WAIT_KINDS
};

/* A call of kind ran from tick t0 to t1 on a thread serving a request; fd is its
 * descriptor (-1: none, or several); site is the service's return address from the
 * interposer and sp a stack address inside it (together they tell call paths apart
 * without walking the stack). Signal-safe in the sense that it never allocates: it
 * may run inside a lock the service (or its allocator) holds. */
RT_API void rt_on_wait(int kind, int fd, uint64_t t0, uint64_t t1, const void *site,
		       const void *sp);

/* The descriptors the shim owns (base/owned_fds.c), by number: FREE, OWNED (ours, open),
 * LENT (ours, handed to a library that closes it with close()), or LOST (the service
 * dup2'ed onto it: the number is the service's now, and our owner only forgets it). Visible here so close() can tell in one byte load that fd is not
 * ours. Numbers from RT_OWNED_FD_MAX up are never registered. */
#define RT_OWNED_FD_MAX 65536
enum { RT_FD_FREE = 0, RT_FD_OWNED = 1, RT_FD_LOST = 2, RT_FD_LENT = 3 };
extern RT_API _Atomic unsigned char rt_owned_fd_state[RT_OWNED_FD_MAX];

static inline int rt_fd_owned(int fd)
{
	return (unsigned int)fd < RT_OWNED_FD_MAX &&
	       atomic_load_explicit(&rt_owned_fd_state[fd], memory_order_relaxed) != RT_FD_FREE;
}

/* How many of the shim's opens are between their system call and the registration of
 * the number they got: a service's close() meanwhile waits for them (base/owned_fds.c). */
extern RT_API _Atomic int rt_owned_fd_opening;
static inline int rt_fd_owned_or_opening(int fd)
{
	return rt_fd_owned(fd) || atomic_load_explicit(&rt_owned_fd_opening, memory_order_relaxed);
}

/* close(fd) of a registered number, or while the shim opens one, is about to run
 * (the service's waits, boundedly, for those opens to be registered). Returns 1 when
 * the real close must not run and close() fails with EBADF: the service closing one
 * of ours (it never opened that number; without the shim it was not open for it), or
 * a library on our threads closing one of ours it was not lent (its own number was
 * closed under it and reused by us). Returns 0 to forward: a number not ours, a LOST
 * one (the service's), or one lent to a library that closes it itself (libdw's debug
 * files; unregistered here first). Signal-safe. */
RT_API int rt_on_owned_close(int fd);
/* dup2/dup3 onto a registered fd is about to run: if it is the service's call the
 * number becomes LOST (it gets what it asked for; our owner stops using it).
 * rt_on_owned_dup_failed(fd) takes that back when the real call failed. */
RT_API void rt_on_owned_dup(int fd);
RT_API void rt_on_owned_dup_failed(int fd);
/* close_range(first, last, flags) (closefrom: (lowfd, ~0u, 0)) from the service:
 * runs real over the pieces of the range between our OWNED numbers, fenced against
 * our opens in flight, and returns 1 with its result in *rc. Returns 0 when the
 * caller forwards the call unchanged: only CLOSE_RANGE_CLOEXEC marking (ours are
 * close-on-exec already), flags the kernel refuses, or the shim's own call. */
RT_API int rt_on_close_range_owned(unsigned int first, unsigned int last, int flags,
				   int (*real)(unsigned int, unsigned int, int), int *rc);

/* A socket was accepted (after the real call succeeded). */
RT_API void rt_on_accept(int fd);
/* fd is about to be closed (before the real call: the number may be reused by
 * another thread the moment close returns). */
RT_API void rt_on_close(int fd);
/* close_range(first, last, flags) is about to run (before the real call); closefrom
 * reports (lowfd, ~0u, 0). Only marking (CLOSE_RANGE_CLOEXEC) closes nothing. */
RT_API void rt_on_close_range(unsigned int first, unsigned int last, int flags);
/* n > 0 bytes were read into / written from buf by a call that began holding tok. */
RT_API void rt_on_read(int fd, uint64_t tok, const void *buf, size_t n);
RT_API void rt_on_write(int fd, uint64_t tok, const void *buf, size_t n);
/* Same, scattered: the first n bytes of the iovec array. */
RT_API void rt_on_readv(int fd, uint64_t tok, const struct iovec *iov, int iovcnt, size_t n);
RT_API void rt_on_writev(int fd, uint64_t tok, const struct iovec *iov, int iovcnt, size_t n);
/* n bytes went from a file to fd without passing through memory (sendfile). */
RT_API void rt_on_sendfile(int fd, uint64_t tok, size_t n);

/* TLS through a shared libssl (shim/shim_ssl.c). An SSL_* call on ssl is about to run:
 * *fd gets its socket; returns the token of the tracked connection on it, or 0 when
 * there is none (then the call reports nothing else). Plaintext moved: n > 0 bytes
 * read into / written from buf through ssl by a call that began holding tok. ssl is
 * about to be freed (tok 0: it is on no tracked connection; it is reported anyway, as
 * its address may come back for another socket). */
RT_API uint64_t rt_on_ssl_begin(struct ssl_st *ssl, int *fd);
RT_API void rt_on_ssl_read(struct ssl_st *ssl, int fd, uint64_t tok, const void *buf, size_t n);
RT_API void rt_on_ssl_write(struct ssl_st *ssl, int fd, uint64_t tok, const void *buf, size_t n);
RT_API void rt_on_ssl_free(struct ssl_st *ssl, int fd, uint64_t tok);

/* ---- connections the service opens (track/conn_out.c) ---- */

/* connect(fd, a, len) returned rc (errno err when -1); it was called at t0
 * (rt_on_connect_begin's clock). */
RT_API uint64_t rt_on_connect_begin(void);
RT_API void rt_on_connect(int fd, const struct sockaddr *a, socklen_t len, uint64_t t0, int rc,
			  int err);
/* getsockopt(fd, SOL_SOCKET, SO_ERROR) read so_error on a tracked fd: a non-blocking
 * connect's outcome. */
RT_API void rt_on_sock_error(int fd, int so_error);

enum { RT_SEND_WRITE, RT_SEND_WRITEV, RT_SEND_SEND, RT_SEND_SENDTO, RT_SEND_SENDMSG,
       RT_SEND_SENDFILE, RT_SEND_SENDFILE64 };
/* A write-family call of the service, as made. */
typedef struct rt_send {
	int kind;                     /* RT_SEND_* */
	const struct iovec *iov;      /* its bytes (one entry for write, send, sendto) */
	int iovcnt;
	int flags;                    /* send, sendto, sendmsg */
	const struct msghdr *msg;     /* sendmsg */
	const struct sockaddr *to;    /* sendto */
	socklen_t tolen;
	int in_fd;                    /* sendfile */
	off_t *off;
	size_t count;
} rt_send_t;
/* A write-family call on a tracked fd: returns 0 when fd is not a connection the
 * service opened (the caller goes on as for any tracked fd); else 1, having made the
 * call itself (timed, and with a traceparent line put into a request head when
 * propagation is on), with its result in *ret and errno as it left it. */
RT_API int rt_on_send(int fd, const rt_send_t *s, ssize_t *ret);
/* Whether the service has opened a connection the shim follows: until it has, no
 * write can be on one, and the write interposers skip rt_on_send (its argument block
 * and its call), so a server that calls nothing out pays one load. Set for good. */
extern RT_API _Atomic int rt_outbound_opened;
static inline int rt_outbound_any(void)
{
	return atomic_load_explicit(&rt_outbound_opened, memory_order_relaxed);
}

/* SIGPROF (sample/sigprof_owner.c). The service is about to set SIGPROF's disposition to handler
 * (sa_handler's value: a function, SIG_IGN or SIG_DFL). A handler or SIG_IGN makes the
 * shim step out of CPU profiling first: when this returns, none of our sources runs
 * and none of their ticks is still queued, so the kernel may be told. Returns 1 when
 * the call must not reach the kernel: SIG_DFL while our handler stands in for the
 * default the service sees (the interposer then only reads the old action). */
RT_API int rt_on_sigprof_set(void (*handler)(int));
/* *old is SIGPROF's previous action as the kernel had it: if it is ours, it becomes the
 * action the service would have seen without the shim. */
RT_API void rt_on_sigprof_old(struct sigaction *old);
/* ITIMER_PROF is about to be armed: the service counts on SIGPROF; we step out. */
RT_API void rt_on_prof_itimer(void);

/* Hand-offs between threads (track/handoff.h). obj (a sem_t or pthread_cond_t) was
 * initialised; posted or signalled (may be in a signal handler: sem_post is async-signal-safe);
 * a wait on it is about to begin; it ended (woken: it returned because of a post,
 * not a timeout or an error). */
RT_API void rt_on_sync_init(const void *obj);
RT_API void rt_on_wake(const void *obj);
RT_API void rt_on_wait_begin(const void *obj);
RT_API void rt_on_wait_end(const void *obj, int woken);

/* The service is about to change its user ids (emit/dir_owner.c): call is which of
 * setuid (r = e = s = the uid), setreuid (s unused) or setresuid was made, with the
 * ids it asked for, (uid_t)-1 meaning unchanged. Called before the real call, while
 * a process started as root is still root: if the call drops root for good, the
 * profile directory is handed to the new user now, since afterwards nobody could.
 * rt_on_uid_changed() follows a call that succeeded. Neither holds a lock when it
 * returns. */
enum { RT_SETUID, RT_SETREUID, RT_SETRESUID };
RT_API void rt_on_uid_change(int call, uid_t r, uid_t e, uid_t s);
RT_API void rt_on_uid_changed(void);

/* dl_iterate_phdr(cb, data) was called (sample/unwind.c). Returns 0 when the interposer
 * must forward it; 1 when this handled it and *rc is the result: called from one of
 * our signal handlers' stack walks, which must never wait for the loader's lock. */
struct dl_phdr_info;
RT_API int rt_on_dl_iterate_phdr(int (*real)(int (*)(struct dl_phdr_info *, size_t, void *), void *),
				 int (*cb)(struct dl_phdr_info *, size_t, void *), void *data, int *rc);

#endif
