# SPDX-License-Identifier: MIT
"""Helpers for the SDK tests (tests/sdk/test_*.py); the daemon fixture is capbus_harness."""
import threading
import time

from capbus_harness import TestFailure

from capbus import Bus, ClosedError


class Running:
    """Runs bus.run_forever() in a thread for the length of a with block."""

    def __init__(self, bus: Bus):
        self.bus = bus
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.bus.run_forever()
        except ClosedError:
            pass
        except BaseException as e:  # reported by __exit__
            self.error = e

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.bus.stop()
        self.thread.join(10)
        if self.thread.is_alive():
            raise TestFailure("run_forever() did not return after stop()")
        if self.error and exc[0] is None:
            raise TestFailure("run_forever() failed: %r" % self.error)
        return False


def run_until(bus: Bus, pred, timeout: float = 10.0, what: str = "a message"):
    """Dispatch with bus.run() until pred() is true."""
    deadline = time.monotonic() + timeout
    while not pred():
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("timed out waiting for %s" % what)
        bus.run(min(left, 0.1))
