/* unwind_regs.h: walking a stack of this process from saved user registers rather than
 * from the calling thread's own context: a stack caught by the kernel (perf's
 * PERF_SAMPLE_REGS_USER and PERF_SAMPLE_STACK_USER: registers plus a copy of the stack's
 * top bytes), or the live stack of another thread of this process that is blocked in a
 * system call (its sp and pc from /proc/self/task/<tid>/syscall), read without
 * signalling it. libunwind's remote interface over our own address space: unwind
 * tables are found in our own mappings as a local walk finds them; every memory read is
 * answered from the copy when it falls in it, else by a checked read of our own memory
 * (process_vm_readv, so an unmapped address ends the walk instead of faulting).
 * x86_64 only: elsewhere rt_unwind_regs returns the pc alone.
 * Context: normal (a worker thread), never a signal handler: it may take libunwind's
 * locks and make system calls. Thread-safe. */
#ifndef RT_UNWIND_REGS_H
#define RT_UNWIND_REGS_H

#include <stddef.h>
#include <stdint.h>

/* Which optional registers an rt_uregs_t holds (ip and sp are always needed). */
enum {
	RT_UREG_BP = 1u << 0,
	RT_UREG_BX = 1u << 1,
	RT_UREG_R12 = 1u << 2,
	RT_UREG_R13 = 1u << 3,
	RT_UREG_R14 = 1u << 4,
	RT_UREG_R15 = 1u << 5,
};

typedef struct rt_uregs {
	uintptr_t ip, sp;                   /* where the thread was; its stack pointer */
	uintptr_t bp, bx, r12, r13, r14, r15; /* callee-saved, valid per `have` */
	unsigned have;                      /* RT_UREG_* */
} rt_uregs_t;

/* Writes regs->ip to pcs[0] and the return addresses of its callers after it,
 * innermost first; returns how many (0 only when max is 0 or ip is 0).
 * stack, stack_len: a copy of the stack's bytes from regs->sp up (what
 * PERF_SAMPLE_STACK_USER gives); reads of the stack beyond it fail, ending the walk.
 * stack NULL: the stack is read live (another thread of this process that stays
 * blocked meanwhile; if it runs on, the walk may be wrong but never faults).
 * Without RT_UREG_BP, the frame pointer is guessed as the innermost frame record above
 * sp (a word pointing a little higher up the stack, then a return address into
 * code): frames whose unwind rule is "CFA = rbp + 16" need it, others ignore it. */
size_t rt_unwind_regs(const rt_uregs_t *regs, const void *stack, size_t stack_len,
		      uintptr_t *pcs, size_t max);

#endif
