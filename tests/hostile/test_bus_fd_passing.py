#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""No file descriptor travels over the bus: SCM_RIGHTS sent by a client never lands in the router."""
import array
import errno
import os
import socket

from capbus_harness import Daemon, check, manifest, run_test, wait_for


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], []), "bob": manifest("bob", [], ["greet.*"])}) as d:
        bob = d.client("bob")
        check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "subscribe failed")
        alice = d.client("alice")
        alice.ping()
        base = d.fd_count()
        devnull = os.open("/dev/null", os.O_RDONLY)
        refused = 0
        try:
            for i in range(50):
                frame = alice.seal({"type": "greet.fd", "data": {"i": i}})
                fds = array.array("i", [devnull] * 4)
                try:
                    alice.sock.sendmsg([frame], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
                except OSError as e:
                    # The kernel refuses descriptors for a receiver that set SO_PASSRIGHTS to 0.
                    check(e.errno in (errno.EPERM, errno.EACCES), "sendmsg failed with %s" % e)
                    refused += 1
                    alice.send_raw(frame)
        finally:
            os.close(devnull)
        alice.ping()
        check(d.fd_count() <= base, "the daemon holds %d more descriptors after SCM_RIGHTS" % (d.fd_count() - base))
        got = [m["data"]["i"] for m in bob.drain(0.3)]
        check(got == list(range(50)), "messages lost or reordered around fd passing: %r" % got[:10])
        print("sendmsg with SCM_RIGHTS refused by the kernel %d/50 times" % refused)
        release = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
        if release >= (6, 16):  # SO_PASSRIGHTS exists: the router must have turned it off
            check(refused == 50, "the kernel accepted descriptors for the router (SO_PASSRIGHTS not 0)")
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
