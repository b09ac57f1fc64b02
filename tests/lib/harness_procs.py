# SPDX-License-Identifier: MIT
"""Processes and cgroups as the tests see them through /proc and the cgroup file systems.

Part of the test harness: tests import these names from capbus_harness. The cgroups made here
are always beneath this process's own cgroup (never the root), and only the processes the test
put there are killed, by pid.
"""
import os
import re
import secrets
import signal
import socket
import time


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def children_of(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):  # the process went away meanwhile
        pass
    return kids


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


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


def own_cgroup_dirs():
    """Directories of this process's cgroups: {hierarchy name: path} ("unified" for v2, else the
    v1 controller list such as "memory" or "cpu,cpuacct")."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            num, ctrls, path = line.rstrip("\n").split(":", 2)
            own[ctrls] = path
    dirs = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.rstrip("\n").partition(" - ")
            fields = left.split(" ")
            fstype, _, opts = (right.split(" ") + ["", "", ""])[:3]
            mnt = _unescape_mountinfo(fields[4])
            if fstype == "cgroup2" and "" in own:
                dirs["unified"] = mnt + own[""]
            elif fstype == "cgroup":
                names = [o for o in opts.split(",") if o not in ("rw", "ro", "nosuid", "nodev", "noexec",
                                                                   "relatime") and "=" not in o]
                key = ",".join(names)
                for ctrls, path in own.items():
                    if ctrls and set(ctrls.split(",")) == set(names):
                        dirs[key] = mnt + path
    return {k: os.path.normpath(v) for k, v in dirs.items() if os.path.isdir(v)}


def skill_cgroups(ident):
    """Every cgroup directory beneath this process's own cgroups whose name ends in -<ident> and
    starts with capbus- (where capbusd puts a skill's leaves), in every hierarchy."""
    found = []
    for base in own_cgroup_dirs().values():
        for root, dirs, _ in os.walk(base):
            for name in dirs:
                if name.startswith("capbus-") and name.endswith("-" + ident):
                    found.append(os.path.join(root, name))
            if root.count("/") - base.count("/") >= 1:
                dirs[:] = []  # skill leaves sit beneath the daemon's cgroup (or its parent on v2)
    return sorted(set(found))


def cgroup_procs(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def remove_cgroups(paths):
    """Test clean-up: kill what is left in the given skill cgroups by pid, then remove them."""
    for p in sorted(paths, key=len, reverse=True):
        for pid in cgroup_procs(p):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(100):
            try:
                os.rmdir(p)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


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


def abstract_listener(name):
    """A listening abstract unix socket in the host's network namespace."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(8)
    s.setblocking(False)
    return s
