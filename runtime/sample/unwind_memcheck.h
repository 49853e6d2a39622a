/* unwind_memcheck.h: libunwind's memory checks answered without a file descriptor.
 * libunwind 1.6 (built, as distributions do, with conservative checks) tests that each
 * page it reads while unwinding is readable by writing a byte of it into a pipe it
 * keeps open: read(pipe[0], 1 byte), then syscall(SYS_write, pipe[1], addr, 1). A
 * service that closes every descriptor and opens new ones on those numbers would have
 * its own files drained, written into and closed (libunwind issues 274 and 291). We
 * redirect those calls of libunwind's alone (its own GOT slots for read, syscall,
 * pipe2, mincore and msync) to stubs here: the check becomes process_vm_readv of the
 * byte from our own pid, which fails with EFAULT on unmapped or unreadable memory,
 * and libunwind opens no pipe. The stack walking itself stays libunwind's (sample/unwind.c).
 * Context: install in normal context; the stubs run in signal context. */
#ifndef RT_UNWIND_MEMCHECK_H
#define RT_UNWIND_MEMCHECK_H

#include <stdint.h>

enum {
	RT_UNWIND_MEMCHECK_OFF = 0,     /* not installed (libunwind's own pipe is in use) */
	RT_UNWIND_MEMCHECK_VMREAD = 1,  /* checks are process_vm_readv of our own memory */
	RT_UNWIND_MEMCHECK_REFUSE = 2,  /* process_vm_readv refused (seccomp): every check fails,
				  * stacks stop where libunwind must check memory */
};

/* Normal context, before libunwind's first use if possible; idempotent. Returns the
 * mode in use (RT_UNWIND_MEMCHECK_*). */
int rt_unwind_memcheck_install(void);
/* The same redirection in another libunwind object, the one holding function fn (the
 * generic library sample/unwind_regs.c uses beside the local-only one): installs first
 * if need be. Normal context, before that object's first cursor; idempotent. 0, or -1
 * when its calls were not found (or the checks are not ours at all). */
int rt_unwind_memcheck_cover(const void *fn);
/* The mode in use. Any context. */
int rt_unwind_memcheck_mode(void);
/* 1 if the byte at addr is readable by this process, 0 if not. Signal-safe; touches
 * no descriptor. */
int rt_unwind_memcheck_readable(uintptr_t addr);
/* In the child after fork: the checks must read the child's memory, not the parent's. */
void rt_unwind_memcheck_fork_child(void);

#endif
