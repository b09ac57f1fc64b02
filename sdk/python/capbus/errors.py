# SPDX-License-Identifier: MIT
"""capbus errors: every refusal or failure a skill can meet, as one exception hierarchy.

    CapbusError
    +-- KeyFileError       key file unreadable, wrong mode or owner, malformed
    +-- AuthError          wrong key, unknown identity, or not a capbus daemon
    +-- ProtocolError      the peer broke the protocol (bad MAC, bad frame); connection closed
    |   +-- VersionError   the daemon speaks another protocol version (e.g. 1)
    +-- ClosedError        the daemon closed the connection (also a ConnectionError)
    +-- TimeoutError       no answer in time (also the built-in TimeoutError)
    +-- BusError           the daemon answered with bus.error (code, message)
        +-- DeniedError    code "denied": outside the manifest
"""
import builtins
from typing import Any, Mapping, Optional


class CapbusError(Exception):
    """Base class of every capbus error."""


class KeyFileError(CapbusError):
    """The key file cannot be used: not a regular file, wrong owner or mode, or malformed."""


class AuthError(CapbusError):
    """Authentication failed: wrong key, unknown identity, or not a capbus daemon."""


class ProtocolError(CapbusError):
    """The peer broke the protocol."""


class VersionError(ProtocolError):
    """The daemon's HELLO names another capbus protocol version than this SDK's (2)."""


class ClosedError(CapbusError, ConnectionError):
    """The daemon closed the connection (or this Bus was closed)."""


class TimeoutError(CapbusError, builtins.TimeoutError):  # noqa: A001  (deliberately shadows)
    """No answer arrived in time. Also catchable as the built-in TimeoutError."""


class BusError(CapbusError):
    """A refusal from the daemon (a bus.error frame).

    code: machine-readable ("denied", "malformed", "rate_limited", "quota", "revoked",
    "invalid", "unknown_id", "needs_grant", "internal", ...); message: words for humans;
    type: the message type or pattern concerned, if the daemon named one; request: the bus
    request number it answers, if any.
    """

    def __init__(self, code: str, message: str = "", type: Optional[str] = None,  # noqa: A002
                 request: Optional[int] = None):
        super().__init__("%s: %s" % (code, message) if message else code)
        self.code = code
        self.message = message
        self.type = type
        self.request = request

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> "BusError":
        """The right subclass for the data of a bus.error message."""
        code = data.get("code")
        code = code if isinstance(code, str) else "unknown"
        message = data.get("message")
        mtype = data.get("type")
        request = data.get("request")
        cls = DeniedError if code == "denied" else BusError
        return cls(code, message if isinstance(message, str) else "",
                   mtype if isinstance(mtype, str) else None,
                   request if isinstance(request, int) and not isinstance(request, bool) else None)


class DeniedError(BusError):
    """The daemon refused because the manifest does not allow it (bus.error code "denied")."""
