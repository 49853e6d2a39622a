/* dir_owner.c: see dir_owner.h. */
#include "emit/dir_owner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"
#include "base/cfg.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "emit/profile_dir.h"

/* The drop this thread is making, between before and after. */
static __thread struct {
	int on;    /* a drop from root is under way */
	int noted; /* a reason for refusal is already known */
	uid_t uid;
} drop __attribute__((tls_model("initial-exec")));

/* The effective uid the call leaves, when it leaves no id 0 (a drop for good); else
 * (uid_t)-1. A temporary switch (seteuid, or a saved id kept 0) gives nothing away:
 * a daemon reading a user's file as that user must not hand that user its profiles. */
static uid_t dropped_to(int call, uid_t r, uid_t e, uid_t s)
{
	const uid_t keep = (uid_t)-1;
	uid_t cr, ce, cs;
	if (getresuid(&cr, &ce, &cs) != 0 || ce != 0)
		return keep;
	uid_t nr = r == keep ? cr : r, ne = e == keep ? ce : e, ns;
	if (call == RT_SETUID) /* privileged: all three */
		nr = ne = ns = r;
	else if (call == RT_SETREUID) /* the saved id follows a new effective one */
		ns = r != keep || (e != keep && e != cr) ? ne : cs;
	else
		ns = s == keep ? cs : s;
	return nr && ne && ns && ne != keep ? ne : keep;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	rt_dir_fault_note(buf);
	drop.noted = 1;
}

/* index.jsonl, when root made it: the new user appends to it from now on. Opened
 * without following a link or waiting on a FIFO, and given away only when it is a
 * plain file of root's with no other name: the directory may have been that user's
 * already, and root must not give away a file planted there. */
static void give_index(uid_t uid, gid_t gid)
{
	char path[RT_CFG_PATH_MAX + 16];
	struct stat st;
	rt_dir_path(path, sizeof path, "index.jsonl");
	int fd = RT_OWNED_FD_OPEN(open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && st.st_nlink == 1 &&
	    fchown(fd, uid, gid) != 0)
		note("index.jsonl is root's and could not be given to uid %u: %s", (unsigned)uid,
		     strerror(errno));
	rt_owned_fd_close(fd);
}

/* The directory becomes uid's, or the note says why not. */
static void hand_over(uid_t uid, gid_t gid)
{
	const char *dir = rt_cfg.profile_dir;
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT) {
			note("it could not be looked at before this process became uid %u: %s",
			     (unsigned)uid, strerror(errno));
			return;
		}
		if (rt_dir_make_for(uid, gid) == 0) {
			rt_log(RT_LOG_INFO, "made the profile directory %s for uid %u", dir, (unsigned)uid);
			return;
		}
		if (errno != EEXIST || stat(dir, &st) != 0) {
			note("it could not be made for uid %u, which this process became: %s",
			     (unsigned)uid, strerror(errno));
			return;
		}
	}
	if (!S_ISDIR(st.st_mode))
		return; /* the writer says so: not a directory */
	if (st.st_uid == 0 && rt_dir_made_here()) {
		if (chown(dir, uid, gid) != 0 || chmod(dir, 0700) != 0) {
			note("it could not be given to uid %u, which this process became: %s",
			     (unsigned)uid, strerror(errno));
			return;
		}
		rt_log(RT_LOG_INFO, "gave the profile directory %s to uid %u", dir, (unsigned)uid);
	} else if (st.st_uid == 0) {
		note("this process became uid %u, and the directory is root's but was not made "
		     "by this service: remove it, and otshim makes it for that user, or chown it "
		     "to %u", (unsigned)uid, (unsigned)uid);
		return;
	} else if (st.st_uid != uid) {
		note("this process became uid %u, and the directory is uid %u's: give each user "
		     "its own OTSHIM_PROFILE_DIR", (unsigned)uid, (unsigned)st.st_uid);
		return;
	}
	give_index(uid, gid);
}

void rt_dir_owner_before(int call, uid_t r, uid_t e, uid_t s)
{
	uid_t uid = dropped_to(call, r, e, s);
	drop.on = 0;
	if (uid == (uid_t)-1)
		return;
	drop.on = 1;
	drop.noted = 0;
	drop.uid = uid;
	/* The group in force now is the one the process keeps: it changes its group
	 * before its user, while it still may. */
	hand_over(uid, getegid());
}

void rt_dir_owner_after(void)
{
	const char *dir = rt_cfg.profile_dir;
	struct stat st;
	if (!drop.on)
		return;
	drop.on = 0;
	/* The real ids are the new user's now, so access() asks for that user. */
	if (drop.noted || access(dir, W_OK | X_OK) == 0 || errno == ENOENT)
		return;
	if (stat(dir, &st) != 0 && errno == EACCES)
		note("uid %u, which this process became, cannot reach it: a directory above it "
		     "is closed to that user", (unsigned)drop.uid);
	else
		note("uid %u, which this process became, may not write it", (unsigned)drop.uid);
}
