/* libnghttp2.c: see libnghttp2.h. dlsym on the library's handle searches that object
 * (then what it depends on), never the program first. */
#include "base/libnghttp2.h"

#include <dlfcn.h>
#include <stdatomic.h>

#include "base/log.h"

#define LIBNGHTTP2_SONAME "libnghttp2.so.14"

struct rt_libnghttp2 rt_nghttp2;
static _Atomic int resolved;

#define STR(x) #x
#define NAME(x) STR(x)

int rt_libnghttp2_resolve(void)
{
	if (atomic_load_explicit(&resolved, memory_order_acquire))
		return 0;
	void *h = dlopen(LIBNGHTTP2_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		rt_log(RT_LOG_WARN, "cannot load %s (%s): HTTP/2 connections will not be tracked",
		       LIBNGHTTP2_SONAME, dlerror());
		return -1;
	}
	struct rt_libnghttp2 t = {
		dlsym(h, "nghttp2_hd_inflate_new2"),
		dlsym(h, "nghttp2_hd_inflate_del"),
		dlsym(h, NAME(RT_NGHTTP2_INFLATE)),
		dlsym(h, "nghttp2_hd_inflate_end_headers"),
		dlsym(h, "nghttp2_hd_inflate_change_table_size"),
	};
	if (!t.inflate_new2 || !t.inflate_del || !t.inflate || !t.inflate_end_headers ||
	    !t.inflate_change_table_size) {
		rt_log(RT_LOG_WARN, "%s lacks an HPACK function: HTTP/2 connections will not be tracked",
		       LIBNGHTTP2_SONAME);
		return -1; /* the handle stays: the library was loaded for us, and is harmless */
	}
	rt_nghttp2 = t;
	atomic_store_explicit(&resolved, 1, memory_order_release);
	return 0;
}

int rt_libnghttp2_ready(void)
{
	return atomic_load_explicit(&resolved, memory_order_acquire);
}
