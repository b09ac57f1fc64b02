#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A second capbusd on the same socket refuses to start with a clear message; the first keeps working."""
import os
import subprocess

from capbus_harness import Daemon, capbusd_path, check, manifest, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        alice = d.client("alice")
        check(alice.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        ino = os.stat(d.socket).st_ino
        # Same config (same state dir) and a second config that shares only the socket.
        other_cfg = os.path.join(d.dir, "second.json")
        with open(other_cfg, "w") as f:
            f.write('{"socket": "%s", "state_dir": "%s/state2", "manifest_dir": "%s", "kernel_guard": "off",'
                    ' "log_level": "info"}' % (d.socket, d.dir, d.manifest_dir))
        for cfg in (d.config_path, other_cfg):
            cp = subprocess.run([capbusd_path(), "--config", cfg], capture_output=True, text=True, timeout=20)
            check(cp.returncode != 0, "second daemon exited 0 (it should refuse)")
            check("already serving this socket" in cp.stderr, "unclear refusal message: %r" % cp.stderr)
        check(d.alive(), "first daemon died")
        check(os.path.exists(d.socket) and os.stat(d.socket).st_ino == ino, "the second daemon touched the socket")
        alice.send("greet.still", {})
        m = alice.recv_message(5)
        check(m["type"] == "greet.still", "existing connection broken: %r" % m)
        d.client("alice").ping()


if __name__ == "__main__":
    run_test(main)
