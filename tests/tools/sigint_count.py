#!/usr/bin/env python3
"""sigint_count.py: prints "ready", then for 1.5 s takes every SIGINT with its sender
and prints "sigints=N CODES": si_code 0x80 (SI_KERNEL) for one from the terminal, 0
(SI_USER) for one from a kill(). SIGINT is blocked, so each is taken as soon as it is
pending. The command tests/tools/ctrl_c.py runs under `otshim run`."""
import signal
import time

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
print("ready", flush=True)
got, end = [], time.time() + 1.5
while time.time() < end:
    i = signal.sigtimedwait({signal.SIGINT}, 0.05)
    if i:
        got.append("%#x" % i.si_code)
print("sigints=%d %s" % (len(got), ",".join(got)), flush=True)
