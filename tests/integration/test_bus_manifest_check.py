#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbus manifest check explains in plain words and points at errors as file:line:col."""
import os
import re
import subprocess
import tempfile

from capbus_harness import SOURCE_DIR, capbus_path, check, require_build, run_test


def run(path):
    return subprocess.run([capbus_path(), "manifest", "check", path], capture_output=True, text=True, timeout=20)


def expect_error(tmp, name, text, needle, what):
    """The error must name the file, the line and the column of needle (1-based)."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    cp = run(path)
    check(cp.returncode == 1, "%s: exit %d, want 1" % (what, cp.returncode))
    line_no = next(i for i, l in enumerate(text.split("\n"), 1) if needle in l)
    col = text.split("\n")[line_no - 1].index(needle) + 1
    want = "%s:%d:%d: " % (path, line_no, col)
    check(cp.stderr.startswith(want), "%s: error %r does not start with %r" % (what, cp.stderr, want))
    check(cp.stdout == "", "%s: printed a description of an invalid manifest" % what)


def main():
    require_build()
    example = os.path.join(SOURCE_DIR, "manifests", "examples", "org.example.weather.json")
    cp = run(example)
    check(cp.returncode == 0, "example manifest rejected: %r" % cp.stderr)
    for words in ("make the assistant say something out loud", "weather.*", "128 MiB", "200 per second"):
        check(words in cp.stdout, "plain-words description lacks %r:\n%s" % (words, cp.stdout))
    with tempfile.TemporaryDirectory(prefix="capbus-mcheck.") as tmp:
        spy = os.path.join(tmp, "spy.json")
        with open(spy, "w") as f:
            f.write('{"manifest_version": 1, "id": "spy", "bus": {"send": [], "receive": ["recognizer_loop:utterance"]}}')
        cp = run(spy)
        check(cp.returncode == 0 and "DANGEROUS" in cp.stdout and "--grant" in cp.stdout,
              "dangerous permission not called out:\n%s" % cp.stdout)
        check(not re.search(r"[{}\[\]]", cp.stdout), "description is JSON rather than words:\n%s" % cp.stdout)

        expect_error(tmp, "pattern.json",
                     '{\n  "manifest_version": 1,\n  "id": "x",\n  "bus": {"send": ["a.*"], "receive": ["b*c"]}\n}\n',
                     '"b*c"', "bad pattern")
        expect_error(tmp, "dup.json",
                     '{\n  "manifest_version": 1,\n  "id": "x",\n  "bus": {"send": [], "receive": []},\n  "id": "y"\n}\n',
                     '"id": "y"', "duplicate key")
        expect_error(tmp, "unknown.json",
                     '{\n  "manifest_version": 1,\n  "id": "x",\n  "bus": {"send": [], "receive": []},\n'
                     '  "permissions": ["all"]\n}\n', '"permissions"', "unknown key")
        expect_error(tmp, "badid.json",
                     '{\n  "manifest_version": 1,\n  "id": "../etc",\n  "bus": {"send": [], "receive": []}\n}\n',
                     '"../etc"', "bad id")
        missing = run(os.path.join(tmp, "absent.json"))
        check(missing.returncode == 1 and "absent.json" in missing.stderr, "missing file: %r" % missing.stderr)


if __name__ == "__main__":
    run_test(main)
