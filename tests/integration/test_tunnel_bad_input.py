"""Bad input for the tunnel service, over real sockets inside network
namespaces: every control message with a wrong magic cookie, message type
and length, unknown types, out-of-state messages, call-id reuse, the call
and error budgets; GRE with every bad field, unknown call ids, a wrong
source address, short packets; malformed PPP inside a valid GRE packet.
Every control message the server sends is parsed with scapy's PPTP layers
(Debian's /usr/bin/python3 has scapy 2.5) and every GRE packet with its
GRE_PPTP layer.  After each bad input the service still answers.
"""
import socket
import struct
import time

import pytest

from pptplib import (CtrlClient, FIXED, Topology, ccrq, ctrl_msg, ctrl_type, echorq, ocrq, rejects, sccrq,
                     start_ctrl, start_server, tunnel_calls, tunnel_status, wait_for, _ip)

scapy_pptp = pytest.importorskip("scapy.layers.pptp")
from scapy.all import GRE_PPTP, IP  # noqa: E402

SCAPY_CLASS = {
    1: "PPTPStartControlConnectionRequest", 2: "PPTPStartControlConnectionReply",
    3: "PPTPStopControlConnectionRequest", 4: "PPTPStopControlConnectionReply", 5: "PPTPEchoRequest",
    6: "PPTPEchoReply", 7: "PPTPOutgoingCallRequest", 8: "PPTPOutgoingCallReply",
    10: "PPTPIncomingCallReply", 13: "PPTPCallDisconnectNotify",
}


def scapy_check(m):
    """scapy's PPTP layer must parse m as its type, with the same length and bytes."""
    p = scapy_pptp.PPTP(m)
    t = ctrl_type(m)
    assert type(p).__name__ == SCAPY_CLASS[t], (type(p).__name__, t)
    assert p.magic_cookie == 0x1A2B3C4D and p.type == 1 and p.reserved_0 == 0
    assert p.len == len(m) == FIXED[t]
    assert len(p.payload) == 0, p.payload        # every byte belongs to a field
    # scapy 2.5's PPTPIncomingCallReply encodes 24 bytes but its length
    # field default is 148; parsing (what we check) is right.
    assert bytes(p)[:len(m)] == m
    return p


@pytest.fixture
def topo():
    t = Topology().up()
    yield t
    t.down()


@pytest.fixture
def server(holdfast, tmpdir_root, topo):
    return start_server(holdfast, topo, tmpdir_root, calls_max=2)


def alive(topo):
    """A fresh control connection still gets through the whole start."""
    c = start_ctrl(topo)
    c.send(echorq(77))
    m = c.recv_msg()
    assert m and ctrl_type(m) == 6
    scapy_check(m)
    c.close()


def test_fatal_framing_before_and_after_start(server, topo):
    # before the start: the connection is closed without a word
    for bad in (ctrl_msg(1, magic=0x1A2B3C4E), ctrl_msg(1, msg_type=2), ctrl_msg(1, length=11),
                ctrl_msg(1, length=221), b"\xff\xff" + b"\0" * 30):
        c = CtrlClient(topo.connect())
        c.send(bad)
        assert c.recv_msg() == b""
        c.close()
    # after it: Stop-Control-Connection-Request, then close
    for bad in (ctrl_msg(5, magic=0), ctrl_msg(5, msg_type=0), ctrl_msg(5, length=4),
                ctrl_msg(5, length=1000)):
        c = start_ctrl(topo)
        c.send(bad)
        m = c.recv_msg()
        assert m and ctrl_type(m) == 3, m
        scapy_check(m)
        assert c.recv_msg() == b""
        c.close()
    r = rejects(server)
    assert r["ctrl_bad_magic"] == 2 and r["ctrl_bad_msg_type"] == 2 and r["ctrl_bad_length"] >= 5
    alive(topo)


def test_every_length_wrong_keeps_step(server, topo):
    c = start_ctrl(topo)
    ident = 1000
    for t, size in sorted(FIXED.items()):
        for delta in (-1, 1):
            n = size + delta
            if n > 220:
                continue
            body = b"\0" * (n - 12)
            c.send(struct.pack("!HHIHH", n, 1, 0x1A2B3C4D, t, 0) + body)
            ident += 1
            c.send(echorq(ident))
            m = c.recv_msg()
            assert m and ctrl_type(m) == 6, (t, delta, m)
            assert struct.unpack("!I", m[12:16])[0] == ident
            scapy_check(m)
        # the error budget (16) is not reached within one type: a fresh
        # connection for the next ones keeps the test about lengths
        c.close()
        c = start_ctrl(topo)
    c.close()
    assert rejects(server)["ctrl_wrong_length"] == 29
    alive(topo)


def test_unknown_types_and_out_of_state(server, topo):
    c = start_ctrl(topo)
    for t in (0, 16, 255, 0xFFFF):
        c.send(struct.pack("!HHIHH", 16, 1, 0x1A2B3C4D, t, 0) + b"\0" * 4)
    c.send(ctrl_msg(5, reserved0=1))
    for t in (1, 2, 4, 6, 8, 10, 11, 13):           # replies never asked for, a PAC's messages
        c.send(ctrl_msg(t))
    c.send(ccrq(4242))                              # no such call
    c.send(echorq(5))
    m = c.recv_msg()
    assert m and ctrl_type(m) == 6 and m[12:16] == b"\0\0\0\5"
    r = rejects(server)
    assert r["ctrl_unknown_type"] == 4 and r["ctrl_reserved0"] == 1
    assert r["ctrl_out_of_state"] == 8 and r["ctrl_unknown_call"] == 1
    # one more error reaches the budget (16 per connection): StopCCRQ, close
    for _ in range(2):
        c.send(ctrl_msg(8))
    m = c.recv_msg()
    assert m and ctrl_type(m) == 3
    assert c.recv_msg() == b""
    # before the start, one out-of-state message ends the connection
    c = CtrlClient(topo.connect())
    c.send(ocrq(1))
    assert c.recv_msg() == b""
    alive(topo)


def test_calls_reuse_budget_and_icrq(server, topo):
    c = start_ctrl(topo)
    c.send(ocrq(5))
    m = c.recv_msg()
    p = scapy_check(m)
    assert p.result_code == 1 and p.peer_call_id == 5
    ours = p.call_id
    c.send(ocrq(5))                                  # call-id reuse
    p = scapy_check(c.recv_msg())
    assert p.result_code == 2 and p.error_code == 3
    c.send(ocrq(6, phone_len=65))                    # phone number longer than its field
    p = scapy_check(c.recv_msg())
    assert p.result_code == 2
    c.send(ocrq(6))
    p = scapy_check(c.recv_msg())
    assert p.result_code == 1 and p.call_id != ours
    c.send(ocrq(7))                                  # calls_max = 2
    p = scapy_check(c.recv_msg())
    assert p.result_code == 4
    assert len(tunnel_calls(server)) == 2
    c.send(ctrl_msg(9, struct.pack("!HH", 99, 1)))  # Incoming-Call-Request: refused
    p = scapy_check(c.recv_msg())
    assert p.result_code == 3 and p.peer_call_id == 99
    c.send(ccrq(5))
    p = scapy_check(c.recv_msg())
    assert type(p).__name__ == "PPTPCallDisconnectNotify" and p.call_id == 5 and p.result_code == 4
    assert len(tunnel_calls(server)) == 1
    c.send(ctrl_msg(3))                              # Stop-Control-Connection
    p = scapy_check(c.recv_msg())
    assert p.result_code == 1
    assert c.recv_msg() == b""
    wait_for(lambda: tunnel_status(server)["calls"] == 0, 5, what="calls closed with the connection")
    st = tunnel_status(server)
    assert st["pool_used"] == 0
    r = rejects(server)
    assert r["ctrl_call_id_reuse"] == 1 and r["ctrl_calls_max"] == 1 and r["ctrl_icrq_refused"] == 1


def test_version_refused(server, topo):
    c = CtrlClient(topo.connect())
    c.send(sccrq(version=0x0200))
    p = scapy_check(c.recv_msg())
    assert p.result_code == 5
    assert c.recv_msg() == b""


# ---------------------------------------------------------------- GRE

def gre(call_id, payload=b"", seq=None, ack=None, version=1, flags0=None, proto=0x880B, length=None):
    f0 = 0x20 | (0x10 if seq is not None else 0)
    f1 = version | (0x80 if ack is not None else 0)
    if flags0 is not None:
        f0 = flags0
    h = struct.pack("!BBHHH", f0, f1, proto, len(payload) if length is None else length, call_id)
    if seq is not None:
        h += struct.pack("!I", seq)
    if ack is not None:
        h += struct.pack("!I", ack)
    return h + payload


LCP_CONF_REQ = b"\xff\x03\xc0\x21\x01\x07\x00\x0a\x05\x06\x11\x22\x33\x44"


def recv_gre(sock, call_id, timeout=3.0):
    """GRE packets the server sends to us (in the client namespace)."""
    out = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            d = sock.recv(4096)
        except socket.timeout:
            break
        p = IP(d)
        g = p[GRE_PPTP]
        assert g.version == 1 and g.proto == 0x880B and g.key_present == 1
        assert g.payload_len == len(bytes(g.payload))
        if g.call_id == call_id:
            out.append(g)
    return out


def test_gre_bad_input(server, topo):
    c = start_ctrl(topo)
    c.send(ocrq(321))
    p = scapy_check(c.recv_msg())
    ours = p.call_id
    s = topo.raw_gre()
    dst = (topo.server_ip, 0)
    # the server's LCP Configure-Request arrives, numbered, for our call id
    first = recv_gre(s, 321)
    assert first and first[0].seqnum_present == 1

    base = tunnel_status(server)
    s.sendto(gre(ours, LCP_CONF_REQ, seq=1, version=0), dst)            # version 0
    s.sendto(gre(ours, LCP_CONF_REQ, seq=2, flags0=0x30 | 0x80), dst)   # checksum flag
    s.sendto(gre(ours, LCP_CONF_REQ, seq=3, flags0=0x10), dst)          # key missing
    s.sendto(gre(ours, LCP_CONF_REQ, seq=4, proto=0x0800), dst)         # not PPP
    s.sendto(gre(ours, LCP_CONF_REQ, seq=5, length=200), dst)           # payload length wrong
    s.sendto(gre(ours, LCP_CONF_REQ, seq=6, length=3), dst)
    s.sendto(gre(ours)[:6], dst)                                         # short
    s.sendto(b"\x20", dst)
    s.sendto(gre(ours, LCP_CONF_REQ)[:8] + LCP_CONF_REQ, dst)          # payload, no sequence number
    s.sendto(gre(ours ^ 0x0800, LCP_CONF_REQ, seq=7), dst)              # unknown call id
    s.sendto(gre(4095, LCP_CONF_REQ, seq=8), dst)
    wait_for(lambda: tunnel_status(server)["gre_in"] >= base["gre_in"] + 11, 5, what="GRE counted")
    st = tunnel_status(server)
    assert st["gre_bad"] - base["gre_bad"] == 9
    assert st["gre_unknown_call"] - base["gre_unknown_call"] == 2
    r = rejects(server)
    for reason in ("gre_bad_version", "gre_bad_flags", "gre_bad_protocol", "gre_bad_length", "gre_short",
                   "gre_unknown_call"):
        assert r.get(reason, 0) >= 1, (reason, r)

    # from another address of the client namespace: wrong source
    other = topo.client_ip.rsplit(".", 1)[0] + ".3"
    _ip("-n", topo.client_ns, "addr", "add", other + "/24", "dev", topo.veth_c)
    with topo.inside(topo.client_ns):
        s2 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_GRE)
        s2.bind((other, 0))
    s2.sendto(gre(ours, LCP_CONF_REQ, seq=9), dst)
    wait_for(lambda: tunnel_status(server)["gre_wrong_source"] == 1, 5, what="wrong source counted")
    s2.close()

    # a valid packet still reaches PPP: an answer for our identifier 7
    s.sendto(gre(ours, LCP_CONF_REQ, seq=10, ack=0), dst)
    got = recv_gre(s, 321)
    lcp = [bytes(g.payload) for g in got if g.payload_len > 0]
    assert any(f[:4] == b"\xff\x03\xc0\x21" and f[4] in (2, 3, 4) and f[5] == 7 for f in lcp), [f.hex() for f in lcp]
    # a duplicate sequence number is dropped, not queued
    s.sendto(gre(ours, LCP_CONF_REQ, seq=10), dst)
    wait_for(lambda: tunnel_status(server)["gre_duplicates"] == 1, 5, what="duplicate counted")
    # an ack-only packet is fine
    s.sendto(gre(ours, ack=1), dst)

    # malformed PPP inside valid GRE: counted by PPP, the call goes on
    seq = 11
    for bad in (b"\xff", b"\xff\x03", b"\xff\x03\xc0\x21\x01", b"\xff\x03\xc0\x21\x01\x01\xff\xff",
                b"\xff\x03\xc0\x21\x01\x01\x00\x02", b"\xff\x03\x80\x21\x01\x01\x00\x64\x03",
                b"\xff\x03\x12\x35" + b"x" * 10):
        s.sendto(gre(ours, bad, seq=seq), dst)
        seq += 1
    s.sendto(gre(ours, LCP_CONF_REQ.replace(b"\x01\x07", b"\x01\x08", 1), seq=seq), dst)
    got = recv_gre(s, 321)
    lcp = [bytes(g.payload) for g in got if g.payload_len > 0]
    assert any(f[:4] == b"\xff\x03\xc0\x21" and f[4] in (2, 3, 4) and f[5] == 8 for f in lcp), [f.hex() for f in lcp]
    assert len(tunnel_calls(server)) == 1
    s.close()
    c.close()
    alive(topo)


def test_silent_client_and_handshake_timeout(holdfast, tmpdir_root, topo):
    h = start_server(holdfast, topo, tmpdir_root, handshake_timeout="1s")
    silent = CtrlClient(topo.connect())
    # another client is served at once, the silent one does not hold the accept
    t0 = time.monotonic()
    alive(topo)
    assert time.monotonic() - t0 < 5
    # and the silent one is closed once its handshake time is over
    assert silent.closed(timeout=10)
    assert rejects(h)["handshake_timeout"] == 1
    # a client that stops in the middle of a message is closed the same way
    half = CtrlClient(topo.connect())
    half.send(sccrq()[:100])
    assert half.closed(timeout=10)
    assert rejects(h)["handshake_timeout"] == 2


def test_slow_consumer_back_pressure(server, topo):
    """20,000 Echo-Requests sent without reading a reply: the server stops
    reading while its write budget (4k) is half full, loses nothing, and
    answers every one once we read."""
    c = start_ctrl(topo)
    n = 20000
    # a small receive buffer: the replies pile up in the server's queue
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sock.setblocking(True)
    blob = b"".join(echorq(i) for i in range(n))
    import threading
    t = threading.Thread(target=c.sock.sendall, args=(blob,))
    t.start()
    time.sleep(1.0)
    st = server.service("tunnel")
    assert st["connections"] == 1
    got = 0
    while got < n:
        m = c.recv_msg(timeout=10)
        assert m, "reply %d missing" % got
        assert ctrl_type(m) == 6 and struct.unpack("!I", m[12:16])[0] == got
        got += 1
    t.join(10)
    assert "ctrl_write_failed" not in rejects(server)
    c.close()
