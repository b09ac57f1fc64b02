#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""capbus gateway-cert: writes a 0600 key and a 0644 certificate, prints the SHA-256 fingerprint
that `openssl x509 -fingerprint -sha256` reports, puts every --name in subjectAltName (DNS or
IP), marks it CA:FALSE for serverAuth, refuses to overwrite without --force, and the pair works:
a TLS client that trusts the certificate completes a handshake with a server using the key."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

from capbus_harness import capbus_path, check, require_build, run_test, skip


def gen(d, *extra):
    return subprocess.run([capbus_path(), "gateway-cert", "--cert", os.path.join(d, "gw.crt"), "--key",
                           os.path.join(d, "gw.key")] + list(extra), capture_output=True, text=True, timeout=30)


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, check=True).stdout


def fingerprint(p):
    m = re.fullmatch(r"sha256 fingerprint: ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})\n", p.stdout)
    check(m, "fingerprint line: %r" % p.stdout)
    return m.group(1)


def tls_roundtrip(d):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(os.path.join(d, "gw.crt"), os.path.join(d, "gw.key"))
    client_ctx = ssl.create_default_context(cafile=os.path.join(d, "gw.crt"))
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]

    def serve():
        conn, _ = lsock.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as s:
            s.sendall(s.recv(5))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="gw.example") as s:
            s.sendall(b"hello")
            check(s.recv(5) == b"hello", "TLS echo failed")
    t.join(5)
    lsock.close()


def main():
    require_build()
    if not shutil.which("openssl"):
        skip("openssl(1) is not installed")
    d = tempfile.mkdtemp(prefix="capbus-gwcert.")
    try:
        p = gen(d, "--name", "gw.example", "--name", "192.168.1.10", "--name", "::1", "--days", "30")
        check(p.returncode == 0, "gateway-cert failed: %s" % p.stderr)
        fp = fingerprint(p)
        want = openssl("x509", "-in", os.path.join(d, "gw.crt"), "-noout", "-fingerprint", "-sha256")
        check(want.strip().split("=", 1)[1] == fp, "fingerprint %s, openssl says %s" % (fp, want))
        check(os.stat(os.path.join(d, "gw.key")).st_mode & 0o777 == 0o600, "key mode")
        check(os.stat(os.path.join(d, "gw.crt")).st_mode & 0o777 == 0o644, "cert mode")
        ext = openssl("x509", "-in", os.path.join(d, "gw.crt"), "-noout", "-ext",
                      "subjectAltName,basicConstraints,extendedKeyUsage")
        for w in ("DNS:gw.example", "IP Address:192.168.1.10", "IP Address:0:0:0:0:0:0:0:1", "CA:FALSE",
                  "TLS Web Server Authentication"):
            check(w in ext, "%r missing from:\n%s" % (w, ext))
        subj = openssl("x509", "-in", os.path.join(d, "gw.crt"), "-noout", "-subject")
        check("CN = gw.example" in subj or "CN=gw.example" in subj, "subject %r" % subj)
        # The key is the certificate's.
        pub_cert = openssl("x509", "-in", os.path.join(d, "gw.crt"), "-noout", "-pubkey")
        pub_key = openssl("pkey", "-in", os.path.join(d, "gw.key"), "-pubout")
        check(pub_cert == pub_key, "the key does not match the certificate")
        tls_roundtrip(d)
        # No silent overwrite; --force makes a new pair.
        before = open(os.path.join(d, "gw.key"), "rb").read()
        p2 = gen(d)
        check(p2.returncode == 1 and "--force" in p2.stderr, "overwrote without --force: %r" % (p2.stderr,))
        check(open(os.path.join(d, "gw.key"), "rb").read() == before, "key changed without --force")
        p3 = gen(d, "--force", "--name", "gw.example")
        check(p3.returncode == 0 and fingerprint(p3) != fp, "--force did not make a new pair")
        check(os.stat(os.path.join(d, "gw.key")).st_mode & 0o777 == 0o600, "key mode after --force")
        tls_roundtrip(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run_test(main)
