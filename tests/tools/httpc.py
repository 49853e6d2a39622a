#!/usr/bin/env python3
"""httpc.py: a raw-socket HTTP/1.1 client for the integration tests.

  keepalive --port P --n N [--path /]   N requests on one connection
  pipeline  --port P --n N [--path /]   N requests in one send, then N responses
  raw       --port P (--hex HEX | --random N | --text S)
                                        send bytes on a connection, then check that
                                        a normal request on a new connection works
  get       --port P --path /x [--header 'k: v' ...]
                                        one request; prints status and headers
  idle      --port P --req 'METHOD /path' ... --pause-ms MS [--show-last]
                                        the requests one by one on one connection,
                                        pausing MS after each answer; prints the count
                                        (--show-last: the last answer's status and
                                        headers instead, as get prints them)
Exits non-zero on any mismatch; prints a count or 'ok'."""
import argparse
import os
import random
import socket
import sys
import time


def read_response(f, head_request=False):
    """Reads one response from a buffered socket file; returns (status, headers, body).
    The answer to HEAD, and any 1xx, 204 or 304, has no body whatever its headers say."""
    line = f.readline()
    if not line:
        raise EOFError("connection closed before a response")
    parts = line.split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ValueError("not an HTTP/1.x status line: %r" % line)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = b""
    if head_request or status < 200 or status in (204, 304):
        return status, headers, body
    if "content-length" in headers:
        want = int(headers["content-length"])
        body = f.read(want)
        if len(body) != want:
            raise EOFError("body cut short: %d of %d bytes" % (len(body), want))
    elif headers.get("transfer-encoding", "").lower().endswith("chunked"):
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += f.read(size)
            f.readline()
    return status, headers, body


def request(path, extra=(), method="GET"):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: test"] + list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s, s.makefile("rb")


def cmd_keepalive(a):
    s, f = connect(a.port)
    for _ in range(a.n):
        s.sendall(request(a.path))
        st, _, _ = read_response(f)
        if st != 200:
            sys.exit("status %d" % st)
    s.close()
    print(a.n)


def cmd_pipeline(a):
    s, f = connect(a.port)
    s.sendall(request(a.path) * a.n)
    for i in range(a.n):
        st, _, _ = read_response(f)
        if st != 200:
            sys.exit("response %d: status %d" % (i, st))
    s.close()
    print(a.n)


def cmd_raw(a):
    if a.hex:
        data = bytes.fromhex(a.hex)
    elif a.text is not None:
        data = a.text.encode().decode("unicode_escape").encode("latin-1")
    else:
        data = random.Random(a.seed).randbytes(a.random)
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(data)
    s.settimeout(0.5)
    try:
        s.recv(65536)
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    s, f = connect(a.port)
    s.sendall(request("/"))
    st, _, body = read_response(f)
    if st != 200 or body != b"ok\n":
        sys.exit("server did not answer normally after raw bytes: %d %r" % (st, body))
    print("ok")


def cmd_get(a):
    s, f = connect(a.port)
    s.sendall(request(a.path, a.header))
    st, headers, _ = read_response(f)
    print("status", st)
    for k, v in headers.items():
        print("%s: %s" % (k, v))


def cmd_idle(a):
    s, f = connect(a.port)
    for r in a.req:
        method, path = r.split(" ", 1)
        s.sendall(request(path, a.header, method=method))
        st, headers, _ = read_response(f, head_request=(method == "HEAD"))
        if st >= 400:
            sys.exit("%s: status %d" % (r, st))
        time.sleep(a.pause_ms / 1000)
    s.close()
    if a.show_last:
        print("status", st)
        for k, v in headers.items():
            print("%s: %s" % (k, v))
    else:
        print(len(a.req))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("keepalive", "pipeline", "raw", "get", "idle"):
        sp = sub.add_parser(name)
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--n", type=int, default=1)
        sp.add_argument("--path", default="/")
        sp.add_argument("--header", action="append", default=[])
        sp.add_argument("--hex")
        sp.add_argument("--text")
        sp.add_argument("--random", type=int, default=64)
        sp.add_argument("--seed", type=int, default=os.getpid())
        sp.add_argument("--req", action="append", default=[])
        sp.add_argument("--pause-ms", type=int, default=0)
        sp.add_argument("--show-last", action="store_true")
    a = p.parse_args()
    try:
        globals()["cmd_" + a.cmd](a)
    except (OSError, EOFError, ValueError) as e:
        sys.exit("httpc %s: %s" % (a.cmd, e))


if __name__ == "__main__":
    main()
