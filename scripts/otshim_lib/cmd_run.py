"""otshim_lib/cmd_run.py: `otshim run`: prints where profiles go, runs the command as its
child with the library preloaded, forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2
to it, prints one summary line from the stats files the run wrote when it ends, and
exits with its status (or dies by its signal)."""
import json
import os
import re
import signal

from .config import build_env, enabled, locate_lib, slow_ms_shown
from .notes import die, note

# Signals run forwards to the command. SIGINT/SIGQUIT typed at a terminal already reach
# it (it shares our process group), so those are not sent twice (see run).
FORWARD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
           signal.SIGUSR1, signal.SIGUSR2)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent (a terminal's ^C, ^\, hangup)


def run(sets, cmd, home):
    """SETS: {variable: (value, option)} from the options; CMD: the command's argv;
    HOME: the directory of the otshim command (where the library is looked for)."""
    env = build_env(sets)
    lib, why = locate_lib(env, home)
    if not lib:
        die(why, 1)
    d = env["OTSHIM_PROFILE_DIR"]
    # The shim goes first so its interposers win; existing preloads keep their order.
    old = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = lib + (":" + old if old else "")
    if enabled(env):
        note("preloading %s; profiles -> %s; slow threshold %s ms" % (lib, d, slow_ms_shown(env)))
    else:
        note("preloading %s, but OTSHIM_ENABLED=%s: the command runs unprofiled"
             % (lib, env["OTSHIM_ENABLED"]))
    before = dir_snapshot(d)
    waitset = set(FORWARD) | {signal.SIGCHLD}
    # Blocked before the child exists, so no signal is lost; the child gets the mask
    # and dispositions we were started with (Python's own SIGPIPE/SIGXFSZ ignores reset).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, waitset)
    try:
        pid = os.posix_spawnp(cmd[0], cmd, env, setsigmask=mask,
                              setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
    except FileNotFoundError:
        die("%s: command not found" % cmd[0], 127)
    except OSError as e:
        die("%s: %s" % (cmd[0], e.strerror), 126)
    while True:
        info = signal.sigwaitinfo(waitset)
        if info.si_signo == signal.SIGCHLD:
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid == pid:
                break
            continue
        # A terminal's ^C/^\ (or hangup) went to the whole foreground process group,
        # the command included: sending it again would be a second one.
        if info.si_code == SI_KERNEL:
            continue
        try:
            os.kill(pid, info.si_signo)
        except ProcessLookupError:
            pass
    summarise(cmd, st, d, before)
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        # Die the same way, so a calling shell sees what happened; never dump our own
        # core for the command's SIGSEGV and friends: exit 128+N then.
        if sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL,
                   signal.SIGPIPE, signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2):
            if sig != signal.SIGKILL:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            os.kill(os.getpid(), sig)
        return 128 + sig
    return os.WEXITSTATUS(st)


def summarise(cmd, st, d, before):
    """The one line that ends a run (and one per stats file it could not read)."""
    procs, t, files, bad = run_summary(d, before)
    name = os.path.basename(cmd[0])
    if procs == 0:
        note("%s: %s; no otshim statistics in %s (it served no connection, or the library "
             "never loaded: see otshim doctor -- %s)" % (name, describe_status(st), d, cmd[0]))
    else:
        line = ("%s: %s; %d requests, %d slow, %d files written (%d profile set%s), %d dropped"
                % (name, describe_status(st), t["requests"], t["slow"], files,
                   t["profiles_written"], "" if t["profiles_written"] == 1 else "s",
                   t["profiles_dropped"]))
        if t["spans_exported"] or t["spans_dropped"]:
            line += ", %d spans exported, %d spans dropped" % (t["spans_exported"], t["spans_dropped"])
        if procs > 1:
            line += " (%d processes)" % procs
        note(line + "; in " + d)
    for n in bad:
        note("could not read %s" % os.path.join(d, n))


def dir_snapshot(d):
    """{name: (mtime_ns, size, inode)} of the directory's regular files."""
    out = {}
    try:
        with os.scandir(d) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                out[e.name] = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        pass
    return out


def run_summary(d, before):
    """Sums the stats files the run wrote or rewrote, counts the profile files it made."""
    after = dir_snapshot(d)
    fresh = [n for n, s in after.items() if before.get(n) != s]
    totals = dict.fromkeys(("requests", "slow", "profiles_written", "profiles_dropped",
                            "spans_exported", "spans_dropped"), 0)
    procs, bad = 0, []
    for n in fresh:
        if not re.fullmatch(r"otshim-stats-\d+\.json", n):
            continue
        try:
            with open(os.path.join(d, n)) as f:
                st = json.load(f)
        except (OSError, ValueError):
            bad.append(n)
            continue
        procs += 1
        for k in totals:
            totals[k] += int(st.get(k, 0))
    files = sum(1 for n in fresh if n.endswith(".pb.gz") and n not in before)
    return procs, totals, files, bad


def describe_status(st):
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "signal %d" % sig
        return "killed by " + name
    return "exit status %d" % os.WEXITSTATUS(st)
