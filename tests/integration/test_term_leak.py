"""term service leak acceptance (issue 5, MS01-040): malformed RDP input
must not make the worker keep memory.

- holdfast-soak's ms01-040 scenario sends 150,000 malformed TPKT / X.224
  / MCS / GCC PDUs (truncated, lengths too large and too small, oversized
  cookies, wrong types) over 8 connections; its fitted slope of the
  worker's PSS after warm-up must be below 1 byte per PDU (the 95% CI's
  upper end), with its RDP probe answered throughout.
- During that flood, Debian's xfreerdp logs in to a test user and gets
  a shell (after a first login before the flood: see the warm-up note in
  the test).
- Then a scripted TLS client (test_term_bad_input's) sends malformed PDUs
  after TLS: bad Connect-Initial lengths, bad Client Info, bad capability
  sets, out-of-order PDUs, garbage, bad fast-path input.  Each costs a
  TLS handshake, so there are far fewer of them (1,500); their check is
  exact: the worker region and fds return to their baseline; and coarse:
  the RSS grows by less than 128 KiB over the last 500.  (Run together with the soak they
  made its PSS slope noisy: sessions and TLS handshakes move the worker's
  heap and the pages it shares with the broker.)

Release build only (sanitizers change the memory profile entirely)."""
import json
import os
import random
import subprocess
import threading
import time

import pytest

from conftest import BUILD, ROOT, free_port, wait_for
from rdplib import XFREERDP, rdp_clients, require, test_user, xvfb  # noqa: F401
from test_term_bad_input import (IO_CHANNEL, XF_CLIENT_INFO, XF_MCS_CI, Rdp, confirm_with, sdr, share_data,
                                 term_conf, with_byte)

SOAK = os.path.join(BUILD, "holdfast-soak")
SLOPE_LIMIT = 1.0          # bytes per malformed PDU
SOAK_COUNT = int(os.environ.get("HF_TERM_LEAK_COUNT", "150000"))
SOAK_WARMUP = "0.35"       # the fraction of samples before the fit
TLS_FLOOD_MAX = 1500       # post-TLS malformed PDUs, at most
TLS_FLOOD_S = 25           # and at most this long

pytestmark = pytest.mark.skipif("asan" in os.path.basename(BUILD),
                                reason="a PSS slope under ASan is meaningless; run with the release build")


def bad_after_tls(c, rnd):
    """Drives c as far as the chosen kind needs, then sends one malformed PDU."""
    kind = rnd.randrange(8)
    c.cr()
    if kind == 0:
        c.send(os.urandom(rnd.randrange(1, 200)))
        return
    if kind == 1:
        c.send(with_byte(XF_MCS_CI, rnd.choice((11, 13, 16, 19, 22)), rnd.choice((-1, 1))))
        return
    c.mcs()
    if kind == 2:
        c.send(XF_CLIENT_INFO)          # before erect domain / attach
        return
    c.attach()
    c.join()
    if kind == 3:
        c.send(with_byte(XF_CLIENT_INFO, 15 + 12 + 2 * rnd.randrange(5), rnd.choice((-2, -1, 1, 2))))
        return
    if kind == 4:
        c.send(sdr(c.user, IO_CHANNEL, XF_CLIENT_INFO[15:15 + rnd.randrange(4, 40)]))
        return
    c.info()
    if kind == 5:
        c.send(confirm_with(b"", count_delta=rnd.choice((1, 40))))
        return
    if kind == 6:
        c.send(confirm_with(b"\x77\x00\x03\x00", count_delta=1))
        return
    c.finalize()
    c.send(rnd.choice((bytes.fromhex("088005001e"), bytes.fromhex("848005001e"),
                       sdr(c.user, IO_CHANNEL, b"\xff" + share_data(0x1C, b"")[1:]))))


def test_malformed_pdus_do_not_leak(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path):
    require(XFREERDP, SOAK)
    port = free_port()
    h = holdfast({"term": term_conf(port, *certs, max_connections_per_address=2000, handshake_timeout="5s")})
    pid = h.service("term")["pid"]
    base = h.service("term")["region_bytes"]
    base_fds = h.service("term")["fds"]
    report = str(tmp_path / "soak.json")

    def shell():
        for p in test_user.pids():
            try:
                with open("/proc/%d/comm" % p) as f:
                    if f.read().strip() in ("bash", "sh", "dash"):
                        return True
            except OSError:
                pass
        return False

    # Warm-up login, before any measurement: the first login makes the
    # broker (forked from the worker, sharing its pages) run PAM and fork a
    # shell, which unshares pages and steps the worker's PSS up once.
    first = rdp_clients(xvfb, "xfreerdp", port, user=test_user.name, password=test_user.password)
    wait_for(shell, 60, step=0.2, what="a shell of the test user (warm-up login)")
    first.stop()
    wait_for(lambda: not shell(), 20, step=0.2, what="the warm-up session to end")

    # Phase 1: 150,000 malformed PDUs before TLS over 8 connections, and a
    # real login during the flood.  The login comes at once, so that it
    # falls in the warm-up: a new session holds ~1 MB (its screen, vterm,
    # the shell's first output), a legitimate one-off step that would
    # otherwise be fitted as ~10 B/PDU.
    soak = subprocess.Popen([SOAK, "ms01-040", "--target", "127.0.0.1:%d" % port, "--pid", str(pid),
                             "--count", str(SOAK_COUNT), "--connections", "8", "--duration", "120",
                             "--warmup", SOAK_WARMUP, "--json", report, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        c = rdp_clients(xvfb, "xfreerdp", port, user=test_user.name, password=test_user.password)
        wait_for(shell, 60, step=0.2, what="a shell of the test user during the flood")
        assert soak.poll() is None, "the flood ended before the login completed"
        assert c.alive()
        out, _ = soak.communicate(timeout=300)
    finally:
        if soak.poll() is None:
            soak.kill()
            soak.wait()
    text = out.decode("latin-1")
    with open(report) as f:
        d = json.load(f)
    line = "soak: %s, pss %.3f B/msg CI [%s, %s]" % (d["verdict"], d["pss_slope_bytes_per_message"],
                                                    d["pss_ci95_low"], d["pss_ci95_high"])
    print(text)
    print(line)
    assert h.service("term")["pid"] == pid, text
    assert d["slope_source"] == "pss", line
    assert d["pss_ci95_high"] is not None and d["pss_ci95_high"] < SLOPE_LIMIT, line
    assert d["verdict"] == "no leak", text
    assert c.alive()

    # Phase 2: malformed PDUs after TLS (each costs a TLS handshake, so far
    # fewer; too few for a slope at 1 B/PDU against page-sized noise and
    # the heap's high-water steps under concurrency).  Checked exactly
    # instead: every byte charged to the worker region comes back and no fd
    # stays open; and coarsely: after a warm-up third, the RSS grows by
    # less than 128 KiB over the last third (a leak of 256 B/PDU would).
    errors = []
    sent = [0]

    def flood(seed, count):
        rnd = random.Random(seed)
        end = time.monotonic() + TLS_FLOOD_S
        for _ in range(count):
            if time.monotonic() > end:
                break
            cc = None
            try:
                cc = Rdp(port, timeout=5)
                bad_after_tls(cc, rnd)
                sent[0] += 1
                if not cc.closed_by_server(5):
                    errors.append("not closed")
            except (OSError, EOFError, AssertionError) as e:
                errors.append(repr(e))
            finally:
                if cc:
                    cc.close()

    def run(count):
        ts = [threading.Thread(target=flood, args=(i + count, count // 2)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(TLS_FLOOD_S + 60)

    rss = [h.service("term")["rss_bytes"]]
    for _ in range(6):
        run(TLS_FLOOD_MAX // 6)
        rss.append(h.service("term")["rss_bytes"])
    print("RSS", [r - rss[0] for r in rss])
    rss0, rss1 = rss[4], rss[6]
    line = "post-TLS: %d PDUs, %d errors %s, RSS %+d bytes over the last third" % (sent[0], len(errors), errors[:3],
                                                                          rss1 - rss0)
    print(line)
    assert h.service("term")["pid"] == pid, line
    assert sent[0] >= 100, line
    assert len(errors) <= sent[0] // 100, line
    assert rss1 - rss0 < 128 * 1024, line
    assert c.alive()
    # Once the client disconnects too, the worker region is back at its
    # baseline (the session's region included: keep_disconnected is 0).
    c.stop()
    wait_for(lambda: h.service("term")["connections"] == 0, 20, what="connections to close")
    wait_for(lambda: h.service("term")["region_bytes"] <= base + 16 * 1024, 20,
             what="the worker region back at its baseline %d (now %d)" % (base, h.service("term")["region_bytes"]))
    wait_for(lambda: h.service("term")["fds"] <= base_fds, 20,
             what="the worker's fds back at %d (now %d)" % (base_fds, h.service("term")["fds"]))
