/* stats_file.h: otshim-stats-<pid>.json, rewritten whole (temporary file and rename)
 * by the worker every 10 s and once more at exit. The document is base/stats.c's; the
 * per-thread and per-connection values are gathered here. Thread-safe. */
#ifndef RT_STATS_FILE_H
#define RT_STATS_FILE_H

/* Rewrites the stats file. */
void rt_stats_file_write(void);
/* The same at exit; when no stats file can be written, the counts go to stderr in
 * one line. */
void rt_stats_file_final(void);

void rt_stats_file_fork_child(void);

#endif
