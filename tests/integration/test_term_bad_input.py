"""term service: hostile RDP input against a running holdfastd.

Every PDU of the connection sequence, sent truncated, with each length
field one too large and one too small, out of order, or as garbage after
TLS; an oversized routing cookie; unknown and too many capability sets;
a slow sender.  Each time the connection must get the right answer (the
X.224 negotiation failure for standard RDP security, otherwise a close
without a reply), and afterwards the term worker must be the same process
and a well-formed connection (bytes captured from xfreerdp 2.11) must
still complete the whole sequence and receive bitmap updates.  The
client here is a small scripted one over python's ssl: the real clients
are in test_term_clients.py."""
import os
import socket
import ssl
import struct
import time

import pytest

from conftest import wait_for, free_port, pid_alive

# PDUs captured from xfreerdp 2.11 (/sec:tls /u:alice /p:secret /w:800
# /h:600) against holdfast, decrypted (the same bytes as
# tests/unit/rdp_captured.h).  Its 4 static channels make our user
# channel 1008, which its Send Data Requests name as initiator.
XF_CR = bytes.fromhex(
    "0300002b26e00000000000436f6f6b69653a206d737473686173683d616c6963650d0a0100080001000000")
XF_MCS_CI = bytes.fromhex(
    "030001c302f0807f658201b70401010401010101ff301a020122020102020100020101020100020101020300ffff0201"
    "023019020101020101020101020101020100020101020204200201023020020300ffff020300fc17020300ffff020101"
    "020100020101020300ffff02010204820151000500147c00018148000800100001c00044756361813a01c0ea000c0008"
    "002003580201ca03aa09040000bb47000076006d00000000000000000000000000000000000000000000000000000000"
    "0004000000000000000c0000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000001ca01000000000018000f00e3050000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000007000100000000000000000000000000000000000000000004c00c000d0000000000000002"
    "c00c00000000000000000003c03800040000007264706472000000000080c0726470736e640000000000c0636c697072"
    "6472000000a0c0647264796e766300000080c0")
XF_ERECT = bytes.fromhex(
    "0300000c02f0800401000100")
XF_ATTACH = bytes.fromhex(
    "0300000802f08028")
XF_CLIENT_INFO = bytes.fromhex(
    "0300015502f08064000703eb7081464000000000000000fb470b0000000a000c0000000000000061006c006900630065"
    "000000730065006300720065007400000000000000020014003100320037002e0030002e0030002e0031000000400043"
    "003a005c00570069006e0064006f00770073005c00530079007300740065006d00330032005c006d0073007400730063"
    "00610078002e0064006c006c0000000000000043006f006f007200640069006e006100740065006400200055006e0069"
    "00760065007200730061006c002000540069006d00650000000000000000000000000000000000000000000000000000"
    "0000000000000043006f006f007200640069006e006100740065006400200055006e006900760065007200730061006c"
    "002000540069006d00650000000000000000000000000000000000000000000000000000000000000000000000000080"
    "0100000000")
XF_CONFIRM_ACTIVE = bytes.fromhex(
    "030001c902f08064000703eb7081baba011300f003ea030100ea030800a2014652454552445000100000000100180004"
    "0007000002000000000504000000000000010102001c0010000100010001002003580200000100010000000100000003"
    "0058000000000000000000000000000000000000000000010014000000010000002a0000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000084030000000000e9fd0000130028000200000558"
    "0200005802000000080000001000000008000000000000000000000000000008000a000100140014000d0058003d0000"
    "000904000004000000000000000c00000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000f0008000200000010003400fe0004"
    "00fe000400fe000800fe000800fe001000fe002000fe004000fe008000fe00000140000001000100010000000014000c"
    "0000000000400600000c0008000100000009000800000000000e0008000100000005000c0000000000020002000a0008"
    "000600000007000c0000000000000000001a000800ffff0000")
XF_SYNC = bytes.fromhex(
    "0300002502f08064000703eb70801616001700f003ea030100000104001f0000000100ea03")
XF_CONTROL_COOP = bytes.fromhex(
    "0300002902f08064000703eb70801a1a001700f003ea03010000010800140000000400000000000000")
XF_CONTROL_REQ = bytes.fromhex(
    "0300002902f08064000703eb70801a1a001700f003ea03010000010800140000000100000000000000")
XF_FONT_LIST = bytes.fromhex(
    "0300002902f08064000703eb70801a1a001700f003ea03010000010800270000000000000003003200")

IO_CHANNEL = 1003
SHARE_ID = 0x000103EA
HANDSHAKE_S = 2


def tpkt(payload):
    """TPKT + X.224 Data TPDU around an MCS PDU."""
    return b"\x03\x00" + struct.pack(">H", len(payload) + 7) + b"\x02\xf0\x80" + payload


def sdr(user, channel, data):
    """MCS Send Data Request (PER length always in its 2-byte form)."""
    return tpkt(b"\x64" + struct.pack(">HH", user - 1001, channel) + b"\x70" +
                struct.pack(">H", 0x8000 | len(data)) + data)


def share_data(type2, body, source=1008):
    total = 18 + len(body)
    return (struct.pack("<HHHIBBHBBH", total, 0x17, source, SHARE_ID, 0, 1, len(body), type2, 0, 0) + body)


def with_byte(b, off, delta):
    c = bytearray(b)
    c[off] = (c[off] + delta) & 0xFF
    return bytes(c)


class Rdp:
    """A scripted RDP client: TLS via python's ssl, PDUs from the captures."""

    def __init__(self, port, timeout=5.0, source=None):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as real clients do
        self.tls = None
        self.buf = b""
        self.user = 1008
        self.channels = []

    @property
    def s(self):
        return self.tls or self.sock

    def send(self, data):
        self.s.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed by server")
            self.buf += d

    def recv_pdu(self):
        """One TPKT or fast-path output PDU."""
        self._fill(1)
        if self.buf[0] == 3:
            self._fill(4)
            n = struct.unpack(">H", self.buf[2:4])[0]
        else:
            self._fill(2)
            if self.buf[1] & 0x80:
                self._fill(3)
                n = (self.buf[1] & 0x7F) << 8 | self.buf[2]
            else:
                n = self.buf[1]
        self._fill(n)
        pdu, self.buf = self.buf[:n], self.buf[n:]
        return pdu

    def closed_by_server(self, timeout=5.0):
        """True once the server closes (EOF or reset) within timeout,
        discarding whatever it sends before."""
        self.s.settimeout(timeout)
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                d = self.s.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, ssl.SSLEOFError):
            return True
        except socket.timeout:
            return False
        return False

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.tls = ctx.wrap_socket(self.sock)

    # ---- steps of the sequence ----

    def cr(self, pdu=XF_CR):
        self.send(pdu)
        cc = self.recv_pdu()
        assert cc[5] == 0xD0 and cc[11] == 2 and cc[15] == 1, cc.hex()   # CC, RDP_NEG_RSP, SSL
        self.starttls()

    def mcs(self, pdu=XF_MCS_CI):
        self.send(pdu)
        self.connect_response(self.recv_pdu())

    def connect_response(self, r):
        assert r[7:9] == b"\x7f\x66", r.hex()
        i = r.index(b"\x03\x0c")                       # SC_NET
        io, n = struct.unpack("<HH", r[i + 4:i + 8])
        assert io == IO_CHANNEL
        self.channels = list(struct.unpack("<%dH" % n, r[i + 8:i + 8 + 2 * n]))

    def attach(self):
        self.send(XF_ERECT)
        self.send(XF_ATTACH)
        r = self.recv_pdu()
        assert r[7] == 0x2E and r[8] == 0, r.hex()
        self.user = struct.unpack(">H", r[9:11])[0] + 1001

    def join(self):
        for ch in [self.user, IO_CHANNEL] + self.channels:
            self.send(tpkt(b"\x38" + struct.pack(">HH", self.user - 1001, ch)))
            r = self.recv_pdu()
            assert r[7] == 0x3E and r[8] == 0 and struct.unpack(">H", r[13:15])[0] == ch, r.hex()

    def info(self, pdu=XF_CLIENT_INFO):
        self.send(pdu)
        lic = self.recv_pdu()
        assert lic[15:17] == b"\x80\x00" and lic[19] == 0xFF, lic.hex()    # licence error alert
        da = self.recv_pdu()
        assert struct.unpack("<H", da[17:19])[0] & 0xF == 1, da.hex()      # Demand Active
        return da

    def finalize(self, confirm=XF_CONFIRM_ACTIVE):
        self.send(confirm)
        for p in (XF_SYNC, XF_CONTROL_COOP, XF_CONTROL_REQ, XF_FONT_LIST):
            self.send(p)
        seen = []
        while len(seen) < 4:
            r = self.recv_pdu()
            if r[0] != 3:
                continue                                   # an early fast-path update
            seen.append(r[15 + 14])                        # pduType2
        assert seen == [0x1F, 0x14, 0x14, 0x28], seen      # sync, cooperate, granted, font map

    def connect(self, info=XF_CLIENT_INFO):
        self.cr()
        self.mcs()
        self.attach()
        self.join()
        self.info(info)
        self.finalize()
        return self

    def wait_update(self, timeout=10):
        """Reads until a bitmap update arrives (fast-path: xfreerdp offers it)."""
        self.s.settimeout(timeout)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r = self.recv_pdu()
            if r[0] == 0 and r[3] & 0x0F == 1:
                return r
        raise AssertionError("no bitmap update")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def term_conf(port, cert, key, **extra):
    d = {"enable": "yes", "listen": "127.0.0.1:%d" % port, "user": "nobody", "memory_max": "256m",
         "tls_cert": cert, "tls_key": key, "handshake_timeout": "%ds" % HANDSHAKE_S,
         "max_connections_per_address": "64"}
    d.update({k: str(v) for k, v in extra.items()})
    return d


def _term(holdfast, certs, **extra):
    port = free_port()
    h = holdfast({"term": term_conf(port, *certs, **extra)})
    h.port = port
    h.pid0 = h.service("term")["pid"]
    yield h
    # After whatever the test sent: the same worker, and a good client works.
    assert h.service("term")["pid"] == h.pid0
    good = Rdp(port).connect()
    good.wait_update()
    good.close()
    assert h.service("term")["pid"] == h.pid0


@pytest.fixture
def term(holdfast, certs):
    """The default: connect_pipeline = yes."""
    yield from _term(holdfast, certs)


@pytest.fixture
def strict_term(holdfast, certs):
    """connect_pipeline = no: every answer waits for its request."""
    yield from _term(holdfast, certs, connect_pipeline="no")


@pytest.fixture(params=["pipelined", "strict"])
def any_term(request):
    return request.getfixturevalue("term" if request.param == "pipelined" else "strict_term")


def rejects(h):
    svc = h.service("term")
    rej = svc.get("rejected", {})
    if isinstance(rej, list):
        return {r["name"]: r["count"] for r in rej}
    return rej


def expect_close(c, what):
    assert c.closed_by_server(5), "server did not close after %s" % what
    c.close()


# ---- before TLS ----

def test_standard_security_refused(term):
    """Protocol 0 gets RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER, then a close."""
    c = Rdp(term.port)
    c.send(bytes.fromhex("030000130ee000000000000100080000000000"))
    r = c.recv_pdu()
    assert r == bytes.fromhex("030000130ed000001234000300080001000000")
    expect_close(c, "the negotiation failure")
    # No negotiation request at all (a pre-RDP 5 client): the same answer.
    c = Rdp(term.port)
    c.send(bytes.fromhex("0300000b06e00000000000"))
    assert c.recv_pdu()[11] == 3
    expect_close(c, "the negotiation failure")
    assert rejects(term).get("rdp_ssl_required", 0) >= 2


def test_connection_request_lengths(term):
    """TPKT length, LI and the negotiation request's length, each +-1;
    every truncation that the server can tell is one (it closes), and a
    truncation it cannot (it waits: the handshake timer closes)."""
    cases = []
    for off in (3, 4, 37):
        for d in (-1, 1):
            cases.append(("len@%d%+d" % (off, d), with_byte(XF_CR, off, d)))
    cases.append(("type", with_byte(XF_CR, 5, 0x10)))
    cases.append(("neg type", with_byte(XF_CR, 35, 1)))
    cases.append(("trailing", XF_CR[:3] + bytes([XF_CR[3] + 1, XF_CR[4] + 1]) + XF_CR[5:] + b"\x00"))
    cases.append(("tiny tpkt", b"\x03\x00\x00\x04"))
    cases.append(("not tpkt", b"GET / HTTP/1.1\r\n\r\n"))
    for what, pdu in cases:
        c = Rdp(term.port)
        if what == "len@3+1":
            # Says one byte more than it sends: the server must wait...
            c.send(pdu)
            assert not c.closed_by_server(0.5), "closed before the PDU was complete"
            # ... until the handshake timer.
            expect_close(c, "an incomplete connection request (handshake timeout)")
            continue
        c.send(pdu)
        expect_close(c, what)
    assert rejects(term).get("rdp_x224", 0) >= 5
    assert rejects(term).get("handshake_timeout", 0) >= 1


def test_oversized_cookie(term):
    """A routing cookie over RDP_COOKIE_MAX_BYTES (128), and one without
    its CRLF, are refused without a Connection Confirm; 120 bytes pass."""
    def cr(cookie, crlf=True):
        body = b"\xe0\x00\x00\x00\x00\x00" + cookie + (b"\r\n" if crlf else b"") + bytes.fromhex("0100080001000000")
        return b"\x03\x00" + struct.pack(">H", len(body) + 5) + bytes([len(body)]) + body

    c = Rdp(term.port)
    c.send(cr(b"Cookie: mstshash=" + b"u" * 103))          # 120 bytes
    r = c.recv_pdu()
    assert r[11] == 2
    c.close()
    for cookie, crlf in ((b"Cookie: mstshash=" + b"u" * 200, True), (b"Cookie: mstshash=alice", False)):
        c = Rdp(term.port)
        c.send(cr(cookie, crlf))
        expect_close(c, "a bad cookie")
    # A cookie far beyond any TPKT we accept before TLS.
    c = Rdp(term.port)
    big = b"Cookie: mstshash=" + b"u" * 3000 + b"\r\n"
    c.send(b"\x03\x00" + struct.pack(">H", len(big) + 11) + b"\x06\xe0\x00\x00\x00\x00\x00" + big)
    expect_close(c, "a 3000-byte cookie")
    assert rejects(term).get("rdp_x224", 0) + rejects(term).get("rdp_tpkt", 0) >= 3


def test_slow_sender(term):
    """One byte per second: the handshake timer closes the connection
    long before a Connection Request could complete."""
    c = Rdp(term.port)
    t0 = time.monotonic()
    closed = False
    for b in XF_CR:
        try:
            c.send(bytes([b]))
        except OSError:
            closed = True
            break
        if c.closed_by_server(1.0):
            closed = True
            break
    assert closed
    assert time.monotonic() - t0 < HANDSHAKE_S + 3
    c.close()


# ---- after TLS ----

def test_garbage_after_tls(term):
    for junk in (os.urandom(64), b"\x03\x00\x00\x07\x02\xf0\x80", b"\xff" * 10, b"\x03" + os.urandom(300)):
        c = Rdp(term.port)
        c.cr()
        c.send(junk)
        expect_close(c, "garbage after TLS")
    # A fast-path PDU before the connection sequence allows it.
    c = Rdp(term.port)
    c.cr()
    c.send(bytes.fromhex("048005001e"))
    expect_close(c, "fast-path input before the capabilities")


def test_mcs_connect_initial_lengths(term):
    """BER lengths of the Connect-Initial +-1, GCC's PER lengths and block
    lengths +-1, too many channels; each closes the connection."""
    d = 7          # TPKT + X.224 DT
    cases = [(o, dl) for o in (d + 4, d + 6, d + 9, d + 12, d + 15, d + 17) for dl in (-1, 1)]
    ud = XF_MCS_CI.index(bytes.fromhex("00050014 7c0001".replace(" ", "")))
    cases += [(ud + 8, -1), (ud + 8, 1), (ud + 22, -1), (ud + 22, 1)]
    b0 = ud + 23
    cases += [(b0 + 2, -1), (b0 + 2, 1)]                     # core block length
    for off, dl in cases:
        c = Rdp(term.port)
        c.cr()
        c.send(with_byte(XF_MCS_CI, off, dl))
        expect_close(c, "Connect-Initial with byte %d %+d" % (off, dl))
    # 32 channels: over RDP_CHANNELS_MAX (31).
    net = XF_MCS_CI.index(b"\x03\xc0")
    n = 32
    block = b"\x03\xc0" + struct.pack("<HI", 8 + 12 * n, n) + (b"chan\0\0\0\0" + b"\0\0\0\x80") * n
    pdu = bytearray(XF_MCS_CI[:net] + block)
    grow = len(pdu) - len(XF_MCS_CI)
    for (pos, width) in ((2, 2), (d + 3, 2), (ud - 2, 2), (ud + 7, 2), (ud + 21, 2)):
        v = struct.unpack(">H", pdu[pos:pos + 2])[0]
        v = ((v & 0x3FFF) + grow) | (v & 0xC000) if pos >= ud else v + grow
        pdu[pos:pos + 2] = struct.pack(">H", v)
    c = Rdp(term.port)
    c.cr()
    c.send(bytes(pdu))
    expect_close(c, "32 channels")
    assert rejects(term).get("rdp_mcs", 0) >= 6
    assert rejects(term).get("rdp_gcc", 0) >= 4


def test_out_of_order(any_term):
    term = any_term

    def at_mcs():
        c = Rdp(term.port)
        c.cr()
        c.mcs()
        return c

    # Attach User before Erect Domain.
    c = at_mcs()
    c.send(XF_ATTACH)
    expect_close(c, "attach before erect")
    # Client Info before the channels are joined.
    c = at_mcs()
    c.attach()
    c.send(XF_CLIENT_INFO)
    expect_close(c, "client info before channel join")
    # Confirm Active in place of the Client Info.
    c = at_mcs()
    c.attach()
    c.join()
    c.send(XF_CONFIRM_ACTIVE)
    expect_close(c, "confirm active before client info")
    # A second Connect-Initial; a join of a channel twice; of an unknown one.
    c = at_mcs()
    c.send(XF_MCS_CI)
    expect_close(c, "connect initial twice")
    c = at_mcs()
    c.attach()
    j = tpkt(b"\x38" + struct.pack(">HH", c.user - 1001, c.user))
    c.send(j)
    c.recv_pdu()
    c.send(j)
    expect_close(c, "join twice")
    c = at_mcs()
    c.attach()
    c.send(tpkt(b"\x38" + struct.pack(">HH", c.user - 1001, 2000)))
    expect_close(c, "join of an unknown channel")
    # Send Data on a channel nobody joined, and from another initiator.
    c = at_mcs()
    c.attach()
    c.join()
    c.send(sdr(c.user, 1500, b"\x00" * 8))
    expect_close(c, "send data on an unknown channel")
    # Attach and client info too early are order errors; the Confirm
    # Active where the Client Info belongs fails as a Client Info.
    assert rejects(term).get("rdp_order", 0) >= 2
    assert rejects(term).get("rdp_info", 0) >= 1


def test_client_info_lengths(term):
    """cbDomain .. cbWorkingDir +-2 (odd +-1 too), over the 512-byte
    limit, a truncated Client Info: each closes before any licence PDU."""
    base = 15          # TPKT, X.224, SDR header with 2-byte length
    for field in range(5):
        for dl in (-2, -1, 1, 2):
            off = base + 12 + 2 * field
            if XF_CLIENT_INFO[off] + dl < 0:
                continue
            c = Rdp(term.port)
            c.cr()
            c.mcs()
            c.attach()
            c.join()
            c.send(with_byte(XF_CLIENT_INFO, off, dl))
            expect_close(c, "client info field %d %+d" % (field, dl))
    c = Rdp(term.port)
    c.cr()
    c.mcs()
    c.attach()
    c.join()
    body = bytearray(XF_CLIENT_INFO[base:])
    body[14:16] = struct.pack("<H", 514)
    c.send(sdr(c.user, IO_CHANNEL, bytes(body)))
    expect_close(c, "a 514-byte user name")
    c = Rdp(term.port)
    c.cr()
    c.mcs()
    c.attach()
    c.join()
    c.send(sdr(c.user, IO_CHANNEL, XF_CLIENT_INFO[base:base + 30]))
    expect_close(c, "a truncated client info")
    assert rejects(term).get("rdp_info", 0) >= 10


def confirm_with(extra_sets, count_delta=0, comb_delta=0):
    """The captured Confirm Active with sets appended (lengths fixed up)."""
    base = 15
    body = bytearray(XF_CONFIRM_ACTIVE[base:])
    body += extra_sets
    n = struct.unpack("<H", body[24:26])[0]
    body[24:26] = struct.pack("<H", n + count_delta)
    comb = struct.unpack("<H", body[14:16])[0]
    body[14:16] = struct.pack("<H", comb + len(extra_sets) + comb_delta)
    body[0:2] = struct.pack("<H", len(body))
    return sdr(1008, IO_CHANNEL, bytes(body))


def test_unknown_capability_sets(term):
    """Unknown sets are skipped: the sequence completes and updates come."""
    c = Rdp(term.port)
    c.cr()
    c.mcs()
    c.attach()
    c.join()
    c.info()
    sets = b"".join(struct.pack("<HH", t, 12) + b"\xaa" * 8 for t in (0x77, 0x1234, 0xFFFF))
    c.finalize(confirm_with(sets, count_delta=3))
    c.wait_update()
    c.close()


def test_capability_set_lengths(term):
    cases = [
        ("count over the limit", confirm_with(b"", count_delta=40)),
        ("a set of length 3", confirm_with(struct.pack("<HH", 0x77, 3), count_delta=1)),
        ("a set longer than the rest", confirm_with(struct.pack("<HH", 0x77, 400), count_delta=1)),
        ("combined length too large", confirm_with(b"", comb_delta=1000)),
        ("a short bitmap set", confirm_with(struct.pack("<HH", 2, 8) + b"\x10\x00\x01\x00", count_delta=1)),
    ]
    for what, pdu in cases:
        c = Rdp(term.port)
        c.cr()
        c.mcs()
        c.attach()
        c.join()
        c.info()
        c.send(pdu)
        expect_close(c, what)
    assert rejects(term).get("rdp_caps", 0) >= len(cases)


def test_truncated_pdu_after_tls(term):
    """Half a Client Info, then silence: closed by the handshake timer."""
    c = Rdp(term.port)
    c.cr()
    c.mcs()
    c.attach()
    c.join()
    c.send(XF_CLIENT_INFO[:100])
    assert not c.closed_by_server(0.5)
    expect_close(c, "a half-sent PDU (handshake timeout)")


def test_active_session_input(term):
    """After login: input of every kind, a wheel, refresh and suppress,
    bad input PDUs close; a shutdown request is denied; an ultimatum
    ends the connection."""
    c = Rdp(term.port).connect()
    c.wait_update()
    u = c.user
    # Fast-path: key down/up, unicode "日", sync, mouse wheel.
    c.send(bytes.fromhex("048005001e") + bytes.fromhex("048005011e"))
    c.send(bytes.fromhex("048006") + b"\x80" + struct.pack("<H", 0x65E5))
    c.send(bytes.fromhex("0480046000".replace("6000", "60")))
    c.send(bytes.fromhex("04800a") + b"\x20" + struct.pack("<HHH", 0x0278, 10, 10))
    # Slow-path: a scancode and a wheel event.
    ev = struct.pack("<IHHHH", 0, 4, 0x4000, 0x1E, 0) + struct.pack("<IHHHH", 0, 0x8001, 0x0288, 5, 5)
    c.send(sdr(u, IO_CHANNEL, share_data(0x1C, struct.pack("<HH", 2, 0) + ev)))
    # Refresh rect, suppress output off and on.
    c.send(sdr(u, IO_CHANNEL, share_data(0x21, b"\x01\x00\x00\x00" + struct.pack("<HHHH", 0, 0, 99, 99))))
    c.send(sdr(u, IO_CHANNEL, share_data(0x23, b"\x00\x00\x00\x00")))
    c.send(sdr(u, IO_CHANNEL, share_data(0x23, b"\x01\x00\x00\x00" + struct.pack("<HHHH", 0, 0, 799, 599))))
    c.wait_update()
    # Shutdown request: denied.
    c.send(sdr(u, IO_CHANNEL, share_data(0x24, b"")))
    end = time.monotonic() + 5
    while True:
        r = c.recv_pdu()
        if r[0] == 3 and len(r) > 29 and r[29] == 0x25:
            break
        assert time.monotonic() < end, "no shutdown denied"
    # Disconnect provider ultimatum: the server closes.
    c.send(tpkt(b"\x21\x80"))
    expect_close(c, "the ultimatum")

    for what, pdu in (
        ("fast-path numEvents too large", bytes.fromhex("088005001e")),
        ("fast-path encrypted", bytes.fromhex("848005001e")),
        ("fast-path unknown event", bytes.fromhex("04800400")[:3] + b"\xe0"),
        ("slow-path numEvents too large", sdr(1008, IO_CHANNEL, share_data(0x1C, struct.pack("<HH", 3, 0) + ev))),
        ("share totalLength too large", sdr(1008, IO_CHANNEL, b"\xff" + share_data(0x1C, b"")[1:])),
        ("compressed share data", sdr(1008, IO_CHANNEL, share_data(0x1C, b"")[:15] + b"\x20\x00\x00")),
    ):
        c = Rdp(term.port).connect()
        c.send(pdu)
        expect_close(c, what)
    assert rejects(term).get("rdp_fastpath", 0) >= 3


def test_many_connections_flood(term):
    """A round of every kind of bad PDU over 8 connections at once, while
    a good client connects: it completes and the worker's region returns
    near its baseline once they are closed."""
    base = term.service("term")["region_bytes"]
    bad = [XF_CR[:20], with_byte(XF_CR, 3, 5), b"\x03\x00\xff\xff" + b"\x00" * 100, os.urandom(50)]
    conns = []
    for i in range(8):
        c = Rdp(term.port)
        c.send(bad[i % len(bad)])
        conns.append(c)
    good = Rdp(term.port).connect()
    good.wait_update()
    good.close()
    for c in conns:
        c.close()
    wait_for(lambda: term.service("term")["connections"] == 0, 10, what="connections to close")
    # The session of the good connection ends after its disconnect; give it a moment.
    wait_for(lambda: term.service("term")["region_bytes"] <= base + 64 * 1024, 10,
             what="worker region back near %d (now %d)" % (base, term.service("term")["region_bytes"]))


def test_session_end_disconnects(holdfast, certs):
    """When the session ends (here: its one login attempt failed), the
    server sends Set Error Info and an MCS ultimatum, then closes, also
    when the session ended before the connection sequence was over (the
    disconnect then waits for the font list); the worker goes on."""
    port = free_port()
    h = holdfast({"term": term_conf(port, *certs, login_attempts_max=1)})
    pid = h.service("term")["pid"]
    for _ in range(3):
        c = Rdp(port).connect()          # alice / secret: no such user
        got_errinfo = got_ultimatum = False
        c.s.settimeout(15)
        try:
            while True:
                r = c.recv_pdu()
                if r[0] == 3 and len(r) > 29 and r[29] == 0x2F:
                    got_errinfo = True
                if r[0] == 3 and r[7:9] == b"\x20\x80":
                    got_ultimatum = True
        except (EOFError, ConnectionResetError, ssl.SSLError):
            pass
        assert got_errinfo and got_ultimatum
        c.close()
        assert h.service("term")["pid"] == pid


def test_slow_reader(term):
    """A client that asks for 2000 full redraws and does not read: the
    redraws coalesce in the screen's damage map and updates stop at half
    the write budget (polled until the queue drains), so the worker's
    memory stays bounded (the font alone is 2 MB), nothing is closed for
    a full queue, others are served, and the client gets its screen once
    it reads again."""
    c = Rdp(term.port).connect()
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    refresh = sdr(c.user, IO_CHANNEL, share_data(0x21, b"\x01\x00\x00\x00" + struct.pack("<HHHH", 0, 0, 799, 599)))
    c.s.settimeout(0.2)
    sent = 0
    end = time.monotonic() + 6
    while time.monotonic() < end and sent < 2000:
        try:
            c.send(refresh)
            sent += 1
        except (socket.timeout, ssl.SSLWantWriteError):
            break                      # the server stopped reading us
    st = term.service("term")
    print("slow reader: %d refreshes sent before the server stopped reading; worker region %d bytes"
          % (sent, st["region_bytes"]))
    # Each refresh redraws 800x600 (~100 KB of tiles at 16 bpp): queued
    # one by one they would be 200 MB.
    assert st["region_bytes"] < 4 * 1024 * 1024, st
    other = Rdp(term.port).connect()
    other.wait_update()
    other.close()
    c.s.settimeout(10)
    c.wait_update()
    c.close()


def mcs_ci_with_depths(high, supported):
    """The captured Connect-Initial with other colour depths offered."""
    core = XF_MCS_CI.index(b"Duca") + 4 + 2          # after the PER length: CS_CORE
    assert XF_MCS_CI[core:core + 2] == b"\x01\xc0"
    core += 4
    b = bytearray(XF_MCS_CI)
    b[core + 136:core + 138] = struct.pack("<H", high)
    b[core + 138:core + 140] = struct.pack("<H", supported)
    return bytes(b)


def confirm_variant(bpp, extra_flags_clear):
    """The captured Confirm Active with the bitmap set's bpp changed and
    general extraFlags bits cleared."""
    b = bytearray(XF_CONFIRM_ACTIVE)
    off = 15 + 28
    for _ in range(16):
        t, ln = struct.unpack("<HH", b[off:off + 4])
        if t == 1:
            f = struct.unpack("<H", b[off + 14:off + 16])[0]
            b[off + 14:off + 16] = struct.pack("<H", f & ~extra_flags_clear)
        elif t == 2:
            b[off + 4:off + 6] = struct.pack("<H", bpp)
        off += ln
    return bytes(b)


def slow_path_updates(c, want, timeout=10):
    """Slow-path bitmap updates until `want` rectangles were seen; their
    (bpp, flags, length) triples."""
    rects = []
    c.s.settimeout(timeout)
    end = time.monotonic() + timeout
    while len(rects) < want and time.monotonic() < end:
        r = c.recv_pdu()
        assert r[0] == 3, "a fast-path PDU to a client without fast-path output"
        if len(r) < 33 or r[29] != 0x02:
            continue
        body = r[33:]
        assert struct.unpack("<H", body[0:2])[0] == 1            # UPDATETYPE_BITMAP
        n = struct.unpack("<H", body[2:4])[0]
        off = 4
        for _ in range(n):
            bpp, flags, ln = struct.unpack("<HHH", body[off + 12:off + 18])
            rects.append((bpp, flags, ln))
            off += 18 + ln
        assert off == len(body), "rectangles do not tile the update"
    return rects


@pytest.mark.parametrize("bpp,supported", [(32, 0x08), (24, 0x01)])
def test_slow_path_output(term, bpp, supported):
    """A client without fast-path output and without
    NO_BITMAP_COMPRESSION_HDR: slow-path updates at its depth; at 32 bpp a
    64x64 tile (16 KiB) is sent in cell rows; at 24 bpp compressed
    rectangles carry the TS_CD_HEADER."""
    c = Rdp(term.port)
    c.cr()
    c.mcs(mcs_ci_with_depths(bpp if bpp != 32 else 24, supported))
    c.attach()
    c.join()
    da = c.info()
    assert struct.pack("<HH", 2, 28) + struct.pack("<H", bpp) in da      # bitmap set: our depth
    c.finalize(confirm_variant(bpp, 0x0001 | 0x0400))
    rects = slow_path_updates(c, 20)
    assert len(rects) >= 20
    assert all(r[0] == bpp for r in rects), rects[:5]
    if bpp == 32:
        assert all(r[2] <= 64 * 16 * 4 for r in rects)
    else:
        comp = [r for r in rects if r[1] & 1]
        assert comp and all(not (r[1] & 0x400) for r in comp), rects[:5]
    c.close()


# drdynvc messages from xfreerdp 2.11 /dynamic-resolution (static channel
# header first): caps response, create response (display control, id 1),
# a monitor layout of 800x600.
XF_DVC_CAPS = bytes.fromhex("040000000300000050000100")
XF_DVC_CREATE = bytes.fromhex("0600000003000000100100000000")
XF_DVC_LAYOUT = bytes.fromhex(
    "3a000000030000003001020000003800000028000000010000000100000000000000000000002003000058020000"
    "fe000000cb000000000000000000000000000000")


def layout(w, h):
    body = struct.pack("<IIII", 2, 56, 40, 1) + struct.pack("<IiiIIIIIII", 1, 0, 0, w, h, 0, 0, 0, 0, 0)
    dvc = b"\x30\x01" + body
    return struct.pack("<II", len(dvc), 3) + dvc


def recv_on_channel(c, ch, timeout=5):
    """Data of the next Send Data Indication on channel ch (skipping others)."""
    c.s.settimeout(timeout)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = c.recv_pdu()
        if r[0] == 3 and r[7] == 0x68 and struct.unpack(">H", r[10:12])[0] == ch:
            return r[15:]
    raise AssertionError("nothing on channel %d" % ch)


def session_has_resize():
    from conftest import ROOT
    with open(os.path.join(ROOT, "src", "rdp", "session.h")) as f:
        return "SESSION_HAS_RESIZE" in f.read()


def test_display_control(term):
    """drdynvc: caps, create of the display control channel, its caps; a
    monitor layout then resizes the session (Deactivate All, Demand
    Active with the new size, the finalization again, updates again).
    Malformed display control PDUs close the connection."""
    c = Rdp(term.port).connect()
    dyn = c.channels[3]                                  # rdpdr, rdpsnd, cliprdr, drdynvc
    d = recv_on_channel(c, dyn)
    assert d == struct.pack("<II", 4, 3) + b"\x50\x00\x01\x00", d.hex()
    c.send(sdr(c.user, dyn, XF_DVC_CAPS))
    d = recv_on_channel(c, dyn)
    assert d[8:10] == b"\x10\x01" and d[10:] == b"Microsoft::Windows::RDS::DisplayControl\x00", d.hex()
    c.send(sdr(c.user, dyn, XF_DVC_CREATE))
    d = recv_on_channel(c, dyn)
    assert d[8:10] == b"\x30\x01" and struct.unpack("<II", d[10:18]) == (5, 20), d.hex()
    c.send(sdr(c.user, dyn, layout(1024, 700)))
    if session_has_resize():
        end = time.monotonic() + 5
        while True:
            r = c.recv_pdu()
            if r[0] == 3 and len(r) > 18 and struct.unpack("<H", r[17:19])[0] & 0xF == 6:
                break                                    # Deactivate All
            assert time.monotonic() < end, "no Deactivate All"
        da = c.recv_pdu()
        while not (da[0] == 3 and struct.unpack("<H", da[17:19])[0] & 0xF == 1):
            da = c.recv_pdu()
        assert struct.pack("<HH", 2, 28) + struct.pack("<H", 16) + b"\x01\x00" * 3 + struct.pack("<HH", 1024, 700) in da
        c.finalize()
        c.wait_update()
    # Still alive and served either way.
    c.send(bytes.fromhex("048005001e"))
    c.wait_update() if session_has_resize() else None
    c.close()

    for what, msg in (
        ("layout length +1", XF_DVC_LAYOUT[:14] + bytes([XF_DVC_LAYOUT[14] + 1]) + XF_DVC_LAYOUT[15:]),
        ("17 monitors", struct.pack("<II", 18, 3) + b"\x30\x01" + struct.pack("<IIII", 2, 16 + 40 * 17, 40, 17)),
        ("channel header length", b"\xff" + XF_DVC_LAYOUT[1:]),
        ("unknown dvc command", struct.pack("<II", 2, 3) + b"\xf0\x01"),
    ):
        c = Rdp(term.port).connect()
        recv_on_channel(c, dyn)
        c.send(sdr(c.user, dyn, XF_DVC_CAPS))
        recv_on_channel(c, dyn)
        c.send(sdr(c.user, dyn, XF_DVC_CREATE))
        recv_on_channel(c, dyn)
        c.send(sdr(c.user, dyn, msg))
        expect_close(c, what)
    assert rejects(term).get("rdp_dvc", 0) >= 4


def test_unsolicited_confirm_active(term):
    """A Confirm Active (or the finalization) again without a Demand
    Active: closed; it must never open a second session for the
    connection (the first would be left behind, pointing at a closed
    connection)."""
    c = Rdp(term.port).connect()
    c.wait_update()
    c.send(XF_CONFIRM_ACTIVE)
    for p in (XF_SYNC, XF_CONTROL_COOP, XF_CONTROL_REQ, XF_FONT_LIST):
        try:
            c.send(p)
        except OSError:
            break
    expect_close(c, "a second confirm active")
    assert rejects(term).get("rdp_order", 0) >= 1
    # Only sessions of live connections remain (none here once closed).
    wait_for(lambda: term.service("term")["connections"] == 0, 10, what="the connection to close")
    out = term.ctl("term", "stats").stdout
    wait_for(lambda: "sessions 0" in term.ctl("term", "stats").stdout, 10, what="no session left: " + out)


def retpkt(pdu, cut):
    """The TPKT pdu with its last `cut` bytes removed and its length fixed."""
    b = bytearray(pdu[:len(pdu) - cut])
    b[2:4] = struct.pack(">H", len(b))
    return bytes(b)


def test_truncated_pdus(term):
    """Every PDU of the sequence cut short inside a well-framed TPKT (and
    inside a well-framed Send Data Request): each closes the connection."""
    def upto(stage):
        c = Rdp(term.port)
        c.cr()
        if stage == "mcs":
            return c
        c.mcs()
        if stage == "erect":
            return c
        c.send(XF_ERECT)
        if stage == "attach":
            return c
        c.send(XF_ATTACH)
        r = c.recv_pdu()
        c.user = struct.unpack(">H", r[9:11])[0] + 1001
        if stage == "join":
            return c
        c.join()
        if stage == "info":
            return c
        c.info()
        if stage == "confirm":
            return c
        c.send(XF_CONFIRM_ACTIVE)
        return c

    def sdr_cut(pdu, cut):
        """A captured Send Data Request with its data cut, lengths fixed."""
        data = pdu[15:len(pdu) - cut]
        return sdr(1008, IO_CHANNEL, data)

    cases = [
        ("mcs", retpkt(XF_MCS_CI, 1)),
        ("mcs", retpkt(XF_MCS_CI, 200)),
        ("erect", retpkt(XF_ERECT, 2)),
        ("attach", tpkt(b"")),
        ("join", tpkt(b"\x38\x00\x07")),
        ("join", tpkt(b"\x38")),
        ("info", sdr_cut(XF_CLIENT_INFO, 300)),
        ("info", tpkt(b"\x64\x00\x07\x03\xeb\x70")),                 # SDR header cut
        ("confirm", sdr_cut(XF_CONFIRM_ACTIVE, 1)),
        ("confirm", sdr_cut(XF_CONFIRM_ACTIVE, 400)),
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x1F, b"\x01\x00"))),       # synchronize
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x14, b"\x04\x00\x00"))),   # control
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x27, b"\x00\x00\x00"))),   # font list
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x1C, b"\x01\x00\x00\x00" + b"\x00" * 11))),  # input
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x21, b"\x02\x00\x00\x00" + b"\x00" * 8))),   # refresh
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x23, b"\x01\x00\x00"))),   # suppress output
        ("finalize", sdr(1008, IO_CHANNEL, share_data(0x1F, b"")[:10])),          # share data header
    ]
    for stage, pdu in cases:
        c = upto(stage)
        c.send(pdu)
        expect_close(c, "a truncated PDU at %s (%s)" % (stage, pdu.hex()[:40]))


# ---- connect_pipeline ----

def pdu_kind(r):
    """Names a server PDU of the connection sequence."""
    if r[0] != 3:
        return "fastpath"
    if r[7:9] == b"\x7f\x66":
        return "connect-response"
    if r[7] == 0x2E:
        return "attach-confirm"
    if r[7] == 0x3E:
        return "join-confirm %d" % struct.unpack(">H", r[13:15])[0]
    if r[7] == 0x68 and r[15:17] == b"\x80\x00":
        return "licence"
    if r[7] == 0x68 and struct.unpack("<H", r[17:19])[0] & 0xF == 1:
        return "demand-active"
    if r[7] == 0x68 and struct.unpack("<H", r[17:19])[0] & 0xF == 7:
        return {0x1F: "synchronize", 0x14: "control %d" % struct.unpack("<H", r[33:35])[0],
                0x28: "font-map"}.get(r[29], "data %#x" % r[29])
    return r[:12].hex()


def test_pipelined_flight(term):
    """With the default connect_pipeline, the server's whole side of the
    sequence follows the Connect-Response, in the order the client reads
    it, before the client sends anything else; the client's requests are
    then still checked, and the session works."""
    c = Rdp(term.port)
    c.cr()
    c.send(XF_MCS_CI)
    first = c.recv_pdu()
    c.connect_response(first)
    got = [pdu_kind(c.recv_pdu()) for _ in range(1 + 2 + len(c.channels) + 6)]
    c.user = 1001 + len(c.channels) + 3          # user channel: after I/O and the static channels
    assert got == (["attach-confirm", "join-confirm %d" % c.user, "join-confirm %d" % IO_CHANNEL] +
                   ["join-confirm %d" % ch for ch in c.channels] +
                   ["licence", "demand-active", "synchronize", "control 4", "control 2", "font-map"]), got
    # Nothing more until the client answers.
    c.s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c.recv_pdu()
    c.s.settimeout(5)
    for p in [XF_ERECT, XF_ATTACH] + [tpkt(b"\x38" + struct.pack(">HH", c.user - 1001, ch))
                                      for ch in [c.user, IO_CHANNEL] + c.channels]:
        c.send(p)
    for p in (XF_CLIENT_INFO, XF_CONFIRM_ACTIVE, XF_SYNC, XF_CONTROL_COOP, XF_CONTROL_REQ, XF_FONT_LIST):
        c.send(p)
    c.wait_update()
    c.close()


def test_pipelined_join_order(term):
    """The joins were confirmed ahead in the specified order (user, I/O,
    static channels): a client joining in another order is refused."""
    before = rejects(term).get("rdp_order", 0)
    c = Rdp(term.port)
    c.cr()
    c.mcs()
    c.attach()
    c.send(tpkt(b"\x38" + struct.pack(">HH", c.user - 1001, IO_CHANNEL)))
    expect_close(c, "I/O channel joined before the user channel")
    assert rejects(term).get("rdp_order", 0) == before + 1


def test_strict_sequence(strict_term):
    """connect_pipeline = no: nothing follows the Connect-Response until
    the client asks; joins in any order are answered one by one."""
    c = Rdp(strict_term.port)
    c.cr()
    c.mcs()
    c.s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c.recv_pdu()
    c.s.settimeout(5)
    c.attach()
    for ch in reversed([c.user, IO_CHANNEL] + c.channels):
        c.send(tpkt(b"\x38" + struct.pack(">HH", c.user - 1001, ch)))
        assert pdu_kind(c.recv_pdu()) == "join-confirm %d" % ch
    c.info()
    c.finalize()
    c.wait_update()
    c.close()


# ---- password guessing: the per-address login rate ----

def client_info(user, password, base=XF_CLIENT_INFO, initiator=1008):
    """The captured Client Info with another user name and password."""
    data = base[15:]                                 # after TPKT, X.224, MCS SDR header
    sec, info = data[:4], data[4:]
    codepage, flags, cbd, cbu, cbp, cbs, cbw = struct.unpack("<IIHHHHH", info[:18])
    strings = (cbd + 2) + (cbu + 2) + (cbp + 2) + (cbs + 2) + (cbw + 2)
    dom, rest = info[18:18 + cbd + 2], info[18 + strings:]
    u, p = user.encode("utf-16le"), password.encode("utf-16le")
    new = (struct.pack("<IIHHHHH", codepage, flags, cbd, len(u), len(p), 0, 0) + dom + u + b"\0\0" + p +
           b"\0\0" + b"\0\0" + b"\0\0" + rest)
    return sdr(initiator, IO_CHANNEL, sec + new)


def login(port, user, password, source):
    """The whole sequence from source with these credentials; the
    connection is returned open (closing it would end the session)."""
    return Rdp(port, source=source).connect(client_info(user, password))


def test_client_info_builder():
    """The builder reproduces the capture from its own credentials."""
    assert client_info("alice", "secret") == XF_CLIENT_INFO


def test_login_rate_per_address(holdfast, certs):
    """An address may fail login_burst_per_address logins at once, then
    login_rate_per_address a minute; past that, its logins are refused
    before PAM is asked (counted as rdp_login_rate), even with the right
    password, while another address logs in."""
    import rdplib
    rdplib.install_pam()
    port = free_port()
    h = holdfast({"term": term_conf(port, *certs, handshake_timeout="10s", login_rate_per_address=1,
                                    login_burst_per_address=3, login_attempts_max=1)})
    rdplib.wait_listening(port)
    good, late = rdplib.UnixUser(), rdplib.UnixUser()
    conns = []
    try:
        # 6 wrong passwords from 127.0.0.2, one after the other (each
        # connection ends after its one failed attempt): 3 reach PAM and
        # fail, the next 3 are refused without it.
        for i in range(6):
            c = login(port, good.name, "wrong-%d" % i, "127.0.0.2")
            assert c.closed_by_server(10), "attempt %d: not disconnected" % i
            c.close()
            assert rejects(h).get("rdp_login_rate", 0) == max(0, i - 2), i
        # The right password from 127.0.0.1: a shell starts.
        conns.append(login(port, good.name, good.password, "127.0.0.1"))
        wait_for(lambda: good.pids(), 20, what="a shell for the good login")
        # The right password from the spent address: refused before PAM,
        # so no shell will ever start for that user.
        c = login(port, late.name, late.password, "127.0.0.2")
        assert c.closed_by_server(10)
        c.close()
        assert rejects(h).get("rdp_login_rate", 0) == 4
        assert late.pids() == []
    finally:
        for c in conns:
            c.close()
        good.remove()
        late.remove()


def test_login_rate_successes_are_free(holdfast, certs):
    """Logins that succeed are not charged: more than the burst from one
    address all get their shell (an office behind one NAT address)."""
    import rdplib
    rdplib.install_pam()
    port = free_port()
    h = holdfast({"term": term_conf(port, *certs, login_rate_per_address=1, login_burst_per_address=2)})
    rdplib.wait_listening(port)
    users = [rdplib.UnixUser() for _ in range(4)]
    conns = []
    try:
        for u in users:
            conns.append(login(port, u.name, u.password, "127.0.0.3"))
            wait_for(lambda: u.pids(), 20, what="a shell for %s" % u.name)
        assert rejects(h).get("rdp_login_rate", 0) == 0
    finally:
        for c in conns:
            c.close()
        for u in users:
            u.remove()
