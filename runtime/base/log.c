/* log.c: stderr diagnostics (see base/log.h). Owns the prefix, the level filter and
 * the rate limit; knows nothing about what is being reported. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/libc.h"

int rt_log_level = RT_LOG_WARN;

static _Atomic long log_budget = 100;     /* lines we may still print */
static _Atomic long log_refill_sec;       /* last second the budget was topped up */

static int log_allowed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	long last = atomic_load_explicit(&log_refill_sec, memory_order_relaxed);
	if (ts.tv_sec != last &&
	    atomic_compare_exchange_strong(&log_refill_sec, &last, (long)ts.tv_sec)) {
		if (atomic_load(&log_budget) < 1)
			atomic_store(&log_budget, 1);
	}
	return atomic_fetch_sub(&log_budget, 1) > 0;
}

void rt_log(int level, const char *fmt, ...)
{
	char buf[1024];
	int saved = errno;
	if (level > rt_log_level || !log_allowed()) {
		errno = saved;
		return;
	}
	int n = snprintf(buf, sizeof buf, "otshim[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof buf - 2)
		len = sizeof buf - 2;
	buf[len++] = '\n';
	ssize_t w = REAL(write)(STDERR_FILENO, buf, len);
	(void)w;
	errno = saved;
}

void rt_log_sigsafe(const char *msg)
{
	char buf[256];
	int saved = errno;
	size_t n = 0;
	const char pre[] = "otshim: ";
	memcpy(buf, pre, sizeof pre - 1);
	n = sizeof pre - 1;
	while (*msg && n < sizeof buf - 1)
		buf[n++] = *msg++;
	buf[n++] = '\n';
	ssize_t w = REAL(write)(STDERR_FILENO, buf, n);
	(void)w;
	errno = saved;
}
