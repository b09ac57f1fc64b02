#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make-frame-tags.py - writes frame-tags.txt, the frame tag vectors of protocol version 2.

Computed with Python's hmac and hashlib only (independent of lib/mac.c and of libcrypto's
SHA256_* calls it uses): tag = HMAC-SHA-256(key, BE64(seq) | BE32(len) | body)[:16].
Run it from this directory and commit the output; tests/unit/test-mac.c and
tests/sdk/test_message.py check their tags against the file.
"""
import hashlib
import hmac
import struct


def body_of(length: int) -> bytes:
    """The body of a vector: byte i is (7 * i + length) mod 256, so the file need not hold it."""
    return bytes((7 * i + length) & 0xFF for i in range(length))


def key_of(n: int) -> bytes:
    return bytes((n * 37 + 11 * i + 1) & 0xFF for i in range(32))


# Body lengths around the SHA-256 block and padding boundaries (the MAC input is 12 + len bytes),
# a typical message and the 64 KiB default max_frame; sequence numbers at the 32- and 64-bit edges.
LENGTHS = [0, 1, 2, 43, 44, 51, 52, 53, 116, 256, 300, 4096, 65536]
SEQS = [0, 1, 2**32, 2**64 - 1]


def main() -> None:
    lines = ["# frame tags, capbus protocol version 2: written by make-frame-tags.py, do not edit.",
             "# key(hex) seq(decimal) body_len tag(hex); body byte i = (7 * i + body_len) mod 256;",
             "# tag = HMAC-SHA-256(key, BE64(seq) | BE32(body_len) | body), first 16 bytes."]
    n = 0
    for length in LENGTHS:
        for seq in SEQS:
            key = key_of(n)
            msg = struct.pack(">QI", seq, length) + body_of(length)
            tag = hmac.new(key, msg, hashlib.sha256).digest()[:16]
            lines.append("%s %d %d %s" % (key.hex(), seq, length, tag.hex()))
            n += 1
    with open("frame-tags.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
