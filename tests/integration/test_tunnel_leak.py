"""MS01-009 against the tunnel service: floods of malformed control
messages and malformed GRE (holdfast-soak ms01-009 --raw), and a flood of
well-formed GRE for an established call, inside network namespaces.

- The soak run: the worker's PSS slope must be below 1 byte per message
  (95% CI), no crash, the probe (a fresh SCCRQ per probe) answered.  It is
  the issue's acceptance run: 200,000 malformed control messages and at
  least 200,000 malformed GRE packets, most of them aimed at the calls
  holdfast-soak sets up itself (--gre-calls); HF_LEAK=0 makes it a
  20,000-message smoke run.  If the test PPP peer can bring a tunnel up,
  a ping runs through it during the flood and must get its replies.
- The GRE flood: valid packets (right call id, right source, growing
  sequence numbers) far above gre_rate: at most gre_rate per second (plus
  one second of burst) reach PPP; the rest are dropped and counted; the
  call still answers afterwards.
"""
import json
import os
import socket
import struct
import time

import pytest

from conftest import BUILD, SANITIZED
from pptplib import (CtrlClient, Topology, ocrq, start_ctrl, start_server, tunnel_calls, tunnel_status, wait_for)

SOAK = os.path.join(BUILD, "holdfast-soak")
# The acceptance count runs in `make check` (release build, about 80 s);
# HF_LEAK=0 makes it a 20,000-message smoke run.
FULL = os.environ.get("HF_LEAK", "1") == "1"


@pytest.fixture
def topo():
    t = Topology().up()
    yield t
    t.down()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_soak_ms01_009_no_leak(holdfast, tmpdir_root, topo):
    count = 200000 if FULL else (5000 if SANITIZED else 20000)
    # The probe shares its source address with the flood: lift the
    # per-address cap so that the probe measures the service, not the cap.
    h = start_server(holdfast, topo, tmpdir_root, max_connections_per_address=1024)
    pid = h.service("tunnel")["pid"]
    from test_tunnel_ppp import Peer, ping
    # The witness: an established tunnel (pptp-linux + pppeer) that must
    # keep passing ping during the flood.  Under ASan the PPP timers may
    # not keep up; there the witness is best effort.
    peer = Peer(topo, tmpdir_root)
    try:
        peer.wait_up()
        r0 = ping(topo, 1)
        assert r0.returncode == 0, r0.stdout + r0.stderr
    except AssertionError:
        peer.stop()
        peer = None
        if not SANITIZED:
            raise
    pinger = None
    if peer is not None:
        pinger = topo.popen(topo.client_ns, ["ping", "-i", "0.2", "-W", "2", "-c", "100000", "10.99.0.1"],
                            stdout=open(os.path.join(tmpdir_root, "ping.out"), "w"), stderr=open(os.devnull, "w"))
    js = os.path.join(tmpdir_root, "soak.json")
    raw_rate = 10000
    duration = 300 if FULL else 60
    try:
        r = topo.run(topo.server_ns, [SOAK, "ms01-009", "--target", "%s:1723" % topo.server_ip, "--pid", str(pid),
                                      "--count", str(count), "--duration", str(duration), "--allow-remote",
                                      "--raw", "--raw-rate", str(raw_rate), "--json", js, "--no-progress"],
                     timeout=duration + 120)
        with open(js) as f:
            res = json.load(f)
    finally:
        if pinger is not None:
            from pptplib import stop_tree
            import signal
            stop_tree(pinger, sig=signal.SIGINT)
    print(r.stdout)
    if SANITIZED:
        # ASan's quarantine keeps freed memory: no slope means anything
        # here.  What this build checks is no crash and no sanitizer
        # report (the fixture reads the log).
        assert res["verdict"] != "crashed", r.stdout
    elif FULL:
        assert r.returncode == 0, r.stdout + r.stderr
        assert res["verdict"] == "no leak"
    else:
        # 20,000 messages are too few to rule out a one-off step (an arena
        # or the timer heap growing once): the smoke run refuses a leak, a
        # crash or a degraded probe; make leak-style runs set HF_LEAK=1.
        assert res["verdict"] in ("no leak", "inconclusive"), r.stdout
    st = tunnel_status(h)
    if FULL:
        assert st["gre_in"] >= 200000, st
    # holdfast-soak aims 7 GRE packets in 8 at the calls it has set up:
    # most of the flood must have reached a live call (so the PPP and
    # sequence paths were exercised, not only the call lookup), and what
    # was malformed at the GRE layer was counted.
    live = st["gre_in"] - st["gre_unknown_call"] - st["gre_wrong_source"]
    assert live >= st["gre_in"] * 0.5, st
    assert st["gre_bad"] > 0, st
    assert h.service("tunnel")["pid"] == pid        # no restart
    if pinger is not None:
        with open(os.path.join(tmpdir_root, "ping.out")) as f:
            out = f.read()
        sent = int(out.split(" packets transmitted")[0].rsplit("\n", 1)[-1])
        got = int(out.split(" received")[0].rsplit(", ", 1)[-1])
        print("ping through the tunnel during the flood: %d/%d" % (got, sent))
        assert sent >= 3 and got >= sent * 0.9, out
        peer.stop()


def gre_data(call_id, seq, payload):
    return struct.pack("!BBHHHI", 0x30, 0x01, 0x880B, len(payload), call_id, seq) + payload


def test_gre_flood_bounded_by_rate(holdfast, tmpdir_root, topo):
    rate = 200
    h = start_server(holdfast, topo, tmpdir_root, gre_rate=rate)
    pid = h.service("tunnel")["pid"]
    c = start_ctrl(topo)
    c.send(ocrq(99))
    m = c.recv_msg()
    ours = struct.unpack("!H", m[12:14])[0]
    assert m[16] == 1
    s = topo.raw_gre()
    dst = (topo.server_ip, 0)
    # LCP Echo-Request: PPP drops it (LCP not open) but has to look at it
    payload = b"\xff\x03\xc0\x21\x09\x01\x00\x08\x00\x00\x00\x00"
    n = 50000
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    for i in range(n):
        s.sendto(gre_data(ours, i + 1, payload), dst)
    sent_at = time.monotonic()
    # What the socket buffer could not hold the kernel dropped (that is the
    # point: a flood costs the worker what it reads, in batches); wait
    # until the worker has read what was queued.
    last = [-1]

    def settled():
        v = tunnel_status(h)["gre_in"]
        done, last[0] = v == last[0], v
        return done
    wait_for(settled, 30, step=0.3, what="the flood to be read")
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(pid) - cpu0
    st = tunnel_status(h)
    calls = tunnel_calls(h)
    accepted = int(calls[0][7])
    print("GRE flood: %d sent in %.2f s, %d read in %.2f s, %d accepted (rate %d/s), %d rate drops, worker CPU %.2f s (%.0f%%)" %
          (n, sent_at - t0, st["gre_in"], elapsed, accepted, rate, st["gre_rate_drops"], cpu, 100 * cpu / elapsed))
    assert accepted <= rate * (elapsed + 1) + rate
    assert st["gre_rate_drops"] >= st["gre_in"] - accepted - st["gre_duplicates"] - 10
    assert st["gre_in"] >= 2 * rate * elapsed     # the flood did outrun the rate
    # after a second the bucket has refilled: the call still takes packets
    time.sleep(1.2)
    before = int(tunnel_calls(h)[0][7])
    s.sendto(gre_data(ours, n + 10, payload), dst)
    wait_for(lambda: int(tunnel_calls(h)[0][7]) == before + 1, 5, what="a packet after the flood")
    s.close()
    c.close()
