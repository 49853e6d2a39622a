/* hex.h: bytes as lowercase hex, the only form in which ids reach a file name, a label
 * or a span. */
#ifndef RT_HEX_H
#define RT_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lowercase hex chars and a NUL into out (size >= 2*n+1). */
void rt_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
