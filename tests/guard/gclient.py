#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A raw unix-socket client for the guard tests; prints one JSON line with what happened.

  gclient.py --addr @NAME|PATH [--comm NAME] [--move-to CGDIR | --fork-move CGDIR | --scm-to CGDIR]

Started (by the test) already inside its cgroup. It creates its socket there, then:
  (default)       connects;
  --move-to D     moves itself into cgroup D after creating the socket, then connects;
  --fork-move D   forks; the child (inheriting the socket) moves into D and connects;
  --loop N        connects N times in a row (a fresh socket each time, waiting for the greeting
                  unless --no-wait) and reports how many were refused with which errno, or
                  closed without a greeting ("closed"): {"pid", "ok", "errors": {errno: count}};
  --seconds S     with --loop: stop after S seconds;
  --scm-to D      forks; the child moves into D, then receives a socket created by the parent
                  (after the fork, so only SCM_RIGHTS can give it to the child) and connects.
Output: {"pid": <pid that connected>, "comm": ..., "errno": 0|N, "hello": bool, "closed": bool}
hello: a frame arrived from the peer (the daemon greets an admitted client at once);
closed: the peer closed the connection without sending anything.
"""
import argparse
import ctypes
import json
import os
import socket
import sys


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NAME = 15
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def move(cgdir):
    with open(os.path.join(cgdir, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def sockaddr(addr):
    return "\0" + addr[1:] if addr.startswith("@") else addr


def attempt(s, addr):
    res = {"pid": os.getpid(), "errno": 0, "hello": False, "closed": False}
    with open("/proc/self/comm") as f:
        res["comm"] = f.read().strip()
    try:
        s.connect(sockaddr(addr))
    except OSError as e:
        res["errno"] = e.errno
        return res
    s.settimeout(3)
    try:
        data = s.recv(4096)
        res["hello"] = len(data) > 0
        res["closed"] = len(data) == 0
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        res["closed"] = True
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--comm")
    ap.add_argument("--move-to")
    ap.add_argument("--fork-move")
    ap.add_argument("--scm-to")
    ap.add_argument("--loop", type=int)
    ap.add_argument("--no-wait", action="store_true")
    ap.add_argument("--seconds", type=float, help="with --loop: stop after this long")
    a = ap.parse_args()
    if a.comm:
        set_comm(a.comm)
    if a.loop:
        ok, errors = 0, {}
        import time
        end = time.monotonic() + a.seconds if a.seconds else None
        for _ in range(a.loop):
            if end and time.monotonic() > end:
                break
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(sockaddr(a.addr))
                    if not a.no_wait:  # one at a time: wait for the greeting
                        s.settimeout(5)
                        if not s.recv(64):
                            raise ConnectionResetError(0, "closed without a greeting")
                    ok += 1
                except OSError as e:
                    key = "closed" if e.errno in (0, None) or isinstance(e, ConnectionResetError) else str(e.errno)
                    errors[key] = errors.get(key, 0) + 1
        print(json.dumps({"pid": os.getpid(), "ok": ok, "errors": errors}), flush=True)
        return
    if a.scm_to:
        left, right = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            left.close()
            move(a.scm_to)
            right.send(b"moved")
            _, fds, _, _ = socket.recv_fds(right, 16, 1)
            s = socket.socket(fileno=fds[0])
            print(json.dumps(attempt(s, a.addr)), flush=True)
            os._exit(0)
        right.close()
        check = left.recv(16)
        assert check == b"moved"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # created here, in the parent's cgroup
        socket.send_fds(left, [b"x"], [s.fileno()])
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if a.fork_move:
        pid = os.fork()
        if pid == 0:
            move(a.fork_move)
            print(json.dumps(attempt(s, a.addr)), flush=True)
            os._exit(0)
        s.close()
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    if a.move_to:
        move(a.move_to)
    print(json.dumps(attempt(s, a.addr)), flush=True)


if __name__ == "__main__":
    main()
