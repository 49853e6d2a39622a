/* profile_dir.h: the profile directory (OTSHIM_PROFILE_DIR) and how files reach it:
 * made on demand (mkdir -p, the last component 0700) or for the user a root process
 * becomes (emit/dir_owner.c decides when), whole files replaced through a
 * temporary name, lines appended with one write, its size for the disk cap. When
 * writing starts failing (an unwritable or vanished directory, a full disk,
 * RLIMIT_FSIZE, the descriptor limit) stderr gets one line, and one more when a whole
 * profile set is written again: never a line per request.
 * Context: the worker, the continuous thread, the exit path, and a host thread about
 * to leave root (thread-safe). */
#ifndef RT_PROFILE_DIR_H
#define RT_PROFILE_DIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/json.h"

/* The directory exists (made again if it was removed). 0, or -1 with errno. */
int rt_dir_ensure(void);
/* 1 when rt_dir_ensure made the directory in this process or in the one it was
 * forked from: a root-owned directory is then ours to give away. */
int rt_dir_made_here(void);
/* Root only: makes the missing directory (and its parents, 0755) already owned by
 * uid:gid, mode 0700, appearing whole under its name. 0 when made; -1 with errno,
 * EEXIST when it exists (perhaps made meanwhile by another process). */
int rt_dir_make_for(uid_t uid, gid_t gid);
/* Bytes in the directory's regular files. */
uint64_t rt_dir_bytes(void);
/* Into out[cap]: the directory joined with name. */
void rt_dir_path(char *out, size_t cap, const char *name);

/* Appends one line (one write on O_APPEND: pre-fork workers' lines never interleave;
 * a write the disk cut short is taken back). 0, or -1 with errno. */
int rt_dir_append(const char *name, const rt_json_t *line);
/* Replaces name with content, mode 0600, through a temporary file and rename. */
int rt_dir_replace(const char *name, const char *content, size_t len);
/* Removes name. 0, or -1. */
int rt_dir_remove(const char *name);

/* Writing failed: what (a file's description) could not be written, or, with what
 * NULL, the directory could not be made; err is the errno. */
void rt_dir_fault(const char *what, int err);
/* A whole profile set was written: a fault going on is over (and the note gone). */
void rt_dir_fault_over(void);
/* Why this process will be refused permission in the directory (NULL: no reason
 * known), told in the fault line of an EACCES or EPERM, which is then the only line. */
void rt_dir_fault_note(const char *note);

void rt_dir_fork_child(void);

#endif
