#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Networked skills launched by capbusd keep a network namespace of their own, whose only way out
is the user-mode stack (slirp4netns) running in the skill's cgroup, under its egress rules.

Each skill is tests/hostile/escape with a network entry in its manifest; it reports over the bus.
Asserted: a NETLINK_ROUTE dump shows only lo and tap0; neither NETLINK_SOCK_DIAG nor
/proc/net/unix shows the host's unix sockets (an abstract listener of the test's is visible on
the host and not inside); bind(0)+listen fails with EPERM without an inbound port; the host's
loopback service named by a rule is reached through the gateway 10.0.2.2 and answers; another
port there is refused by the egress rule (EPERM); an any-host rule does not open the host's
loopback; /etc/resolv.conf names the stack's DNS forwarder 10.0.2.3, which the skill may send to
only with a port-53 rule; the host's abstract sockets are out of reach; an inbound port from "listen" is
forwarded from the host's 127.0.0.1; the stack runs in the skill's cgroup, holds no file of the
daemon, and is gone with the skill; a stack that cannot start (its inbound port is taken) means
the skill does not start, with a log line naming the step; the stack also dies with a SIGKILLed
daemon."""
import os
import signal
import socket
import threading
import time

from capbus_harness import (GuardDaemon, OBSERVER, REPORT, SkillBus, Subtree, TestFailure, abstract_listener, check,
                            children_of, manifest, own_cgroup, pid_alive, remove_cgroups, require_guard_env, run_test,
                            skill_cgroups, skip, v2_mount, wait_for)

GATEWAY = "10.0.2.2"
SLIRP4NETNS = "/usr/bin/slirp4netns"


class Greeter:
    """A loopback TCP server that writes one line to every client and counts them."""

    def __init__(self, line):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.line, self.hits, self.stop = line, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.hits += 1
            try:
                c.sendall(self.line)
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


class GuardedSkillBus(SkillBus):
    """A SkillBus around a guarded daemon (the egress rules are what the test is about): the
    observer connects from the guard's allowed cgroup, the test's thread moving there only for
    the connect, which is what the guard judges."""

    def __init__(self, sub):
        self.sub = sub
        super().__init__(daemon=GuardDaemon(sub, {OBSERVER: manifest(OBSERVER, [], [REPORT])}, start=False))

    def connect_observer(self):
        home = os.path.join(v2_mount(), own_cgroup().lstrip("/"))
        with open(os.path.join(self.sub.dir("allowed"), "cgroup.procs"), "w") as f:
            f.write(str(threading.get_native_id()))
        try:
            super().connect_observer()
        finally:
            with open(os.path.join(home, "cgroup.procs"), "w") as f:
                f.write(str(threading.get_native_id()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_pids(daemon_pid):
    """slirp4netns processes the daemon started (its children, in any of its threads)."""
    out = []
    for pid in children_of(daemon_pid):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "slirp4netns":
                    out.append(pid)
        except (FileNotFoundError, ProcessLookupError):  # gone between the listing and the read
            pass
    return out


def greet_inbound(port, timeout=20):
    def probe():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                c.settimeout(2)
                data = c.recv(64)
                return data if data else None
        except OSError:
            return None
    return wait_for(probe, timeout, interval=0.2, what="the skill's greeting on 127.0.0.1:%d" % port)


def main():
    require_guard_env()
    if not os.access(SLIRP4NETNS, os.X_OK):
        skip("%s is not installed (scripts/install-deps)" % SLIRP4NETNS)
    allowed = Greeter(b"hello-from-host\n")
    other = Greeter(b"other-service\n")
    marker = "capbus-nettest-%d" % os.getpid()
    unix = abstract_listener(marker)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    busy_port = busy.getsockname()[1]
    inbound = free_port()
    try:
        with Subtree("net") as sub:
            sb = GuardedSkillBus(sub)
            with sb:
                lo_rule = {"connect": ["tcp:127.0.0.1:%d" % allowed.port]}
                skills = {
                    "n.view": (["net-view", marker], lo_rule),
                    "n.bind-listen": (["bind-listen", "0"], lo_rule),
                    "n.allowed": (["connect-tcp", GATEWAY, str(allowed.port)], lo_rule),
                    "n.other-port": (["connect-tcp", GATEWAY, str(other.port)], lo_rule),
                    "n.any-host": (["connect-tcp", GATEWAY, str(allowed.port)], ["tcp:%d" % allowed.port]),
                    # With the host's loopback mapped (a rule names 127.0.0.1), an any-host rule
                    # still does not reach another of its ports.
                    "n.any-host-mapped": (["connect-tcp", GATEWAY, str(other.port)], {"connect": lo_rule["connect"] + ["tcp:%d" % other.port]}),
                    "n.abstract": (["abstract-unix", marker], lo_rule),
                    "n.listen": (["listen-accept", str(inbound)], {"listen": [inbound]}),
                    "n.hold": (["hold"], lo_rule),
                    "n.busy": (["hold"], {"listen": [busy_port]}),
                    # The resolver rule names a loopback address that is not the host's resolver
                    # here, so the forwarder's query is refused too: nothing leaves the machine.
                    "n.dns": (["dns-send"], ["udp:127.0.0.53:53"]),
                    "n.dns-none": (["dns-send"], lo_rule),
                }
                for ident, (args, net) in skills.items():
                    sb.add_skill(ident, args, network=net)
                sb.reload()
                try:
                    greeting = greet_inbound(inbound)
                except TestFailure as e:
                    raise TestFailure("%s\n---- daemon log (tail) ----\n%s" % (e, sb.d.log()[-6000:]))
                reps = sb.wait_reports([i for i in skills if i != "n.busy"], timeout=60)
                for ident, rep in sorted(reps.items()):
                    print("# %s: %s" % (ident, rep["results"]))

                # -- what the namespace shows ---------------------------------------------------
                res = {r["attack"]: r for r in reps["n.view"]["results"]}
                check(res["net-links"]["ok"] and sorted(res["net-links"]["links"]) == ["lo", "tap0"],
                      "NETLINK_ROUTE must list only lo and tap0: %r" % res["net-links"])
                with open("/proc/net/unix") as f:
                    check(("@" + marker) in f.read(), "the host's /proc/net/unix lacks @%s" % marker)
                for a in ("net-unix-diag", "net-proc-unix"):
                    check(res[a]["ok"] and not res[a]["marker_seen"] and res[a]["count"] <= 4,
                          "%s must show no host socket: %r" % (a, res[a]))

                # -- DNS: the stack's forwarder, allowed only with a port-53 rule ----------------
                r = reps["n.dns"]["result"]
                check(r["ok"] and r["resolv"] == "nameserver 10.0.2.3", "DNS with a port-53 rule: %r" % r)
                r = reps["n.dns-none"]["result"]
                check(not r["ok"] and r["errno"] == "EPERM" and r["stage"] == "sendto" and
                      r["resolv"] == "nameserver 10.0.2.3", "DNS without a port-53 rule: %r" % r)

                # -- listening ---------------------------------------------------------------
                r = reps["n.bind-listen"]["result"]
                check(not r["ok"] and r["errno"] == "EPERM" and r["stage"] == "listen",
                      "bind(0)+listen without an inbound port: %r" % r)
                check(greeting == b"hello-from-skill\n", "inbound port: got %r" % greeting)
                r = reps["n.listen"]["result"]
                check(r["ok"], "listen-accept in the skill: %r" % r)

                # -- reaching out --------------------------------------------------------------
                r = reps["n.allowed"]["result"]
                check(r["ok"] and r["reply"] == "hello-from-host",
                      "the granted host loopback service via %s: %r" % (GATEWAY, r))
                r = reps["n.other-port"]["result"]
                check(not r["ok"] and r["errno"] == "EPERM" and r["stage"] == "connect",
                      "a host loopback port not granted: %r" % r)
                r = reps["n.any-host"]["result"]
                check(not r["ok"], "an any-host rule must not open the host's loopback: %r" % r)
                r = reps["n.any-host-mapped"]["result"]
                check(not r["ok"], "an any-host rule must not open the host's loopback, also where a rule maps it: %r" % r)
                check(allowed.hits == 1, "the granted service saw %d clients, want 1" % allowed.hits)
                check(other.hits == 0, "the service not granted was reached %d times" % other.hits)
                r = reps["n.abstract"]["result"]
                check(not r["ok"] and r["errno"] in ("ECONNREFUSED", "EPERM"),
                      "the host's abstract socket @%s: %r" % (marker, r))
                try:
                    unix.setblocking(False)
                    unix.accept()
                    raise AssertionError("a skill reached the host's @%s" % marker)
                except BlockingIOError:
                    pass

                # -- the stack -----------------------------------------------------------------
                dpid = sb.d.pid
                hold = sb.skill("n.hold")
                check(hold and hold["state"] == "running", "n.hold: %r" % hold)
                stacks = stack_pids(dpid)
                check(stacks, "no slirp4netns among the daemon's children")
                mine = []
                for pid in stacks:
                    with open("/proc/%d/cgroup" % pid) as f:
                        if "-n.hold" in f.read():
                            mine.append(pid)
                check(len(mine) == 1, "n.hold's stack is not in its cgroup: %r of %r" % (mine, stacks))
                # Every hierarchy (the v2 leaf, and v1 memory/pids/cpu on a hybrid layout): the
                # same cgroups as the sandbox's init, so it counts against the skill's limits.
                with open("/proc/%d/cgroup" % mine[0]) as f, open("/proc/%d/cgroup" % hold["pid"]) as g:
                    a, b = sorted(f.read().split()), sorted(g.read().split())
                check(a == b, "the stack's cgroups %r differ from the skill's %r" % (a, b))
                for fd in os.listdir("/proc/%d/fd" % mine[0]):
                    t = os.readlink("/proc/%d/fd/%s" % (mine[0], fd))
                    check(t.startswith(("pipe:", "socket:", "anon_inode:")) or t in ("/dev/null", "/dev/net/tun"),
                          "the stack holds %s (fd %s)" % (t, fd))
                with open("/proc/%d/environ" % mine[0], "rb") as f:
                    check(f.read() == b"", "the stack has an environment")

                # -- a stack that cannot start -------------------------------------------------
                log = wait_for(lambda: "netstack" in sb.log_about("n.busy") and sb.log_about("n.busy"), 20,
                               what="a start failure of n.busy")
                check("skill_start_failed" in log and 'step="netstack"' in log, "n.busy log: %s" % log)
                check((sb.skill("n.busy") or {}).get("state") != "running", "n.busy runs without its stack")

                # -- gone with the skill -------------------------------------------------------
                for ident in skills:
                    sb.remove_manifest(ident)
                sb.reload()
                wait_for(lambda: not stack_pids(dpid), 20, what="every stack gone with its skill")

                # -- gone with a SIGKILLed daemon (its exit pipe closes, PDEATHSIG fires) -------
                sb.add_skill("n.hold", ["hold"], network=lo_rule)
                sb.reload()
                stacks = wait_for(lambda: stack_pids(dpid), 20, what="n.hold's stack again")
                sb.d.proc.send_signal(signal.SIGKILL)
                sb.d.proc.wait(10)
                sb.d.stop()
                wait_for(lambda: not any(pid_alive(p) for p in stacks), 5,
                         what="the stack to end with the SIGKILLed daemon")
    finally:
        remove_cgroups(skill_cgroups("n.hold"))  # a SIGKILLed daemon leaves its empty leaves
        allowed.close()
        other.close()
        unix.close()
        busy.close()


if __name__ == "__main__":
    run_test(main)
