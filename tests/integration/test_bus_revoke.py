#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""install --grant gives a dangerous receive permission; revoke drops a live subscription at once."""
import json
import os

from capbus_harness import Daemon, check, manifest, run_test

DANGEROUS = "recognizer_loop:utterance"


def main():
    with Daemon() as d:
        path = os.path.join(d.dir, "eve.json")
        with open(path, "w") as f:
            json.dump(manifest("eve", [], [DANGEROUS, "eve.*"]), f)
        cp = d.admin("install", path, "--grant", DANGEROUS)
        check(cp.returncode == 0, "install --grant failed (%d): %s" % (cp.returncode, cp.stderr))
        eve = d.client("eve")
        for p in (DANGEROUS, "eve.*"):
            r = eve.subscribe(p)
            check(r["type"] == "capbus.subscribe.reply", "subscribe %s: %r" % (p, r))
        admin = d.client("admin", key_path=d.admin_key)
        admin.send(DANGEROUS, {"utterance": "one"})
        admin.ping()
        m = eve.recv_message(5)
        check(m["type"] == DANGEROUS and m["data"]["utterance"] == "one", "eve got %r" % m)
        before = d.stats()["revoked"]

        cp = d.admin("revoke", "eve", DANGEROUS)
        check(cp.returncode == 0, "revoke failed (%d): %s" % (cp.returncode, cp.stderr))
        e = eve.recv_message(5)
        check(e["type"] == "bus.error" and e["data"]["code"] == "revoked" and e["data"].get("type") == DANGEROUS,
              "eve was not told about the revocation: %r" % e)
        admin.send(DANGEROUS, {"utterance": "two"})
        admin.send("eve.still", {})
        admin.ping()
        got = eve.drain(0.3)
        check([m["type"] for m in got] == ["eve.still"], "after revoke eve received %r" % got)
        r = eve.subscribe(DANGEROUS)
        check(r["type"] == "bus.error" and r["data"]["code"] == "denied", "re-subscribe after revoke: %r" % r)
        check(d.stats()["revoked"] == before + 1, "revoked counter did not move by one")
        # The revocation survives a restart of the daemon (grants are stored).
        d.stop()
        d.start()
        eve2 = d.client("eve")
        r = eve2.subscribe(DANGEROUS)
        check(r["type"] == "bus.error", "revoked permission is back after restart: %r" % r)
        cp = d.admin("grant", "eve", DANGEROUS)
        check(cp.returncode == 0, "grant failed (%d): %s" % (cp.returncode, cp.stderr))
        check(eve2.subscribe(DANGEROUS)["type"] == "capbus.subscribe.reply", "grant did not take effect at once")


if __name__ == "__main__":
    run_test(main)
