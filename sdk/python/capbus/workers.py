# SPDX-License-Identifier: MIT
"""Workers: the pool of threads that runs a Bus's handlers.

Jobs start in the order they were submitted, each on the first idle thread. With more than one
thread a handler may block (wait for another message, another handler's work, a reply) while the
next messages go on being handled: what OpenVoiceOS's get_response relies on. Threads start on
demand, up to `size`, and are daemon threads, so a handler that never returns cannot keep the
program alive. Trusts nothing: it only runs the callables the skill itself registered.
"""
import logging
import queue
import threading
from typing import Any, Callable, List

log = logging.getLogger("capbus")

_STOP = object()


class Workers:
    """A FIFO of jobs and up to `size` threads running them."""

    def __init__(self, size: int = 8, name: str = "capbus-handler"):
        if size < 1:
            raise ValueError("a worker pool needs at least one thread")
        self.size = size
        self._name = name
        self._jobs: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, job: Callable[[], Any]) -> None:
        """Runs job() on a worker thread; exceptions are logged, never raised here."""
        with self._lock:
            if self._closed:
                return
            if self._idle == 0 and len(self._threads) < self.size:
                t = threading.Thread(target=self._work, name="%s-%d" % (self._name, len(self._threads)),
                                     daemon=True)
                try:
                    t.start()
                    self._threads.append(t)
                except RuntimeError:  # a pids limit (a sandbox's cgroup): make do with what runs
                    self.size = max(1, len(self._threads))
                    log.warning("capbus: cannot start another handler thread; %d will do", len(self._threads))
            elif self._idle:
                self._idle -= 1  # an idle thread will take this job
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            try:
                job()
            except Exception:
                log.exception("capbus handler job failed")
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        """Lets the threads end once the jobs already submitted have run (does not wait)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            count = len(self._threads)
        for _ in range(count):
            self._jobs.put(_STOP)
