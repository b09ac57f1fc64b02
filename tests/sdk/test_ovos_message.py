#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbus.ovos.Message follows OpenVoiceOS's context rules: reply() and response() copy the
context, add the given one, take data["destination"] and swap source and destination; forward()
keeps the context itself; publish() drops "target"; msg_type is writable; serialize() writes
objects that have serialize() (an OVOS Session) and deserialize() is as lenient as OVOS's;
CollectionMessage answers collect_responses()."""
import json

from capbus_harness import check, run_test

from capbus.ovos import CollectionMessage, Message


class Session:
    def __init__(self, sid):
        self.sid = sid

    def serialize(self):
        return {"session_id": self.sid, "lang": "en-US"}


def main():
    ctx = {"source": "audio", "destination": ["skills"], "session": {"session_id": "s1"}, "skill_id": "x"}
    m = Message("intent.hello", {"utterance": "hi"}, ctx)

    r = m.reply("speak", {"utterance": "hello"}, {"extra": 1})
    check(r.msg_type == "speak" and r.data == {"utterance": "hello"}, "reply: %r" % r)
    check(r.context["source"] == ["skills"] and r.context["destination"] == "audio", "no swap: %r" % r.context)
    check(r.context["extra"] == 1 and r.context["session"] == {"session_id": "s1"}, "context: %r" % r.context)
    r.context["session"]["session_id"] = "changed"
    check(m.context["session"]["session_id"] == "s1", "reply() shares the context with the request")
    check(m.context["source"] == "audio", "reply() changed the request's context")

    r = m.reply("speak", {"destination": "gui"})
    check(r.context["destination"] == "audio" and r.context["source"] == "gui",
          "data destination not taken as OVOS does: %r" % r.context)
    data = {"nested": {"a": 1}}
    r = m.reply("x", data)
    data["nested"]["a"] = 2
    check(r.data["nested"]["a"] == 1, "reply() shares data")

    r = m.response({"ok": True})
    check(r.msg_type == "intent.hello.response" and r.context["destination"] == "audio", "response: %r" % r)
    check(Message("a", context={"source": "s"}).reply("b").context == {"source": "s"}, "swap with one side only")

    f = m.forward("intent.hello.handled", {"n": 1})
    check(f.context is m.context and f.data == {"n": 1}, "forward() must keep the context itself")
    check(m.forward("y").data == {}, "forward() data default")

    p = Message("a", {}, {"target": "t", "k": 1}).publish("b", {"d": 1}, {"k": 2})
    check(p.context == {"k": 2} and p.data == {"d": 1} and p.msg_type == "b", "publish: %r" % p)

    m.msg_type = "intent.bye"
    check(m.msg_type == "intent.bye" and m.type == "intent.bye", "msg_type not writable")
    check(json.loads(m.serialize())["type"] == "intent.bye", "serialize after msg_type change")

    s = Message("a.b", {"s": Session("abc"), "l": [Session("d")]}, {"session": Session("s9")}).serialize()
    check(json.loads(s) == {"type": "a.b", "data": {"s": {"session_id": "abc", "lang": "en-US"},
                                                    "l": [{"session_id": "d", "lang": "en-US"}]},
                            "context": {"session": {"session_id": "s9", "lang": "en-US"}}}, "serialize: %s" % s)
    back = Message.deserialize(Message("t", {"\u00e9": "\u2603"}, {"c": [1]}).serialize())
    check(back == Message("t", {"\u00e9": "\u2603"}, {"c": [1]}) and isinstance(back, Message), "round trip %r" % back)
    check(Message.deserialize('{"type": "x"}') == Message("x"), "lenient deserialize")
    check(Message.deserialize('{"data": null}').msg_type == "", "no type")
    check(Message("x").as_dict == {"type": "x", "data": {}, "context": {}}, "as_dict")
    check(Message("x") != "x" and Message("x", None, None) == Message("x", {}, {}), "equality")

    c = CollectionMessage.from_message(Message("q", {}, {"source": "a", "destination": "b"}), "h1", "c1")
    ok = c.success({"v": 1})
    check(ok.msg_type == "q.response" and ok.data == {"v": 1, "query": "c1", "handler": "h1", "succeeded": True},
          "success: %r" % ok)
    check(ok.context["source"] == "b", "success context: %r" % ok.context)
    check(c.failure().data["succeeded"] is False and c.extend(3).msg_type == "q.handling"
          and c.extend(3).data["timeout"] == 3, "failure/extend")


if __name__ == "__main__":
    run_test(main)
