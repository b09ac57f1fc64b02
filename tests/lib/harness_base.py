# SPDX-License-Identifier: MIT
"""Where the tests find the build, how they assert, and the one skip rule.

Part of the test harness: tests import these names from capbus_harness, never from here.
A test is a script that exits 0 (pass), 1 (fail) or 77 (skip); capbus_harness.run_test() maps
the exceptions below to those codes.
"""
import os
import sys
import time

SOURCE_DIR = os.environ.get("CAPBUS_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("CAPBUS_BUILD_DIR", "")
# The SDK's protocol module is the harness's reference implementation of the wire format.
sys.path.insert(0, os.path.join(SOURCE_DIR, "sdk", "python"))

EXIT_SKIP = 77


class Skip(Exception):
    """Raised by skip() to end a test with exit 77."""


class TestFailure(AssertionError):
    pass


def check(cond, message):
    """The assertion of every Python test: raise TestFailure(message) unless cond holds."""
    if not cond:
        raise TestFailure(message)


def ci():
    return os.environ.get("CI") == "true"


def skip(reason):
    """The one skip rule: a test that cannot run here (no root, no kernel feature, a missing
    build product or checker) ends with exit 77, but fails when CI=true, since CI must run
    every test."""
    if ci():
        raise TestFailure("%s, and CI=true: a test that cannot run fails in CI" % reason)
    raise Skip(reason)


def wait_for(pred, timeout=5.0, interval=0.01, what="condition"):
    """Poll pred() until it returns something true; return that value or raise TestFailure."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def capbusd_path():
    return os.path.join(BUILD_DIR, "busd", "capbusd")


def capbusd_router_path():
    return os.path.join(BUILD_DIR, "busd", "capbusd-router")


def capbus_path():
    return os.path.join(BUILD_DIR, "cli", "capbus")


def escape_path():
    """The hostile program (tests/hostile/escape.c), run as a skill by the skills tests."""
    return os.path.join(BUILD_DIR, "tests", "hostile", "escape")


def require_build():
    if not BUILD_DIR or not os.access(capbusd_path(), os.X_OK) or not os.access(capbus_path(), os.X_OK):
        skip("capbusd/capbus not built (set CAPBUS_BUILD_DIR)")


def is_root():
    return os.geteuid() == 0
