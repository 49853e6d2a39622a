/* file_names.h: the one place file names in the profile directory are made. A name is
 * built only from ids the shim validated or made, rendered as lowercase hex, and from
 * numbers: no byte of a request ever reaches a path.
 *   <kind>-<trace_id>-<span_id>-<unix>.pb.gz      a slow request's profile (kind: cpu,
 *                                                 heap, threads, threadcreate)
 *   continuous-<kind>-[<pid>-]<unix>.pb.gz         continuous mode (kind: cpu, heap;
 *                                                 the pid in a forked worker)
 *   otshim-stats-<pid>.json, index.jsonl */
#ifndef RT_FILE_NAMES_H
#define RT_FILE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define RT_FILE_NAME_MAX 128

/* A request's ids as hex, ready for names, labels and JSON. */
typedef struct rt_ids_hex {
	char trace[33], span[17], parent[17];
} rt_ids_hex_t;

void rt_ids_hex(const uint8_t trace_id[16], const uint8_t span_id[8],
		const uint8_t parent_id[8], rt_ids_hex_t *out);

/* Each writes a NUL-terminated name into out[RT_FILE_NAME_MAX]. */
void rt_file_name_request(char *out, const char *kind, const rt_ids_hex_t *id, uint64_t unix_s);
void rt_file_name_continuous(char *out, const char *kind, int pid, uint64_t unix_s);
void rt_file_name_stats(char *out, int pid);

/* Whether name is a continuous-mode profile; *unix_s gets its time. */
int rt_file_name_is_continuous(const char *name, uint64_t *unix_s);

#endif
