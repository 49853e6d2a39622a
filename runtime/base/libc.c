/* libc.c: the table of real libc functions (SQLite's aSyscall idea). Resolved with
 * dlsym(RTLD_NEXT) once, on first use or from our constructor, whichever comes first.
 * A symbol that cannot be found falls back to the raw system call, so an interposer
 * never calls through NULL and never calls itself. */
#include "base/libc.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

int rt_libc_ready;

/* ---- raw-syscall fallbacks ---- */

static int sys_accept(int fd, struct sockaddr *a, socklen_t *l) { return (int)syscall(SYS_accept4, fd, a, l, 0); }
static int sys_accept4(int fd, struct sockaddr *a, socklen_t *l, int f) { return (int)syscall(SYS_accept4, fd, a, l, f); }
static ssize_t sys_read(int fd, void *b, size_t n) { return syscall(SYS_read, fd, b, n); }
static ssize_t sys_readv(int fd, const struct iovec *v, int c) { return syscall(SYS_readv, fd, v, c); }
static ssize_t sys_recv(int fd, void *b, size_t n, int f) { return syscall(SYS_recvfrom, fd, b, n, f, NULL, NULL); }
static ssize_t sys_recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) { return syscall(SYS_recvfrom, fd, b, n, f, a, l); }
static ssize_t sys_recvmsg(int fd, struct msghdr *m, int f) { return syscall(SYS_recvmsg, fd, m, f); }
static ssize_t sys_write(int fd, const void *b, size_t n) { return syscall(SYS_write, fd, b, n); }
static ssize_t sys_writev(int fd, const struct iovec *v, int c) { return syscall(SYS_writev, fd, v, c); }
static ssize_t sys_send(int fd, const void *b, size_t n, int f) { return syscall(SYS_sendto, fd, b, n, f, NULL, 0); }
static ssize_t sys_sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { return syscall(SYS_sendto, fd, b, n, f, a, l); }
static ssize_t sys_sendmsg(int fd, const struct msghdr *m, int f) { return syscall(SYS_sendmsg, fd, m, f); }
static ssize_t sys_sendfile(int o, int i, off_t *off, size_t n) { return syscall(SYS_sendfile, o, i, off, n); }
static int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
static int sys_dup2(int o, int n) { return (int)syscall(SYS_dup2, o, n); }
static int sys_dup3(int o, int n, int f) { return (int)syscall(SYS_dup3, o, n, f); }
static int sys_close_range(unsigned int a, unsigned int b, int f) { return (int)syscall(SYS_close_range, a, b, f); }
static void sys_closefrom(int fd) { syscall(SYS_close_range, (unsigned int)fd, ~0u, 0); }
/* A stream can only be closed by the libc that made it. */
static int sys_fclose(FILE *f)
{
	(void)f;
	errno = ENOSYS;
	return EOF;
}
/* No system call makes a pthread: without the real one, creation fails as if out of
 * resources. */
static int sys_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg)
{
	(void)t, (void)a, (void)f, (void)arg;
	return EAGAIN;
}

/* glibc's sigaction supplies the signal-return trampoline the raw call would need, so
 * there is no raw fallback: without the real functions, the calls fail. */
static int sys_sigaction(int s, const struct sigaction *a, struct sigaction *o) { (void)s, (void)a, (void)o; errno = ENOSYS; return -1; }
static sighandler_t sys_signal(int s, sighandler_t h) { (void)s, (void)h; errno = ENOSYS; return SIG_ERR; }
#define sys_bsd_signal sys_signal
#define sys_sysv_signal sys_signal
#define sys___sysv_signal sys_signal
/* The synchronisation calls have no system call of their own to fall back on; glibc
 * always has them, so these only keep every entry callable. */
static int sys_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a) { (void)c, (void)a; return ENOSYS; }
static int sys_sem_init(sem_t *s, int p, unsigned int v) { (void)s, (void)p, (void)v; errno = ENOSYS; return -1; }
static int sys_pthread_cond_signal(pthread_cond_t *c) { (void)c; return ENOSYS; }
static int sys_pthread_cond_broadcast(pthread_cond_t *c) { (void)c; return ENOSYS; }
static int sys_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) { (void)c, (void)m; return ENOSYS; }
static int sys_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t) { (void)c, (void)m, (void)t; return ENOSYS; }
static int sys_pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k, const struct timespec *t) { (void)c, (void)m, (void)k, (void)t; return ENOSYS; }
static int sys_sem_post(sem_t *s) { (void)s; errno = ENOSYS; return -1; }
static int sys_sem_wait(sem_t *s) { (void)s; errno = ENOSYS; return -1; }
static int sys_sem_trywait(sem_t *s) { (void)s; errno = ENOSYS; return -1; }
static int sys_sem_timedwait(sem_t *s, const struct timespec *t) { (void)s, (void)t; errno = ENOSYS; return -1; }
static int sys_sem_clockwait(sem_t *s, clockid_t k, const struct timespec *t) { (void)s, (void)k, (void)t; errno = ENOSYS; return -1; }

/* Without the real one, no object is reported (callers treat that as "nothing found"). */
static int sys_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *d) { (void)cb, (void)d; return 0; }
static int sys_setitimer(__itimer_which_t w, const struct itimerval *n, struct itimerval *o) { return (int)syscall(SYS_setitimer, w, n, o); }
/* The raw system calls would change the calling thread's ids only (glibc makes every
 * thread follow): a process left half root is worse than a failed call. */
static int sys_setuid(uid_t u) { (void)u; errno = ENOSYS; return -1; }
static int sys_setreuid(uid_t r, uid_t e) { (void)r, (void)e; errno = ENOSYS; return -1; }
static int sys_setresuid(uid_t r, uid_t e, uid_t s) { (void)r, (void)e, (void)s; errno = ENOSYS; return -1; }
static int sys_poll(struct pollfd *f, nfds_t n, int t) { return (int)syscall(SYS_ppoll, f, n, t < 0 ? NULL : &(struct timespec){ t / 1000, t % 1000 * 1000000L }, NULL, 8); }
static int sys_ppoll(struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *m) { return (int)syscall(SYS_ppoll, f, n, t, m, 8); }
static int sys_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) { return (int)syscall(SYS_select, n, r, w, e, t); }
static int sys_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m) { (void)n, (void)r, (void)w, (void)e, (void)t, (void)m; errno = ENOSYS; return -1; }
static int sys_epoll_wait(int fd, struct epoll_event *e, int n, int t) { return (int)syscall(SYS_epoll_pwait, fd, e, n, t, NULL, 8); }
static int sys_epoll_pwait(int fd, struct epoll_event *e, int n, int t, const sigset_t *m) { return (int)syscall(SYS_epoll_pwait, fd, e, n, t, m, 8); }
static int sys_nanosleep(const struct timespec *r, struct timespec *rem) { return (int)syscall(SYS_nanosleep, r, rem); }
static int sys_clock_nanosleep(clockid_t c, int f, const struct timespec *r, struct timespec *rem) { long rc = syscall(SYS_clock_nanosleep, c, f, r, rem); return rc < 0 ? errno : 0; }
static unsigned int sys_sleep(unsigned int s) { struct timespec r = { s, 0 }; return syscall(SYS_nanosleep, &r, &r) == 0 ? 0 : (unsigned int)r.tv_sec; }
static int sys_usleep(useconds_t u) { struct timespec r = { u / 1000000, (long)(u % 1000000) * 1000 }; return (int)syscall(SYS_nanosleep, &r, NULL); }
/* No system call locks a mutex: before the table is resolved (another library's
 * constructor, earlier than ours), a lock is a polite spin on trylock. */
static int sys_pthread_mutex_lock(pthread_mutex_t *m)
{
	int rc;
	while ((rc = pthread_mutex_trylock(m)) == EBUSY)
		sched_yield();
	return rc;
}
static int sys_connect(int fd, const struct sockaddr *a, socklen_t l) { return (int)syscall(SYS_connect, fd, a, l); }
static int sys_getsockopt(int fd, int lv, int o, void *v, socklen_t *l) { return (int)syscall(SYS_getsockopt, fd, lv, o, v, l); }

/* ---- first-call trampolines ----
 * The table starts out pointing at these: the first call through an entry resolves
 * the whole table, then calls the real function. Afterwards an interposer pays one
 * load and an indirect call, with no "resolved yet?" test. */

static int boot_accept(int fd, struct sockaddr *a, socklen_t *l) { rt_libc_resolve(); return rt_libc.accept(fd, a, l); }
static int boot_accept4(int fd, struct sockaddr *a, socklen_t *l, int f) { rt_libc_resolve(); return rt_libc.accept4(fd, a, l, f); }
static ssize_t boot_read(int fd, void *b, size_t n) { rt_libc_resolve(); return rt_libc.read(fd, b, n); }
static ssize_t boot_readv(int fd, const struct iovec *v, int c) { rt_libc_resolve(); return rt_libc.readv(fd, v, c); }
static ssize_t boot_recv(int fd, void *b, size_t n, int f) { rt_libc_resolve(); return rt_libc.recv(fd, b, n, f); }
static ssize_t boot_recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) { rt_libc_resolve(); return rt_libc.recvfrom(fd, b, n, f, a, l); }
static ssize_t boot_recvmsg(int fd, struct msghdr *m, int f) { rt_libc_resolve(); return rt_libc.recvmsg(fd, m, f); }
static ssize_t boot_write(int fd, const void *b, size_t n) { rt_libc_resolve(); return rt_libc.write(fd, b, n); }
static ssize_t boot_writev(int fd, const struct iovec *v, int c) { rt_libc_resolve(); return rt_libc.writev(fd, v, c); }
static ssize_t boot_send(int fd, const void *b, size_t n, int f) { rt_libc_resolve(); return rt_libc.send(fd, b, n, f); }
static ssize_t boot_sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { rt_libc_resolve(); return rt_libc.sendto(fd, b, n, f, a, l); }
static ssize_t boot_sendmsg(int fd, const struct msghdr *m, int f) { rt_libc_resolve(); return rt_libc.sendmsg(fd, m, f); }
static ssize_t boot_sendfile(int o, int i, off_t *off, size_t n) { rt_libc_resolve(); return rt_libc.sendfile(o, i, off, n); }
static ssize_t boot_sendfile64(int o, int i, off_t *off, size_t n) { rt_libc_resolve(); return rt_libc.sendfile64(o, i, off, n); }
static int boot_close(int fd) { rt_libc_resolve(); return rt_libc.close(fd); }
static int boot_dup2(int o, int n) { rt_libc_resolve(); return rt_libc.dup2(o, n); }
static int boot_dup3(int o, int n, int f) { rt_libc_resolve(); return rt_libc.dup3(o, n, f); }
static int boot_close_range(unsigned int a, unsigned int b, int f) { rt_libc_resolve(); return rt_libc.close_range(a, b, f); }
static void boot_closefrom(int fd) { rt_libc_resolve(); rt_libc.closefrom(fd); }
static int boot_fclose(FILE *f) { rt_libc_resolve(); return rt_libc.fclose(f); }
static int boot_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg) { rt_libc_resolve(); return rt_libc.pthread_create(t, a, f, arg); }
static int boot_sigaction(int s, const struct sigaction *a, struct sigaction *o) { rt_libc_resolve(); return rt_libc.sigaction(s, a, o); }
static sighandler_t boot_signal(int s, sighandler_t h) { rt_libc_resolve(); return rt_libc.signal(s, h); }
static sighandler_t boot_bsd_signal(int s, sighandler_t h) { rt_libc_resolve(); return rt_libc.bsd_signal(s, h); }
static sighandler_t boot_sysv_signal(int s, sighandler_t h) { rt_libc_resolve(); return rt_libc.sysv_signal(s, h); }
static sighandler_t boot___sysv_signal(int s, sighandler_t h) { rt_libc_resolve(); return rt_libc.__sysv_signal(s, h); }
static int boot_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *d) { rt_libc_resolve(); return rt_libc.dl_iterate_phdr(cb, d); }
static int boot_setitimer(__itimer_which_t w, const struct itimerval *n, struct itimerval *o) { rt_libc_resolve(); return rt_libc.setitimer(w, n, o); }
static int boot_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a) { rt_libc_resolve(); return rt_libc.pthread_cond_init(c, a); }
static int boot_sem_init(sem_t *s, int p, unsigned int v) { rt_libc_resolve(); return rt_libc.sem_init(s, p, v); }
static int boot_pthread_cond_signal(pthread_cond_t *c) { rt_libc_resolve(); return rt_libc.pthread_cond_signal(c); }
static int boot_pthread_cond_broadcast(pthread_cond_t *c) { rt_libc_resolve(); return rt_libc.pthread_cond_broadcast(c); }
static int boot_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) { rt_libc_resolve(); return rt_libc.pthread_cond_wait(c, m); }
static int boot_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t) { rt_libc_resolve(); return rt_libc.pthread_cond_timedwait(c, m, t); }
static int boot_pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k, const struct timespec *t) { rt_libc_resolve(); return rt_libc.pthread_cond_clockwait(c, m, k, t); }
static int boot_sem_post(sem_t *s) { rt_libc_resolve(); return rt_libc.sem_post(s); }
static int boot_sem_wait(sem_t *s) { rt_libc_resolve(); return rt_libc.sem_wait(s); }
static int boot_sem_trywait(sem_t *s) { rt_libc_resolve(); return rt_libc.sem_trywait(s); }
static int boot_sem_timedwait(sem_t *s, const struct timespec *t) { rt_libc_resolve(); return rt_libc.sem_timedwait(s, t); }
static int boot_sem_clockwait(sem_t *s, clockid_t k, const struct timespec *t) { rt_libc_resolve(); return rt_libc.sem_clockwait(s, k, t); }
static int boot_setuid(uid_t u) { rt_libc_resolve(); return rt_libc.setuid(u); }
static int boot_setreuid(uid_t r, uid_t e) { rt_libc_resolve(); return rt_libc.setreuid(r, e); }
static int boot_setresuid(uid_t r, uid_t e, uid_t s) { rt_libc_resolve(); return rt_libc.setresuid(r, e, s); }
static int boot_poll(struct pollfd *f, nfds_t n, int t) { rt_libc_resolve(); return rt_libc.poll(f, n, t); }
static int boot_ppoll(struct pollfd *f, nfds_t n, const struct timespec *t, const sigset_t *m) { rt_libc_resolve(); return rt_libc.ppoll(f, n, t, m); }
static int boot_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) { rt_libc_resolve(); return rt_libc.select(n, r, w, e, t); }
static int boot_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m) { rt_libc_resolve(); return rt_libc.pselect(n, r, w, e, t, m); }
static int boot_epoll_wait(int fd, struct epoll_event *e, int n, int t) { rt_libc_resolve(); return rt_libc.epoll_wait(fd, e, n, t); }
static int boot_epoll_pwait(int fd, struct epoll_event *e, int n, int t, const sigset_t *m) { rt_libc_resolve(); return rt_libc.epoll_pwait(fd, e, n, t, m); }
static int boot_nanosleep(const struct timespec *r, struct timespec *rem) { rt_libc_resolve(); return rt_libc.nanosleep(r, rem); }
static int boot_clock_nanosleep(clockid_t c, int f, const struct timespec *r, struct timespec *rem) { rt_libc_resolve(); return rt_libc.clock_nanosleep(c, f, r, rem); }
static unsigned int boot_sleep(unsigned int s) { rt_libc_resolve(); return rt_libc.sleep(s); }
static int boot_usleep(useconds_t u) { rt_libc_resolve(); return rt_libc.usleep(u); }
static int boot_connect(int fd, const struct sockaddr *a, socklen_t l) { rt_libc_resolve(); return rt_libc.connect(fd, a, l); }
static int boot_getsockopt(int fd, int lv, int o, void *v, socklen_t *l) { rt_libc_resolve(); return rt_libc.getsockopt(fd, lv, o, v, l); }

struct rt_libc rt_libc = {
	boot_accept, boot_accept4, boot_read, boot_readv, boot_recv, boot_recvfrom, boot_recvmsg,
	boot_write, boot_writev, boot_send, boot_sendto, boot_sendmsg, boot_sendfile,
	boot_sendfile64, boot_close, boot_dup2, boot_dup3, boot_close_range, boot_closefrom,
	boot_fclose, boot_pthread_create, boot_sigaction, boot_signal, boot_bsd_signal,
	boot_sysv_signal, boot___sysv_signal, boot_setitimer,
	boot_dl_iterate_phdr,
	boot_pthread_cond_init, boot_sem_init,
	boot_pthread_cond_signal, boot_pthread_cond_broadcast, boot_pthread_cond_wait,
	boot_pthread_cond_timedwait, boot_pthread_cond_clockwait,
	boot_sem_post, boot_sem_wait, boot_sem_trywait, boot_sem_timedwait, boot_sem_clockwait,
	boot_setuid, boot_setreuid, boot_setresuid,
	boot_poll, boot_ppoll, boot_select, boot_pselect, boot_epoll_wait, boot_epoll_pwait,
	boot_nanosleep, boot_clock_nanosleep, boot_sleep, boot_usleep,
	sys_pthread_mutex_lock, /* resolving may itself lock: see sys_pthread_mutex_lock */
	pthread_mutex_trylock,
	boot_connect, boot_getsockopt,
};

/* dlsym may set dlerror state and, in some libcs, errno: neither may leak to the host. */
static void *find(const char *name, void *fallback)
{
	void *p = dlsym(RTLD_NEXT, name);
	return p ? p : fallback;
}

#define RESOLVE(name) \
	__atomic_store_n((void **)&rt_libc.name, find(#name, (void *)sys_##name), __ATOMIC_RELAXED)

void rt_libc_resolve(void)
{
	int saved = errno;
	if (__atomic_load_n(&rt_libc_ready, __ATOMIC_ACQUIRE)) {
		errno = saved;
		return;
	}
	RESOLVE(accept);
	RESOLVE(accept4);
	RESOLVE(read);
	RESOLVE(readv);
	RESOLVE(recv);
	RESOLVE(recvfrom);
	RESOLVE(recvmsg);
	RESOLVE(write);
	RESOLVE(writev);
	RESOLVE(send);
	RESOLVE(sendto);
	RESOLVE(sendmsg);
	RESOLVE(sendfile);
	__atomic_store_n((void **)&rt_libc.sendfile64, find("sendfile64", (void *)sys_sendfile),
			 __ATOMIC_RELAXED);
	RESOLVE(close);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(close_range);
	RESOLVE(closefrom);
	RESOLVE(fclose);
	RESOLVE(pthread_create);
	RESOLVE(sigaction);
	RESOLVE(signal);
	RESOLVE(bsd_signal);
	RESOLVE(sysv_signal);
	RESOLVE(__sysv_signal);
	RESOLVE(setitimer);
	RESOLVE(dl_iterate_phdr);
	RESOLVE(pthread_cond_init);
	RESOLVE(sem_init);
	RESOLVE(pthread_cond_signal);
	RESOLVE(pthread_cond_broadcast);
	RESOLVE(pthread_cond_wait);
	RESOLVE(pthread_cond_timedwait);
	RESOLVE(pthread_cond_clockwait);
	RESOLVE(sem_post);
	RESOLVE(sem_wait);
	RESOLVE(sem_trywait);
	RESOLVE(sem_timedwait);
	RESOLVE(sem_clockwait);
	RESOLVE(setuid);
	RESOLVE(setreuid);
	RESOLVE(setresuid);
	RESOLVE(poll);
	RESOLVE(ppoll);
	RESOLVE(select);
	RESOLVE(pselect);
	RESOLVE(epoll_wait);
	RESOLVE(epoll_pwait);
	RESOLVE(nanosleep);
	RESOLVE(clock_nanosleep);
	RESOLVE(sleep);
	RESOLVE(usleep);
	RESOLVE(pthread_mutex_lock);
	__atomic_store_n((void **)&rt_libc.pthread_mutex_trylock,
			 find("pthread_mutex_trylock", (void *)pthread_mutex_trylock), __ATOMIC_RELAXED);
	RESOLVE(connect);
	RESOLVE(getsockopt);
	__atomic_store_n(&rt_libc_ready, 1, __ATOMIC_RELEASE);
	errno = saved;
}

/* Resolve before anything else of ours runs, when we can. */
__attribute__((constructor(101))) static void rt_libc_ctor(void)
{
	rt_libc_resolve();
}
