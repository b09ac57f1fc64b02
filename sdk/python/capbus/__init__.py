# SPDX-License-Identifier: MIT
"""capbus: the Python client of the capbus message bus, for skill authors.

    from capbus import Bus, Message

    with Bus() as bus:
        def today(message):
            bus.emit(message.reply("speak", {"utterance": "Sunny all day"}))
        bus.on("intent.weather.today", today)
        bus.run_forever()

Bus connects and authenticates (key file, or the connection a sandboxed skill inherits);
Message is the Mycroft-shaped message; errors are in capbus.errors; capbus.ovos has
OpenVoiceOS's MessageBusClient and Message. Handlers run on worker threads and every method may
be called from any thread. Standard library only.
"""
from .client import Bus
from .errors import (AuthError, BusError, CapbusError, ClosedError, DeniedError, KeyFileError,
                     ProtocolError, TimeoutError, VersionError)
from .message import Message

__version__ = "0.1.0"

__all__ = [
    "Bus", "Message",
    "CapbusError", "AuthError", "BusError", "ClosedError", "DeniedError", "KeyFileError",
    "ProtocolError", "TimeoutError", "VersionError",
]
