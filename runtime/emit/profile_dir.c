/* profile_dir.c: see profile_dir.h. */
#include "emit/profile_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/libc.h"
#include "base/log.h"
#include "base/owned_fds.h"
#include "base/stats.h"
#include "base/util.h"

void rt_dir_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", rt_cfg.profile_dir, name);
}

/* ---- faults: one line when writing starts failing, one when it works again ----
 * Only a complete set ends a fault: the small stats file or CPU profile may fit where
 * the rest does not, and must not make the lines flap. */

static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
static int fault_err;          /* errno of the fault going on; 0: none */
static uint64_t fault_dropped; /* profiles dropped when it began */
static char fault_note[512];   /* why permission will be refused, when known; "": not */

void rt_dir_fault_note(const char *note)
{
	pthread_mutex_lock(&fault_mu);
	snprintf(fault_note, sizeof fault_note, "%s", note ? note : "");
	pthread_mutex_unlock(&fault_mu);
}

void rt_dir_fault(const char *what, int err)
{
	pthread_mutex_lock(&fault_mu);
	if (err != fault_err) {
		if (!fault_err)
			fault_dropped = rt_stat_get(RT_STAT_DROPPED);
		/* The note explains a refusal; a full disk is not one. */
		int noted = fault_note[0] && (err == EACCES || err == EPERM);
		if (what)
			rt_log(RT_LOG_WARN, "cannot write %s in the profile directory %s: %s%s%s%s; "
			       "profiles are dropped (counted in the stats) until one can be written "
			       "again", what, rt_cfg.profile_dir, strerror(err), noted ? " (" : "",
			       noted ? fault_note : "", noted ? ")" : "");
		else
			rt_log(RT_LOG_WARN, "cannot create the profile directory %s: %s%s%s%s; profiles "
			       "are dropped (counted in the stats) until one can be written again",
			       rt_cfg.profile_dir, strerror(err), noted ? " (" : "",
			       noted ? fault_note : "", noted ? ")" : "");
		fault_err = err;
	}
	pthread_mutex_unlock(&fault_mu);
}

void rt_dir_fault_over(void)
{
	pthread_mutex_lock(&fault_mu);
	if (fault_err) {
		rt_log(RT_LOG_WARN, "profiles are written to %s again (%llu dropped meanwhile)",
		       rt_cfg.profile_dir,
		       (unsigned long long)(rt_stat_get(RT_STAT_DROPPED) - fault_dropped));
		fault_err = 0;
	}
	fault_note[0] = 0;
	pthread_mutex_unlock(&fault_mu);
}

/* ---- the directory ---- */

/* Set when this process, or the one it was forked from, made the directory. */
static _Atomic int made_here;

int rt_dir_made_here(void)
{
	return atomic_load(&made_here);
}

/* The parents of path (mkdir -p's, 0755); with exact, the ones made here get 0755
 * whatever the umask, so that the user a directory is made for can reach it. */
static int make_parents(char *path, int exact)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/' || !p[1]) /* a trailing '/' is the last component's */
			continue;
		*p = 0;
		int rc = mkdir(path, 0755);
		if (rc == 0 && exact)
			rc = chmod(path, 0755);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* mkdir -p, the last component 0700; parents get 0755 like mkdir -p would. A
 * directory removed while the service runs is made again ("created if missing"),
 * and stderr says so: whoever removed it may not expect it back. */
int rt_dir_ensure(void)
{
	static _Atomic int had_it; /* worker, continuous thread and exit path */
	const char *dir = rt_cfg.profile_dir;
	char path[RT_CFG_PATH_MAX];
	struct stat st;
	if (stat(dir, &st) == 0) {
		errno = ENOTDIR;
		if (!S_ISDIR(st.st_mode))
			return -1;
		had_it = 1;
		return 0;
	}
	if (had_it && errno == ENOENT) {
		had_it = 0;
		rt_log(RT_LOG_WARN, "the profile directory %s was removed; making it again", dir);
	}
	snprintf(path, sizeof path, "%s", dir);
	if (make_parents(path, 0) != 0)
		return -1;
	/* Claimed before the mkdir: a child forked by another thread in between must
	 * not find the directory root's and think it someone else's. */
	int was = atomic_exchange(&made_here, 1);
	if (mkdir(path, 0700) != 0) {
		made_here = was;
		if (errno != EEXIST)
			return -1;
	}
	had_it = 1;
	return 0;
}

/* Made under a temporary name beside it, given away, then renamed into place without
 * replacing anything: a sibling worker doing the same at the same moment sees either
 * no directory or one that is already the new user's, never root's. */
int rt_dir_make_for(uid_t uid, gid_t gid)
{
	char path[RT_CFG_PATH_MAX], tmp[RT_CFG_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s", rt_cfg.profile_dir);
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = 0;
	char *last = strrchr(path, '/');
	if (!last || !last[1] || !strcmp(last + 1, ".") || !strcmp(last + 1, "..")) {
		errno = EINVAL;
		return -1;
	}
	if (make_parents(path, 1) != 0)
		return -1;
	snprintf(tmp, sizeof tmp, "%.*s/.%s.otshim-%d", (int)(last - path), path, last + 1,
		 (int)getpid());
	rmdir(tmp); /* left by a process that died here, with our pid */
	if (mkdir(tmp, 0700) != 0)
		return -1;
	int rc = chmod(tmp, 0700) == 0 && chown(tmp, uid, gid) == 0 ? 0 : -1;
	if (rc == 0) {
		rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
		/* A file system (or kernel) without RENAME_NOREPLACE: rename replaces only
		 * an empty directory, which can only be one just made the same way. */
		if (rc != 0 && (errno == EINVAL || errno == ENOSYS))
			rc = rename(tmp, path);
		if (rc != 0 && errno == ENOTEMPTY)
			errno = EEXIST;
	}
	if (rc != 0) {
		int saved = errno;
		rmdir(tmp);
		errno = saved;
	}
	return rc;
}

uint64_t rt_dir_bytes(void)
{
	uint64_t total = 0;
	DIR *d = rt_owned_fd_opendir(rt_cfg.profile_dir);
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	rt_owned_fd_closedir(d);
	return total;
}

/* ---- files ---- */

/* The directory may be another user's (the workers', handed over by a root master):
 * whatever is in it is then theirs to plant, and root must follow no link of theirs
 * nor wait on a FIFO. A file root creates there goes to the directory's owner, since
 * that user's processes append to the same file. */
static int open_append(const char *path)
{
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = RT_OWNED_FD_OPEN(open(path, flags));
	if (fd >= 0 || errno != ENOENT)
		return fd;
	fd = RT_OWNED_FD_OPEN(open(path, flags | O_CREAT | O_EXCL, 0600));
	if (fd < 0 && errno == EEXIST) /* another process made it meanwhile */
		return RT_OWNED_FD_OPEN(open(path, flags));
	struct stat d;
	if (fd >= 0 && geteuid() == 0 && stat(rt_cfg.profile_dir, &d) == 0 && d.st_uid != 0 &&
	    fchown(fd, d.st_uid, d.st_gid) != 0)
		(void)0; /* root's then: the other user's lines are lost, with a fault line */
	return fd;
}

int rt_dir_append(const char *name, const rt_json_t *line)
{
	char path[RT_CFG_PATH_MAX + 64];
	struct stat st;
	rt_dir_path(path, sizeof path, name);
	int fd = open_append(path);
	if (fd < 0)
		return -1;
	int rc = -1;
	errno = EINVAL; /* not a regular file */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    rt_fsize_allows((unsigned long long)st.st_size + line->len) == 0 &&
	    rt_owned_fd_usable(fd)) {
		ssize_t w, w2 = 0;
		while ((w = REAL(write)(fd, line->p, line->len)) < 0 && errno == EINTR)
			;
		/* Cut short: the rest, once, which either goes too or says why not. */
		if (w > 0 && (size_t)w < line->len)
			while ((w2 = REAL(write)(fd, line->p + w, line->len - (size_t)w)) < 0 && errno == EINTR)
				;
		rc = w >= 0 && w2 >= 0 && (size_t)w + (size_t)w2 == line->len ? 0 : -1;
		if (rc != 0 && w > 0) {
			int saved = w2 < 0 ? errno : ENOSPC;
			off_t end = lseek(fd, 0, SEEK_CUR), mine = w + (w2 > 0 ? w2 : 0);
			if (end >= mine && fstat(fd, &st) == 0 && st.st_size == end &&
			    ftruncate(fd, end - mine) != 0)
				(void)0; /* nothing more to be done */
			errno = saved;
		} else if (rc != 0 && w == 0) {
			errno = ENOSPC;
		}
	}
	int saved = errno;
	rt_owned_fd_close(fd);
	errno = saved;
	return rc;
}

int rt_dir_replace(const char *name, const char *content, size_t len)
{
	char path[RT_CFG_PATH_MAX + 64], tmp[RT_CFG_PATH_MAX + 96];
	rt_dir_path(path, sizeof path, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", rt_cfg.profile_dir, name);
	if (rt_fsize_allows(len) != 0)
		return -1;
	/* A new file, never one found under the name (a link or FIFO planted in a
	 * directory another user owns, a leftover of someone else's). */
	unlink(tmp);
	int fd = RT_OWNED_FD_OPEN(open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
	if (fd < 0)
		return -1;
	int rc = rt_write_all(fd, content, len);
	if (rt_owned_fd_close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == 0)
		return 0;
	int saved = errno;
	unlink(tmp);
	errno = saved;
	return -1;
}

int rt_dir_remove(const char *name)
{
	char path[RT_CFG_PATH_MAX + 64];
	rt_dir_path(path, sizeof path, name);
	return unlink(path);
}

void rt_dir_fork_child(void)
{
	pthread_mutex_init(&fault_mu, NULL);
	fault_err = 0;
}
