#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbus token: a new gateway token is printed once (stdout, one line, cbt1_<tid>_<secret>) and
appears nowhere else: the store <state_dir>/gateway/tokens holds its tid and an argon2id hash,
never the secret, and neither the daemon's log nor any file under the daemon's directory holds
it; the store is root's, readable by the gateway's group only, and written through the signed
admin request (a key without the admin authority cannot). --revoke TID removes that token only,
and only through its own identity; --revoke-all removes every token of an identity; a token for
an identity without a manifest is refused."""
import os
import re
import stat

from capbus_harness import Daemon, check, run_test
from gwtest import delegable

TOKEN = re.compile(r"cbt1_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")


def secret_of(tok):
    """The secret part: base64url, so it may hold '_' itself."""
    return tok.split("_", 2)[2]


def mint(d, ident):
    p = d.admin("token", ident)
    check(p.returncode == 0, "capbus token %s: %d %s" % (ident, p.returncode, p.stderr))
    lines = p.stdout.splitlines()
    check(len(lines) == 1 and TOKEN.fullmatch(lines[0]), "token output %r" % p.stdout)
    tok = lines[0]
    check(tok not in p.stderr and secret_of(tok) not in p.stderr, "the token leaked to stderr")
    return tok, TOKEN.fullmatch(tok).group(1)


def store_lines(d):
    with open(os.path.join(d.state_dir, "gateway", "tokens")) as f:
        return [l.split(" ") for l in f.read().splitlines() if l and not l.startswith("#")]


def nowhere(d, secret):
    for root, _, files in os.walk(d.dir):
        for n in files:
            path = os.path.join(root, n)
            try:
                with open(path, "rb") as f:
                    check(secret.encode() not in f.read(), "the token's secret is in %s" % path)
            except (PermissionError, OSError):
                pass


def main():
    with Daemon({"alice": delegable("alice"), "bob": delegable("bob")}) as d:
        t1, tid1 = mint(d, "alice")
        t2, tid2 = mint(d, "alice")
        t3, tid3 = mint(d, "bob")
        check(len({tid1, tid2, tid3}) == 3, "tids repeat")
        lines = store_lines(d)
        check([l[0] for l in lines] == [tid1, tid2, tid3] and [l[1] for l in lines] == ["alice", "alice", "bob"],
              "store %r" % lines)
        check(all(len(l) == 4 and l[3].startswith("$argon2id$") and l[2].isdigit() for l in lines), "store %r" % lines)
        for t in (t1, t2, t3):
            nowhere(d, secret_of(t))
        path = os.path.join(d.state_dir, "gateway", "tokens")
        st = os.stat(path)
        check(st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o640, "store owner %d mode %o" % (st.st_uid, st.st_mode))
        dst = os.stat(os.path.dirname(path))
        check(dst.st_uid == 0 and stat.S_IMODE(dst.st_mode) == 0o750 and dst.st_gid == st.st_gid and st.st_gid >= 200000,
              "store dir owner %d:%d mode %o" % (dst.st_uid, dst.st_gid, dst.st_mode))
        # Only the admin's signed request writes it.
        bob_key = d.keygen("bob")
        p = d.cli("token", "bob", key=bob_key)
        check(p.returncode != 0 and not TOKEN.search(p.stdout), "a non-admin key minted a token: %r" % p.stdout)
        # Revoke one; through another identity a tid is not found.
        p = d.admin("token", "bob", "--revoke", tid1)
        check(p.returncode == 1, "bob revoked alice's token: rc %d" % p.returncode)
        check("bob holds no token %s: nothing was revoked" % tid1 in p.stderr, "stderr: %r" % p.stderr)
        check(tid1 in [l[0] for l in store_lines(d)], "alice's token went through bob")
        p = d.admin("token", "alice", "--revoke", tid1)
        check(p.returncode == 0, "revoke: %s" % p.stderr)
        check([l[0] for l in store_lines(d)] == [tid2, tid3], "after revoke %r" % store_lines(d))
        p = d.admin("token", "alice", "--revoke", tid1)
        check(p.returncode == 1, "revoking a revoked token: rc %d" % p.returncode)
        check("alice holds no token %s: nothing was revoked" % tid1 in p.stderr and "daemon could not apply" not in p.stderr,
              "an unknown tid, stderr: %r" % p.stderr)
        p = d.admin("token", "alice", "--revoke", "0123456789abcdef")  # never issued
        check(p.returncode == 1 and "alice holds no token 0123456789abcdef" in p.stderr, "never issued: %r" % p.stderr)
        p = d.admin("token", "alice", "--revoke-all")
        check(p.returncode == 0 and [l[0] for l in store_lines(d)] == [tid3], "revoke-all: %r" % store_lines(d))
        # No manifest, no token.
        p = d.admin("token", "nobody")
        check(p.returncode != 0 and not p.stdout.strip(), "token for an identity without a manifest: %r" % p.stdout)
        check([l[0] for l in store_lines(d)] == [tid3], "store changed by a refused request")
        for t in (t1, t2, t3):
            check(t not in d.log(), "a token is in the daemon's log")
    return 0


if __name__ == "__main__":
    run_test(main)
