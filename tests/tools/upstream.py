#!/usr/bin/env python3
"""upstream.py --port-file F [--out FILE] [--delay-ms N] [--answer MODE]: a raw HTTP/1.1
upstream for outbound.sh, written on sockets so that it sees the bytes exactly as sent.
Each request (head and Content-Length body) is appended to FILE as received, before it
is answered; answers are "ok" (Content-Length 2) after N ms. MODE makes hostile answers:
garbage (not HTTP), truncated (a head cut short, then close), bighead (a 1 MiB header),
shortbody (a body cut short, then close), redis (one "+PONG" line per line read)."""
import argparse
import socket
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--out")
ap.add_argument("--delay-ms", type=int, default=0)
ap.add_argument("--answer", default="ok")
args = ap.parse_args()
lock = threading.Lock()
out = open(args.out, "ab") if args.out else None

ANSWERS = {
    "ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "garbage": b"\x00\x01\x02 this is not http \xff\r\n\r\n",
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Len",
    "bighead": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok",
    "shortbody": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
}


def one_request(buf):
    """(request bytes, rest) when buf holds a whole request, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end + 4]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if len(buf) < end + 4 + length:
        return None
    return buf[:end + 4 + length], buf[end + 4 + length:]


def serve(c):
    buf = b""
    try:
        while True:
            data = c.recv(65536)
            if not data:
                return
            buf += data
            if args.answer == "redis":
                while b"\r\n" in buf:
                    _, buf = buf.split(b"\r\n", 1)
                    c.sendall(b"+PONG\r\n")
                continue
            while True:
                got = one_request(buf)
                if not got:
                    break
                req, buf = got
                if out:
                    with lock:
                        out.write(req)
                        out.flush()
                if args.delay_ms:
                    time.sleep(args.delay_ms / 1000)
                c.sendall(ANSWERS[args.answer])
                if args.answer != "ok":
                    return
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(args.port_file + ".tmp", args.port_file)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
