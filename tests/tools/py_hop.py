#!/usr/bin/env python3
"""py_hop.py PORT_FILE: a Python service in the middle of a chain, for outbound.sh.
GET /hop?next=URL&via=urllib|httpclient calls URL (with urllib.request, or with
http.client on a connection of its own) and answers 200 with the status it got;
anything else answers "ok". ThreadingHTTPServer: each request on its own thread."""
import http.client
import http.server
import os
import signal
import sys
import urllib.parse
import urllib.request


class Hop(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        status = 0
        if u.path == "/hop" and "next" in q:
            nxt = q["next"][0]
            try:
                if q.get("via", ["urllib"])[0] == "httpclient":
                    n = urllib.parse.urlsplit(nxt)
                    c = http.client.HTTPConnection(n.hostname, n.port, timeout=10)
                    c.request("GET", n.path + ("?" + n.query if n.query else ""))
                    r = c.getresponse()
                    r.read()
                    status = r.status
                    c.close()
                else:
                    with urllib.request.urlopen(nxt, timeout=10) as r:
                        r.read()
                        status = r.status
            except Exception as e:  # the upstream's failure is this answer's
                status = getattr(e, "code", 599)
        body = ("hop %d\n" % status).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# SIGTERM ends it as a normal exit, so the shim's exit flush runs.
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hop)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
try:
    s.serve_forever()
except (KeyboardInterrupt, SystemExit):
    pass
