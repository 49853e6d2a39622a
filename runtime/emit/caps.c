/* caps.c: see caps.h. */
#include "emit/caps.h"

/* Profile sets taken in the current minute (per process: reset in a fork child). */
static uint64_t rate_minute;
static uint32_t rate_used;

int rt_caps_rate_take(uint64_t now_s, uint32_t per_min)
{
	uint64_t minute = now_s / 60;
	if (minute != rate_minute) {
		rate_minute = minute;
		rate_used = 0;
	}
	if (rate_used >= per_min)
		return 0;
	rate_used++;
	return 1;
}

int rt_caps_disk_allows(uint64_t dir_bytes, uint64_t max_mb)
{
	return dir_bytes < max_mb * 1024 * 1024;
}

void rt_caps_fork_child(void)
{
	rate_minute = 0;
	rate_used = 0;
}
