/* caps.h: the limits on what slow requests may write: OTSHIM_MAX_PROFILES_PER_MIN
 * profile sets per minute per process, and OTSHIM_MAX_DISK_MB for the whole profile
 * directory. A set refused here is counted as dropped, with its reason, by the caller.
 * Context: the worker (one thread). */
#ifndef RT_CAPS_H
#define RT_CAPS_H

#include <stdint.h>

/* Takes one of this minute's profile sets: 1, or 0 when the minute's are used up.
 * now_s is the unix time. */
int rt_caps_rate_take(uint64_t now_s, uint32_t per_min);
/* 1 when a directory of dir_bytes may still be written to. */
int rt_caps_disk_allows(uint64_t dir_bytes, uint64_t max_mb);

void rt_caps_fork_child(void);

#endif
