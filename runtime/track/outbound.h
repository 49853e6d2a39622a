/* outbound.h: what is known of a connection the service opened itself (connect): the
 * HTTP/1.x requests it writes on it (the server side's parsers, directions swapped:
 * track/http.c), the answers it reads, the calls in flight (pipelined ones queue), or,
 * for any other protocol, its exchanges (a write, then the reads answering it); and the
 * traceparent line owed to the stream when one was written only in part. Finished
 * calls and downstream time are handed back in an rt_out_done_t, for the caller
 * (track/conn.c) to deliver once it holds no lock.
 * Context: pure; the caller holds the connection's lock. No I/O, no allocation. */
#ifndef RT_OUTBOUND_H
#define RT_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "track/call.h"
#include "track/http.h"

#define RT_OUT_CALLS    8   /* requests in flight on one connection (pipelining) */
#define RT_OUT_LINE_MAX 80  /* "traceparent: 00-<32>-<16>-<2>\r\n" is 70 bytes */
#define RT_OUT_DS_MAX   4
#define RT_OUT_EDITS_MAX 8  /* heads edited in one call (pipelined requests) */

enum { RT_OUT_UNKNOWN = 0, RT_OUT_HTTP, RT_OUT_OTHER, RT_OUT_DEAD };

/* What a locked step produced, delivered unlocked: finished calls (a client span each,
 * and for HTTP calls and failed connects their time is downstream time), and
 * downstream time of other protocols, counted as their answers are read. */
typedef struct rt_out_done {
	rt_call_t calls[RT_OUT_CALLS + 1];
	int ncalls;
	struct {
		rt_call_parent_t parent;
		uint64_t ns;
		uint32_t calls;
	} ds[RT_OUT_DS_MAX];
	int nds;
	rt_call_peer_t peer;          /* of the connection, for the downstream entries */
	int skipped, injected;        /* stats: heads passed untouched / edited */
	uint32_t new_calls;           /* stats: calls begun */
} rt_out_done_t;

typedef struct rt_out {
	int mode;                     /* RT_OUT_* */
	int connecting;               /* a non-blocking connect not known to have completed */
	int record_query;
	rt_call_peer_t peer;
	uint64_t connect_ns;          /* when connect was called (0: used or unknown) */
	uint64_t connect_serial;      /* the request it was called for */
	/* HTTP */
	rt_http_req_t rq;
	rt_http_resp_t rs;
	int resp_fresh;
	rt_call_t q[RT_OUT_CALLS];    /* calls written, oldest first, awaiting their answer */
	unsigned qh, qn;
	int writing;                  /* the call whose request is being written, or -1 */
	uint64_t wr_pos;              /* service bytes fed to rq so far */
	int want_tp;                  /* propagation was wanted for the head being written */
	/* propagation */
	uint64_t inj_pos[RT_OUT_EDITS_MAX]; /* stream positions (service bytes) of the last
	                                     * insertions, a ring */
	unsigned inj_n;
	uint8_t next_span[RT_OUT_CALLS][8]; /* ids heads not yet begun were given in their
	                                     * lines, in stream order */
	unsigned next_h, next_n;
	char owed[RT_OUT_LINE_MAX];   /* the part of a line not yet sent */
	uint8_t owed_off, owed_len;
	/* other protocols */
	rt_call_t ex;                 /* the exchange in progress */
	int ex_open, ex_read;
	uint64_t ex_last_read_ns, ex_counted_ns;
} rt_out_t;

/* Whether a well-known port names a database or cache (db.system), else NULL. */
const char *rt_out_db_system(uint16_t port);
/* A call's span id, when no traceparent line of ours may carry it: only a client
 * span would, so without span export it is left zero, which saves every call the
 * randomness. */
void rt_out_call_span_id(uint8_t id[8]);
/* Fills peer from a connect address (family AF_INET, AF_INET6 or AF_UNIX). */
void rt_out_peer_set(rt_call_peer_t *peer, const struct sockaddr *a, socklen_t len);

/* A connection began: connect was called at now for parent (serial 0: none). */
void rt_out_init(rt_out_t *o, const struct sockaddr *a, socklen_t len, uint64_t now,
		 const rt_call_parent_t *parent, int record_query);
/* A connect that failed (at once, or later as SO_ERROR) as a call: the connection
 * is dead. Nothing is produced when no request was being served. */
void rt_out_connect_failed(rt_out_t *o, const rt_call_parent_t *parent, uint64_t now,
			   rt_out_done_t *d);

/* The service's first n bytes of iov (NULL: n opaque bytes, sendfile) went out; the
 * call began at t0 (before the system call), ended at now, for parent (NULL or serial
 * 0: no request served). propagate: a traceparent was wanted in heads. */
void rt_out_wrote(rt_out_t *o, const rt_call_parent_t *parent, int propagate,
		  const struct iovec *iov, int iovcnt, size_t n, uint64_t t0, uint64_t now,
		  rt_out_done_t *d);
/* n bytes of an answer were read at now. */
void rt_out_read(rt_out_t *o, const struct iovec *iov, int iovcnt, size_t n, uint64_t now,
		 rt_out_done_t *d);
/* The service closes the connection: calls still open end now. */
void rt_out_closing(rt_out_t *o, uint64_t now, rt_out_done_t *d);

/* ---- propagation ---- */

/* How to write the service's bytes: first the owed part of an earlier line, then the
 * service's bytes with line[k] inserted at offset at (in the service's bytes) of each
 * edit k, in order (nedits 0: unedited). Every line is line_len bytes. */
typedef struct rt_out_plan {
	char owed[RT_OUT_LINE_MAX];
	size_t owed_len;
	int nedits;
	size_t line_len;
	struct {
		size_t at;
		uint64_t pos;             /* stream position of the insertion */
		uint8_t span_id[8];
		int reserve;              /* span_id is for a head not begun yet */
		char line[RT_OUT_LINE_MAX];
	} e[RT_OUT_EDITS_MAX];
} rt_out_plan_t;

/* Plans the writing of the first n bytes of iov (the service's call) for parent
 * (NULL: none): a line goes into each head ending in these bytes when propagation is
 * on, the head has no traceparent, and its blank line begins within them. */
void rt_out_plan(rt_out_t *o, const rt_call_parent_t *parent, int propagate,
		 const struct iovec *iov, int iovcnt, size_t n, rt_out_plan_t *pl);
/* sent bytes of the owed part went out. */
void rt_out_owed_sent(rt_out_t *o, size_t sent);
/* The edited call wrote m >= 0 bytes to the stream: returns how many were the
 * service's (what its call returns) and keeps the line's unsent part owed. */
size_t rt_out_edit_sent(rt_out_t *o, const rt_out_plan_t *pl, size_t m, rt_out_done_t *d);

/* Writes "traceparent: 00-<trace>-<span>-<flags>\r\n" into out[RT_OUT_LINE_MAX];
 * returns its length. */
size_t rt_out_traceparent_line(char *out, const uint8_t trace_id[16], const uint8_t span_id[8],
			       uint8_t flags);

#endif
