# SPDX-License-Identifier: MIT
"""Message: one Mycroft-shaped bus message ({"type", "data", "context"}).

The same shape and helpers as Mycroft's Message, so skill code ports unchanged. The daemon
stamps context["sender"] with the sender's authenticated identity on every delivered message;
what a client writes there is replaced, so it is the only field of context worth trusting.
"""
import copy
import json
from typing import Any, Dict, Optional

from . import protocol


class Message:
    """A bus message.

    type: "speak", "intent.weather.today", "recognizer_loop:utterance" ...
    data: the payload (a dict of JSON values).
    context: routing information carried along a conversation (call_id, session ...).
    """

    __slots__ = ("type", "data", "context")

    def __init__(self, type: str, data: Optional[Dict[str, Any]] = None,  # noqa: A002  (Mycroft's name)
                 context: Optional[Dict[str, Any]] = None):
        self.type = type
        self.data: Dict[str, Any] = data if data is not None else {}
        self.context: Dict[str, Any] = context if context is not None else {}

    @property
    def msg_type(self) -> str:
        """Mycroft's name for type (writable, as in OpenVoiceOS)."""
        return self.type

    @msg_type.setter
    def msg_type(self, value: str) -> None:
        self.type = value

    @property
    def sender(self) -> Optional[str]:
        """The authenticated identity of the sender (set by the daemon), or None if not delivered."""
        s = self.context.get("sender")
        return s if isinstance(s, str) else None

    def serialize(self) -> str:
        """The message as compact JSON text (what goes on the wire)."""
        return protocol.encode_message(self.type, self.data, self.context).decode("utf-8")

    @staticmethod
    def deserialize(text: str) -> "Message":
        """A Message from JSON text; capbus.ProtocolError when it is not a valid message."""
        mtype, data, context = protocol.decode_message(text.encode("utf-8"))
        return Message(mtype, data, context)

    def reply(self, type: str, data: Optional[Dict[str, Any]] = None,  # noqa: A002
              context: Optional[Dict[str, Any]] = None) -> "Message":
        """A new message answering this one: the context is copied (so call_id and session
        travel back), updated with context, and "source"/"destination" are swapped as Mycroft
        does. The old "sender" is dropped: the daemon stamps ours."""
        new_context = copy.deepcopy(self.context)
        new_context.pop("sender", None)
        new_context.update(context or {})
        if "source" in new_context and "destination" in new_context:
            new_context["source"], new_context["destination"] = new_context["destination"], new_context["source"]
        return Message(type, data if data is not None else {}, new_context)

    def response(self, data: Optional[Dict[str, Any]] = None,
                 context: Optional[Dict[str, Any]] = None) -> "Message":
        """The reply of type "<type>.response" (what wait_for_response waits for by default)."""
        return self.reply(self.type + ".response", data, context)

    def forward(self, type: str, data: Optional[Dict[str, Any]] = None) -> "Message":  # noqa: A002
        """A new message with this one's context unchanged (except "sender")."""
        new_context = copy.deepcopy(self.context)
        new_context.pop("sender", None)
        return Message(type, data if data is not None else {}, new_context)

    def as_dict(self) -> Dict[str, Any]:
        return {"type": self.type, "data": self.data, "context": self.context}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.type, self.data, self.context) == (other.type, other.data, other.context)

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return "Message(%r, %s, %s)" % (self.type, json.dumps(self.data, ensure_ascii=False)[:200],
                                        json.dumps(self.context, ensure_ascii=False)[:200])
