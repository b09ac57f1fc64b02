# SPDX-License-Identifier: MIT
"""Raw protocol clients for attacks: the wire format spoken byte by byte.

Part of the test harness: tests import these names from capbus_harness.
"""
import json
import os
import socket
import struct
import time

from harness_base import check

from capbus import protocol


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
