"""otshim_lib/cmd_flame.py: `otshim flame FILE.pb.gz [--sample-index NAME] > out.svg`.

Writes to stdout a self-contained SVG flame graph of FILE (gzipped or plain pprof): one
rect per frame, width = cumulative value, root at the bottom, colour from a hash of the
function name; hover shows name, value and share (native tooltips and a details line),
click zooms into a frame, click the bottom frame to zoom out. Frames narrower than
0.5 px are left out. The sample type is the profile's default (cpu/nanoseconds for cpu
files, wall/nanoseconds for wall files, inuse_space for heap files, threads/count), or
--sample-index NAME (e.g. alloc_space, samples) or a 0-based number. In a wall file's
graph, frames mostly off CPU are blue and each wait's call and peer ("[recv
127.0.0.1:5432]", from the sample's wait and peer labels) is a frame on top of the
function that waited. The drawing is flame.py's.

Exit status: 0 the SVG was written; 1 FILE is missing or not a pprof profile; 2 usage,
or an unknown --sample-index."""
import sys

from .flame import flame_svg
from .notes import note
from .pprof import ProfileError, load_profile


def add_parser(sub):
    fl = sub.add_parser("flame", help="SVG flame graph of one profile, to stdout")
    fl.add_argument("file", metavar="FILE.pb.gz")
    fl.add_argument("--sample-index", metavar="NAME", help="sample type (default: the profile's default)")
    fl.set_defaults(func=flame, parser=fl)


def flame(args):
    try:
        prof = load_profile(args.file)
    except ProfileError as e:
        note("flame: cannot read %s: %s" % (args.file, e))
        return 1
    try:
        idx = prof.sample_index(args.sample_index)
    except KeyError:
        note("flame: %s has no sample type %r; it has: %s" % (
            args.file, args.sample_index, ", ".join(t for t, _ in prof.sample_types)))
        return 2
    sys.stdout.write(flame_svg(prof, idx))
    return 0
