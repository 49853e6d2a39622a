/* guard.h: the reentrancy guard. A host thread inside the runtime has rt_tls_depth set:
 * a call the runtime (or a library it calls) makes meanwhile reaches an interposer,
 * which must then forward it untouched rather than report it again. The shim's own
 * threads set it for good (rt_tls_mark_internal): they never report events. */
#ifndef RT_GUARD_H
#define RT_GUARD_H

extern __thread int rt_tls_depth __attribute__((tls_model("initial-exec")));

/* Returns 0 and marks the thread busy, or -1 when the thread is already inside the
 * runtime (then the caller must forward and return). */
static inline int rt_tls_enter(void)
{
	if (rt_tls_depth)
		return -1;
	rt_tls_depth = 1;
	return 0;
}
static inline void rt_tls_leave(void) { rt_tls_depth = 0; }
/* Our own background threads call this once. */
static inline void rt_tls_mark_internal(void) { rt_tls_depth = 1; }

#endif
