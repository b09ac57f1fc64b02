# SPDX-License-Identifier: MIT
"""capbus test harness: a real capbusd on a temporary socket, the real CLI, raw protocol clients.

The one helper library of the Python tests (integration, hostile, sdk, guard, skills, soak):
every test imports from here, and nowhere else in tests/lib. One way to start a daemon (Daemon;
GuardDaemon and SkillBus build on it), one skip rule (skip(): exit 77, or a failure when
CI=true), one assertion (check()). Each test is a script that exits 0 (pass), 1 (fail) or 77
(skip); run_test() maps exceptions to those codes. Nothing here mocks the daemon: every helper
talks to the built binaries over real sockets and reads /proc.

Submodules, imported here and re-exported: harness_base (paths, check, skip, wait_for),
harness_wire (RawClient and the raw protocol), harness_procs (/proc and cgroups).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from harness_base import (BUILD_DIR, EXIT_SKIP, SOURCE_DIR, Skip, TestFailure, capbus_path,  # noqa: F401
                          capbusd_path, capbusd_router_path, check, ci, escape_path, is_root, require_build, skip, wait_for)
from harness_procs import (Subtree, abstract_listener, abstract_name, cgroup_procs, children_of,  # noqa: F401
                           enter_cgroup, own_cgroup, own_cgroup_dirs, pid_alive, proc_status,
                           remove_cgroups, skill_cgroups, v2_mount)
from harness_wire import (Closed, RawClient, admin_signed_fields, bad_auth_frame, read_authority,  # noqa: F401
                          read_key_file, socket_address)

import capbus
from capbus import protocol  # noqa: F401  (re-exported for the tests)

HERE = os.path.dirname(os.path.abspath(__file__))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


def run_test(fn):
    """Run fn() and exit with the test protocol's code."""
    try:
        fn()
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(EXIT_SKIP)
    except TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
    except (socket.timeout, Closed, ConnectionResetError, BrokenPipeError) as e:
        import traceback
        # The innermost frame outside tests/lib is the test's own line.
        where = [f for f in traceback.extract_tb(e.__traceback__) if os.path.dirname(os.path.abspath(f.filename)) != HERE]
        at = "%s:%d: %s" % (os.path.basename(where[-1].filename), where[-1].lineno, where[-1].line) if where else "?"
        print("FAIL: %s (%s) at %s" % ("no answer in time" if isinstance(e, socket.timeout) else "connection closed",
                                       e, at))
        sys.exit(1)
    except Exception:
        import traceback
        traceback.print_exc()
        sys.exit(1)
    print("PASS")
    sys.exit(0)


class Daemon:
    """A capbusd in a private temporary directory.

    manifests: dict id -> manifest dict (or text), written to <tmp>/manifests/<id>.json.
    overrides: extra config keys (max_frame, max_queue, handshake_timeout_ms, byte_rate, ...).
    Use as a context manager: the daemon is stopped and the directory removed on exit, and a
    sanitizer report in the daemon log fails the test.
    """

    def __init__(self, manifests=None, start=True, **overrides):
        require_build()
        self.dir = tempfile.mkdtemp(prefix="capbus-test.")
        self.run_dir = os.path.join(self.dir, "run")
        self.socket = os.path.join(self.run_dir, "bus.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.manifest_dir = os.path.join(self.dir, "manifests")
        self.config_path = os.path.join(self.dir, "capbusd.json")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.keys_dir = os.path.join(self.dir, "keys")
        for d in (self.run_dir, self.manifest_dir, self.keys_dir):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.run_dir, 0o700)
        os.chmod(self.keys_dir, 0o700)
        self.config = {"socket": self.socket, "state_dir": self.state_dir, "manifest_dir": self.manifest_dir,
                       "kernel_guard": "off", "log_level": "info"}
        self.config.update(overrides)
        self.socket = self.config["socket"]
        self.write_config()
        for ident, m in (manifests or {}).items():
            self.write_manifest(ident, m)
        self.proc = None
        self._log_file = None
        self.sanitizer_findings = []
        self._autostart = start

    # -- lifecycle -------------------------------------------------------------------------

    def write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(self.config, f)

    def write_manifest(self, ident, manifest):
        path = os.path.join(self.manifest_dir, ident + ".json")
        text = manifest if isinstance(manifest, str) else json.dumps(manifest, indent=2)
        with open(path, "w") as f:
            f.write(text)
        return path

    @property
    def admin_key(self):
        return os.path.join(self.state_dir, "admin.key")

    @property
    def admin_authority(self):
        """The admin authority key (32 bytes) from state_dir/admin.key."""
        return read_authority(self.admin_key)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=10.0, wrapper=None, router=None, gateway=None):
        """Start capbusd; wrapper is an optional argv prefix (e.g. a valgrind command line), router a
        program to run instead of capbusd-router (capbusd --router), gateway one to supervise
        instead of capbus-gateway (capbusd --gateway)."""
        self._log_file = open(self.log_path, "ab")
        argv = list(wrapper or []) + [capbusd_path(), "--config", self.config_path]
        if router:
            argv += ["--router", router]
        if gateway:
            argv += ["--gateway", gateway]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file, env=self._env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("capbusd exited with %d during start-up:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.admin_key) and "event=ready" in self.log() and self.router_pid():
                return self
            time.sleep(0.01)
        raise TestFailure("capbusd did not become ready within %.0fs:\n%s" % (timeout, self.log()))

    def _env(self):
        env = dict(os.environ)
        env.pop("CAPBUS_SOCKET", None)
        env.pop("CAPBUS_KEY", None)
        return env

    def stop(self, timeout=10.0):
        """SIGTERM the daemon we started and wait; returns its exit code (None if not running)."""
        if not self.proc:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                self.sanitizer_findings.append("capbusd ignored SIGTERM for %.0fs" % timeout)
        self.proc = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        log = self.log()
        self._scan_sanitizers(log, "daemon log")
        if "event=router_died" in log:
            # The parent restarts a dead router, which would hide a crash from every other check.
            line = next(l for l in log.splitlines() if "event=router_died" in l)
            self.sanitizer_findings.append("the router died: %s" % line.strip())
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if self._autostart:
            try:
                self.start()
            except BaseException:
                self.cleanup()
                raise
        return self

    def __exit__(self, exc_type, exc, tb):
        findings = None
        try:
            self.stop()
            findings = list(self.sanitizer_findings)
        finally:
            if findings:
                sys.stdout.write("findings: %s\n---- daemon log ----\n%s\n" % ("; ".join(findings), self.log()[-20000:]))
            shutil.rmtree(self.dir, ignore_errors=True)
        if findings and exc_type is None:
            raise TestFailure("crash, sanitizer or shutdown findings: %s" % "; ".join(findings))
        return False

    def _scan_sanitizers(self, text, where):
        for marker in SANITIZER_MARKERS:
            if marker in text:
                line = next(l for l in text.splitlines() if marker in l)
                self.sanitizer_findings.append("%s: %s" % (where, line.strip()))

    # -- inspection ------------------------------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=5.0, start=0):
        """Wait until the log (from byte offset start) contains needle; return the log text."""
        return wait_for(lambda: needle in self.log()[start:] and self.log(), timeout, what="log line %r" % needle)

    def router_pid(self):
        if not self.proc:
            return None
        kids = children_of(self.proc.pid)
        return kids[0] if kids else None

    def pids(self):
        return [p for p in (self.pid, self.router_pid()) if p]

    def rss_kb(self):
        total = 0
        for pid in self.pids():
            total += int(proc_status(pid)["VmRSS"].split()[0])
        return total

    def fd_count(self):
        return sum(len(os.listdir("/proc/%d/fd" % pid)) for pid in self.pids())

    def signal(self, signo):
        self.proc.send_signal(signo)

    # -- CLI -------------------------------------------------------------------------------

    def cli(self, *args, key=None, timeout=30, input=None, socket_path=None):
        """Run the capbus CLI; returns the CompletedProcess (text mode)."""
        argv = [capbus_path(), "--socket", socket_path or self.socket]
        if key:
            argv += ["--key", key]
        argv += [str(a) for a in args]
        cp = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, env=self._env())
        self._scan_sanitizers(cp.stderr, "capbus %s" % " ".join(str(a) for a in args))
        return cp

    def cli_popen(self, *args, key=None):
        argv = [capbus_path(), "--socket", self.socket]
        if key:
            argv += ["--key", key]
        argv += [str(a) for a in args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self._env())

    def admin(self, *args, timeout=30):
        return self.cli(*args, key=self.admin_key, timeout=timeout)

    def keygen(self, ident, path=None):
        path = path or os.path.join(self.keys_dir, ident + ".key")
        cp = self.admin("keygen", ident, "--out", path)
        check(cp.returncode == 0, "keygen %s failed (%d): %s" % (ident, cp.returncode, cp.stderr.strip()))
        return path

    def stats(self):
        cp = self.admin("stats")
        check(cp.returncode == 0, "capbus stats failed (%d): %s" % (cp.returncode, cp.stderr.strip()))
        return json.loads(cp.stdout)

    # -- raw protocol ----------------------------------------------------------------------

    def raw_socket(self, timeout=5.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(socket_address(self.socket))
        return s

    def client(self, ident, key_path=None, timeout=5.0):
        """An authenticated RawClient for ident (a key is issued with keygen if none is given)."""
        key_path = key_path or os.path.join(self.keys_dir, ident + ".key")
        if not os.path.exists(key_path):
            self.keygen(ident, key_path)
        c = RawClient(self.socket, key_file=key_path, timeout=timeout)
        c.handshake()
        return c


def manifest(ident, send=(), receive=(), **extra):
    m = {"manifest_version": 1, "id": ident, "bus": {"send": list(send), "receive": list(receive)}}
    m.update(extra)
    return m


# ---- the kernel guard at the daemon level (tests/guard) ------------------------------------
# Every test builds its own cgroup v2 subtree beneath this process's own cgroup,
#     <v2 mount><own>/capbus-guardtest-<pid>-<tag>/{allowed,allowed/child,forbidden,...}
# (Subtree), points the daemon's "guard.scope" at it (never the v2 root), runs allowed and
# forbidden processes inside it and removes it afterwards (its processes are killed by pid first).
# Clients are small processes started in a chosen cgroup (and optionally under another uid)
# before they create any socket: tests/guard/gclient.py for raw connects, the capbus CLI for
# authenticated ones. The daemon runs outside the subtree, so its own sockets are not in the
# guard's scope.

GCLIENT = os.path.join(SOURCE_DIR, "tests", "guard", "gclient.py")


def require_guard_env():
    if os.geteuid() != 0:
        skip("needs root (BPF programs, cgroups, sandboxed skills)")
    if not BUILD_DIR or not os.access(os.path.join(BUILD_DIR, "busd", "capbusd"), os.X_OK):
        skip("capbusd not built (set CAPBUS_BUILD_DIR)")
    if not v2_mount() or own_cgroup() is None:
        skip("no cgroup v2 hierarchy")
    rel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    if rel < (6, 7):
        skip("the kernel (%s) has no cgroup unix-connect hook (Linux 6.7+)" % os.uname().release)
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip("the kernel has no BTF (/sys/kernel/btf/vmlinux)")


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
                skip("capbusd found no unix-connect BPF hook on this kernel")
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


# ---- skills launched by a real capbusd (tests/skills) --------------------------------------
# A test starts a Daemon with an "observer" client that may receive "hostile.report", subscribes,
# then writes the skills' manifests and sends SIGHUP, so no report can be sent before someone
# listens. Each skill is a copy of the hostile program tests/hostile/escape in
# <skills_dir>/<id>/, run as ["<skills_dir>/<id>/escape", ATTACK, ARGS...]; launched by capbusd
# it reports what it saw as a "hostile.report" message (context.sender is the skill's id).

OBSERVER = "observer"
REPORT = "hostile.report"


def require_skills_env():
    if os.geteuid() != 0:
        skip("needs root to launch sandboxed skills (own uids, namespaces, cgroups)")
    for p in (os.path.join(BUILD_DIR or "", "busd", "capbusd"), os.path.join(BUILD_DIR or "", "cli", "capbus"),
              escape_path()):
        if not BUILD_DIR or not os.access(p, os.X_OK):
            skip("%s not built (set CAPBUS_BUILD_DIR)" % p)


def skill_manifest(ident, argv, limits=None, send=(REPORT,), receive=(), network="none", syscalls="default"):
    m = manifest(ident, send, receive)
    m["exec"] = list(argv)
    m["sandbox"] = {"network": network, "filesystem": {"write": ["$STATE"]}, "syscalls": syscalls}
    m["limits"] = dict(limits or {"memory": "64M", "pids": 16, "nofile": 64})
    return m


class SkillBus:
    """A Daemon with a skills directory, an observer subscribed to hostile.report, and helpers."""

    def __init__(self, daemon=None, **overrides):
        """daemon: an unstarted Daemon to use (a GuardDaemon, say) instead of a new plain one."""
        require_skills_env()
        self.d = daemon or Daemon({OBSERVER: manifest(OBSERVER, [], [REPORT])}, start=False, **overrides)
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
            if self.wrapper:
                self.d.start(wrapper=self.wrapper)
            else:
                self.d.start()
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
        """Copy tests/hostile/escape to <skills_dir>/<ident>/<name> (root-owned, 0755); returns the path.
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


# ---- the Python SDK (tests/sdk) ------------------------------------------------------------

class Running:
    """Runs bus.run_forever() in a thread for the length of a with block."""

    def __init__(self, bus):
        self.bus = bus
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.bus.run_forever()
        except capbus.ClosedError:
            pass
        except BaseException as e:  # reported by __exit__
            self.error = e

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.bus.stop()
        self.thread.join(10)
        if self.thread.is_alive():
            raise TestFailure("run_forever() did not return after stop()")
        if self.error and exc[0] is None:
            raise TestFailure("run_forever() failed: %r" % self.error)
        return False


def install_python_skill(skills_dir, ident, files):
    """<skills_dir>/<ident>/ with files ({name: text}) and a copy of the SDK, readable by the
    skill's own uid (directories 0755, files 0644)."""
    d = os.path.join(skills_dir, ident)
    os.makedirs(d)
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    shutil.copytree(os.path.join(SOURCE_DIR, "sdk", "python", "capbus"), os.path.join(d, "capbus"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for root, dirs, names in os.walk(skills_dir):
        os.chmod(root, 0o755)
        for n in names:
            os.chmod(os.path.join(root, n), 0o644)
    return d


def skill_state(d, ident):
    """The skill's entry of `capbus skills --json`, or None."""
    cp = d.admin("skills", "--json")
    if cp.returncode != 0:
        return None
    return next((s for s in json.loads(cp.stdout) if s["id"] == ident), None)


def start_with_policy(d, policy):
    """Starts the unstarted daemon d with a system policy file holding policy (a dict)."""
    path = os.path.join(d.dir, "policy.json")
    with open(path, "w") as f:
        json.dump(dict({"policy_version": 1}, **policy), f)
    d.config["policy_file"] = path
    d.write_config()
    d.start()


def run_until(bus, pred, timeout: float = 10.0, what: str = "a message"):
    """Dispatch with bus.run() until pred() is true."""
    deadline = time.monotonic() + timeout
    while not pred():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("timed out waiting for %s" % what)
        bus.run(min(left, 0.1))
