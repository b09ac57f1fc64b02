#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbusd supervising the gateway. First with the stand-in (capbusd --gateway runs it where
capbus-gateway runs, and it reports what it sees inside): started sandboxed in its own cgroup
leaf under a sandbox uid, with no capabilities, no /etc/capbus, fds 3 and 4 only; it alone may
open delegated sessions (a process outside its cgroup holding the gateway's key is refused);
killed, it is restarted with a backoff in a new leaf that the router learns; stopped with the
daemon, its cgroup removed. Then with the real capbus-gateway, which capbusd starts by default:
one that cannot bind its port is restarted with growing delays, given up after 6 starts, and
tried again on SIGHUP. The real gateway serving clients end to end is test_gw_supervised."""
import os
import signal
import socket
import time

from capbus_harness import (Daemon, abstract_name, check, pid_alive, proc_status, read_key_file,
                            require_skills_env, run_test, skill_cgroups)
from harness_wire import DelegatedClient, DelegationRefused
from gwtest import delegable, events, free_port, standin_dir, wait_events

UID_MIN, UID_MAX = 200000, 265535


def started_line(d, n):
    lines = [l for l in d.log().splitlines() if "standin started" in l]
    check(len(lines) >= n, "stand-in start %d not logged:\n%s" % (n, d.log()[-4000:]))
    return lines[n - 1]


def main():
    require_skills_env()
    sdir, prog = standin_dir()
    port = free_port()
    gw = {"listen": ["127.0.0.1:%d" % port], "plain_loopback": True, "local": {"/standin": "alice"}}
    with Daemon({"alice": delegable("alice")}, start=False, socket=abstract_name(), gateway=gw) as d:
        os.chmod(d.dir, 0o755)
        d.start(gateway=prog)
        first = wait_events(d, "gateway_started")[0]
        wait_events(d, "gateway_output")
        deadline = time.monotonic() + 20
        while "standin delegated" not in d.log():
            check(time.monotonic() < deadline, "the stand-in never tried AUTH_D:\n%s" % d.log()[-4000:])
            time.sleep(0.05)
        check("standin delegated ok alice" in d.log(), "the supervised gateway was refused:\n%s" % d.log()[-4000:])
        line = started_line(d, 1)
        fields = dict(w.split("=", 1) for w in line.split("standin started", 1)[1].strip(' "').split() if "=" in w)
        init = int(first["pid"])
        uid = int(proc_status(init)["Uid"].split()[0])
        check(UID_MIN <= uid <= UID_MAX and str(uid) == first["uid"], "gateway uid %d (logged %s)" % (uid, first["uid"]))
        check(fields["uid"] == "1000", "inside its user namespace the gateway is uid %s" % fields["uid"])
        check(fields["nonewprivs"] == "1" and fields["seccomp"] == "2" and fields["capeff"] == "0000000000000000",
              "gateway not confined: %r" % fields)
        check(fields["etc_capbus"] == "False" and fields["keyid"] == "gateway", "gateway sees %r" % fields)
        check(fields["cgroupfs"] == "True", "the cgroup v2 hierarchy is not at /cgroup: %r" % fields)
        cg = open("/proc/%d/cgroup" % init).read()
        check("-gateway" in cg and first["cgroup"] in cg, "gateway not in its leaf: %r" % cg)
        # The gateway's key alone opens nothing: this process is outside its cgroup.
        ident, key = read_key_file(d.keygen("gateway"))
        c = DelegatedClient(d.socket, key, "alice")
        try:
            c.handshake()
            raise AssertionError("a process outside the gateway's cgroup opened a delegated session")
        except DelegationRefused as e:
            print("# outside process refused with status %d" % e.status)
        finally:
            c.close()
        # Killed: restarted after a backoff, in a new leaf the router learns.
        t0 = time.monotonic()
        os.kill(init, signal.SIGKILL)
        wait_events(d, "gateway_exited")
        planned = wait_events(d, "gateway_restart_planned")
        check(int(planned[0]["backoff_ms"]) >= 500, "backoff %r" % planned[0])
        second = wait_events(d, "gateway_started", 2)[1]
        check(time.monotonic() - t0 >= 0.45, "restarted without a backoff")
        check(second["cgroup_id"] != first["cgroup_id"], "restart reused the leaf %s" % first["cgroup_id"])
        deadline = time.monotonic() + 20
        while d.log().count("standin delegated ok alice") < 2:
            check(time.monotonic() < deadline, "the restarted gateway was refused:\n%s" % d.log()[-4000:])
            time.sleep(0.05)
        # A second kill backs off longer.
        os.kill(int(second["pid"]), signal.SIGKILL)
        planned = wait_events(d, "gateway_restart_planned", 2)
        check(int(planned[1]["backoff_ms"]) > int(planned[0]["backoff_ms"]), "backoff did not grow: %r" % planned)
        third = wait_events(d, "gateway_started", 3)[2]
        leaves = skill_cgroups("gateway")
        check(any(l.endswith(third["cgroup"]) for l in leaves), "leaf %s missing: %r" % (third["cgroup"], leaves))
        rc = d.stop()
        check(rc == 0, "capbusd exited %r" % rc)
        check(not pid_alive(int(third["pid"])), "the gateway outlived capbusd")
        # this daemon's gateway leaves (other daemons on the machine have their own prefix)
        mine = {e["cgroup"] for e in events(d.log(), "gateway_started") if "cgroup" in e}
        left = [l for l in skill_cgroups("gateway") if os.path.basename(l) in mine]
        check(mine and not left, "the gateway's cgroups outlived capbusd: %r" % left)
        check(events(d.log(), "gateway_stopped"), "no gateway_stopped logged")
    # A gateway that keeps exiting: the real capbus-gateway (capbusd's default program) whose
    # listening port is taken exits 1 at every start; restarted 5 times with growing delays,
    # then given up (gateway_failed) while the daemon goes on serving; SIGHUP tries again.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    gw = dict(gw, listen=["127.0.0.1:%d" % busy.getsockname()[1]])
    gw.pop("local", None)
    with Daemon({"alice": delegable("alice")}, start=False, socket=abstract_name(), gateway=gw) as d:
        os.chmod(d.dir, 0o755)
        d.start()
        wait_events(d, "gateway_failed", timeout=120)  # 15.5 s of backoff, and six slow starts under sanitizers
        starts = [e for e in events(d.log(), "gateway_started") if "cgroup_id" in e]
        check(all("capbus-gateway" in e["program"] for e in starts), "not the real gateway: %r" % starts)
        check("gateway_listen" in d.log(), "the gateway did not say why it exited:\n%s" % d.log()[-4000:])
        planned = [int(e["backoff_ms"]) for e in events(d.log(), "gateway_restart_planned")]
        check(planned == [500, 1000, 2000, 4000, 8000], "backoffs %r" % planned)
        check(len(starts) == 6, "starts: %d" % len(starts))
        time.sleep(1.0)
        check(len([e for e in events(d.log(), "gateway_started") if "cgroup_id" in e]) == 6,
              "restarted after gateway_failed")
        d.client("alice").ping()
        os.kill(d.pid, signal.SIGHUP)
        wait_events(d, "gateway_retry")
        wait_events(d, "gateway_started", 7)
    busy.close()
    return 0


if __name__ == "__main__":
    run_test(main)
