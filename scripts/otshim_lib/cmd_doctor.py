"""otshim_lib/cmd_doctor.py: `otshim doctor`: checks the library (it loads, and what it
says about this environment's variables), the command's binary (through readelf: elf.py)
and whether its HTTPS can be seen (or a running process's, --pid),
SIGPROF and other preloads, the CPU sampling route and the profile directory, then
prints the configuration the command would get with where each value comes from.
Exit status 1 when a check failed, else 0."""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from . import elf, privdrop
from .config import CONFIG, build_env, locate_lib, parse_bool
from .cmd_run import dir_snapshot

KNOWN_PRELOADS = [
    (r"libprofiler|libtcmalloc_and_profiler", "gperftools' CPU profiler: it owns SIGPROF too"),
    (r"libdd_profiling|libddprof", "Datadog's profiler: it interposes malloc too"),
    (r"libtcmalloc|libjemalloc|libmimalloc|libhoard|libtbbmalloc|libc_malloc_debug",
     "another malloc: otshim's (first in LD_PRELOAD) wins, this one serves nothing"),
    (r"libheaptrack|libbytehound|libmemusage", "another heap profiler: both interpose malloc"),
    (r"libotshim", "otshim is already in LD_PRELOAD: it would be loaded twice"),
]


class Report:
    def __init__(self):
        self.failed = 0

    def line(self, status, what, msg):
        if status == "FAIL":
            self.failed += 1
        print("  %-5s %-18s %s" % (status, what, msg))


def doctor(sets, cmd, home, pid=None):
    """SETS: {variable: (value, option)} from the options; CMD: the command's argv, maybe
    empty; HOME: the directory of the otshim command (where the library is looked for);
    PID: a running process to check for TLS too."""
    env = build_env(sets)
    rep = Report()
    print("otshim doctor" + (" -- " + " ".join(cmd) if cmd else ""))

    # The library, and what it says about this environment's variables.
    lib, why = locate_lib(env, home)
    lib_info, msgs = None, []
    if not lib:
        rep.line("FAIL", "library", why)
    else:
        lib_info = elf.elf_info(lib)
        ld_errors, msgs = probe_library(lib, env)
        if ld_errors:
            rep.line("FAIL", "library", "%s does not load: %s" % (lib, " / ".join(ld_errors)))
        else:
            rep.line("ok", "library", "%s (loads; otshim run preloads it by this full path)" % lib)

    if cmd:
        check_command(rep, cmd, env, lib_info)
    elif pid is None:
        rep.line("info", "command", "none given: otshim doctor -- command args... checks it too")
    if pid is not None:
        check_tls_process(rep, pid)
    check_signals(rep, env)
    check_cpu_route(rep, env)
    if not check_workers_dir(rep, env["OTSHIM_PROFILE_DIR"], cmd, env):
        check_dir(rep, env["OTSHIM_PROFILE_DIR"], env)

    rows, _, other_msgs = effective_config(env, sets, msgs, os.path.basename(cmd[0]) if cmd else None)
    for m in other_msgs:
        rep.line("warn", "configuration", m)
    print("configuration the command gets (value, where it comes from):")
    wn = max(len(r[0]) for r in rows)
    wv = min(max(len(r[1]) for r in rows), 32)
    for name, v, s in rows:
        print("  %-*s  %-*s  %s" % (wn, name, wv, v, s))
    if rep.failed:
        print("%d problem%s found" % (rep.failed, "s" if rep.failed > 1 else ""))
    return 1 if rep.failed else 0


# ---- the library ----

def probe_library(lib, env):
    """Loads the library into /bin/true with the command's environment, the runtime
    off (OTSHIM_ENABLED=0: nothing starts, no file is written) and warnings on, and
    returns (ld.so errors, the library's own configuration messages)."""
    penv = dict(env)
    penv["LD_PRELOAD"] = lib
    if parse_bool(penv.get("OTSHIM_ENABLED", "1")) is not None:
        penv["OTSHIM_ENABLED"] = "0"
    if penv.get("OTSHIM_LOG", "").lower() == "error":
        penv["OTSHIM_LOG"] = "warn"  # the messages are warnings
    true = shutil.which("true") or "/bin/true"
    # A static true (or one readelf cannot vouch for) would ignore LD_PRELOAD and say
    # nothing: this Python stands in for it then.
    info = elf.elf_info(true)
    argv = [true] if info and info["interp"] else [sys.executable, "-S", "-c", ""]
    try:
        r = subprocess.run(argv, env=penv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return ["cannot run %s: %s" % (argv[0], e)], []
    ld_errors, msgs = [], []
    for ln in r.stderr.decode(errors="replace").splitlines():
        m = re.match(r"otshim\[\d+\]: (.*)", ln)
        if m:
            msgs.append(m.group(1))
        elif ln.strip():
            ld_errors.append(ln.strip())
    if r.returncode != 0 and not ld_errors:
        ld_errors.append("%s exited %d under the library" % (argv[0], r.returncode))
    return ld_errors, msgs


# ---- the command ----

def resolve_command(cmd0, env):
    if "/" in cmd0:
        return cmd0 if os.path.exists(cmd0) else None
    return shutil.which(cmd0, path=env.get("PATH", os.defpath))


def check_command(rep, cmd, env, lib_info):
    path = resolve_command(cmd[0], env)
    if not path:
        rep.line("FAIL", "command", "%s: not found" % cmd[0])
        return None
    seen = set()
    while not elf.is_elf(path) and path not in seen:
        seen.add(path)
        try:  # a script: what matters is its interpreter
            with open(path, "rb") as f:
                first = f.readline(256)
        except OSError as e:
            rep.line("FAIL", "command", "%s: %s" % (path, e.strerror))
            return None
        if not first.startswith(b"#!"):
            rep.line("FAIL", "command", "%s is neither an ELF binary nor a #! script" % path)
            return None
        words = first[2:].decode(errors="replace").split()
        if not words:
            break
        interp = words[0]
        if os.path.basename(interp) == "env" and len(words) > 1:
            interp = shutil.which(words[1], path=env.get("PATH", os.defpath)) or words[1]
        rep.line("ok", "command", "%s is a script run by %s" % (path, interp))
        path = interp
    if not elf.is_elf(path):
        rep.line("FAIL", "command", "%s: not an ELF binary" % path)
        return None
    if not elf.have_readelf():
        rep.line("warn", "command", "%s: an ELF binary, not checked further: readelf is not "
                 "installed (Debian: apt-get install binutils)" % path)
    else:
        check_elf(rep, path, lib_info)
        check_tls(rep, path, elf.shared_libs(path))
    if os.stat(path).st_mode & 0o6000:
        rep.line("warn", "command", "setuid/setgid: the loader ignores LD_PRELOAD paths for it "
                 "and otshim disables itself (secure-execution mode)")
    return path


def check_elf(rep, path, lib_info):
    """How the binary is linked, for what machine, and whether it is Go."""
    info = elf.elf_info(path)
    if info is None:
        rep.line("FAIL", "command", "%s: not an ELF binary readelf can read" % path)
        return
    what = "%s: ELF %d-bit %s" % (path, info["bits"], info["machine"])
    if not info["interp"]:
        kind = "static-pie" if info["dynamic"] else "statically linked"
        rep.line("FAIL", "command", "%s, %s: LD_PRELOAD cannot reach a static binary, so "
                 "otshim cannot profile it" % (what, kind))
    else:
        rep.line("ok", "command", "%s, dynamically linked (interpreter %s)" % (what, info["interp"]))
        if "musl" in info["interp"]:
            rep.line("FAIL", "command", "it uses musl's loader; libotshim.so is built for glibc")
    if info["go"]:
        rep.line("warn", "command", "a Go program: Go does not allocate with malloc nor do its "
                 "sockets go through libc, so otshim sees no requests and no heap; use Go's "
                 "net/http/pprof instead")
    if lib_info and (lib_info["bits"], lib_info["machine"]) != (info["bits"], info["machine"]):
        rep.line("FAIL", "command", "it is %d-bit %s, the library %d-bit %s: the loader will "
                 "refuse it" % (info["bits"], info["machine"], lib_info["bits"], lib_info["machine"]))


# ---- TLS ----

TLS_OTHER = r"libgnutls|libwolfssl|libmbedtls|libnss3|librustls"
TLS_UNSEEN = ("its HTTPS connections are counted in tls_unseen_connections, not as requests; "
              "terminate TLS in a proxy in front of it (nginx, HAProxy) to see them")
# Servers that hand OpenSSL their bytes through BIOs of their own (memory, filters), so
# that no SSL session can be tied to its socket: named by their binary or a library.
FROM_MEMORY = [
    (r"(^|/)(node|nodejs)$|/libnode\.so", "Node.js feeds OpenSSL from memory, not from the socket, "
     "in every build (Debian's nodejs links the system's libssl through libnode, and still does)"),
    (r"(^|/)(apache2|httpd)$", "Apache's mod_ssl feeds OpenSSL through filters of its own, not "
     "from the socket"),
]


def check_tls(rep, path, libs, running=False):
    """Whether the HTTPS of the binary PATH, loading the shared objects LIBS (paths), can
    be seen: the shim sees the plaintext of a shared OpenSSL's SSL_read and SSL_write on
    a session that reads its socket itself (SSL_set_fd)."""
    own = elf.defines(path, ("SSL_read", "SSL_write"))
    ssl = [l for l in libs if re.search(r"/libssl\.so", l)]
    other = [l for l in libs if re.search(TLS_OTHER, l)]
    memory = [why for pat, why in FROM_MEMORY if any(re.search(pat, x) for x in [path] + libs)]
    if own:
        rep.line("warn", "tls", "%s has OpenSSL linked in (it defines %s itself, as the official "
                 "Node.js builds do): %s" % (path, own[0], TLS_UNSEEN))
    elif memory:
        rep.line("warn", "tls", "%s: %s" % (memory[0], TLS_UNSEEN))
    elif ssl:
        rep.line("ok", "tls", "HTTPS through %s: its plaintext is tracked where OpenSSL reads the "
                 "socket itself (SSL_set_fd; not a server's own BIOs, as asyncio's)" % ssl[0])
    elif other:
        rep.line("warn", "tls", "it uses %s, not OpenSSL: %s" % (os.path.basename(other[0]),
                                                                 TLS_UNSEEN))
    elif running:
        rep.line("info", "tls", "no libssl loaded now: HTTPS is tracked once the process loads "
                 "one (Python's ssl module does); TLS linked into it is not seen")
    else:
        rep.line("info", "tls", "no libssl linked: HTTPS is tracked if it loads one at run time "
                 "(Python's ssl module does); TLS linked into it (BoringSSL, rustls) is not seen")


def check_tls_process(rep, pid):
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
        with open("/proc/%d/maps" % pid) as f:
            libs = sorted({ln.split()[5] for ln in f if len(ln.split()) >= 6})
    except OSError as e:
        rep.line("FAIL", "process", "pid %d: %s" % (pid, e.strerror))
        return
    shim = any("libotshim" in l for l in libs)
    rep.line("ok" if shim else "warn", "process", "pid %d runs %s, %s" % (
        pid, exe, "with libotshim.so loaded" if shim else "without libotshim.so"))
    check_tls(rep, exe, libs, running=True)


# ---- SIGPROF, other preloads, CPU sampling ----

def sig_bits(field):
    """The set of signal numbers in a /proc/self/status mask line."""
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    m = int(ln.split()[1], 16)
                    return {i + 1 for i in range(64) if m >> i & 1}
    except OSError:
        pass
    return set()


def rtsig_of(env):
    v = env.get("OTSHIM_THREADS_SIGNAL")
    if v is not None and v.isdigit():
        return int(v)
    return signal.SIGRTMIN + 7


def check_signals(rep, env):
    """Other profilers and allocators preloaded, and what this environment passes on."""
    others = [p for p in re.split(r"[:\s]+", os.environ.get("LD_PRELOAD", "")) if p]
    found = 0
    for p in others:
        for pat, why in KNOWN_PRELOADS:
            if re.search(pat, os.path.basename(p)):
                rep.line("warn", "SIGPROF/preloads", "LD_PRELOAD has %s: %s" % (p, why))
                found += 1
                break
    if os.environ.get("CPUPROFILE"):
        rep.line("warn", "SIGPROF/preloads", "CPUPROFILE is set: gperftools' profiler, if "
                 "linked in, takes SIGPROF and otshim's CPU profiles stay off")
        found += 1
    ign, blk = sig_bits("SigIgn"), sig_bits("SigBlk")
    tsig = rtsig_of(env)
    for s, what in ((signal.SIGPROF, "SIGPROF"), (tsig, "the thread-stack signal %d" % tsig)):
        if not s:
            continue
        if s in ign:
            rep.line("FAIL", "SIGPROF/preloads", "%s is ignored here and the command inherits "
                     "that: otshim takes it for a handler of the service's and stays off" % what)
            found += 1
        if s in blk:
            rep.line("warn", "SIGPROF/preloads", "%s is blocked here and the command inherits "
                     "the mask" % what)
            found += 1
    if not found:
        rep.line("ok", "SIGPROF/preloads", "no other profiler or allocator preloaded, SIGPROF "
                 "neither ignored nor blocked here. A service that installs its own SIGPROF "
                 "handler is detected when it starts: otshim says so once and leaves CPU "
                 "profiling to it")


def check_cpu_route(rep, env):
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            paranoid = int(f.read())
    except (OSError, ValueError):
        paranoid = None
    route = env.get("OTSHIM_CPU_ROUTE", "auto")
    if route == "timer":
        rep.line("info", "CPU sampling", "CPU-clock timers (OTSHIM_CPU_ROUTE=timer; ticks at CONFIG_HZ)")
    elif paranoid is not None and paranoid <= 2:
        rep.line("ok", "CPU sampling", "perf_event task-clock (perf_event_paranoid=%d)" % paranoid)
    else:
        rep.line("info", "CPU sampling", "CPU-clock timers, ticking at the kernel's CONFIG_HZ "
                 "(perf_event_paranoid=%s > 2)" % paranoid)


# ---- the profile directory, made as the shim makes it ----

def check_dir(rep, d, env):
    created = False
    if not os.path.exists(d):
        try:
            parent = os.path.dirname(d)
            if parent:
                os.makedirs(parent, 0o755, exist_ok=True)
            os.mkdir(d, 0o700)
            created = True
        except OSError as e:
            rep.line("FAIL", "profile directory", "%s: cannot create it: %s" % (d, e.strerror))
            return
    if not os.path.isdir(d):
        rep.line("FAIL", "profile directory", "%s exists and is not a directory" % d)
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=".otshim-doctor-", dir=d)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        rep.line("FAIL", "profile directory", "%s is not writable: %s (profiles would be "
                 "dropped and counted)" % (d, e.strerror))
        return
    mode = os.stat(d).st_mode & 0o777
    used = sum(s[1] for s in dir_snapshot(d).values())
    cap = env.get("OTSHIM_MAX_DISK_MB", "1024")
    cap_b = int(cap) * 1024 * 1024 if cap.isdigit() else 1024 << 20
    root = os.geteuid() == 0
    if created and root:
        # Left behind, root's, it would stop a service whose workers switch to another
        # user: the library gives away only a directory it made itself.
        os.rmdir(d)
        how = "can be created (mode %04o; removed again: the library makes it when needed)" % mode
    else:
        how = "%s (mode %04o), writable" % ("created" if created else "exists", mode)
    rep.line("ok", "profile directory", "%s %s; %.1f MiB of the %s MiB cap used"
             % (d, how, used / 1048576, cap if cap.isdigit() else "1024"))
    if used >= cap_b:
        rep.line("warn", "profile directory", "already over OTSHIM_MAX_DISK_MB: new profiles "
                 "are dropped until files are removed")
    if root:
        rep.line("info", "profile directory", "checked as root; a service whose workers switch "
                 "to another user (nginx's user, Apache's User, gunicorn --user, uwsgi --uid, "
                 "php-fpm's pools) gets the directory made for that user when it does not exist "
                 "yet; otshim doctor -- <its command> names the user")


# ---- started as root, workers as another user ----

def closed_above(d, uid, gids):
    """The first existing directory on the way to D that UID (in groups GIDS) may not
    search, by its mode; None when every one lets it through."""
    parts, p = [], os.path.dirname(os.path.abspath(d))
    while True:
        parts.append(p)
        if p == os.path.dirname(p):
            break
        p = os.path.dirname(p)
    for p in reversed(parts):
        try:
            st = os.stat(p)
        except OSError:
            return None  # made by the library, 0755
        bit = 0o100 if st.st_uid == uid else 0o010 if st.st_gid in gids else 0o001
        if not st.st_mode & bit:
            return p
    return None


def check_workers_dir(rep, d, cmd, env):
    """As root, for a service that runs its workers as another user: what becomes of
    the directory. False when that is not the case (the plain check follows)."""
    if os.geteuid() != 0 or not cmd:
        return False
    user, how = privdrop.worker_user(cmd, env)
    if not user:
        if how:
            rep.line("info", "profile directory", "started as root: %s" % how)
        return False
    if "," in user:
        rep.line("warn", "profile directory", "started as root, its workers run as %s (%s): the "
                 "directory becomes the first one's to start, and the others' profiles are "
                 "dropped; one profile directory serves one user" % (user.replace(",", ", "), how))
        return True
    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, ValueError):
        rep.line("FAIL", "profile directory", "%s names the user %s, who does not exist" % (how, user))
        return True
    if pw.pw_uid == 0:
        rep.line("info", "profile directory", "started as root, its workers stay root (%s)" % how)
        return False
    lead = "started as root, its workers run as %s (%s)" % (user, how)
    closed = closed_above(d, pw.pw_uid, set(os.getgrouplist(pw.pw_name, pw.pw_gid)))
    if closed:
        rep.line("FAIL", "profile directory", "%s, and %s is closed to that user: they cannot "
                 "reach %s; choose a directory they can reach" % (lead, closed, d))
    elif not os.path.lexists(d):
        rep.line("ok", "profile directory", "%s: %s does not exist, and the library makes it for "
                 "%s (mode 0700) when a worker switches to that user; their files are theirs, "
                 "mode 0600" % (lead, d, user))
    elif not os.path.isdir(d):
        rep.line("FAIL", "profile directory", "%s exists and is not a directory" % d)
    elif os.stat(d).st_uid == pw.pw_uid:
        rep.line("ok", "profile directory", "%s: %s is that user's, and they write there" % (lead, d))
    elif os.stat(d).st_uid == 0:
        rep.line("FAIL", "profile directory", "%s: %s is root's, so they cannot write there, and "
                 "the library gives away only a directory it made; remove it (the library then "
                 "makes it for %s) or chown it to %s" % (lead, d, user, user))
    else:
        owner = os.stat(d).st_uid
        try:
            owner = pwd.getpwuid(owner).pw_name
        except KeyError:
            pass
        rep.line("FAIL", "profile directory", "%s: %s belongs to %s, so they cannot write there; "
                 "choose another directory" % (lead, d, owner))
    return True


# ---- the configuration table ----

def mask_kv(v):
    """Header lists carry credentials: show the keys only."""
    return ",".join(m.split("=", 1)[0].strip() + "=***" for m in v.split(",") if m.strip())


def effective_config(env, sets, msgs, exe):
    """[(name, value, source)] as the library will see it; the values by name; and the
    library's messages that are about no variable in particular."""
    by_name = {}
    for m in msgs:
        mm = re.match(r"(O[A-Z_]+)=", m)
        if mm:
            by_name.setdefault(mm.group(1), []).append(m)
    rows, value = [], {}
    rtmin, rtmax = signal.SIGRTMIN, signal.SIGRTMAX
    for name, default, _ in CONFIG:
        raw = env.get(name)
        src = sets[name][1] if name in sets else "env"
        if default.startswith("="):
            ref = default[1:]
            fallback, fsrc = value[ref], "same as " + ref
        else:
            fallback, fsrc = default, "default"
        if name == "OTSHIM_THREADS_SIGNAL":
            fallback = "%d (SIGRTMIN+7)" % (rtmin + 7)
        if name == "OTSHIM_PROFILE_DIR":
            # passed on absolute (build_env), ./profiles like the library when unset or empty
            v = env[name]
            s = src if os.environ.get(name) or name in sets else "default"
        elif raw is None:
            v, s = fallback, fsrc
        elif name in by_name:
            # the library's line, less its "NAME=value " head, which the row already shows
            why = "; ".join(re.sub(r'^%s=("[^"]*"|\S*) ?' % name, "", m) for m in by_name[name])
            um = re.search(r"; using (.*)$", by_name[name][-1])
            if um and um.group(1) not in ("the default", "none", "no endpoint"):
                v = um.group(1)
            elif name.endswith("_EXPORTER"):
                v = "none"
            else:
                v = fallback
            s = "%s %r, rejected by the library: %s" % (src, raw, why)
        elif name == "OTSHIM_ENABLED" and parse_bool(raw) is None:
            v, s = fallback, "%s %r, rejected: is not 0 or 1; using 1 (the library says so at start)" % (src, raw)
        else:
            v, s = raw, src
            if name == "OTSHIM_THREADS_SIGNAL" and raw.isdigit() and int(raw) and \
                    not rtmin <= int(raw) <= rtmax:
                s += "; not a real-time signal (%d..%d): thread profiles will be off" % (rtmin, rtmax)
        value[name] = v
        rows.append([name, v, s])
    # Derived values, as cfg.c's derive_otlp makes them.
    base = value["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/")
    for r in rows:
        if r[0] == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" and not env.get(r[0]):
            r[1], r[2] = base + "/v1/traces", "derived from OTEL_EXPORTER_OTLP_ENDPOINT"
        elif r[0] == "OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT" and not env.get(r[0]):
            r[1], r[2] = base + "/v1development/profiles", "derived from OTEL_EXPORTER_OTLP_ENDPOINT"
        elif r[0] == "OTEL_SERVICE_NAME" and not env.get(r[0]):
            r[1], r[2] = "unknown_service:" + (exe or "<executable>"), "default"
        elif r[0].endswith("HEADERS") and r[1]:
            r[1] = mask_kv(r[1])
        if r[1] == "":
            r[1] = "(unset)"
    return rows, value, [m for m in msgs if not re.match(r"O[A-Z_]+=", m)]
