# SPDX-License-Identifier: MIT
"""capbus wire protocol, version 1: framing, the mutual handshake, per-frame MACs.

Pure functions and small state objects, no I/O: the client in client.py moves the bytes.
Everything here follows docs/protocol.md byte for byte and uses only the standard library.
"""
import hashlib
import hmac
import os
import re
import struct

MAGIC = b"CAPBUS\x00\x01"
NONCE_LEN = 32
PROOF_LEN = 32
KEY_LEN = 32
TAG_LEN = 16
HEADER_LEN = 4
ID_MAX = 64
HELLO_LEN = len(MAGIC) + NONCE_LEN
STATUS_OK = 0
STATUS_AUTH_FAILED = 1

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class ProtocolError(Exception):
    """The peer broke the protocol."""


class AuthError(Exception):
    """Authentication failed: wrong key, unknown identity, or not a capbus daemon."""


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
    """One direction: a key and the implicit sequence number."""

    def __init__(self, key: bytes):
        self.key = key
        self.seq = 0

    def _tag(self, hdr: bytes, body: bytes) -> bytes:
        h = hashlib.blake2b(digest_size=TAG_LEN, key=self.key)
        h.update(struct.pack(">Q", self.seq))
        h.update(hdr)
        h.update(body)
        return h.digest()

    def sign(self, hdr: bytes, body: bytes) -> bytes:
        tag = self._tag(hdr, body)
        self.seq += 1
        return tag

    def verify(self, hdr: bytes, body: bytes, tag: bytes) -> bool:
        ok = hmac.compare_digest(self._tag(hdr, body), tag)
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
            raise ValueError("identity must be 1-64 of [a-z0-9._-], starting with a letter or digit")
        if len(key) != KEY_LEN:
            raise ValueError("key must be 32 bytes")
        self.id = ident.encode()
        self.key = key
        self.nc = client_nonce or os.urandom(NONCE_LEN)
        self.ns = None

    def auth(self, hello: bytes) -> bytes:
        if len(hello) != HELLO_LEN or hello[:len(MAGIC)] != MAGIC:
            raise ProtocolError("not a capbus daemon (bad hello)")
        self.ns = hello[len(MAGIC):]
        proof = _proof(self.key, b"capbus-v1 client", self.ns, self.nc, self.id)
        return MAGIC + self.nc + proof + bytes([len(self.id)]) + self.id

    def finish(self, result: bytes) -> Session:
        if len(result) < len(MAGIC) + 1 or result[:len(MAGIC)] != MAGIC:
            raise ProtocolError("bad handshake result")
        if result[len(MAGIC)] != STATUS_OK:
            raise AuthError("authentication failed")
        if len(result) != len(MAGIC) + 1 + PROOF_LEN:
            raise ProtocolError("bad handshake result length")
        expected = _proof(self.key, b"capbus-v1 server", self.ns, self.nc, self.id)
        if not hmac.compare_digest(expected, result[len(MAGIC) + 1:]):
            raise AuthError("the daemon could not prove it knows our key")
        session = hashlib.blake2b(b"capbus-v1 session" + self.ns + self.nc + bytes([len(self.id)]) + self.id,
                                  digest_size=32, key=self.key).digest()
        return Session(self.id.decode(), tx_key=_kdf(session, 1), rx_key=_kdf(session, 2))


def parse_key_file(text: str):
    """(identity or None, 32-byte key) from a key file's text; ValueError when malformed."""
    ident, secret = None, None
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        if line.startswith("id ") and ident is None:
            ident = line[3:]
            if not id_is_valid(ident):
                raise ValueError("bad identity in key file")
        elif line.startswith("secret ") and secret is None:
            hexkey = line[7:]
            if len(hexkey) != 2 * KEY_LEN:
                raise ValueError("bad secret in key file")
            secret = bytes.fromhex(hexkey)
        else:
            raise ValueError("not a capbus key file")
    if secret is None:
        raise ValueError("key file has no secret")
    return ident, secret
