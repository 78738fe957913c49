#!/usr/bin/env python3
"""pptp_responder.py: a tiny PPTP control responder with a GRE counter, for
the ms01-009 tests of holdfast-soak (tests/integration/test_soak_scenarios.py),
where pptpd is not part of `make check` (and cannot keep a call up here: no
kernel PPP).

    pptp_responder.py --stats FILE [--port P] [--max-seconds S]

Listens on 127.0.0.1 (--port 0: any free port; prints "READY PORT").  On the
control connection (RFC 2637) it answers Start-Control-Connection-Request
with a Reply (result 1), Outgoing-Call-Request with an Outgoing-Call-Reply
(result 1, Connected) carrying a call id of its own (CALL_ID_BASE + n),
Echo-Request with Echo-Reply; it counts Set-Link-Info, WAN-Error-Notify and
unsolicited Echo-Reply messages as "odd control" and ignores them; any
message with a bad magic cookie or length closes the connection.  A call
stays up while its control connection does.

With root, a raw IPPROTO_GRE socket counts the GRE packets from 127.0.0.1:
all of them, and those whose enhanced-GRE key carries one of the call ids it
handed out (version 1, key bit set: bytes 6-7).  --plant-slab-dir DIR: for
every GRE packet it makes (and keeps) a directory in DIR, a known kernel
Slab cost per packet (dentry + inode) to check holdfast-soak's per-packet
Slab estimate against.

--stats FILE is rewritten (atomically) at most every 0.2 s and at exit:
control_connections, sccrq, ocrq, calls, echo_requests, odd_control,
bad_control, gre_packets, gre_to_calls, gre_socket (false without root).
Exits after --max-seconds (default 300) or on SIGTERM.  Loopback only.
"""
import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

MAGIC = 0x1A2B3C4D
CALL_ID_BASE = 0x7A00
MSG_MAX = 4096

lock = threading.Lock()
stats = {"control_connections": 0, "sccrq": 0, "ocrq": 0, "calls": 0, "echo_requests": 0, "odd_control": 0,
         "bad_control": 0, "gre_packets": 0, "gre_to_calls": 0, "gre_socket": False}
call_ids = set()
next_call = [0]


def save(path):
    tmp = path + ".tmp"
    with lock:
        data = json.dumps(stats)
    with open(tmp, "w") as f:
        f.write(data)
    os.replace(tmp, path)


def msg(ctype, body):
    return struct.pack("!HHIHH", 12 + len(body), 1, MAGIC, ctype, 0) + body


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def control(conn):
    conn.settimeout(60)
    with lock:
        stats["control_connections"] += 1
    try:
        while True:
            h = recv_exact(conn, 12)
            if h is None:
                return
            length, mtype, magic, ctype, _ = struct.unpack("!HHIHH", h)
            if magic != MAGIC or length < 12 or length > MSG_MAX or mtype != 1:
                with lock:
                    stats["bad_control"] += 1
                return
            body = recv_exact(conn, length - 12)
            if body is None:
                return
            if ctype == 1:      # SCCRQ
                with lock:
                    stats["sccrq"] += 1
                conn.sendall(msg(2, struct.pack("!HBBIIHH", 0x0100, 1, 0, 3, 3, 1, 1) + b"resp".ljust(64, b"\0")
                                 + b"soak-test".ljust(64, b"\0")))
            elif ctype == 7 and len(body) >= 4:    # OCRQ
                peer = struct.unpack("!H", body[:2])[0]
                with lock:
                    stats["ocrq"] += 1
                    cid = CALL_ID_BASE + next_call[0] % 256
                    next_call[0] += 1
                    call_ids.add(cid)
                    stats["calls"] += 1
                conn.sendall(msg(8, struct.pack("!HHBBHIHHI", cid, peer, 1, 0, 0, 100000000, 64, 0, 0)))
            elif ctype == 5 and len(body) >= 4:    # Echo-Request
                with lock:
                    stats["echo_requests"] += 1
                conn.sendall(msg(6, body[:4] + b"\x01\x00\x00\x00"))
            elif ctype in (6, 14, 15):
                with lock:
                    stats["odd_control"] += 1
            else:
                with lock:
                    stats["bad_control"] += 1
    except OSError:
        return
    finally:
        conn.close()


def gre_counter(stop, plant_dir):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    except PermissionError:
        return
    with lock:
        stats["gre_socket"] = True
    while not stop.is_set():
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        pkt, addr = s.recvfrom(65535)
        if addr[0] != "127.0.0.1" or len(pkt) < 20:
            continue
        ihl = (pkt[0] & 0x0f) * 4
        g = pkt[ihl:]
        if plant_dir is not None:
            # A planted kernel "leak": a directory (dentry + inode, in the
            # host's Slab) kept for every GRE packet.
            os.mkdir(os.path.join(plant_dir, str(stats["gre_packets"])))
        with lock:
            stats["gre_packets"] += 1
            if len(g) >= 8 and g[1] & 0x07 == 1 and g[0] & 0x20 and struct.unpack("!H", g[6:8])[0] in call_ids:
                stats["gre_to_calls"] += 1
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--plant-slab-dir", help="mkdir a directory here per GRE packet (a kernel Slab leak to "
                    "calibrate against; the caller removes the directory)")
    args = ap.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    g = threading.Thread(target=gre_counter, args=(stop, args.plant_slab_dir), daemon=True)
    g.start()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(128)
    ls.settimeout(0.2)
    time.sleep(0.1)     # the GRE socket is open before anyone is told READY
    save(args.stats)
    print("READY %d" % ls.getsockname()[1], flush=True)
    end = time.monotonic() + args.max_seconds
    last = 0
    while not stop.is_set() and time.monotonic() < end:
        try:
            conn, _ = ls.accept()
            threading.Thread(target=control, args=(conn,), daemon=True).start()
        except (socket.timeout, OSError):
            pass
        if time.monotonic() - last > 0.2:
            save(args.stats)
            last = time.monotonic()
    stop.set()
    g.join(2)
    save(args.stats)
    ls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
