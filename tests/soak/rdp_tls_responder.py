#!/usr/bin/env python3
"""rdp_tls_responder.py: a tiny RDP front door for the ms01-040 tests of
holdfast-soak (tests/integration/test_soak_scenarios.py), where xrdp is not
part of `make check`.

    rdp_tls_responder.py --cert C --key K --stats FILE [--port P] [--max-seconds S]

Listens on 127.0.0.1 (--port 0: any free port; prints "READY PORT").  Per
connection it reads one TPKT; an X.224 Connection Request whose RDP_NEG_REQ
asks for PROTOCOL_SSL gets a Connection Confirm selecting PROTOCOL_SSL and a
TLS handshake (--refuse-tls: a negotiation failure instead), then it reads
the decrypted stream until EOF and judges its first PDU: a well-formed MCS
Connect-Initial (TPKT, X.224 Data, BER lengths that add up, GCC PER lengths
that add up, client data blocks that tile the user data exactly) or not.
Anything else (a malformed first PDU) is read until EOF, its bytes counted
(plain_bytes).  --answer-plain: no TLS at all; every connection gets an
X.224 Connection Confirm after its first 4 bytes and is read until EOF (the
half-close test: an answer the client must read before closing).  It never
answers past the Connection Confirm: it is a sink that counts, not an RDP
server.

--stats FILE is rewritten (atomically) after every connection:
connections, cr_ssl, tls_sessions, tls_sessions_with_data, tls_bytes,
valid_connect_initial, malformed_first_pdu, plain_connections, plain_bytes,
errors.
Exits after --max-seconds (default 300) or on SIGTERM.  Loopback only.
"""
import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

READ_MAX = 16 * 1024 * 1024   # bytes read per connection at most
IDLE_S = 20                   # a connection silent this long is closed

lock = threading.Lock()
stats = {"connections": 0, "cr_ssl": 0, "tls_sessions": 0, "tls_sessions_with_data": 0, "tls_bytes": 0,
         "valid_connect_initial": 0, "malformed_first_pdu": 0, "plain_connections": 0, "plain_bytes": 0,
         "errors": 0}


def save(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, path)


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def ber_len(b, i):
    """(length, next index) or None."""
    if i >= len(b):
        return None
    c = b[i]
    if c < 0x80:
        return c, i + 1
    k = c & 0x7f
    if k == 0 or k > 2 or i + 1 + k > len(b):
        return None
    return int.from_bytes(b[i + 1:i + 1 + k], "big"), i + 1 + k


def per_len(b, i):
    if i >= len(b):
        return None
    c = b[i]
    if c < 0x80:
        return c, i + 1
    if c & 0x40 or i + 2 > len(b):
        return None
    return (c & 0x3f) << 8 | b[i + 1], i + 2


def valid_connect_initial(data):
    """True when data starts with one well-formed Connect-Initial TPKT."""
    if len(data) < 7 or data[0] != 3:
        return False
    tl = data[2] << 8 | data[3]
    if tl < 7 or tl > len(data) or data[4:7] != b"\x02\xf0\x80":
        return False
    b = data[7:tl]
    if b[:2] != b"\x7f\x65":
        return False
    r = ber_len(b, 2)
    if r is None or r[1] + r[0] != len(b):
        return False
    i = r[1]
    # callingDomainSelector, calledDomainSelector, upwardFlag, 3 DomainParameters
    for tag in (0x04, 0x04, 0x01, 0x30, 0x30, 0x30):
        if i >= len(b) or b[i] != tag:
            return False
        r = ber_len(b, i + 1)
        if r is None or r[1] + r[0] > len(b):
            return False
        if tag == 0x30:   # eight INTEGERs that tile the SEQUENCE
            j, end, n = r[1], r[1] + r[0], 0
            while j < end:
                if b[j] != 0x02:
                    return False
                rr = ber_len(b, j + 1)
                if rr is None or rr[0] == 0 or rr[1] + rr[0] > end:
                    return False
                j, n = rr[1] + rr[0], n + 1
            if n != 8:
                return False
        i = r[1] + r[0]
    if i >= len(b) or b[i] != 0x04:
        return False
    r = ber_len(b, i + 1)
    if r is None or r[1] + r[0] != len(b):
        return False
    g = b[r[1]:]
    if g[:7] != b"\x00\x05\x00\x14\x7c\x00\x01":
        return False
    r = per_len(g, 7)
    if r is None or r[1] + r[0] != len(g):
        return False
    i = r[1] + 12
    r = per_len(g, i)
    if r is None or r[1] + r[0] != len(g):
        return False
    ud, j, blocks = g[r[1]:], 0, 0
    while j < len(ud):
        if j + 4 > len(ud):
            return False
        t, n = int.from_bytes(ud[j:j + 2], "little"), int.from_bytes(ud[j + 2:j + 4], "little")
        if n < 4 or j + n > len(ud) or t & 0xc000 != 0xc000:
            return False
        j, blocks = j + n, blocks + 1
    return blocks >= 1 and blocks < 16


def read_plain(conn, already):
    """Reads until EOF, counting every byte of the connection."""
    total = already
    while total < READ_MAX:
        c = conn.recv(65536)
        if not c:
            break
        total += len(c)
    with lock:
        stats["plain_bytes"] += total


def handle(conn, args):
    conn.settimeout(IDLE_S)
    kind = "plain"
    try:
        h = recv_exact(conn, 4)
        if h is None:
            return kind
        if args.answer_plain:
            # An answer the client must read before it closes.
            conn.sendall(b"\x03\x00\x00\x0b\x06\xd0\x00\x00\x12\x34\x00")
            read_plain(conn, len(h))
            return kind
        n = h[2] << 8 | h[3]
        rest = recv_exact(conn, n - 4) if h[0] == 3 and 11 <= n <= 4096 else None
        cr = h + rest if rest is not None else None
        wants_ssl = (cr is not None and cr[5] & 0xf0 == 0xe0 and len(cr) >= 19 and cr[-8] == 0x01
                     and int.from_bytes(cr[-4:], "little") & 1)
        if not wants_ssl:
            read_plain(conn, len(h) + (len(rest) if rest is not None else 0))
            return kind
        with lock:
            stats["cr_ssl"] += 1
        if args.refuse_tls:
            conn.sendall(b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x05\x00\x00\x00")
            return kind
        conn.sendall(b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x00\x08\x00\x01\x00\x00\x00")
        kind = "tls"
        t = args.ctx.wrap_socket(conn, server_side=True)
        with lock:
            stats["tls_sessions"] += 1
        data = b""
        while len(data) < READ_MAX:
            try:
                c = t.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                break
            if not c:
                break
            data += c
        with lock:
            stats["tls_bytes"] += len(data)
            if data:
                stats["tls_sessions_with_data"] += 1
                if valid_connect_initial(data):
                    stats["valid_connect_initial"] += 1
                else:
                    stats["malformed_first_pdu"] += 1
        try:
            t.close()
        except OSError:
            pass
        return kind
    except (OSError, ssl.SSLError):
        with lock:
            stats["errors"] += 1
        return kind


def serve(conn, args):
    try:
        kind = handle(conn, args)
    finally:
        try:
            conn.close()
        except OSError:
            pass
    with lock:
        stats["connections"] += 1
        if kind == "plain":
            stats["plain_connections"] += 1
        save(args.stats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--refuse-tls", action="store_true")
    ap.add_argument("--answer-plain", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    args.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    args.ctx.load_cert_chain(args.cert, args.key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(128)
    ls.settimeout(0.5)
    save(args.stats)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    print("READY %d" % ls.getsockname()[1], flush=True)
    end = time.monotonic() + args.max_seconds
    while not stop.is_set() and time.monotonic() < end:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        except OSError:
            continue
        threading.Thread(target=serve, args=(conn, args), daemon=True).start()
    ls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
