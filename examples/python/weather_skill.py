#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""org.example.weather - a capbus skill that answers "what's the weather today?".

It hears intent.weather.today (data: {"location": "Paris"}) and answers with speak, keeping the
request's context: its call_id makes the daemon deliver the answer to the asker as the reply to
its call (capbus call, Bus.wait_for_response).

As an external client (manifest org.example.weather.json, key from `capbus keygen`):
    python3 weather_skill.py --socket /run/capbus/bus.sock --key org.example.weather.key
Launched by capbusd in its sandbox (org.example.weather.sandboxed.json), it takes no arguments
and uses the bus connection it inherits.

The forecast is made up (stable per place and day) so that the example needs no network.
"""
import argparse
import datetime
import logging
import signal
import sys
import zlib
from typing import List, Optional, Tuple

from capbus import Bus, BusError, CapbusError, Message

log = logging.getLogger("org.example.weather")

CONDITIONS = ("sunny", "partly cloudy", "cloudy", "rainy", "windy", "foggy")


def forecast(location: str, day: datetime.date) -> Tuple[str, int]:
    """(conditions, temperature in degrees Celsius) for a place and a day."""
    seed = zlib.crc32(("%s|%s" % (location.lower(), day.isoformat())).encode("utf-8"))
    return CONDITIONS[seed % len(CONDITIONS)], (seed >> 8) % 30 - 5


class WeatherSkill:
    def __init__(self, bus: Bus):
        self.bus = bus

    def start(self) -> None:
        self.bus.on("intent.weather.today", self.handle_today)
        self.bus.on("mycroft.stop", self.handle_stop)
        self.bus.on_error(self.handle_refusal)

    def handle_today(self, message: Message) -> None:
        location = message.data.get("location")
        if not isinstance(location, str) or not location.strip():
            location = "your area"
        conditions, degrees = forecast(location.strip(), datetime.date.today())
        utterance = "Today in %s: %s, %d degrees." % (location.strip(), conditions, degrees)
        log.info("answering %s for %s", message.type, message.sender)
        self.bus.emit(message.reply("speak", {"utterance": utterance, "expect_response": False}))

    def handle_stop(self, message: Message) -> None:
        log.info("stop requested by %s; nothing is playing", message.sender)

    def handle_refusal(self, error: BusError) -> None:
        log.warning("the bus refused a message: %s", error)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", help="bus socket (path or @name; default $CAPBUS_SOCKET)")
    parser.add_argument("--key", help="key file (default $CAPBUS_KEY, else the inherited connection)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    try:
        with Bus(args.socket, args.key) as bus:
            WeatherSkill(bus).start()
            signal.signal(signal.SIGTERM, lambda signo, frame: bus.stop())
            log.info("ready as %s", bus.id)
            bus.run_forever()
    except (CapbusError, OSError) as e:
        log.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
