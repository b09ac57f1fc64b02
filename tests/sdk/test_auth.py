#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Authentication and key files: a wrong key or unknown identity raises AuthError and costs the
daemon nothing; unsafe key files are refused before connecting; a squatter that does not know
the key cannot pass for the daemon."""
import os
import socket
import struct
import threading

from capbus_harness import Daemon, check, manifest, run_test

from capbus import AuthError, Bus, KeyFileError, ProtocolError, protocol


def write_key(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def expect(exc, fn, what):
    try:
        fn()
    except exc as e:
        return e
    except Exception as e:
        raise AssertionError("%s: expected %s, got %r" % (what, exc.__name__, e))
    raise AssertionError("%s: no %s" % (what, exc.__name__))


def fake_daemon(path, answer):
    """Listens on path; for one client sends HELLO, reads AUTH, then sends answer(auth_body)."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn:
            hello = protocol.MAGIC + os.urandom(protocol.NONCE_LEN)
            conn.sendall(protocol.header(len(hello)) + hello)
            (n,) = struct.unpack(">I", conn.recv(4, socket.MSG_WAITALL))
            auth = conn.recv(n, socket.MSG_WAITALL)
            reply = answer(auth)
            conn.sendall(protocol.header(len(reply)) + reply)
            conn.recv(1)  # until the client hangs up
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        good = d.keygen("alice")
        with open(good) as f:
            text = f.read()
        ident, secret = protocol.parse_key_file(text)
        wrong = text.replace(secret.hex(), os.urandom(32).hex())
        k = lambda name: os.path.join(d.keys_dir, name)  # noqa: E731

        e = expect(AuthError, lambda: Bus(d.socket, write_key(k("wrong.key"), wrong)), "wrong key")
        check("alice" in str(e), "the error does not name the identity: %s" % e)
        stranger = "id nobody\nsecret %s\n" % os.urandom(32).hex()
        expect(AuthError, lambda: Bus(d.socket, write_key(k("nobody.key"), stranger)), "unknown identity")

        for mode in (0o644, 0o640, 0o604, 0o620, 0o602, 0o660):
            e = expect(KeyFileError, lambda: Bus(d.socket, write_key(k("open.key"), text, mode)),
                       "key file mode %o" % mode)
            check("group or others" in str(e), "mode %o: unclear error %s" % (mode, e))
        os.symlink(good, k("link.key"))
        expect(KeyFileError, lambda: Bus(d.socket, k("link.key")), "symlinked key file")
        for bad in ("secret %s\n" % secret.hex(), "id alice\nsecret %s\n" % secret.hex()[:-2],
                    "id alice\nsecret %s\nextra\n" % secret.hex(), "id Al:ce\nsecret %s\n" % secret.hex(),
                    "id alice\nsecret %s\n" % (" " * 2 + secret.hex()[2:]), "id alice\0\nsecret 00\n"):
            expect(KeyFileError, lambda: Bus(d.socket, write_key(k("bad.key"), bad)), "malformed %r" % bad)
        expect(KeyFileError, lambda: Bus(d.socket, k("missing.key")), "missing key file")
        expect(KeyFileError, lambda: Bus(d.socket, d.keys_dir), "a directory as key file")
        if os.geteuid() == 0:
            theirs = write_key(k("theirs.key"), text)
            os.chown(theirs, 65534, 65534)
            e = expect(KeyFileError, lambda: Bus(d.socket, theirs), "key file of another user")
            check("another user" in str(e), "unclear error %s" % e)
        expect(FileNotFoundError, lambda: Bus(os.path.join(d.dir, "no.sock"), good), "missing socket")

        # The daemon shrugged all that off; the right key works, also as 0400.
        with Bus(d.socket, write_key(k("ro.key"), text, 0o400)) as bus:
            check(bus.id == "alice", "id %r" % bus.id)
            bus.sync()
        check(d.alive(), "daemon died")

        # A squatter on a socket path: it cannot produce the daemon's proof without the key.
        sq = os.path.join(d.dir, "squat.sock")
        t = fake_daemon(sq, lambda auth: protocol.MAGIC + b"\0" + os.urandom(protocol.PROOF_LEN))
        e = expect(AuthError, lambda: Bus(sq, good), "squatter claiming success")
        check("prove" in str(e), "unclear error %s" % e)
        t.join(5)
        os.unlink(sq)
        t = fake_daemon(sq, lambda auth: b"HTTP/1.1 400 Bad Request\r\n")
        expect(ProtocolError, lambda: Bus(sq, good), "a server that is not capbus")
        t.join(5)


if __name__ == "__main__":
    run_test(main)
