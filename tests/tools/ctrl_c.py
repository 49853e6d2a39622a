#!/usr/bin/env python3
"""ctrl_c.py OTSHIM DIR: runs `OTSHIM run --dir DIR -- python3 sigint_count.py` on a
new pseudo-terminal, types ^C there once the command says "ready", and prints what
the terminal showed (sigint_count.py's "sigints=N CODES" line among it), then
"wrapper status N". A ^C typed at a terminal goes to the whole foreground process
group, so the command must see exactly one, from the kernel."""
import os
import pty
import select
import sys
import time

otshim, prof_dir = sys.argv[1], sys.argv[2]
counter = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigint_count.py")
pid, fd = pty.fork()
if pid == 0:
    os.environ.pop("OTSHIM_LIB", None)
    os.execv(otshim, ["otshim", "run", "--dir", prof_dir, "--", sys.executable, counter])
buf, sent, end = b"", False, time.time() + 10
while time.time() < end:
    if not sent and b"ready" in buf:
        os.write(fd, b"\x03")
        sent = True
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
_, st = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace").replace("\r", ""))
print("wrapper status %d" % os.waitstatus_to_exitcode(st))
