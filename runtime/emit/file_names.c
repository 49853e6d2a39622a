/* file_names.c: see file_names.h. */
#include "emit/file_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hex.h"

void rt_ids_hex(const uint8_t trace_id[16], const uint8_t span_id[8],
		const uint8_t parent_id[8], rt_ids_hex_t *out)
{
	rt_hex_encode(trace_id, 16, out->trace);
	rt_hex_encode(span_id, 8, out->span);
	rt_hex_encode(parent_id, 8, out->parent);
}

void rt_file_name_request(char *out, const char *kind, const rt_ids_hex_t *id, uint64_t unix_s)
{
	snprintf(out, RT_FILE_NAME_MAX, "%s-%s-%s-%llu.pb.gz", kind, id->trace, id->span,
		 (unsigned long long)unix_s);
}

/* pid 0: the process that started serving; a forked worker passes its pid, so that
 * workers writing within the same second do not overwrite each other. The time stays
 * last, where the rolling history reads it. */
void rt_file_name_continuous(char *out, const char *kind, int pid, uint64_t unix_s)
{
	if (pid)
		snprintf(out, RT_FILE_NAME_MAX, "continuous-%s-%d-%llu.pb.gz", kind, pid,
			 (unsigned long long)unix_s);
	else
		snprintf(out, RT_FILE_NAME_MAX, "continuous-%s-%llu.pb.gz", kind,
			 (unsigned long long)unix_s);
}

void rt_file_name_stats(char *out, int pid)
{
	snprintf(out, RT_FILE_NAME_MAX, "otshim-stats-%d.json", pid);
}

int rt_file_name_is_continuous(const char *name, uint64_t *unix_s)
{
	static const char prefix[] = "continuous-", suffix[] = ".pb.gz";
	size_t n = strlen(name), ls = sizeof suffix - 1;
	if (strncmp(name, prefix, sizeof prefix - 1) != 0 || n <= ls ||
	    strcmp(name + n - ls, suffix) != 0)
		return 0;
	/* The time: the digits between the last '-' and the suffix. */
	const char *end = name + n - ls, *t = end;
	while (t > name && t[-1] >= '0' && t[-1] <= '9')
		t--;
	if (t == end || t[-1] != '-' || t - 1 < name + sizeof prefix - 1 + 1)
		return 0;
	*unix_s = strtoull(t, NULL, 10);
	return 1;
}
