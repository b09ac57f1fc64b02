#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A fake daemon squatting a socket cannot authenticate to a client: the client exits 2 and sends no data."""
import os
import socket
import struct
import subprocess
import threading

from capbus_harness import Daemon, capbus_path, check, manifest, protocol, run_test

from capbus import Bus, VersionError
SECRET = "TOPSECRET-7f3a"


class FakeDaemon:
    """Accepts one connection at a time, plays a scripted RESULT, records every byte the client sends."""

    def __init__(self, path, result_fn, hello=None):
        self.path = path
        self.result_fn = result_fn
        self.hello = hello
        self.received = b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(15)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(10)
        with conn:
            hello = self.hello if self.hello is not None else protocol.MAGIC + os.urandom(32)
            conn.sendall(struct.pack(">I", len(hello)) + hello)
            try:
                while len(self.received) < 4 or len(self.received) < 4 + struct.unpack(">I", self.received[:4])[0]:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    self.received += chunk
                auth = self.received[4:]
                result = self.result_fn(auth)
                if result is None:
                    return  # hang up without a RESULT
                conn.sendall(struct.pack(">I", len(result)) + result)
                while True:  # keep recording until the client hangs up
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    self.received += chunk
            except (socket.timeout, ConnectionResetError):
                return

    def close(self):
        self.sock.close()
        self.thread.join(5)
        os.unlink(self.path)


SCRIPTS = {
    "random server proof": lambda auth: protocol.MAGIC + b"\x00" + os.urandom(32),
    "client proof reflected": lambda auth: protocol.MAGIC + b"\x00" + auth[40:72],
    "ok without proof": lambda auth: protocol.MAGIC + b"\x00",
    "ok with short proof": lambda auth: protocol.MAGIC + b"\x00" + os.urandom(16),
    "ok with long proof": lambda auth: protocol.MAGIC + b"\x00" + os.urandom(64),
    "unknown status": lambda auth: protocol.MAGIC + b"\x02" + os.urandom(32),
    "wrong magic": lambda auth: b"CAPBUS\x00\x01" + b"\x00" + os.urandom(32),
    "hang up after AUTH": lambda auth: None,
}


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        key = d.keygen("alice")
        fake_path = os.path.join(d.run_dir, "fake.sock")
        cases = [(name, fn, None) for name, fn in SCRIPTS.items()]
        cases.append(("bad hello magic", SCRIPTS["random server proof"], b"HTTP/1.1" + os.urandom(32)))
        cases.append(("short hello", SCRIPTS["random server proof"], protocol.MAGIC + os.urandom(8)))
        # A daemon of protocol version 1 (ChaCha20-Poly1305 tags): refused at its HELLO, by name.
        cases.append(("version-1 daemon", SCRIPTS["random server proof"], b"CAPBUS\x00\x01" + os.urandom(32)))
        for name, fn, hello in cases:
            for cmd in (["send", "greet.secret", '{"s": "%s"}' % SECRET], ["listen", "greet.*", "--timeout", "3"]):
                fake = FakeDaemon(fake_path, fn, hello)
                try:
                    cp = subprocess.run([capbus_path(), "--socket", fake_path, "--key", key] + cmd + [],
                                        capture_output=True, text=True, timeout=30)
                finally:
                    fake.close()
                check(cp.returncode == 2, "%s / %s: client exit %d, want 2 (%r)" % (name, cmd[0], cp.returncode, cp.stderr))
                check(SECRET.encode() not in fake.received, "%s: the client sent its message to a fake daemon" % name)
                valid_hello = hello is None
                if valid_hello:
                    n = struct.unpack(">I", fake.received[:4])[0]
                    check(len(fake.received) == 4 + n,
                          "%s / %s: client sent %d bytes after AUTH to an unauthenticated daemon"
                          % (name, cmd[0], len(fake.received) - 4 - n))
                else:
                    check(len(fake.received) == 0, "%s: client answered a bad HELLO" % name)
                if name == "version-1 daemon":
                    check("another capbus protocol version" in cp.stderr, "%s: no version message: %r" % (name, cp.stderr))
        # The Python SDK names a version-1 daemon too, and sends it nothing.
        fake = FakeDaemon(fake_path, SCRIPTS["random server proof"], b"CAPBUS\x00\x01" + os.urandom(32))
        try:
            try:
                Bus(fake_path, key).close()
                check(False, "the SDK connected to a version-1 daemon")
            except VersionError as e:
                check("version 1" in str(e), "SDK message: %s" % e)
        finally:
            fake.close()
        check(fake.received == b"", "the SDK answered a version-1 HELLO")
        # The real daemon is still fine with the same key.
        check(d.cli("send", "greet.real", "{}", key=key).returncode == 0, "real daemon refused the key")


if __name__ == "__main__":
    run_test(main)
