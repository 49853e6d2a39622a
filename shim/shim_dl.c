/* shim_dl.c: dl_iterate_phdr, for one caller only: libunwind walking a stack inside
 * our signal handlers, which must never wait for the loader's lock (sample/unwind.c says
 * why). Every other call is forwarded untouched. */
/* Not under ThreadSanitizer or AddressSanitizer: their runtimes take the next library's dl_iterate_phdr, ours,
 * for the real one and call it while they initialise, before instrumented code may
 * run. The sanitizer builds check the shim (tsan.sh, process.sh) without it. */
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#include "shim.h"

#include <link.h>

SHIM_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
	int rc;
	if (rt_on_dl_iterate_phdr(REAL(dl_iterate_phdr), cb, data, &rc))
		return rc;
	return REAL(dl_iterate_phdr)(cb, data);
}

#endif
