"""The tunnel service against Debian's pptp-linux client, in two network
namespaces: control connection and call set-up, then PPP frames both ways
over GRE (the test speaks HDLC-framed PPP on pptp's stdio, as pppd would).
"""
import struct

import pytest

from pptplib import PptpClient, Topology, ppp_proto, start_server, tunnel_calls, tunnel_status, wait_for


@pytest.fixture
def topo():
    t = Topology().up()
    yield t
    t.down()


def lcp_conf_req(ident, magic=0x12345678):
    opts = struct.pack("!BBI", 5, 6, magic)              # Magic-Number
    return b"\xff\x03\xc0\x21" + struct.pack("!BBH", 1, ident, 4 + len(opts)) + opts


def test_pptp_linux_call_carries_ppp(holdfast, tmpdir_root, topo):
    h = start_server(holdfast, topo, tmpdir_root)
    client = PptpClient(topo)
    try:
        calls = wait_for(lambda: tunnel_calls(h), 10, step=0.1, what="a call from pptp-linux")
        assert len(calls) == 1
        call_id, peer_call_id, peer = calls[0][0], calls[0][1], calls[0][2]
        assert peer == topo.client_ip

        # The server opens LCP as soon as the call is up: pptp-linux hands
        # the frame, carried in GRE, to its stdio.
        f = client.frame(10)
        assert f is not None, "no PPP frame from the server through pptp-linux"
        proto, info = ppp_proto(f)
        assert proto == 0xC021 and info[0] == 1, f.hex()

        # And a frame of ours goes the other way: the server answers our
        # Configure-Request with an Ack, Nak or Reject for our identifier.
        client.send_frame(lcp_conf_req(0x5A))
        for _ in range(10):
            f = client.frame(5)
            assert f is not None, "no answer to our LCP Configure-Request"
            proto, info = ppp_proto(f)
            if proto == 0xC021 and info[0] in (2, 3, 4) and info[1] == 0x5A:
                break
        else:
            raise AssertionError("no Configure-Ack/Nak/Reject for our request")
        assert client.reader.bad == 0

        st = tunnel_status(h)
        assert st["calls"] == 1
        # holdfastctl status shows calls, pool and budgets beside drops
        svc = h.service("tunnel")
        assert svc["gauges"]["calls"] == 1 and svc["gauges"]["pool_used"] == 1
        assert svc["gauges"]["call_budget"] > 0 and svc["budget_bytes"] > 0
        text = h.ctl("status").stdout
        assert "calls=1" in text and "pool_used=1" in text, text
        assert st["gre_in"] >= 1 and st["gre_out"] >= 2
        assert st["gre_unknown_call"] == 0 and st["gre_bad"] == 0 and st["gre_wrong_source"] == 0
    finally:
        client.stop()
    # pptp-linux clears its call and the control connection on SIGTERM; if
    # not, closing the TCP connection ends the calls anyway.
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")
    wait_for(lambda: h.service("tunnel")["gauges"]["calls"] == 0, 5, what="the gauge to follow")
    assert h.service("tunnel")["gauges"]["pool_used"] == 0


def test_tshark_dissects_session(holdfast, tmpdir_root, topo):
    """A whole session captured on the server's veth: control connection,
    call, LCP, MS-CHAPv2, IPCP, CCP, MPPE-encrypted pings, teardown
    (pptp-linux with the test PPP peer).  tshark 4.0 dissects PPTP, GRE
    and PPP with no malformed-packet or error items in its expert info."""
    import os
    import subprocess

    h = start_server(holdfast, topo, tmpdir_root)
    cap = os.path.join(tmpdir_root, "session.pcapng")
    errlog = open(os.path.join(tmpdir_root, "tshark.err"), "w+")
    ts = topo.popen(topo.server_ns, ["tshark", "-i", topo.veth_s, "-w", cap, "-q"], stdout=subprocess.DEVNULL,
                    stderr=errlog)

    def capturing():
        errlog.seek(0)
        return "Capturing on" in errlog.read()
    wait_for(capturing, 20, step=0.1, what="tshark to start capturing")
    # "Capturing on" comes a moment before dumpcap really captures (one
    # run in four lost the SCCRQ under ASan's load): give it that moment.
    import time
    time.sleep(1.0)
    from test_tunnel_ppp import Peer, ping
    peer = Peer(topo, tmpdir_root)
    try:
        peer.wait_up()
        r = ping(topo)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        peer.stop()
    wait_for(lambda: tunnel_status(h)["calls"] == 0, 15, step=0.2, what="the call to be cleared")
    import time
    time.sleep(0.5)
    from pptplib import stop_tree
    import signal
    stop_tree(ts, sig=signal.SIGINT)
    errlog.close()

    def tshark(*args):
        r = subprocess.run(["tshark", "-r", cap] + list(args), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    pptp_msgs = tshark("-Y", "pptp", "-T", "fields", "-e", "pptp.control_message_type").split()
    # SCCRQ, SCCRP, OCRQ, OCRP at least (pptp-linux also sends SLI, CCRQ/StopCCRQ)
    for t in ("1", "2", "7", "8"):
        assert t in pptp_msgs, (t, pptp_msgs)
    protos = set(tshark("-Y", "gre && ppp", "-T", "fields", "-e", "ppp.protocol").split())
    # LCP, CHAP, IPCP, CCP, and MPPE-compressed (encrypted) datagrams
    for p in ("0xc021", "0xc223", "0x8021", "0x80fd", "0x00fd"):
        assert p in protos, (p, protos)
    chap = tshark("-Y", "chap", "-T", "fields", "-e", "chap.code").split()
    assert {"1", "2", "3"} <= set(chap), chap    # Challenge, Response, Success
    expert = tshark("-q", "-z", "expert")
    assert "Malformed" not in expert, expert
    assert "Errors (" not in expert, expert
    assert tshark("-Y", "_ws.malformed || _ws.expert.severity == error") == ""
