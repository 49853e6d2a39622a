/* guard.c: the reentrancy guard's per-thread depth (see guard.h). */
#include "base/guard.h"

__thread int rt_tls_depth __attribute__((tls_model("initial-exec")));
