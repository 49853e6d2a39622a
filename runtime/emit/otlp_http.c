/* otlp_http.c: the exporters' HTTP client over a dlopen'ed libcurl (see emit/otlp_http.h).
 * One easy handle per client keeps its connection alive between batches. */
#include "emit/otlp_http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "base/cfg.h"
#include "base/owned_fds.h"


/* Told once libcurl and its TLS library are set up (boot: the exit flush must then
 * run before OpenSSL's own atexit clean-up). */
static void (*tls_ready_hook)(void);

void rt_otlp_http_on_tls_ready(void (*fn)(void))
{
	tls_ready_hook = fn;
}

/* OpenSSL's flag (openssl/crypto.h), not included: its headers need not be here. */
#define OPENSSL_INIT_NO_ATEXIT 0x00080000ull

/* ---- libcurl, loaded once ---- */

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} curl;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static const char *curl_problem = "not loaded";

#define LOAD(field, sym)                                             \
	do {                                                         \
		*(void **)&curl.field = dlsym(lib, sym);            \
		if (!curl.field) {                                   \
			curl_problem = "libcurl lacks " sym;         \
			return;                                      \
		}                                                    \
	} while (0)

static void curl_load(void)
{
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		curl_problem = "cannot load libcurl.so.4 (install libcurl4)";
		return;
	}
	LOAD(global_init, "curl_global_init");
	LOAD(easy_init, "curl_easy_init");
	LOAD(easy_setopt, "curl_easy_setopt");
	LOAD(easy_perform, "curl_easy_perform");
	LOAD(easy_getinfo, "curl_easy_getinfo");
	LOAD(easy_strerror, "curl_easy_strerror");
	LOAD(easy_cleanup, "curl_easy_cleanup");
	LOAD(slist_append, "curl_slist_append");
	LOAD(slist_free_all, "curl_slist_free_all");
	/* OpenSSL frees its state in an atexit handler, and those all run before any
	 * library's destructor, ours with its exit flush among them: a flush over https
	 * then used freed memory (SIGSEGV at exit). Asked before its first use, here,
	 * OpenSSL registers no such handler. If the service initialised it earlier, its
	 * handler is in already: then our flush goes into atexit too, after it, and so
	 * runs before it. (libcurl built on GnuTLS has no such symbol: nothing to do.) */
	int (*openssl_init)(uint64_t, const void *) =
		(int (*)(uint64_t, const void *))dlsym(lib, "OPENSSL_init_crypto");
	if (openssl_init)
		openssl_init(OPENSSL_INIT_NO_ATEXIT, NULL);
	/* Not CURL_GLOBAL_ALL's signal handling: we never let curl touch signals. */
	if (curl.global_init(CURL_GLOBAL_SSL) != CURLE_OK) {
		curl_problem = "curl_global_init failed";
		return;
	}
	if (tls_ready_hook)
		tls_ready_hook();
	curl_problem = NULL;
}

/* ---- the client ---- */

struct rt_otlp_http {
	CURL *easy;
	struct curl_slist *headers;
	int gzip;
	char errbuf[CURL_ERROR_SIZE];
	uint8_t *zbuf;
	size_t zcap;
};

typedef struct header_ctx {
	struct curl_slist *list;
	int failed;
} header_ctx_t;

static void add_header(const char *key, const char *value, void *arg)
{
	header_ctx_t *h = arg;
	char line[1400];
	snprintf(line, sizeof line, "%s: %s", key, value);
	struct curl_slist *l = curl.slist_append(h->list, line);
	if (l)
		h->list = l;
	else
		h->failed = 1;
}

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p, (void)arg;
	return size * n;
}

/* A TLS file named in the configuration must be readable now, or we say which. */
static int tls_files_ok(const rt_cfg_otlp_t *cfg, char *err, size_t errcap)
{
	const char *files[] = { cfg->ca_file, cfg->client_cert, cfg->client_key };
	for (size_t i = 0; i < 3; i++)
		if (files[i][0] && access(files[i], R_OK) != 0) {
			snprintf(err, errcap, "cannot read %s (%s)", files[i], strerror(errno));
			return 0;
		}
	return 1;
}

static void set_tls(CURL *e, const rt_cfg_otlp_t *cfg)
{
	if (cfg->ca_file[0])
		curl.easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->client_cert[0])
		curl.easy_setopt(e, CURLOPT_SSLCERT, cfg->client_cert);
	if (cfg->client_key[0])
		curl.easy_setopt(e, CURLOPT_SSLKEY, cfg->client_key);
}

/* Curl's connection sockets are the shim's (base/owned_fds.c): a service closing every
 * descriptor leaves them open, and its numbers are never closed by curl. Curl's other
 * descriptors (the threaded resolver's wake-up pair, TLS files read) are its own. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)arg, (void)purpose;
	return RT_OWNED_FD_OPEN(socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol));
}

static int close_socket(void *arg, curl_socket_t fd)
{
	(void)arg;
	return rt_owned_fd_close(fd);
}

rt_otlp_http_t *rt_otlp_http_new(const char *url, const rt_cfg_otlp_t *cfg, char *err,
				 size_t errcap)
{
	return rt_otlp_http_new_with(url, cfg, cfg->headers, "application/x-protobuf", cfg->gzip,
				     err, errcap);
}

rt_otlp_http_t *rt_otlp_http_new_with(const char *url, const rt_cfg_otlp_t *cfg,
				      const char *headers, const char *content_type, int gzip,
				      char *err, size_t errcap)
{
	pthread_once(&curl_once, curl_load);
	if (curl_problem) {
		snprintf(err, errcap, "%s", curl_problem);
		return NULL;
	}
	if (!tls_files_ok(cfg, err, errcap))
		return NULL;
	rt_otlp_http_t *h = calloc(1, sizeof *h);
	header_ctx_t hc = { NULL, 0 };
	if (!h || !(h->easy = curl.easy_init()))
		goto fail;
	rt_cfg_kv_parse(headers, add_header, &hc);
	add_header("Content-Type", content_type, &hc);
	if (gzip)
		add_header("Content-Encoding", "gzip", &hc);
	add_header("Expect", "", &hc); /* no 100-continue round trip for large batches */
	h->headers = hc.list;
	if (hc.failed)
		goto fail;
	h->gzip = gzip;
	CURL *e = h->easy;
	curl.easy_setopt(e, CURLOPT_URL, url);
	curl.easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
	curl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->timeout_ms);
	set_tls(e, cfg);
	/* Signals belong to the service: no SIGALRM for timeouts, no SIGPIPE games. */
	curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
	curl.easy_setopt(e, CURLOPT_USERAGENT, "otshim-otlp/0.1");
	curl.easy_setopt(e, CURLOPT_POST, 1L);
	curl.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl.easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	return h;
fail:
	snprintf(err, errcap, "cannot set up the HTTP client (out of memory)");
	rt_otlp_http_free(h);
	return NULL;
}

void rt_otlp_http_set_url(rt_otlp_http_t *h, const char *url)
{
	curl.easy_setopt(h->easy, CURLOPT_URL, url);
}

void rt_otlp_http_free(rt_otlp_http_t *h)
{
	if (!h)
		return;
	if (h->easy)
		curl.easy_cleanup(h->easy);
	if (h->headers)
		curl.slist_free_all(h->headers);
	free(h->zbuf);
	free(h);
}

/* gzip-compresses in[0..n) into h->zbuf. Returns the length, or 0 on failure. */
static size_t compress_body(rt_otlp_http_t *h, const uint8_t *in, size_t n)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	size_t need = deflateBound(&z, (uLong)n);
	if (need > h->zcap) {
		uint8_t *p = realloc(h->zbuf, need);
		if (!p) {
			deflateEnd(&z);
			return 0;
		}
		h->zbuf = p;
		h->zcap = need;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = h->zbuf;
	z.avail_out = (uInt)h->zcap;
	int rc = deflate(&z, Z_FINISH);
	size_t out = rc == Z_STREAM_END ? z.total_out : 0;
	deflateEnd(&z);
	return out;
}

int rt_otlp_http_post(rt_otlp_http_t *h, const uint8_t *body, size_t len, long *retry_after_s,
		      char *err, size_t errcap)
{
	*retry_after_s = -1;
	if (h->gzip) {
		size_t z = compress_body(h, body, len);
		if (!z) {
			snprintf(err, errcap, "cannot gzip the batch");
			return 0;
		}
		body = h->zbuf;
		len = z;
	}
	h->errbuf[0] = 0;
	curl.easy_setopt(h->easy, CURLOPT_POSTFIELDS, (const char *)body);
	curl.easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	CURLcode rc = curl.easy_perform(h->easy);
	if (rc != CURLE_OK) {
		snprintf(err, errcap, "%s", h->errbuf[0] ? h->errbuf : curl.easy_strerror(rc));
		return 0;
	}
	long status = 0;
	curl_off_t after = -1;
	curl.easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	/* curl reports 0 when the answer had no Retry-After. */
	if (curl.easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
		*retry_after_s = (long)after;
	if (status <= 0)
		snprintf(err, errcap, "no HTTP status in the answer");
	return (int)status;
}
