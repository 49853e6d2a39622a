/* symbols.c: address symbolisation with libdw's Dwfl (see profile/symbols.h). Dwfl does
 * the hard parts: finding each module's ELF file and separate debug info, symbol
 * tables (.symtab, else .dynsym) and DWARF line tables. */
#include "profile/symbols.h"

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/alloc.h"
#include "base/alloc_arena.h"
#include "base/clock.h"
#include "base/hex.h"
#include "base/libc.h"
#include "base/owned_fds.h"
#include "base/stats.h"
#include "base/util.h"
#include "profile/fn_index.h"
#include "profile/perfmap.h"

/* A module's functions by address (profile/fn_index.h), made at its first lookup. */
typedef struct mod_fns {
	Dwfl_Module *mod;
	rt_fn_index_t *index; /* NULL: no symbol table, or no memory (libdwfl then) */
} mod_fns_t;

struct rt_symbols {
	Dwfl *dwfl;
	rt_perfmap_t *jit;   /* /tmp/perf-<pid>.map, when the runtime writes one */
	mod_fns_t *mods;
	size_t nmods, capmods;
	char path[4096]; /* the last joined file name */
};

/* DWARF often records file names relative to the compilation directory; pprof -list
 * needs a path it can open. The result lives until the next call. */
static const char *absolute(rt_symbols_t *s, const char *file, const char *comp_dir)
{
	if (file[0] == '/' || !comp_dir || !*comp_dir)
		return file;
	snprintf(s->path, sizeof s->path, "%s/%s", comp_dir, file);
	return s->path;
}

/* ---- finding files: no descriptors kept, no debuginfod ----
 * Dwfl keeps each module's file open for as long as the instance lives, without
 * O_CLOEXEC: some twenty descriptors for a small service, which count against its
 * limit, leak into its exec'd children, and which a service closing every descriptor
 * (a daemon) would close, reuse, and then have closed under it by dwfl_end. So the
 * main files are opened here, mapped by libelf (privately, as libdw itself maps them)
 * and read whole into that mapping (ELF_C_FDREAD: nothing left to read later), and
 * their descriptors closed at once: libdw gets the Elf and no descriptor. A separate
 * debug file can only be handed over as a descriptor: it is registered as the shim's
 * (base/owned_fds.c), so the service cannot close it, and libdw's close at dwfl_end,
 * which comes through our close() on the shim's own thread, unregisters it.
 * The last resort of dwfl_standard_find_debuginfo, debuginfod, would load
 * libdebuginfod, libcurl and some thirty libraries into the service, leave a socket
 * pair open across its exec()s, and with DEBUGINFOD_URLS set download debug info over
 * the network from inside it. So debug files are looked up locally only, as the
 * standard callback does before that: by build id, then by the .gnu_debuglink name
 * beside the file, in its .debug/ and under /usr/lib/debug. A dwz alternate file is
 * found by build id only (and libdw opens it itself: not registered). */

static char *debuginfo_path;

/* A file libelf cannot take whole (not plain ELF: libdw knows compressed images):
 * handed to libdw as a descriptor, registered like a debug file. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	Dwarf_Addr start, end;
	if (strcmp(name, "[vdso]") == 0) { /* our own mapping of it (see report_vdso) */
		dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
		*elfp = elf_memory((char *)(uintptr_t)start, (size_t)(end - start));
		return -1;
	}
	int fd = RT_OWNED_FD_OPEN(dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp));
	if (fd < 0 || *elfp)
		return rt_owned_fd_lend(fd);
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL);
	if (e && elf_kind(e) == ELF_K_ELF && elf_cntl(e, ELF_C_FDREAD) == 0) {
		*elfp = e;
		rt_owned_fd_close(fd);
		return -1;
	}
	elf_end(e);
	return rt_owned_fd_lend(fd);
}

/* Is fd the debug file of mod: the same build id, or without one the debuglink's CRC? */
static int debug_file_matches(Dwfl_Module *mod, int fd, GElf_Word crc)
{
	const unsigned char *want;
	const void *got;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &want, &vaddr);
	if (n > 0) {
		Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		ssize_t k = e ? dwelf_elf_gnu_build_id(e, &got) : -1;
		int same = k == n && memcmp(got, want, (size_t)n) == 0;
		elf_end(e);
		return same;
	}
	unsigned char buf[65536];
	uLong sum = crc32(0, Z_NULL, 0);
	off_t off = 0;
	ssize_t r;
	while ((r = pread(fd, buf, sizeof buf, off)) > 0) {
		sum = crc32(sum, buf, (uInt)r);
		off += r;
	}
	return r == 0 && (GElf_Word)sum == crc;
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink,
			  GElf_Word crc, char **debuginfo_file_name)
{
	static const char *const where[] = { "%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s" };
	int fd = RT_OWNED_FD_OPEN(dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
							   debuglink, crc, debuginfo_file_name));
	if (fd >= 0)
		return rt_owned_fd_lend(fd);
	const char *slash = file_name ? strrchr(file_name, '/') : NULL;
	struct stat main_st, st;
	if (!slash || file_name[0] != '/' || !debuglink || strchr(debuglink, '/') ||
	    stat(file_name, &main_st) != 0)
		return -1;
	for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
		char path[4096];
		snprintf(path, sizeof path, where[i], (int)(slash - file_name), file_name, debuglink);
		if ((fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_CLOEXEC))) < 0)
			continue;
		/* Not the main file by another name, and really its debug file. */
		if (fstat(fd, &st) == 0 && (st.st_ino != main_st.st_ino || st.st_dev != main_st.st_dev) &&
		    debug_file_matches(mod, fd, crc) && (*debuginfo_file_name = strdup(path)))
			return rt_owned_fd_lend(fd);
		rt_owned_fd_close(fd);
	}
	errno = 0;
	return -1;
}

static const Dwfl_Callbacks callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* ---- the modules: /proc/self/maps through memory ----
 * dwfl_linux_proc_report reads the maps through a stream of its own: a descriptor the
 * service could close and reuse while libdw reads, which libdw's fclose would then
 * close. So the file is read here (on a registered descriptor), the modules reported
 * from a copy in memory, and the vDSO, which only the auxiliary vector names, reported
 * from our own mapping of it (find_elf reads it there, not from /proc/self/mem). */

static char *read_maps(size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	int fd = RT_OWNED_FD_OPEN(open("/proc/self/maps", O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return NULL;
	for (ssize_t k = 1; k > 0 && rt_owned_fd_usable(fd);) {
		if (*len + 4096 > cap && rt_grow((void **)&buf, &cap, *len + 65536, 1) != 0)
			break;
		if ((k = REAL(read)(fd, buf + *len, cap - *len)) > 0)
			*len += (size_t)k;
	}
	rt_owned_fd_close(fd);
	return buf;
}

static void report_vdso(Dwfl *dwfl, const char *maps, size_t len)
{
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	for (const char *l = maps; base && l < maps + len;) {
		const char *nl = memchr(l, '\n', (size_t)(maps + len - l));
		size_t n = nl ? (size_t)(nl - l) : (size_t)(maps + len - l);
		unsigned long start, end;
		if (n > 7 && memcmp(l + n - 6, "[vdso]", 6) == 0 && sscanf(l, "%lx-%lx", &start, &end) == 2 &&
		    start == base) {
			dwfl_report_module(dwfl, "[vdso]", start, end);
			return;
		}
		l += n + 1;
	}
}

static int report_modules(Dwfl *dwfl)
{
	size_t len;
	char *maps = read_maps(&len);
	FILE *f = maps && len ? fmemopen(maps, len, "r") : NULL;
	int rc = f ? dwfl_linux_proc_maps_report(dwfl, f) : -1;
	if (f)
		fclose(f);
	if (rc == 0)
		report_vdso(dwfl, maps, len);
	free(maps);
	return rc;
}

/* libdw's memory (and the JIT map's) comes from the runtime's bulk arena, so that it
 * is counted and given back whole when the instance is let go (base/alloc_arena.h).
 * Every entry point that may make libdw allocate runs inside it. */

static rt_symbols_t *open_modules(void)
{
	rt_symbols_t *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->dwfl = dwfl_begin(&callbacks);
	if (!s->dwfl)
		goto fail;
	dwfl_report_begin(s->dwfl);
	if (report_modules(s->dwfl) != 0)
		goto fail;
	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0)
		goto fail;
	s->jit = rt_perfmap_open();
	return s;
fail:
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
	return NULL;
}

rt_symbols_t *rt_symbols_open(void)
{
	rt_alloc_arena_scope_t scope;
	rt_alloc_arena_enter(&scope);
	rt_symbols_t *s = open_modules();
	rt_alloc_arena_leave(&scope);
	return s;
}

void rt_symbols_close(rt_symbols_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nmods; i++)
		rt_fn_index_free(s->mods[i].index);
	free(s->mods);
	dwfl_end(s->dwfl);
	rt_perfmap_close(s->jit);
	free(s);
}

/* The module's function index, made on its first lookup; NULL when it could not be. */
static rt_fn_index_t *index_of(rt_symbols_t *s, Dwfl_Module *m)
{
	for (size_t i = 0; i < s->nmods; i++)
		if (s->mods[i].mod == m)
			return s->mods[i].index;
	if (s->nmods == s->capmods && rt_grow((void **)&s->mods, &s->capmods, s->nmods + 1, sizeof *s->mods) != 0)
		return NULL;
	mod_fns_t *e = &s->mods[s->nmods++];
	e->mod = m;
	e->index = rt_fn_index_build(m);
	return e->index;
}

static const char *function_of(rt_symbols_t *s, Dwfl_Module *m, uintptr_t addr, uintptr_t *start)
{
	rt_fn_index_t *ix = index_of(s, m);
	if (ix)
		return rt_fn_index_find(ix, addr, start);
	/* No index (no symbol table, or no memory): libdwfl's own scan. */
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(m, (GElf_Addr)addr, &off, &sym, NULL, NULL, NULL);
	if (name)
		*start = addr - (uintptr_t)off;
	return name;
}

static int lookup(rt_symbols_t *s, uintptr_t addr, rt_symbol_t *out)
{
	memset(out, 0, sizeof *out);
	Dwfl_Module *m = dwfl_addrmodule(s->dwfl, (Dwarf_Addr)addr);
	if (!m) {
		/* Not in any file: JIT code, named by the runtime's perf map if any. */
		out->function = rt_perfmap_lookup(s->jit, addr);
		return -1;
	}
	out->module = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	out->function = function_of(s, m, addr, &out->start);
	if (!out->function) /* JIT code in a region that looks like a module (V8's) */
		out->function = rt_perfmap_lookup(s->jit, addr);
	Dwfl_Line *line = dwfl_module_getsrc(m, (Dwarf_Addr)addr);
	if (line) {
		int lineno = 0;
		const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
		if (file && lineno > 0) {
			out->file = absolute(s, file, dwfl_line_comp_dir(line));
			out->line = lineno;
		}
	}
	return 0;
}

int rt_symbols_lookup(rt_symbols_t *s, uintptr_t addr, rt_symbol_t *out)
{
	rt_alloc_arena_scope_t scope;
	rt_alloc_arena_enter(&scope);
	int rc = lookup(s, addr, out);
	rt_alloc_arena_leave(&scope);
	return rc;
}

static void build_id(rt_symbols_t *s, uintptr_t addr, char *buf, size_t len)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	buf[0] = 0;
	Dwfl_Module *m = dwfl_addrmodule(s->dwfl, (Dwarf_Addr)addr);
	if (!m)
		return;
	GElf_Addr bias;
	(void)dwfl_module_getelf(m, &bias); /* the build id is read with the ELF file */
	int n = dwfl_module_build_id(m, &bits, &vaddr);
	if (n <= 0 || (size_t)n * 2 + 1 > len)
		return;
	rt_hex_encode(bits, (size_t)n, buf);
}

void rt_symbols_build_id(rt_symbols_t *s, uintptr_t addr, char *buf, size_t len)
{
	rt_alloc_arena_scope_t scope;
	rt_alloc_arena_enter(&scope);
	build_id(s, addr, buf, len);
	rt_alloc_arena_leave(&scope);
}

/* ---- the shared instance ----
 * Symbolising reads each module's symbol tables and debug info as its first address
 * is asked for: for a C library whose debug info is installed, some 55 ms and 12 MB
 * (its compressed DWARF sections are decompressed whole). Too much to do for each
 * profile, and too much to keep for a service that is slow once a day. So one instance
 * is shared while profiles keep coming, reopened when the set of mapped executable
 * files changed (the JIT map reread when it grew), and let go with its memory once
 * RT_SYMBOLS_KEEP_NS pass without a use: at most one reload per that time, whatever
 * the rate of slow requests. libdw is not thread-safe: the instance is used under a
 * lock. */

#define RT_SYMBOLS_KEEP_NS (5 * 1000000000ull)

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static rt_symbols_t *shared;
static uint64_t shared_key;
static off_t shared_jit_size;
static uint64_t shared_used_ns; /* when it was last released */
static _Atomic int shared_open;  /* shared is not NULL (read without the lock) */

/* A hash of the file-backed executable mappings: anonymous memory (the allocator's,
 * the JIT's) comes and goes without changing what Dwfl knows. */
static uint64_t modules_key(void)
{
	char line[4608];
	uint64_t h = 1469598103934665603ull;
	FILE *f = rt_owned_fd_fopen("/proc/self/maps");
	if (!f)
		return 0;
	while (rt_owned_fd_fgets(line, sizeof line, f)) {
		char *perm = strchr(line, ' ');
		if (!perm || perm[3] != 'x' || !strchr(line, '/'))
			continue;
		for (const char *c = line; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
	}
	rt_owned_fd_fclose(f);
	return h;
}

static off_t jit_map_size(void)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
	return stat(path, &st) == 0 ? st.st_size : -1;
}

rt_symbols_t *rt_symbols_acquire(void)
{
	pthread_mutex_lock(&shared_mu);
	uint64_t key = modules_key();
	off_t jit = jit_map_size();
	if (!shared || key != shared_key) {
		rt_symbols_close(shared);
		shared = rt_symbols_open();
		atomic_store_explicit(&shared_open, shared != NULL, memory_order_relaxed);
		shared_key = key;
		shared_jit_size = jit;
		if (shared)
			rt_stat_add(RT_STAT_SYMBOLS_LOADED, 1);
	} else if (jit != shared_jit_size) {
		rt_alloc_arena_scope_t scope;
		rt_perfmap_close(shared->jit);
		rt_alloc_arena_enter(&scope);
		shared->jit = rt_perfmap_open();
		rt_alloc_arena_leave(&scope);
		shared_jit_size = jit;
	}
	return shared;
}

void rt_symbols_release(void)
{
	shared_used_ns = rt_mono_ns();
	pthread_mutex_unlock(&shared_mu);
}

void rt_symbols_let_go_if_idle(uint64_t now_ns)
{
	if (pthread_mutex_trylock(&shared_mu) != 0)
		return; /* in use */
	if (shared && now_ns - shared_used_ns >= RT_SYMBOLS_KEEP_NS) {
		rt_symbols_close(shared);
		shared = NULL;
		atomic_store_explicit(&shared_open, 0, memory_order_relaxed);
		rt_alloc_arena_give_back();
	}
	pthread_mutex_unlock(&shared_mu);
}

long long rt_symbols_kb(void)
{
	/* Counting reads every arena's statistics (some 500,000 instructions): only done
	 * while there is something to count. Let go, the arena was given back. */
	if (!atomic_load_explicit(&shared_open, memory_order_relaxed))
		return strcmp(rt_alloc_name(), "jemalloc") == 0 ? 0 : -1;
	return rt_alloc_arena_kb();
}

void rt_symbols_fork_child(void)
{
	/* Another thread may have been inside libdw: start afresh (the old one leaks). */
	pthread_mutex_init(&shared_mu, NULL);
	shared = NULL;
	atomic_store_explicit(&shared_open, 0, memory_order_relaxed);
}
