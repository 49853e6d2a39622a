#!/usr/bin/env python3
"""ptrace_stop.py TID TRACED UNTRACE: stops thread TID as a tracer does (PTRACE_SEIZE,
PTRACE_INTERRUPT), creates the file TRACED once it is stopped, and detaches (letting
it run on) once the file UNTRACE exists, or after 10 s. Exits non-zero, saying why, if
the thread cannot be stopped."""
import ctypes
import os
import sys
import time

PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH = 0x4206, 0x4207, 17
WALL = 0x40000000  # __WALL: wait for a thread, not only a child process

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if not sys.argv[1]:
    sys.exit("no thread to stop")
tid = int(sys.argv[1])
if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0 or libc.ptrace(PTRACE_INTERRUPT, tid, None, None) != 0:
    sys.exit("ptrace: errno %d" % ctypes.get_errno())
os.waitpid(tid, WALL)  # it is stopped
open(sys.argv[2], "w").close()
for _ in range(200):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.05)
libc.ptrace(PTRACE_DETACH, tid, None, None)
