/* shim_dl.c: dl_iterate_phdr, for one caller only: libunwind walking a stack inside
 * our signal handlers, which must never wait for the loader's lock (rt_unwind.c says
 * why). Every other call is forwarded untouched. */
#include "shim.h"

#include <link.h>

SHIM_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
	int rc;
	if (rt_on_dl_iterate_phdr(REAL(dl_iterate_phdr), cb, data, &rc))
		return rc;
	return REAL(dl_iterate_phdr)(cb, data);
}
