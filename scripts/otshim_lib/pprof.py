"""otshim_lib/pprof.py: decodes a pprof profile (gzipped or plain protobuf, field
numbers from google/pprof's proto/profile.proto) into plain Python objects: sample
types, and samples as (function names leaf first, values, string labels). Only what
the report and the flame graph use, and no protobuf package: the wire format reader
is below. What the samples mean is analysis.py's business."""
import gzip
import re
import zlib


class ProfileError(Exception):
    """FILE is missing, empty or not a pprof profile; str() is the reason, for a note."""


# ---- protobuf wire format ----

def read_varint(buf, pos):
    """Decodes one base-128 varint at buf[pos]; returns (value, next position)."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ProfileError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProfileError("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) for each field of one message.
    value is an int for varint/fixed fields, a bytes slice for length-delimited ones."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:  # varint
            value, pos = read_varint(buf, pos)
        elif wire in (1, 5):  # 64-bit, 32-bit, little-endian
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise ProfileError("truncated fixed%d" % (8 * size))
            value, pos = int.from_bytes(buf[pos:pos + size], "little"), pos + size
        elif wire == 2:  # length-delimited: bytes, string, sub-message, packed repeated
            n, pos = read_varint(buf, pos)
            if pos + n > end:
                raise ProfileError("truncated field %d (needs %d bytes, %d left)" % (num, n, end - pos))
            value, pos = buf[pos:pos + n], pos + n
        else:
            raise ProfileError("bad wire type %d for field %d" % (wire, num))
        if num == 0:
            raise ProfileError("field number 0")
        yield num, wire, value


def scalars(buf):
    """A small sub-message as {field number: value}; a repeated field's last value wins,
    as protobuf has it for singular fields."""
    return {num: value for num, _, value in fields(buf)}


def ints(wire, value):
    """A repeated integer field arrives packed (one length-delimited run of varints)
    or as single varints; both decode to a list."""
    if wire != 2:
        return [value]
    out, pos = [], 0
    while pos < len(value):
        v, pos = read_varint(value, pos)
        out.append(v)
    return out


def signed(v):
    """int64 fields are sent as two's complement in 64 bits."""
    return v - (1 << 64) if v >= 1 << 63 else v


# ---- profile.proto ----

def gunzip(data):
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise ProfileError("bad gzip data (%s)" % e)


def value_type(buf):
    """ValueType: (type, unit) as string table indexes."""
    f = scalars(buf)
    return f.get(1, 0), f.get(2, 0)


# Profile's repeated message fields, kept raw until the string table is known.
RAW_FIELDS = {2: "samples", 4: "locations", 5: "functions"}


def read_top(data):
    """Profile's own fields, strings decoded, everything else still indexes or raw."""
    top = {"strings": [], "sample_types": [], "samples": [], "locations": [], "functions": [],
           "comments": [], "period_type": None, "default_sample_type": 0}
    for num, wire, value in fields(data):
        if num == 6 and wire == 2:
            top["strings"].append(bytes(value).decode("utf-8", "replace"))
        elif num == 1 and wire == 2:
            top["sample_types"].append(value_type(value))
        elif num in RAW_FIELDS and wire == 2:
            top[RAW_FIELDS[num]].append(value)
        elif num == 11 and wire == 2:
            top["period_type"] = value_type(value)
        elif num == 13:
            top["comments"].extend(ints(wire, value))
        elif num == 14 and wire == 0:
            top["default_sample_type"] = value
    return top


class Profile:
    """The parts of a pprof profile the report and the flame graph use."""

    def __init__(self, data):
        top = read_top(gunzip(data))
        self.strings = top["strings"]
        if not self.strings or self.strings[0] != "":
            raise ProfileError("not a pprof profile (string table must start with \"\")")
        s = self.string
        self.sample_types = [(s(t), s(u)) for t, u in top["sample_types"]]
        if not self.sample_types:
            raise ProfileError("not a pprof profile (no sample types)")
        period = top["period_type"]
        self.period_type = (s(period[0]), s(period[1])) if period else None
        self.default_sample_type = s(top["default_sample_type"])
        self.comments = [s(c) for c in top["comments"]]
        functions = self._functions(top["functions"])
        self.locations = self._locations(top["locations"], functions)
        self.samples = [self._sample(buf) for buf in top["samples"]]

    def _functions(self, bufs):
        """function id -> name."""
        out = {}
        for buf in bufs:
            f = scalars(buf)
            out[f.get(1, 0)] = self.string(f.get(2, 0)) or "?"
        return out

    def _locations(self, bufs, functions):
        """location id -> function names, innermost (inlined) first."""
        out = {}
        for buf in bufs:
            lid, address, names = 0, 0, []
            for num, wire, value in fields(buf):
                if num == 1:
                    lid = value
                elif num == 3:
                    address = value
                elif num == 4 and wire == 2:  # Line: function_id is field 1
                    names.extend(functions.get(v, "?") for n, _, v in fields(value) if n == 1)
            out[lid] = names or ["0x%x" % address]
        return out

    def _sample(self, buf):
        """(frames leaf first, values, {label key: string value}); numeric labels are dropped."""
        loc_ids, values, labels = [], [], {}
        for num, wire, value in fields(buf):
            if num == 1:
                loc_ids.extend(ints(wire, value))
            elif num == 2:
                values.extend(signed(v) for v in ints(wire, value))
            elif num == 3 and wire == 2:
                label = scalars(value)
                if label.get(2, 0):
                    labels[self.string(label.get(1, 0))] = self.string(label[2])
        if len(values) != len(self.sample_types):
            raise ProfileError("a sample has %d values for %d sample types"
                               % (len(values), len(self.sample_types)))
        frames = [name for lid in loc_ids for name in self.locations.get(lid, ["?"])]
        return frames, values, labels

    def string(self, i):
        if not 0 <= i < len(self.strings):
            raise ProfileError("string index %d out of range" % i)
        return self.strings[i]

    def sample_index(self, name=None):
        """The index of sample type NAME (a type name or a number); without NAME, the
        profile's default_sample_type, else the last one, as pprof chooses.
        KeyError when there is no such type."""
        types = [t for t, _ in self.sample_types]
        if name is None:
            name = self.default_sample_type if self.default_sample_type in types else types[-1]
        if name in types:
            return types.index(name)
        if re.fullmatch(r"\d+", str(name)) and int(name) < len(types):
            return int(name)
        raise KeyError(name)

    def sample_index_or_default(self, name):
        """sample_index(NAME), or the default sample type when there is no NAME."""
        try:
            return self.sample_index(name)
        except KeyError:
            return self.sample_index()


def load_profile(path):
    """The Profile in file PATH; ProfileError (with the reason) when it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ProfileError(e.strerror or str(e))
    if not data:
        raise ProfileError("empty file")
    return Profile(data)
