/* init.h: start-up and shut-down order of the runtime. The constructor reads the
 * configuration and prepares tables and the signal handler; the background threads
 * (watchdog, worker) start lazily on the first accepted connection, so a process that
 * never serves (a shell, a build tool inheriting LD_PRELOAD) never gets them. fork is
 * handled with pthread_atfork; the child restarts its threads on its next accept. */
#ifndef RT_INIT_H
#define RT_INIT_H

/* True when the runtime is on and initialised; starts the background threads on
 * first call. Host-thread context, outside the reentrancy guard. */
int rt_init_ensure(void);
/* True when the runtime is on and initialised; starts nothing. Any thread. */
int rt_init_ready(void);

/* Our exit flush (the slow requests' last spans, queued spans, the final stats) runs
 * in our destructor, after every atexit handler. A library whose atexit handler tears
 * down what the flush needs (OpenSSL's cleanup, for an https exporter) calls this once
 * it has registered that handler: the flush is then also registered with atexit, so
 * it runs first (they run last-in, first-out), and only once. */
void rt_init_flush_before_atexit(void);

#endif
