# SPDX-License-Identifier: MIT
"""Helpers for the kernel guard tests at the daemon level.

Every test builds its own cgroup v2 subtree beneath this process's own cgroup,
    <v2 mount><own>/capbus-guardtest-<pid>-<tag>/{allowed,allowed/child,forbidden,...}
points the daemon's "guard.scope" at it (never the v2 root), runs allowed and forbidden
processes inside it and removes it afterwards (its processes are killed by pid first).

Clients are small processes started in a chosen cgroup (and optionally under another uid)
before they create any socket: gclient.py for raw connects, the capbus CLI for authenticated
ones. The daemon runs outside the subtree, so its own sockets are not in the guard's scope.
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time

from capbus_harness import (BUILD_DIR, Daemon, Skip, TestFailure, capbus_path, capbusd_path, check,  # noqa: F401
                            manifest, skip,
                            wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
GCLIENT = os.path.join(HERE, "gclient.py")


# ---- can this run here? ------------------------------------------------------------------

def ci():
    return os.environ.get("CI") == "true"


def cannot_run(reason):
    """Skip (exit 77), or fail when CI=true: in CI a guard test that cannot run is a failure."""
    if ci():
        raise TestFailure("%s, and CI=true: the kernel guard tests must run here" % reason)
    skip(reason)


def _unescape_mountinfo(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def v2_mount():
    """Mount point of the cgroup v2 hierarchy (hybrid or unified), from mountinfo; None if absent."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ")[0] == "cgroup2":
                return _unescape_mountinfo(left.split(" ")[4])
    return None


def own_cgroup():
    """This process's cgroup v2 path ("/..."), from /proc/self/cgroup."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def require_guard_env():
    if os.geteuid() != 0:
        cannot_run("needs root (BPF programs, cgroups, sandboxed skills)")
    if not BUILD_DIR or not os.access(os.path.join(BUILD_DIR, "busd", "capbusd"), os.X_OK):
        cannot_run("capbusd not built (set CAPBUS_BUILD_DIR)")
    if not v2_mount() or own_cgroup() is None:
        cannot_run("no cgroup v2 hierarchy")
    rel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    if rel < (6, 7):
        cannot_run("the kernel (%s) has no cgroup unix-connect hook (Linux 6.7+)" % os.uname().release)
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        cannot_run("the kernel has no BTF (/sys/kernel/btf/vmlinux)")


# ---- cgroups -------------------------------------------------------------------------------

class Subtree:
    """<v2 mount><own cgroup>/capbus-guardtest-<pid>-<tag>/ with the named children."""

    def __init__(self, tag, children=("allowed", "allowed/child", "forbidden")):
        self.mount = v2_mount()
        own = own_cgroup().rstrip("/")
        self.rel_root = "%s/capbus-guardtest-%d-%s" % (own, os.getpid(), tag)
        self.root = self.mount + self.rel_root
        self.children = list(children)
        self.started = []   # pids of processes this test put in the subtree
        os.mkdir(self.root)
        for c in self.children:
            os.makedirs(self.dir(c), exist_ok=True)

    def dir(self, name=None):
        return self.root if not name else os.path.join(self.root, name)

    def rel(self, name=None):
        """The path relative to the v2 mount, as the daemon's config wants it."""
        return self.rel_root if not name else self.rel_root + "/" + name

    def procs(self, name=None):
        try:
            with open(os.path.join(self.dir(name), "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except FileNotFoundError:
            return []

    def cleanup(self):
        dirs = []
        for root, subdirs, _ in os.walk(self.root, topdown=False):
            dirs.append(root)
        for d in dirs:
            # Only our own processes can be in here; end them by pid.
            deadline = time.monotonic() + 5
            while True:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids = [int(x) for x in f.read().split()]
                except FileNotFoundError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.cleanup()
        return False


def enter_cgroup(cgdir, uid=None, gid=None):
    """A preexec_fn: move the child into cgdir (before it creates any socket), then drop to uid."""
    def fn():
        with open(os.path.join(cgdir, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        if uid is not None:
            g = uid if gid is None else gid
            os.setgroups([])
            os.setresgid(g, g, g)
            os.setresuid(uid, uid, uid)
    return fn


def abstract_name():
    return "@capbus-test-" + secrets.token_hex(6)


# ---- clients -------------------------------------------------------------------------------

def gclient(address, cgdir, uid=None, comm=None, move_to=None, fork_move=None, scm_to=None, loop=None, no_wait=False,
            seconds=None, timeout=20, background=False):
    """Run gclient.py in cgdir: connect to address ("@name" or a path), report what happened.

    Returns a dict: pid (the process that called connect), comm, errno (0 = connected),
    hello (the daemon's greeting arrived), closed (the peer closed without a greeting)."""
    # A uid other than root may not reach a python in root's home: prefer the system one.
    py = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    argv = [py, GCLIENT, "--addr", address]
    if comm:
        argv += ["--comm", comm]
    if move_to:
        argv += ["--move-to", move_to]
    if fork_move:
        argv += ["--fork-move", fork_move]
    if scm_to:
        argv += ["--scm-to", scm_to]
    if loop:
        argv += ["--loop", str(loop)] + (["--no-wait"] if no_wait else [])
        argv += ["--seconds", str(seconds)] if seconds else []
    if background:  # the caller collects it with gclient_result()
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=enter_cgroup(cgdir, uid))
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                        preexec_fn=enter_cgroup(cgdir, uid))
    lines = [l for l in cp.stdout.splitlines() if l.startswith("{")]
    check(cp.returncode == 0 and lines, "gclient %s failed (%d): %s %s" % (argv[3:], cp.returncode,
                                                                          cp.stdout, cp.stderr))
    return json.loads(lines[-1])


def gclient_result(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    lines = [l for l in out.splitlines() if l.startswith("{")]
    check(p.returncode == 0 and lines, "gclient failed (%d): %s %s" % (p.returncode, out, err))
    return json.loads(lines[-1])


# ---- the daemon ----------------------------------------------------------------------------

class GuardDaemon(Daemon):
    """A capbusd with the kernel guard attached to the test's subtree.

    By default: abstract socket, kernel_guard "required", scope = the subtree, allow_cgroups =
    [<subtree>/allowed], allow_uids = [] (the tests run as root, and root is allowed by default).
    path_socket=True: a filesystem socket <dir>/run/bus.sock instead.
    Admin commands run in the allowed cgroup (admin_cgroup) so that they pass the guard."""

    def __init__(self, sub, manifests=None, start=True, guard=None, socket_name=None, path_socket=False,
                 **overrides):
        name = socket_name or abstract_name()
        g = {"scope": sub.rel(), "allow_cgroups": [sub.rel("allowed")], "allow_uids": []}
        g.update(guard or {})
        overrides.setdefault("kernel_guard", "required")
        super().__init__(manifests, start=start, socket=name, guard=g, **overrides)
        self.socket = name
        if path_socket:  # the harness's <dir>/run/bus.sock
            self.socket = self.config["socket"] = os.path.join(self.run_dir, "bus.sock")
            self.write_config()
        self.sub = sub
        self.admin_cgroup = sub.dir("allowed")

    def start(self, timeout=10.0):
        try:
            return super().start(timeout)
        except TestFailure:
            sim = self.config.get("guard", {}).get("simulate_missing_hook")
            if not sim and "no unix-connect BPF hook" in self.log():
                cannot_run("capbusd found no unix-connect BPF hook on this kernel")
            raise

    def cli(self, *args, key=None, timeout=30, input=None, socket_path=None, cgroup=None, uid=None):
        argv = [capbus_path(), "--socket", socket_path or self.socket]
        if key:
            argv += ["--key", key]
        argv += [str(a) for a in args]
        cp = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, env=self._env(),
                            preexec_fn=enter_cgroup(cgroup or self.admin_cgroup, uid))
        self._scan_sanitizers(cp.stderr, "capbus %s" % " ".join(str(a) for a in args))
        return cp

    def guard_info(self):
        cp = self.admin("guard")
        check(cp.returncode == 0, "capbus guard failed (%d): %s" % (cp.returncode, cp.stderr.strip()))
        return json.loads(cp.stdout)

    def set_guard(self, **changes):
        self.config["guard"] = dict(self.config["guard"], **changes)
        self.write_config()

    def events(self, name, start=0):
        return log_events(self.log()[start:], name)


_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def log_events(text, name):
    """Every log line with event=name, as dicts of its key=value fields (quotes removed)."""
    out = []
    for line in text.splitlines():
        if " event=%s " % name not in line + " ":
            continue
        fields = {}
        for k, v in _KV.findall(line):
            if v.startswith('"'):
                v = re.sub(r"\\(.)", r"\1", v[1:-1])
            fields[k] = v
        fields["_line"] = line
        out.append(fields)
    return out


def wait_event(d, name, pred=lambda e: True, start=0, timeout=5.0):
    return wait_for(lambda: next((e for e in d.events(name, start) if pred(e)), None), timeout,
                    what="event=%s in the daemon log" % name)


def cli_send_in(d, key, cgdir, uid=None, mtype="guard.test", data="{}"):
    return d.cli("send", mtype, data, key=key, cgroup=cgdir, uid=uid)


def run_test_guard(fn):
    """run_test() from the harness (exit codes 0/1/77)."""
    from capbus_harness import run_test
    run_test(fn)
