/* endpoint.h: the Go-compatible /debug/pprof endpoint, served by one thread
 * of ours on OTSHIM_PPROF_ADDR, for any process. Serves the index, heap, allocs,
 * threads (alias goroutine), threadcreate, cmdline and the whole-process CPU profile
 * (profile?seconds=N); ?debug=N gives Go's text forms of heap, allocs, goroutine,
 * threads and threadcreate (rt_pprof_text). Its connections are ours: never tracked as
 * requests, never sampled. Loopback only unless OTSHIM_PPROF_ALLOW_REMOTE=1.
 * Context: start-up (rt_endpoint_start), then its own thread. */
#ifndef RT_ENDPOINT_H
#define RT_ENDPOINT_H

/* Binds and starts the listener when OTSHIM_PPROF_ADDR is set. Problems (a bad or
 * remote address, a port in use) are one warning each; the service runs on. */
void rt_endpoint_start(void);

#endif
