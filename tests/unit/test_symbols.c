/* test_symbols.c: the shared symboliser names this program's functions and lines and a
 * C library function; it is kept while in use and let go, its memory given back, once
 * idle a few seconds; reopened on the next use, it names them all the same. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

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

/* ---- the function index against libdwfl's own scan ---- */

typedef struct oracle {
	rt_symbols_t *s;
	long compared, differ;
	int modules;
} oracle_t;

static const char *const checked[] = { "libc.so", "test_symbols", "libdw", "libjemalloc", "libz" };

static int compare_module(Dwfl_Module *m, void **userdata, const char *name, Dwarf_Addr low, void *arg)
{
	(void)userdata;
	oracle_t *o = arg;
	int want = 0;
	for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++)
		want |= strstr(name, checked[i]) != NULL;
	if (!want)
		return DWARF_CB_OK;
	Dwarf_Addr high;
	dwfl_module_info(m, NULL, NULL, &high, NULL, NULL, NULL, NULL);
	o->modules++;
	/* 3,000 addresses spread over the module, odd steps so every alignment comes up. */
	uintptr_t step = (uintptr_t)((high - low) / 3000) | 1;
	for (uintptr_t a = (uintptr_t)low; a < (uintptr_t)high; a += step) {
		GElf_Off off;
		GElf_Sym sym;
		const char *want_fn = dwfl_module_addrinfo(m, a, &off, &sym, NULL, NULL, NULL);
		rt_symbol_t got;
		rt_symbols_lookup(o->s, a, &got);
		int same = want_fn ? got.function && strcmp(got.function, want_fn) == 0 && got.start == a - off
				   : got.function == NULL;
		o->compared++;
		if (!same && o->differ++ < 5)
			diag("%s+%#lx: libdwfl %s+%#lx, index %s (start %#lx)", name, (unsigned long)(a - low),
			     want_fn ? want_fn : "-", (unsigned long)off, got.function ? got.function : "-",
			     (unsigned long)got.start);
	}
	return DWARF_CB_OK;
}

static void against_libdwfl(void)
{
	static char *debuginfo_path;
	static const Dwfl_Callbacks cb = { .find_elf = dwfl_linux_proc_find_elf,
					   .find_debuginfo = dwfl_build_id_find_debuginfo,
					   .debuginfo_path = &debuginfo_path };
	Dwfl *d = dwfl_begin(&cb);
	oracle_t o = { rt_symbols_acquire(), 0, 0, 0 };
	if (!d || !o.s || (dwfl_report_begin(d), dwfl_linux_proc_report(d, getpid())) != 0 ||
	    dwfl_report_end(d, NULL, NULL) != 0) {
		skip("names as libdwfl's own scan gives them", "libdwfl could not read this process");
	} else {
		dwfl_getmodules(d, compare_module, &o, 0);
		/* Labels without a size at a section's edge are where the two may part (in
		 * padding after a section's last byte libdwfl may still name the label). */
		ok(o.modules >= 3 && o.compared >= 9000 && o.differ * 1000 <= o.compared,
		   "%ld addresses in %d modules named as libdwfl's own scan names them (%ld differ, at most 1 in 1,000)",
		   o.compared, o.modules, o.differ);
	}
	rt_symbols_release();
	if (d)
		dwfl_end(d);
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

	against_libdwfl();

	/* The next use reopens it and names the same. */
	s = rt_symbols_acquire();
	ok(names_all(s, own, own_line, libc), "the next use reopens it: the same names and line");
	is_int(rt_stat_get(RT_STAT_SYMBOLS_LOADED), 2, "counted as a second load (and none since)");
	rt_symbols_release();
	return done_testing();
}
