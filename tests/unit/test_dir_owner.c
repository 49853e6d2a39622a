/* test_dir_owner.c: the profile directory when a root process becomes another user
 * (emit/dir_owner.c, with profile_dir.c's making, appending and replacing). Needs
 * root; each switch runs in a child, which then writes what a worker writes; the
 * parent, still root, looks at owners, modes and the child's stderr. Covered: a
 * missing directory made for the new user (0700, its group; parents 0755; nothing
 * left beside it) and written by it; one this process made as root given away in a
 * fork child, index.jsonl with it; one that was root's before, or another user's,
 * left alone, with one fault line naming the reason; switches that keep a root id
 * (setresuid with a saved 0, setreuid of the effective id only) give nothing; a
 * setreuid of both does; a directory above closed to the new user, said in the fault
 * line; index.jsonl planted as a symlink or a second link to root's file not given
 * away; root appending to a new index.jsonl in the user's directory gives it the
 * file; a link planted at the stats file's temporary name not followed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "rt.h"
#include "base/cfg.h"
#include "base/json.h"
#include "base/log.h"
#include "emit/dir_owner.h"
#include "emit/profile_dir.h"

#define USER 65534u  /* nobody */
#define OTHER 1u     /* daemon */

static char base[] = "/tmp/otshim-test-dir-owner-XXXXXX";

static void set_dir(const char *sub)
{
	snprintf(rt_cfg.profile_dir, sizeof rt_cfg.profile_dir, "%s/%s", base, sub);
}

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", base, name);
}

static int owner_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (int)st.st_uid : -1;
}

static int group_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (int)st.st_gid : -1;
}

static int mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(s, f);
	return fclose(f);
}

/* What a worker does with the directory once it is another user: 0 when everything
 * was written, else the step that failed (a fault line on stderr says why). */
static int worker_writes(void)
{
	rt_json_t line = { 0 };
	rt_json_put(&line, "{\"w\":1}\n", 8);
	if (rt_dir_ensure() != 0) {
		rt_dir_fault(NULL, errno);
		return 1;
	}
	if (rt_dir_append("index.jsonl", &line) != 0) {
		rt_dir_fault("index.jsonl", errno);
		return 2;
	}
	if (rt_dir_replace("otshim-stats-1.json", "{}", 2) != 0) {
		rt_dir_fault("otshim-stats-1.json", errno);
		return 3;
	}
	rt_json_free(&line);
	return 0;
}

/* Forks; the child sends stderr to base/<name>.err, switches (gid first, as nginx
 * does, when gid != -1) through the hooks the setuid interposer calls, then, if it
 * is no longer root, writes as a worker. Returns the child's exit status: 0, the
 * failing worker step, 90+ for a switch that failed. */
enum { BY_SETUID, BY_SETREUID, BY_SETRESUID };
static int as_child(const char *name, gid_t gid, int call, uid_t r, uid_t e, uid_t s)
{
	char err[4400];
	path_in(err, sizeof err, name);
	strcat(err, ".err");
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		if (gid != (gid_t)-1 && setgid(gid) != 0)
			_exit(90);
		int rc;
		if (call == BY_SETUID) {
			rt_dir_owner_before(RT_SETUID, r, r, r);
			rc = setuid(r);
		} else if (call == BY_SETREUID) {
			rt_dir_owner_before(RT_SETREUID, r, e, (uid_t)-1);
			rc = setreuid(r, e);
		} else {
			rt_dir_owner_before(RT_SETRESUID, r, e, s);
			rc = setresuid(r, e, s);
		}
		if (rc != 0)
			_exit(91);
		rt_dir_owner_after();
		_exit(geteuid() ? worker_writes() : 0);
	}
	int st = 0;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* The child's stderr. */
static char *err_of(const char *name)
{
	char p[4400];
	size_t len;
	path_in(p, sizeof p, name);
	strcat(p, ".err");
	char *s = t_read_file(p, &len);
	return s ? s : strdup("");
}

/* The child's lines, as TAP comments. */
static void show(const char *e)
{
	for (const char *p = e; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		diag("%.*s", n, p);
		p += n + (nl != NULL);
	}
}

static int lines_of(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- a missing directory, made for the new user ---- */

static void test_missing(void)
{
	char top[4400], mid[4400], beside[4500], f[4400];
	set_dir("new/deeper/prof");
	path_in(top, sizeof top, "new");
	path_in(mid, sizeof mid, "new/deeper");
	is_int(as_child("missing", USER, BY_SETUID, USER, 0, 0), 0,
	       "setgid then setuid to nobody, the directory missing: the worker writes its files");
	is_int(owner_of(rt_cfg.profile_dir), (int)USER, "the directory is the new user's");
	is_int(group_of(rt_cfg.profile_dir), (int)USER, "with the group the process had set");
	is_int(mode_of(rt_cfg.profile_dir), 0700, "mode 0700");
	ok(owner_of(top) == 0 && mode_of(top) == 0755 && owner_of(mid) == 0 && mode_of(mid) == 0755,
	   "its parents: root's, 0755 (%o %o)", mode_of(top), mode_of(mid));
	snprintf(f, sizeof f, "%s/index.jsonl", rt_cfg.profile_dir);
	ok(owner_of(f) == (int)USER && mode_of(f) == 0600, "index.jsonl: the worker's, 0600");
	snprintf(f, sizeof f, "%s/otshim-stats-1.json", rt_cfg.profile_dir);
	ok(owner_of(f) == (int)USER && mode_of(f) == 0600, "the stats file: the worker's, 0600");
	snprintf(beside, sizeof beside, "ls -a '%s' | grep -c otshim", mid);
	int st;
	char *out = t_command(beside, &st);
	is_str(out, "0\n", "no temporary directory left beside it");
	free(out);
	char *e = err_of("missing");
	is_str(e, "", "nothing on stderr");
	free(e);
}

/* ---- made here as root, given away in a fork child ---- */

static void test_made_here(void)
{
	char idx[4400];
	set_dir("mine");
	snprintf(idx, sizeof idx, "%s/index.jsonl", rt_cfg.profile_dir);
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) { /* the "master": makes the directory and an index line as root */
		rt_json_t line = { 0 };
		rt_json_put(&line, "{\"m\":1}\n", 8);
		if (rt_dir_ensure() != 0 || rt_dir_append("index.jsonl", &line) != 0)
			_exit(80);
		_exit(as_child("mine", USER, BY_SETUID, USER, 0, 0));
	}
	int st = 0;
	waitpid(p, &st, 0);
	is_int(WIFEXITED(st) ? WEXITSTATUS(st) : 99, 0,
	       "a root process makes the directory and index.jsonl; its fork child becomes nobody and writes");
	ok(owner_of(rt_cfg.profile_dir) == (int)USER && mode_of(rt_cfg.profile_dir) == 0700,
	   "the directory was given to the new user, 0700");
	ok(owner_of(idx) == (int)USER && mode_of(idx) == 0600, "index.jsonl with it, still 0600");
	size_t len;
	char *s = t_read_file(idx, &len);
	is_str(s, "{\"m\":1}\n{\"w\":1}\n", "index.jsonl holds root's line, then the worker's");
	free(s);
}

/* ---- directories that are not ours to give ---- */

static void test_not_ours(void)
{
	set_dir("roots");
	ok(mkdir(rt_cfg.profile_dir, 0700) == 0, "a directory made by root beforehand (as by hand)");
	is_int(as_child("roots", USER, BY_SETUID, USER, 0, 0), 2,
	       "the worker cannot append to index.jsonl there");
	ok(owner_of(rt_cfg.profile_dir) == 0 && mode_of(rt_cfg.profile_dir) == 0700,
	   "the directory stays root's, 0700");
	char *e = err_of("roots");
	is_int(lines_of(e), 1, "one line on stderr");
	ok(strstr(e, "Permission denied") && strstr(e, "is root's but was not made by this service") &&
		   strstr(e, "chown it to 65534"),
	   "it says why and what to do");
	show(e);
	free(e);

	set_dir("others");
	ok(mkdir(rt_cfg.profile_dir, 0700) == 0 && chown(rt_cfg.profile_dir, OTHER, OTHER) == 0,
	   "a directory of another user (daemon)");
	is_int(as_child("others", USER, BY_SETUID, USER, 0, 0), 2, "the worker cannot write there");
	is_int(owner_of(rt_cfg.profile_dir), (int)OTHER, "the directory stays the other user's");
	e = err_of("others");
	ok(lines_of(e) == 1 && strstr(e, "is uid 1's: give each user its own OTSHIM_PROFILE_DIR"),
	   "one line, naming its owner");
	show(e);
	free(e);
}

/* ---- which switches give the directory away ---- */

static void test_switches(void)
{
	set_dir("saved-root");
	ok(as_child("saved-root", (gid_t)-1, BY_SETRESUID, USER, USER, 0) != 0,
	   "setresuid(nobody, nobody, 0): the worker is refused");
	ok(owner_of(rt_cfg.profile_dir) == -1, "a saved uid kept 0 gives nothing: no directory made");
	set_dir("euid-only");
	as_child("euid-only", (gid_t)-1, BY_SETREUID, (uid_t)-1, USER, 0);
	ok(owner_of(rt_cfg.profile_dir) == -1, "setreuid(-1, nobody) gives nothing either");
	set_dir("reuid");
	is_int(as_child("reuid", (gid_t)-1, BY_SETREUID, USER, USER, 0), 0,
	       "setreuid(nobody, nobody): the worker writes");
	ok(owner_of(rt_cfg.profile_dir) == (int)USER && group_of(rt_cfg.profile_dir) == 0,
	   "the directory is nobody's, with the group kept (root's)");
	set_dir("resuid");
	is_int(as_child("resuid", USER, BY_SETRESUID, USER, USER, USER), 0,
	       "setresuid(nobody, nobody, nobody): the worker writes");
	is_int(owner_of(rt_cfg.profile_dir), (int)USER, "the directory is nobody's");
}

/* ---- a directory above closed to the new user ---- */

static void test_closed_above(void)
{
	char closed[4400];
	path_in(closed, sizeof closed, "closed");
	ok(mkdir(closed, 0700) == 0, "a root directory, 0700, above the profile directory");
	set_dir("closed/prof");
	ok(as_child("closed", USER, BY_SETUID, USER, 0, 0) != 0, "the worker cannot write");
	char *e = err_of("closed");
	ok(lines_of(e) == 1 && strstr(e, "cannot reach it: a directory above it is closed"),
	   "one line saying a directory above is closed to it");
	show(e);
	free(e);
}

/* ---- files planted in the user's directory ---- */

static void test_planted(void)
{
	char victim[4400], victim2[4400], idx[4400], tmp[4400], made[4400];
	path_in(victim, sizeof victim, "victim");
	path_in(victim2, sizeof victim2, "victim2");
	set_dir("planted");
	snprintf(idx, sizeof idx, "%s/index.jsonl", rt_cfg.profile_dir);
	ok(write_file(victim, "root's\n") == 0 && chmod(victim, 0600) == 0 &&
		   mkdir(rt_cfg.profile_dir, 0700) == 0 &&
		   chown(rt_cfg.profile_dir, USER, USER) == 0 && symlink(victim, idx) == 0,
	   "the user's directory, index.jsonl in it a symlink to a root file");
	as_child("planted-link", USER, BY_SETUID, USER, 0, 0);
	ok(owner_of(victim) == 0 && mode_of(victim) == 0600, "the linked file stays root's");
	ok(unlink(idx) == 0 && write_file(victim2, "root's\n") == 0 && link(victim2, idx) == 0,
	   "index.jsonl a second link to a root file");
	as_child("planted-hard", USER, BY_SETUID, USER, 0, 0);
	is_int(owner_of(victim2), 0, "that file stays root's");

	/* Root writing into the user's directory (a master that serves too). */
	set_dir("shared");
	snprintf(idx, sizeof idx, "%s/index.jsonl", rt_cfg.profile_dir);
	snprintf(tmp, sizeof tmp, "%s/.state.json.tmp", rt_cfg.profile_dir);
	snprintf(made, sizeof made, "%s/state.json", rt_cfg.profile_dir);
	rt_json_t line = { 0 };
	rt_json_put(&line, "{\"r\":1}\n", 8);
	ok(mkdir(rt_cfg.profile_dir, 0700) == 0 && chown(rt_cfg.profile_dir, USER, USER) == 0,
	   "a directory of the workers' user");
	is_int(rt_dir_append("index.jsonl", &line), 0, "root appends the first index line");
	ok(owner_of(idx) == (int)USER && mode_of(idx) == 0600,
	   "index.jsonl, made by root, is the directory owner's (0600): its workers append too");
	rt_json_free(&line);
	ok(symlink(victim, tmp) == 0, "a symlink planted at the stats file's temporary name");
	is_int(rt_dir_replace("state.json", "new", 3), 0, "root replaces the file all the same");
	size_t len;
	char *s = t_read_file(victim, &len);
	is_str(s, "root's\n", "the linked file is untouched");
	free(s);
	ok(owner_of(made) == 0 && mode_of(made) == 0600, "the new file is root's (its writer), 0600");
}

int main(void)
{
	if (geteuid() != 0)
		skip_all("needs root: the directory is handed over by a root process becoming another user");
	if (!mkdtemp(base))
		skip_all("no temporary directory");
	chmod(base, 0755); /* the new user must reach what is made in it */
	rt_log_level = RT_LOG_WARN;
	test_missing();
	test_made_here();
	test_not_ours();
	test_switches();
	test_closed_above();
	test_planted();
	char cmd[4400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		diag("could not remove %s", base);
	return done_testing();
}
