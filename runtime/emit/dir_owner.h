/* dir_owner.h: who owns the profile directory when a service started as root hands
 * its work to another user (nginx's, Apache's, php-fpm's, uwsgi's or gunicorn's
 * workers). Just before a call that drops root for good (no user id left 0), the
 * directory becomes the new user's, 0700: made for it when missing, or given to it
 * when this process, or the one it was forked from, made it as root; index.jsonl,
 * which every process appends to, goes with it. A directory that was root's before
 * (someone's choice) or is another user's is never taken: what the new user will be
 * refused, and why, becomes the note of the one fault line (emit/profile_dir.c).
 * Profiles and stats files stay their writer's, 0600.
 * Context: the host thread changing its user, inside the reentrancy guard. No lock is
 * held when these return, so none is held across the real call. */
#ifndef RT_DIR_OWNER_H
#define RT_DIR_OWNER_H

#include <sys/types.h>

/* Before setuid (call RT_SETUID), setreuid or setresuid with the ids asked for
 * ((uid_t)-1: unchanged; rt.h). Does nothing unless the process is root now and the
 * call, if it succeeds, leaves it root no more. */
void rt_dir_owner_before(int call, uid_t r, uid_t e, uid_t s);
/* After that call succeeded: whether the new user can reach and write the directory. */
void rt_dir_owner_after(void);

#endif
