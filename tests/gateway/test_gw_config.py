#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The gateway object is checked when capbusd starts: a bad listen address or port, a CIDR with
host bits, a TLS file that is missing, a non-loopback address without TLS, a loopback one with
neither TLS nor plain_loopback, max_message above max_frame, an unknown key: capbusd exits 1
with one line "FILE:LINE:COL: gateway...: ..." pointing at the offending value. A good object
starts."""
import json
import os
import subprocess

from capbus_harness import Daemon, capbusd_path, check, run_test

CASES = [
    # (gateway object, the text the error points at, words the message must hold)
    ({"listen": ["127.0.0.1"], "plain_loopback": True}, '"127.0.0.1"', "gateway.listen[0]"),
    ({"listen": ["127.0.0.1:80"], "plain_loopback": True}, '"127.0.0.1:80"', "port must be from 1024"),
    ({"listen": ["localhost:8181"], "plain_loopback": True}, '"localhost:8181"', "literal address"),
    ({"listen": ["127.0.0.1:8181"], "plain_loopback": True, "allow_from": ["192.168.1.0/24", "10.0.0.1/8"]},
     '"10.0.0.1/8"', "gateway.allow_from[1]"),
    ({"listen": ["0.0.0.0:8443"]}, '"0.0.0.0:8443"', "needs \"tls\""),
    ({"listen": ["0.0.0.0:8443"], "plain_loopback": True}, '"0.0.0.0:8443"', "not a loopback address"),
    ({"listen": ["127.0.0.1:8181"]}, '"127.0.0.1:8181"', "plain_loopback"),
    ({"listen": ["[::1]:8443"], "tls": {"cert": "/nonexistent/gw.crt", "key": "/nonexistent/gw.key"}},
     '"/nonexistent/gw.crt"', "gateway.tls.cert: cannot read"),
    ({"listen": ["[::1]:8443"], "tls": {"key": "/nonexistent/gw.key"}}, '{"key"', "gateway.tls.cert: missing"),
    ({"listen": ["127.0.0.1:8181"], "plain_loopback": True, "max_message": 1000000}, "1000000", "max_frame"),
    ({"listen": ["127.0.0.1:8181"], "plain_loopback": True, "local": {"/a/../b": "x"}}, '"/a/../b"', "cgroup v2 path"),
    ({"listen": ["127.0.0.1:8181"], "plain_loop": True}, '"plain_loop"', "unknown key"),
]


def line_col(text, needle):
    off = text.index(needle)
    line = text.count("\n", 0, off) + 1
    col = off - (text.rfind("\n", 0, off) + 1) + 1
    return line, col


def run(d, gw):
    d.config["gateway"] = gw
    # One member per line, so the position names the value.
    text = json.dumps(d.config, indent=1)
    with open(d.config_path, "w") as f:
        f.write(text)
    p = subprocess.run([capbusd_path(), "--config", d.config_path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    return p, text


def main():
    with Daemon(start=False) as d:
        for gw, at, words in CASES:
            p, text = run(d, gw)
            # an object is named at its opening brace
            needle = '"tls": {' if at.startswith("{") else at
            line, col = line_col(text, needle)
            if at.startswith("{"):
                col += len('"tls": ')
            want = "%s:%d:%d: " % (d.config_path, line, col)
            err = p.stderr.strip()
            check(p.returncode == 1, "%r: capbusd exited %d, want 1\n%s" % (gw, p.returncode, err))
            check(len(err.splitlines()) == 1, "%r: want one line, got:\n%s" % (gw, err))
            check(want in err and words in err, "%r: want %r and %r in:\n%s" % (gw, want, words, err))
            print("# ok: %s" % err)
        # A good object: the daemon gets as far as serving (delegation supervised).
        tls_dir = os.path.join(d.dir, "tls")
        os.makedirs(tls_dir)
        for n in ("gw.crt", "gw.key"):
            with open(os.path.join(tls_dir, n), "w") as f:
                f.write("x\n")
        d.config["gateway"] = {"listen": ["127.0.0.1:8181", "[::]:8443"], "plain_loopback": True,
                               "tls": {"cert": os.path.join(tls_dir, "gw.crt"), "key": os.path.join(tls_dir, "gw.key")},
                               "allow_from": ["192.168.1.0/24", "2001:db8::/32"],
                               "local": {"/system.slice/ovos-audio.service": "ovos-audio"}, "supervise": False,
                               "lockout": {"threshold": 3, "capacity": 64}}
        d.write_config()
        d.start()
        check("delegation=any" in d.log(), "good gateway object not taken:\n%s" % d.log()[-3000:])
    return 0


if __name__ == "__main__":
    run_test(main)
