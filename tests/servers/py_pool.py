"""py_pool.py PORTFILE: a Python service that reads requests on one thread and computes
them on another: http.server's ThreadingHTTPServer (a thread per connection) hands each
request to a concurrent.futures.ThreadPoolExecutor of 4 threads and waits for the
result. /cpu?ms=N burns N ms of the pool thread's CPU in pool_burn; / answers at once.
The bound port goes to PORTFILE."""
import concurrent.futures
import http.server
import os
import socketserver
import sys
import time
import urllib.parse

pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="pool")


def pool_burn(ms):
    end = time.thread_time() + ms / 1000.0
    x = 0
    while time.thread_time() < end:
        for i in range(2000):
            x += i * i
    return x


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        ms = int(urllib.parse.parse_qs(url.query).get("ms", ["0"])[0]) if url.path == "/cpu" else 0
        pool.submit(pool_burn, ms).result()
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"done\n")

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(tmp, sys.argv[1])
server.serve_forever()
