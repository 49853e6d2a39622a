/* owned_fds.h: the descriptors the shim owns. Every descriptor the runtime opens for
 * itself (profile and index files, /proc reads, perf events, the pprof endpoint's
 * sockets, the symboliser's debug files) is registered here by number, so that a
 * service closing every descriptor (a daemon, closefrom) neither closes ours nor gets
 * its own reused numbers closed or written by us later. The interposers in shim/
 * consult the table through rt.h (rt_fd_owned, one byte load); the policy is here.
 *
 * A number's state: FREE, OWNED (ours, open), LENT (ours, closed by the library it
 * was handed to), or LOST: the service dup2'ed onto it, so the number is the
 * service's now and the owner must neither use nor close it; the owner's
 * rt_owned_fd_close then only forgets it.
 *
 * Context: any thread. Lock-free, no allocation: the interposers run these from any
 * host call, signal handlers included. Numbers >= RT_OWNED_FD_MAX are not tracked (they
 * behave as before this table: usable, unprotected). */
#ifndef RT_OWNED_FD_H
#define RT_OWNED_FD_H

#include <dirent.h>
#include <stdio.h>

#include "rt.h"

/* RT_OWNED_FD_OPEN(open(...)), around any call that returns a new descriptor for the
 * shim (open, socket, accept4, eventfd, perf_event_open, a library's opener): passes
 * a negative result through (errno kept); else makes the descriptor close-on-exec,
 * moves it above stdio (a daemon closes 0-2 and expects its next open to return 0)
 * and off any number a stale LOST entry names, and registers it. The number to use
 * (perhaps not the one opened), or -1 (closed, errno EMFILE). Any thread; the call
 * inside must not block for long (a service's close_range waits for it, boundedly). */
#define RT_OWNED_FD_OPEN(call) (rt_owned_fd_begin(), rt_owned_fd_opened(call))
void rt_owned_fd_begin(void);
int rt_owned_fd_opened(int fd);

/* The owner is done with fd: unregisters it, then closes it unless it was LOST
 * (then it is the service's and stays open). 0, or the real close's -1. */
int rt_owned_fd_close(int fd);

/* fd (registered) is handed to a library that closes it itself with close() (libdw
 * with a debug file): that close, on one of our threads, then unregisters it. Any
 * other close() from our threads of a registered number is refused: a library whose
 * own descriptor the service closed would otherwise close ours, reused. Returns fd. */
int rt_owned_fd_lend(int fd);

/* Unregisters fd without closing it: it turned out not to hold the owner's file. */
void rt_owned_fd_forget(int fd);

/* 1 while fd may be read or written by its owner (OWNED, or beyond the table); 0
 * once LOST. Checked before each write: a LOST number is the service's file. */
int rt_owned_fd_usable(int fd);

/* stdio (for reading: the shim's are /proc files) and dirent over owned descriptors:
 * open as fopen(path, "re")/opendir would and register; close unregisters first. A LOST stream or directory is leaked (its buffer, not its
 * number): fclose/closedir would close the service's descriptor. */
FILE *rt_owned_fd_fopen(const char *path);
int rt_owned_fd_fclose(FILE *f);
DIR *rt_owned_fd_opendir(const char *path);
int rt_owned_fd_closedir(DIR *d);
/* fgets that stops (NULL) once the stream's descriptor is LOST. */
char *rt_owned_fd_fgets(char *line, int n, FILE *f);

/* In a fork child (the forking thread, before any other runs): the fences reset. */
void rt_owned_fd_fork_child(void);

/* How many numbers are ours (OWNED or LENT) now (tests). */
unsigned rt_owned_fd_count(void);

#endif
