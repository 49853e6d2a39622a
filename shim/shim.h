/* shim.h: what the interposers share: the table of real libc functions and the
 * errno-preserving shape every interposer follows. Policy lives in runtime/ (rt.h). */
#ifndef SHIM_H
#define SHIM_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../runtime/rt.h"

#define SHIM_EXPORT __attribute__((visibility("default")))

/* The real functions, found with dlsym(RTLD_NEXT) (shim_real.c). Tests may replace an
 * entry to inject faults. Every pointer is always callable. */
struct shim_real {
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
};

extern struct shim_real shim_real;
extern int shim_real_ready;

/* Fills shim_real once; safe to call from any thread, before main, repeatedly. */
void shim_real_resolve(void);

/* The real function `name`. Entries start as trampolines that resolve the table on
 * first use, so an interposer may run from another library's constructor, before ours. */
#define REAL(name) (shim_real.name)

#endif
