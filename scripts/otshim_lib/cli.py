"""otshim_lib/cli.py: the otshim command's options and dispatch: one argparse parser, a
subparser per command, each handing over to its module (cmd_run, cmd_doctor, cmd_report,
cmd_flame). `otshim --help`, and -h after run or doctor, print USAGE below."""
import argparse
import os
import sys

from . import cmd_doctor, cmd_flame, cmd_report, cmd_run
from .config import FLAGS
from .notes import PROG, die, note

USAGE = """\
usage: otshim run [OPTIONS] [--] command [args...]
       otshim doctor [OPTIONS] [--pid PID] [-- command [args...]]
       otshim report [DIR] [--json] [--since X] [--path P] [--min-ms N] [--html]
       otshim flame FILE.pb.gz [--sample-index NAME] > flame.svg
       otshim --help

OPTIONS (run and doctor; each sets the variable named, for the command only):
  --slow-ms N    OTSHIM_SLOW_MS          --hz N       OTSHIM_CPU_HZ
  --dir D        OTSHIM_PROFILE_DIR      --log LEVEL  OTSHIM_LOG

run     prints where profiles go, runs the command as its child with the library
        preloaded, forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to it, prints
        one summary line when it ends and exits with its status.
doctor  checks the library, the command's binary, SIGPROF and the profile directory,
        and prints the effective configuration with where each value comes from;
        --pid PID also says whether that running process's HTTPS can be seen.
report, flame  read what the library wrote (otshim report -h, otshim flame -h).
See otshim(1) for every variable and file.
"""

NO_VALUE = object()  # an option given last, without its value


class UsageAction(argparse.Action):
    """-h/--help of run and doctor: the whole usage, as `otshim --help` prints it."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help=argparse.SUPPRESS)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(USAGE)
        parser.exit(0)


def make_parser():
    parser = argparse.ArgumentParser(prog=PROG, add_help=False, allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", metavar="{run,doctor,report,flame}")
    for name, func in (("run", run), ("doctor", doctor)):
        # Options only before the command: everything from the first word that is not
        # one (or after "--") is the command, its own options included.
        p = sub.add_parser(name, add_help=False, allow_abbrev=False)
        p.add_argument("-h", "--help", action=UsageAction)
        for flag, var in FLAGS.items():
            p.add_argument(flag, dest=var, nargs="?", const=NO_VALUE)
        if name == "doctor":
            p.add_argument("--pid", type=int)
        p.add_argument("cmd", nargs=argparse.REMAINDER)
        p.set_defaults(func=func, parser=p)
    cmd_report.add_parser(sub)
    cmd_flame.add_parser(sub)
    return parser


def main(home, argv=None):
    """HOME: the directory of the otshim command (where the library is looked for).
    Returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.stderr.write(USAGE)
        return 2
    if argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    if argv[0] not in ("run", "doctor", "report", "flame"):
        note("unknown command '%s'" % argv[0])
        sys.stderr.write(USAGE)
        return 2
    if argv[0] in ("report", "flame"):
        argv = glue_since(argv)
    args, unknown = make_parser().parse_known_args(argv)
    if unknown:
        if args.command in ("report", "flame"):
            args.parser.error("unrecognized arguments: %s" % " ".join(unknown))
        die("unknown option '%s' (options go before the command; see otshim --help)" % unknown[0])
    args.home = home
    try:
        return args.func(args)
    except BrokenPipeError:
        # `otshim report | head`: stdout goes to /dev/null so the flush at exit cannot
        # fail again. A report read only in part is still a success; doctor and run
        # exit as a shell reports SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0 if args.command in ("report", "flame") else 141


def glue_since(argv):
    """"--since -15m" would look like an option to argparse; glue it to its flag."""
    fixed, i = [], 0
    while i < len(argv):
        if argv[i] == "--since" and i + 1 < len(argv):
            fixed.append("--since=" + argv[i + 1])
            i += 2
            continue
        fixed.append(argv[i])
        i += 1
    return fixed


def env_options(args, need_command):
    """run's and doctor's options as ({variable: (value, option)}, the command's argv)."""
    sets = {}
    for flag, var in FLAGS.items():
        val = getattr(args, var)
        if val is NO_VALUE:
            die("%s needs a value" % flag)
        if val is not None:
            sets[var] = (val, flag)
    cmd = args.cmd
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    elif cmd and cmd[0].startswith("-"):  # "-" or "-5": argparse takes them for words
        die("unknown option '%s' (options go before the command; see otshim --help)" % cmd[0])
    if need_command and not cmd:
        die("no command given (otshim run [OPTIONS] -- command args...)")
    return sets, cmd


def run(args):
    sets, cmd = env_options(args, need_command=True)
    return cmd_run.run(sets, cmd, args.home)


def doctor(args):
    sets, cmd = env_options(args, need_command=False)
    return cmd_doctor.doctor(sets, cmd, args.home, args.pid)
