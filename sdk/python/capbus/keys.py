# SPDX-License-Identifier: MIT
"""Key files: read one safely, from a path or from an inherited descriptor.

A key file is refused unless it is a regular file owned by this user and neither readable nor
writable by group or others (the rules of lib/keyfile.c). Python cannot wipe memory reliably:
the key lives only as long as the handshake needs it, and is never logged.
"""
import errno
import os
import stat
from typing import Optional, Tuple

from . import protocol
from .errors import KeyFileError


def _read_all(fd: int, regular: bool) -> bytes:
    chunks, used = [], 0
    while True:
        n = protocol.KEYFILE_MAX - used
        chunk = os.pread(fd, n, used) if regular else os.read(fd, n)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        used += len(chunk)
        if used >= protocol.KEYFILE_MAX:
            raise KeyFileError("not a capbus key file (larger than %d bytes)" % protocol.KEYFILE_MAX)


def read_key_fd(fd: int, check_owner: bool = False, where: str = "key file") -> Tuple[str, bytes]:
    """(identity, 32-byte key) from an open descriptor; KeyFileError when unusable.

    A regular file is read from its start and must have mode 0600 or stricter (and belong to
    this user when check_owner); a pipe is read to its end. The descriptor is not closed.
    """
    try:
        st = os.fstat(fd)
    except OSError as e:
        raise KeyFileError("%s: %s" % (where, e.strerror)) from None
    regular = stat.S_ISREG(st.st_mode)
    if not regular and not (stat.S_ISFIFO(st.st_mode) and not check_owner):
        raise KeyFileError("%s is not a regular file" % where)
    if regular and check_owner and st.st_uid != os.geteuid():
        raise KeyFileError("%s belongs to another user" % where)
    if regular and st.st_mode & 0o077:
        raise KeyFileError("%s is readable or writable by group or others (chmod 600 it)" % where)
    text = _read_all(fd, regular)
    try:
        if b"\0" in text:
            raise ValueError("NUL byte")
        ident, key = protocol.parse_key_file(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError("%s is not a capbus key file" % where) from None
    if ident is None:
        raise KeyFileError("%s has no \"id\" line" % where)
    return ident, key


def read_key_file(path: "os.PathLike[str] | str") -> Tuple[str, bytes]:
    """(identity, 32-byte key) from a key file; KeyFileError when it is unusable."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise KeyFileError("key file %s is a symbolic link" % os.fspath(path)) from None
        raise KeyFileError("key file %s: %s" % (os.fspath(path), e.strerror)) from None
    try:
        return read_key_fd(fd, check_owner=True, where="key file %s" % os.fspath(path))
    finally:
        os.close(fd)


def env_fd(name: str) -> Optional[int]:
    """The open descriptor named by environment variable name, or None."""
    value = os.environ.get(name, "")
    if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > 0x7FFFFFFF:
        return None
    fd = int(value)
    try:
        os.get_inheritable(fd)  # fails with EBADF when fd is not open
    except OSError:
        return None
    return fd
