/* test_writer.c: the writer side of the profile directory (emit/).
 * file_names.c: rt_ids_hex (lowercase, full width), rt_file_name_request for each kind
 * (exact names, only [0-9a-z.-], the same length whatever the ids), the continuous
 * names with and without a pid, the stats name, rt_file_name_is_continuous (continuous
 * files with their times accepted; request profiles, index.jsonl, temporaries and
 * names without .pb.gz refused). caps.c: the per-minute rate (exactly N, then none
 * until the next minute; 0 refuses; a fork child starts afresh) and the disk cap (below
 * allowed, at and above refused). profile_dir.c in a mkdtemp directory: rt_dir_ensure
 * (mkdir -p, parents 0755, the last component 0700, made again after removal, a file
 * in the way refused), rt_dir_append (whole lines, mode 0600), rt_dir_replace (content
 * replaced, mode 0600, no temporary left), rt_dir_bytes (regular files only),
 * rt_dir_remove. index_log.c: rt_index_line compared whole against the expected line;
 * request text with quotes, backslashes, control bytes and invalid UTF-8 escaped so the
 * line stays valid UTF-8 and valid JSON; query and parent_span_id only when present.
 * writer.c: rt_writer_admit's rate limit and disk cap, with the refusals counted by
 * reason; rt_writer_slow_request: the CPU profile (mode 0600; gunzipped and unpacked:
 * its samples and comments), its one index line, the counters, a wanted heap profile
 * without a snapshot (no file, an error, no heap in the index); and `go tool pprof
 * -raw` reading the CPU profile when go is installed. JSON is checked with python3
 * when it is installed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "t.h"
#include "base/cfg.h"
#include "base/json.h"
#include "base/stats.h"
#include "emit/caps.h"
#include "emit/file_names.h"
#include "emit/index_log.h"
#include "emit/profile_dir.h"
#include "emit/samples.h"
#include "emit/writer.h"
#include "sample/thread.h"
#include "track/request.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_t;

#define MIB (1024ull * 1024ull)

/* The W3C example ids. */
static const uint8_t TRACE[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
				   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t SPAN[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
static const uint8_t PARENT[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
#define TRACE_HEX "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN_HEX "00f067aa0ba902b7"
#define PARENT_HEX "0102030405060708"
#define UNIX_S 1700000000ull /* 2023-11-14T22:13:20Z */

static char base[] = "/tmp/otshim-test-writer-XXXXXX";
static int have_python;

/* ---- a call chain of known functions: root_fn -> mid_fn -> leaf_fn ---- */

#define NOINL __attribute__((noinline, noclone))
static volatile int sinkv;
static uintptr_t ra_in_mid, ra_in_root;

static NOINL int leaf_fn(int x)
{
	ra_in_mid = (uintptr_t)__builtin_return_address(0);
	sinkv = x;
	return sinkv * 3 + 1;
}

static NOINL int mid_fn(int x)
{
	ra_in_root = (uintptr_t)__builtin_return_address(0);
	int y = leaf_fn(x + 1);
	sinkv = y;
	return sinkv + 2;
}

static NOINL int root_fn(int x)
{
	int y = mid_fn(x * 2);
	sinkv = y;
	return sinkv - 1;
}

/* ---- helpers ---- */

static int write_file(const char *path, const char *content, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(content, 1, len, f);
	return fclose(f) == 0 && w == len ? 0 : -1;
}

static int mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Entries of dir whose names start with prefix ("" for all), "." and ".." aside. */
static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static int count_char(const char *s, size_t n, char c)
{
	int k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

static void rm_rf(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		diag("could not remove %s", path);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Whether the file holds exactly one JSON document per line (python3, strict UTF-8):
 * 1, 0, or -1 when python3 is not installed. */
static int json_lines_valid(const char *path)
{
	if (!have_python)
		return -1;
	char cmd[4400];
	snprintf(cmd, sizeof cmd,
		 "python3 -c 'import json,sys\n"
		 "for l in open(sys.argv[1], \"rb\").read().decode(\"utf-8\").splitlines(): json.loads(l)' "
		 "'%s' 2>/dev/null",
		 path);
	int st = system(cmd);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Checks one JSON text (a line rt_index_line made) with python3 and in C. */
static void check_json_text(const char *text, size_t len, const char *what)
{
	char path[256];
	ok(valid_utf8((const unsigned char *)text, len), "%s: valid UTF-8", what);
	snprintf(path, sizeof path, "%s/check.json", base);
	if (write_file(path, text, len) != 0) {
		ok(0, "%s: written for python3 to read", what);
		return;
	}
	int v = json_lines_valid(path);
	if (v < 0)
		skip(what, "python3 is not installed: JSON validity not checked");
	else if (!ok(v == 1, "%s: python3 parses it as JSON", what))
		diag("the line: %.*s", (int)len, text);
	unlink(path);
}

static void set_dir(const char *sub)
{
	snprintf(rt_cfg.profile_dir, sizeof rt_cfg.profile_dir, "%s/%s", base, sub);
}

static const char *no_env(const char *name)
{
	(void)name;
	return NULL;
}

static uint64_t stat_of(rt_stat_id_t id)
{
	return rt_stat_get(id);
}

/* ---- file_names.c ---- */

static int only_name_chars(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

static void test_names(void)
{
	rt_ids_hex_t id, zero, ff;
	uint8_t z16[16] = { 0 }, z8[8] = { 0 }, f16[16], f8[8];
	char name[RT_FILE_NAME_MAX], other[RT_FILE_NAME_MAX];
	memset(f16, 0xff, sizeof f16);
	memset(f8, 0xff, sizeof f8);

	memset(&id, 'x', sizeof id);
	rt_ids_hex(TRACE, SPAN, PARENT, &id);
	is_str(id.trace, TRACE_HEX, "rt_ids_hex: trace id, lowercase, 32 digits");
	is_str(id.span, SPAN_HEX, "rt_ids_hex: span id keeps its leading zeros");
	is_str(id.parent, PARENT_HEX, "rt_ids_hex: parent id");
	rt_ids_hex(z16, z8, z8, &zero);
	rt_ids_hex(f16, f8, f8, &ff);
	ok(!strcmp(zero.trace, "00000000000000000000000000000000") && !strcmp(zero.span, "0000000000000000") &&
		   !strcmp(ff.trace, "ffffffffffffffffffffffffffffffff") && !strcmp(ff.parent, "ffffffffffffffff"),
	   "rt_ids_hex: all-zero and all-ones ids, full width, lowercase");

	static const struct {
		const char *kind, *want;
	} kinds[] = {
		{ "cpu", "cpu-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz" },
		{ "heap", "heap-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz" },
		{ "threads", "threads-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz" },
		{ "threadcreate", "threadcreate-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz" },
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		char desc[96];
		rt_file_name_request(name, kinds[i].kind, &id, UNIX_S);
		snprintf(desc, sizeof desc, "rt_file_name_request: %s", kinds[i].kind);
		is_str(name, kinds[i].want, desc);
		size_t want_len = strlen(kinds[i].kind) + 1 + 32 + 1 + 16 + 1 + 10 + strlen(".pb.gz");
		ok(only_name_chars(name) && strlen(name) == want_len,
		   "%s: only [0-9a-z.-], %zu bytes", kinds[i].kind, want_len);
		rt_file_name_request(other, kinds[i].kind, &zero, UNIX_S);
		size_t l0 = strlen(other);
		rt_file_name_request(other, kinds[i].kind, &ff, UNIX_S);
		ok(l0 == want_len && strlen(other) == want_len && only_name_chars(other),
		   "%s: the same length and alphabet with all-zero and all-ones ids", kinds[i].kind);
	}

	rt_file_name_continuous(name, "cpu", 0, UNIX_S);
	is_str(name, "continuous-cpu-1700000000.pb.gz", "rt_file_name_continuous: cpu, no pid");
	rt_file_name_continuous(name, "heap", 0, UNIX_S);
	is_str(name, "continuous-heap-1700000000.pb.gz", "rt_file_name_continuous: heap, no pid");
	rt_file_name_continuous(name, "cpu", 4242, UNIX_S);
	is_str(name, "continuous-cpu-4242-1700000000.pb.gz", "rt_file_name_continuous: cpu, pid 4242");
	rt_file_name_continuous(name, "heap", 77, 123);
	is_str(name, "continuous-heap-77-123.pb.gz", "rt_file_name_continuous: heap, pid 77");
	rt_file_name_stats(name, 12345);
	is_str(name, "otshim-stats-12345.json", "rt_file_name_stats");

	uint64_t t = 0;
	ok(rt_file_name_is_continuous("continuous-cpu-123.pb.gz", &t) == 1 && t == 123,
	   "is_continuous: continuous-cpu-123.pb.gz, time 123");
	t = 0;
	ok(rt_file_name_is_continuous("continuous-heap-77-123.pb.gz", &t) == 1 && t == 123,
	   "is_continuous: continuous-heap-77-123.pb.gz, time 123 (not the pid)");
	rt_file_name_continuous(name, "cpu", 4242, UNIX_S);
	t = 0;
	ok(rt_file_name_is_continuous(name, &t) == 1 && t == UNIX_S,
	   "is_continuous: rt_file_name_continuous's own name (with pid), its time");
	rt_file_name_continuous(name, "heap", 0, UNIX_S + 5);
	t = 0;
	ok(rt_file_name_is_continuous(name, &t) == 1 && t == UNIX_S + 5,
	   "is_continuous: rt_file_name_continuous's own name (no pid), its time");
	static const char *const refused[] = {
		"cpu-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz",
		"heap-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz",
		"index.jsonl",
		"otshim-stats-1.json",
		"continuous-x",
		"continuous-cpu-123",
		"continuous-cpu-123.json",
		".continuous-cpu-123.pb.gz.tmp.99.1", /* rt_profile_write_gz's temporary */
		"continuous-cpu-123.pb.gz.bak",       /* someone's copy: never deleted as ours */
		"continuous-x.pb.gz",                 /* no time */
		"continuous-cpu-.pb.gz",
		"",
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		is_int(rt_file_name_is_continuous(refused[i], &t), 0, refused[i][0] ? refused[i] : "(empty name) refused");
}

/* ---- caps.c ---- */

static void test_caps(void)
{
	uint64_t m = 6000 * 60; /* the start of a minute */
	int took[4];
	rt_caps_fork_child();
	took[0] = rt_caps_rate_take(m + 0, 3);
	took[1] = rt_caps_rate_take(m + 10, 3);
	took[2] = rt_caps_rate_take(m + 59, 3);
	ok(took[0] == 1 && took[1] == 1 && took[2] == 1, "rate: per_min 3 allows 3 in one minute");
	is_int(rt_caps_rate_take(m + 59, 3), 0, "rate: and refuses the 4th in that minute");
	is_int(rt_caps_rate_take(m + 30, 3), 0, "rate: and a 5th");
	for (int i = 0; i < 4; i++)
		took[i] = rt_caps_rate_take(m + 60 + (uint64_t)i, 3);
	ok(took[0] == 1 && took[1] == 1 && took[2] == 1 && took[3] == 0,
	   "rate: the next minute allows 3 again, then refuses");
	is_int(rt_caps_rate_take(m + 120, 1), 1, "rate: per_min 1 allows one");
	is_int(rt_caps_rate_take(m + 121, 1), 0, "rate: per_min 1 refuses the second");
	rt_caps_fork_child();
	is_int(rt_caps_rate_take(m + 122, 1), 1, "rate: rt_caps_fork_child resets this minute's count");
	is_int(rt_caps_rate_take(m + 123, 1), 0, "rate: ... which then counts again");
	is_int(rt_caps_rate_take(m + 600, 0), 0, "rate: per_min 0 refuses at once");
	is_int(rt_caps_rate_take(m + 661, 0), 0, "rate: per_min 0 refuses in the next minute too");
	rt_caps_fork_child();

	is_int(rt_caps_disk_allows(0, 1), 1, "disk: an empty directory, cap 1 MiB: allowed");
	is_int(rt_caps_disk_allows(MIB - 1, 1), 1, "disk: one byte below the cap: allowed");
	is_int(rt_caps_disk_allows(MIB, 1), 0, "disk: at the cap: refused");
	is_int(rt_caps_disk_allows(MIB + 1, 1), 0, "disk: above the cap: refused");
	is_int(rt_caps_disk_allows(1024 * MIB - 1, 1024), 1, "disk: cap 1024 MiB, just below: allowed");
	is_int(rt_caps_disk_allows(3 * 1024 * MIB, 1024), 0, "disk: cap 1024 MiB, 3 GiB: refused");
	is_int(rt_caps_disk_allows(0, 0), 0, "disk: cap 0 refuses even an empty directory");
}

/* ---- profile_dir.c ---- */

static void test_dir(void)
{
	char p[4300], d1[4300], d2[4300], top[4300];
	snprintf(top, sizeof top, "%s/nest", base);
	snprintf(d1, sizeof d1, "%s/nest/a", base);
	snprintf(d2, sizeof d2, "%s/nest/a/b", base);
	set_dir("nest/a/b/prof");

	ok(!exists(top), "ensure: the nested path is not there yet");
	is_int(rt_dir_ensure(), 0, "rt_dir_ensure makes a nested path");
	ok(is_dir(rt_cfg.profile_dir), "ensure: the directory exists");
	is_int(mode_of(rt_cfg.profile_dir), 0700, "ensure: the last component is mode 0700");
	ok(mode_of(top) == 0755 && mode_of(d1) == 0755 && mode_of(d2) == 0755,
	   "ensure: its parents are mode 0755 (%o %o %o)", mode_of(top), mode_of(d1), mode_of(d2));
	is_int(rt_dir_ensure(), 0, "ensure: again, when it exists");

	ok(rmdir(rt_cfg.profile_dir) == 0 && !exists(rt_cfg.profile_dir), "the directory removed");
	is_int(rt_dir_ensure(), 0, "rt_dir_ensure after the directory was removed");
	ok(is_dir(rt_cfg.profile_dir) && mode_of(rt_cfg.profile_dir) == 0700,
	   "ensure: made again, mode 0700");
	rm_rf(top);
	is_int(rt_dir_ensure(), 0, "rt_dir_ensure after the whole chain was removed");
	ok(is_dir(rt_cfg.profile_dir) && mode_of(rt_cfg.profile_dir) == 0700 && mode_of(d1) == 0755,
	   "ensure: the chain made again");

	/* A trailing slash names the same last component: still 0700. */
	set_dir("slash/prof/");
	is_int(rt_dir_ensure(), 0, "rt_dir_ensure with a trailing slash");
	snprintf(p, sizeof p, "%s/slash/prof", base);
	is_int(mode_of(p), 0700, "ensure: a trailing slash's last component is mode 0700");

	/* A file where the directory should be. */
	set_dir("plainfile");
	write_file(rt_cfg.profile_dir, "x", 1);
	errno = 0;
	int rc = rt_dir_ensure();
	ok(rc == -1 && errno == ENOTDIR, "ensure: a regular file in the way: -1, ENOTDIR (errno %d)", errno);
	set_dir("plainfile/sub");
	errno = 0;
	rc = rt_dir_ensure();
	ok(rc == -1 && errno == ENOTDIR, "ensure: a file as a parent: -1, ENOTDIR (errno %d)", errno);

	/* rt_dir_path */
	set_dir("files");
	is_int(rt_dir_ensure(), 0, "ensure: the files directory");
	char want[4300];
	rt_dir_path(p, sizeof p, "index.jsonl");
	snprintf(want, sizeof want, "%s/files/index.jsonl", base);
	is_str(p, want, "rt_dir_path joins the directory and the name");

	/* rt_dir_append */
	rt_json_t l1 = { 0 }, l2 = { 0 };
	rt_json_put(&l1, "{\"a\":1}\n", 8);
	rt_json_put(&l2, "{\"b\":\"two\"}\n", 12);
	is_int(rt_dir_append("lines.jsonl", &l1), 0, "rt_dir_append: a first line");
	is_int(rt_dir_append("lines.jsonl", &l2), 0, "rt_dir_append: a second line");
	rt_dir_path(p, sizeof p, "lines.jsonl");
	size_t len = 0;
	char *got = t_read_file(p, &len);
	is_str(got, "{\"a\":1}\n{\"b\":\"two\"}\n", "append: two appends, two whole lines in order");
	ok(got && count_char(got, len, '\n') == 2, "append: exactly two newlines");
	free(got);
	is_int(mode_of(p), 0600, "append: the file is mode 0600");
	rt_json_free(&l1);
	rt_json_free(&l2);

	/* rt_dir_replace */
	static const char v1[] = "the first, longer version of the file\n", v2[] = "second";
	is_int(rt_dir_replace("state.json", v1, sizeof v1 - 1), 0, "rt_dir_replace: a new file");
	rt_dir_path(p, sizeof p, "state.json");
	got = t_read_file(p, &len);
	ok(got && len == sizeof v1 - 1 && !memcmp(got, v1, len), "replace: its content");
	free(got);
	is_int(rt_dir_replace("state.json", v2, sizeof v2 - 1), 0, "rt_dir_replace: replaced by a shorter one");
	got = t_read_file(p, &len);
	ok(got && len == sizeof v2 - 1 && !memcmp(got, v2, len), "replace: only the new content (%zu bytes)", len);
	free(got);
	is_int(mode_of(p), 0600, "replace: the file is mode 0600");
	is_int(count_entries(rt_cfg.profile_dir, "."), 0, "replace: no temporary file left");
	is_int(count_entries(rt_cfg.profile_dir, ""), 2, "replace: the directory holds just the two files");

	/* rt_dir_bytes */
	set_dir("bytes");
	is_int(rt_dir_bytes(), 0, "rt_dir_bytes: a missing directory counts 0");
	is_int(rt_dir_ensure(), 0, "ensure: the bytes directory");
	is_int(rt_dir_bytes(), 0, "rt_dir_bytes: an empty directory counts 0");
	static char buf[5000];
	memset(buf, 'z', sizeof buf);
	is_int(rt_dir_replace("ten", buf, 10), 0, "a 10-byte file");
	is_int(rt_dir_replace("three-hundred", buf, 300), 0, "a 300-byte file");
	is_int(rt_dir_bytes(), 310, "rt_dir_bytes: 310");
	/* Neither a directory (nor what it holds) nor a symlink to a big file counts. */
	char outside[4300], sub[4300], link[4300], inner[4400];
	snprintf(outside, sizeof outside, "%s/outside-big", base);
	snprintf(sub, sizeof sub, "%s/subdir", rt_cfg.profile_dir);
	snprintf(inner, sizeof inner, "%s/inner", sub);
	snprintf(link, sizeof link, "%s/link", rt_cfg.profile_dir);
	ok(write_file(outside, buf, sizeof buf) == 0 && mkdir(sub, 0700) == 0 &&
		   write_file(inner, buf, 1000) == 0 && symlink(outside, link) == 0,
	   "a subdirectory with a file, and a symlink to a 5000-byte file");
	is_int(rt_dir_bytes(), 310, "rt_dir_bytes: still 310 (regular files only, not recursive)");

	/* rt_dir_remove */
	is_int(rt_dir_remove("ten"), 0, "rt_dir_remove: 0");
	rt_dir_path(p, sizeof p, "ten");
	ok(!exists(p), "remove: the file is gone");
	is_int(rt_dir_bytes(), 300, "rt_dir_bytes: 300 after it");
	errno = 0;
	rc = rt_dir_remove("ten");
	ok(rc == -1 && errno == ENOENT, "remove: a missing file: -1, ENOENT");
}

/* ---- index_log.c ---- */

static void fill_req(rt_req_t *r, const uint8_t span[8])
{
	memset(r, 0, sizeof *r);
	r->serial = 7;
	r->ids_ready = 1;
	r->head_done = 1;
	memcpy(r->ctx.trace_id, TRACE, 16);
	memcpy(r->ctx.parent_id, PARENT, 8);
	memcpy(r->span_id, span, 8);
	r->start_real_ns = UNIX_S * 1000000000ull + 123456789ull;
	r->start_mono_ns = 5000000000ull;
	r->slow_mono_ns = r->start_mono_ns + 100000000ull;
	r->end_mono_ns = r->start_mono_ns + 250500000ull;
	r->cpu_at_slow_ns = 5000000ull;
	r->cpu_at_end_ns = r->cpu_at_slow_ns + 120000000ull;
	r->tid = 4321;
	r->status = 200;
	memcpy(r->method, "GET", 3);
	r->method_len = 3;
	memcpy(r->path, "/api/items", 10);
	r->path_len = 10;
	r->cpu_route = RT_CPU_ROUTE_TIMER;
	r->slow = 1;
	r->alloc_bytes = 4096;
}

/* nsamples samples of 1 ms, all taken on r's own thread but the last `others`, which
 * come from a pool thread (tid 99). */
static void line_of_handoff(rt_json_t *b, const rt_req_t *r, const rt_set_files_t *f,
			    size_t nsamples, size_t others)
{
	rt_ids_hex_t id;
	rt_samples_t s;
	memset(&s, 0, sizeof s);
	uintptr_t pc = 0x401000;
	for (size_t i = 0; i < nsamples; i++)
		rt_samples_add(&s, 1000000, i + others >= nsamples ? 99 : r->tid, &pc, 1);
	rt_ids_hex(r->ctx.trace_id, r->span_id, r->ctx.parent_id, &id);
	memset(b, 0, sizeof *b);
	rt_index_line(b, r, &id, f, &s, NULL);
	rt_samples_free(&s);
}

static void line_of(rt_json_t *b, const rt_req_t *r, const rt_set_files_t *f, size_t nsamples)
{
	line_of_handoff(b, r, f, nsamples, 0);
}

static void test_index(void)
{
	rt_req_t r;
	rt_json_t b;
	char want[2048];
	rt_set_files_t files = { .cpu = "cpu-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz",
				 .heap = "heap-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz",
				 .nthreads = 5 };

	fill_req(&r, SPAN);
	line_of(&b, &r, &files, 42);
	snprintf(want, sizeof want,
		 "{\"time\":\"2023-11-14T22:13:20.123Z\",\"pid\":%d,\"tid\":4321,\"trace_id\":\"" TRACE_HEX
		 "\",\"span_id\":\"" SPAN_HEX "\",\"method\":\"GET\",\"path\":\"/api/items\",\"status\":200,"
		 "\"duration_ms\":250.5,\"cpu_ms\":120.0,\"profiled_after_ms\":100.0,\"cpu_route\":\"timer\","
		 "\"samples\":42,\"alloc_bytes\":4096,\"threads\":5,\"files\":{\"cpu\":\"cpu-" TRACE_HEX "-" SPAN_HEX
		 "-1700000000.pb.gz\",\"heap\":\"heap-" TRACE_HEX "-" SPAN_HEX "-1700000000.pb.gz\"}}\n",
		 (int)getpid());
	ok(!b.oom, "rt_index_line: no out-of-memory");
	is_str(b.p, want, "rt_index_line: the whole line, as expected");
	ok(b.p && b.len == strlen(b.p) && b.len > 0 && b.p[b.len - 1] == '\n' &&
		   count_char(b.p, b.len, '\n') == 1,
	   "index line: len matches, one newline, at the end");
	ok(b.p && !strstr(b.p, "\"query\"") && !strstr(b.p, "parent_span_id"),
	   "index line: no query (query_len 0), no parent_span_id (has_parent 0)");
	if (b.p)
		check_json_text(b.p, b.len, "index line");
	rt_json_free(&b);

	/* A parent and a query; no alloc count, perf route, only a cpu file. */
	r.has_parent = 1;
	memcpy(r.query, "a=1&b=\"2\"", 9);
	r.query_len = 9;
	r.alloc_bytes = -1;
	r.cpu_route = RT_CPU_ROUTE_PERF;
	rt_set_files_t cpu_only = { .cpu = "cpu-x.pb.gz", .nthreads = -1 };
	line_of(&b, &r, &cpu_only, 0);
	ok(b.p && strstr(b.p, ",\"span_id\":\"" SPAN_HEX "\",\"parent_span_id\":\"" PARENT_HEX "\",\"method\""),
	   "index line: parent_span_id after span_id when has_parent");
	ok(b.p && strstr(b.p, ",\"path\":\"/api/items\",\"query\":\"a=1&b=\\\"2\\\"\",\"status\":200"),
	   "index line: the query (escaped) after the path when query_len > 0");
	ok(b.p && strstr(b.p, "\"cpu_route\":\"perf\",\"samples\":0,\"threads\":-1,\"files\":{\"cpu\":\"cpu-x.pb.gz\"}}\n"),
	   "index line: perf route, no alloc_bytes when unknown, only the cpu file");
	if (b.p)
		check_json_text(b.p, b.len, "index line with parent and query");
	rt_json_free(&b);

	/* 30 samples, 20 of them from a pool thread acting for the request. */
	line_of_handoff(&b, &r, &cpu_only, 30, 20);
	ok(b.p && strstr(b.p, "\"samples\":30,\"handed_off\":{\"threads\":1,\"cpu_ms\":20.0},\"threads\""),
	   "index line: the CPU handed off to another thread, after the sample count");
	if (b.p)
		check_json_text(b.p, b.len, "index line with a hand-off");
	rt_json_free(&b);

	/* Request text that needs escaping: quotes, backslashes, control bytes (NUL
	 * included), DEL, valid UTF-8 kept, invalid bytes as U+FFFD. */
	static const char meth[] = "G\"\\\x01\xff";
	static const char path[] = "/a\"b\\c\n\t\x1f\x7f\0\xc3\xa9\xff\xe2\x82";
	fill_req(&r, SPAN);
	memcpy(r.method, meth, sizeof meth - 1);
	r.method_len = sizeof meth - 1;
	memcpy(r.path, path, sizeof path - 1);
	r.path_len = sizeof path - 1;
	line_of(&b, &r, &files, 1);
	ok(b.p && strstr(b.p, ",\"method\":\"G\\\"\\\\\\u0001\\ufffd\","),
	   "escaping: method G\"\\ + 0x01 + 0xff");
	ok(b.p && strstr(b.p, ",\"path\":\"/a\\\"b\\\\c\\u000a\\u0009\\u001f\\u007f\\u0000\xc3\xa9\\ufffd\\ufffd\\ufffd\","),
	   "escaping: path with quote, backslash, controls, NUL, DEL, é kept, 0xff and a cut "
	   "sequence as U+FFFD");
	if (b.p)
		check_json_text(b.p, b.len, "escaped index line");
	rt_json_free(&b);

	/* Invalid UTF-8 whose lead byte looks right: overlong forms (E0 80 AF, F0 80 80 AF),
	 * a UTF-16 surrogate (ED A0 80), a code point above U+10FFFF (F4 90 80 80), a lead
	 * byte no UTF-8 has (F5 80 80). None may reach the line as raw bytes (the path
	 * parser keeps bytes >= 0x80, so a client can send these). */
	static const char bad[] = "/o\xe0\x80\xaf-s\xed\xa0\x80-f\xf0\x80\x80\xaf-h\xf4\x90\x80\x80"
				  "-l\xf5\x80\x80-end";
	fill_req(&r, SPAN);
	memcpy(r.path, bad, sizeof bad - 1);
	r.path_len = sizeof bad - 1;
	line_of(&b, &r, &files, 1);
	ok(b.p && strstr(b.p, "-end\"") && !strstr(b.p, "\xe0\x80\xaf") && !strstr(b.p, "\xed\xa0\x80") &&
		   !strstr(b.p, "\xf0\x80\x80\xaf") && !strstr(b.p, "\xf4\x90\x80\x80") &&
		   !strstr(b.p, "\xf5\x80\x80"),
	   "escaping: overlong, surrogate, above-U+10FFFF and F5 sequences do not reach the line raw");
	if (b.p)
		check_json_text(b.p, b.len, "index line with overlong/surrogate/out-of-range UTF-8");
	rt_json_free(&b);

	/* The longest method and path the request keeps, all of it needing escapes. */
	fill_req(&r, SPAN);
	memset(r.method, '"', sizeof r.method);
	r.method_len = sizeof r.method;
	memset(r.path, '\x01', sizeof r.path);
	r.path_len = sizeof r.path;
	r.has_parent = 1;
	memset(r.query, '\\', sizeof r.query);
	r.query_len = sizeof r.query;
	line_of(&b, &r, &files, 1);
	ok(!b.oom && b.p && strstr(b.p, "\"files\":{\"cpu\":") && b.p[b.len - 1] == '\n',
	   "a full-length method, path and query, all escaped: the line is whole");
	if (b.p)
		check_json_text(b.p, b.len, "full-length escaped index line");
	rt_json_free(&b);

	/* rt_index_append */
	set_dir("index");
	is_int(rt_dir_ensure(), 0, "ensure: the index directory");
	fill_req(&r, SPAN);
	line_of(&b, &r, &files, 3);
	is_int(rt_index_append(&b), 0, "rt_index_append: 0");
	rt_json_t oom = b;
	oom.oom = 1;
	errno = 0;
	int rc = rt_index_append(&oom);
	ok(rc == -1 && errno == EIO, "rt_index_append of a line that ran out of memory: -1, EIO");
	char p[4300];
	rt_dir_path(p, sizeof p, "index.jsonl");
	size_t len = 0;
	char *got = t_read_file(p, &len);
	ok(got && len == b.len && !memcmp(got, b.p, len), "index.jsonl holds just the one line");
	free(got);
	rt_json_free(&b);
}

/* ---- writer.c ---- */

static void test_admit(void)
{
	char ballast[4300];
	int a[3] = { -1, -1, -1 }, tries = 0;
	uint64_t d0, r0, disk0, fds0, io0;
	set_dir("admit");
	rt_cfg.max_disk_mb = 1024;
	rt_cfg.max_profiles_per_min = 2;
	/* Three admissions within one wall-clock minute (tried again when a minute
	 * boundary fell between them). */
	for (;;) {
		rt_caps_fork_child();
		d0 = stat_of(RT_STAT_DROPPED);
		r0 = stat_of(RT_STAT_DROPPED_RATE);
		disk0 = stat_of(RT_STAT_DROPPED_DISK);
		fds0 = stat_of(RT_STAT_DROPPED_FDS);
		io0 = stat_of(RT_STAT_DROPPED_IO);
		time_t m0 = time(NULL) / 60;
		for (int i = 0; i < 3; i++)
			a[i] = rt_writer_admit();
		if (time(NULL) / 60 == m0 || ++tries == 3)
			break;
	}
	ok(a[0] == 1 && a[1] == 1, "admit: per minute 2, the first two admitted");
	is_int(a[2], 0, "admit: the third refused");
	is_int(stat_of(RT_STAT_DROPPED_RATE) - r0, 1, "admit: counted in RT_STAT_DROPPED_RATE");
	is_int(stat_of(RT_STAT_DROPPED) - d0, 1, "admit: counted in RT_STAT_DROPPED");
	ok(stat_of(RT_STAT_DROPPED_DISK) == disk0 && stat_of(RT_STAT_DROPPED_FDS) == fds0 &&
		   stat_of(RT_STAT_DROPPED_IO) == io0,
	   "admit: and under no other reason");
	ok(is_dir(rt_cfg.profile_dir) && mode_of(rt_cfg.profile_dir) == 0700,
	   "admit made the profile directory, mode 0700");

	rt_cfg.max_profiles_per_min = 0;
	rt_caps_fork_child();
	r0 = stat_of(RT_STAT_DROPPED_RATE);
	is_int(rt_writer_admit(), 0, "admit: per minute 0 refuses");
	is_int(stat_of(RT_STAT_DROPPED_RATE) - r0, 1, "admit: counted as over the rate");

	/* The disk cap: 1 MiB, a 2 MiB file in the directory. */
	rt_cfg.max_profiles_per_min = 1000;
	rt_cfg.max_disk_mb = 1;
	rt_caps_fork_child();
	snprintf(ballast, sizeof ballast, "%s/ballast.bin", rt_cfg.profile_dir);
	char *big = malloc(2 * MIB);
	if (big)
		memset(big, 'b', 2 * MIB);
	ok(big && write_file(ballast, big, 2 * MIB) == 0, "a 2 MiB ballast file in the directory");
	free(big);
	is_int(rt_dir_bytes(), 2 * MIB, "rt_dir_bytes sees the 2 MiB");
	d0 = stat_of(RT_STAT_DROPPED);
	r0 = stat_of(RT_STAT_DROPPED_RATE);
	disk0 = stat_of(RT_STAT_DROPPED_DISK);
	is_int(rt_writer_admit(), 0, "admit: over the disk cap, refused");
	is_int(stat_of(RT_STAT_DROPPED_DISK) - disk0, 1, "admit: counted in RT_STAT_DROPPED_DISK");
	is_int(stat_of(RT_STAT_DROPPED) - d0, 1, "admit: and in RT_STAT_DROPPED");
	is_int(stat_of(RT_STAT_DROPPED_RATE) - r0, 0, "admit: not as over the rate");
	unlink(ballast);
	is_int(rt_writer_admit(), 1, "admit: the ballast removed, admitted again");

	/* Exactly at the cap is refused too. */
	int fd = open(ballast, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd >= 0 && ftruncate(fd, (off_t)MIB) == 0, "a ballast of exactly 1 MiB");
	if (fd >= 0)
		close(fd);
	is_int(rt_writer_admit(), 0, "admit: exactly at the cap, refused");
	unlink(ballast);
	rt_cfg.max_disk_mb = 1024;
}

/* Gunzips and unpacks a profile file; NULL on any error. */
static pb_t *read_profile(const char *path)
{
	size_t n = 0;
	char *gz = t_read_file(path, &n);
	if (!gz)
		return NULL;
	z_stream z;
	memset(&z, 0, sizeof z);
	pb_t *pb = NULL;
	size_t cap = 1 << 20;
	uint8_t *raw = malloc(cap);
	if (raw && inflateInit2(&z, 16 + MAX_WBITS) == Z_OK) {
		z.next_in = (Bytef *)gz;
		z.avail_in = (uInt)n;
		z.next_out = raw;
		z.avail_out = (uInt)cap;
		int rc = inflate(&z, Z_FINISH);
		if (rc == Z_STREAM_END)
			pb = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
		inflateEnd(&z);
	}
	free(raw);
	free(gz);
	return pb;
}

static int has_comment(const pb_t *pb, const char *want)
{
	for (size_t i = 0; i < pb->n_comment; i++) {
		int64_t k = pb->comment[i];
		if (k >= 0 && (size_t)k < pb->n_string_table && !strcmp(pb->string_table[k], want))
			return 1;
	}
	return 0;
}

/* The function name pprof -raw gives location id in its "Locations" section. */
static void pprof_loc_name(const char *out, unsigned id, char *name, size_t len)
{
	const char *sec = strstr(out, "\nLocations\n");
	snprintf(name, len, "?");
	for (const char *line = sec; line && *line; line = strchr(line + 1, '\n')) {
		unsigned got;
		char fn[128];
		if (sscanf(line, " %u: %*s M=%*d %127s", &got, fn) == 2 && got == id) {
			snprintf(name, len, "%s", fn);
			return;
		}
	}
}

/* The stack of pprof -raw's sample with values a b ("leaf;caller;..."), its labels line
 * into labels; 1 when exactly one such sample was found. */
static int pprof_sample(const char *out, long long a, long long b, char *stack, size_t slen,
			char *labels, size_t llen)
{
	int found = 0;
	stack[0] = labels[0] = 0;
	const char *sec = strstr(out, "\nSamples:\n"), *locs = strstr(out, "\nLocations\n");
	if (!sec || !locs)
		return 0;
	for (const char *line = sec + 1; line && line < locs; line = strchr(line + 1, '\n')) {
		long long x, y;
		int used;
		if (sscanf(line, " %lld %lld:%n", &x, &y, &used) != 2 || x != a || y != b)
			continue;
		found++;
		const char *ids = line + used, *eol = strchr(line + 1, '\n');
		unsigned id;
		int k;
		while (eol && ids < eol && sscanf(ids, " %u%n", &id, &k) == 1) {
			char fn[128];
			pprof_loc_name(out, id, fn, sizeof fn);
			size_t n = strlen(stack);
			snprintf(stack + n, slen - n, "%s%s", n ? ";" : "", fn);
			ids += k;
		}
		const char *next_eol = eol ? strchr(eol + 1, '\n') : NULL;
		if (eol && next_eol)
			snprintf(labels, llen, "%.*s", (int)(next_eol - eol - 1), eol + 1);
	}
	return found == 1;
}

static void check_with_pprof(const char *path, const char *span_hex)
{
	if (!t_have("go")) {
		skip("go tool pprof -raw reads the CPU profile", "the go command is not installed");
		skip("pprof: the 3-sample stack, its cpu time and labels", "no go command");
		skip("pprof: the 1-sample stack", "no go command");
		skip("pprof: the period", "no go command");
		return;
	}
	char cmd[8800], stack[512], labels[512], want[256];
	snprintf(cmd, sizeof cmd, "HOME='%s' PPROF_TMPDIR='%s' go tool pprof -raw '%s' 2>&1", base, base,
		 path);
	int st;
	char *out = t_command(cmd, &st);
	int ran = out && WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "\nSamples:\n");
	if (!ok(ran, "go tool pprof -raw reads the CPU profile")) {
		diag("status %d, output:\n%s", st, out ? out : "(none)");
		free(out);
		return;
	}
	snprintf(want, sizeof want, "span_id:[%s]", span_hex);
	int one = pprof_sample(out, 3, 3000000, stack, sizeof stack, labels, sizeof labels);
	if (!ok(one && !strcmp(stack, "leaf_fn;mid_fn;root_fn") && strstr(labels, "trace_id:[" TRACE_HEX "]") &&
			strstr(labels, want),
		"pprof: 3 samples, 3 ms, leaf_fn;mid_fn;root_fn, labelled with the ids (%s | %s)", stack,
		labels))
		diag("pprof -raw said:\n%s", out);
	one = pprof_sample(out, 1, 2000000, stack, sizeof stack, labels, sizeof labels);
	ok(one && !strcmp(stack, "mid_fn;root_fn"), "pprof: 1 sample, 2 ms, mid_fn;root_fn (%s)", stack);
	ok(strstr(out, "\nPeriod: 1000000\n") != NULL, "pprof: the period (1 ms at the default 1000 Hz)");
	free(out);
}

static void test_slow_request(void)
{
	char cpu_name[RT_FILE_NAME_MAX], heap_name[RT_FILE_NAME_MAX], p[4400], hp[4400], idx[4400];
	rt_samples_t s;
	rt_req_files_t out;
	rt_req_t r;
	rt_ids_hex_t id;
	static const uint8_t SPAN2[8] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x02 };

	memset(&s, 0, sizeof s);
	uintptr_t stack1[3] = { (uintptr_t)&leaf_fn, ra_in_mid, ra_in_root };
	uintptr_t stack2[2] = { (uintptr_t)&mid_fn, ra_in_root };
	int added = 0;
	for (int i = 0; i < 3; i++)
		added += rt_samples_add(&s, 1000000, 7, stack1, 3) == 0;
	added += rt_samples_add(&s, 2000000, 7, stack2, 2) == 0;
	ok(added == 4 && s.n == 4 && s.lost == 0, "four CPU samples collected");

	set_dir("slow");
	rt_cfg.max_profiles_per_min = 1000;
	rt_cfg.max_disk_mb = 1024;
	rt_caps_fork_child();
	is_int(rt_writer_admit(), 1, "slow request: admitted (the directory made)");

	fill_req(&r, SPAN);
	r.tid = (pid_t)syscall(SYS_gettid);
	memcpy(r.path, "/slow", 5);
	r.path_len = 5;
	rt_ids_hex(r.ctx.trace_id, r.span_id, r.ctx.parent_id, &id);
	rt_file_name_request(cpu_name, "cpu", &id, UNIX_S);
	rt_file_name_request(heap_name, "heap", &id, UNIX_S);
	rt_dir_path(p, sizeof p, cpu_name);
	rt_dir_path(idx, sizeof idx, "index.jsonl");
	rt_request_evidence_t ev = { .cpu = &s, .heap_wanted = 0, .threads_wanted = 0 };
	uint64_t w0 = stat_of(RT_STAT_WRITTEN), e0 = stat_of(RT_STAT_ERRORS), d0 = stat_of(RT_STAT_DROPPED);
	memset(&out, 'x', sizeof out);
	rt_writer_slow_request(&r, &ev, &out);

	ok(exists(p), "the CPU profile %s exists", cpu_name);
	is_int(mode_of(p), 0600, "the CPU profile is mode 0600");
	is_int(count_entries(rt_cfg.profile_dir, "heap-") + count_entries(rt_cfg.profile_dir, "threads") +
		       count_entries(rt_cfg.profile_dir, "threadcreate-"),
	       0, "no heap or thread profiles (not wanted)");
	is_int(count_entries(rt_cfg.profile_dir, "."), 0, "no temporary file left");
	is_int(stat_of(RT_STAT_WRITTEN) - w0, 1, "RT_STAT_WRITTEN went up by one");
	is_int(stat_of(RT_STAT_ERRORS) - e0, 0, "RT_STAT_ERRORS did not move");
	is_int(stat_of(RT_STAT_DROPPED) - d0, 0, "RT_STAT_DROPPED did not move");
	is_str(out.cpu, cpu_name, "out: the cpu file's name");
	ok(out.heap[0] == 0 && out.threads[0] == 0, "out: no heap or threads file");
	ok(out.nthreads >= 1, "out: the process's thread count (%d)", out.nthreads);

	size_t len = 0;
	char *index = t_read_file(idx, &len);
	char want[512];
	snprintf(want, sizeof want, "\"files\":{\"cpu\":\"%s\",\"wall\":\"wall-%s\"}}\n",
		 cpu_name, cpu_name + 4);
	ok(index && count_char(index, len, '\n') == 1 && index[len - 1] == '\n',
	   "index.jsonl has one line");
	ok(index && len > strlen(want) && !strcmp(index + len - strlen(want), want),
	   "the line names the CPU and wall profiles, and only them");
	ok(index && strstr(index, "\"trace_id\":\"" TRACE_HEX "\",\"span_id\":\"" SPAN_HEX "\"") &&
		   strstr(index, "\"path\":\"/slow\"") && strstr(index, "\"samples\":4,"),
	   "the line has the ids, the path and the sample count");
	is_int(mode_of(idx), 0600, "index.jsonl is mode 0600");
	if (index)
		check_json_text(index, len, "index.jsonl after one set");
	free(index);

	pb_t *pb = read_profile(p);
	if (ok(pb != NULL, "the CPU profile gunzips and unpacks")) {
		int64_t total_ns = 0, total_n = 0;
		for (size_t i = 0; i < pb->n_sample; i++)
			if (pb->sample[i]->n_value == 2) {
				total_n += pb->sample[i]->value[0];
				total_ns += pb->sample[i]->value[1];
			}
		ok(pb->n_sample == 2 && total_n == 4 && total_ns == 5000000,
		   "profile: two stacks, 4 samples, 5 ms (%zu, %lld, %lld)", pb->n_sample,
		   (long long)total_n, (long long)total_ns);
		ok(has_comment(pb, "trace_id=" TRACE_HEX) && has_comment(pb, "span_id=" SPAN_HEX) &&
			   has_comment(pb, "method=GET") && has_comment(pb, "path=/slow") &&
			   has_comment(pb, "duration_ms=250.5") && has_comment(pb, "cpu_route=timer"),
		   "profile: the request's comments");
		ok(pb->time_nanos == (int64_t)r.start_real_ns && pb->duration_nanos == 250500000,
		   "profile: time and duration of the request");
		perftools__profiles__profile__free_unpacked(pb, NULL);
	}
	check_with_pprof(p, SPAN_HEX);

	/* A heap profile wanted, no snapshot. */
	memcpy(r.span_id, SPAN2, 8);
	r.serial = 8;
	rt_ids_hex(r.ctx.trace_id, r.span_id, r.ctx.parent_id, &id);
	rt_file_name_request(cpu_name, "cpu", &id, UNIX_S);
	rt_file_name_request(heap_name, "heap", &id, UNIX_S);
	rt_dir_path(p, sizeof p, cpu_name);
	rt_dir_path(hp, sizeof hp, heap_name);
	ev.heap_wanted = 1;
	ev.heap = NULL;
	w0 = stat_of(RT_STAT_WRITTEN);
	e0 = stat_of(RT_STAT_ERRORS);
	d0 = stat_of(RT_STAT_DROPPED);
	memset(&out, 'x', sizeof out);
	rt_writer_slow_request(&r, &ev, &out);
	ok(exists(p) && mode_of(p) == 0600, "heap wanted, no snapshot: the CPU profile is written");
	ok(!exists(hp), "heap wanted, no snapshot: no heap file");
	is_int(count_entries(rt_cfg.profile_dir, "heap-"), 0, "no heap file of any name");
	is_int(stat_of(RT_STAT_ERRORS) - e0, 1, "RT_STAT_ERRORS went up by one");
	is_int(stat_of(RT_STAT_WRITTEN) - w0, 1, "RT_STAT_WRITTEN went up by one (the set, without its heap)");
	is_int(stat_of(RT_STAT_DROPPED) - d0, 0, "RT_STAT_DROPPED did not move");
	ok(out.heap[0] == 0 && !strcmp(out.cpu, cpu_name), "out: the cpu file, no heap file");
	index = t_read_file(idx, &len);
	snprintf(want, sizeof want, "\"span_id\":\"deadbeef00000002\"");
	const char *second = index ? strchr(index, '\n') : NULL;
	second = second ? second + 1 : NULL;
	ok(index && count_char(index, len, '\n') == 2 && second && strstr(second, want),
	   "index.jsonl has a second line, for the second request");
	snprintf(want, sizeof want, "\"files\":{\"cpu\":\"%s\",\"wall\":\"wall-%s\"}}\n",
		 cpu_name, cpu_name + 4);
	ok(second && strlen(second) > strlen(want) &&
		   !strcmp(second + strlen(second) - strlen(want), want) && !strstr(second, "\"heap\""),
	   "its files: the cpu and wall profiles, no heap");
	if (index)
		check_json_text(index, len, "index.jsonl after two sets");
	free(index);
	is_int(count_entries(rt_cfg.profile_dir, "."), 0, "no temporary file left");
	rt_samples_free(&s);
}

int main(void)
{
	umask(022);
	sinkv = root_fn(1);
	ok(ra_in_mid > (uintptr_t)&mid_fn && ra_in_root > (uintptr_t)&root_fn,
	   "return addresses caught (past their functions' entries)");
	if (!mkdtemp(base)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	rt_cfg_parse(&rt_cfg, no_env, NULL, base, NULL); /* every default */
	have_python = t_have("python3");

	test_names();
	test_caps();
	test_dir();
	test_index();
	test_admit();
	test_slow_request();

	rm_rf(base);
	ok(!exists(base), "the test's directory removed");
	return done_testing();
}
