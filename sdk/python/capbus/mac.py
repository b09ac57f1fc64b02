# SPDX-License-Identifier: MIT
"""Frame tags: the ChaCha20-Poly1305 (RFC 8439) tag of an empty plaintext, with the frame
(header | body) as associated data and nonce = 4 zero bytes | BE64(seq).

libsodium computes it when it can be loaded (it is what capbusd uses; ctypes is in the standard
library); otherwise a pure-Python implementation of RFC 8439 does, much more slowly.
"""
import ctypes
import struct
import warnings
from typing import Callable, Optional

TAG_LEN = 16
KEY_LEN = 32
_MASK32 = 0xFFFFFFFF
_P1305 = (1 << 130) - 5
_CLAMP = 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF


def _rotl(v: int, n: int) -> int:
    return ((v << n) & _MASK32) | (v >> (32 - n))


def _quarter(x: list, a: int, b: int, c: int, d: int) -> None:
    x[a] = (x[a] + x[b]) & _MASK32
    x[d] = _rotl(x[d] ^ x[a], 16)
    x[c] = (x[c] + x[d]) & _MASK32
    x[b] = _rotl(x[b] ^ x[c], 12)
    x[a] = (x[a] + x[b]) & _MASK32
    x[d] = _rotl(x[d] ^ x[a], 8)
    x[c] = (x[c] + x[d]) & _MASK32
    x[b] = _rotl(x[b] ^ x[c], 7)


def chacha20_block(key: bytes, counter: int, nonce: bytes) -> bytes:
    """One 64-byte ChaCha20 block (RFC 8439 section 2.3)."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce))
    x = list(state)
    for _ in range(10):
        _quarter(x, 0, 4, 8, 12)
        _quarter(x, 1, 5, 9, 13)
        _quarter(x, 2, 6, 10, 14)
        _quarter(x, 3, 7, 11, 15)
        _quarter(x, 0, 5, 10, 15)
        _quarter(x, 1, 6, 11, 12)
        _quarter(x, 2, 7, 8, 13)
        _quarter(x, 3, 4, 9, 14)
    return struct.pack("<16I", *((a + b) & _MASK32 for a, b in zip(x, state)))


def poly1305(one_time_key: bytes, msg: bytes) -> bytes:
    """RFC 8439 section 2.5."""
    r = int.from_bytes(one_time_key[:16], "little") & _CLAMP
    s = int.from_bytes(one_time_key[16:32], "little")
    acc = 0
    for i in range(0, len(msg), 16):
        block = msg[i:i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % _P1305
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def tag_pure(key: bytes, nonce: bytes, ad: bytes) -> bytes:
    """The AEAD tag of an empty plaintext with associated data ad (RFC 8439 section 2.8)."""
    otk = chacha20_block(key, 0, nonce)[:32]
    pad = b"\x00" * ((16 - len(ad) % 16) % 16)
    return poly1305(otk, ad + pad + struct.pack("<QQ", len(ad), 0))


def _load_libsodium() -> Optional[Callable[[bytes, bytes, bytes], bytes]]:
    for name in ("libsodium.so.23", "libsodium.so"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return None
    if lib.sodium_init() < 0:
        return None
    fn = lib.crypto_aead_chacha20poly1305_ietf_encrypt_detached
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_ulonglong), ctypes.c_char_p,
                   ctypes.c_ulonglong, ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_void_p, ctypes.c_char_p,
                   ctypes.c_char_p]
    fn.restype = ctypes.c_int

    def tag(key: bytes, nonce: bytes, ad: bytes) -> bytes:
        out = ctypes.create_string_buffer(TAG_LEN)
        none = ctypes.create_string_buffer(1)
        out_len = ctypes.c_ulonglong(0)
        if fn(none, out, ctypes.byref(out_len), None, 0, ad, len(ad), None, nonce, key) != 0:
            raise RuntimeError("libsodium refused to compute a tag")
        return out.raw
    return tag


_libsodium_tag = _load_libsodium()
if _libsodium_tag is None:
    warnings.warn("capbus: libsodium (libsodium.so.23) could not be loaded; frame tags are computed in "
                  "pure Python, about 30 times slower", RuntimeWarning)


def backend() -> str:
    return "libsodium" if _libsodium_tag else "pure-python"


def frame_tag(key: bytes, seq: int, hdr: bytes, body: bytes) -> bytes:
    """The tag of frame number seq in the direction whose key is key."""
    nonce = b"\x00" * 4 + struct.pack(">Q", seq)
    if _libsodium_tag:
        return _libsodium_tag(key, nonce, hdr + body)
    return tag_pure(key, nonce, hdr + body)
