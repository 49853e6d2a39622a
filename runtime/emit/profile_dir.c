/* profile_dir.c: see profile_dir.h. */
#include "emit/profile_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

void rt_dir_fault(const char *what, int err)
{
	pthread_mutex_lock(&fault_mu);
	if (err != fault_err) {
		if (!fault_err)
			fault_dropped = rt_stat_get(RT_STAT_DROPPED);
		if (what)
			rt_log(RT_LOG_WARN, "cannot write %s in the profile directory %s: %s; profiles "
			       "are dropped (counted in the stats) until one can be written again",
			       what, rt_cfg.profile_dir, strerror(err));
		else
			rt_log(RT_LOG_WARN, "cannot create the profile directory %s: %s; profiles are "
			       "dropped (counted in the stats) until one can be written again",
			       rt_cfg.profile_dir, strerror(err));
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
	pthread_mutex_unlock(&fault_mu);
}

/* ---- the directory ---- */

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
	for (char *p = path + 1; *p; p++) {
		if (*p != '/' || !p[1]) /* a trailing '/' is the last component's */
			continue;
		*p = 0;
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	had_it = 1;
	return 0;
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

int rt_dir_append(const char *name, const rt_json_t *line)
{
	char path[RT_CFG_PATH_MAX + 64];
	struct stat st;
	rt_dir_path(path, sizeof path, name);
	int fd = RT_OWNED_FD_OPEN(open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
	if (fd < 0)
		return -1;
	int rc = -1;
	if (fstat(fd, &st) == 0 && rt_fsize_allows((unsigned long long)st.st_size + line->len) == 0 &&
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
	int fd = RT_OWNED_FD_OPEN(open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
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
