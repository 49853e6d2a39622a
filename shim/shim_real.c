/* shim_real.c: the table of real libc functions (SQLite's aSyscall idea). Resolved with
 * dlsym(RTLD_NEXT) once, on first use or from our constructor, whichever comes first.
 * A symbol that cannot be found falls back to the raw system call, so an interposer
 * never calls through NULL and never calls itself. */
#include "shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

struct shim_real shim_real;
int shim_real_ready;

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

/* dlsym may set dlerror state and, in some libcs, errno: neither may leak to the host. */
static void *find(const char *name, void *fallback)
{
	void *p = dlsym(RTLD_NEXT, name);
	return p ? p : fallback;
}

#define RESOLVE(name) \
	__atomic_store_n((void **)&shim_real.name, find(#name, (void *)sys_##name), __ATOMIC_RELAXED)

void shim_real_resolve(void)
{
	int saved = errno;
	if (__atomic_load_n(&shim_real_ready, __ATOMIC_ACQUIRE)) {
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
	__atomic_store_n((void **)&shim_real.sendfile64, find("sendfile64", (void *)sys_sendfile),
			 __ATOMIC_RELAXED);
	RESOLVE(close);
	__atomic_store_n(&shim_real_ready, 1, __ATOMIC_RELEASE);
	errno = saved;
}

/* Resolve before anything else of ours runs, when we can. */
__attribute__((constructor(101))) static void shim_real_ctor(void)
{
	shim_real_resolve();
}
