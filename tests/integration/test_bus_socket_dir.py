#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The socket is 0660 in a private dir; an unsafe socket dir or path makes the daemon refuse to start."""
import os
import stat
import subprocess

from capbus_harness import Daemon, capbusd_path, check, manifest, run_test


def refuses(d, what):
    d.write_config()
    proc = subprocess.Popen([capbusd_path(), "--config", d.config_path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        check(False, "daemon started (and kept running) with %s" % what)
    check(proc.returncode != 0, "daemon exited 0 with %s" % what)
    check("startup_failed" in err, "%s: no clear startup_failed message: %r" % (what, err))
    return err


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], [])}) as d:
        st = os.stat(d.socket)
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660,
              "socket mode is %o, want 0660" % stat.S_IMODE(st.st_mode))
        check(st.st_uid == os.geteuid(), "socket not owned by the daemon's user")
        check(stat.S_IMODE(os.stat(d.run_dir).st_mode) & 0o022 == 0, "run dir writable by others")

    with Daemon(start=False) as d:
        os.chmod(d.run_dir, 0o777)
        err = refuses(d, "a world-writable socket dir")
        check("directory" in err, "message does not name the directory problem: %r" % err)
        os.chmod(d.run_dir, 0o1777)
        refuses(d, "a sticky world-writable socket dir")
        os.chmod(d.run_dir, 0o770 | 0o020)
        refuses(d, "a group-writable socket dir")
        os.chmod(d.run_dir, 0o700)

        real = os.path.join(d.dir, "realrun")
        os.mkdir(real, 0o700)
        link = os.path.join(d.dir, "linkrun")
        os.symlink(real, link)
        d.config["socket"] = os.path.join(link, "bus.sock")
        refuses(d, "a symlinked socket dir")
        check(not os.path.exists(os.path.join(real, "bus.sock")), "a socket was created through the symlink")

        d.config["socket"] = os.path.join(d.run_dir, "bus.sock")
        with open(d.config["socket"], "w") as f:
            f.write("not a socket\n")
        refuses(d, "a regular file at the socket path")
        with open(d.config["socket"]) as f:
            check(f.read() == "not a socket\n", "the daemon clobbered a non-socket file")
        os.unlink(d.config["socket"])

        # The state dir is checked too.
        os.makedirs(d.state_dir, exist_ok=True)
        os.chmod(d.state_dir, 0o777)
        refuses(d, "a world-writable state dir")
        os.chmod(d.state_dir, 0o700)
        d.start()
        check(d.alive(), "daemon did not start once the dirs were fixed")


if __name__ == "__main__":
    run_test(main)
