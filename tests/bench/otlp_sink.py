#!/usr/bin/env python3
"""otlp_sink.py PORT: the cheapest OTLP/HTTP receiver we can write, for the span-export
benchmark: it reads each POST's body, answers 200 with an empty protobuf, and decodes
nothing, so the load client sharing its CPU loses as little as possible to it. The
tests decode with tests/tools/otlp_receiver.js instead."""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
