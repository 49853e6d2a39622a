#!/usr/bin/env python3
"""profiles_receiver.py --port-file F --out DIR [--mode ok|503|slow] [--fail-first N]
[--slow-ms N] [--port N]: a stand-in for the two places otshim sends profiles to, so
tests can see exactly what left the host. It listens on 127.0.0.1 (port N, or one chosen by the
kernel; written to F once listening) and takes
  POST /v1development/profiles  (OTLP, gunzipped if Content-Encoding: gzip; a bad
                                 gzip body gets 400)                -> DIR/otlp-NNNNN.bin
  POST /ingest?...              (Pyroscope; body kept as sent)      -> DIR/pyro-NNNNN.pb.gz
                                 plus its query and headers         -> DIR/pyro-NNNNN.json
numbering each kind from 1, and logs every request as one JSON line of DIR/requests.jsonl
(time_ms at arrival, path, status, bytes as received, saved file or null, headers
with lowercase names). Every file appears whole (written under a temporary name, then
renamed) as tests poll DIR.
Modes: ok answers 200; 503 answers 503 and saves nothing (with --fail-first N only the
first N requests to the two endpoints; later ones are served as in ok); slow saves and
logs at once, then waits --slow-ms before the 200, for tests of client timeouts. Other
paths get 404, other methods on the two paths 405. SIGTERM ends it cleanly (exit 0)."""
import argparse
import gzip
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

OTLP_PATH = "/v1development/profiles"
PYRO_PATH = "/ingest"


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class State:
    """What the handler threads share; the lock keeps numbering and the log in order."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.seq = {"otlp": 0, "pyro": 0}
        self.served = 0  # requests to the two endpoints, for --fail-first
        self.log = []

    def next_name(self, kind):
        with self.lock:
            self.seq[kind] += 1
            return "%s-%05d" % (kind, self.seq[kind])

    def should_fail(self):
        with self.lock:
            self.served += 1
            if self.args.mode != "503":
                return False
            return self.args.fail_first is None or self.served <= self.args.fail_first

    def record(self, entry):
        # The whole log is rewritten and renamed so a reader never sees half a line.
        with self.lock:
            self.log.append(json.dumps(entry))
            write_atomic(os.path.join(self.args.out, "requests.jsonl"),
                         "".join(line + "\n" for line in self.log).encode())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real collector allows
    state = None

    def log_message(self, *a):
        pass  # requests.jsonl is the log

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status, body=b"", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        start_ms = int(time.time() * 1000)
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        entry = {"time_ms": start_ms, "path": url.path, "status": 0,
                 "bytes": len(body), "saved": None, "headers": headers}
        out = self.state.args.out
        if url.path not in (OTLP_PATH, PYRO_PATH):
            status = 404
        elif self.command != "POST":
            status = 405
        elif self.state.should_fail():
            status = 503
        elif url.path == OTLP_PATH:
            status = 200
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError):
                    status = 400
            if status == 200:
                entry["saved"] = self.state.next_name("otlp") + ".bin"
                write_atomic(os.path.join(out, entry["saved"]), body)
        else:
            status = 200
            name = self.state.next_name("pyro")
            query = {k: v[0] if len(v) == 1 else v
                     for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
            # The JSON goes first so a test that sees the body also finds its metadata.
            write_atomic(os.path.join(out, name + ".json"),
                         json.dumps({"query": query, "headers": headers}, indent=1).encode())
            entry["saved"] = name + ".pb.gz"
            write_atomic(os.path.join(out, entry["saved"]), body)
        entry["status"] = status
        self.state.record(entry)
        if status == 200 and self.state.args.mode == "slow":
            time.sleep(self.state.args.slow_ms / 1000.0)
        if status == 200 and url.path == OTLP_PATH:
            # An empty body is an ExportProfilesServiceResponse with nothing rejected.
            self.answer(200, b"", "application/x-protobuf")
        else:
            self.answer(status, (self.responses[status][0] + "\n").encode())

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=("ok", "503", "slow"), default="ok")
    ap.add_argument("--fail-first", type=int)
    ap.add_argument("--slow-ms", type=int, default=2000)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    Handler.state = State(args)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True  # a slow answer in flight does not hold up exit

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The constructor has bound and is listening, so the port is good to publish.
    write_atomic(args.port_file, ("%d\n" % server.server_address[1]).encode())
    try:
        server.serve_forever()
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
