# SPDX-License-Identifier: MIT
"""capbus.ovos: OpenVoiceOS's MessageBusClient and Message, on a capbus connection.

    from capbus.ovos import MessageBusClient, Message   # instead of ovos_bus_client

    bus = MessageBusClient()        # in a capbus skill: the connection it inherits
    bus.run_in_thread()
    bus.connected_event.wait()
    bus.on("intent.weather.today", lambda m: bus.emit(m.reply("speak", {"utterance": "Sunny"})))

The same methods, events and Message rules a skill uses with ovos-bus-client; what differs is
what capbus does on purpose: the daemon delivers only what the skill subscribed to and its
manifest allows, wait_for_response takes only the reply the daemon binds to the request, and a
refusal is logged (and given to "error" listeners) instead of being silently dropped.
Trust: the skill's own code; the connection below is a capbus.Bus.
"""
import copy
import json
import logging
import os
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Union

from . import message as _message
from .client import DEFAULT_WORKERS, Bus
from .errors import AuthError, BusError, CapbusError, ClosedError, DeniedError, KeyFileError
from .workers import Workers

log = logging.getLogger("capbus")

# Events the client emits itself; never subscribed to on the bus.
LOCAL_EVENTS = frozenset(("open", "close", "reconnecting", "error", "message"))


def _plain(value: Any) -> Any:
    """value with every object that has serialize() (an OVOS Session, a Message) serialized,
    as OVOS's Message.serialize does, so that json can write it."""
    if hasattr(value, "serialize") and not isinstance(value, (dict, list, str)):
        try:
            return value.serialize()
        except Exception:  # not that kind of serialize(): leave it to json
            return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Message(_message.Message):
    """OpenVoiceOS's Message: msg_type (writable), data, context.

    forward() keeps the context itself (the same dict, as OVOS does); reply() and response()
    copy it, add the context given, take data["destination"] as the destination and swap
    "source" and "destination"; publish() copies it and drops "target".
    """

    __slots__ = ()

    def __init__(self, msg_type: str, data: Optional[dict] = None, context: Optional[dict] = None):
        data = data or {}
        context = context or {}
        if not isinstance(data, dict) or not isinstance(context, dict):
            raise TypeError("Message data and context are dicts")
        super().__init__(msg_type, data, context)

    @classmethod
    def of(cls, m: _message.Message) -> "Message":
        return m if isinstance(m, cls) else cls(m.type, m.data, m.context)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _message.Message):
            return False
        return (self.type, self.data, self.context) == (other.type, other.data, other.context)

    __hash__ = None  # mutable

    def serialize(self) -> str:
        return json.dumps({"type": self.type, "data": _plain(self.data), "context": _plain(self.context)},
                          ensure_ascii=False, separators=(",", ":"))

    @property
    def as_dict(self) -> dict:  # a property in OVOS
        return json.loads(self.serialize())

    @staticmethod
    def deserialize(value: Union[str, bytes, dict]) -> "Message":
        """A Message from JSON text (or a dict), as leniently as OVOS: missing parts are empty."""
        obj = json.loads(value) if isinstance(value, (str, bytes)) else value
        if not isinstance(obj, dict):
            raise ValueError("a serialized Message is a JSON object")
        return Message(obj.get("type") or "", obj.get("data") or {}, obj.get("context") or {})

    def forward(self, msg_type: str, data: Optional[dict] = None) -> "Message":
        return Message(msg_type, data or {}, self.context)

    def reply(self, msg_type: str, data: Optional[dict] = None, context: Optional[dict] = None) -> "Message":
        data = copy.deepcopy(data) or {}
        new_context = copy.deepcopy(self.context)
        new_context.update(context or {})
        if "destination" in data:
            new_context["destination"] = data["destination"]
        if "source" in new_context and "destination" in new_context:
            new_context["source"], new_context["destination"] = new_context["destination"], new_context["source"]
        return Message(msg_type, data, new_context)

    def response(self, data: Optional[dict] = None, context: Optional[dict] = None) -> "Message":
        return self.reply(self.type + ".response", data, context)

    def publish(self, msg_type: str, data: Optional[dict], context: Optional[dict] = None) -> "Message":
        new_context = dict(self.context)
        new_context.update(context or {})
        new_context.pop("target", None)
        return Message(msg_type, data, new_context)


class CollectionMessage(Message):
    """A request handled by an on_collect() handler: success(), failure() and extend() answer
    the collect_responses() that sent it."""

    __slots__ = ("handler_id", "query_id")

    def __init__(self, msg_type: str, handler_id: str, query_id: str, data: Optional[dict] = None,
                 context: Optional[dict] = None):
        super().__init__(msg_type, data, context)
        self.handler_id = handler_id
        self.query_id = query_id

    @classmethod
    def from_message(cls, message: Message, handler_id: str, query_id: str) -> "CollectionMessage":
        return cls(message.type, handler_id, query_id, message.data, message.context)

    def _answer(self, suffix: str, data: dict, context: Optional[dict] = None) -> Message:
        data = dict(data)
        data["query"], data["handler"] = self.query_id, self.handler_id
        return self.reply(self.type + suffix, data, context or self.context)

    def success(self, data: Optional[dict] = None, context: Optional[dict] = None) -> Message:
        return self._answer(".response", dict(data or {}, succeeded=True), context)

    def failure(self) -> Message:
        return self._answer(".response", {"succeeded": False})

    def extend(self, timeout: float) -> Message:
        return self._answer(".handling", {"timeout": timeout})


class _Listener:
    __slots__ = ("func", "once")

    def __init__(self, func: Callable[..., Any], once: bool):
        self.func = func
        self.once = once


class MessageBusClient:
    """OpenVoiceOS's MessageBusClient over a capbus connection.

    With no socket and key (and no $CAPBUS_KEY), the connection a capbus skill inherits; else
    the key file and socket, as capbus.Bus takes them. host, port, route, ssl, emitter, cache
    and session are OVOS's websocket settings, accepted so that code written for
    ovos-bus-client runs, and not used. Nothing connects before run_forever() or
    run_in_thread(); emit() waits for the connection as OVOS's does.
    """

    def __init__(self, host: Any = None, port: Any = None, route: Any = None, ssl: Any = None,
                 emitter: Any = None, cache: bool = False, session: Any = None, *,
                 socket: Optional[str] = None, key: Any = None, timeout: float = 10.0,
                 workers: int = DEFAULT_WORKERS):
        self.socket = socket
        self.key = key
        self.timeout = timeout
        self.retry = 5                 # seconds before reconnecting; doubles up to 60, as in OVOS
        self.connected_event = threading.Event()
        self.started_running = False
        self.session_id = "default"
        self.wrapped_funcs: Dict[Callable[..., Any], Callable[..., Any]] = {}
        self._workers = Workers(workers, name="capbus-ovos")
        self._lock = threading.Lock()          # the listener table
        self._sub_lock = threading.Lock()      # subscription changes, one at a time
        self._listeners: Dict[str, List[_Listener]] = {}
        self._relays: Dict[str, Callable[[Any], None]] = {}
        self._subscribed: Set[str] = set()
        self._bus: Optional[Bus] = None
        self._closing = threading.Event()

    # -- listeners -------------------------------------------------------------------------

    def on(self, event_name: str, func: Callable[..., Any]) -> None:
        """Calls func(message) for each message of type event_name (or a capbus pattern such
        as "weather.*"), on a worker thread; func(text) for "message"; func() for "open",
        "close", "reconnecting"; func(error) for "error". A type the manifest does not let the
        skill receive is logged and never arrives."""
        self._add(event_name, func, once=False)

    def once(self, event_name: str, func: Callable[..., Any]) -> None:
        """on(), for the next event only."""
        self._add(event_name, func, once=True)

    def _add(self, name: str, func: Callable[..., Any], once: bool) -> None:
        if not callable(func):
            raise TypeError("handler must be callable")
        with self._lock:
            self._listeners.setdefault(name, []).append(_Listener(func, once))
        self._sync_subscription(name)

    def remove(self, event_name: str, func: Callable[..., Any]) -> None:
        """Removes one registration of func (or of the on_collect() wrapper made for it)."""
        func = self.wrapped_funcs.pop(func, func)
        with self._lock:
            listeners = self._listeners.get(event_name, [])
            for i, listener in enumerate(listeners):
                if listener.func == func:
                    del listeners[i]
                    break
            else:
                log.debug("capbus.ovos: no %r listener for %s to remove", func, event_name)
                return
        self._sync_subscription(event_name)

    def remove_all_listeners(self, event_name: str) -> None:
        if event_name is None:
            raise ValueError("remove_all_listeners needs an event name")
        with self._lock:
            self._listeners.pop(event_name, None)
        self._sync_subscription(event_name)

    def _sync_subscription(self, name: str) -> None:
        """Subscribes the connection to name while it has listeners, unsubscribes after."""
        if name in LOCAL_EVENTS:
            return
        with self._sub_lock:
            bus = self._bus
            with self._lock:
                wanted = bool(self._listeners.get(name))
            if bus is None or wanted == (name in self._subscribed):
                return
            try:
                if wanted:
                    relay = self._relays.setdefault(name, lambda m, n=name: self._fire(n, Message.of(m)))
                    bus.on(name, relay)
                    self._subscribed.add(name)
                else:
                    self._subscribed.discard(name)
                    bus.remove(name, self._relays[name])
            except DeniedError as e:
                log.warning("capbus.ovos: %s will not be delivered: the skill's manifest does not allow "
                            "receiving it (%s)", name, e.message)
            except (ValueError, BusError) as e:
                log.warning("capbus.ovos: cannot subscribe to %r: %s", name, e)
            except CapbusError:  # the connection ended: the next one subscribes again
                pass

    def _fire(self, name: str, *args: Any) -> None:
        with self._lock:
            listeners = self._listeners.get(name, [])
            fired = list(listeners)
            listeners[:] = [listener for listener in listeners if not listener.once]
            emptied = bool(fired) and not listeners
        for listener in fired:
            try:
                listener.func(*args)
            except Exception:
                log.exception("capbus.ovos: handler %r for %s failed", listener.func, name)
        if emptied:  # the last once() listener has fired
            self._sync_subscription(name)

    def _fire_later(self, name: str, *args: Any) -> None:
        self._workers.submit(lambda: self._fire(name, *args))

    # -- sending and waiting ---------------------------------------------------------------

    def _connected_bus(self, wait: Optional[float] = 10.0) -> Optional[Bus]:
        if not self.connected_event.wait(wait):
            if not self.started_running:
                raise ValueError("You must execute run_forever() before emitting messages")
            self.connected_event.wait()
        return self._bus

    @staticmethod
    def _wire(message: _message.Message) -> _message.Message:
        return _message.Message(message.type, _plain(message.data), _plain(message.context))

    def emit(self, message: Message) -> None:
        """Sends message. Waits for the connection (up to 10 s, then ValueError if
        run_forever() was never called). A message the manifest refuses is logged, and given
        to the "error" listeners, when the daemon's refusal arrives."""
        bus = self._connected_bus()
        try:
            if bus is None:
                raise ClosedError("closed")
            bus.emit(self._wire(message))
        except ClosedError:
            log.warning("capbus.ovos: could not send %s: the connection is closed", message.msg_type)
        except (ValueError, TypeError):
            log.exception("capbus.ovos: failed to emit %s", message.msg_type)

    def wait_for_message(self, message_type: Union[str, Sequence[str]],
                         timeout: float = 3.0) -> Optional[Message]:
        """The next message of message_type (or of any type of a list), or None after timeout."""
        deadline = time.monotonic() + timeout
        if not self.connected_event.wait(timeout):
            return None
        try:
            m = self._bus.wait_for_message(message_type, max(0.0, deadline - time.monotonic()))
        except DeniedError as e:
            log.warning("capbus.ovos: cannot wait for %s: %s", message_type, e.message)
            return None
        except CapbusError:
            return None
        return Message.of(m) if m is not None else None

    def wait_for_response(self, message: Message, reply_type: Union[None, str, Sequence[str]] = None,
                          timeout: float = 3.0) -> Optional[Message]:
        """Sends message and returns its reply (of reply_type, default "<msg_type>.response",
        or of any type of a list), or None after timeout or when nobody could receive it.

        With one reply type this is a capbus call: only the reply the daemon binds to this
        request (from a receiver of it that answered with message.reply() or .response())
        counts. With several, the next message of any of them counts, as in OVOS."""
        if reply_type is None:
            types = [message.msg_type + ".response"]
        elif isinstance(reply_type, str):
            types = [reply_type]
        else:
            types = list(reply_type)
        bus = self._connected_bus()
        try:
            if bus is None:
                return None
            if len(types) == 1:
                return Message.of(bus.call(self._wire(message), types[0], timeout))
            m = bus.wait_for_message(types, timeout, send=self._wire(message))
            return Message.of(m) if m is not None else None
        except DeniedError as e:
            log.warning("capbus.ovos: no response to %s: %s", message.msg_type, e.message)
        except BusError as e:  # no_responder: nobody could receive it
            if e.code != "no_responder":
                log.warning("capbus.ovos: no response to %s: %s", message.msg_type, e)
        except CapbusError:  # TimeoutError, ClosedError
            pass
        return None

    def collect_responses(self, message: Message, min_timeout: float = 0.2, max_timeout: float = 3.0,
                          direct_return_func: Callable[[Message], Any] = lambda msg: False) -> List[Message]:
        """Sends message and collects the answers of every handler that acknowledged it (see
        on_collect): "<type>.handling" {query, handler, timeout} announces one,
        "<type>.response" {query, handler, ...} is its answer. Waits at least min_timeout for
        acknowledgements, then until every acknowledged handler answered, its timeout passed,
        max_timeout passed, or direct_return_func(answer) is true."""
        collect_id = str(uuid.uuid4())
        message.context["__collect_id__"] = collect_id
        cond = threading.Condition()
        deadlines: Dict[str, float] = {}
        answers: Dict[str, Message] = {}
        done = [False]

        def handling(m: Message) -> None:
            handler, extra = m.data.get("handler"), m.data.get("timeout")
            if m.data.get("query") != collect_id or not isinstance(handler, str):
                return
            with cond:
                extra = extra if isinstance(extra, (int, float)) and not isinstance(extra, bool) else 0
                deadlines[handler] = deadlines.get(handler, start) + extra  # extend() adds to it
                cond.notify_all()

        def response(m: Message) -> None:
            handler = m.data.get("handler")
            if m.data.get("query") != collect_id or not isinstance(handler, str):
                return
            with cond:
                answers[handler] = m
                deadlines.setdefault(handler, start)
                if direct_return_func(m):
                    done[0] = True
                cond.notify_all()

        base = message.msg_type
        start = time.monotonic()
        self.on(base + ".handling", handling)
        self.on(base + ".response", response)
        try:
            self.emit(message)
            end = start + max_timeout
            with cond:
                cond.wait_for(lambda: done[0], max(0.0, min(end, start + min_timeout) - time.monotonic()))
                while not done[0] and deadlines:
                    pending = [h for h in deadlines if h not in answers]
                    if not pending:
                        break
                    until = min(end, max(deadlines[h] for h in pending))
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    cond.wait(left)
                return list(answers.values())
        finally:
            self.remove(base + ".handling", handling)
            self.remove(base + ".response", response)

    def on_collect(self, event_name: str, func: Callable[[CollectionMessage], Any], timeout: float = 2) -> None:
        """Handles the requests of collect_responses(): acknowledges each at once (promising an
        answer within timeout seconds), then calls func(CollectionMessage), which answers with
        bus.emit(message.success(data)) or message.failure()."""
        def wrapper(m: Message) -> None:
            collect_id = m.context.get("__collect_id__")
            handler_id = str(uuid.uuid4())
            self.emit(m.reply(m.msg_type + ".handling",
                              {"query": collect_id, "handler": handler_id, "timeout": timeout}))
            func(CollectionMessage.from_message(m, handler_id, collect_id))
        self.wrapped_funcs[func] = wrapper
        self.on(event_name, wrapper)

    # -- the connection --------------------------------------------------------------------

    def _inherited(self) -> bool:
        return self.key is None and not os.environ.get("CAPBUS_KEY")

    def _attach(self, bus: Bus) -> None:
        bus.on_any(self._catch_all)
        bus.on_error(self._refused)
        with self._sub_lock:
            self._bus = bus
            self._subscribed = set()
        with self._lock:
            names = list(self._listeners)
        for name in names:
            self._sync_subscription(name)
        self.retry = 5
        self.connected_event.set()
        self._fire_later("open")

    def _catch_all(self, m: Any) -> None:
        if self._listeners.get("message"):  # serializing every message for nobody costs
            self._fire("message", Message.of(m).serialize())

    def _refused(self, error: BusError) -> None:
        log.warning("capbus.ovos: the daemon refused a message: %s (type %s)", error, error.type)
        self._fire("error", error)

    def run_forever(self) -> None:
        """Connects, emits "open", and handles messages until close(). When the daemon goes
        away it emits "close"; then, with a key file, waits self.retry seconds (5, doubling up
        to 60), emits "reconnecting" and connects again, subscribing every listener again;
        an inherited connection cannot be made again, so run_forever() returns. KeyFileError
        and AuthError are raised: retrying cannot help."""
        self.started_running = True
        try:
            self._run()
        finally:
            if self._closing.is_set():  # the "close" listeners still run
                self._workers.close()

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                bus = Bus(self.socket, self.key, timeout=self.timeout, workers=self._workers)
            except (KeyFileError, AuthError):
                raise
            except (OSError, CapbusError) as e:
                log.warning("capbus.ovos: cannot connect: %s", e)
                self._fire_later("error", e)
                if self._inherited():
                    return
            else:
                self._attach(bus)
                if self._closing.is_set():  # close() came while connecting
                    bus.close()
                try:
                    bus.run_forever()
                except CapbusError:
                    pass
                self.connected_event.clear()
                with self._sub_lock:
                    self._bus = None
                bus.close()
                self._fire_later("close")
                if self._inherited():
                    return
            if self._closing.wait(self.retry):
                return
            self.retry = min(self.retry * 2, 60)
            self._fire_later("reconnecting")

    def run_in_thread(self) -> threading.Thread:
        """run_forever() in a daemon thread, which it returns."""
        t = threading.Thread(target=self.run_forever, name="capbus-ovos-client", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        """Closes the connection; run_forever() returns after emitting "close"."""
        self._closing.set()
        self.connected_event.clear()
        bus = self._bus
        if bus is not None:
            bus.stop()
            bus.close()

    def __repr__(self) -> str:
        return "<capbus.ovos.MessageBusClient %s>" % ("connected" if self.connected_event.is_set() else "not connected")
