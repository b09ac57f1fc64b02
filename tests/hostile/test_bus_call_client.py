#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Both clients take only the reply the daemon bound to their call: libcapbus's capbus_call
(through ctypes) and the SDK's Bus.call, each subscribed to the reply type, while a forger sends
messages of the reply type without a call_id, with a call_id of its own, and with a bound_call
it wrote itself. The real reply wins; the stray ones stay ordinary messages. The daemon's own
answers (timeout, no_responder) reach the C caller as CAPBUS_E_TIMEOUT and CAPBUS_E_REFUSED."""
import ctypes
import os
import socket
import subprocess
import sys
import threading

from capbus_harness import Daemon, check, manifest, run_test

from capbus import Bus, Message

CAPBUS_E_TIMEOUT = 3
CAPBUS_E_REFUSED = 7


def libcapbus_path():
    return os.path.join(os.environ["CAPBUS_BUILD_DIR"], "lib", "libcapbus.so")


def preload_sanitizers():
    """A sanitizer build's libcapbus.so needs its runtimes loaded first: run this test again with
    them preloaded (leak checks off: the interpreter itself keeps memory until exit)."""
    if os.environ.get("CAPBUS_TEST_PRELOADED"):
        return
    out = subprocess.run(["ldd", libcapbus_path()], capture_output=True, text=True).stdout
    runtimes = [line.split("=>")[1].split()[0] for line in out.splitlines()
                if "=>" in line and ("libasan" in line or "libubsan" in line)]
    if not runtimes:
        return
    env = dict(os.environ, CAPBUS_TEST_PRELOADED="1", LD_PRELOAD=":".join(runtimes),
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def load_libcapbus():
    lib = ctypes.CDLL(libcapbus_path())
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    for name, args, res in (("capbus_connect", [ctypes.POINTER(vp), cp, cp], i),
                            ("capbus_subscribe", [vp, cp, i], i),
                            ("capbus_call", [vp, cp, cp, cp, i, ctypes.POINTER(vp)], i),
                            ("capbus_recv", [vp, ctypes.POINTER(vp), i], i),
                            ("capbus_sync", [vp, i], i),
                            ("capbus_msg_json", [vp], cp),
                            ("capbus_error_code", [vp], cp),
                            ("capbus_msg_free", [vp], None),
                            ("capbus_close", [vp], None)):
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


class Responder:
    """calc answers calc.add after the forger has sent its stray replies; never calc.slow."""

    def __init__(self, d):
        import json
        self.json = json
        self.calc = d.client("calc")
        self.forger = d.client("forger")
        for p in ("calc.add", "calc.slow"):
            check(self.calc.subscribe(p)["type"] == "capbus.subscribe.reply", "subscribe %s failed" % p)
        self.stop = False
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop:
                try:
                    m = self.calc.recv_message(0.2)
                except socket.timeout:
                    continue
                if m["type"] != "calc.add":
                    continue
                self.forger.send("calc.add.response", {"sum": -1})
                # With a call_id of the forger's own: a call of its own, delivered unbound.
                self.forger.send("calc.add.response", {"sum": -2}, {"call_id": "0123456789abcdef"})
                self.forger.send("calc.add.response", {"sum": -3}, {"bound_call": m["context"]["call_id"]})
                self.forger.ping()  # the strays are queued to the caller before the real reply
                ctx = dict(m["context"])
                self.calc.send("calc.add.response", {"sum": m["data"]["a"] + m["data"]["b"]}, ctx)
        except Exception as e:  # reported by the main thread
            self.error = e

    def close(self):
        self.stop = True
        self.thread.join(5)
        check(self.error is None, "responder failed: %r" % self.error)


def c_client(d, lib):
    bus = ctypes.c_void_p()
    r = lib.capbus_connect(ctypes.byref(bus), d.socket.encode(), d.keygen("asker").encode())
    check(r == 0, "capbus_connect: %d" % r)
    check(lib.capbus_subscribe(bus, b"calc.add.response", 5000) == 0, "capbus_subscribe failed")

    reply = ctypes.c_void_p()
    r = lib.capbus_call(bus, b"calc.add", b'{"a": 2, "b": 3}', b"calc.add.response", 5000, ctypes.byref(reply))
    check(r == 0, "capbus_call: %d" % r)
    m = __import__("json").loads(lib.capbus_msg_json(reply))
    lib.capbus_msg_free(reply)
    check(m["data"] == {"sum": 5}, "capbus_call took a stray reply: %r" % m)
    check(m["context"].get("bound_call") == m["context"].get("call_id") and m["context"]["sender"] == "calc",
          "reply %r" % m)
    strays = []
    msg = ctypes.c_void_p()
    while lib.capbus_recv(bus, ctypes.byref(msg), 300) == 0:
        strays.append(__import__("json").loads(lib.capbus_msg_json(msg)))
        lib.capbus_msg_free(msg)
    check(sorted(s["data"]["sum"] for s in strays) == [-3, -2, -1], "strays for capbus_recv: %r" % strays)
    check(all("bound_call" not in s["context"] for s in strays), "a stray is marked bound: %r" % strays)

    r = lib.capbus_call(bus, b"calc.slow", b"{}", b"calc.slow.response", 300, ctypes.byref(reply))
    check(r == CAPBUS_E_TIMEOUT, "unanswered capbus_call: %d" % r)
    r = lib.capbus_call(bus, b"calc.none", b"{}", b"calc.none.response", 3000, ctypes.byref(reply))
    check(r == CAPBUS_E_REFUSED and lib.capbus_error_code(bus) == b"no_responder",
          "capbus_call nobody receives: %d %r" % (r, lib.capbus_error_code(bus)))
    # The daemon's late timeout answer to the first slow call is no refusal of anything since.
    check(lib.capbus_sync(bus, 3000) == 0, "a late call answer was reported as a refusal")
    lib.capbus_close(bus)


def sdk_client(d):
    with Bus(d.socket, d.keygen("asker")) as bus:
        strays = []
        bus.on("calc.add.response", strays.append)
        r = bus.call(Message("calc.add", {"a": 20, "b": 22}), timeout=5)
        check(r.data == {"sum": 42} and r.context.get("bound_call") == r.context.get("call_id"),
              "Bus.call took %r" % r)
        bus.run(0.5)
        check(sorted(s.data["sum"] for s in strays) == [-3, -2, -1], "strays for handlers: %r" % strays)
        check(bus.wait_for_response(Message("calc.none"), timeout=3) is None, "an answer from nobody")
        bus.sync()


def main():
    with Daemon({"asker": manifest("asker", ["calc.*"], ["calc.add.response", "calc.slow.response",
                                                         "calc.none.response"]),
                 "calc": manifest("calc", ["calc.*"], ["calc.add", "calc.slow"]),
                 "forger": manifest("forger", ["calc.*"], ["calc.add.response.response"])}) as d:
        lib = load_libcapbus()
        responder = Responder(d)
        try:
            c_client(d, lib)
            sdk_client(d)
        finally:
            responder.close()
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    preload_sanitizers()
    run_test(main)
