#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A skill's stdout and stderr, as hostile skills launched by capbusd (issue 11, point 1).

- fds 1 and 2 are pipes of their own: ftruncate fails with EINVAL, lseek with ESPIPE, and the
  daemon's log keeps what it held; /proc/self/fd shows 0-4 only.
- forged lines: a skill's \\n starts a new line that still carries its prefix; \\r, ESC, C1
  controls, invalid UTF-8, line and paragraph separators (U+2028, U+2029), bidirectional and
  zero-width controls and the BOM reach the log escaped; a long line is cut and marked.
- flood: 30 MiB of output grows the daemon's log by no more than the rate limit's budget; every
  line is either logged or counted as suppressed (an exact count); the bus answers meanwhile.
- amplify: empty lines and lines of control characters are charged as the log gets them (prefix,
  escapes, newline): the skill's lines in the log stay within burst + rate * time.
- slow log: the daemon's stderr is a pipe its reader empties slowly: a flooding skill never makes
  the parent wait (admin requests answer, SIGTERM stops it); lines the pipe cannot take are
  dropped and counted (reason=log_blocked), every line in the log is whole.
- capbus logs ID [--follow]: the ring; a line printed after --follow started appears, every line
  once; lines that left the ring between two polls are announced with their exact count; an unknown id is a usage error (exit 1); the ring
  outlives restarts of the skill and is freed with it."""
import json
import os
import re
import signal
import subprocess
import threading
import time

from capbus_harness import (OBSERVER, REPORT, Daemon, RawClient, SkillBus, TestFailure, capbusd_path, check, manifest,
                            run_test, wait_for)

RATE, BURST = 16384, 65536  # the defaults (docs: capbusd(8))


def logs(sb, ident, *extra):
    return sb.d.admin("logs", ident, *extra)


def log_bytes(sb):
    with open(sb.d.log_path, "rb") as f:
        return f.read()


def fds_and_truncate():
    with SkillBus() as sb:
        before = log_bytes(sb)
        sb.add_skill("o.fds", ["log-fds"])
        sb.reload()
        r = sb.wait_reports(["o.fds"])["o.fds"]["result"]
        print("# fds: %r" % r)
        check(r["fd1"].startswith("pipe:[") and r["fd2"].startswith("pipe:[") and r["fd1"] != r["fd2"],
              "fds 1 and 2 must be pipes of their own: %r" % r)
        check(r["fifo1"] and r["fifo2"], "fds 1 and 2 are not FIFOs: %r" % r)
        check(r["truncate1"] == "EINVAL" and r["truncate2"] == "EINVAL", "ftruncate on 1/2: %r" % r)
        check(r["lseek1"] == "ESPIPE" and r["lseek2"] == "ESPIPE", "lseek on 1/2: %r" % r)
        check(r["fds"] == "0 1 2 3 4", "the skill holds other descriptors: %r" % r)
        check(r["ok"] is False, "an attack on the log worked: %r" % r)
        after = log_bytes(sb)
        check(after.startswith(before), "the daemon's log lost what it held (%d -> %d bytes)" % (len(before), len(after)))


def forge():
    with SkillBus() as sb:
        sb.add_skill("o.forge", ["log-forge"])
        sb.reload()
        sb.wait_reports(["o.forge"])
        sb.wait_skill("o.forge", lambda s: s["state"] == "stopped")
        raw = sb.d.wait_log("forged_tail") and log_bytes(sb)
        unicode = (b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xc2\x85", b"\xe2\x80\xae", b"\xe2\x80\xac", b"\xe2\x81\xa7",
                   b"\xe2\x81\xa9", b"\xe2\x80\x8b", b"\xe2\x80\x8d", b"\xe2\x81\xa0", b"\xef\xbb\xbf")
        for bad in (b"\x1b", b"\r", b"\x0b", b"\x0c", b"\xc2\x9b", b"\xff") + unicode:
            check(bad not in raw, "raw %r reached the daemon's log" % bad)
        text = raw.decode()
        lines = text.splitlines()  # also splits at U+2028, U+2029 and NEL
        forged = [l for l in lines if "forged" in l]
        print("# forged lines as logged:\n#   " + "\n#   ".join(forged))
        check(len(forged) == 7, "expected 7 lines about forged_*: %r" % forged)
        for l in forged:
            check(l.startswith("skill o.forge[stdout]: ") or l.startswith("skill o.forge[stderr]: "),
                  "a skill's line without its prefix: %r" % l)
        check(not any(l.startswith("capbusd[") and "forged" in l for l in lines), "a forged daemon line")
        check(any("harmless\\x0dcapbusd" in l for l in forged), "\\r not escaped: %r" % forged)
        check(any("\\x1b[2K\\x1b[1Gcapbusd" in l for l in forged), "ESC not escaped: %r" % forged)
        check(any("\\xc2\\x9b2Kcapbusd" in l for l in forged), "C1 CSI not escaped: %r" % forged)
        check("skill o.forge[stdout]: two\\x0bthree\\x0cfour back\\\\slash \\xff café" in lines,
              "controls, backslash, invalid and valid UTF-8: %r" % [l for l in lines if "two" in l])
        cut = [l for l in lines if l.startswith("skill o.forge[stderr]: LLLL")]
        check(len(cut) == 1 and cut[0].endswith("[cut: line longer than 4096 bytes]")
              and "forged_longtail" not in text and len(cut[0]) < 4096 + 100, "the long line: %r" % [len(c) for c in cut])
        check("skill o.forge[stderr]: no newline at the end: forged_tail" in lines, "the last, unterminated line")
        want = ("skill o.forge[stdout]: ls\\xe2\\x80\\xa8capbusd[parent]: level=error event=forged_ls \\xe2\\x80\\xa9 ps"
                " \\xc2\\x85 nel \\xe2\\x80\\xaerlo\\xe2\\x80\\xac \\xe2\\x81\\xa7rli\\xe2\\x81\\xa9"
                " zw\\xe2\\x80\\x8b\\xe2\\x80\\x8d\\xe2\\x81\\xa0 bom\\xef\\xbb\\xbf end")
        check(want in lines, "separators, bidi and zero-width controls: %r" % [l for l in lines if "forged_ls" in l])
        # The same lines through capbus logs.
        cp = logs(sb, "o.forge")
        check(cp.returncode == 0, "capbus logs: %d %s" % (cp.returncode, cp.stderr))
        out = cp.stdout.splitlines()
        check("[stdout] capbusd[parent]: level=error event=forged_plain id=\"x\"" in out, "logs: %r" % out)
        check("[stderr] capbusd[parent]: level=error event=forged_stderr" in out, "logs: %r" % out)
        check("\x1b" not in cp.stdout and "\r" not in cp.stdout, "capbus logs printed a raw control")
        for bad in unicode:
            check(bad.decode() not in cp.stdout, "capbus logs printed a raw %r" % bad)


def flood():
    with SkillBus() as sb:
        ident = "o.flood"
        sb.add_skill(ident, ["log-flood", "30"])
        parent = sb.d.pid
        rss0 = int(open("/proc/%d/status" % parent).read().split("VmRSS:")[1].split()[0])
        size0 = len(log_bytes(sb))
        t0 = time.monotonic()
        sb.reload()
        # The bus keeps answering while the skill floods its output.
        pings = 0
        admin = RawClient(sb.d.socket, key_file=sb.d.admin_key)
        admin.handshake()
        while ident not in sb.reports:
            admin.ping(timeout=5)
            pings += 1
            sb.pump(0.05)
        rep = sb.reports[ident][0]["result"]
        check(rep["ok"] is True and rep["written"] == 30 << 20, "the flood: %r" % rep)
        sb.wait_skill(ident, lambda s: s["state"] == "stopped")
        total = (30 << 20) // 1024 + 1  # the flood's lines and the skill's own report line

        def counted():
            text = log_bytes(sb).decode()
            shown = sum(1 for l in text.splitlines() if l.startswith("skill %s[stdout]: " % ident))
            dropped = sum(int(m) for m in re.findall(r'event=skill_output_suppressed id="%s" lines=(\d+)' % re.escape(ident), text))
            return (shown, dropped) if shown + dropped >= total else None
        shown, dropped = wait_for(counted, 10, what="every line logged or counted")
        elapsed = time.monotonic() - t0
        grown = len(log_bytes(sb)) - size0
        rss1 = int(open("/proc/%d/status" % parent).read().split("VmRSS:")[1].split()[0])
        # Each shown line cost what the log got of it, prefix and newline included; the daemon's own
        # lines (start, stop, the suppression reports) come on top.
        mine = skill_bytes(log_bytes(sb)[size0:], ident)
        budget = BURST + RATE * elapsed + 16384
        print("# flood: %d lines shown, %d suppressed, log +%d bytes (%d of the skill's) in %.1fs (budget %.0f),"
              " parent RSS %d -> %d kB, %d pings" % (shown, dropped, grown, mine, elapsed, budget, rss0, rss1, pings))
        check(mine <= BURST + RATE * elapsed, "the skill's lines took %d bytes of the log, over %.0f" % (
            mine, BURST + RATE * elapsed))
        check(shown + dropped == total, "lines shown %d + suppressed %d != %d written" % (shown, dropped, total))
        check(dropped > 0 and shown > 0, "the rate limit did nothing: %d shown, %d dropped" % (shown, dropped))
        check(grown <= budget, "the log grew by %d bytes, over the budget of %.0f" % (grown, budget))
        check(rss1 - rss0 < 8192, "the parent grew by %d kB" % (rss1 - rss0))
        check(pings > 0, "no ping went through during the flood")
        reports = log_bytes(sb).decode().count('event=skill_output_suppressed id="%s"' % ident)
        check(1 <= reports <= int(elapsed) + 2, "%d suppression reports in %.1fs: more than one a second" % (reports, elapsed))
        admin.close()


def skill_bytes(raw, ident):
    """The bytes of the log that are lines of the skill ident, newlines included."""
    prefix = ("skill %s[" % ident).encode()
    return sum(len(l) + 1 for l in raw.split(b"\n") if l.startswith(prefix))


def amplify():
    with SkillBus() as sb:
        ident = "o.amp"
        sb.add_skill(ident, ["log-amplify", "8"])
        size0 = len(log_bytes(sb))
        t0 = time.monotonic()
        sb.reload()
        rep = sb.wait_reports([ident])[ident]["result"]
        check(rep["ok"] is True and rep["written"] == 8 << 20, "the flood: %r" % rep)
        sb.wait_skill(ident, lambda s: s["state"] == "stopped")
        sb.d.wait_log('event=skill_output_suppressed id="%s"' % ident, timeout=5)
        raw = log_bytes(sb)[size0:]
        elapsed = time.monotonic() - t0
        mine = skill_bytes(raw, ident)
        shown = sum(1 for l in raw.split(b"\n") if l.startswith(("skill %s[" % ident).encode()))
        print("# amplify: %d of the skill's lines, %d bytes of the log in %.1fs (budget %.0f)" % (
            shown, mine, elapsed, BURST + RATE * elapsed))
        check(shown > 0, "no line of the skill was logged")
        check(mine <= BURST + RATE * elapsed, "empty and escaped lines took %d bytes of the log, over the budget of %.0f"
              % (mine, BURST + RATE * elapsed))
        check(b'reason=rate' in raw, "no suppression report with reason=rate")


class SlowLogDaemon(Daemon):
    """A capbusd whose stderr is a pipe that a thread empties slowly (4 KiB every 100 ms, into
    log_path), like a log collector that cannot keep up."""

    def start(self, timeout=10.0, wrapper=None, router=None):
        r, w = os.pipe()
        self.fast = threading.Event()
        self.reader = threading.Thread(target=self._copy, args=(r,), daemon=True)
        self.reader.start()
        self.sigterm_seconds = None
        argv = list(wrapper or []) + [capbusd_path(), "--config", self.config_path]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=w, stderr=w, env=self._env())
        os.close(w)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("capbusd exited with %d during start-up:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.admin_key) and "event=ready" in self.log() and self.router_pid():
                return self
            time.sleep(0.01)
        raise TestFailure("capbusd did not become ready within %.0fs:\n%s" % (timeout, self.log()))

    def _copy(self, r):
        with open(self.log_path, "ab", buffering=0) as out:
            while True:
                d = os.read(r, 4096 if not self.fast.is_set() else 1 << 20)
                if not d:
                    break
                out.write(d)
                if not self.fast.is_set():
                    time.sleep(0.1)
        os.close(r)

    def stop(self, timeout=10.0):
        if self.proc and self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                self.sigterm_seconds = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                self.sanitizer_findings.append("capbusd ignored SIGTERM for %.0fs with a slow log" % timeout)
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "reader", None):
            self.fast.set()
            self.reader.join(30)
        return super().stop(timeout)


def slow_log():
    # The skills report over the bus only once their flood is written; on two shared cores that
    # can take longer than the default 5 s a connection has to authenticate.
    d = SlowLogDaemon({OBSERVER: manifest(OBSERVER, [], [REPORT])}, start=False,
                      skill_log_rate=1 << 30, skill_log_burst=1 << 30, handshake_timeout_ms=60000)
    with SkillBus(daemon=d) as sb:
        ident = "o.slowflood"
        sb.add_skill("o.quiet", ["log-ticks", "1000"])
        sb.add_skill(ident, ["log-flood", "30"])
        # Lines that grow when logged: a blocking parent would wait tens of seconds per read.
        sb.add_skill("o.slowamp", ["log-amplify", "2"])
        sb.reload()
        time.sleep(2)  # the pipe to the log is full by now

        def timed(*args):
            t = time.monotonic()
            try:
                cp = sb.d.cli(*args, key=sb.d.admin_key, timeout=20)
            except subprocess.TimeoutExpired:
                return None, time.monotonic() - t
            return cp, time.monotonic() - t
        # Liveness, not a benchmark: the parent answers while the log cannot keep up.
        for args in (("skills",), ("logs", "o.quiet")):
            cp, took = timed(*args)
            print("# capbus %s during the flood: %s in %.2fs" % (" ".join(args), cp and cp.returncode, took))
            check(cp is not None and cp.returncode == 0 and took < 5,
                  "capbus %s took %.1fs (%r) while the daemon's log was slow" % (" ".join(args), took, cp and cp.stderr))
        reps = sb.wait_reports([ident, "o.slowamp"], timeout=30)
        check(reps[ident]["result"]["ok"] is True and reps[ident]["result"]["written"] == 30 << 20, "the flood: %r" % reps)
        check(reps["o.slowamp"]["result"]["ok"] is True, "the flood of empty lines: %r" % reps)
        sb.wait_skill(ident, lambda s: s["state"] == "stopped")
        check(sb.skill(ident)["restarts"] == 0, "the flood did not run once: %r" % sb.skill(ident))
        cp, took = timed("logs", ident)
        check(cp is not None and cp.returncode == 0 and took < 5, "capbus logs %s took %.1fs" % (ident, took))
        check("suppressed because the daemon's log would block" in cp.stdout,
              "no note in the ring of lines the log could not take: %r" % cp.stdout[-2000:])
        # Every line logged or counted, once the reader catches up (the counts wait for room too).
        total = (30 << 20) // 1024 + 1

        def counted():
            text = log_bytes(sb).decode()
            shown = sum(1 for l in text.splitlines() if l.startswith("skill %s[stdout]: " % ident))
            dropped = {}
            for n, why in re.findall(r'event=skill_output_suppressed id="%s" lines=(\d+) .*reason=(\w+)' % re.escape(ident),
                                     text):
                dropped[why] = dropped.get(why, 0) + int(n)
            return (shown, dropped) if shown + sum(dropped.values()) >= total else None
        shown, dropped = wait_for(counted, 30, what="every line logged or counted")
        print("# slow log: %d lines shown, suppressed %r" % (shown, dropped))
        check(shown + sum(dropped.values()) == total, "shown %d + suppressed %r != %d; the skill: %r; its log lines:\n%s" % (
            shown, dropped, total, sb.skill(ident),
            "\n".join(l for l in log_bytes(sb).decode().splitlines() if ident in l and "[stdout]" not in l)))
        check(dropped.get("log_blocked", 0) > 0, "no line counted as blocked: %r" % dropped)
        sb.d.stop(timeout=10)
        print("# SIGTERM stopped the daemon in %s s" % sb.d.sigterm_seconds)
        check(sb.d.sigterm_seconds is not None and sb.d.sigterm_seconds < 10, "SIGTERM did not stop the daemon")
        # Whole lines only: the flood's lines each complete, nothing glued to another line.
        raw = log_bytes(sb)
        check(raw.endswith(b"\n"), "the log ends in the middle of a line")
        amp = b"skill o.slowamp[stdout]: "
        for l in raw.split(b"\n")[:-1]:
            if l.startswith(("skill %s[stdout]: " % ident).encode()):
                body = l[len("skill %s[stdout]: " % ident):]
                check(len(body) == 1023 or body.startswith(b"{"), "a flood line cut or glued: %r" % l[:80])
            elif l.startswith(amp):
                body = l[len(amp):]
                check(body in (b"", b"\\x01" * 15) or body.startswith(b"{"), "a line cut or glued: %r" % l[:80])
            else:
                check(l.startswith(b"capbusd[") or l.startswith(b"skill "), "not a whole line: %r" % l[:80])


def logs_cli():
    with SkillBus(skill_log_lines=16) as sb:
        ident = "o.ticks"
        sb.add_skill(ident, ["log-ticks", "50"])
        sb.reload()
        sb.wait_reports([ident])
        seen = wait_for(lambda: (lambda cp: cp.returncode == 0 and "[stdout] tick 3" in cp.stdout and cp.stdout)(
            logs(sb, ident)), 10, what="tick 3 in capbus logs")
        last = max(int(m) for m in re.findall(r"^\[stdout\] tick (\d+)$", seen, re.M))
        follow = sb.d.cli_popen("logs", ident, "--follow", key=sb.d.admin_key)
        ticks = []
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                line = follow.stdout.readline()
                m = re.match(r"^\[stdout\] tick (\d+)$", line)
                if m:
                    ticks.append(int(m.group(1)))
                    if ticks[-1] >= last + 5:
                        break
        finally:
            follow.kill()
            follow.wait()
        print("# follow: ticks %d..%d after %d was the last shown before" % (ticks[0], ticks[-1], last))
        check(ticks and ticks[-1] >= last + 5, "lines printed after --follow started never appeared: %r" % ticks)
        check(ticks == list(range(ticks[0], ticks[-1] + 1)), "--follow lost or repeated lines: %r" % ticks)
        # A skill faster than --follow polls (1000 lines/s, 16 kept): the CLI says how many lines
        # left the ring between two answers, and those counts fill the gaps exactly.
        sb.add_skill("o.fast", ["log-ticks", "1"])
        sb.reload()
        sb.wait_reports(["o.fast"])
        follow = sb.d.cli_popen("logs", "o.fast", "--follow", key=sb.d.admin_key)
        seq, notes = [], 0
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and notes < 3:
                line = follow.stdout.readline()
                m = re.match(r"^\[stdout\] tick (\d+)$", line)
                n = re.match(r"^-- (\d+) line\(s\) left the ring before they could be shown --$", line)
                if m:
                    seq.append(("tick", int(m.group(1))))
                elif n:
                    seq.append(("gap", int(n.group(1))))
                    notes += 1
        finally:
            follow.kill()
            follow.wait()
        check(notes >= 3, "no line said that lines left the ring: %r" % seq[:40])
        expect = None
        for kind, v in seq:
            if kind == "gap":
                check(expect is not None, "a gap before the first line: %r" % seq[:5])
                expect += v
            else:
                check(expect is None or v == expect, "tick %d where %r was due: %r" % (v, expect, seq[:60]))
                expect = v + 1
        print("# fast follow: %d lines, %d gaps announced, all accounted for" % (
            sum(1 for k, _ in seq if k == "tick"), notes))
        # A cursor the ring has moved past: the answer says how many lines are gone.
        admin = RawClient(sb.d.socket, key_file=sb.d.admin_key)
        admin.handshake()
        def moved_on():
            rep = admin.request("capbus.logs", {"id": ident, "cursor": 1})
            check(rep["type"] == "capbus.logs.reply", "capbus.logs: %r" % rep)
            return rep["data"]["dropped"] > 0 and rep["data"]
        data = wait_for(moved_on, 10, interval=0.1, what="the ring of 16 lines to move on")
        check(data["dropped"] > 0 and data["lines"][0]["seq"] == 1 + data["dropped"] and len(data["lines"]) <= 16,
              "dropped lines: %r" % {k: data[k] for k in ("dropped", "next")})
        check(data["next"] == data["lines"][-1]["seq"] + 1, "next: %r" % data["next"])
        rep = admin.request("capbus.logs", {"id": ident, "cursor": data["next"] + 1000})
        check(rep["type"] == "capbus.logs.reply", "a cursor beyond the ring: %r" % rep)
        admin.close()
        # Unknown id and a non-admin identity.
        cp = logs(sb, "no.such.skill")
        print("# unknown id: %d %s" % (cp.returncode, cp.stderr.strip()))
        check(cp.returncode == 1 and "unknown_id" in cp.stderr, "unknown id: %d %r" % (cp.returncode, cp.stderr))
        cp = sb.d.cli("logs", ident, key=os.path.join(sb.d.keys_dir, OBSERVER + ".key"))
        check(cp.returncode == 3, "a non-admin identity read a skill's logs: %d %r" % (cp.returncode, cp.stderr))
        cp = logs(sb, ident, "--tail")
        check(cp.returncode == 1, "bad option: %d" % cp.returncode)


def restarts():
    with SkillBus() as sb:
        ident = "o.runs"
        sb.add_skill(ident, ["log-run", "100"])
        sb.reload()
        sb.wait_skill(ident, lambda s: s["restarts"] >= 2, timeout=30)
        def runs():
            cp = logs(sb, ident)
            found = re.findall(r"^\[stdout\] run (\d+) on stdout$", cp.stdout, re.M)
            return len(set(found)) >= 2 and (cp.stdout, found)
        out, found = wait_for(runs, 10, what="lines of two runs in capbus logs")
        print("# runs in the ring: %s" % found)
        check(len(found) == len(set(found)), "a run's line shown twice: %r" % found)
        for run in found[:2]:
            check("[stderr] run %s on stderr" % run in out, "stderr of run %s: %r" % (run, out))
            check("skill o.runs[stdout]: run %s on stdout" % run in sb.d.log(), "the daemon log misses run %s" % run)
        # Removed: the ring goes with it.
        sb.remove_manifest(ident)
        sb.reload()
        wait_for(lambda: logs(sb, ident).returncode == 1, 10, what="capbus logs refusing a removed skill")


def main():
    fds_and_truncate()
    forge()
    flood()
    amplify()
    slow_log()
    logs_cli()
    restarts()


if __name__ == "__main__":
    run_test(main)
