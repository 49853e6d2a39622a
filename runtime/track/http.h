/* http.h: pure, incremental HTTP/1.x message-boundary parsers, one for the request
 * direction (bytes the server reads) and one for the response direction (bytes it
 * writes). They find where messages begin and end (keep-alive, pipelining,
 * Content-Length and chunked bodies, HEAD/1xx/204/304, 101 upgrade, close-delimited
 * bodies) and keep the few request fields the shim reports. No I/O, no allocation,
 * no globals: state is a fixed-size struct, so memory per connection is bounded
 * whatever the input. The connection logic that uses them lives in track/conn.c.
 *
 * Feeding convention: rt_http_*_feed() consumes bytes until it has consumed them all
 * or an event happens, whichever is first, and returns the count consumed; *ev says
 * which event (RT_HTTP_EV_NONE when it simply ran out of bytes). The caller loops
 * until RT_HTTP_EV_NONE (or an END with no bytes left), handling events as they come,
 * so one read holding several pipelined requests yields each request's events in
 * order; an event may come from a call given no bytes (the HEAD of a head read whole
 * with its BEGIN, the END of a message without a body). After RT_HTTP_EV_ERROR or
 * RT_HTTP_EV_UPGRADE the parser consumes nothing more. */
#ifndef RT_HTTP_H
#define RT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define RT_HTTP_METHOD_MAX      16   /* longer method tokens are not HTTP to us */
#define RT_HTTP_PATH_MAX        512  /* bytes of path kept; longer paths are truncated */
#define RT_HTTP_QUERY_MAX       512  /* bytes of query kept (after '?', without it) */
#define RT_HTTP_TRACEPARENT_MAX 64   /* bytes of the traceparent value kept */
#define RT_HTTP_UA_MAX          128  /* bytes of User-Agent kept */
#define RT_HTTP_HEADER_LIMIT    8192 /* a request head larger than this is an error */

enum rt_http_event {
	RT_HTTP_EV_NONE = 0,  /* ran out of input, nothing happened */
	RT_HTTP_EV_BEGIN,     /* a message began: returned after its first byte, or, when its
	                       * first line was complete in the buffer, after that line and
	                       * every whole header line that followed it (a HEAD the head's
	                       * end gave is then returned by the next call, with no byte) */
	RT_HTTP_EV_HEAD,      /* end of the header block: fields are valid now */
	RT_HTTP_EV_END,       /* last byte of the message consumed */
	RT_HTTP_EV_UPGRADE,   /* response: 101 head complete; the stream is no longer HTTP */
	RT_HTTP_EV_ERROR,     /* not HTTP/1.x, or a framing violation; stop tracking */
};

/* ---- request direction ---- */

/* Private state shared by both directions: where we are in the message, the header
 * being read, and body framing. */
typedef struct rt_http_state {
	uint8_t state;                /* position in the message grammar */
	uint8_t sub;                  /* index into a literal being matched */
	uint8_t hdr;                  /* which header the current value belongs to */
	uint8_t pending_head;         /* HEAD owed on the next feed call (then any END) */
	uint8_t pending_end;          /* END owed on the next feed call */
	uint8_t seen_tp, seen_te, begun;
	uint8_t name_len;             /* current header name, lowercased (0xff: too long) */
	char name[24];
	uint8_t win_len;              /* last bytes of a TE/Connection value, lowercased */
	char win[24];
	uint8_t conn_close, conn_keep;
	uint32_t head_bytes;          /* bytes of the current head so far */
	uint64_t cl;                  /* Content-Length being read */
	uint64_t remaining;           /* body or chunk bytes left */
} rt_http_state_t;

typedef struct rt_http_req {
	rt_http_state_t s;
	/* public, valid from RT_HTTP_EV_HEAD until the next RT_HTTP_EV_BEGIN */
	char method[RT_HTTP_METHOD_MAX];
	uint8_t method_len;
	uint8_t http_minor;           /* 0 or 1 */
	uint8_t is_head;              /* method is HEAD */
	uint8_t chunked;              /* Transfer-Encoding: chunked */
	uint8_t has_content_length;
	uint8_t conn_close;           /* Connection: close (or 1.0 without keep-alive) */
	uint8_t path_truncated;
	uint16_t path_len, query_len;
	char traceparent[RT_HTTP_TRACEPARENT_MAX]; /* raw, first occurrence, trimmed */
	uint8_t traceparent_len;      /* 0 when absent; never exceeds the buffer */
	uint8_t traceparent_overlong; /* value was longer than the buffer: treat as invalid */
	uint8_t user_agent_len;
	uint64_t content_length;
	/* Last: the strings only kept, never read back by the parser (a look-ahead copy
	 * stops before them). */
	char path[RT_HTTP_PATH_MAX];  /* request-target up to '?' */
	char query[RT_HTTP_QUERY_MAX];
	char user_agent[RT_HTTP_UA_MAX];
} rt_http_req_t;

void rt_http_req_init(rt_http_req_t *p);
/* Makes dst a copy of src to read ahead with: it parses what follows exactly as src
 * would, but the path, query and User-Agent src keeps are not copied (a look-ahead has
 * no use for them, and they are most of the struct). */
void rt_http_req_lookahead(rt_http_req_t *dst, const rt_http_req_t *src);
size_t rt_http_req_feed(rt_http_req_t *p, const char *buf, size_t len, int *ev);
/* Bytes of a Content-Length body still expected, 0 when not inside one: as many opaque
 * bytes (a client's sendfile of a body) rt_http_req_feed then takes with buf NULL. */
uint64_t rt_http_req_body_left(const rt_http_req_t *p);
/* The last byte fed was the CR of the blank line ending a head (its LF still to come):
 * every header of that head has been seen. */
int rt_http_req_in_blank_line(const rt_http_req_t *p);
/* The request line is complete and its header block is being read. */
int rt_http_req_in_header_block(const rt_http_req_t *p);

/* ---- response direction ---- */

typedef struct rt_http_resp {
	rt_http_state_t s;
	uint8_t expect_head;          /* set by rt_http_resp_expect() */

	/* public, valid from RT_HTTP_EV_HEAD */
	uint16_t status;              /* final status (1xx interim heads are skipped) */
	uint8_t chunked, has_content_length, conn_close, http_minor;
	uint64_t content_length;
	uint64_t body_bytes;          /* body bytes seen so far */
} rt_http_resp_t;

void rt_http_resp_init(rt_http_resp_t *p);
/* Tell the parser about the request this response answers, before its first byte:
 * a response to HEAD has no body whatever its headers say. */
void rt_http_resp_expect(rt_http_resp_t *p, int request_was_head);
/* buf may be NULL: then len opaque bytes were sent (sendfile), which is valid only
 * inside a body; elsewhere it yields RT_HTTP_EV_ERROR. 1xx interim responses (other
 * than 101) produce no events: the final response's BEGIN/HEAD/END follow. */
size_t rt_http_resp_feed(rt_http_resp_t *p, const char *buf, size_t len, int *ev);
/* The connection is closing: returns 1 if a response in progress is complete by
 * this close (a body delimited by connection close), else 0. */
int rt_http_resp_eof(const rt_http_resp_t *p);

#endif
