/* libnghttp2.h: the HPACK decoder functions the HTTP/2 tracker calls, taken from
 * libnghttp2's own object. Called by name they would bind to the first definition in
 * the process, and a program that carries its own nghttp2 and exports it comes first
 * (Node.js does): our decoders would then run on the program's copy, which may be
 * another version than the headers we were built with, or, where that copy lacks one
 * of the functions, on two copies at once. So they are looked up once, at start, in
 * the library itself. Context: rt_libnghttp2_resolve at initialisation (it may load
 * the library); the table is read-only afterwards. */
#ifndef RT_LIBNGHTTP2_H
#define RT_LIBNGHTTP2_H

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

/* The decoding call of this libnghttp2: hd3 from 1.61 on (hd2 deprecated there). */
#if NGHTTP2_VERSION_NUM >= 0x013d00
#define RT_NGHTTP2_INFLATE nghttp2_hd_inflate_hd3
typedef nghttp2_ssize rt_nghttp2_ssize_t;
#else
#define RT_NGHTTP2_INFLATE nghttp2_hd_inflate_hd2
typedef ssize_t rt_nghttp2_ssize_t;
#endif

struct rt_libnghttp2 {
	__typeof__(nghttp2_hd_inflate_new2) *inflate_new2;
	__typeof__(nghttp2_hd_inflate_del) *inflate_del;
	__typeof__(RT_NGHTTP2_INFLATE) *inflate;
	__typeof__(nghttp2_hd_inflate_end_headers) *inflate_end_headers;
	__typeof__(nghttp2_hd_inflate_change_table_size) *inflate_change_table_size;
};

extern struct rt_libnghttp2 rt_nghttp2;

/* Fills rt_nghttp2 from libnghttp2. 0, or -1 when the library or one of its functions
 * cannot be had (HTTP/2 connections are then not tracked). Idempotent. */
int rt_libnghttp2_resolve(void);

/* 1 once rt_nghttp2 is filled. */
int rt_libnghttp2_ready(void);

#endif
