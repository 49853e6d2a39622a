/* shim_cred.c: setuid, setreuid and setresuid, the calls by which a service started
 * as root hands its work to another user (nginx, Apache, php-fpm, uwsgi and gunicorn
 * workers). The runtime hears of the call before it is made: once the process is no
 * longer root it cannot give the profile directory away (emit/dir_owner.c decides).
 * The group calls are not interposed: a group grants nothing on a 0700 directory of
 * 0600 files, and a process can only change its group while still root, so the group
 * in force at the uid change is the final one. glibc's setuid makes every thread
 * follow, through its own signal; the public symbol is what services call. */
#include "shim.h"

#include <errno.h>
#include <unistd.h>

/* After a call that succeeded: the runtime looks at what the new user can reach. */
static int shim_uid_changed(int rc)
{
	if (rc == 0) {
		int saved = errno;
		rt_on_uid_changed();
		errno = saved;
	}
	return rc;
}

SHIM_EXPORT int setuid(uid_t uid)
{
	int saved = errno;
	rt_on_uid_change(RT_SETUID, uid, uid, uid);
	errno = saved;
	return shim_uid_changed(REAL(setuid)(uid));
}

SHIM_EXPORT int setreuid(uid_t r, uid_t e)
{
	int saved = errno;
	rt_on_uid_change(RT_SETREUID, r, e, (uid_t)-1);
	errno = saved;
	return shim_uid_changed(REAL(setreuid)(r, e));
}

SHIM_EXPORT int setresuid(uid_t r, uid_t e, uid_t s)
{
	int saved = errno;
	rt_on_uid_change(RT_SETRESUID, r, e, s);
	errno = saved;
	return shim_uid_changed(REAL(setresuid)(r, e, s));
}
