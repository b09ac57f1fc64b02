#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Delegated sessions (AUTH_D): the gateway opens a connection on behalf of an identity.

No gateway process: this test speaks AUTH_D itself with the key `capbus keygen gateway` gives.
Checked, by attack class:
- a delegated session is its subject: it sends and hears exactly what the subject's manifest
  allows (SUB_PERMITTED subscribes it to "*", delivery still filtered), sender stamped as the
  subject, rates and max_identity_connections apply to it;
- the gateway cannot act as an identity whose manifest lacks "gateway" in "transports", nor as
  admin, gateway, an unknown identity; the challenge method needs the subject's own key;
- only the gateway's key delegates: a wrong key, another identity as delegator, a non-gateway
  identity's key, and the gateway's key on a native AUTH are all refused;
- replayed, truncated, oversized and malformed AUTH_D bodies are refused with the documented
  status (or a close without RESULT_D) and the daemon keeps serving;
- delegation is off without a "gateway" config object, and with a supervised gateway that does
  not run yet; on with "supervise": false;
- a manifest edited to drop "gateway" revokes live delegated sessions on reload.
"""
import json
import os
import signal
import struct

from capbus_harness import Closed, Daemon, RawClient, check, manifest, protocol, run_test
from harness_wire import (DFLAG_SUB_PERMITTED, DSTATUS_CHALLENGE_FAILED, DSTATUS_NOT_DELEGABLE, DSTATUS_REFUSED,
                          MAGIC_D, VIA_CHALLENGE, VIA_LOCAL, VIA_TOKEN, DelegatedClient, DelegatedHandshake, DelegationRefused,
                          read_key_file)

DELEGATE = {"supervise": False}
BOTH = ["socket", "gateway"]


def manifests():
    return {
        # reachable both ways; may send greet.*, hear news.* and its own greet.*
        "alice": manifest("alice", ["greet.*"], ["news.*", "greet.*"], transports=BOTH),
        # only through the gateway: no native login
        "webonly": manifest("webonly", ["greet.*"], ["news.*"], transports=["gateway"]),
        # a native client: not delegable
        "carol": manifest("carol", ["greet.*"], ["news.*"]),
        "bob": manifest("bob", ["news.*", "other.*"], ["greet.*"]),
        "slow": manifest("slow", ["greet.*"], [], transports=BOTH, limits={"msg_rate": 5}),
        # a skill capbusd launches (it may fail to start here: only its identity matters)
        "skill": manifest("skill", ["greet.*"], ["news.*"], exec=["/bin/true"]),
    }


def gw_key(d):
    ident, key = read_key_file(d.keygen("gateway"))
    check(ident == "gateway", "keygen gateway wrote id %r" % ident)
    return key


def delegate(d, key, subject, **kw):
    c = DelegatedClient(d.socket, key, subject, **kw)
    c.handshake()
    return c


def refused(d, key, subject, want, **kw):
    c = DelegatedClient(d.socket, key, subject, **kw)
    try:
        c.handshake()
    except DelegationRefused as e:
        check(e.status == want, "%s: status %d, want %d" % (subject, e.status, want))
        check(c.wait_closed(3), "%s: connection not closed after a refusal" % subject)
        return
    finally:
        c.close()
    raise AssertionError("%s (%r): delegation accepted, want status %d" % (subject, kw, want))


def closed_without_result(d, body, what):
    """A malformed AUTH_D: the daemon closes without any RESULT_D."""
    with RawClient(d.socket) as c:
        c.hello()
        c.send_raw(protocol.header(len(body)) + body)
        try:
            _, result, _ = c.recv_frame(tagged=False)
        except (Closed, ConnectionResetError):
            return
        raise AssertionError("%s: got a reply %r, want the connection closed" % (what, result))


def exchange_and_filtering(d, key):
    bob = d.client("bob")
    check(bob.subscribe("greet.*")["type"] == "capbus.subscribe.reply", "bob could not subscribe")
    before = d.stats()
    a = delegate(d, key, "alice", flags=DFLAG_SUB_PERMITTED, via=VIA_TOKEN)
    check(d.stats()["delegated"] == before["delegated"] + 1, "delegated counter did not move")
    check("via=gateway method=token" in d.wait_log("id=\"alice\" via=gateway"), "no authenticated log line")
    # Sent as alice, stamped as alice whatever the gateway writes in context.sender.
    a.send("greet.hello", {"n": 1}, context={"sender": "admin"})
    m = bob.recv_message(5)
    check(m["type"] == "greet.hello" and m["context"]["sender"] == "alice", "bob got %r" % m)
    # Its own message comes back (alice may hear greet.*), as on Mycroft's bus.
    echo = a.recv_message(5)
    check(echo["type"] == "greet.hello" and echo["context"]["sender"] == "alice", "no echo: %r" % echo)
    # Outside alice's send list: denied, the session stays.
    a.send("news.fake", {})
    e = a.recv_message(5)
    check(e["type"] == "bus.error" and e["data"]["code"] == "denied", "forbidden send answered %r" % e)
    # SUB_PERMITTED: everything alice may hear and nothing else.
    bob.send("other.secret", {})
    bob.send("news.weather", {"t": 3})
    bob.ping()
    got = [m["type"] for m in a.drain(0.5)]
    check(got == ["news.weather"], "delegated alice heard %r, want only news.weather" % got)
    a.ping()
    # A subscribe beyond the manifest is refused as for any alice.
    r = a.subscribe("other.*")
    check(r["type"] == "bus.error" and r["data"]["code"] == "denied", "subscribe other.* answered %r" % r)
    # Without SUB_PERMITTED nothing arrives until it subscribes.
    quiet = delegate(d, key, "alice", via=VIA_LOCAL, peer="cg:4242")
    bob.send("news.quiet", {})
    bob.ping()
    check(quiet.drain(0.3) == [], "a session without SUB_PERMITTED heard something unasked")
    check([m["type"] for m in a.drain(0.3)] == ["news.quiet"], "alice should have heard news.quiet only")
    # Calls are bound to the delegated connection: the reply reaches it alone, bound.
    a.send("greet.ask", {}, context={"call_id": "q1", "reply_type": "news.answer"})
    req = bob.recv_message(5)
    check(req["type"] == "greet.ask" and req["context"]["call_id"].startswith("capbus:"), "bob got %r" % req)
    bob.send("news.answer", {"ok": 1}, context={"call_id": req["context"]["call_id"]})
    bob.ping()
    got = [m for m in a.drain(0.5) if m["type"] != "greet.ask"]
    check(len(got) == 1 and got[0]["type"] == "news.answer" and got[0]["context"].get("bound_call") == "q1" and
          got[0]["context"]["sender"] == "bob", "call reply to the delegated session: %r" % got)
    check(quiet.drain(0.2) == [], "another session of alice got the reply")
    # webonly: delegable although it has no native login.
    w = delegate(d, key, "webonly", flags=DFLAG_SUB_PERMITTED)
    w.send("greet.web", {})
    m = bob.recv_message(5)
    check(m["type"] == "greet.web" and m["context"]["sender"] == "webonly", "bob got %r" % m)
    for c in (a, quiet, w, bob):
        c.close()


def challenge(d, key):
    _, alice_key = read_key_file(d.keygen("alice"))
    c = delegate(d, key, "alice", via=VIA_CHALLENGE, subject_key=alice_key, peer="198.51.100.2:443")
    check(c.inner_sp is not None, "no inner server proof")  # DelegatedHandshake verified it
    c.ping()
    c.close()
    # The browser's proof under another key: status 3, like a subject that is not delegable.
    refused(d, key, "alice", DSTATUS_CHALLENGE_FAILED, via=VIA_CHALLENGE, subject_key=os.urandom(32))
    _, carol_key = read_key_file(d.keygen("carol"))
    refused(d, key, "carol", DSTATUS_CHALLENGE_FAILED, via=VIA_CHALLENGE, subject_key=carol_key)
    refused(d, key, "nobody", DSTATUS_CHALLENGE_FAILED, via=VIA_CHALLENGE, subject_key=os.urandom(32))
    _, skill_key = read_key_file(d.keygen("skill"))
    refused(d, key, "skill", DSTATUS_CHALLENGE_FAILED, via=VIA_CHALLENGE, subject_key=skill_key)


def not_delegable(d, key):
    before = d.stats()["delegation_refused"]
    for who in ("carol", "bob", "admin", "gateway", "nobody", "skill"):
        for via in (VIA_LOCAL, VIA_TOKEN):
            refused(d, key, who, DSTATUS_NOT_DELEGABLE, via=via)
    check(d.stats()["delegation_refused"] == before + 12, "delegation_refused did not count 12")


def only_the_gateway(d, key):
    before = d.stats()["delegation_refused"]
    # Wrong key; and a wrong key learns nothing about who is delegable (status 1 for all).
    for who in ("alice", "carol", "nobody"):
        refused(d, key=os.urandom(32), subject=who, want=DSTATUS_REFUSED)
    # Another identity's key, naming itself as delegator or naming "gateway".
    _, alice_key = read_key_file(d.keygen("alice"))
    refused(d, alice_key, "alice", DSTATUS_REFUSED, gateway="alice")
    refused(d, alice_key, "webonly", DSTATUS_REFUSED)
    # The gateway's key, but a delegator name other than "gateway".
    refused(d, key, "alice", DSTATUS_REFUSED, gateway="gateway2")
    # The gateway's key does not log in natively, nor does a gateway-only identity.
    for ident in ("gateway", "webonly"):
        path = d.keygen(ident)
        c = RawClient(d.socket, key_file=path)
        try:
            c.handshake()
            raise AssertionError("native AUTH as %s accepted" % ident)
        except protocol.AuthError:
            pass
        finally:
            c.close()
    check(d.stats()["delegation_refused"] == before + 6, "delegation_refused did not count 6")


def malformed(d, key):
    before = d.stats()["malformed"]
    # Replay: a whole valid AUTH_D on a new connection meets a new server nonce.
    c = delegate(d, key, "alice")
    frame = c.auth_frame
    c.close()
    with RawClient(d.socket) as r:
        r.hello()
        r.send_raw(frame)
        _, result, _ = r.recv_frame(tagged=False)
        check(result == MAGIC_D + bytes([DSTATUS_REFUSED]), "replayed AUTH_D answered %r" % result)
        check(r.wait_closed(3), "replay: not closed")
    body = frame[4:]
    closed_without_result(d, body[:-1], "truncated by one byte")
    closed_without_result(d, body[:80], "truncated in the tail")
    closed_without_result(d, body + b"x", "one byte too many")
    closed_without_result(d, MAGIC_D, "magic only")
    tail = 8 + 32 + 32
    bad_via = body[:tail] + bytes([9]) + body[tail + 1:]
    closed_without_result(d, bad_via, "unknown via")
    bad_flags = body[:tail + 1] + bytes([0x80]) + body[tail + 2:]
    closed_without_result(d, bad_flags, "unknown flag")
    colon = body.replace(b"alice", b"al:ce")
    closed_without_result(d, colon, "invalid subject id")
    fake_hello = protocol.MAGIC + os.urandom(32)
    closed_without_result(d, DelegatedHandshake(key, "alice", peer="a b").auth(fake_hello), "space in peer")
    closed_without_result(d, DelegatedHandshake(key, "alice", peer="p" * 65).auth(fake_hello), "peer of 65 bytes")
    # via 3 without its inner part.
    v3 = DelegatedHandshake(key, "alice", via=VIA_CHALLENGE, subject_key=os.urandom(32)).auth(fake_hello)
    closed_without_result(d, v3[:-64], "challenge without inner part")
    # Oversized: a declared handshake frame past the largest AUTH_D is refused from its header.
    with RawClient(d.socket) as r:
        r.hello()
        r.send_raw(struct.pack(">I", 334) + MAGIC_D + b"\0" * 326)
        check(r.wait_closed(3), "oversized AUTH_D not closed")
    check("oversized_handshake" in d.wait_log("oversized_handshake"), "no oversized_handshake log line")
    check(d.stats()["malformed"] >= before + 10, "malformed counter did not count the bad bodies")
    # Still serving, delegated and native alike.
    delegate(d, key, "alice").ping()
    d.client("bob").ping()
    check(d.alive(), "daemon died")


def limits(d, key):
    # max_identity_connections (2 here) counts delegated and native sessions of alice together.
    a1 = delegate(d, key, "alice")
    a2 = d.client("alice")
    a3 = delegate(d, key, "alice")
    e = a3.recv_message(5)
    check(e["type"] == "bus.error" and e["data"]["code"] == "quota", "third alice session got %r" % e)
    check(a3.wait_closed(3), "third alice session not closed")
    a1.ping()
    a2.ping()
    for c in (a1, a2, a3):
        c.close()
    # msg_rate applies per delegated session.
    s = delegate(d, key, "slow")
    for i in range(30):
        s.send("greet.x", {"i": i})
    codes = [m["data"]["code"] for m in s.drain(0.3) if m["type"] == "bus.error"]
    check("rate_limited" in codes, "30 messages at msg_rate 5 were not rate limited: %r" % codes)
    s.close()


def reload_revokes(d, key):
    a = delegate(d, key, "alice", flags=DFLAG_SUB_PERMITTED)
    native = d.client("alice")
    a.ping()
    d.write_manifest("alice", manifest("alice", ["greet.*"], ["news.*", "greet.*"]))
    start = len(d.log())
    d.signal(signal.SIGHUP)
    d.wait_log("policy_loaded", start=start)
    e = a.recv_message(5)
    check(e["type"] == "bus.error" and e["data"]["code"] == "revoked", "delegated session got %r" % e)
    check(a.wait_closed(3), "revoked delegated session not closed")
    native.ping()  # the native session of the same identity stays
    refused(d, key, "alice", DSTATUS_NOT_DELEGABLE)
    native.close()


def reserved(d):
    """"gateway" is reserved: no manifest of that name is installed or loaded."""
    path = os.path.join(d.dir, "gateway.json")
    with open(path, "w") as f:
        json.dump(manifest("gateway", ["greet.*"], ["news.*"], transports=BOTH), f)
    cp = d.admin("install", path)
    check(cp.returncode != 0 and "reserved" in cp.stderr, "install gateway.json: %d %r" % (cp.returncode, cp.stderr))
    d.write_manifest("gateway", manifest("gateway", ["*"], ["*"], transports=BOTH))
    start = len(d.log())
    d.signal(signal.SIGHUP)
    log = d.wait_log("policy_loaded", start=start)
    check("gateway.json" in log[start:] and "manifest_skipped" in log[start:], "gateway.json was not skipped")
    os.unlink(os.path.join(d.manifest_dir, "gateway.json"))


def modes():
    # No "gateway" object: off, even with the right key.
    with Daemon(manifests()) as d:
        key = gw_key(d)
        check("delegation=off" in d.log(), "ready line does not say delegation=off")
        refused(d, key, "alice", DSTATUS_REFUSED)
        check("reason=delegation_off" in d.log(), "no delegation_off reason")
        d.client("alice").ping()
    # A supervised gateway (the default) that does not run (a program that is not there): nobody's
    # cgroup matches.
    with Daemon(manifests(), gateway={"listen": ["127.0.0.1:18181"], "plain_loopback": True}) as d:
        key = gw_key(d)
        check("delegation=supervised" in d.log(), "ready line does not say delegation=supervised")
        refused(d, key, "alice", DSTATUS_REFUSED)
        check("reason=not_the_gateway_process" in d.log(), "no not_the_gateway_process reason")
    # A typo in the section is an error, not a silent default.
    with Daemon(manifests(), start=False, gateway={"supervise": "no"}) as d:
        try:
            d.start(timeout=5)
            raise AssertionError("gateway.supervise \"no\" accepted")
        except Exception as e:  # noqa: BLE001  TestFailure with the daemon's message
            check("gateway.supervise" in str(e), "error does not name gateway.supervise: %s" % e)


def main():
    modes()
    with Daemon(manifests(), gateway=DELEGATE) as d:
        key = gw_key(d)
        check("delegation=any" in d.log(), "ready line does not say delegation=any")
        # The log says why (rate-limited: checked here, before any flood of refusals).
        refused(d, os.urandom(32), "alice", DSTATUS_REFUSED)
        refused(d, key, "carol", DSTATUS_NOT_DELEGABLE, via=VIA_LOCAL, peer="cg:99")
        log = d.wait_log("reason=not_delegable")
        check('status=1 reason=wrong_gateway_proof gateway="gateway" id="alice" via=token' in log,
              "no wrong_gateway_proof line")
        check('status=2 reason=not_delegable gateway="gateway" id="carol" via=local peer="cg:99"' in log,
              "no not_delegable line")
        exchange_and_filtering(d, key)
        challenge(d, key)
        not_delegable(d, key)
        only_the_gateway(d, key)
        malformed(d, key)
        reserved(d)
        reload_revokes(d, key)
        check(d.alive(), "daemon died")
    with Daemon(manifests(), gateway=DELEGATE, max_identity_connections=2) as d:
        limits(d, gw_key(d))


if __name__ == "__main__":
    run_test(main)
