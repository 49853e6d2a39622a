"""py_demo.py PORT LOG [--tls CERT KEY]: a Python service for the integration tests, built
only on the standard library's http.server (ThreadingHTTPServer, HTTP/1.1 keep-alive).
/cpu burns 300 ms of CPU in the interpreter; /upstream?port=N makes one HTTP call to
127.0.0.1:N with http.client and waits for its answer; every answered request is one line
in LOG.
With --tls it serves HTTPS (the ssl module, which loads libssl with its _ssl extension)."""
import http.client
import http.server
import signal
import sys
import time


def call_upstream(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    conn.getresponse().read()
    conn.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/cpu"):
            # Pure interpreter work, the clock read only every 20,000 steps: reading
            # the process CPU clock is a system call, and a loop made mostly of them
            # would spend its time in the kernel, which profiles exclude.
            end = time.process_time() + 0.3
            x = 0
            while time.process_time() < end:
                for i in range(20000):
                    x += i * i
        elif self.path.startswith("/upstream?port="):
            call_upstream(int(self.path.split("=", 1)[1]))
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        with open(sys.argv[2], "a") as f:
            f.write("%s %s\n" % (self.requestline, code))


def stop(signum, frame):
    raise KeyboardInterrupt


# A background job of a non-interactive shell starts with SIGINT ignored, so the tests
# stop the server with SIGTERM, which ends serve_forever like Ctrl-C would.
signal.signal(signal.SIGTERM, stop)
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.daemon_threads = True
if len(sys.argv) > 3 and sys.argv[3] == "--tls":
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
