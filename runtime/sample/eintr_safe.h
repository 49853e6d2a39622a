/* eintr_safe.h: may a thread be sent a signal without making a call of the service fail
 * with EINTR? Our handlers use SA_RESTART, but signal(7) ("Interruption of system calls
 * and library functions by signal handlers") lists calls the kernel never restarts
 * (poll, epoll_wait, select, nanosleep, clock_nanosleep, sigtimedwait, a timed futex
 * wait, ...) and socket calls it does not restart once a timeout is set on the socket.
 * A thread's /proc/self/task/<tid>/syscall says what it is doing right now; the
 * thread-stack capture (sample/thread_capture.c) signals only threads that are running, or
 * asleep in one of the few calls below that SA_RESTART restarts for sure:
 *   futex FUTEX_WAIT / FUTEX_WAIT_BITSET without a timeout (pthread mutexes, condition
 *     variables and joins without a deadline), wait4, waitid, flock;
 *   read, readv, pread64, preadv, accept, accept4, recvfrom, recvmsg on a descriptor
 *     that is not a socket with SO_RCVTIMEO set;
 *   write, writev, pwrite64, sendto, sendmsg on one that is not a socket with
 *     SO_SNDTIMEO set.
 * Everything else is reported as not safe, and so is a file that cannot be read.
 * Context: the capturing thread (normal context); nothing here allocates. The parser
 * and the judgement are pure, for the unit test (tests/unit/test_eintr_safe.c). */
#ifndef RT_EINTR_SAFE_H
#define RT_EINTR_SAFE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	RT_EINTR_SAFE_RUNNING = 0, /* "running": on a CPU right now */
	RT_EINTR_SAFE_USER,        /* "-1 sp pc": off a CPU, but not in a system call */
	RT_EINTR_SAFE_SYSCALL,     /* "nr a1 .. a6 sp pc": asleep (or about to be) in call nr */
};

typedef struct rt_eintr_safe_state {
	int kind;               /* RT_EINTR_SAFE_* */
	long nr;
	uint64_t args[6];
	uintptr_t sp, pc;       /* user stack pointer and the pc the call returns to */
} rt_eintr_safe_state_t;

/* Parses the text of a syscall file (len bytes, need not be NUL-terminated). 0, or -1
 * when it is not in one of the three forms. */
int rt_eintr_safe_parse(const char *buf, size_t len, rt_eintr_safe_state_t *st);

/* Whether a socket timeout on fd would stop the kernel restarting a call on it:
 * which is 0 for the receive side, 1 for the send side. Returns 0 when fd is not a
 * socket or has no such timeout, 1 when it has one or cannot be told. */
typedef int (*rt_eintr_safe_timeout_fn)(int fd, int which);
int rt_eintr_safe_sock_timeout(int fd, int which);

/* 1 when a signal handled with SA_RESTART cannot make the thread's current call fail
 * with EINTR (running, off a CPU in user code, or in a call from the list above). */
int rt_eintr_safe_safe(const rt_eintr_safe_state_t *st, rt_eintr_safe_timeout_fn timeout);

/* Reads /proc/self/task/<tid>/syscall (open, read, close: the descriptor lives for
 * these three calls only) into st. 0, or -1 when it cannot be read or parsed. */
int rt_eintr_safe_probe(pid_t tid, rt_eintr_safe_state_t *st);

#endif
