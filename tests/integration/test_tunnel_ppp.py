"""PPP through the tunnel end to end: Debian's pptp-linux client in a
client namespace, with the project's test PPP peer (tests/pppeer, written
apart from the server's PPP engine and using OpenSSL's crypto where the
server uses its own) on the other end of pptp's stdio socketpair.  LCP,
MS-CHAPv2 (the peer checks the server's authenticator response), IPCP and
MPPE, then ping from the client namespace to the server's tunnel address.
"""
import os
import socket
import struct
import subprocess

import pytest

from conftest import BUILD, wait_for
from pptplib import LOCAL_ADDRESS, PASSWORD, POOL_START, USER, Topology, start_server, stop_tree, tunnel_status

PPPEER = os.path.join(BUILD, "tests", "pppeer")


@pytest.fixture
def topo():
    t = Topology().up()
    yield t
    t.down()


class _Fd:
    """A bare descriptor with the close() and fileno() Popen needs."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def close(self):
        os.close(self.fd)


class Peer:
    """pptp --nolaunchpppd and pppeer joined by a socketpair, in the
    client namespace; pppeer's stderr (one line per phase) in a file."""

    def __init__(self, topo, tmp, user=USER, password=PASSWORD, mppe=True, tun="hfp0", pty=False,
                 auth="mschapv2"):
        if pty:
            # pptp on the master, pppeer on the slave (it sets raw mode),
            # as pptp would hand a pty to pppd.
            a, b = os.openpty()
            a, b = _Fd(a), _Fd(b)
        else:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pptp = topo.popen(topo.client_ns, ["pptp", topo.server_ip, "--nolaunchpppd", "--nohostroute",
                                                "--loglevel", "1"], stdin=a, stdout=a, stderr=subprocess.DEVNULL)
        self.errpath = os.path.join(tmp, "pppeer-%s.err" % tun)
        with open(self.errpath, "w") as err:
            argv = [PPPEER, "--user", user, "--password", password, "--tun", tun, "--timeout", "20",
                    "--auth", auth]
            if mppe:
                argv.append("--mppe")
            self.proc = topo.popen(topo.client_ns, argv, stdin=b, stdout=b, stderr=err)
        a.close()
        b.close()

    def log(self):
        with open(self.errpath) as f:
            return f.read()

    def wait_up(self, timeout=20):
        def up():
            t = self.log()
            assert self.proc.poll() is None, "pppeer exited %s:\n%s" % (self.proc.returncode, t)
            return "tun " in t and " up" in t.split("tun ", 1)[1]
        wait_for(up, timeout, step=0.1, what="pppeer to bring IP up")

    def wait_exit(self, timeout=20):
        wait_for(lambda: self.proc.poll() is not None, timeout, step=0.1, what="pppeer to exit")
        return self.proc.returncode

    def stop(self):
        stop_tree(self.proc)
        stop_tree(self.pptp)


def ping(topo, count=3):
    return topo.run(topo.client_ns, ["ping", "-c", str(count), "-i", "0.2", "-W", "2", LOCAL_ADDRESS])


def test_mschapv2_mppe_ping(holdfast, tmpdir_root, topo):
    h = start_server(holdfast, topo, tmpdir_root)
    peer = Peer(topo, tmpdir_root)
    try:
        peer.wait_up()
        log = peer.log()
        assert "auth ok (authenticator response verified)" in log
        assert "ccp up" in log
        assert "ipcp up %s peer %s mppe" % (POOL_START, LOCAL_ADDRESS) in log
        r = ping(topo)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "3 received" in r.stdout
        st = tunnel_status(h)
        assert st["calls"] == 1
        assert st["tun_out"] >= 3 and st["ip_spoofed"] == 0
        assert "alice" in h.ctl("tunnel", "calls").stdout
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")


def test_mppe_ping_over_pty(holdfast, tmpdir_root, topo):
    """The same over a pty instead of a socketpair (what pppd would get)."""
    h = start_server(holdfast, topo, tmpdir_root)
    peer = Peer(topo, tmpdir_root, pty=True)
    try:
        peer.wait_up()
        r = ping(topo)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")


def test_plain_ip_when_mppe_allowed(holdfast, tmpdir_root, topo):
    """A client without MPPE (it Protocol-Rejects CCP) gets plain IP when
    the server only allows MPPE."""
    h = start_server(holdfast, topo, tmpdir_root, mppe="allow")
    peer = Peer(topo, tmpdir_root, mppe=False)
    try:
        peer.wait_up()
        assert " mppe" not in peer.log().split("ipcp up", 1)[1].split("\n", 1)[0]
        r = ping(topo)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")


@pytest.mark.parametrize("auth", ["chap", "pap"])
def test_chap_md5_and_pap_logins(holdfast, tmpdir_root, topo, auth):
    """CHAP-MD5 and PAP, each the only protocol the server offers (no MPPE
    without MS-CHAPv2): the peer logs in and IP flows; a wrong password is
    refused."""
    h = start_server(holdfast, topo, tmpdir_root, auth=auth, mppe="refuse")
    peer = Peer(topo, tmpdir_root, mppe=False, auth=auth)
    try:
        peer.wait_up()
        assert "auth ok (%s)" % ("chap-md5" if auth == "chap" else "pap") in peer.log()
        r = ping(topo)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")
    peer = Peer(topo, tmpdir_root, mppe=False, auth=auth, password="x" + PASSWORD, tun="hfp1")
    try:
        assert peer.wait_exit() == 1
        assert "auth failed" in peer.log()
    finally:
        peer.stop()


def test_lcp_echo_keeps_live_link_and_ends_dead_one(holdfast, tmpdir_root, topo):
    """With lcp_echo_interval = 1s the server's Echo-Requests are answered
    and the call lives on; once the peer stops answering (SIGSTOP), the
    server ends the call after its unanswered echoes (3)."""
    import signal
    import time
    h = start_server(holdfast, topo, tmpdir_root, lcp_echo_interval="1s")
    peer = Peer(topo, tmpdir_root)
    try:
        peer.wait_up()
        time.sleep(3.5)                    # three echo rounds
        assert peer.proc.poll() is None, peer.log()
        assert ping(topo, 1).returncode == 0
        assert tunnel_status(h)["calls"] == 1
        os.kill(peer.proc.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2,
                     what="the server to end a call whose peer is silent")
        finally:
            os.kill(peer.proc.pid, signal.SIGCONT)
        assert "peer does not answer LCP echo" in h.logtext()
    finally:
        peer.stop()


def test_mppe_required_refuses_plain_client(holdfast, tmpdir_root, topo):
    h = start_server(holdfast, topo, tmpdir_root, mppe="require")
    peer = Peer(topo, tmpdir_root, mppe=False)
    try:
        rc = peer.wait_exit()
        assert rc != 0
        assert "ipcp up" not in peer.log()
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")
    assert "MPPE" in h.logtext() or "CCP" in h.logtext()


def test_wrong_password_refused(holdfast, tmpdir_root, topo):
    h = start_server(holdfast, topo, tmpdir_root)
    peer = Peer(topo, tmpdir_root, password="not-" + PASSWORD)
    try:
        rc = peer.wait_exit()
        log = peer.log()
        assert rc == 1, log
        assert "auth failed: E=691 R=0" in log, log
        assert "ipcp up" not in log
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")
    assert 'authentication of "alice" failed' in h.logtext()


def _lcp(code, ident, data=b"", length=None):
    n = 4 + len(data) if length is None else length
    return b"\xff\x03\xc0\x21" + struct.pack("!BBH", code, ident, n) + data


def malformed_ppp_frames():
    """PPP frames with every length wrong, bad protocol fields, unknown
    codes, and packets for protocols not yet allowed: each must be dropped
    (or answered with the protocol's own reject) without changing state."""
    f = [
        b"", b"\xff\x03", b"\xff\x03\xc0", b"\xff\x03\xc0\x20\x01\x01\x00\x04",   # no/odd/even protocol
        b"\xff\x03\xc0\x21", b"\xff\x03\xc0\x21\x01",                               # header cut short
    ]
    for n in (0, 1, 2, 3, 12, 200, 0xFFFF):                                          # Length wrong
        f.append(_lcp(1, 9, b"\x05\x06\x01\x02\x03\x04", length=n))
    for opt in (b"\x01\x00\x05\xdc", b"\x01\x01", b"\x05\x07\x01\x02", b"\x05"):     # option lengths wrong
        f.append(_lcp(1, 9, opt))
    f += [
        _lcp(2, 0xEE, b"\x05\x06\x00\x00\x00\x01"),                                  # Ack of nothing we sent
        _lcp(3, 0xEE, b"\x01\x04\x05\xdc"), _lcp(4, 0xEE, b"\x03\x04\xc0\x23"),      # Nak/Reject, wrong id
        _lcp(77, 1, b"abc"), _lcp(200, 1),                                           # unknown codes
        _lcp(9, 1, b"\x00"), _lcp(8, 1, b"\x80"),                                    # echo/proto-reject too short
        b"\xff\x03\x80\x21\x01\x01\x00\x0a\x03\x06\x00\x00\x00\x00",                # IPCP before auth
        b"\xff\x03\x80\xfd\x01\x01\x00\x0a\x12\x06\x01\x00\x00\x40",                # CCP before auth
        b"\xff\x03\xc2\x23\x02\x01\x00\x06\x31\x00",                                # CHAP Response unasked
        b"\xff\x03\x00\x21\x45\x00\x00\x14" + b"\0" * 16,                          # IP before IPCP
        b"\xff\x03\x00\xfd\x90\x00" + b"\x55" * 40,                                 # MPPE before CCP
        b"\xff\x03\x80\x57\x01\x01\x00\x04",                                        # IPv6CP
        b"\xff\x03" + bytes(range(256)) * 6,                                         # longer than any frame
    ]
    return f


def test_malformed_ppp_through_pptp_linux(holdfast, tmpdir_root, topo):
    """Malformed PPP frames carried by pptp-linux into a live call: no
    state change, no growth of the worker's region, and the call answers a
    good Configure-Request afterwards."""
    from pptplib import PptpClient, ppp_proto
    h = start_server(holdfast, topo, tmpdir_root)
    client = PptpClient(topo)
    try:
        f = client.frame(10)
        assert f is not None and ppp_proto(f)[0] == 0xC021
        before = h.service("tunnel")["region_bytes"]
        frames = malformed_ppp_frames()
        sent = 0
        for rnd in range(20):                         # 20 rounds, well under gre_rate per second
            for fr in frames:
                if fr:
                    client.send_frame(fr)
                    sent += 1
            while client.frame(0.02) is not None:     # Code-Rejects and retransmissions
                pass
        assert sent >= 600
        client.send_frame(_lcp(1, 0x77, b"\x05\x06\x0a\x0b\x0c\x0d"))
        for _ in range(20):
            f = client.frame(5)
            assert f is not None, "no answer to a good Configure-Request after the flood"
            proto, info = ppp_proto(f)
            if proto == 0xC021 and info[0] in (2, 3, 4) and info[1] == 0x77:
                break
        else:
            raise AssertionError("no Configure-Ack/Nak/Reject for our request")
        st = tunnel_status(h)
        assert st["calls"] == 1
        # They reached PPP: GRE took them all (none dropped by rate or as bad).
        assert st["gre_in"] >= sent, st
        assert st["gre_rate_drops"] == 0 and st["gre_bad"] == 0, st
        after = h.service("tunnel")["region_bytes"]
        assert after <= before, (before, after)
    finally:
        client.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")


def test_tshark_dissects_full_ppp_session(holdfast, tmpdir_root, topo):
    """A whole session captured on the server's veth (LCP, MS-CHAPv2, IPCP,
    CCP, MPPE data both ways, LCP termination): tshark dissects every PPP
    frame with no malformed or error items."""
    import signal
    import time
    h = start_server(holdfast, topo, tmpdir_root)
    cap = os.path.join(tmpdir_root, "ppp-session.pcapng")
    errlog = open(os.path.join(tmpdir_root, "tshark-ppp.err"), "w+")
    ts = topo.popen(topo.server_ns, ["tshark", "-i", topo.veth_s, "-w", cap, "-q"],
                    stdout=subprocess.DEVNULL, stderr=errlog)

    def capturing():
        errlog.seek(0)
        return "Capturing on" in errlog.read()
    try:
        wait_for(capturing, 20, step=0.1, what="tshark to start capturing")
        peer = Peer(topo, tmpdir_root)
        try:
            peer.wait_up()
            assert ping(topo).returncode == 0
        finally:
            peer.stop()
        wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")
        time.sleep(0.5)
    finally:
        stop_tree(ts, sig=signal.SIGINT)
        errlog.close()

    def tshark(*args):
        r = subprocess.run(["tshark", "-r", cap] + list(args), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    ppp = tshark("-Y", "ppp", "-T", "fields", "-e", "ppp.protocol").split()
    for proto in ("0xc021", "0xc223", "0x8021", "0x80fd", "0x00fd"):   # LCP CHAP IPCP CCP MPPE
        assert proto in ppp, (proto, ppp)
    chap = tshark("-Y", "chap.code == 3", "-T", "fields", "-e", "chap.message")
    assert chap.startswith("S="), chap
    expert = tshark("-q", "-z", "expert")
    assert "Malformed" not in expert, expert
    assert "Errors (" not in expert, expert
    assert tshark("-Y", "_ws.malformed || _ws.expert.severity == error") == ""
