/* libc.h: the one path to the real libc functions, shared by the interposers and the
 * runtime. The shim defines read, write, accept4, ... itself, so a plain call to one of
 * them from inside the library lands in our own interposer; REAL(name) calls the next
 * definition in link order (normally glibc's) instead.
 *
 * The runtime uses REAL() for its own I/O (files, /proc, the endpoint's sockets); the
 * calls of libunwind's that sample/unwind_memcheck.c passes on keep their public names,
 * as libunwind made them.
 * It calls three families by their public names on purpose, inside the reentrancy
 * guard, so that whoever owns them in the process sees the call:
 *   - malloc and free: a block a library allocated (libdw, libcurl, getline) must go
 *     back to the allocator that made it, and under ASan or TSan that is the
 *     sanitizer's, not ours;
 *   - pthread_create, close, fclose, sigaction and dl_iterate_phdr: sanitizers track
 *     threads and descriptors, defer signal handlers and walk the loaded objects
 *     through their interceptors (TSan reports a reused descriptor as a race when a
 *     close bypasses it); fclose and close also pass the owned-descriptor table.
 * The interposers forward such calls untouched while the guard is held. */
#ifndef RT_LIBC_H
#define RT_LIBC_H

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct dl_phdr_info;

/* The real functions, found with dlsym(RTLD_NEXT) (libc.c). Tests may replace an
 * entry to inject faults. Every pointer is always callable. */
struct rt_libc {
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*sendfile64)(int, int, off_t *, size_t);
	int (*close)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	int (*fclose)(FILE *);
	int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	sighandler_t (*signal)(int, sighandler_t);
	sighandler_t (*bsd_signal)(int, sighandler_t);
	sighandler_t (*sysv_signal)(int, sighandler_t);
	sighandler_t (*__sysv_signal)(int, sighandler_t);
	int (*setitimer)(__itimer_which_t, const struct itimerval *, struct itimerval *);
	int (*dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
	int (*pthread_cond_init)(pthread_cond_t *, const pthread_condattr_t *);
	int (*sem_init)(sem_t *, int, unsigned int);
	int (*pthread_cond_signal)(pthread_cond_t *);
	int (*pthread_cond_broadcast)(pthread_cond_t *);
	int (*pthread_cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*pthread_cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*pthread_cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
				      const struct timespec *);
	int (*sem_post)(sem_t *);
	int (*sem_wait)(sem_t *);
	int (*sem_trywait)(sem_t *);
	int (*sem_timedwait)(sem_t *, const struct timespec *);
	int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
	int (*setuid)(uid_t);
	int (*setreuid)(uid_t, uid_t);
	int (*setresuid)(uid_t, uid_t, uid_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*nanosleep)(const struct timespec *, struct timespec *);
	int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
	unsigned int (*sleep)(unsigned int);
	int (*usleep)(useconds_t);
	int (*pthread_mutex_lock)(pthread_mutex_t *);
	/* Not interposed: called by the pthread_mutex_lock interposer, which must reach
	 * libc's own (a sanitizer's interceptor in between would count the lock twice). */
	int (*pthread_mutex_trylock)(pthread_mutex_t *);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
};

extern struct rt_libc rt_libc;
extern int rt_libc_ready;

/* Fills rt_libc once; safe to call from any thread, before main, repeatedly. */
void rt_libc_resolve(void);

/* The real function `name`. Entries start as trampolines that resolve the table on
 * first use, so an interposer may run from another library's constructor, before ours. */
#define REAL(name) (rt_libc.name)

#endif
