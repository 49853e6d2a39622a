#!/usr/bin/env python3
"""png_check.py PNG BLANK: is the screenshot PNG (of report.html, by headless Chromium)
a real picture? Prints its size, colours, flame-coloured and dark (text) pixel shares
and file size against BLANK (a blank page's screenshot), then three 1|0 answers: it is
1200x1600; it has >= 50 colours, >= 3 % flame-coloured pixels and >= 0.2 % dark ones;
it is >= 10x the blank page's size. Reads 8-bit RGB(A) PNGs with the standard library."""
import os
import struct
import sys
import zlib


def png_rows(path):
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit RGB(A) PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    if depth != 8 or ctype not in (2, 6):
        raise ValueError("depth %d colour type %d" % (depth, ctype))
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, rows = zlib.decompress(b"".join(idat)), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride) if f else ():
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


w, h, bpp, rows = png_rows(sys.argv[1])
colours, flame, dark = set(), 0, 0
for row in rows:
    for x in range(0, w * bpp, bpp):
        r, g, b = row[x], row[x + 1], row[x + 2]
        colours.add((r, g, b))
        flame += r >= 200 and g <= 235 and b <= 60   # the CPU palette: reds, oranges, yellows
        dark += r + g + b < 200                        # text
size, blank = os.path.getsize(sys.argv[1]), os.path.getsize(sys.argv[2])
print("%dx%d, %d colours, %.1f %% flame-coloured, %.1f %% dark, %d bytes (blank page %d)"
      % (w, h, len(colours), 100 * flame / (w * h), 100 * dark / (w * h), size, blank))
print(int(w == 1200 and h == 1600), int(len(colours) >= 50 and flame >= 0.03 * w * h and dark >= 0.002 * w * h),
      int(size >= 10 * blank))
