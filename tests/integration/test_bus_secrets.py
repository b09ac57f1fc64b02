#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""No secret in the daemon log, argv or environment of the daemon's processes."""
import os

from capbus_harness import Daemon, check, manifest, read_key_file, run_test


def forms(secret):
    """The ways a 32-byte secret could leak in text: hex (both cases), halves of it, and raw bytes."""
    h = secret.hex()
    return [h.encode(), h.upper().encode(), h[:32].encode(), h[32:].encode(), secret]


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}, log_level="debug") as d:
        ka = d.keygen("alice")
        secrets = [read_key_file(ka)[1], read_key_file(d.admin_key)[1], d.admin_authority]
        master_path = os.path.join(d.state_dir, "master.key")
        if os.path.exists(master_path):
            with open(master_path, "rb") as f:
                raw = f.read()
            secrets.append(raw)
            for line in raw.decode("ascii", "replace").splitlines():
                word = line.split()[-1] if line.split() else ""
                if len(word) == 64:
                    secrets.append(bytes.fromhex(word))
        # Exercise the paths that handle keys: handshakes, bad handshakes, keygen, reload.
        c = d.client("alice")
        c.subscribe("greet.*")
        c.send("greet.x", {"secret": "not-a-key"})
        c.drain(0.1)
        d.admin("keygen", "alice", "--out", os.path.join(d.keys_dir, "again.key"))
        d.admin("reload")
        d.cli("send", "greet.a", "{}", key=ka)
        for pid in d.pids():
            for what in ("cmdline", "environ"):
                with open("/proc/%d/%s" % (pid, what), "rb") as f:
                    blob = f.read()
                for s in secrets:
                    for form in forms(s) if len(s) == 32 else [s]:
                        check(form not in blob, "a secret appears in /proc/%d/%s" % (pid, what))
                check(b"CAPBUS_KEY" not in blob or what == "cmdline", "a key variable in the environment of %d" % pid)
        d.stop()
        log = d.log().encode()
        check(b"event=key_issued" in log, "log has no key_issued event (test exercised nothing?)")
        for s in secrets:
            for form in forms(s) if len(s) == 32 else [s]:
                check(form not in log, "a secret appears in the daemon log")
        d.start()


if __name__ == "__main__":
    run_test(main)
