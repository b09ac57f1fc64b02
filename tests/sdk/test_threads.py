#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bus from many threads at once, through a real daemon: handlers run on worker threads, a
handler that waits for a message another handler receives does not deadlock (OpenVoiceOS's
get_response), a handler may make a call, and emit, call, on/remove, sync and wait_for_message
run from many threads at once with every answer reaching the thread that asked for it, and
close() from one thread ends the waits of the others."""
import threading
import time

from capbus_harness import Daemon, check, manifest, run_test

from capbus import Bus, ClosedError, Message

THREADS = 8
CALLS = 15


def test_handler_threads(asker, helper):
    seen = []
    done = threading.Event()

    def handler(m):
        seen.append(threading.current_thread())
        done.set()
    asker.on("job.ping", handler)
    helper.send("job.ping")
    check(done.wait(5), "job.ping never handled")
    check(seen[0] is not threading.main_thread() and seen[0].name.startswith("capbus-handler"),
          "handler ran on %r" % seen[0])
    asker.remove("job.ping", handler)


def test_handler_waits_for_handler(asker, helper):
    """One handler waits inside itself for what a second handler receives, then makes a call:
    with handlers run one at a time this deadlocks (the second never runs)."""
    answer = threading.Event()
    heard = []
    result = {}

    def asked(m):
        helper.send("job.question", {"q": "name?"})   # the helper answers with job.answer
        result["waited"] = answer.wait(5)
        result["call"] = asker.wait_for_response(Message("work.add", {"a": 1, "b": 2}), timeout=5)
        result["done"] = True

    def answered(m):
        heard.append(m.data.get("text"))
        answer.set()

    asker.on("job.ask", asked)
    asker.on("job.answer", answered)
    helper.send("job.ask")
    deadline = time.monotonic() + 10
    while "done" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    check(result.get("waited") is True and heard == ["Ada"], "the waiting handler never heard: %r %r" % (result, heard))
    check(result.get("call") is not None and result["call"].data == {"sum": 3}, "call from a handler: %r" % result)


def test_many_threads(asker, d):
    """THREADS threads each make CALLS calls, subscribe and unsubscribe, sync and wait for a
    message, all at once on one Bus."""
    errors, replies = [], []
    barrier = threading.Barrier(THREADS)

    def worker(n):
        try:
            barrier.wait(5)
            for i in range(CALLS):
                r = asker.call(Message("work.add", {"a": n, "b": i}), timeout=10)
                if r.data != {"sum": n + i} or r.sender != "helper":
                    errors.append("thread %d call %d got %r" % (n, i, r))
                replies.append(r)
                if i % 5 == 0:
                    got = []
                    pattern = "tick.%d" % n
                    asker.on(pattern, got.append)
                    asker.remove(pattern, got.append)
                    asker.sync(timeout=10)
            m = asker.wait_for_message("tick.%d" % n, timeout=10,
                                       send=Message("work.tick", {"n": n}))
            if m is None or m.data.get("n") != n:
                errors.append("thread %d wait_for_message got %r" % (n, m))
        except Exception as e:  # reported below
            errors.append("thread %d: %r" % (n, e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        check(not t.is_alive(), "a thread is stuck")
    check(not errors, "errors: %s" % errors[:5])
    check(len(replies) == THREADS * CALLS, "%d replies" % len(replies))


def test_once_under_load(asker, helper):
    got = []
    asker.once("burst.item", got.append)
    every = []
    asker.on("burst.item", every.append)
    for i in range(50):
        helper.send("burst.item", {"i": i})
    deadline = time.monotonic() + 10
    while len(every) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    check(len(every) == 50, "%d of 50 burst messages" % len(every))
    check(len(got) == 1 and got[0].data == {"i": 0}, "once() got %r" % [m.data for m in got])


def test_close_wakes_waiters(d):
    """close() from one thread ends the waits of all others at once, with ClosedError."""
    bus = Bus(d.socket, d.keygen("asker"))
    outcome = {}

    def waiting(name, fn):
        t0 = time.monotonic()
        try:
            fn()
            outcome[name] = "returned"
        except ClosedError:
            outcome[name] = time.monotonic() - t0
        except Exception as e:
            outcome[name] = repr(e)

    threads = [threading.Thread(target=waiting, args=a) for a in (
        ("message", lambda: bus.wait_for_message("job.never", timeout=30)),
        ("call", lambda: bus.call(Message("work.slow"), timeout=30)),
        ("run", lambda: bus.run(30)))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    bus.close()
    for t in threads:
        t.join(10)
    check(all(isinstance(v, float) and v < 5 for v in outcome.values()) and len(outcome) == 3,
          "waits after close(): %r" % outcome)
    try:
        bus.emit(Message("job.x"))
        raise AssertionError("emit() on a closed Bus")
    except ClosedError:
        pass


def main():
    with Daemon({"asker": manifest("asker", ["work.*", "job.*"], ["job.*", "tick.*", "burst.*", "work.*"]),
                 "helper": manifest("helper", ["job.*", "work.*", "tick.*", "burst.*"], ["job.*", "work.*"])}) as d:
        with Bus(d.socket, d.keygen("asker")) as asker, Bus(d.socket, d.keygen("helper")) as helper:
            def add(m):
                helper.emit(m.response({"sum": m.data["a"] + m.data["b"]}))

            def tick(m):
                helper.send("tick.%d" % m.data["n"], {"n": m.data["n"]})

            def question(m):
                helper.send("job.answer", {"text": "Ada"})

            helper.on("work.add", add)
            helper.on("work.tick", tick)
            helper.on("job.question", question)
            helper.on("work.slow", lambda m: None)  # never answers

            test_handler_threads(asker, helper)
            test_handler_waits_for_handler(asker, helper)
            test_many_threads(asker, d)
            test_once_under_load(asker, helper)
            test_close_wakes_waiters(d)
            asker.sync()
        check(d.alive(), "daemon died")


if __name__ == "__main__":
    run_test(main)
