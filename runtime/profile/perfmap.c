/* perfmap.c: /tmp/perf-<pid>.map reader (see profile/perfmap.h). The file is appended to
 * as code is compiled, so it is read whole at each open; entries are sorted by start
 * (a stable sort, so for equal starts the later line stays later) and looked up by
 * binary search, scanning back for the latest entry that covers the address. */
#include "profile/perfmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/owned_fds.h"

typedef struct entry {
	uintptr_t start, end;
	size_t seq;          /* line number: later lines win */
	char *name;
} entry_t;

struct rt_perfmap {
	entry_t *e;
	size_t n;
};

static int by_start(const void *a, const void *b)
{
	const entry_t *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void rt_perfmap_close(rt_perfmap_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].name);
	free(m->e);
	free(m);
}

rt_perfmap_t *rt_perfmap_open(void)
{
	char path[64], *line = NULL;
	size_t cap = 0, ecap = 0;
	snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
	FILE *f = rt_owned_fd_fopen(path);
	if (!f)
		return NULL;
	rt_perfmap_t *m = calloc(1, sizeof *m);
	while (m && rt_owned_fd_usable(fileno(f)) && getline(&line, &cap, f) > 0) {
		char *p = line, *q;
		unsigned long long start = strtoull(p, &q, 16), size;
		if (q == p || *q != ' ')
			continue;
		p = q + 1;
		size = strtoull(p, &q, 16);
		if (q == p || *q != ' ' || size == 0)
			continue;
		p = q + 1;
		p[strcspn(p, "\n")] = 0;
		if (m->n == ecap) {
			size_t ncap = ecap ? ecap * 2 : 1024;
			entry_t *ne = realloc(m->e, ncap * sizeof *ne);
			if (!ne)
				break;
			m->e = ne;
			ecap = ncap;
		}
		char *name = strdup(p);
		if (!name)
			break;
		m->e[m->n] = (entry_t){ (uintptr_t)start, (uintptr_t)(start + size), m->n, name };
		m->n++;
	}
	free(line);
	rt_owned_fd_fclose(f);
	if (m && m->n == 0) {
		rt_perfmap_close(m);
		return NULL;
	}
	if (m)
		qsort(m->e, m->n, sizeof *m->e, by_start);
	return m;
}

const char *rt_perfmap_lookup(const rt_perfmap_t *m, uintptr_t addr)
{
	if (!m || m->n == 0)
		return NULL;
	/* The last entry starting at or before addr. */
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->e[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Code objects are small and rarely overlap: look back a little for the latest
	 * one that covers addr. */
	const entry_t *best = NULL;
	for (size_t i = lo, steps = 0; i > 0 && steps < 64; i--, steps++) {
		const entry_t *e = &m->e[i - 1];
		if (addr < e->end && (!best || e->seq > best->seq))
			best = e;
	}
	return best ? best->name : NULL;
}
