#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The router that parses client bytes runs without privilege: non-root uid, no caps, NoNewPrivs, seccomp."""
import os

from capbus_harness import Daemon, check, is_root, manifest, proc_status, run_test


def main():
    with Daemon({"alice": manifest("alice", ["greet.*"], ["greet.*"])}) as d:
        d.client("alice").ping()
        router = d.router_pid()
        check(router and router != d.pid, "no router child process")
        st = proc_status(router)
        uids = [int(x) for x in st["Uid"].split()]
        gids = [int(x) for x in st["Gid"].split()]
        if is_root():
            check(all(u != 0 for u in uids), "router uids %r include root" % uids)
            check(all(g != 0 for g in gids), "router gids %r include root" % gids)
            check(st.get("Groups", "") == "", "router keeps supplementary groups %r" % st.get("Groups"))
        check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, "router holds capabilities")
        if is_root():
            check(int(st["CapBnd"], 16) == 0, "router bounding set not empty: %s" % st["CapBnd"])
        check(st["NoNewPrivs"] == "1", "router NoNewPrivs=%s" % st["NoNewPrivs"])
        if "router_seccomp_skipped" in d.log():
            print("note: sanitizer build, the router seccomp filter is not loaded")
        else:
            check(st["Seccomp"] == "2", "router Seccomp=%s, want 2 (filter)" % st["Seccomp"])
        # The parent never talks to clients: it holds no connection to the bus socket beyond the listener.
        check(os.path.exists("/proc/%d" % d.pid), "parent gone")


if __name__ == "__main__":
    run_test(main)
