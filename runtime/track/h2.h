/* h2.h: pure, incremental HTTP/2 frame parser for both directions of one connection
 * (client frames the server reads, server frames it writes). It finds where streams
 * begin and end (HEADERS, END_STREAM, RST_STREAM, GOAWAY) and keeps the few header
 * fields the shim reports, HPACK-decoded by libnghttp2's inflater (one per direction,
 * its dynamic table bounded by the peer's SETTINGS_HEADER_TABLE_SIZE and by
 * RT_H2_TABLE_MAX). No I/O: bytes in, events out. Memory is fixed-size state plus the
 * inflaters' allocations, which are capped (RT_H2_HPACK_MEM_MAX), so it is bounded
 * whatever the input; anything over a limit is an error, after which the parser
 * consumes nothing more. Which streams are requests is track/h2_conn.c's business.
 *
 * Feeding convention (as track/http.h): rt_h2_feed() consumes bytes until all are
 * consumed or an event happens, returns the count consumed, and *ev says which event
 * (RT_H2_EV_NONE when it simply ran out of bytes). Events come after the last byte of
 * the frame that causes them. */
#ifndef RT_H2_H
#define RT_H2_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "track/http.h"

#define RT_H2_PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define RT_H2_PREFACE_LEN 24
#define RT_H2_TABLE_MAX     65536    /* largest HPACK dynamic table followed */
#define RT_H2_HPACK_MEM_MAX (512 * 1024) /* both inflaters' allocations together */
#define RT_H2_DECODED_MAX   65536    /* decoded bytes of one header block */

enum rt_h2_dir { RT_H2_CLIENT = 0, RT_H2_SERVER = 1 }; /* who sent the bytes */

enum rt_h2_event {
	RT_H2_EV_NONE = 0,
	RT_H2_EV_HEADERS,     /* a header block is complete on ev_sid (fields valid) */
	RT_H2_EV_END_STREAM,  /* a DATA frame with END_STREAM on ev_sid */
	RT_H2_EV_RST,         /* RST_STREAM on ev_sid */
	RT_H2_EV_GOAWAY,      /* GOAWAY; ev_sid is its last stream id */
	RT_H2_EV_ERROR,       /* see err; the connection is no longer followed */
};

enum rt_h2_error {
	RT_H2_ERR_NONE = 0,
	RT_H2_ERR_PREFACE,    /* the client's first bytes are not the preface */
	RT_H2_ERR_FRAME,      /* a frame breaks the framing rules (lengths, ids, order) */
	RT_H2_ERR_HPACK,      /* the header block does not decode */
	RT_H2_ERR_LIMIT,      /* over a limit: 8 KiB block, decoded size, table, memory */
};

/* One direction's frame reader. Private. */
typedef struct rt_h2_side {
	struct nghttp2_hd_inflater *inf;
	uint8_t state;              /* preface, frame header, payload prefix, body, padding */
	uint8_t hdr_len;
	uint8_t hdr[9];
	uint8_t type, flags;
	uint8_t pad;                /* padding bytes at the frame's end */
	uint8_t small_len, small_want; /* fixed fields being gathered into small[] */
	uint8_t small[8];
	uint32_t sid;
	uint32_t left;              /* payload bytes left (body part, before padding) */
	uint32_t table_now;         /* the inflater's current table limit */
	uint32_t table_next;        /* the limit to apply at the next block's start */
	/* header block in progress (HEADERS or PUSH_PROMISE, then CONTINUATION) */
	uint8_t in_block, block_end_stream, block_push, block_final;
	uint32_t block_sid, block_bytes, decoded;
} rt_h2_side_t;

typedef struct rt_h2 {
	rt_h2_side_t side[2];
	nghttp2_mem mem;            /* the inflaters keep a pointer to it: h must not move */
	size_t mem_used;            /* bytes the inflaters hold */
	uint8_t mem_refused;        /* an inflater allocation was refused */
	uint8_t err;                /* enum rt_h2_error, once RT_H2_EV_ERROR happened */

	/* public, valid at RT_H2_EV_* until the next feed */
	uint32_t ev_sid;
	uint8_t ev_end_stream;      /* RT_H2_EV_HEADERS: the block ends its stream */
	/* a client block's fields (method, path, query, traceparent, user agent) */
	rt_http_req_t req;
	/* a server block's fields */
	uint16_t status;            /* :status, 0 when absent */
	int16_t grpc_status;        /* grpc-status, -1 when absent */
} rt_h2_t;

/* Returns 0, or -1 when the inflaters could not be made. The client side starts by
 * expecting the preface. */
int rt_h2_init(rt_h2_t *h);
/* Frees the inflaters. */
void rt_h2_free(rt_h2_t *h);
/* buf NULL: len opaque bytes were sent (sendfile), valid only inside a payload that is
 * skipped (DATA, padding); elsewhere an error. */
size_t rt_h2_feed(rt_h2_t *h, int dir, const char *buf, size_t len, int *ev);

/* How many bytes of buf continue the preface after `matched` bytes of it: returns the
 * new match count (RT_H2_PREFACE_LEN: all of it), or -1 at the first differing byte. */
int rt_h2_preface_match(int matched, const char *buf, size_t len);

#endif
