# SPDX-License-Identifier: MIT
"""Bus: an authenticated capbus connection with a Mycroft-like API for skills.

    with Bus() as bus:                      # key from $CAPBUS_KEY, or the sandbox's connection
        bus.on("intent.weather.today", lambda m: bus.emit(m.reply("speak", {"utterance": "Sunny"})))
        bus.run_forever()

Threads: handlers run in the thread that calls run()/run_forever(). emit(), send() and stop()
may be called from any thread; everything that waits for the daemon (on, remove, sync,
wait_for_response, call, request, run) belongs to one thread at a time, normally that one, and
a second thread trying it gets RuntimeError.
"""
import contextlib
import logging
import os
import select
import socket as socketlib
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

from . import keys, protocol
from .errors import AuthError, BusError, ClosedError, KeyFileError, ProtocolError, TimeoutError
from .message import Message

Handler = Callable[[Message], Any]

log = logging.getLogger("capbus")

_MAX_PENDING_REFUSALS = 64
_CALL_TIMEOUT_MAX_MS = 300000  # the daemon's longest call deadline


class _Woken(Exception):
    """stop() interrupted a wait in run()."""


class Bus:
    """A connection to capbusd.

    Bus(socket=None, key=None): with a key file (key, else $CAPBUS_KEY) connect to socket (a
    path or "@name" for an abstract socket; else $CAPBUS_SOCKET, else /run/capbus/bus.sock).
    With no key, use the connection a sandboxed skill inherits: the connected socket in the
    descriptor $CAPBUS_FD and the key file text readable from $CAPBUS_KEY_FD.

    Raises KeyFileError (no usable key), OSError (socket unreachable), AuthError, TimeoutError
    or ProtocolError. timeout (seconds) bounds the handshake and each bus request.
    """

    def __init__(self, socket: Optional[str] = None, key: "Optional[os.PathLike[str] | str]" = None, *,
                 timeout: float = 10.0):
        self.timeout = timeout
        self._sock: Optional[socketlib.socket] = None
        self._reader = protocol.FrameReader()
        self._session: Optional[protocol.Session] = None
        self._send_lock = threading.Lock()
        self._handlers: Dict[str, List[Handler]] = {}
        self._subscriptions: Dict[str, int] = {}   # pattern -> users (handlers, waiting calls)
        self._queue: Deque[Message] = deque()      # delivered while waiting for something else
        self._refusals: Deque[BusError] = deque(maxlen=_MAX_PENDING_REFUSALS)
        self._error_handlers: List[Callable[[BusError], Any]] = []
        self._next_request = 0
        self._stopping = False
        self._reader_thread: Optional[int] = None  # the thread inside a call that reads
        self._reader_depth = 0
        self._wake_r, self._wake_w = socketlib.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        try:
            self._connect(socket, key)
        except BaseException:
            self.close()
            raise

    # -- connecting ------------------------------------------------------------------------

    def _connect(self, socket_name: Optional[str], key: "Optional[os.PathLike[str] | str]") -> None:
        if key is None:
            key = os.environ.get("CAPBUS_KEY") or None
        if key is not None:
            ident, secret = keys.read_key_file(key)
            name = socket_name or os.environ.get("CAPBUS_SOCKET") or protocol.DEFAULT_SOCKET
            sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
            self._sock = sock
            sock.connect(protocol.socket_address(name))
        else:
            bus_fd, key_fd = keys.env_fd("CAPBUS_FD"), keys.env_fd("CAPBUS_KEY_FD")
            if bus_fd is None or key_fd is None:
                raise KeyFileError("no key file (key=..., $CAPBUS_KEY) and no inherited bus connection "
                                   "($CAPBUS_FD, $CAPBUS_KEY_FD): pass the key file of this skill")
            os.set_inheritable(key_fd, False)
            ident, secret = keys.read_key_fd(key_fd, where="inherited key (fd %d)" % key_fd)
            os.set_inheritable(bus_fd, False)
            self._sock = socketlib.socket(fileno=bus_fd)
        self._handshake(ident, secret)

    def _handshake(self, ident: str, secret: bytes) -> None:
        deadline = time.monotonic() + self.timeout
        hs = protocol.ClientHandshake(ident, secret)
        try:
            hello = self._recv_frame(False, deadline)
            auth = hs.auth(hello)
            self._sock.sendall(protocol.header(len(auth)) + auth)
            self._session = hs.finish(self._recv_frame(False, deadline))
        except (ClosedError, BrokenPipeError, ConnectionResetError):
            raise AuthError("the daemon closed the connection during authentication: "
                            "wrong key or unknown identity %r" % ident) from None
        finally:
            hs.key = b""

    # -- bytes -----------------------------------------------------------------------------

    def _live_socket(self) -> socketlib.socket:
        if self._sock is None:
            raise ClosedError("this bus connection is closed")
        return self._sock

    def _fail(self, error: Exception) -> Exception:
        """Closes the connection after a protocol error or EOF (there is no way to resynchronise)."""
        self.close()
        return error

    def _recv_frame(self, tagged: bool, deadline: Optional[float], wakeable: bool = False):
        sock = self._live_socket()
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        if wakeable:
            poller.register(self._wake_r.fileno(), select.POLLIN)
        while True:
            try:
                frame = self._reader.next_frame(tagged)
            except ProtocolError as e:
                raise self._fail(e) from None
            if frame is not None:
                return frame if tagged else frame[1]
            if wakeable and self._stopping:
                raise _Woken()
            left = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000 + 0.999))
            events = poller.poll(left)
            if not events:
                raise TimeoutError("no answer from the daemon in time")
            if wakeable and any(fd == self._wake_r.fileno() for fd, _ in events):
                self._drain_wake()
                continue
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                raise self._fail(ClosedError("the daemon closed the connection"))
            self._reader.feed(data)

    def _recv_message(self, deadline: Optional[float], wakeable: bool = False) -> Message:
        hdr, body, tag = self._recv_frame(True, deadline, wakeable)
        try:
            self._session.open(hdr, body, tag)
            mtype, data, context = protocol.decode_message(body)
        except ProtocolError as e:
            raise self._fail(e) from None
        return Message(mtype, data, context)

    def _send_body(self, body: bytes) -> None:
        if len(body) > protocol.MAX_FRAME:
            raise ValueError("message of %d bytes is larger than any daemon accepts" % len(body))
        with self._send_lock:
            sock = self._live_socket()
            try:
                sock.sendall(self._session.seal(body))
            except (BrokenPipeError, ConnectionResetError):
                raise ClosedError("the daemon closed the connection") from None

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Marks a call that reads from the socket; two threads must never do that at once."""
        me = threading.get_ident()
        with self._send_lock:
            if self._reader_thread not in (None, me):
                raise RuntimeError("another thread is already waiting on this Bus (in run, sync, on, "
                                   "remove or wait_for_response); use one thread, or one Bus per thread")
            self._reader_thread = me
            self._reader_depth += 1
        try:
            yield
        finally:
            with self._send_lock:
                self._reader_depth -= 1
                if self._reader_depth == 0:
                    self._reader_thread = None

    # -- refusals --------------------------------------------------------------------------

    def _note_refusal(self, error: BusError, in_run: bool = False) -> None:
        if error.code == "revoked" and error.type in self._subscriptions:
            # The daemon dropped this subscription: forget it and its handlers, so that on()
            # asks again (and is refused) instead of waiting for messages that cannot come.
            del self._subscriptions[error.type]
            self._handlers.pop(error.type, None)
        if in_run and not self._error_handlers:  # nobody may ever call sync(): say it once
            log.warning("capbus refused a message: %s (type %s)", error, error.type)
        self._refusals.append(error)

    def _deliver_refusals(self) -> None:
        while self._error_handlers and self._refusals:
            error = self._refusals.popleft()
            for handler in list(self._error_handlers):
                try:
                    handler(error)
                except Exception:
                    log.exception("capbus error handler %r failed", handler)

    def _next_delivery(self, deadline: Optional[float], wakeable: bool = False) -> Message:
        """The next ordinary message from the socket; refusals are noted on the way."""
        while True:
            m = self._recv_message(deadline, wakeable)
            if m.type == "bus.error":
                if "bound_call" not in m.context:  # else the daemon's late answer to a call given up
                    self._note_refusal(BusError.from_data(m.data), in_run=wakeable)
            elif not m.type.startswith("capbus."):  # a late answer to a request that timed out
                return m

    # -- bus requests ----------------------------------------------------------------------

    def request(self, mtype: str, data: Optional[Dict[str, Any]] = None,
                timeout: Optional[float] = None) -> Message:
        """Sends a bus request ("capbus.ping", "capbus.skills", ...) and returns its answer.

        Raises BusError (DeniedError for "denied") when the daemon refuses this request, and
        TimeoutError. Refusals of earlier messages seen meanwhile are kept for sync().
        """
        if not mtype.startswith("capbus."):
            raise ValueError("bus requests have types capbus.*")
        with self._send_lock:
            self._next_request += 1
            number = self._next_request
        body = dict(data or {})
        body["request"] = number
        with self._reading():
            self._send_body(protocol.encode_message(mtype, body))
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                m = self._recv_message(deadline)
                req = m.data.get("request")
                ours = isinstance(req, int) and not isinstance(req, bool) and req == number
                if m.type == "bus.error":
                    error = BusError.from_data(m.data)
                    if ours:
                        raise error
                    if "bound_call" not in m.context:  # else a late answer to a call given up
                        self._note_refusal(error)
                elif ours and m.type == mtype + ".reply":
                    return m
                elif not m.type.startswith("capbus."):
                    self._queue.append(m)

    def sync(self, timeout: Optional[float] = None) -> None:
        """Round trip to the daemon: returns once everything sent before was processed.

        Raises the first refusal (DeniedError, BusError) the daemon sent since the last sync
        and not already given to an on_error handler; TimeoutError.
        """
        self.request("capbus.ping", timeout=timeout)
        if self._refusals:
            error = self._refusals.popleft()
            self._refusals.clear()
            raise error

    def _acquire(self, pattern: str) -> None:
        if not protocol.pattern_is_valid(pattern):
            raise ValueError("pattern %r: use a type, a prefix ending in '.*' or ':*', or '*'" % (pattern,))
        if self._subscriptions.get(pattern, 0) == 0:
            self.request("capbus.subscribe", {"pattern": pattern})
        self._subscriptions[pattern] = self._subscriptions.get(pattern, 0) + 1

    def _release(self, pattern: str) -> None:
        users = self._subscriptions.get(pattern, 0) - 1
        if users > 0:
            self._subscriptions[pattern] = users
            return
        self._subscriptions.pop(pattern, None)
        if self._sock is None:
            return
        try:
            self.request("capbus.unsubscribe", {"pattern": pattern})
        except (BusError, TimeoutError) as e:
            log.warning("capbus: unsubscribing %s failed: %s", pattern, e)

    # -- handlers --------------------------------------------------------------------------

    def on(self, pattern: str, handler: Handler) -> None:
        """Calls handler(message) for every delivered message matching pattern ("speak",
        "intent.weather.*", "*"). Subscribes with the daemon first: raises DeniedError when
        the manifest does not allow receiving everything the pattern matches."""
        if not callable(handler):
            raise TypeError("handler must be callable")
        if not self._handlers.get(pattern):
            self._acquire(pattern)
            self._handlers[pattern] = []
        self._handlers[pattern].append(handler)

    def once(self, pattern: str, handler: Handler) -> None:
        """Like on(), for the first matching message only."""
        def wrapper(message: Message) -> Any:
            self.remove(pattern, wrapper)
            return handler(message)
        wrapper._capbus_handler = handler  # type: ignore[attr-defined]  (lets remove() find it)
        self.on(pattern, wrapper)

    def remove(self, pattern: str, handler: Handler) -> None:
        """Removes one registration of handler for pattern; unsubscribes when none is left."""
        handlers = self._handlers.get(pattern)
        if not handlers:
            return
        for i, h in enumerate(handlers):
            if h == handler or getattr(h, "_capbus_handler", None) == handler:  # bound methods: ==
                del handlers[i]
                break
        else:
            return
        if not handlers:
            del self._handlers[pattern]
            self._release(pattern)

    def remove_all_listeners(self, pattern: str) -> None:
        """Removes every handler for pattern and unsubscribes."""
        if self._handlers.pop(pattern, None):
            self._release(pattern)

    def on_error(self, handler: Callable[[BusError], Any]) -> None:
        """Calls handler(error) from run() for each refusal of an earlier message (a denied
        send, a rate limit, a revoked subscription). Without one, refusals are logged and
        sync() raises them."""
        self._error_handlers.append(handler)

    # -- sending ---------------------------------------------------------------------------

    def emit(self, message: Message) -> None:
        """Sends a message. Returns once written: a refusal arrives later (see sync, on_error).
        ValueError for an invalid type, TypeError or ValueError for data that is not JSON.
        A message above the daemon's max_frame (default 64 KiB) costs the connection."""
        self._send_body(protocol.encode_message(message.type, message.data, message.context))

    def send(self, type: str, data: Optional[Dict[str, Any]] = None,  # noqa: A002
             context: Optional[Dict[str, Any]] = None) -> None:
        """emit(Message(type, data, context))."""
        self.emit(Message(type, data, context))

    def call(self, message: Message, reply_type: Optional[str] = None, timeout: float = 3.0) -> Message:
        """Sends message as a call and returns its reply (type reply_type, default "<type>.response").

        The daemon binds the call to this connection, as D-Bus does method calls: a fresh
        context.call_id (with reply_type and call_timeout_ms) goes with the request, the daemon
        accepts one reply of reply_type from a connection the request reached and delivers it
        here alone, marked context.bound_call == our call_id. Only such a reply is returned;
        other messages of reply_type (unbound, or someone else's) are left for handlers.
        Raises DeniedError when the manifest forbids sending the request or receiving the
        reply, TimeoutError when no reply came in time, BusError with code "no_responder" when
        no connection could receive the request (or all that did have gone).
        """
        deadline = time.monotonic() + timeout
        with self._reading():
            return self._call(message, reply_type or message.type + ".response", deadline)

    def _call(self, message: Message, reply_type: str, deadline: float) -> Message:
        if not protocol.type_is_valid(reply_type):
            raise ValueError("reply type %r is not a message type" % (reply_type,))
        call_id = os.urandom(8).hex()
        context = {k: v for k, v in message.context.items() if k != "bound_call"}
        context["call_id"] = call_id
        context["reply_type"] = reply_type
        left_ms = int((deadline - time.monotonic()) * 1000 + 0.999)
        context["call_timeout_ms"] = max(1, min(_CALL_TIMEOUT_MAX_MS, left_ms))
        self.emit(Message(message.type, message.data, context))
        while True:
            m = self._recv_message(deadline)
            bound = m.context.get("bound_call") == call_id
            if m.type == "bus.error":
                error = BusError.from_data(m.data)
                if bound and error.code == "timeout":
                    raise TimeoutError("no reply to %s in time (the daemon ended the call)" % message.type)
                if bound or ("bound_call" not in m.context and error.type == message.type):
                    raise error  # ours, or refused before it became a call (rate limit, denied send)
                if "bound_call" not in m.context:  # a late answer to an earlier call is no refusal
                    self._note_refusal(error)
            elif bound and m.type == reply_type:
                return m
            elif not m.type.startswith("capbus."):  # not a late answer to a timed-out request
                self._queue.append(m)

    def wait_for_response(self, message: Message, reply_type: Optional[str] = None,
                          timeout: float = 3.0) -> Optional[Message]:
        """As in Mycroft: call(), but None instead of TimeoutError when no reply came in time
        or nobody could answer (code "no_responder")."""
        try:
            return self.call(message, reply_type, timeout)
        except TimeoutError:
            return None
        except BusError as e:
            if e.code == "no_responder":
                return None
            raise

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, message: Message) -> None:
        for pattern, handlers in list(self._handlers.items()):
            if not protocol.pattern_matches(pattern, message.type):
                continue
            for handler in list(handlers):
                try:
                    handler(message)
                except Exception:
                    log.exception("capbus handler %r for %s failed", handler, message.type)

    def run(self, timeout: Optional[float] = None) -> int:
        """Dispatches delivered messages to their handlers for timeout seconds (None: until
        stop() or the connection ends; 0: only what has already arrived). Returns how many
        messages were dispatched. Raises ClosedError when the daemon closes the connection."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._reading():
            return self._run(deadline)

    def _run(self, deadline: Optional[float]) -> int:
        self._stopping = False
        self._drain_wake()
        count = 0
        while not self._stopping:
            self._deliver_refusals()
            if self._queue:
                m = self._queue.popleft()
            else:
                try:
                    m = self._next_delivery(deadline, wakeable=True)
                except (TimeoutError, _Woken):
                    break
            self._dispatch(m)
            count += 1
        self._deliver_refusals()
        return count

    def run_forever(self) -> None:
        """run() until stop() is called or the connection ends (then ClosedError)."""
        self.run(None)

    def stop(self) -> None:
        """Makes run()/run_forever() return after the current handler; safe from any thread
        and from a signal handler."""
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(64):
                pass
        except OSError:
            pass

    # -- lifetime --------------------------------------------------------------------------

    @property
    def id(self) -> Optional[str]:
        """The authenticated identity of this connection."""
        return self._session.id if self._session else None

    @property
    def closed(self) -> bool:
        return self._sock is None

    def fileno(self) -> int:
        """The socket, to poll for input in another event loop; then call run(0) (frames may
        already be buffered, so call run(0) after every sync or request too)."""
        return self._live_socket().fileno()

    def close(self) -> None:
        """Closes the connection (idempotent). The daemon drops its subscriptions."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self._session = None
        self._subscriptions.clear()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> "Bus":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<capbus.Bus id=%r %s>" % (self.id, "closed" if self.closed else "open")
