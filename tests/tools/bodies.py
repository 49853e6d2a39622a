#!/usr/bin/env python3
"""bodies.py: pipelined body transfers against tests/servers/srv_echo, for integrity.sh.

  bodies.py --port P --dir D [--seed S] [--n N]

Makes a few files of awkward sizes in D, then sends N requests on one connection in
one stream (a thread writes while the main thread reads, so neither side can block
the other): downloads of those files by every way srv_echo writes, echoes of
Content-Length and chunked bodies (odd chunk sizes, a chunk extension, a trailer)
and stores. Each response body is checked against the bytes it must be; each stored
file against what was sent. Prints "N requests, B body bytes, sha256 H" (H over all
response bodies in order, the same with and without the shim) and exits 0 only if
every byte matched."""
import argparse
import hashlib
import os
import random
import socket
import sys
import threading

HOWS = ["write", "writev", "send", "sendto", "sendmsg", "sendfile", "chunked"]
SIZES = [0, 1, 2, 4095, 4096, 65535, 65536, 65537, 300001]


def chunked(body, rng):
    out, i = [], 0
    while i < len(body):
        n = min(len(body) - i, rng.choice([1, 2, 7, 100, 4096, 65535, 70000]))
        ext = ";x=1" if rng.random() < 0.2 else ""
        out.append(b"%x%s\r\n" % (n, ext.encode()) + body[i:i + n] + b"\r\n")
        i += n
    trailer = b"X-Trailer: 1\r\n" if rng.random() < 0.5 else b""
    return b"".join(out) + b"0\r\n" + trailer + b"\r\n"


def read_exact(f, n):
    b = f.read(n)
    if len(b) != n:
        raise EOFError("short body: %d of %d" % (len(b), n))
    return b


def read_response(f):
    line = f.readline()
    if not line.startswith(b"HTTP/1.1 "):
        raise ValueError("bad status line %r" % line)
    status = int(line.split()[1])
    h = {}
    while True:
        l = f.readline()
        if l in (b"\r\n", b""):
            break
        k, _, v = l.decode("latin-1").partition(":")
        h[k.strip().lower()] = v.strip()
    if "chunked" in h.get("transfer-encoding", ""):
        parts = []
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                break
            parts.append(read_exact(f, size))
            read_exact(f, 2)
        return status, b"".join(parts)
    return status, read_exact(f, int(h.get("content-length", "0")))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--n", type=int, default=60)
    a = p.parse_args()
    rng = random.Random(a.seed)
    files = []
    for i, size in enumerate(SIZES):
        path = os.path.join(a.dir, "f%d" % i)
        data = rng.randbytes(size)
        with open(path, "wb") as f:
            f.write(data)
        files.append((path, data))
    reqs, expect, stores = [], [], []
    for i in range(a.n):
        kind = i % 4
        if kind == 0 or kind == 1:
            path, data = files[rng.randrange(len(files))]
            how = HOWS[(i // 2) % len(HOWS)]
            reqs.append(b"GET /file?how=%s&path=%s HTTP/1.1\r\nHost: t\r\n\r\n" % (how.encode(), path.encode()))
            expect.append(data)
        elif kind == 2:
            body = rng.randbytes(rng.choice(SIZES))
            if rng.random() < 0.5:
                reqs.append(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            else:
                reqs.append(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, rng))
            expect.append(body)
        else:
            body = rng.randbytes(rng.choice(SIZES))
            dest = os.path.join(a.dir, "stored%d" % i)
            te = rng.random() < 0.5
            head = b"POST /store?path=%s HTTP/1.1\r\nHost: t\r\n" % dest.encode()
            if te:
                reqs.append(head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, rng))
            else:
                reqs.append(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            expect.append(b"stored %d\n" % len(body))
            stores.append((dest, body))
    s = socket.create_connection(("127.0.0.1", a.port), timeout=60)
    sender = threading.Thread(target=s.sendall, args=(b"".join(reqs),))
    sender.start()
    f = s.makefile("rb")
    h, total, bad = hashlib.sha256(), 0, []
    for i, want in enumerate(expect):
        status, got = read_response(f)
        h.update(got)
        total += len(got)
        if status != 200 or got != want:
            bad.append("request %d: status %d, %d bytes, expected %d" % (i, status, len(got), len(want)))
    sender.join()
    s.close()
    for dest, body in stores:
        with open(dest, "rb") as g:
            if g.read() != body:
                bad.append("%s differs from the body sent" % dest)
    for b in bad[:10]:
        print(b, file=sys.stderr)
    print("%d requests, %d body bytes, sha256 %s" % (len(expect), total, h.hexdigest()))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
