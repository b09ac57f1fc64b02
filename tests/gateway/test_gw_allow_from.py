#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gateway.allow_from in the kernel: capbusd attaches the ingress program to the supervised
gateway's cgroup leaf before it starts. Two network namespaces, each joined to the host by a
veth pair (10.77.0.2 -> host 10.77.0.1, 10.77.1.2 -> host 10.77.1.1); the gateway (the stand-in)
listens on both host addresses and allow_from holds 10.77.0.2/32 only. A TCP handshake from
namespace A succeeds and the gateway accepts it; one from namespace B never completes (its SYN
is dropped) and the gateway never sees it. With allow_from left out, B connects too."""
import os
import subprocess
import time

from capbus_harness import Daemon, GuardDaemon, Subtree, check, require_skills_env, run_test, skip
from gwtest import delegable, free_port, standin_dir, wait_events

NS = {"a": ("capbus-gwa-%d" % os.getpid(), "cbgwa%d" % (os.getpid() % 10000), "10.77.0"),
      "b": ("capbus-gwb-%d" % os.getpid(), "cbgwb%d" % (os.getpid() % 10000), "10.77.1")}


def sh(*argv, check_rc=True):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check_rc and p.returncode != 0:
        raise AssertionError("%s: %s" % (" ".join(argv), p.stderr))
    return p


def netns_up():
    for ns, veth, net in NS.values():
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p")
        sh("ip", "link", "set", veth + "p", "netns", ns)
        sh("ip", "addr", "add", net + ".1/24", "dev", veth)
        sh("ip", "link", "set", veth, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", net + ".2/24", "dev", veth + "p")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", veth + "p", "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")


def netns_down():
    for ns, veth, _ in NS.values():
        sh("ip", "link", "del", veth, check_rc=False)
        sh("ip", "netns", "del", ns, check_rc=False)


def connect(which, port):
    """A TCP handshake from namespace which to the host address on its link: True if it completed."""
    ns, _, net = NS[which]
    code = ("import socket,sys\ntry:\n socket.create_connection(('%s.1', %d), timeout=3).close()\n"
            "except OSError as e:\n print(e); sys.exit(1)\n" % (net, port))
    return sh("ip", "netns", "exec", ns, "python3", "-c", code, check_rc=False).returncode == 0


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
        log = d.log()
        return a, b, "standin accepted 10.77.0.2" in log, "standin accepted 10.77.1.2" in log, log


def main():
    global CERT, KEY
    require_skills_env()
    if not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        skip("ip(8) is not installed")
    sdir, prog = standin_dir()
    CERT, KEY = os.path.join(sdir, "gw.crt"), os.path.join(sdir, "gw.key")
    for path in (CERT, KEY):
        with open(path, "w") as f:
            f.write("placeholder: the stand-in does not speak TLS\n")
        os.chmod(path, 0o600)
    netns_down()
    try:
        netns_up()
        with Subtree("gwallow") as sub:
            a, b, acc_a, acc_b, log = run(sub, prog, ["10.77.0.2/32"])
            check(a and acc_a, "the allowed source could not connect (%s %s):\n%s" % (a, acc_a, log[-4000:]))
            check(not b and not acc_b, "a source outside allow_from connected (%s %s):\n%s" % (b, acc_b, log[-4000:]))
            check("event=gateway_allow_from_unenforced" not in log, "allow_from not enforced:\n%s" % log[-3000:])
            # Control: without allow_from the same client connects, so the refusal above was the list.
            a, b, acc_a, acc_b, log = run(sub, prog, None)
            check(a and b and acc_b, "without allow_from B could not connect either: the setup is broken\n%s" % log[-3000:])
    finally:
        netns_down()
    return 0


if __name__ == "__main__":
    run_test(main)
