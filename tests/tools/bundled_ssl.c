/* bundled_ssl.c: a process with two OpenSSLs, for tls.sh. A library that bundles its
 * own libssl (as Python wheels do: libpq beside libssl-<hash>.so.1.1) must keep
 * reaching its own under the shim, whose unversioned SSL_read would otherwise take
 * its calls and hand them to the system's libssl, which would read the bundled
 * library's SSL objects as its own. Built three ways by tls.sh:
 *   -DFAKE_SSL     libssl-fake.so.1.1: SSL_read, SSL_write, SSL_free with the symbol
 *                  version OPENSSL_1_1_0 (as the real 1.1 has), over objects of its
 *                  own layout, which abort() if they are not theirs;
 *   -DFAKE_CLIENT  libfakeclient.so, linked with it, calling them;
 *   (neither)      the program: loads the system's libssl.so.3 globally, then the
 *                  client locally (as Python loads extension modules), runs it and
 *                  prints what the bundled SSL_read returned.
 * Without the shim the symbol versions send the client to its own libssl; with it,
 * the output must be the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_MAGIC 0x5eed1e55u

struct fake_ssl {
	unsigned magic;
	int writes;
};

#if defined(FAKE_SSL)

struct fake_ssl *fake_ssl_new(void);
int SSL_read(struct fake_ssl *s, void *buf, int num);
int SSL_write(struct fake_ssl *s, const void *buf, int num);
void SSL_free(struct fake_ssl *s);

struct fake_ssl *fake_ssl_new(void)
{
	struct fake_ssl *s = calloc(1, sizeof *s);
	if (s)
		s->magic = FAKE_MAGIC;
	return s;
}

static void mine(const struct fake_ssl *s)
{
	if (!s || s->magic != FAKE_MAGIC)
		abort();
}

int SSL_read(struct fake_ssl *s, void *buf, int num)
{
	mine(s);
	int n = num < 7 ? num : 7;
	memcpy(buf, "bundled", (size_t)n);
	return n;
}

int SSL_write(struct fake_ssl *s, const void *buf, int num)
{
	(void)buf;
	mine(s);
	s->writes++;
	return num;
}

void SSL_free(struct fake_ssl *s)
{
	mine(s);
	s->magic = 0;
	free(s);
}

#elif defined(FAKE_CLIENT)

struct fake_ssl *fake_ssl_new(void);
int SSL_read(struct fake_ssl *s, void *buf, int num);
int SSL_write(struct fake_ssl *s, const void *buf, int num);
void SSL_free(struct fake_ssl *s);
int fake_client_run(char *out, int len);

int fake_client_run(char *out, int len)
{
	struct fake_ssl *s = fake_ssl_new();
	if (!s)
		return -1;
	int n = SSL_read(s, out, len);
	if (SSL_write(s, "GET / HTTP/1.1\r\n\r\n", 18) != 18 || s->writes != 1)
		n = -1;
	SSL_free(s);
	return n;
}

#else

#include <dlfcn.h>

int main(int argc, char **argv)
{
	char out[16];
	if (argc < 2)
		return 2;
	if (!dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL)) {
		printf("no libssl.so.3\n");
		return 77;
	}
	void *client = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	int (*run)(char *, int) = client ? (int (*)(char *, int))dlsym(client, "fake_client_run") : NULL;
	if (!run) {
		printf("cannot load %s: %s\n", argv[1], dlerror());
		return 2;
	}
	int n = run(out, (int)sizeof out);
	if (n < 0)
		return 1;
	printf("%.*s\n", n, out);
	return 0;
}

#endif
