# SPDX-License-Identifier: MIT
"""test-libcapbus-symbols.py - libcapbus.so exports exactly the API of capbus.h.

Usage: test-libcapbus-symbols.py LIBCAPBUS_SO CAPBUS_H LIBCAPBUS_SYM

Reads the dynamic symbol table of the built library (nm -D) and compares it with the functions
capbus.h declares and the version script lists: the same set of names, each defined under the
LIBCAPBUS_0 version node, and every declaration marked CAPBUS_EXPORT. An internal symbol
(envelope_*, hs_*, json_*, mac_*, parse_u64 ...) in the table, a public function missing from
it, or an unversioned export fails the test. Then the library is loaded with the dynamic linker
to see that an internal function cannot be looked up and the API can.
"""
import ctypes
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from capbus_harness import check, run_test, skip  # noqa: E402

VERSION = "LIBCAPBUS_0"


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def header_api(path):
    """Names of the functions capbus.h declares, and those of them not marked CAPBUS_EXPORT."""
    text = strip_comments(open(path).read())
    text = re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)
    declared, unmarked = set(), set()
    # Each declaration ends with ';'; what follows the last brace before it is the declaration.
    for chunk in text.split(";"):
        chunk = re.split(r"[{}]", chunk)[-1]
        m = re.match(r"\s*(.*?)\b(capbus_\w+)\s*\(.*\)\s*$", chunk, flags=re.S)
        if not m:
            continue
        declared.add(m.group(2))
        if "CAPBUS_EXPORT" not in m.group(1).split():
            unmarked.add(m.group(2))
    return declared, unmarked


def script_api(path):
    """Names listed under the global: part of the version node."""
    text = strip_comments(open(path).read())
    m = re.search(VERSION + r"\s*\{\s*global:(.*?)local:\s*\*;\s*\}\s*;", text, flags=re.S)
    check(m is not None, "%s: no '%s { global: ... local: *; };' node" % (path, VERSION))
    return set(n.strip() for n in m.group(1).split(";") if n.strip())


def exported(so):
    """{name: version} of the defined dynamic symbols, versions as nm prints them (@@V)."""
    if not shutil.which("nm"):
        if os.environ.get("CI") == "true":
            check(False, "nm (binutils) is missing")
        skip("nm (binutils) is missing")
    out = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", so],
                         check=True, capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        kind, sym = parts[1], parts[2]
        name, _, version = sym.partition("@")
        if kind == "A" and name == VERSION:  # the version node itself
            continue
        syms[name] = version
    return syms


def main():
    so, header, script = sys.argv[1:4]
    declared, unmarked = header_api(header)
    check(len(declared) >= 20, "found only %d declarations in %s: %s" % (len(declared), header, sorted(declared)))
    check(not unmarked, "declared in capbus.h without CAPBUS_EXPORT: %s" % sorted(unmarked))
    listed = script_api(script)
    check(listed == declared, "version script and capbus.h differ: only in the script %s, only in the header %s" %
          (sorted(listed - declared), sorted(declared - listed)))

    syms = exported(so)
    extra = sorted(set(syms) - declared)
    missing = sorted(declared - set(syms))
    check(not extra, "libcapbus.so exports %d symbols that capbus.h does not declare: %s" % (len(extra), extra))
    check(not missing, "libcapbus.so lacks functions capbus.h declares: %s" % missing)
    unversioned = sorted(n for n, v in syms.items() if v != "@" + VERSION)
    check(not unversioned, "exports not under %s: %s" % (VERSION, ["%s@%s" % (n, syms[n]) for n in unversioned]))

    # The dynamic linker agrees. An ASan build cannot be loaded into an uninstrumented Python
    # (the runtime aborts the process); its symbol table was checked all the same.
    undefined = subprocess.run(["nm", "-D", "--undefined-only", so], check=True, capture_output=True,
                               text=True).stdout
    if "__asan_" in undefined:
        print("note: AddressSanitizer build, not loaded with dlopen")
        return
    lib = ctypes.CDLL(so)
    check(hasattr(lib, "capbus_strerror"), "dlsym(capbus_strerror) failed")
    for internal in ("envelope_parse", "hs_client_auth", "json_scan_document", "mac_sign", "parse_u64"):
        check(not hasattr(lib, internal), "dlsym(%s) found an internal function" % internal)
    lib.capbus_strerror.restype = ctypes.c_char_p
    lib.capbus_strerror.argtypes = [ctypes.c_int]
    check(lib.capbus_strerror(3) == b"timed out", "capbus_strerror(CAPBUS_E_TIMEOUT): %r" % lib.capbus_strerror(3))


run_test(main)
