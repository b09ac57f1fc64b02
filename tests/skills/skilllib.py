# SPDX-License-Identifier: MIT
"""Helpers for skills launched by a real capbusd (tests/skills).

A test starts a Daemon with an "observer" client that may receive "hostile.report", subscribes,
then writes the skills' manifests and sends SIGHUP, so no report can be sent before someone
listens. Each skill is a copy of the hostile program sandbox/escape in <skills_dir>/<id>/,
run as ["<skills_dir>/<id>/escape", ATTACK, ARGS...]; launched by capbusd it reports what it
saw as a "hostile.report" message (context.sender is the skill's id).
"""
import json
import os
import re
import shutil
import signal
import socket
import time

from capbus_harness import (BUILD_DIR, Closed, Daemon, Skip, TestFailure, check, manifest, run_test,  # noqa: F401
                            skip, wait_for)

run_test_main = run_test

OBSERVER = "observer"
REPORT = "hostile.report"


def ci():
    return os.environ.get("CI") == "true"


def cannot_run(reason):
    """Skip (77), or fail when CI=true: in CI a skills test that cannot run is a failure."""
    if ci():
        raise TestFailure("%s, and CI=true: the skills tests must run here" % reason)
    skip(reason)


def escape_path():
    return os.path.join(BUILD_DIR, "tests", "hostile", "escape")


def require_env():
    if os.geteuid() != 0:
        cannot_run("needs root to launch sandboxed skills (own uids, namespaces, cgroups)")
    for p in (os.path.join(BUILD_DIR or "", "busd", "capbusd"), os.path.join(BUILD_DIR or "", "cli", "capbus"),
              escape_path()):
        if not BUILD_DIR or not os.access(p, os.X_OK):
            cannot_run("%s not built (set CAPBUS_BUILD_DIR)" % p)


def skill_manifest(ident, argv, limits=None, send=(REPORT,), receive=(), network="none", syscalls="default"):
    m = manifest(ident, send, receive)
    m["exec"] = list(argv)
    m["sandbox"] = {"network": network, "filesystem": {"write": ["$STATE"]}, "syscalls": syscalls}
    m["limits"] = dict(limits or {"memory": "64M", "pids": 16, "nofile": 64})
    return m


class SkillBus:
    """A Daemon with a skills directory, an observer subscribed to hostile.report, and helpers."""

    def __init__(self, **overrides):
        require_env()
        self.d = Daemon({OBSERVER: manifest(OBSERVER, [], [REPORT])}, start=False, **overrides)
        os.chmod(self.d.dir, 0o755)  # the skills' uids must reach their directories (run/ stays 0700)
        self.skills_dir = os.path.join(self.d.dir, "skills")
        os.makedirs(self.skills_dir)
        os.chmod(self.skills_dir, 0o755)
        self.d.config["skills_dir"] = self.skills_dir
        self.d.write_config()
        self.observer = None
        self.reports = {}   # sender -> [data, ...]
        self.extra = []     # files or dirs outside the daemon's dir to remove
        self.wrapper = None  # argv prefix for the daemon (Daemon.start)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.d.__enter__()
            self.d.start(wrapper=self.wrapper)
            self.connect_observer()
        except BaseException:
            self.d.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        if self.observer:
            self.observer.close()
        for p in self.extra:
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
        return self.d.__exit__(*exc)

    def connect_observer(self):
        if self.observer:
            self.observer.close()
        self.observer = self.d.client(OBSERVER)
        m = self.observer.subscribe(REPORT)
        check(m["type"] == "capbus.subscribe.reply", "observer subscribe: %r" % m)

    # -- skills ----------------------------------------------------------------------------

    def install_escape(self, ident, name="escape", setuid_copy=None):
        """Copy sandbox/escape to <skills_dir>/<ident>/<name> (root-owned, 0755); returns the path.
        setuid_copy: also a set-uid root copy with that name."""
        d = os.path.join(self.skills_dir, ident)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        path = os.path.join(d, name)
        shutil.copy(escape_path(), path)
        os.chmod(path, 0o755)
        if setuid_copy:
            s = os.path.join(d, setuid_copy)
            shutil.copy(escape_path(), s)
            os.chown(s, 0, 0)
            os.chmod(s, 0o4755)
        return path

    def add_skill(self, ident, attack_args, limits=None, **kw):
        """Install escape for ident and write its manifest (takes effect at the next reload)."""
        path = self.install_escape(ident, setuid_copy=kw.pop("setuid_copy", None))
        self.d.write_manifest(ident, skill_manifest(ident, [path] + list(attack_args), limits, **kw))
        return path

    def remove_manifest(self, ident):
        os.unlink(os.path.join(self.d.manifest_dir, ident + ".json"))

    def reload(self):
        self.d.signal(signal.SIGHUP)

    def skills(self):
        cp = self.d.admin("skills", "--json")
        check(cp.returncode == 0, "capbus skills --json failed (%d): %s" % (cp.returncode, cp.stderr.strip()))
        return {s["id"]: s for s in json.loads(cp.stdout)}

    def skill(self, ident):
        return self.skills().get(ident)

    def wait_skill(self, ident, pred, timeout=20.0, what=None):
        def probe():
            s = self.skill(ident)
            return s if s and pred(s) else None
        try:
            return wait_for(probe, timeout, interval=0.05, what=what or "skill %s" % ident)
        except TestFailure as e:
            raise TestFailure("%s; now %r\n---- daemon log (tail) ----\n%s" % (e, self.skill(ident),
                                                                               self.d.log()[-6000:]))

    def log_about(self, ident):
        """The daemon's log lines that name ident."""
        return "\n".join(l for l in self.d.log().splitlines() if ident in l)

    # -- reports ---------------------------------------------------------------------------

    def pump(self, timeout=0.1):
        """Collect reports that arrived within timeout seconds of quiet."""
        for m in self.observer.drain(timeout):
            if m.get("type") == REPORT:
                sender = m.get("context", {}).get("sender")
                self.reports.setdefault(sender, []).append(m["data"])

    def wait_reports(self, idents, timeout=30.0):
        """Wait until every ident in idents has reported; returns {ident: first report data}."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump(0.2)
            missing = [i for i in idents if i not in self.reports]
            if not missing:
                return {i: self.reports[i][0] for i in idents}
            if time.monotonic() > deadline:
                states = self.skills()
                raise TestFailure("no report from %s within %.0fs; skills: %s\n---- daemon log (tail) ----\n%s" % (
                    missing, timeout, json.dumps({i: states.get(i) for i in missing}), self.d.log()[-8000:]))


# ---- processes and cgroups -------------------------------------------------------------------

def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _unescape(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


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
            mnt = _unescape(fields[4])
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


def abstract_listener(name):
    """A listening abstract unix socket in the host's network namespace."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0" + name)
    s.listen(8)
    s.setblocking(False)
    return s
