#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The browser path through real processes: headless Debian chromium loads gateway/challenge.html
from a tiny http.server on 127.0.0.1 and opens a challenge session with WebCrypto (the key is in
the URL fragment, which never reaches a server). The page reports every event by POSTing it back
to the test's server. Checked:
- the page verifies the server proof and opens the session; a native `capbus listen` receives
  the page's message with the browser identity as sender;
- the page receives a message sent natively;
- a type outside its manifest is refused (bus.error denied);
- the key reaches neither the page's server nor a log;
- a page with a wrong key gets no session: bus.error, close 1008, the router refuses the delegation (status 3).
Chromium missing: exit 77, a failure when CI=true. Chromium is stopped by the process group of
the pid started here, and its profile directory removed."""
import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

from capbus_harness import SOURCE_DIR, TestFailure, check, manifest, read_key_file, run_test, skip
from gateway_harness import GatewayDaemon

PAGE = os.path.join(SOURCE_DIR, "gateway", "challenge.html")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class PageServer:
    """Serves the page at /challenge.html and queues every JSON body POSTed to /report."""

    def __init__(self):
        events = self.events = queue.Queue()
        requests = self.requests = []  # every request line and body the server saw

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.requestline)
                if self.path != "/challenge.html":
                    self.send_error(404)
                    return
                with open(PAGE, "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                requests.append(self.requestline + " " + body.decode("utf-8", "replace"))
                if self.path == "/report":
                    events.put(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Chromium:
    """One headless chromium on a fresh profile; stopped by its own process group."""

    def __init__(self, exe, url, log_path):
        self.profile = tempfile.mkdtemp(prefix="capbus-chromium-")
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([exe] + FLAGS + ["--user-data-dir=" + self.profile, url],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # The browser's helpers (zygote, renderer) share its process group: wait until the
        # group is empty, so the profile directory is no longer in use when it is removed.
        deadline = time.monotonic() + 10
        while True:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL if time.monotonic() > deadline else 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def wait_event(events, pred, seen, timeout=60.0):
    """The first event, in the page's order, for which pred holds. The page POSTs each event
    on its own request, so they may arrive out of order: every event received goes to seen
    (kept sorted by the page's sequence number), and the whole list is searched each time."""
    deadline = time.monotonic() + timeout
    while True:
        for ev in seen:
            if ev.get("event") in ("failed", "server_proof_bad"):
                raise TestFailure("the page failed: %r" % ev)
            if pred(ev):
                return ev
        if any(ev.get("event") == "close" for ev in seen):
            raise TestFailure("the page's connection closed: %r" % seen[-8:])
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("no matching page event in %.0fs; events: %r" % (timeout, seen[-8:]))
        try:
            seen.append(events.get(timeout=left))
        except queue.Empty:
            continue
        seen.sort(key=lambda ev: ev.get("seq", 0))


def is_msg(mtype):
    return lambda ev: ev.get("event") == "message" and ev["message"].get("type") == mtype


def page_url(srv, d, ident, key, **extra):
    frag = {"gw": d.url(), "id": ident, "key": key.hex(), "report": "/report"}
    frag.update(extra)
    return "http://127.0.0.1:%d/challenge.html#%s" % (srv.port, urllib.parse.urlencode(frag))


def main():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        skip("chromium is not installed (scripts/install-deps installs it)")
    ms = {"browser": manifest("browser", ["greet.*"], ["news.*"], transports=["socket", "gateway"]),
          "ear": manifest("ear", ["other.*"], ["greet.*"]),
          "bob": manifest("bob", ["news.*"], ["other.*"])}
    srv = PageServer()
    try:
        with GatewayDaemon(ms) as d:
            _, key = read_key_file(d.keygen("browser"))
            chromium_log = os.path.join(d.dir, "chromium.log")
            listener = d.cli_popen("listen", "greet.*", "--count", "1", "--timeout", "90", key=d.keygen("ear"))
            time.sleep(0.5)  # the listener subscribes
            seen = []
            b = Chromium(exe, page_url(srv, d, "browser", key, send="greet.browser", forbid="secret.leak"),
                         chromium_log)
            try:
                wait_event(srv.events, lambda ev: ev.get("event") == "authenticated", seen, timeout=90)
                wait_event(srv.events, lambda ev: ev.get("event") == "open", seen)
                out, err = listener.communicate(timeout=30)
                check(listener.returncode == 0, "capbus listen: rc %d %s" % (listener.returncode, err))
                msg = json.loads(out.strip().splitlines()[-1])
                check(msg["type"] == "greet.browser" and msg["data"]["utterance"] == "hello from the browser",
                      "listen got %r" % msg)
                check(msg["context"]["sender"] == "browser", "sender %r, want the browser identity" % msg["context"])
                denied = wait_event(srv.events, is_msg("bus.error"), seen)
                check(denied["message"]["data"]["code"] == "denied", "outside the manifest: %r" % denied)
                bob = d.client("bob")
                bob.send("news.today", {"headline": "native"})
                got = wait_event(srv.events, is_msg("news.today"), seen)
                check(got["message"]["context"]["sender"] == "bob" and got["message"]["data"]["headline"] == "native",
                      "page got %r" % got)
                bob.close()
            finally:
                b.stop()
            d.wait_gw_log("event=gateway_session_open id=\"browser\" method=challenge")
            # the key stayed in the fragment: no request to the page's server, no log line has it
            check(not any(key.hex() in r for r in srv.requests), "the key reached the page's server")
            check(key.hex() not in d.gw_log() and key.hex() not in d.log(), "the key is in a log")

            # a wrong key: the router refuses, the page hears bus.error then close 1008, no session
            seen = []
            b = Chromium(exe, page_url(srv, d, "browser", os.urandom(32)), chromium_log)
            try:
                closed = wait_event(srv.events, lambda ev: ev.get("event") == "close", seen, timeout=90)
                time.sleep(0.5)  # reports still in flight
                while not srv.events.empty():
                    seen.append(srv.events.get())
            finally:
                b.stop()
            check(closed["code"] == 1008, "wrong key: close %r, want 1008" % closed)
            check(any(is_msg("bus.error")(ev) for ev in seen), "wrong key: no bus.error: %r" % seen)
            check(not any(ev.get("event") in ("authenticated", "open") for ev in seen), "wrong key opened: %r" % seen)
            d.wait_gw_log("event=gateway_delegation_refused id=\"browser\" method=challenge status=3")
            check(d.gw_log().count("event=gateway_session_open id=\"browser\"") == 1,
                  "a second session opened:\n%s" % d.gw_log()[-3000:])
    finally:
        srv.close()


run_test(main)
