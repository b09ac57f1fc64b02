#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A WebSocket client with a token sends; a native `capbus listen` receives it stamped with the
token's identity (not anything the client claims), and the client hears its own message back
when its manifest lets it receive that type (Mycroft semantics). The greeting arrives first.
The token is in no log line, and the gateway runs with no capabilities, no_new_privs and its
seccomp filter."""
import json
import time

from capbus_harness import check, manifest, proc_status, run_test
from gateway_harness import GatewayDaemon, recv_until, send

BOTH = ["socket", "gateway"]


def main():
    ms = {"phone": manifest("phone", ["greet.*"], ["greet.*"], transports=BOTH),
          "ear": manifest("ear", ["other.*"], ["greet.*"])}
    with GatewayDaemon(ms) as d:
        tok = d.token("phone")
        listener = d.cli_popen("listen", "greet.*", "--count", "1", "--timeout", "20", key=d.keygen("ear"))
        time.sleep(0.5)  # the listener subscribes
        c = d.ws("token=" + tok)
        first, _ = recv_until(c, lambda m: True)
        check(first["type"] == "connected", "first message %r, want the greeting" % first)
        send(c, "greet.speak", {"utterance": "hello from the phone"}, {"sender": "admin", "source": "phone"})
        out, err = listener.communicate(timeout=20)
        check(listener.returncode == 0, "capbus listen: rc %d %s" % (listener.returncode, err))
        msg = json.loads(out.strip().splitlines()[-1])
        check(msg["type"] == "greet.speak" and msg["data"]["utterance"] == "hello from the phone", "listen got %r" % msg)
        check(msg["context"]["sender"] == "phone", "sender %r, want the token's identity" % msg["context"].get("sender"))
        echo, _ = recv_until(c, lambda m: m.get("type") == "greet.speak")
        check(echo["context"]["sender"] == "phone", "echo sender %r" % echo["context"])
        c.close()
        d.wait_gw_log("event=gateway_session_open id=\"phone\" method=token")
        d.wait_gw_log("event=gateway_session_closed id=\"phone\"")
        check(tok not in d.gw_log() and tok not in d.log(), "the token appears in a log")
        # the gateway serves confined: no_new_privs and its stacked seccomp filter (sanitizer
        # builds skip the filter, and say so)
        st = proc_status(d.gw_proc.pid)
        check(int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, "gateway kept capabilities: %r" % st)
        if "gateway_seccomp_skipped" not in d.gw_log():
            check(st.get("NoNewPrivs") == "1" and st.get("Seccomp") == "2", "gateway not confined: %r" % st)


run_test(main)
