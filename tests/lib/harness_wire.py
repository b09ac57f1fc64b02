# SPDX-License-Identifier: MIT
"""Raw protocol clients for attacks: the wire format spoken byte by byte.

Part of the test harness: tests import these names from capbus_harness.
"""
import hashlib
import hmac
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


# -- delegated sessions (docs/protocol.md "Delegated sessions") ------------------------------

MAGIC_D = b"CAPBUS\x01" + bytes([protocol.PROTOCOL_VERSION])
VIA_LOCAL, VIA_TOKEN, VIA_CHALLENGE = 1, 2, 3
DFLAG_SUB_PERMITTED = 0x01
DSTATUS_OK, DSTATUS_REFUSED, DSTATUS_NOT_DELEGABLE, DSTATUS_CHALLENGE_FAILED = 0, 1, 2, 3


class DelegationRefused(Exception):
    """RESULT_D carried a non-zero status."""

    def __init__(self, status):
        super().__init__("delegation refused with status %d" % status)
        self.status = status


def ws_proof(key, server, ns, nc, ident):
    """The browser's (challenge method) proof: HMAC-SHA256(K_id, "capbus-ws-v1 client|server" | ns | nc | id_len | id)."""
    label = b"capbus-ws-v1 server" if server else b"capbus-ws-v1 client"
    ident = ident.encode()
    return hmac.new(key, label + ns + nc + bytes([len(ident)]) + ident, hashlib.sha256).digest()


def dauth_tail(via, flags, gateway, subject, peer, inner_nc=b"", inner_proof=b""):
    g, i, p = gateway.encode(), subject.encode(), peer.encode()
    return (bytes([via, flags, len(g)]) + g + bytes([len(i)]) + i + bytes([len(p)]) + p + inner_nc + inner_proof)


class DelegatedHandshake:
    """The gateway's side of AUTH_D: proves K_gateway only; the session is bound to the subject."""

    def __init__(self, gw_key, subject, via=VIA_TOKEN, flags=0, peer="203.0.113.7:51234",
                 gateway="gateway", subject_key=None, client_nonce=None, inner_nonce=None):
        self.gw_key = gw_key
        self.subject = subject
        self.via = via
        self.flags = flags
        self.peer = peer
        self.gateway = gateway
        self.subject_key = subject_key
        self.nc = client_nonce or os.urandom(protocol.NONCE_LEN)
        self.inner_nc = inner_nonce or os.urandom(protocol.NONCE_LEN)
        self.ns = None
        self.tail = None

    def auth(self, hello):
        if len(hello) != protocol.HELLO_LEN or hello[:len(protocol.MAGIC)] != protocol.MAGIC:
            raise protocol.ProtocolError("bad hello")
        self.ns = hello[len(protocol.MAGIC):]
        inner = b""
        if self.via == VIA_CHALLENGE:
            # What the browser computes from the challenge (ns) with its own key.
            inner = self.inner_nc + ws_proof(self.subject_key, False, self.ns, self.inner_nc, self.subject)
        self.tail = dauth_tail(self.via, self.flags, self.gateway, self.subject, self.peer)
        if inner:
            self.tail += inner
        proof = hmac.new(self.gw_key, b"capbus-v2 delegate client" + self.ns + self.nc + self.tail,
                         hashlib.sha256).digest()
        return MAGIC_D + self.nc + proof + self.tail

    def finish(self, result):
        """The Session, and the inner server proof (via 3, checked here as a browser would) or None."""
        if len(result) < len(MAGIC_D) + 1 or result[:len(MAGIC_D)] != MAGIC_D:
            raise protocol.ProtocolError("bad RESULT_D %r" % result)
        status = result[len(MAGIC_D)]
        if status != DSTATUS_OK:
            check(len(result) == len(MAGIC_D) + 1, "a refusal is MAGIC_D | status, got %d bytes" % len(result))
            raise DelegationRefused(status)
        want = len(MAGIC_D) + 1 + protocol.PROOF_LEN * (2 if self.via == VIA_CHALLENGE else 1)
        check(len(result) == want, "RESULT_D ok is %d bytes, got %d" % (want, len(result)))
        sp = hmac.new(self.gw_key, b"capbus-v2 delegate server" + self.ns + self.nc + self.tail,
                      hashlib.sha256).digest()
        check(hmac.compare_digest(sp, result[9:41]), "the daemon's server proof is wrong")
        inner_sp = None
        if self.via == VIA_CHALLENGE:
            inner_sp = result[41:73]
            check(hmac.compare_digest(inner_sp, ws_proof(self.subject_key, True, self.ns, self.inner_nc,
                                                         self.subject)),
                  "the inner server proof is wrong")
        session = hashlib.blake2b(b"capbus-v2 delegate session" + self.ns + self.nc + self.tail,
                                  digest_size=32, key=self.gw_key).digest()
        return protocol.Session(self.subject, tx_key=protocol._kdf(session, 1),
                                rx_key=protocol._kdf(session, 2)), inner_sp


class DelegatedClient(RawClient):
    """A RawClient whose connection is opened by the gateway on behalf of subject (AUTH_D)."""

    def __init__(self, socket_path, gw_key, subject, timeout=5.0, **hs_args):
        super().__init__(socket_path, ident=subject, key=None, timeout=timeout)
        self.hs = DelegatedHandshake(gw_key, subject, **hs_args)
        self.inner_sp = None

    def handshake(self, client_nonce=None):
        auth = self.hs.auth(self.hello())
        self.auth_frame = protocol.header(len(auth)) + auth
        self.send_raw(self.auth_frame)
        _, result, _ = self.recv_frame(tagged=False)
        self.session, self.inner_sp = self.hs.finish(result)
        return self.session
