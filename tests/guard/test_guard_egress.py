#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Skill egress through the daemon: capbusd launches tests/guard/netprobe as two sandboxed
skills, each trying network actions and reporting them on the bus (type probe.result, heard by
the admin with `capbus listen`).

- sandbox.network "none": socket(AF_INET/AF_INET6, ...) fails with EAFNOSUPPORT. That is the
  sandbox's seccomp filter (only AF_UNIX sockets without network), which answers before the
  kernel's sock_create hook could (the egress guard's "no inet socket" would be EPERM); the skill
  also has an empty network namespace of its own. A unix connect to the bus name is refused by
  the egress guard (EPERM): a skill's only bus connection is the one it inherited.
- sandbox.network ["tcp:127.0.0.1:P"]: a networked skill has a network namespace of its own
  whose way out is slirp4netns, which maps the gateway 10.0.2.2 to the host's loopback because a
  rule names 127.0.0.1: the test's loopback listener on P is reached at 10.0.2.2:P and the
  probe's line arrives there; another port at the gateway and the same port on 127.0.0.2 (both
  with listeners on the host) are refused with EPERM by the connect4 hook and their listeners
  see nothing; an IPv6 socket (no rule grants one) cannot be created (EPERM, sock_create hook); a
  UDP socket can (the stack configures the namespace through one) but its sendto to a destination
  no rule lists is refused (EPERM, sendmsg4 hook); a unix connect to the bus is refused (EPERM);
  bind() to a fixed port is refused (EPERM), port 0 works but listen() then fails (EPERM).
- sandbox.network ["tcp:[::1]:P6"]: the rule is enforced (another port refused, no IPv4
  socket), but [::1] inside is the skill's own loopback: the stack maps no IPv6 host loopback,
  so the host's listener is not reached (ECONNREFUSED).
The skills' processes hold no BPF object of the guard."""
import errno
import json
import os
import shutil
import socket
import subprocess
import threading
import time

from capbus_harness import (BUILD_DIR, GuardDaemon, Subtree, capbus_path, check, enter_cgroup, require_guard_env,
                            run_test, skip, wait_for)

NONE_ID = "org.test.netnone"
ONE_ID = "org.test.netone"
SIX_ID = "org.test.netsix"


class Listener:
    """A TCP listener on (addr, port) recording what each accepted connection sent."""

    def __init__(self, addr, port=0):
        self.sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.addr, self.port = self.sock.getsockname()[:2]
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(2)
            try:
                data = c.recv(64)
            except OSError:
                data = b""
            c.close()
            self.got.append((peer[0], data))

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def skill_manifest(ident, exe, actions, network):
    return {"manifest_version": 1, "id": ident, "version": "1.0.0",
            "exec": [exe] + actions,
            "bus": {"send": ["probe.result"], "receive": []},
            "sandbox": {"network": network, "syscalls": "default"},
            "limits": {"memory": "32M", "pids": 4}}


def collect(d, want, timeout=30):
    """Listens as admin (in the allowed cgroup) until every (sender, action) in want reported."""
    seen = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not want <= set(seen):
        argv = [capbus_path(), "--socket", d.socket, "--key", d.admin_key, "listen", "probe.result",
                "--count", "40", "--timeout", "5"]
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=30, preexec_fn=enter_cgroup(d.admin_cgroup))
        for line in cp.stdout.splitlines():
            try:
                m = json.loads(line)
            except ValueError:
                continue
            key = (m.get("context", {}).get("sender"), m["data"].get("action"))
            seen.setdefault(key, m["data"])
    missing = want - set(seen)
    check(not missing, "no probe.result for %r within %ds; skills:\n%s\nlog:\n%s" %
          (sorted(missing), timeout, d.admin("skills", "--json").stdout, d.log()[-4000:]))
    return seen


def main():
    require_guard_env()
    if not os.access("/usr/bin/slirp4netns", os.X_OK):  # the networked skills' way out
        skip("slirp4netns is not installed (scripts/install-deps)")
    probe = os.path.join(BUILD_DIR, "tests", "guard", "netprobe")
    if not os.access(probe, os.X_OK):
        check(False, "netprobe not built: ninja -C <build> tests/guard/netprobe")
    l1 = Listener("127.0.0.1")
    port = l1.port
    l2 = Listener("127.0.0.1")
    l3 = Listener("127.0.0.2", port)
    l6 = Listener("::1")
    l6b = Listener("::1")
    listeners = (l1, l2, l3, l6, l6b)
    try:
        with Subtree("egress") as sub:
            d = GuardDaemon(sub, start=False)
            with d:
                os.chmod(d.dir, 0o755)  # the skills' uids must reach their directories (run/ stays 0700)
                skills_dir = os.path.join(d.dir, "skills")
                exe = {}
                for ident in (NONE_ID, ONE_ID, SIX_ID):
                    sd = os.path.join(skills_dir, ident)
                    os.makedirs(sd)
                    shutil.copy(probe, os.path.join(sd, "netprobe"))
                    os.chmod(sd, 0o755)
                    os.chmod(os.path.join(sd, "netprobe"), 0o755)
                    exe[ident] = os.path.join(sd, "netprobe")
                os.chmod(skills_dir, 0o755)
                d.config["skills_dir"] = skills_dir
                d.write_config()
                bus = "unix:" + d.socket
                ok_tcp = "tcp4:10.0.2.2:%d" % port
                other_port = "tcp4:10.0.2.2:%d" % l2.port
                other_addr = "tcp4:127.0.0.2:%d" % port
                tcp6 = "tcp6:[::1]:%d" % port
                udp = "udp4:127.0.0.1:%d" % port
                bind_fixed = "bind4:127.0.0.1:%d" % free_port()
                bind_any = "bind4:127.0.0.1:0"
                ok6 = "tcp6:[::1]:%d" % l6.port
                other6 = "tcp6:[::1]:%d" % l6b.port
                none_actions = [ok_tcp, tcp6, udp, bus]
                one_actions = [ok_tcp, other_port, other_addr, tcp6, udp, bus, bind_fixed, bind_any]
                six_actions = [ok6, other6, ok_tcp]
                d.write_manifest(NONE_ID, skill_manifest(NONE_ID, exe[NONE_ID], none_actions, "none"))
                d.write_manifest(ONE_ID, skill_manifest(ONE_ID, exe[ONE_ID], one_actions, ["tcp:127.0.0.1:%d" % port]))
                d.write_manifest(SIX_ID, skill_manifest(SIX_ID, exe[SIX_ID], six_actions, ["tcp:[::1]:%d" % l6.port]))
                d.start()
                want = {(NONE_ID, a) for a in none_actions} | {(ONE_ID, a) for a in one_actions} | \
                    {(SIX_ID, a) for a in six_actions}
                seen = collect(d, want)
                for (ident, action), r in sorted(seen.items()):
                    print("%-18s %-26s %-8s %s" % (ident, action, r["step"], r["errname"]))
                check(not d.events("skill_egress_unguarded"), "a skill ran without its egress guard:\n%s" % d.log())

                def expect(ident, action, step, err):
                    r = seen[(ident, action)]
                    check(r["step"] == step and r["errno"] == err,
                          "%s %s: %s failed with %s (%s), want %s %s" % (
                              ident, action, r["step"], r["errname"], r["errno"], step,
                              errno.errorcode.get(err, err) if err else "success"))

                # network "none": no inet socket at all (seccomp: EAFNOSUPPORT), no unix connect.
                for a in (ok_tcp, tcp6, udp):
                    expect(NONE_ID, a, "socket", errno.EAFNOSUPPORT)
                expect(NONE_ID, bus, "connect", errno.EPERM)

                # one rule: that destination only.
                expect(ONE_ID, ok_tcp, "done", 0)
                expect(ONE_ID, other_port, "connect", errno.EPERM)
                expect(ONE_ID, other_addr, "connect", errno.EPERM)
                expect(ONE_ID, tcp6, "socket", errno.EPERM)
                expect(ONE_ID, udp, "sendto", errno.EPERM)
                expect(ONE_ID, bus, "connect", errno.EPERM)
                # No fixed listening port; bind to port 0 (what any client gets) works, but without
                # a "listen" entry listen() does not (seccomp, EPERM).
                expect(ONE_ID, bind_fixed, "bind", errno.EPERM)
                expect(ONE_ID, bind_any, "listen", errno.EPERM)

                # IPv6 alike: one rule for [::1]:P6.
                expect(SIX_ID, ok6, "connect", errno.ECONNREFUSED)
                expect(SIX_ID, other6, "connect", errno.EPERM)
                expect(SIX_ID, ok_tcp, "socket", errno.EPERM)

                wait_for(lambda: any(data.startswith(b"netprobe") for _, data in l1.got), 5,
                         what="the probe's line at the allowed listener")
                check(not l6.got, "the host's IPv6 loopback listener was reached: %r" % l6.got)
                check(not l6b.got, "the IPv6 listener on the other port was reached: %r" % l6b.got)
                check(not l2.got, "the listener on the other port was reached: %r" % l2.got)
                check(not l3.got, "the listener on 127.0.0.2 was reached: %r" % l3.got)
                peers = {p for p, _ in l1.got}
                check(peers == {"127.0.0.1"}, "allowed listener peers: %r" % peers)

                # The skills hold none of the guard's BPF objects (they stay in the daemon's parent).
                skills = json.loads(d.admin("skills", "--json").stdout)
                for sk in skills:
                    pid = sk.get("pid") or 0
                    check(sk["state"] == "running" and pid > 0, "skill state: %r" % sk)
                    fds = [os.readlink("/proc/%d/fd/%s" % (pid, f)) for f in os.listdir("/proc/%d/fd" % pid)]
                    check(not [f for f in fds if "bpf" in f], "skill %s holds BPF objects: %r" % (sk["id"], fds))
    finally:
        for l in listeners:
            l.close()


if __name__ == "__main__":
    run_test(main)
