# SPDX-License-Identifier: MIT
"""Bus: an authenticated capbus connection with a Mycroft-like API for skills; thread-safe.

    with Bus() as bus:                      # key from $CAPBUS_KEY, or the sandbox's connection
        bus.on("intent.weather.today", lambda m: bus.emit(m.reply("speak", {"utterance": "Sunny"})))
        bus.run_forever()

Threads: one reader thread per Bus reads every frame from the daemon. It answers waiting
threads itself (bus requests, calls, wait_for_message) and hands each delivered message to a
pool of worker threads (capbus.workers) that runs the handlers. So every method may be called
from any thread, handlers included, and a handler may wait for another message while other
handlers go on running. Trust: the daemon is authenticated by the handshake; every frame after
it is checked against its MAC, and what the daemon delivers is trusted as far as its stamps go
(context.sender, context.bound_call).
"""
import logging
import os
import select
import socket as socketlib
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Union

from . import keys, protocol
from .errors import AuthError, BusError, ClosedError, KeyFileError, ProtocolError, TimeoutError
from .message import Message
from .workers import Workers

Handler = Callable[[Message], Any]

log = logging.getLogger("capbus")

_MAX_PENDING_REFUSALS = 64
_CALL_TIMEOUT_MAX_MS = 300000  # the daemon's longest call deadline
DEFAULT_WORKERS = 8


class _Slot:
    """One answer a thread waits for: set once by the reader thread (or a failure), read once."""

    __slots__ = ("event", "value", "reply_type", "type")

    def __init__(self, reply_type: Optional[str] = None, mtype: Optional[str] = None):
        self.event = threading.Event()
        self.value: Any = None
        self.reply_type = reply_type  # what answers it (a bus request's or a call's reply type)
        self.type = mtype             # a call's request type (refusals name it)

    def set(self, value: Any) -> None:
        if not self.event.is_set():
            self.value = value
            self.event.set()

    def wait(self, deadline: Optional[float]) -> Any:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self.event.wait(left):
            raise TimeoutError("no answer from the daemon in time")
        return self.value


class _Reg:
    """One registration of a handler for a pattern. direct: run by the reader thread itself
    (only the SDK's own waiters, which set a _Slot and never block)."""

    __slots__ = ("handler", "once", "direct")

    def __init__(self, handler: Handler, once: bool = False, direct: bool = False):
        self.handler = handler
        self.once = once
        self.direct = direct


class Bus:
    """A connection to capbusd.

    Bus(socket=None, key=None): with a key file (key, else $CAPBUS_KEY) connect to socket (a
    path or "@name" for an abstract socket; else $CAPBUS_SOCKET, else /run/capbus/bus.sock).
    With no key, use the connection a sandboxed skill inherits: the connected socket in the
    descriptor $CAPBUS_FD and the key file text readable from $CAPBUS_KEY_FD.

    Raises KeyFileError (no usable key), OSError (socket unreachable), AuthError, TimeoutError
    or ProtocolError. timeout (seconds) bounds the handshake and each bus request. workers: how
    many threads run handlers at most (an int), or a capbus.workers.Workers to share.
    """

    def __init__(self, socket: Optional[str] = None, key: "Optional[os.PathLike[str] | str]" = None, *,
                 timeout: float = 10.0, workers: "Union[int, Workers]" = DEFAULT_WORKERS):
        self.timeout = timeout
        self._sock: Optional[socketlib.socket] = None
        self._frames = protocol.FrameReader()
        self._session: Optional[protocol.Session] = None
        self._send_lock = threading.Lock()   # sealing numbers frames: one writer at a time
        self._sub_lock = threading.Lock()    # subscribe/unsubscribe round trips, in order
        self._lock = threading.Lock()        # everything below; never held while waiting
        self._handlers: Dict[str, List[_Reg]] = {}
        self._any: List[Handler] = []
        self._subscriptions: Dict[str, int] = {}   # pattern -> registrations using it
        self._requests: Dict[int, _Slot] = {}
        self._calls: Dict[str, _Slot] = {}
        self._waiters: List[_Slot] = []            # wait_for_message
        self._refusals: Deque[BusError] = deque(maxlen=_MAX_PENDING_REFUSALS)
        self._error_handlers: List[Callable[[BusError], Any]] = []
        self._next_request = 0
        self._dispatched = 0
        self._failure: Optional[Exception] = None
        self._stopping = False
        self._reader_thread: Optional[threading.Thread] = None
        self._own_workers = not isinstance(workers, Workers)
        self._workers = Workers(workers) if self._own_workers else workers
        self._wake_r, self._wake_w = socketlib.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        try:
            self._connect(socket, key)
        except BaseException:
            self.close()
            raise
        self._sock.setblocking(True)
        self._reader_thread = threading.Thread(target=self._read_loop, name="capbus-reader", daemon=True)
        self._reader_thread.start()

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
        sock = self._sock
        if sock is None:
            raise self._failure or ClosedError("this bus connection is closed")
        return sock

    def _recv_frame(self, tagged: bool, deadline: Optional[float]):
        """The next frame; with a deadline (the handshake) by polling, else blocking (the reader)."""
        sock = self._live_socket()
        while True:
            frame = self._frames.next_frame(tagged)
            if frame is not None:
                return frame if tagged else frame[1]
            if deadline is not None:
                left = max(0, int((deadline - time.monotonic()) * 1000 + 0.999))
                poller = select.poll()
                poller.register(sock.fileno(), select.POLLIN)
                if not poller.poll(left):
                    raise TimeoutError("no answer from the daemon in time")
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                raise ClosedError("the daemon closed the connection")
            self._frames.feed(data)

    def _recv_message(self) -> Message:
        hdr, body, tag = self._recv_frame(True, None)
        self._session.open(hdr, body, tag)
        mtype, data, context = protocol.decode_message(body)
        return Message(mtype, data, context)

    def _send_body(self, body: bytes) -> None:
        if len(body) > protocol.MAX_FRAME:
            raise ValueError("message of %d bytes is larger than any daemon accepts" % len(body))
        with self._send_lock:
            sock = self._live_socket()
            try:
                sock.sendall(self._session.seal(body))
            except OSError:  # EPIPE, ECONNRESET, or close() shut the socket down
                raise self._failure or ClosedError("the daemon closed the connection") from None

    # -- the reader thread -----------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while True:
                self._route(self._recv_message())
        except (ClosedError, ProtocolError) as e:
            error: Exception = e
        except OSError:  # close() shut the socket down under us
            error = ClosedError("this bus connection is closed")
        except Exception as e:  # a bug here must not leave waiting threads hanging
            log.exception("capbus reader failed")
            error = ProtocolError("the capbus reader failed: %r" % e)
        # There is no way to resynchronise after a bad frame or EOF: the connection is over.
        self._end(error)

    def _route(self, m: Message) -> None:
        """Gives one frame to whoever waits for it, else to the handlers."""
        bound = m.context.get("bound_call")
        if m.type == "bus.error":
            error = BusError.from_data(m.data)
            with self._lock:
                if bound is not None:  # a call's failure; for a call given up, dropped
                    slot = self._calls.get(bound) if isinstance(bound, str) else None
                elif error.request is not None and error.request in self._requests:
                    slot = self._requests.pop(error.request)
                else:
                    # Refused before it became a call (rate limit, send permission): the
                    # refusal names the type; the oldest call of that type still waiting takes it.
                    slot = next((c for c in self._calls.values()
                                 if c.type == error.type and not c.event.is_set()), None)
            if slot is not None:
                slot.set(error)
            elif bound is None:
                self._note_refusal(error)
            return
        if m.type.startswith("capbus."):  # a bus request's answer; a late one is dropped
            number = m.data.get("request")
            with self._lock:
                slot = (self._requests.pop(number, None)
                        if isinstance(number, int) and not isinstance(number, bool) else None)
            if slot is not None and m.type == slot.reply_type:
                slot.set(m)
            return
        if isinstance(bound, str):
            with self._lock:
                slot = self._calls.get(bound)
            if slot is not None and m.type == slot.reply_type:
                slot.set(m)
                self._dispatch(m, subscribed=False)
                return
        self._dispatch(m)

    def _dispatch(self, m: Message, subscribed: bool = True) -> None:
        """Runs the SDK's waiters here and submits the handlers matching m as one job."""
        released: List[str] = []
        direct: List[_Reg] = []
        with self._lock:
            jobs: List[Handler] = list(self._any)
            for pattern, regs in (self._handlers.items() if subscribed else ()):
                if not protocol.pattern_matches(pattern, m.type):
                    continue
                for reg in list(regs):
                    if reg.direct:
                        direct.append(reg)
                        continue
                    if reg.once:  # claimed here, in arrival order, so it runs exactly once
                        regs.remove(reg)
                        released.append(pattern)
                    jobs.append(reg.handler)
            for pattern in released:
                if not self._handlers.get(pattern):
                    self._handlers.pop(pattern, None)
            if not jobs and not released and subscribed:  # a call's reply is no dispatch
                self._dispatched += 1
        for reg in direct:
            reg.handler(m)
        if jobs or released:
            self._workers.submit(lambda: self._run_handlers(m, jobs, released))
        else:
            self._wake()

    def _run_handlers(self, m: Message, handlers: List[Handler], released: List[str]) -> None:
        for handler in handlers:
            try:
                handler(m)
            except Exception:
                log.exception("capbus handler %r for %s failed", handler, m.type)
        for pattern in released:
            self._release(pattern)
        with self._lock:
            self._dispatched += 1
        self._wake()

    def _end(self, error: Exception) -> None:
        """The connection is over: every waiting thread gets error, run() raises it."""
        with self._lock:
            if self._failure is None:
                self._failure = error
            slots = list(self._requests.values()) + list(self._calls.values()) + self._waiters
            self._requests.clear()
        for slot in slots:
            slot.set(self._failure)
        with self._send_lock:  # not under a writer's feet: the descriptor could be reused
            sock, self._sock = self._sock, None
            if sock is not None:
                sock.close()
        self._wake()

    # -- refusals --------------------------------------------------------------------------

    def _note_refusal(self, error: BusError) -> None:
        with self._lock:
            if error.code == "revoked" and error.type in self._subscriptions:
                # The daemon dropped this subscription: forget it and its handlers, so that on()
                # asks again (and is refused) instead of waiting for messages that cannot come.
                del self._subscriptions[error.type]
                self._handlers.pop(error.type, None)
            handlers = list(self._error_handlers)
            if not handlers:
                self._refusals.append(error)
        if not handlers:  # nobody may ever call sync(): say it once
            log.warning("capbus refused a message: %s (type %s)", error, error.type)
            return

        def deliver() -> None:
            for handler in handlers:
                try:
                    handler(error)
                except Exception:
                    log.exception("capbus error handler %r failed", handler)
        self._workers.submit(deliver)

    def on_error(self, handler: Callable[[BusError], Any]) -> None:
        """Calls handler(error), on a worker thread, for each refusal of an earlier message (a
        denied send, a rate limit, a revoked subscription). Without one, refusals are logged and
        sync() raises them."""
        with self._lock:
            self._error_handlers.append(handler)

    # -- bus requests ----------------------------------------------------------------------

    def request(self, mtype: str, data: Optional[Dict[str, Any]] = None,
                timeout: Optional[float] = None) -> Message:
        """Sends a bus request ("capbus.ping", "capbus.skills", ...) and returns its answer.

        Raises BusError (DeniedError for "denied") when the daemon refuses this request,
        TimeoutError, ClosedError. Refusals of earlier messages are kept for sync().
        """
        if not mtype.startswith("capbus."):
            raise ValueError("bus requests have types capbus.*")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        slot = _Slot(mtype + ".reply")
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._next_request += 1
            number = self._next_request
            self._requests[number] = slot
        body = dict(data or {})
        body["request"] = number
        try:
            self._send_body(protocol.encode_message(mtype, body))
            answer = slot.wait(deadline)
        finally:
            with self._lock:
                self._requests.pop(number, None)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def sync(self, timeout: Optional[float] = None) -> None:
        """Round trip to the daemon: returns once everything sent before was processed.

        Raises the first refusal (DeniedError, BusError) the daemon sent since the last sync
        and not already given to an on_error handler; TimeoutError.
        """
        self.request("capbus.ping", timeout=timeout)
        with self._lock:
            error = self._refusals.popleft() if self._refusals else None
            self._refusals.clear()
        if error is not None:
            raise error

    def _acquire(self, pattern: str) -> None:
        with self._sub_lock:
            with self._lock:
                users = self._subscriptions.get(pattern, 0)
            if users == 0:
                self.request("capbus.subscribe", {"pattern": pattern})
            with self._lock:
                self._subscriptions[pattern] = self._subscriptions.get(pattern, 0) + 1

    def _release(self, pattern: str, count: int = 1) -> None:
        with self._sub_lock:
            with self._lock:
                users = self._subscriptions.get(pattern, 0) - count
                if users > 0:
                    self._subscriptions[pattern] = users
                    return
                subscribed = self._subscriptions.pop(pattern, None) is not None
                live = self._failure is None
            if not subscribed or not live:
                return
            try:
                self.request("capbus.unsubscribe", {"pattern": pattern})
            except (BusError, TimeoutError, ClosedError) as e:
                log.warning("capbus: unsubscribing %s failed: %s", pattern, e)

    # -- handlers --------------------------------------------------------------------------

    def _register(self, pattern: str, reg: _Reg) -> None:
        if not protocol.pattern_is_valid(pattern):
            raise ValueError("pattern %r: use a type, a prefix ending in '.*' or ':*', or '*'" % (pattern,))
        # Registered before subscribing, so nothing the daemon delivers after its answer is missed.
        with self._lock:
            self._handlers.setdefault(pattern, []).append(reg)
        try:
            self._acquire(pattern)
        except BaseException:
            self._unregister(pattern, reg)
            raise

    def _unregister(self, pattern: str, reg: _Reg) -> bool:
        with self._lock:
            regs = self._handlers.get(pattern, [])
            if reg not in regs:
                return False
            regs.remove(reg)
            if not regs:
                del self._handlers[pattern]
            return True

    def on(self, pattern: str, handler: Handler) -> None:
        """Calls handler(message), on a worker thread, for every delivered message matching
        pattern ("speak", "intent.weather.*", "*"). Subscribes with the daemon first: raises
        DeniedError when the manifest does not allow receiving everything the pattern matches."""
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._register(pattern, _Reg(handler))

    def once(self, pattern: str, handler: Handler) -> None:
        """Like on(), for the first matching message only (exactly once, whatever the threads)."""
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._register(pattern, _Reg(handler, once=True))

    def remove(self, pattern: str, handler: Handler) -> None:
        """Removes one registration of handler for pattern; unsubscribes when none is left."""
        with self._lock:
            # bound methods are new objects each time: compare with ==
            reg = next((r for r in self._handlers.get(pattern, []) if not r.direct and r.handler == handler), None)
        if reg is not None and self._unregister(pattern, reg):
            self._release(pattern)

    def remove_all_listeners(self, pattern: str) -> None:
        """Removes every handler for pattern and unsubscribes."""
        with self._lock:
            regs = self._handlers.get(pattern, [])
            gone = [r for r in regs if not r.direct]
            regs[:] = [r for r in regs if r.direct]
            if not regs:
                self._handlers.pop(pattern, None)
        if gone:
            self._release(pattern, len(gone))

    def on_any(self, handler: Handler) -> None:
        """Calls handler(message) for every message this connection receives: everything its
        subscriptions deliver and the replies to its calls. Subscribes to nothing."""
        with self._lock:
            self._any.append(handler)

    def remove_any(self, handler: Handler) -> None:
        with self._lock:
            if handler in self._any:
                self._any.remove(handler)

    def wait_for_message(self, patterns: "Union[str, Sequence[str]]", timeout: float = 3.0,
                         send: Optional[Message] = None) -> Optional[Message]:
        """Waits for the next delivered message matching a pattern (or any of a list of them)
        and returns it, or None after timeout seconds. Subscribes for the length of the wait
        (DeniedError as from on()). send: a message emitted once the subscriptions are in place,
        so its answer cannot be missed."""
        deadline = time.monotonic() + timeout
        slot = _Slot()
        reg = _Reg(slot.set, direct=True)
        done: List[str] = []
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._waiters.append(slot)
        try:
            for pattern in ([patterns] if isinstance(patterns, str) else list(patterns)):
                self._register(pattern, reg)
                done.append(pattern)
            if send is not None:
                self.emit(send)
            try:
                value = slot.wait(deadline)
            except TimeoutError:
                return None
        finally:
            with self._lock:
                self._waiters.remove(slot)
            for pattern in done:
                if self._unregister(pattern, reg):
                    self._release(pattern)
        if isinstance(value, Exception):
            raise value
        return value

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
        other messages of reply_type (unbound, or someone else's) go to the handlers.
        Raises DeniedError when the manifest forbids sending the request or receiving the
        reply, TimeoutError when no reply came in time, BusError with code "no_responder" when
        no connection could receive the request (or all that did have gone).
        """
        deadline = time.monotonic() + timeout
        reply_type = reply_type or message.type + ".response"
        if not protocol.type_is_valid(reply_type):
            raise ValueError("reply type %r is not a message type" % (reply_type,))
        call_id = os.urandom(8).hex()
        context = {k: v for k, v in message.context.items() if k != "bound_call"}
        context["call_id"] = call_id
        context["reply_type"] = reply_type
        left_ms = int((deadline - time.monotonic()) * 1000 + 0.999)
        context["call_timeout_ms"] = max(1, min(_CALL_TIMEOUT_MAX_MS, left_ms))
        slot = _Slot(reply_type, message.type)
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._calls[call_id] = slot
        try:
            self.emit(Message(message.type, message.data, context))
            try:
                answer = slot.wait(deadline)
            except TimeoutError:
                raise TimeoutError("no reply to %s in time" % message.type) from None
        finally:
            with self._lock:
                self._calls.pop(call_id, None)
        if isinstance(answer, BusError) and answer.code == "timeout":
            raise TimeoutError("no reply to %s in time (the daemon ended the call)" % message.type)
        if isinstance(answer, Exception):
            raise answer
        return answer

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

    # -- waiting ---------------------------------------------------------------------------

    def run(self, timeout: Optional[float] = None) -> int:
        """Waits timeout seconds (None: until stop() or the connection ends) while the worker
        threads run the handlers, and returns how many messages were handled meanwhile.
        Raises ClosedError (or the ProtocolError that ended it) once the connection is over."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            start = self._dispatched
        self._stopping = False
        while not self._stopping:
            if self._failure is not None:
                raise self._failure
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                ready, _, _ = select.select([self._wake_r], [], [], left)
                if ready:
                    while self._wake_r.recv(4096):
                        pass
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:  # the wake socket is gone: closed
                raise self._failure or ClosedError("this bus connection is closed") from None
        with self._lock:
            return self._dispatched - start

    def run_forever(self) -> None:
        """run() until stop() is called or the connection ends (then ClosedError)."""
        self.run(None)

    def stop(self) -> None:
        """Makes run()/run_forever() return; safe from any thread and from a signal handler."""
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:  # full (a wake-up is pending anyway) or closed
            pass

    # -- lifetime --------------------------------------------------------------------------

    @property
    def id(self) -> Optional[str]:
        """The authenticated identity of this connection."""
        session = self._session
        return session.id if session else None

    @property
    def closed(self) -> bool:
        return self._sock is None

    def fileno(self) -> int:
        """The connection's socket (the reader thread reads it: do not read it yourself)."""
        return self._live_socket().fileno()

    def close(self) -> None:
        """Closes the connection (idempotent, from any thread). The daemon drops its
        subscriptions; threads waiting on this Bus get ClosedError."""
        with self._lock:
            if self._failure is None:
                self._failure = ClosedError("this bus connection is closed")
            self._subscriptions.clear()
        reader = self._reader_thread
        sock = self._sock
        if sock is not None and reader is not None and reader is not threading.current_thread():
            try:
                sock.shutdown(socketlib.SHUT_RDWR)  # wakes the reader out of recv()
            except OSError:
                pass
            reader.join(5)
        self._end(self._failure)
        if self._own_workers:
            self._workers.close()

    def __enter__(self) -> "Bus":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<capbus.Bus id=%r %s>" % (self.id, "closed" if self.closed else "open")
