#!/usr/bin/env python3
"""tls_client.py: a TLS client for tls.sh whose every encrypted byte it sends itself
(ssl.SSLObject over memory buffers), so it can write records in pieces, stop halfway
through one, or follow the handshake with garbage. Certificates are not verified.

  requests --port P --n N [--path /x] [--chunk C] [--delay S] [--split] [--slow-read]
        N keep-alive GETs of PATH (default /) on one connection, each ciphertext write
        sent C bytes at a time (default: all at once) with S seconds between pieces;
        --split makes each request byte its own TLS record; --slow-read takes the
        answers 4 KiB a millisecond, so that a big one fills the server's socket buffer
        (SSL_write then wants to write). Checks every answer is a 200 with its body whole.
  midrecord --port P    handshake, then half an application-data record, then close
  garbage --port P      handshake, then 64 random bytes that are no TLS record, then close
  plaintext --port P --hex HEX
                        handshake, then HEX as encrypted plaintext; reads what comes
                        back until the server closes or 2 s pass, then closes
  hello --port P        half a ClientHello, then close
Exits non-zero when the server misbehaves (a request not answered 200)."""
import argparse
import os
import socket
import ssl
import sys
import time


class Conn:
    def __init__(self, port, chunk, delay, slow_read=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=False)
        self.chunk, self.delay = chunk, delay
        self.recv_size = 4096 if slow_read else 65536
        self.slow_read = slow_read

    def flush(self):
        data = self.out.read()
        step = self.chunk or len(data) or 1
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if self.delay and i + step < len(data):
                time.sleep(self.delay)

    def pump(self):
        if self.slow_read:
            time.sleep(0.001)
        data = self.sock.recv(self.recv_size)
        if not data:
            raise EOFError("server closed the connection")
        self.inc.write(data)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.pump()

    def write(self, data, split=False):
        for piece in ([data[i:i + 1] for i in range(len(data))] if split else [data]):
            self.obj.write(piece)
            if split:
                self.flush()
                if self.delay:
                    time.sleep(self.delay)
        self.flush()

    def read(self, n=65536):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                self.flush()
                self.pump()

    def response(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.read()
            if not data:
                raise EOFError("server closed the TLS session")
            buf += data
        head, _, body = buf.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            data = self.read()
            if not data:
                raise EOFError("server closed the TLS session")
            body += data
        return status

    def close(self):
        self.sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=0)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--slow-read", action="store_true")
    ap.add_argument("--path", default="/")
    ap.add_argument("--hex", default="")
    a = ap.parse_args()
    c = Conn(a.port, a.chunk, a.delay, a.slow_read)
    if a.mode == "hello":
        try:
            c.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = c.out.read()
        c.sock.sendall(hello[:len(hello) // 2])
        c.close()
        return
    c.handshake()
    if a.mode == "requests":
        for i in range(a.n):
            c.write(b"GET %s?tls=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (a.path.encode(), i), a.split)
            status = c.response()
            if status != 200:
                sys.exit("request %d: status %d" % (i, status))
    elif a.mode == "midrecord":
        c.obj.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        rec = c.out.read()
        c.sock.sendall(rec[:len(rec) // 2])
        time.sleep(0.1)
    elif a.mode == "garbage":
        c.sock.sendall(b"\x42" + os.urandom(63))
        time.sleep(0.1)
    elif a.mode == "plaintext":
        c.write(bytes.fromhex(a.hex))
        c.sock.settimeout(2)
        try:
            while c.read():
                pass
        except (EOFError, OSError, ssl.SSLError):
            pass
    else:
        sys.exit("unknown mode " + a.mode)
    c.close()


if __name__ == "__main__":
    main()
