# SPDX-License-Identifier: MIT
"""Frame tags of protocol version 2: HMAC-SHA-256 truncated to 128 bits (as RFC 4868 does).

    tag = HMAC-SHA-256(k_dir, BE64(seq) | header | body)[:16]

Only the standard library: hmac and hashlib run in C (OpenSSL's SHA-256), and tags are compared
with hmac.compare_digest, in constant time. The key is hashed into the HMAC pads once per
direction (keyed()); each frame then copies that state, as lib/mac.c does.
"""
import hashlib
import hmac
import struct

TAG_LEN = 16
KEY_LEN = 32


def keyed(key: bytes) -> "hmac.HMAC":
    """The HMAC-SHA-256 state of one direction, before any frame bytes."""
    if len(key) != KEY_LEN:
        raise ValueError("a direction key is 32 bytes")
    return hmac.new(key, digestmod=hashlib.sha256)


def tag_from(state: "hmac.HMAC", seq: int, hdr: bytes, body: bytes) -> bytes:
    """The tag of frame number seq, from the keyed state of its direction (left unchanged)."""
    h = state.copy()
    h.update(struct.pack(">Q", seq))
    h.update(hdr)
    h.update(body)
    return h.digest()[:TAG_LEN]


def frame_tag(key: bytes, seq: int, hdr: bytes, body: bytes) -> bytes:
    """The tag of frame number seq in the direction whose key is key."""
    return tag_from(keyed(key), seq, hdr, body)


def tags_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two tags."""
    return hmac.compare_digest(a, b)
