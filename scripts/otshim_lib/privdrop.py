"""otshim_lib/privdrop.py: which user a service started as root runs its workers as,
read from its command line and configuration the way the service reads them: nginx's
`user` (its -c/-p/-g, the default configuration `nginx -V` names, nobody when unset),
Apache's `User` (its -f/-d, ${VAR} from the environment or the envvars file beside the
configuration), gunicorn's --user, uwsgi's --uid and php-fpm's pools' `user =`. Only
the main file is read (include directives are followed for php-fpm's pools alone).
Used by `otshim doctor`; knows nothing of the library."""
import glob
import os
import re
import subprocess


def _opt(args, names):
    """The value of the last of NAMES in ARGS ("-u x", "--user x", "--user=x")."""
    val = None
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                val = args[i + 1]
            elif n.startswith("--") and a.startswith(n + "="):
                val = a[len(n) + 1:]
            elif not n.startswith("--") and a.startswith(n) and len(a) > len(n):
                val = a[len(n):]
    return val


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


# ---- nginx ----

def _nginx_default_conf(binary):
    """((configuration path, prefix), built-in user) as `nginx -V` tells them."""
    try:
        r = subprocess.run([binary, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return (None, None), "nobody"
    out = r.stdout.decode(errors="replace")
    conf = re.search(r"--conf-path=(\S+)", out)
    prefix = re.search(r"--prefix=(\S+)", out)
    user = re.search(r"--user=(\S+)", out)
    return (conf.group(1) if conf else None, prefix.group(1) if prefix else None), \
        user.group(1) if user else "nobody"


def _nginx_user(text):
    """The main context's `user` directive of a configuration text (comments out,
    blocks skipped), or None."""
    text = re.sub(r"#[^\n]*", "", text)
    depth, stmt = 0, ""
    for ch in text:
        if ch == "{":
            depth += 1
            stmt = ""
        elif ch == "}":
            depth -= 1
            stmt = ""
        elif ch == ";":
            words = stmt.split()
            if depth == 0 and len(words) >= 2 and words[0] == "user":
                return words[1]
            stmt = ""
        else:
            stmt += ch
    return None


def nginx(binary, args):
    (conf_path, prefix), built_in = _nginx_default_conf(binary)
    g = _opt(args, ["-g"])
    if g and _nginx_user(g):
        return _nginx_user(g), "nginx's -g 'user ...;'"
    prefix = _opt(args, ["-p"]) or prefix or "/"
    conf = _opt(args, ["-c"]) or conf_path
    if conf and not os.path.isabs(conf):
        conf = os.path.join(prefix, conf)
    text = _read(conf) if conf else None
    if text is None:
        return None, "nginx's configuration %s could not be read" % conf
    u = _nginx_user(text)
    if u:
        return u, "the `user` directive of %s" % conf
    return built_in, "nginx's default, as %s has no `user` directive" % conf


# ---- Apache ----

def _apache_vars(conf_dir, env):
    """The environment, with the exports of the envvars file apache2ctl sources."""
    out = dict(env)
    text = _read(os.path.join(conf_dir, "envvars")) or ""
    for m in re.finditer(r"^\s*export\s+(\w+)=['\"]?([^'\"\s]*)", text, re.M):
        out.setdefault(m.group(1), m.group(2))
    return out


def apache(binary, args, env):
    root = _opt(args, ["-d"]) or "/etc/apache2"
    conf = _opt(args, ["-f"])
    if not conf:
        try:
            r = subprocess.run([binary, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=10, env=env)
            out = r.stdout.decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        m = re.search(r'HTTPD_ROOT="([^"]+)"', out)
        root = _opt(args, ["-d"]) or (m.group(1) if m else root)
        m = re.search(r'SERVER_CONFIG_FILE="([^"]+)"', out)
        conf = m.group(1) if m else "apache2.conf"
    if not os.path.isabs(conf):
        conf = os.path.join(root, conf)
    text = _read(conf)
    if text is None:
        return None, "Apache's configuration %s could not be read" % conf
    m = re.search(r"^\s*User\s+(\S+)", text, re.M | re.I)
    if not m:
        return None, "%s has no User directive" % conf
    user = m.group(1).strip("\"'")
    vs = _apache_vars(os.path.dirname(conf), env)
    user = re.sub(r"\$\{(\w+)\}", lambda v: vs.get(v.group(1), v.group(0)), user)
    if "${" in user:
        return None, "the User of %s names a variable that is not set (%s)" % (conf, user)
    return user, "the User directive of %s" % conf


# ---- php-fpm ----

def php_fpm(args):
    conf = _opt(args, ["-y", "--fpm-config"])
    if not conf:
        found = sorted(glob.glob("/etc/php/*/fpm/php-fpm.conf"))
        conf = found[-1] if found else None
    text = _read(conf) if conf else None
    if text is None:
        return None, "php-fpm's configuration could not be read"
    texts = [text]
    for inc in re.findall(r"^\s*include\s*=\s*(\S+)", text, re.M):
        for f in sorted(glob.glob(inc if os.path.isabs(inc) else os.path.join(os.path.dirname(conf), inc))):
            texts.append(_read(f) or "")
    users = sorted({u for t in texts for u in re.findall(r"^\s*user\s*=\s*(\S+)", t, re.M)})
    if not users:
        return None, "no pool of %s names a user" % conf
    return ",".join(users), "the pools' `user =` in %s and what it includes" % conf


def worker_user(cmd, env):
    """(user, where that comes from) for a command started as root that runs its
    workers as another user; (None, why not known) when it does not or cannot be told;
    (None, None) for a command this knows nothing about."""
    name = os.path.basename(cmd[0])
    args = cmd[1:]
    if name == "nginx":
        return nginx(cmd[0], args)
    if name in ("apache2", "httpd", "apache2ctl", "apachectl"):
        binary = cmd[0] if name in ("apache2", "httpd") else "apache2"
        return apache(binary, [a for a in args if a not in ("start", "-k")], env)
    if name == "gunicorn":
        u = _opt(args, ["-u", "--user"])
        return (u, "gunicorn's --user") if u else (None, "gunicorn without --user keeps root")
    if name == "uwsgi":
        u = _opt(args, ["--uid"])
        return (u, "uwsgi's --uid") if u else (None, "uwsgi without --uid keeps root")
    if name.startswith("php-fpm"):
        return php_fpm(args)
    return None, None
