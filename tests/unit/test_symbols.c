/* test_symbols.c: the shared symboliser names this program's functions and lines and a
 * C library function; it is kept while in use and let go, its memory given back, once
 * idle a few seconds; reopened on the next use, it names them all the same. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/stats.h"
#include "profile/symbols.h"
#include "t.h"

#define SECOND 1000000000ull

/* Its return address: a point in the caller, on the line of the call. */
__attribute__((noinline)) static uintptr_t return_address(void)
{
	uintptr_t pc = (uintptr_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
	return pc;
}

static long anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char l[256];
	long v = -1;
	while (f && fgets(l, sizeof l, f))
		if (strncmp(l, "RssAnon:", 8) == 0)
			v = atol(l + 8);
	if (f)
		fclose(f);
	return v;
}

/* Names both addresses; 1 when both are right. (A file name lasts until the next
 * lookup: each is checked before it.) */
static int names_all(rt_symbols_t *s, uintptr_t own, int own_line, uintptr_t libc)
{
	rt_symbol_t a, b;
	if (!s || rt_symbols_lookup(s, own, &a) != 0)
		return 0;
	int own_ok = a.function && strcmp(a.function, "main") == 0 && a.file &&
		     strstr(a.file, "test_symbols.c") && a.line == own_line;
	return own_ok && rt_symbols_lookup(s, libc, &b) == 0 && b.function && strstr(b.function, "getpid") &&
	       b.module && strstr(b.module, "libc");
}

int main(void)
{
	uintptr_t own = return_address() - 1; /* inside main, on the call's line */
	int own_line = __LINE__ - 1;
	uintptr_t libc = (uintptr_t)&getpid + 1; /* one no sanitizer intercepts */

	rt_symbols_t *s = rt_symbols_acquire();
	ok(names_all(s, own, own_line, libc), "main named with its file and line, getpid in the C library");
	rt_symbol_t x;
	if (s && rt_symbols_lookup(s, own, &x) == 0)
		diag("%s at %s:%d (line %d expected)", x.function, x.file ? x.file : "?", x.line, own_line);
	rt_symbols_release();
	is_int(rt_stat_get(RT_STAT_SYMBOLS_LOADED), 1, "opened once");
	long long held = rt_symbols_kb();
	long anon_held = anon_kb();

	/* Kept while profiles keep coming. */
	rt_symbols_let_go_if_idle(rt_mono_ns() + SECOND);
	rt_symbols_t *again = rt_symbols_acquire();
	ok(again == s && rt_stat_get(RT_STAT_SYMBOLS_LOADED) == 1, "used again within a second: the same instance");

	/* Not let go while another user holds it, however idle. */
	rt_symbols_let_go_if_idle(rt_mono_ns() + 60 * SECOND);
	ok(rt_symbols_kb() == held && names_all(again, own, own_line, libc),
	   "held by a user: not let go, still names");
	rt_symbols_release();

	/* Idle past the keep time: let go, its memory given back. */
	rt_symbols_let_go_if_idle(rt_mono_ns() + 6 * SECOND);
	long long left = rt_symbols_kb();
	long anon_left = anon_kb();
	diag("symboliser %lld KiB held, %lld KiB after it was let go; anonymous RSS %ld -> %ld KiB",
	     held, left, anon_held, anon_left);
	if (held <= 0) {
		skip("its memory given back", "the symboliser's memory is not counted here (not jemalloc's malloc: %lld)",
		     held);
	} else {
		ok(left == 0, "idle 6 s: let go, it reports holding nothing (%lld KiB)", left);
		ok(anon_held - anon_left >= held * 8 / 10,
		   "and the resident set down by at least 80 %% of that (%ld KiB)", anon_held - anon_left);
	}

	/* The next use reopens it and names the same. */
	s = rt_symbols_acquire();
	ok(names_all(s, own, own_line, libc), "the next use reopens it: the same names and line");
	is_int(rt_stat_get(RT_STAT_SYMBOLS_LOADED), 2, "counted as a second load");
	rt_symbols_release();
	return done_testing();
}
