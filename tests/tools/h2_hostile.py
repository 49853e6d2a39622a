#!/usr/bin/env python3
"""h2_hostile.py PORT CASE: one hostile HTTP/2 (h2c) client connection, then reads what
the server answers until it closes or is quiet for 1 s. Prints the number of response
HEADERS frames the server sent (frames parsed from its bytes).

CASE: badlen   a SETTINGS frame of 5 bytes
      bomb     an HPACK bomb: one 4000-byte header added to the table, then referred
               to 4000 times in one block (1 byte each)
      garbage  random bytes after the preface
      streams  10000 GET /fast streams written at once (stream ids 1, 3, ...)"""
import random
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def hstr(s):
    assert len(s) < 127
    return bytes([len(s)]) + s


def hint(first, nbits, v):
    mx = (1 << nbits) - 1
    if v < mx:
        return bytes([first | v])
    out = bytearray([first | mx])
    v -= mx
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    out.append(v)
    return bytes(out)


def get_block(path):
    # :method GET, :scheme http, :path (literal, not indexed), :authority localhost
    return b"\x82\x86" + b"\x04" + hstr(path) + b"\x01" + hstr(b"localhost")


def main():
    port, case = int(sys.argv[1]), sys.argv[2]
    out = bytearray(PREFACE + frame(4, 0, 0, b""))
    if case == "badlen":
        out += frame(4, 0, 0, b"\x00\x01\x00\x00\x00")
    elif case == "bomb":
        block = b"\x40" + hstr(b"x-bomb") + hint(0, 7, 4000) + b"b" * 4000
        block += b"\xbe" * 4000  # index 62, the entry just added
        out += frame(1, 5, 1, block)
    elif case == "garbage":
        out += os.urandom(4096)
    elif case == "streams":
        for i in range(10000):
            out += frame(1, 5, 2 * i + 1, get_block(b"/fast"))
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(1)
    try:
        s.sendall(out)
    except OSError:
        pass
    data = bytearray()
    end = time.time() + 20
    while time.time() < end:
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        data += b
    s.close()
    heads, off = 0, 0
    while off + 9 <= len(data):
        n = int.from_bytes(data[off:off + 3], "big")
        heads += data[off + 3] == 1
        off += 9 + n
    print(heads)


main()
