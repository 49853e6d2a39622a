/* t.h: a tiny TAP harness for the unit tests (header-only).
 * Exit codes follow the automake protocol: 0 pass, 1 fail, 77 skip, 99 hard error.
 * A check that cannot run here is reported with skip(), not ok(1, ...): TAP's
 * "ok N - desc # SKIP reason", counted apart from the passes. A file whose every
 * check was skipped exits 77 (tests/run.sh counts it as skipped); one with some
 * checks run and none failed exits 0. */
#ifndef OTSHIM_T_H
#define OTSHIM_T_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int t_run, t_failed, t_skipped;

static inline int t_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	t_run++;
	if (!cond)
		t_failed++;
	printf("%sok %d - ", cond ? "" : "not ", t_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) t_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name)                                                          \
	do {                                                                             \
		long long g_ = (long long)(got), w_ = (long long)(want);                 \
		if (!ok(g_ == w_, "%s", name))                                           \
			printf("#   got %lld, want %lld\n", g_, w_);                        \
	} while (0)
#define is_str(got, want, name)                                                          \
	do {                                                                             \
		const char *g_ = (got), *w_ = (want);                                    \
		if (!ok(g_ && w_ && strcmp(g_, w_) == 0, "%s", name))                    \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)
/* One check that is not run: desc names it, as ok() would; why (printf-style) says
 * why not. Numbered like any other check; counted as skipped, never as passed. */
static inline void t_skip(const char *desc, const char *why_fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void t_skip(const char *desc, const char *why_fmt, ...)
{
	va_list ap;
	t_run++;
	t_skipped++;
	printf("ok %d - %s # SKIP ", t_run, desc);
	va_start(ap, why_fmt);
	vprintf(why_fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
#define skip(desc, ...) t_skip(desc, __VA_ARGS__)

#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"))

static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(77);
}

static inline int done_testing(void)
{
	printf("1..%d\n", t_run);
	if (t_skipped)
		printf("# %d of %d skipped\n", t_skipped, t_run);
	if (t_failed) {
		printf("# %d of %d failed\n", t_failed, t_run);
		return 1;
	}
	return t_run > 0 && t_skipped == t_run ? 77 : 0;
}
/* ---- helpers for tests that read files and run tools ---- */

/* All of f, malloc'd and NUL-terminated, its length in *len; NULL when out of memory. */
static inline char *t_slurp(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0, got;
	char *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	if (buf)
		buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* Runs cmd with the shell; returns its standard output (malloc'd, NUL-terminated) and
 * its wait status in *status; NULL when it did not run. */
static inline char *t_command(const char *cmd, int *status)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	char *out = t_slurp(f, NULL);
	*status = pclose(f);
	return out;
}

/* Whether the shell finds the command name. */
static inline int t_have(const char *name)
{
	char cmd[128];
	int st;
	snprintf(cmd, sizeof cmd, "command -v %s 2>/dev/null", name);
	char *out = t_command(cmd, &st);
	int yes = out && out[0] && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	free(out);
	return yes;
}

/* The whole file (malloc'd, NUL-terminated) and its length in *len; NULL when it
 * cannot be read. */
static inline char *t_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = t_slurp(f, len);
	fclose(f);
	return buf;
}

#endif
