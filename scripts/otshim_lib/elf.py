"""otshim_lib/elf.py: what `otshim doctor` needs to know about an ELF file -- its class,
machine, program interpreter, whether it has a dynamic segment, and whether it is a Go
program -- as binutils' readelf reports it (nothing is parsed by hand here). Without
readelf, elf_info() knows nothing and the doctor says so."""
import os
import re
import shutil
import subprocess

# readelf's names for the machines a service is likely built for, as the doctor
# prints them; any other machine is shown as readelf names it.
MACHINES = {"Advanced Micro Devices X86-64": "x86-64", "Intel 80386": "x86", "AArch64": "aarch64",
            "ARM": "arm", "RISC-V": "riscv", "PowerPC64": "ppc64", "IBM S/390": "s390"}

GO_SECTIONS = {".go.buildinfo", ".note.go.buildid", ".gopclntab"}
# A Go binary stripped of its section headers (sstrip, some packers) still holds these.
GO_MARKS = (b"\xff Go buildinf:", b"Go build ID: \"")


def have_readelf():
    return shutil.which("readelf") is not None


def is_elf(path):
    """PATH starts with the ELF magic (so it is a binary, not a #! script)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_info(path):
    """None when readelf is missing or cannot read PATH as ELF; else a dict: bits (32 or
    64), machine, interp (the program interpreter, None for a static binary), dynamic
    (has a DYNAMIC segment: a static-pie has one but no interpreter), go."""
    readelf = shutil.which("readelf")
    if not readelf:
        return None
    try:
        # C locale: the field names below are readelf's English ones.
        r = subprocess.run([readelf, "--wide", "--file-header", "--program-headers",
                            "--section-headers", path],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20,
                           env=dict(os.environ, LC_ALL="C"))
    except (OSError, subprocess.TimeoutExpired):
        return None
    # readelf's exit status says little (0 for a truncated file, too): what decides is
    # whether it could print the file header and the program headers, where the
    # interpreter and the dynamic segment are.
    out = r.stdout.decode(errors="replace")
    cls = re.search(r"^\s*Class:\s*ELF(32|64)\s*$", out, re.M)
    machine = re.search(r"^\s*Machine:\s*(.*?)\s*$", out, re.M)
    phdrs = re.search(r"^Program Headers:$|^There are no program headers in this file", out, re.M)
    if not cls or not machine or not phdrs:
        return None
    interp = re.search(r"\[Requesting program interpreter: (.*)\]", out)
    sections = set(re.findall(r"^\s*\[\s*\d+\] (\S+)", out, re.M))
    return {"bits": int(cls.group(1)),
            "machine": MACHINES.get(machine.group(1), machine.group(1)),
            "interp": interp.group(1) if interp else None,
            "dynamic": re.search(r"^\s*DYNAMIC\s+0x", out, re.M) is not None,
            "go": bool(sections & GO_SECTIONS) or (not sections and has_go_marks(path))}


def has_go_marks(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return any(m in data for m in GO_MARKS)


def defines(path, names):
    """Which of NAMES PATH's dynamic symbol table defines (exports), as readelf lists it;
    [] without readelf."""
    readelf = shutil.which("readelf")
    if not readelf:
        return []
    try:
        r = subprocess.run([readelf, "--wide", "--dyn-syms", path], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=20, env=dict(os.environ, LC_ALL="C"))
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = set()
    for ln in r.stdout.decode(errors="replace").splitlines():
        f = ln.split()
        # Num: Value Size Type Bind Vis Ndx Name: an undefined one has Ndx UND
        if len(f) >= 8 and f[6] != "UND" and f[7].split("@")[0] in names:
            found.add(f[7].split("@")[0])
    return [n for n in names if n in found]


def shared_libs(path):
    """The paths of the shared objects PATH loads at start, as the loader resolves them
    (ldd, which asks the loader without running the program's code); [] when unknown."""
    ldd = shutil.which("ldd")
    if not ldd:
        return []
    try:
        r = subprocess.run([ldd, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=20, env=dict(os.environ, LC_ALL="C"))
    except (OSError, subprocess.TimeoutExpired):
        return []
    return re.findall(r"=> (/\S+)", r.stdout.decode(errors="replace"))

