# SPDX-License-Identifier: MIT
"""capbus test harness: a real capbusd on a temporary socket, the real CLI, raw protocol clients.

Used by tests/integration and tests/hostile. Each test is a script that exits 0 (pass),
1 (fail) or 77 (skip); run_test() maps exceptions to those codes. Nothing here mocks the
daemon: every helper talks to the built binaries over real sockets and reads /proc.
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("CAPBUS_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("CAPBUS_BUILD_DIR", "")
sys.path.insert(0, os.path.join(SOURCE_DIR, "sdk", "python"))

from capbus import protocol  # noqa: E402  (needs the path above)

EXIT_SKIP = 77
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


class Skip(Exception):
    """Raise to end a test with exit 77."""


class TestFailure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def skip(reason):
    raise Skip(reason)


def capbusd_path():
    return os.path.join(BUILD_DIR, "busd", "capbusd")


def capbus_path():
    return os.path.join(BUILD_DIR, "cli", "capbus")


def require_build():
    if not BUILD_DIR or not os.access(capbusd_path(), os.X_OK) or not os.access(capbus_path(), os.X_OK):
        skip("capbusd/capbus not built (set CAPBUS_BUILD_DIR)")


def wait_for(pred, timeout=5.0, interval=0.01, what="condition"):
    """Poll pred() until it returns something true; return that value or raise TestFailure."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


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
        where = [f for f in traceback.extract_tb(e.__traceback__) if "capbus_harness" not in f.filename]
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


def is_root():
    return os.geteuid() == 0


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
    except FileNotFoundError:
        pass
    return kids


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
        self.extra_args = []  # more capbusd arguments, e.g. ["--router", PATH]
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

    def start(self, timeout=10.0, wrapper=None):
        """Start capbusd; wrapper is an optional argv prefix (e.g. a valgrind command line)."""
        self._log_file = open(self.log_path, "ab")
        argv = list(wrapper or []) + [capbusd_path(), "--config", self.config_path] + list(self.extra_args)
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


def socket_address(path):
    """The address to connect to for a "socket" setting: "@name" is an abstract socket."""
    return "\0" + path[1:] if path.startswith("@") else path


def read_key_file(path):
    with open(path) as f:
        return protocol.parse_key_file(f.read())


def read_authority(path):
    """The authority key of an admin key file, or None when it has no authority line."""
    with open(path) as f:
        return protocol.parse_key_authority(f.read())


def admin_signed_fields(mtype, data):
    """(op, id, arg, body) that an admin request of this type and data is signed over."""
    op = mtype[len("capbus."):]
    if op == "install":
        return op, json.loads(data["manifest"])["id"], "\n".join(data.get("grant", [])), data["manifest"]
    if op in ("grant", "revoke"):
        return op, data["id"], data["pattern"], ""
    return op, data["id"], "", ""


class Closed(Exception):
    """The peer closed the connection."""


class RawClient:
    """A capbus client speaking the wire protocol directly, for attacks.

    handshake() authenticates; then send_body()/recv_message() use the session, while
    send_raw()/recv_frame() and .session give byte-level access for tampering.
    """

    def __init__(self, socket_path, ident=None, key=None, key_file=None, timeout=5.0):
        if key_file:
            ident_f, key = read_key_file(key_file)
            ident = ident or ident_f
        self.id = ident
        self.key = key
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(socket_address(socket_path))
        self.buf = b""
        self.session = None
        self.pending = []
        self.next_request = 1
        self.sent_frames = []   # complete frames as sent, for replay attacks
        self.auth_frame = None

    # -- bytes -----------------------------------------------------------------------------

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed by the daemon")
            self.buf += chunk

    def _take(self, n):
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=None, tagged=True):
        """(header, body, tag) of the next frame; raises Closed or socket.timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._fill(4, deadline)
        (length,) = struct.unpack(">I", self.buf[:4])
        total = 4 + length + (protocol.TAG_LEN if tagged else 0)
        self._fill(total, deadline)
        frame = self._take(total)
        return frame[:4], frame[4:4 + length], frame[4 + length:]

    def wait_closed(self, timeout=None):
        """True once the daemon closed the connection (frames still in flight are discarded)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    # -- handshake -------------------------------------------------------------------------

    def hello(self):
        _, body, _ = self.recv_frame(tagged=False)
        return body

    def handshake(self, client_nonce=None):
        hs = protocol.ClientHandshake(self.id, self.key, client_nonce)
        auth = hs.auth(self.hello())
        self.auth_frame = protocol.header(len(auth)) + auth
        self.send_raw(self.auth_frame)
        _, result, _ = self.recv_frame(tagged=False)
        self.session = hs.finish(result)
        return self.session

    # -- messages --------------------------------------------------------------------------

    def seal(self, body):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        return self.session.seal(body)

    def send_body(self, body):
        """Send one MAC'd frame (bytes, or a dict serialised as JSON); returns the frame."""
        frame = self.seal(body)
        self.sent_frames.append(frame)
        self.send_raw(frame)
        return frame

    def send(self, mtype, data=None, context=None):
        msg = {"type": mtype, "data": data or {}}
        if context is not None:
            msg["context"] = context
        return self.send_body(msg)

    def _recv_one(self, timeout):
        hdr, body, tag = self.recv_frame(timeout)
        self.session.open(hdr, body, tag)
        return json.loads(body)

    def recv_message(self, timeout=None):
        """Next delivered message as a dict; raises socket.timeout or Closed."""
        if self.pending:
            return self.pending.pop(0)
        return self._recv_one(self.timeout if timeout is None else timeout)

    def drain(self, timeout=0.2):
        """Every message that arrives within timeout seconds of quiet."""
        out = list(self.pending)
        self.pending = []
        while True:
            try:
                out.append(self._recv_one(timeout))
            except socket.timeout:
                return out

    def request(self, mtype, data=None, timeout=None):
        """A bus request; returns its reply or its bus.error. Other messages are kept for later."""
        n = self.next_request
        self.next_request += 1
        data = dict(data or {})
        data["request"] = n
        self.send(mtype, data)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            m = self._recv_one(max(0.0, deadline - time.monotonic()))
            if m.get("data", {}).get("request") == n and m["type"] in (mtype + ".reply", "bus.error"):
                return m
            self.pending.append(m)

    def subscribe(self, pattern):
        return self.request("capbus.subscribe", {"pattern": pattern})

    def nonce(self):
        """A fresh admin nonce (32 bytes) from the daemon (capbus.nonce)."""
        m = self.request("capbus.nonce")
        check(m["type"] == "capbus.nonce.reply", "capbus.nonce answered %r" % m)
        return bytes.fromhex(m["data"]["nonce"])

    def signed(self, mtype, data, authority_key, nonce=None):
        """data plus "nonce" and "authority" for an admin request (a fresh nonce unless given)."""
        nonce = self.nonce() if nonce is None else nonce
        op, ident, arg, body = admin_signed_fields(mtype, data)
        tag = protocol.admin_authority(authority_key, nonce, op, ident, arg, body)
        return dict(data, nonce=nonce.hex(), authority=tag.hex())

    def admin_request(self, mtype, data, authority_key, nonce=None, timeout=None):
        """An admin request (capbus.install, .grant, .revoke, .remove, .keygen) signed with the
        admin's authority key; returns its reply or its bus.error."""
        return self.request(mtype, self.signed(mtype, data, authority_key, nonce), timeout=timeout)

    def ping(self, timeout=None):
        m = self.request("capbus.ping", timeout=timeout)
        check(m["type"] == "capbus.ping.reply", "ping answered with %r" % m)
        return m

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


def bad_auth_frame(hello_body, ident="nobody", key=None):
    """An AUTH frame for ident with a random (wrong) key."""
    hs = protocol.ClientHandshake(ident, key or os.urandom(protocol.KEY_LEN))
    auth = hs.auth(hello_body)
    return protocol.header(len(auth)) + auth


def manifest(ident, send=(), receive=(), **extra):
    m = {"manifest_version": 1, "id": ident, "bus": {"send": list(send), "receive": list(receive)}}
    m.update(extra)
    return m
