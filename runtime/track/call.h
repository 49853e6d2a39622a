/* call.h: one outbound call as tracking hands it on: an HTTP request the service made
 * on a connection it opened, or another exchange on one (a query, a command), or a
 * connect that failed. It is a client span's content (emit/span.c) and a share of the
 * serving request's downstream time (track/conn.c). Made by track/outbound.c.
 * Context: plain data, copied by value. */
#ifndef RT_CALL_H
#define RT_CALL_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "track/http.h"

#define RT_CALL_PATH_MAX  256 /* bytes of an outbound path kept */
#define RT_CALL_QUERY_MAX 128 /* bytes of its query kept (only with OTSHIM_RECORD_QUERY=1) */
#define RT_CALL_PEER_MAX  64  /* "ip:port", "[v6]:port" or a Unix path, as text */

enum { RT_CALL_HTTP = 1, RT_CALL_PEER = 2 };

/* The inbound request a call was made for: its connection (track/conn.c's handle,
 * never freed) and serial tell where its downstream time goes; the ids are its trace
 * and span, the call's parent. serial 0: made while no request was served. */
typedef struct rt_call_parent {
	uint64_t serial;
	void *owner;
	uint8_t trace_id[16], span_id[8];
	uint8_t flags;
} rt_call_parent_t;

/* Where a call went: the connected address (v4/v6; family AF_UNIX for a Unix
 * socket) and the same as text, for the index line. */
typedef struct rt_call_peer {
	union {
		sa_family_t family;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr;
	uint16_t port;
	char text[RT_CALL_PEER_MAX];
	uint8_t text_len;
	const char *db_system;        /* named by a well-known port ("postgresql"), or NULL */
} rt_call_peer_t;

typedef struct rt_call {
	rt_call_parent_t parent;
	uint8_t span_id[8];
	uint8_t kind;                 /* RT_CALL_HTTP or RT_CALL_PEER */
	uint8_t failed;               /* connect failed, or the answer was not HTTP/cut short */
	uint8_t is_head, injected;
	uint16_t status;              /* HTTP status, 0 when none was read */
	uint64_t start_mono_ns, end_mono_ns;
	char method[RT_HTTP_METHOD_MAX];
	uint8_t method_len;
	uint16_t path_len, query_len;
	char path[RT_CALL_PATH_MAX];
	char query[RT_CALL_QUERY_MAX];
	rt_call_peer_t peer;
} rt_call_t;

#endif
