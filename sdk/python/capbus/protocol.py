# SPDX-License-Identifier: MIT
"""capbus wire protocol, version 2: framing, the mutual handshake, per-frame MACs.

Pure functions and small state objects, no I/O: the client in client.py moves the bytes.
Everything here follows docs/protocol.md byte for byte and uses only the standard library (frame
tags are HMAC-SHA-256-128 through hmac and hashlib, see mac.py).
"""
import hashlib
import hmac
import json
import os
import re
import struct
from typing import Any, Dict, Optional, Tuple

from . import mac
from .errors import AuthError, ProtocolError, VersionError  # noqa: F401  (also raised from here; callers may import them here)

PROTOCOL_VERSION = 2
MAGIC = b"CAPBUS\x00" + bytes([PROTOCOL_VERSION])
NONCE_LEN = 32
PROOF_LEN = 32
KEY_LEN = 32
TAG_LEN = 16
HEADER_LEN = 4
ID_MAX = 64
HELLO_LEN = len(MAGIC) + NONCE_LEN
STATUS_OK = 0
STATUS_AUTH_FAILED = 1
DEFAULT_SOCKET = "/run/capbus/bus.sock"
MAX_FRAME = 16 * 1024 * 1024        # no daemon accepts more
CLIENT_MAX_FRAME = MAX_FRAME        # what a client accepts from the daemon (as lib/client.c)
TYPE_MAX = 255
KEYFILE_MAX = 4096

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{%d}\Z" % (2 * KEY_LEN))


def id_is_valid(ident: str) -> bool:
    return bool(_ID_RE.match(ident))


def header(body_len: int) -> bytes:
    return struct.pack(">I", body_len)


def _proof(key: bytes, label: bytes, ns: bytes, nc: bytes, ident: bytes) -> bytes:
    return hmac.new(key, label + ns + nc + bytes([len(ident)]) + ident, hashlib.sha256).digest()


def _kdf(session: bytes, subkey_id: int) -> bytes:
    # libsodium crypto_kdf_derive_from_key: BLAKE2b keyed with the master, salt = LE64 id, person = context.
    return hashlib.blake2b(b"", digest_size=32, key=session,
                           salt=struct.pack("<Q", subkey_id), person=b"capbus01").digest()


class MacState:
    """One direction: a key (hashed into an HMAC state once) and the implicit sequence number."""

    def __init__(self, key: bytes):
        self.key = key
        self._keyed = mac.keyed(key)
        self.seq = 0

    def _tag(self, hdr: bytes, body: bytes) -> bytes:
        return mac.tag_from(self._keyed, self.seq, hdr, body)

    def sign(self, hdr: bytes, body: bytes) -> bytes:
        tag = self._tag(hdr, body)
        self.seq += 1
        return tag

    def verify(self, hdr: bytes, body: bytes, tag: bytes) -> bool:
        ok = mac.tags_equal(self._tag(hdr, body), tag)
        if ok:
            self.seq += 1
        return ok


class Session:
    """An authenticated connection's keys, from the client's point of view."""

    def __init__(self, ident: str, tx_key: bytes, rx_key: bytes):
        self.id = ident
        self.tx = MacState(tx_key)
        self.rx = MacState(rx_key)

    def seal(self, body: bytes) -> bytes:
        """A complete frame: header, body, tag."""
        hdr = header(len(body))
        return hdr + body + self.tx.sign(hdr, body)

    def open(self, hdr: bytes, body: bytes, tag: bytes) -> bytes:
        if not self.rx.verify(hdr, body, tag):
            raise ProtocolError("bad MAC from the daemon")
        return body


class ClientHandshake:
    """Client side: answer HELLO with AUTH, then check the daemon's RESULT."""

    def __init__(self, ident: str, key: bytes, client_nonce: bytes = None):
        if not id_is_valid(ident):
            raise ValueError("identity must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit")
        if len(key) != KEY_LEN:
            raise ValueError("key must be 32 bytes")
        self.id = ident.encode()
        self.key = key
        self.nc = client_nonce or os.urandom(NONCE_LEN)
        self.ns = None

    def auth(self, hello: bytes) -> bytes:
        if hello[:len(MAGIC) - 1] == MAGIC[:-1] and len(hello) >= len(MAGIC) and hello[len(MAGIC) - 1] != PROTOCOL_VERSION:
            raise VersionError("the daemon speaks capbus protocol version %d; this SDK speaks version %d"
                               % (hello[len(MAGIC) - 1], PROTOCOL_VERSION))
        if len(hello) != HELLO_LEN or hello[:len(MAGIC)] != MAGIC:
            raise ProtocolError("not a capbus daemon (bad hello)")
        self.ns = hello[len(MAGIC):]
        proof = _proof(self.key, b"capbus-v1 client", self.ns, self.nc, self.id)
        return MAGIC + self.nc + proof + bytes([len(self.id)]) + self.id

    def finish(self, result: bytes) -> Session:
        if len(result) < len(MAGIC) + 1 or result[:len(MAGIC)] != MAGIC:
            raise ProtocolError("bad handshake result")
        if result[len(MAGIC)] != STATUS_OK:
            raise AuthError("the daemon refused %r: wrong key or unknown identity" % self.id.decode())
        if len(result) != len(MAGIC) + 1 + PROOF_LEN:
            raise ProtocolError("bad handshake result length")
        expected = _proof(self.key, b"capbus-v1 server", self.ns, self.nc, self.id)
        if not hmac.compare_digest(expected, result[len(MAGIC) + 1:]):
            raise AuthError("the peer could not prove it knows the key of %r: not the capbus daemon"
                            % self.id.decode())
        session = hashlib.blake2b(b"capbus-v1 session" + self.ns + self.nc + bytes([len(self.id)]) + self.id,
                                  digest_size=32, key=self.key).digest()
        return Session(self.id.decode(), tx_key=_kdf(session, 1), rx_key=_kdf(session, 2))


def _parse_key_lines(text: str):
    """(identity or None, secret, authority or None); ValueError when malformed."""
    ident, secret, authority = None, None, None
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        if line.startswith("id ") and ident is None:
            ident = line[3:]
            if not id_is_valid(ident):
                raise ValueError("bad identity in key file")
        elif line.startswith("secret ") and secret is None:
            hexkey = line[7:]
            if not _HEX_RE.match(hexkey):
                raise ValueError("bad secret in key file")
            secret = bytes.fromhex(hexkey)
        elif line.startswith("authority ") and authority is None:
            hexkey = line[10:]
            if not _HEX_RE.match(hexkey):
                raise ValueError("bad authority in key file")
            authority = bytes.fromhex(hexkey)
        else:
            raise ValueError("not a capbus key file")
    if secret is None:
        raise ValueError("key file has no secret")
    if authority is not None and ident != "admin":
        raise ValueError("only the admin key file holds an authority line")
    return ident, secret, authority


def parse_key_file(text: str):
    """(identity or None, 32-byte key) from a key file's text; ValueError when malformed."""
    ident, secret, _ = _parse_key_lines(text)
    return ident, secret


def parse_key_authority(text: str) -> Optional[bytes]:
    """The admin authority key (32 bytes) of an admin key file's text, or None when it has none."""
    return _parse_key_lines(text)[2]


ADMIN_LABEL = b"capbus-admin-v1\x00"
ADMIN_OPS = ("keygen", "install", "remove", "grant", "revoke")


def admin_message(nonce: bytes, op: str, ident: str, arg: str = "", body: str = "") -> bytes:
    """The bytes an admin request's authority tag covers (docs/protocol.md, "Admin authority")."""
    if op not in ADMIN_OPS or len(nonce) != 32 or "\0" in ident or "\0" in arg:
        raise ValueError("not a signable admin request")
    return (ADMIN_LABEL + nonce + op.encode() + b"\0" + ident.encode() + b"\0" + arg.encode() + b"\0"
            + body.encode())


def admin_authority(authority_key: bytes, nonce: bytes, op: str, ident: str, arg: str = "", body: str = "") -> bytes:
    """HMAC-SHA-256 under the admin authority key over admin_message(...)."""
    return hmac.new(authority_key, admin_message(nonce, op, ident, arg, body), hashlib.sha256).digest()


# -- message types and patterns --------------------------------------------------------------

# Characters a reader cannot see (format characters, variation selectors, fillers, line and
# paragraph separators): no type holds one. The same list as the daemon's (lib/unicode.c).
_INVISIBLE = (
    (0x00a0, 0x00a0),
    (0x00ad, 0x00ad),
    (0x034f, 0x034f),
    (0x0600, 0x0605),
    (0x061c, 0x061c),
    (0x06dd, 0x06dd),
    (0x070f, 0x070f),
    (0x0890, 0x0891),
    (0x08e2, 0x08e2),
    (0x115f, 0x1160),
    (0x1680, 0x1680),
    (0x17b4, 0x17b5),
    (0x180b, 0x180f),
    (0x2000, 0x200f),
    (0x2028, 0x202f),
    (0x205f, 0x205f),
    (0x2060, 0x206f),
    (0x2800, 0x2800),
    (0x3000, 0x3000),
    (0x3164, 0x3164),
    (0xfe00, 0xfe0f),
    (0xfeff, 0xfeff),
    (0xffa0, 0xffa0),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x1343f),
    (0x1bca0, 0x1bca3),
    (0x1d159, 0x1d159),
    (0x1d173, 0x1d17a),
    (0xe0000, 0xe0fff),
)


def _visible(cp: int) -> bool:
    return not any(lo <= cp <= hi for lo, hi in _INVISIBLE)


def type_is_valid(mtype: str) -> bool:
    """1 to 255 bytes of UTF-8 without control characters (C0, DEL, C1), invisible characters or
    "*" (docs/protocol.md "Message types")."""
    if not isinstance(mtype, str):
        return False
    try:
        size = len(mtype.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return 0 < size <= TYPE_MAX and all(
        ord(c) > 0x9f and _visible(ord(c)) if ord(c) >= 0x7f else (ord(c) >= 0x20 and c != "*") for c in mtype)


def pattern_is_valid(pattern: str) -> bool:
    """An exact type, a prefix of at least one character ending in "." or ":" followed by "*",
    or "*" alone."""
    if pattern == "*":
        return True
    if isinstance(pattern, str) and len(pattern) >= 3 and pattern.endswith("*") and pattern[-2] in ".:":
        return type_is_valid(pattern[:-1])
    return type_is_valid(pattern)


def pattern_matches(pattern: str, mtype: str) -> bool:
    """Whether a (valid) pattern matches a (valid) type, as the daemon decides it."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return len(mtype) > len(prefix) and mtype.startswith(prefix)
    return pattern == mtype


# -- frames ----------------------------------------------------------------------------------

class FrameReader:
    """Bytes in, frames out. Feed it what the socket gave; take whole frames when there are any."""

    def __init__(self, max_frame: int = CLIENT_MAX_FRAME):
        self.max_frame = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def buffered(self) -> int:
        return len(self._buf)

    def next_frame(self, tagged: bool) -> Optional[Tuple[bytes, bytes, bytes]]:
        """(header, body, tag) of the next whole frame (tag b"" when untagged), or None.

        Raises ProtocolError for a zero or oversized length: there is no resynchronising.
        """
        if len(self._buf) < HEADER_LEN:
            return None
        (length,) = struct.unpack_from(">I", self._buf)
        if length == 0 or length > self.max_frame:
            raise ProtocolError("the daemon sent a frame of %d bytes" % length)
        total = HEADER_LEN + length + (TAG_LEN if tagged else 0)
        if len(self._buf) < total:
            return None
        frame = bytes(self._buf[:total])
        del self._buf[:total]
        return frame[:HEADER_LEN], frame[HEADER_LEN:HEADER_LEN + length], frame[HEADER_LEN + length:]


# -- message bodies --------------------------------------------------------------------------

def encode_message(mtype: str, data: Optional[Dict[str, Any]] = None,
                   context: Optional[Dict[str, Any]] = None) -> bytes:
    """The JSON body of a message. ValueError for a bad type, NaN, or text that is not UTF-8."""
    if not type_is_valid(mtype):
        raise ValueError("message type %r: 1 to 255 bytes of UTF-8 without control or invisible characters or '*'"
                         % (mtype,))
    for name, value in (("data", data), ("context", context)):
        if value is not None and not isinstance(value, dict):
            raise TypeError("%s must be a dict, not %s" % (name, type(value).__name__))
    body: Dict[str, Any] = {"type": mtype, "data": data or {}}
    if context:
        body["context"] = context
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError


class _DuplicateKeys(dict):
    """An object that had a key twice (kept to reject it where the protocol forbids that)."""


def _object(pairs):
    obj = dict(pairs)
    return _DuplicateKeys(obj) if len(obj) != len(pairs) else obj


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def decode_message(body: bytes) -> Tuple[str, Dict[str, Any], Dict[str, Any]]:
    """(type, data, context) of a message body; ProtocolError when it is not a valid message."""
    try:
        msg = json.loads(body.decode("utf-8"), object_pairs_hook=_object, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError("the daemon sent a message that is not JSON: %s" % e) from None
    if not isinstance(msg, dict) or isinstance(msg, _DuplicateKeys) or not set(msg) <= {"type", "data", "context"}:
        raise ProtocolError("the daemon sent a message that is not a capbus message")
    mtype, data, context = msg.get("type"), msg.get("data", {}), msg.get("context", {})
    if not type_is_valid(mtype) or not isinstance(data, dict) or not isinstance(context, dict) \
            or isinstance(context, _DuplicateKeys):
        raise ProtocolError("the daemon sent a message of the wrong shape")
    return mtype, data, context


# -- addresses -------------------------------------------------------------------------------

def socket_address(name: str) -> str:
    """The AF_UNIX address for a socket setting: a path, or "@name" for an abstract socket."""
    if not name or len(name.encode()) > 107:
        raise ValueError("socket must be a path or @name of 1 to 107 bytes")
    return "\0" + name[1:] if name.startswith("@") else name
