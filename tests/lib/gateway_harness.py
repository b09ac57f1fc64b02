# SPDX-License-Identifier: MIT
"""Gateway tests: a real capbusd plus a standalone capbus-gateway, and WebSocket clients.

GatewayDaemon starts capbusd with "gateway": {"supervise": false} (delegation by whoever holds
the gateway key), issues the gateway's key with `capbus keygen gateway`, and starts
build/gateway/process/capbus-gateway with --config/--key/--tokens. Until capbusd's own config reader
knows the full "gateway" object, the gateway reads a second file: the daemon's config with the
full object. token(ident) mints a token with tests/gateway/gw-mktoken (as `capbus token` will).
ws() opens a websocket-client connection (python3-websocket, what ovos-bus-client uses).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

from capbus_harness import BUILD_DIR, Daemon, TestFailure, check, wait_for  # noqa: F401

import websocket  # Debian python3-websocket: run under /usr/bin/python3


def gateway_path():
    return os.path.join(BUILD_DIR, "gateway", "process", "capbus-gateway")


def mktoken_path():
    return os.path.join(BUILD_DIR, "tests", "gw-mktoken")


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def make_cert(directory, cn="127.0.0.1"):
    """A self-signed certificate for 127.0.0.1/localhost made by openssl; returns (cert, key)."""
    cert, key = os.path.join(directory, "gw.crt"), os.path.join(directory, "gw.key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class GatewayDaemon(Daemon):
    """capbusd + capbus-gateway. gateway: the "gateway" object (listen defaults to one plain
    loopback port); the port is self.port, the first listener's."""

    def __init__(self, manifests=None, gateway=None, tls=False, start=True, **overrides):
        overrides.setdefault("gateway", {"supervise": False})
        super().__init__(manifests=manifests, start=False, **overrides)
        self.port = free_port()
        g = {"listen": ["127.0.0.1:%d" % self.port], "plain_loopback": not tls, "supervise": False,
             "lockout": {"threshold": 5, "base_s": 1, "max_s": 8, "forget_s": 60, "capacity": 64}}
        self.cert = self.tls_key = None
        if tls:
            self.cert, self.tls_key = make_cert(self.dir)
            g["tls"] = {"cert": self.cert, "key": self.tls_key}
        g.update(gateway or {})
        self.gw_config = dict(self.config)
        self.gw_config["gateway"] = g
        self.gw_config_path = os.path.join(self.dir, "gateway.json")
        self.write_gw_config()
        self.tokens_path = os.path.join(self.dir, "tokens")
        self.gw_log_path = os.path.join(self.dir, "gateway.log")
        self.gw_proc = None
        self.gw_key = None
        self._gw_autostart = start
        self.router_killed = False

    def write_gw_config(self):
        with open(self.gw_config_path, "w") as f:
            json.dump(self.gw_config, f)

    def __enter__(self):
        try:
            self.start()
            if self._gw_autostart:
                self.start_gateway()
        except BaseException:
            self.cleanup()
            raise
        return self

    def start_gateway(self, extra_args=(), expect_exit=False, timeout=10.0):
        if not self.gw_key:
            self.gw_key = self.keygen("gateway")
        f = open(self.gw_log_path, "ab")
        start = self.gw_log_size()
        self.gw_proc = subprocess.Popen([gateway_path(), "--config", self.gw_config_path, "--key", self.gw_key,
                                         "--tokens", self.tokens_path] + list(extra_args),
                                        stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=self._env())
        f.close()
        if expect_exit:
            rc = self.gw_proc.wait(timeout)
            self.gw_proc = None
            return rc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gw_proc.poll() is not None:
                raise TestFailure("capbus-gateway exited with %d at start:\n%s" % (self.gw_proc.returncode, self.gw_log()))
            if "event=gateway_started" in self.gw_log()[start:]:
                return self
            time.sleep(0.01)
        raise TestFailure("capbus-gateway did not start:\n%s" % self.gw_log())

    def stop_gateway(self, sig=signal.SIGTERM, timeout=10.0):
        if not self.gw_proc:
            return None
        if self.gw_proc.poll() is None:
            self.gw_proc.send_signal(sig)
            try:
                rc = self.gw_proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.gw_proc.kill()
                rc = self.gw_proc.wait()
                self.sanitizer_findings.append("capbus-gateway ignored signal %d" % sig)
        else:
            rc = self.gw_proc.returncode
        self.gw_proc = None
        return rc

    def stop(self, timeout=10.0):
        rc = self.stop_gateway()
        if rc not in (None, 0, -signal.SIGKILL):
            self.sanitizer_findings.append("capbus-gateway exited with %d" % rc)
            sys.stdout.write("---- gateway log ----\n%s\n" % self.gw_log()[-20000:])
        self._scan_sanitizers(self.gw_log(), "gateway log")
        if "event=gateway_conn_left" in self.gw_log():  # a conn outlived lws at exit: a leak
            self.sanitizer_findings.append("capbus-gateway left a connection at exit")
        rc = super().stop(timeout)
        if self.router_killed:  # the test killed it on purpose: not a crash
            self.sanitizer_findings = [f for f in self.sanitizer_findings if "router died" not in f]
        return rc

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print("---- gateway log ----\n%s" % self.gw_log()[-8000:])
        return super().__exit__(exc_type, exc, tb)

    def gw_log(self):
        try:
            with open(self.gw_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def gw_log_size(self):
        return len(self.gw_log())

    def wait_gw_log(self, needle, timeout=5.0, start=0):
        return wait_for(lambda: needle in self.gw_log()[start:], timeout, what="gateway log line %r" % needle)

    def token(self, ident):
        cp = subprocess.run([mktoken_path(), self.tokens_path, ident], capture_output=True, text=True)
        check(cp.returncode == 0, "gw-mktoken %s: %s" % (ident, cp.stderr))
        token, tid = cp.stdout.split()
        return token

    def url(self, query="", path="/core", scheme=None, host="127.0.0.1", port=None):
        scheme = scheme or ("wss" if self.cert else "ws")
        return "%s://%s:%d%s%s" % (scheme, host, port or self.port, path, ("?" + query) if query else "")

    def ws(self, query="", timeout=5.0, **kw):
        """An open websocket-client connection (raises WebSocketBadStatusException on a refusal)."""
        url = kw.pop("url", None) or self.url(query, **{k: kw.pop(k) for k in ("path", "scheme", "host", "port")
                                                       if k in kw})
        if self.cert and "sslopt" not in kw:
            kw["sslopt"] = {"ca_certs": self.cert}
        return websocket.create_connection(url, timeout=timeout, **kw)


def ws_status(fn):
    """The HTTP status of a refused upgrade (fn raises), or None if it was accepted."""
    try:
        c = fn()
    except websocket.WebSocketBadStatusException as e:
        return e.status_code
    c.close()
    return None


def recv_json(c, timeout=5.0):
    c.settimeout(timeout)
    return json.loads(c.recv())


def recv_until(c, pred, timeout=5.0):
    """Messages until pred(msg); returns (msg, skipped)."""
    deadline = time.monotonic() + timeout
    skipped = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("no matching message in %.1fs; got %r" % (timeout, skipped[-5:]))
        m = recv_json(c, left)
        if pred(m):
            return m, skipped
        skipped.append(m)


def send(c, mtype, data=None, context=None):
    c.send(json.dumps({"type": mtype, "data": data or {}, "context": context or {}}))
