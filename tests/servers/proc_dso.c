/* proc_dso.c: code that runs before main, for tests/integration/process.sh. Built two
 * ways from this one file:
 *   - by the Makefile, as the program proc_dso: its own constructor runs before main;
 *   - by process.sh, with -shared -fPIC -DPROC_DSO_LIB, as a library that is preloaded
 *     (so its constructor may run before the shim's) or dlopen'ed and dlclose'd over
 *     and over (proc_life dlstorm; dlsym finds proc_dso_ping).
 * The constructor allocates and frees. With PROC_DSO_THREAD=1 in the environment it
 * also starts a thread that lives on ("ctor-exe" or "ctor-dso"), keeps 256 KiB and
 * keeps allocating; without it, it makes a thread and joins it, which in a dlopen'ed
 * library happens under the loader's lock. The destructor frees what it kept.
 *
 * The program waits for SIGTERM (any thread may take it) after printing, sorted, the
 * names of its threads that begin with "ctor-"; then it prints "bye" and returns 0. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef PROC_DSO_LIB
#define THREAD_NAME "ctor-dso"
#else
#define THREAD_NAME "ctor-exe"
#endif

static void *kept;

/* Its own copy of common.c's nap_ms: built as a library by the tests themselves, this
 * file stands alone (common.c would add its globals and thread-local to the library
 * dlopen'ed over and over). */
static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

__attribute__((noinline)) static void *ctor_thread_main(void *arg)
{
	void *blocks[64];
	(void)arg;
	for (int i = 0; i < 64; i++) {
		blocks[i] = malloc(4096);
		if (blocks[i])
			memset(blocks[i], 1, 4096);
	}
	for (unsigned i = 0;; i++) {
		void *p = malloc(64 + i % 4096);
		free(p);
		nap_ms(5);
	}
	return blocks[0];
}

static void *short_thread(void *arg) { return malloc((size_t)(uintptr_t)arg); }

__attribute__((constructor)) static void proc_dso_ctor(void)
{
	kept = malloc(1000);
	free(malloc(100000));
	pthread_t t;
	const char *want = getenv("PROC_DSO_THREAD");
	if (want && strcmp(want, "1") == 0) {
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, ctor_thread_main, NULL) == 0)
			pthread_setname_np(t, THREAD_NAME);
		else
			fputs("proc_dso: pthread_create in a constructor failed\n", stderr);
		pthread_attr_destroy(&a);
	} else if (pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)48) == 0) {
		void *p = NULL;
		pthread_join(t, &p);
		free(p);
	}
}

__attribute__((destructor)) static void proc_dso_dtor(void)
{
	free(kept);
	kept = NULL;
}

int proc_dso_ping(void);
int proc_dso_ping(void)
{
	return kept ? 42 : -1;
}

#ifndef PROC_DSO_LIB
/* Set by the SIGTERM handler, read by every thread: atomic (lock-free, so safe in a
 * handler), where a plain sig_atomic_t would be a data race between threads. */
static _Atomic int stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void print_ctor_threads(void)
{
	char names[64][32], path[300];
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL && n < 64) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "re");
		if (f && fgets(names[n], sizeof names[n], f) && strncmp(names[n], "ctor-", 5) == 0) {
			names[n][strcspn(names[n], "\n")] = 0;
			n++;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof names[0], by_name);
	printf("threads started before main:");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
	fflush(stdout);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	print_ctor_threads();
	while (!stopping)
		nap_ms(20);
	printf("ping %d, bye\n", proc_dso_ping());
	return 0;
}
#endif
