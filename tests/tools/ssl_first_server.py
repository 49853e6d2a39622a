#!/usr/bin/env python3
"""ssl_first_server.py PORT: the standard library's ThreadingHTTPServer on 127.0.0.1:PORT
(plain http), which has set up OpenSSL (ssl.create_default_context()) before serving,
so that OpenSSL's cleanup is in atexit before the shim's exporter sets it up. SIGTERM
makes it exit 0, through the atexit handlers."""
import http.server as h
import signal
import ssl
import sys

ssl.create_default_context()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
h.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), h.SimpleHTTPRequestHandler).serve_forever()
