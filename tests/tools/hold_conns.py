#!/usr/bin/env python3
"""hold_conns.py N PORT READY RELEASE NSLOW: opens N connections to 127.0.0.1:PORT.
With NSLOW > 0 it sends NSLOW slow requests (GET /sleep?ms=100) one by one on the
first connections, with 0 one GET / on every connection, with -1 none. Then it writes
how many were answered 200 to READY (whole, through a temporary name) and holds every
connection until the file RELEASE exists (60 s at most)."""
import os
import resource
import socket
import sys
import time


def answer(s):
    """1 if the response read from s is a 200, 0 if the peer closed first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            return 0
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    want = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < want:
        body += s.recv(4096)
    return int(head.startswith(b"HTTP/1.1 200"))


def main():
    n, port, ready, release, nslow = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    ok = 0
    try:
        if nslow > 0:
            for s in socks[:nslow]:
                s.settimeout(10)
                s.sendall(b"GET /sleep?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
                ok += answer(s)
        elif nslow == 0:
            for s in socks:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            for s in socks:
                s.settimeout(10)
                ok += answer(s)
    except (OSError, ValueError, IndexError) as e:
        print("hold:", e, file=sys.stderr)
    open(ready + ".tmp", "w").write("%d\n" % ok)
    os.rename(ready + ".tmp", ready)
    for _ in range(1200):
        if os.path.exists(release):
            break
        time.sleep(0.05)


main()
