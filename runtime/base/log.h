/* log.h: the shim's diagnostics on stderr, every line prefixed "otshim[PID]: ".
 * rt_log() is for normal (non-signal) context; rt_log_sigsafe() is the only thing a
 * signal handler may call. Levels follow OTSHIM_LOG. */
#ifndef RT_LOG_H
#define RT_LOG_H

enum { RT_LOG_ERROR = 0, RT_LOG_WARN = 1, RT_LOG_INFO = 2, RT_LOG_DEBUG = 3 };

/* Current threshold; lines above it are not printed. Set once by rt_cfg. */
extern int rt_log_level;

/* Any non-signal context. Formats into a stack buffer and emits one write(2), so
 * lines from several threads or processes never interleave. Rate-limited to a
 * burst of 100 lines then one per second, so a hostile input cannot flood stderr. */
void rt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Signal context: a constant message, written with one write(2). No formatting. */
void rt_log_sigsafe(const char *msg);

#endif
