/* thread_fail.c: pthread_create calls that fail, printing what each returned and the
 * errno it left, so a test can compare the output with and without the shim. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>

static void *nothing(void *arg) { return arg; }

static void attempt(const char *what, const pthread_attr_t *attr)
{
	pthread_t t;
	errno = 1234;
	int rc = pthread_create(&t, attr, nothing, NULL);
	int e = errno;
	if (rc == 0)
		pthread_join(t, NULL);
	printf("%s: rc=%d errno=%d\n", what, rc, e);
}

int main(void)
{
	pthread_attr_t a;
	/* A stack no machine can map. */
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, (size_t)1 << 46);
	attempt("huge stack", &a);
	pthread_attr_destroy(&a);
	/* An explicit real-time policy with a priority out of range. */
	pthread_attr_init(&a);
	pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&a, SCHED_FIFO);
	struct sched_param sp = { .sched_priority = 1000 };
	pthread_attr_setschedparam(&a, &sp);
	attempt("bad priority", &a);
	pthread_attr_destroy(&a);
	/* No address space left for a new stack. */
	struct rlimit rl = { 64 << 20, 64 << 20 };
	setrlimit(RLIMIT_AS, &rl);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 128 << 20);
	attempt("address-space limit", &a);
	pthread_attr_destroy(&a);
	attempt("default attributes after all that", NULL);
	return 0;
}
