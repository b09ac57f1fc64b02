#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gateway.allow_from in the kernel: capbusd attaches the ingress program to the supervised
gateway's cgroup leaf before it starts. Two network namespaces, each held by a process and joined
to the host by a veth pair (10.77.0.2 -> host 10.77.0.1, 10.77.1.2 -> host 10.77.1.1); the gateway (the stand-in)
listens on both host addresses and allow_from holds 10.77.0.2/32 only. A TCP handshake from
namespace A succeeds and the gateway accepts it; one from namespace B never completes (its SYN
is dropped) and the gateway never sees it. With allow_from left out, B connects too."""
import os
import shutil
import subprocess
import time

from capbus_harness import Daemon, GuardDaemon, Subtree, check, require_skills_env, run_test, skip
from gwtest import delegable, events, free_port, standin_dir, wait_events

NS = {"a": ("cbgwa%d" % (os.getpid() % 100000), "10.77.0"), "b": ("cbgwb%d" % (os.getpid() % 100000), "10.77.1")}
HOLDERS = {}  # which -> the process holding that network namespace


def sh(*argv, check_rc=True):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check_rc and p.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(argv), p.stderr))
    return p


def in_ns(which, *argv, check_rc=True):
    return sh("nsenter", "-t", str(HOLDERS[which].pid), "-n", *argv, check_rc=check_rc)


def netns_up():
    """Namespaces held by a sleeping process each (no /run/netns names, which other programs on
    the machine may list and delete)."""
    own = os.readlink("/proc/self/ns/net")
    for which, (veth, net) in NS.items():
        h = HOLDERS[which] = subprocess.Popen(["unshare", "--net", "sleep", "600"])
        deadline = time.monotonic() + 5
        while os.readlink("/proc/%d/ns/net" % h.pid) == own:
            check(time.monotonic() < deadline, "unshare --net did not take")
            time.sleep(0.01)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p")
        sh("ip", "link", "set", veth + "p", "netns", str(h.pid))
        sh("ip", "addr", "add", net + ".1/24", "dev", veth)
        sh("ip", "link", "set", veth, "up")
        in_ns(which, "ip", "addr", "add", net + ".2/24", "dev", veth + "p")
        in_ns(which, "ip", "link", "set", veth + "p", "up")
        in_ns(which, "ip", "link", "set", "lo", "up")


def netns_down():
    for which, (veth, _) in NS.items():
        sh("ip", "link", "del", veth, check_rc=False)
        h = HOLDERS.pop(which, None)
        if h:
            h.kill()
            h.wait()


def connect(which, port):
    """A TCP handshake from namespace which to the host address on its link: True if it completed."""
    net = NS[which][1]
    code = ("import socket,sys\ntry:\n socket.create_connection(('%s.1', %d), timeout=3).close()\n"
            "except OSError as e:\n print(e); sys.exit(1)\n" % (net, port))
    return in_ns(which, "python3", "-c", code, check_rc=False).returncode == 0


def run(sub, prog, allow):
    port = free_port()
    gw = {"listen": ["10.77.0.1:%d" % port, "10.77.1.1:%d" % port], "tls": {"cert": CERT, "key": KEY},
          "local": {}}
    if allow is not None:
        gw["allow_from"] = allow
    with GuardDaemon(sub, {"alice": delegable("alice")}, start=False, gateway=gw) as d:
        os.chmod(d.dir, 0o755)
        Daemon.start(d, gateway=prog)
        wait_events(d, "gateway_started")
        deadline = time.monotonic() + 20
        while "standin listening" not in d.log():
            check(time.monotonic() < deadline, "the stand-in did not listen:\n%s" % d.log()[-4000:])
            time.sleep(0.05)
        a, b = connect("a", port), connect("b", port)
        time.sleep(0.3)
        d.stop()
        log = d.log()
        return a, b, "standin accepted 10.77.0.2" in log, "standin accepted 10.77.1.2" in log, log


def main():
    global CERT, KEY
    require_skills_env()
    for tool in ("ip", "unshare", "nsenter"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    sdir, prog = standin_dir()
    CERT, KEY = os.path.join(sdir, "gw.crt"), os.path.join(sdir, "gw.key")
    for path in (CERT, KEY):
        with open(path, "w") as f:
            f.write("placeholder: the stand-in does not speak TLS\n")
        os.chmod(path, 0o600)
    try:
        netns_up()
        with Subtree("gwallow") as sub:
            a, b, acc_a, acc_b, log = run(sub, prog, ["10.77.0.2/32"])
            check(a and acc_a, "the allowed source could not connect (%s %s):\n%s" % (a, acc_a, log[-4000:]))
            check(not b and not acc_b, "a source outside allow_from connected (%s %s):\n%s" % (b, acc_b, log[-4000:]))
            check("event=gateway_allow_from_unenforced" not in log, "allow_from not enforced:\n%s" % log[-3000:])
            counts = events(log, "gateway_ingress")
            check(counts and int(counts[-1]["dropped"]) > 0, "the ingress counter did not move: %r" % counts)
            # Control: without allow_from the same client connects, so the refusal above was the list.
            a, b, acc_a, acc_b, log = run(sub, prog, None)
            check(a and b and acc_b, "without allow_from B could not connect either: the setup is broken\n%s" % log[-3000:])
    finally:
        netns_down()
    return 0


if __name__ == "__main__":
    run_test(main)
