/* hex.h: bytes as lowercase hex, the only form in which ids reach a file name, a label
 * or a span. */
#ifndef RT_HEX_H
#define RT_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lowercase hex chars and a NUL into out (size >= 2*n+1). */
void rt_hex_encode(const uint8_t *in, size_t n, char *out);

/* Reads exactly 2*n hex chars (either case) of s into out[n]. 0, or -1 when s is not
 * that (too short, too long, or another char); out is then unspecified. */
int rt_hex_decode(const char *s, uint8_t *out, size_t n);

#endif
