"""holdfast-soak's scenarios, smoke-tested: every network scenario (attack
and --valid) runs to its count against a sink on 127.0.0.1 and writes a
JSON report, and ms01-003 reports what an unprivileged user could take.
The sink is tests/soak/leaky.c (leaking nothing): it does not speak NNTP,
RDP or PPTP, so the probe fails there and `degraded` is the expected
verdict; what is checked is that the harness sends, counts, measures and
reports without failing.

The RDP and PPTP modes are checked against small responders written for
these tests (xrdp and pptpd are not part of `make check`; pptpd cannot keep
a call up here anyway: no kernel PPP): tests/soak/rdp_tls_responder.py
(X.224 Connection Confirm selecting PROTOCOL_SSL, a TLS handshake, then it
judges the decrypted first PDU) and tests/soak/pptp_responder.py (SCCRP,
OCRP with its own call ids, Echo-Reply; a raw GRE socket counts the GRE
that carries those call ids).  What the responders saw is compared with
what the harness says it sent.  Every run is bounded in count and time;
every process started here is stopped by PID."""
import json
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("HOLDFAST_BUILD", "build/release"))
SOAK = os.path.join(BUILD, "holdfast-soak")
LEAKY_SRC = os.path.join(ROOT, "tests", "soak", "leaky.c")
RDP_RESPONDER = os.path.join(ROOT, "tests", "soak", "rdp_tls_responder.py")
PPTP_RESPONDER = os.path.join(ROOT, "tests", "soak", "pptp_responder.py")

pytestmark = pytest.mark.skipif(not os.path.exists(SOAK), reason="holdfast-soak not built in %s" % BUILD)


@pytest.fixture(scope="module")
def sink(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to build tests/soak/leaky.c")
    out = str(tmp_path_factory.mktemp("sink") / "leaky")
    subprocess.run([cc, "-O2", "-o", out, LEAKY_SRC], check=True)
    p = subprocess.Popen([out, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    assert line.startswith("READY ")
    yield p.pid, int(line.split()[1])
    os.kill(p.pid, signal.SIGTERM)
    p.wait(timeout=10)
    p.stdout.close()


@pytest.mark.parametrize("scenario", ["ms01-043", "ms03-029", "ms03-029/rdp", "ms03-029/pptp", "ms01-040",
                                      "ms01-009"])
@pytest.mark.parametrize("valid", [False, True])
def test_network_scenario_runs_and_reports(tmp_path, sink, scenario, valid):
    pid, port = sink
    js = str(tmp_path / "r.json")
    scenario, _, proto = scenario.partition("/")
    args = [SOAK, scenario, "--target", "127.0.0.1:%d" % port, "--pid", str(pid), "--count", "3000",
            "--duration", "60", "--json", js, "--no-progress", "--probe-timeout", "200", "--drain-wait", "2"]
    if proto:
        args += ["--protocol", proto]
    if valid:
        args.append("--valid")
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1, 2, 3), (p.returncode, p.stdout, p.stderr)
    with open(js) as f:
        d = json.load(f)
    assert d["scenario"] == scenario
    assert d["mode"] == ("valid" if valid else "attack")
    assert d["messages_sent"] == 3000
    assert d["bytes_sent"] > 3000
    assert d["verdict"] in ("no leak", "leak", "inconclusive", "degraded")
    assert d["stopped_by"] == "count"
    if scenario == "ms01-040":
        # The sink does not answer the TLS Connection Request: after a few
        # timeouts the run goes on with pre-TLS PDUs only, and says so.
        assert d["tls_gave_up"] is True and d["tls_handshakes"] == 0
        assert "pre-TLS" in d["note"]


def test_seeded_runs_send_the_same_bytes(tmp_path, sink):
    pid, port = sink
    sizes = []
    for i in range(2):
        js = str(tmp_path / ("s%d.json" % i))
        subprocess.run([SOAK, "ms01-043", "--target", "127.0.0.1:%d" % port, "--count", "2000", "--connections",
                        "1", "--seed", "7", "--no-probe", "--json", js, "--no-progress"],
                       capture_output=True, text=True, timeout=120)
        with open(js) as f:
            sizes.append(json.load(f)["bytes_sent"])
    assert sizes[0] == sizes[1]


@pytest.fixture
def reachable_dir():
    # pytest's tmp_path lives under a 0700 directory nobody cannot enter.
    d = tempfile.mkdtemp(prefix="hf-soak-003-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_ms01_003_reports_what_it_could_take(reachable_dir):
    if os.geteuid() != 0:
        pytest.skip("switching to an unprivileged user needs root")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    base = reachable_dir / "target"
    base.mkdir()
    os.chmod(str(base), 0o755)
    closed = base / "rundir"
    closed.mkdir(mode=0o750)
    os.chmod(str(closed), 0o750)
    opened = base / "spool"
    opened.mkdir()
    os.chmod(str(opened), 0o777)
    lock = base / "holdfastd.pid"
    lock.write_text("1\n")
    os.chmod(str(lock), 0o644)
    p = subprocess.run([SOAK, "ms01-003", "--as-user", "nobody", "--path", str(closed), "--path", str(opened),
                        "--path", str(lock), "--path", str(closed / "ctl.sock")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()

    def result(path, what):
        for ln in lines:
            if ln.split()[:1] == [path] and what in ln:
                return ln.rstrip().endswith("taken")
        raise AssertionError("no line for %s %s in %s" % (path, what, p.stdout))

    assert not result(str(closed), "create inside")
    assert result(str(opened), "create inside")
    assert result(str(lock), "lock (flock)")      # a readable lock file can be flocked by anyone
    assert not result(str(lock), "fill")
    assert not result(str(closed / "ctl.sock"), "reach")
    # What it created is removed and what it filled is restored.
    assert os.listdir(str(opened)) == []
    assert lock.read_text() == "1\n"


def test_ms01_003_refuses_to_run_as_root_without_a_user():
    if os.geteuid() != 0:
        pytest.skip("only meaningful as root")
    p = subprocess.run([SOAK, "ms01-003", "--path", "/nonexistent"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 64


@pytest.mark.parametrize("scenario", ["ms01-009", "ms01-040"])
def test_raw_side_flood_sends(tmp_path, sink, scenario):
    if os.geteuid() != 0:
        pytest.skip("raw sockets need root")
    pid, port = sink
    js = str(tmp_path / "raw.json")
    p = subprocess.run([SOAK, scenario, "--raw", "--raw-rate", "5000", "--target", "127.0.0.1:%d" % port,
                        "--pid", str(pid), "--count", "3000", "--no-probe", "--json", js, "--no-progress",
                        "--baseline", "0.5"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1, 2), (p.stdout, p.stderr)
    with open(js) as f:
        d = json.load(f)
    assert d["raw_packets_sent"] > 0
    assert d["raw_send_errors"] == 0
    if scenario == "ms01-009":
        # The sink is no PPTP server: no call, the GRE goes to random ids.
        assert d["gre_calls_established"] == 0 and d["gre_packets_to_calls"] == 0
        assert "no PPTP call could be established" in p.stderr


def test_raw_refused_where_there_is_none():
    p = subprocess.run([SOAK, "calibrate", "--raw", "--target", "127.0.0.1:9"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 64


# ---- RDP after TLS (ms01-040 --phase), against tests/soak/rdp_tls_responder.py ----

class Responder:
    """A responder script started with a stats file; stopped by PID."""

    def __init__(self, script, tmp, *extra):
        self.stats_path = str(tmp / ("%s.json" % os.path.basename(script)))
        self.p = subprocess.Popen([sys.executable, script, "--port", "0", "--stats", self.stats_path,
                                   "--max-seconds", "240"] + list(extra),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("READY "), line
        self.port = int(line.split()[1])
        self.pid = self.p.pid

    def stats(self):
        with open(self.stats_path) as f:
            return json.load(f)

    def wait_for(self, key, value, timeout=15):
        """The stats file is written as connections end: wait (bounded)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = self.stats()
            if st[key] >= value:
                return st
            time.sleep(0.1)
        return self.stats()

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.p.stdout.close()


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    d = tmp_path_factory.mktemp("cert")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=holdfast-soak-test"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def rdp_responder(tmp_path, tls_cert):
    made = []

    def start(*extra):
        r = Responder(RDP_RESPONDER, tmp_path, "--cert", tls_cert[0], "--key", tls_cert[1], *extra)
        made.append(r)
        return r
    yield start
    for r in made:
        r.stop()


def soak_json(tmp_path, args, timeout=120):
    js = str(tmp_path / "soak.json")
    p = subprocess.run([SOAK] + args + ["--json", js, "--no-progress"], capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode != 64, p.stderr
    with open(js) as f:
        return p, json.load(f)


def test_ms01_040_post_tls_every_message_reaches_the_responder(tmp_path, rdp_responder):
    r = rdp_responder()
    p, d = soak_json(tmp_path, ["ms01-040", "--phase", "post", "--target", "127.0.0.1:%d" % r.port, "--pid",
                                str(r.pid), "--count", "200", "--duration", "60", "--probe-timeout", "500",
                                "--probe-interval", "10"])
    assert d["stopped_by"] == "count", p.stdout
    assert d["messages_sent"] == 200
    assert d["tls_handshakes"] >= 200 and d["tls_refused"] == 0
    # One malformed PDU per TLS session, each read whole by the responder
    # (half-close, then the harness waits for the responder's close).
    st = r.wait_for("tls_sessions_with_data", 200)
    assert st["tls_sessions_with_data"] == 200, st
    assert st["tls_bytes"] > 200 * 7
    # Most are malformed; the post-connection kinds start with a valid Connect-Initial.
    assert st["malformed_first_pdu"] >= 120, st
    assert st["valid_connect_initial"] >= 20, st
    # The probe got its Connection Confirm and completed a TLS handshake too.
    assert d["probe_count"] >= 10 and d["probe_failures"] == 0, p.stdout
    # (Handshakes the run's end cut short may add responder errors, not probes.)
    st = r.wait_for("tls_sessions", 200 + d["probe_count"])
    assert st["tls_sessions"] >= 200 + d["probe_count"], (st, p.stdout)


def test_ms01_040_probe_no_tls_stops_at_the_confirm(tmp_path, rdp_responder):
    r = rdp_responder()
    p, d = soak_json(tmp_path, ["ms01-040", "--phase", "pre", "--probe-no-tls", "--target",
                                "127.0.0.1:%d" % r.port, "--count", "100", "--duration", "60",
                                "--probe-interval", "20", "--probe-timeout", "500"])
    assert d["probe_count"] >= 1 and d["probe_failures"] == 0, p.stdout
    time.sleep(0.5)
    st = r.stats()
    # The responder's TLS accept saw no handshake from the probe (it closed after the confirm).
    assert st["tls_sessions"] == 0, st
    assert st["errors"] >= d["probe_count"] - 1, st


def test_ms01_040_post_tls_valid_control_is_well_formed(tmp_path, rdp_responder):
    r = rdp_responder()
    p, d = soak_json(tmp_path, ["ms01-040", "--phase", "post", "--valid", "--target", "127.0.0.1:%d" % r.port,
                                "--count", "100", "--duration", "60", "--no-probe"])
    assert d["messages_sent"] == 100, p.stdout
    st = r.wait_for("tls_sessions_with_data", 100)
    assert st["valid_connect_initial"] == 100, st
    assert st["malformed_first_pdu"] == 0, st


def test_ms01_040_phase_both_mixes_pre_and_post_tls(tmp_path, rdp_responder):
    r = rdp_responder()
    p, d = soak_json(tmp_path, ["ms01-040", "--target", "127.0.0.1:%d" % r.port, "--count", "300", "--duration",
                                "60", "--no-probe", "--connections", "2"])
    assert d["messages_sent"] == 300, p.stdout
    # Connections alternate: about half the messages went through TLS.
    assert 100 <= d["tls_handshakes"] <= 200, d
    st = r.wait_for("connections", 300)
    assert st["plain_connections"] >= 100, st
    assert st["tls_sessions_with_data"] >= 100, st


def test_ms01_040_phase_pre_never_starts_tls(tmp_path, rdp_responder):
    r = rdp_responder()
    p, d = soak_json(tmp_path, ["ms01-040", "--phase", "pre", "--target", "127.0.0.1:%d" % r.port, "--count",
                                "200", "--duration", "60", "--no-probe"])
    assert d["messages_sent"] == 200, p.stdout
    assert d["tls_handshakes"] == 0
    time.sleep(0.5)
    assert r.stats()["tls_sessions"] == 0


def test_ms01_040_post_stops_when_the_target_refuses_tls(tmp_path, rdp_responder):
    r = rdp_responder("--refuse-tls")
    t0 = time.monotonic()
    p, d = soak_json(tmp_path, ["ms01-040", "--phase", "post", "--target", "127.0.0.1:%d" % r.port, "--count",
                                "1000", "--duration", "60", "--no-probe"])
    assert time.monotonic() - t0 < 50
    assert p.returncode == 2, p.stdout
    assert d["stopped_by"] == "no TLS"
    assert d["messages_sent"] == 0
    assert d["tls_refused"] >= 100 and d["tls_handshakes"] == 0
    assert "TLS" in d["note"]


def test_half_close_every_byte_sent_is_read(tmp_path, rdp_responder):
    """One PDU per connection, closed by us: the responder answers each TPKT
    (a Connection Confirm the harness must read), so a close() with that
    answer unread would reset the connection and the responder would lose
    what it had not read yet.  With the half-close it reads every byte."""
    r = rdp_responder("--answer-plain")
    p, d = soak_json(tmp_path, ["ms03-029", "--protocol", "rdp", "--target", "127.0.0.1:%d" % r.port, "--count",
                                "300", "--duration", "60", "--no-probe"])
    assert d["messages_sent"] == 300, p.stdout
    assert d["drain_timeouts"] == 0
    st = r.wait_for("plain_bytes", d["bytes_sent"])
    assert st["plain_bytes"] == d["bytes_sent"], (st, d["bytes_sent"])


# ---- PPTP GRE at established calls (ms01-009 --raw), against tests/soak/pptp_responder.py ----

@pytest.fixture
def pptp_responder(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("raw GRE sockets need root")
    r = Responder(PPTP_RESPONDER, tmp_path)
    yield r
    r.stop()


def test_ms01_009_gre_hits_the_established_calls(tmp_path, pptp_responder):
    r = pptp_responder
    p, d = soak_json(tmp_path, ["ms01-009", "--raw-only", "--raw-rate", "5000", "--gre-calls", "2", "--target",
                                "127.0.0.1:%d" % r.port, "--pid", str(r.pid), "--count", "5000", "--duration", "60",
                                "--baseline", "0.5"])
    assert d["stopped_by"] == "count", p.stdout
    assert d["raw_mode"] == "raw-only"
    assert d["messages_sent"] == 5000 and d["raw_packets_sent"] == 5000
    assert d["gre_calls_established"] == 2 and d["gre_call_losses"] == 0
    # 7 packets in 8 carry an established call's id.
    assert d["gre_packets_to_calls"] >= 0.8 * 5000
    time.sleep(0.5)
    st = r.stats()
    assert st["calls"] == 2 and st["ocrq"] == 2
    assert st["gre_packets"] >= 0.95 * 5000, st
    # The responder recognises the well-keyed ones (not the bad-version /
    # no-key / truncated kinds) as aimed at its calls.
    assert st["gre_to_calls"] >= 0.7 * d["gre_packets_to_calls"], (st, d["gre_packets_to_calls"])
    # Bad control messages on the calls' own connections, all read.
    assert d["gre_bad_control_sent"] >= 5
    assert st["odd_control"] == d["gre_bad_control_sent"], st
    # The probe: a second control connection, Echo-Request / Echo-Reply.
    assert d["probe_count"] >= 3 and d["probe_failures"] == 0
    assert st["echo_requests"] >= d["probe_count"]
    assert d["raw_slab_slope_bytes_per_packet"] is not None
    assert d["raw_pss_slope_bytes_per_packet"] is not None


def test_ms01_009_raw_beside_the_control_flood(tmp_path, pptp_responder):
    r = pptp_responder
    p, d = soak_json(tmp_path, ["ms01-009", "--raw", "--raw-rate", "2000", "--target", "127.0.0.1:%d" % r.port,
                                "--pid", str(r.pid), "--count", "3000", "--duration", "60", "--baseline", "0.5"])
    assert d["messages_sent"] == 3000, p.stdout
    assert d["raw_mode"] == "beside"
    assert d["raw_packets_sent"] > 0 and d["gre_calls_established"] == 2
    assert all("raw" in s for s in d["samples"])
    assert d["samples"][-1]["raw"] > d["samples"][0]["raw"]


def test_raw_only_bad_checksums_take_the_kernels_checksum_path(tmp_path, sink):
    if os.geteuid() != 0:
        pytest.skip("raw sockets need root")
    pid, port = sink
    p, d = soak_json(tmp_path, ["ms01-040", "--raw-only", "--raw-rate", "5000", "--target", "127.0.0.1:%d" % port,
                                "--pid", str(pid), "--count", "4000", "--duration", "60", "--no-probe",
                                "--baseline", "0.5", "--raw-window", "0.1"])
    assert d["stopped_by"] == "count", p.stdout
    assert d["messages_sent"] == 4000 and d["raw_packets_sent"] == 4000
    # Loopback verifies TCP checksums: every segment is counted as bad.
    assert d["tcp_in_csum_errors"] >= 4000, d["tcp_in_csum_errors"]
    assert d["raw_slab_slope_bytes_per_packet"] is not None
    assert d["slab_idle_drift_before_bytes_per_s"] is not None
    assert d["slab_idle_drift_after_bytes_per_s"] is not None
    assert "raw slab" in p.stdout and "Tcp InCsumErrors" in p.stdout
    # Sent 0.1 s, rested 0.1 s: on windows paired with the idle ones beside them.
    assert d["raw_window_s"] == 0.1
    assert d["raw_slab_pairs"] >= 6
    assert d["raw_slab_paired_ci95_low"] <= d["raw_slab_paired_bytes_per_packet"] <= d["raw_slab_paired_ci95_high"]
    # The rests are real: 4,000 packets at 5,000/s took well over 0.8 s.
    assert d["elapsed_s"] >= 1.2


def test_raw_window_0_sends_without_rest(tmp_path, sink):
    if os.geteuid() != 0:
        pytest.skip("raw sockets need root")
    pid, port = sink
    p, d = soak_json(tmp_path, ["ms01-040", "--raw-only", "--raw-rate", "5000", "--target", "127.0.0.1:%d" % port,
                                "--pid", str(pid), "--count", "2000", "--duration", "60", "--no-probe",
                                "--baseline", "0", "--raw-window", "0"])
    assert d["messages_sent"] == 2000, p.stdout
    assert d["raw_slab_pairs"] == 0 and d["raw_slab_paired_bytes_per_packet"] is None
    assert d["slab_idle_drift_before_bytes_per_s"] is None


@pytest.fixture
def plant_dir():
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    d = tempfile.mkdtemp(prefix="hf-soak-slab-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_paired_slab_estimate_finds_a_planted_kernel_cost(tmp_path, plant_dir):
    """The responder keeps a directory (a dentry and an inode: roughly
    0.7-1 KiB of host Slab) per GRE packet it receives.  The paired
    per-packet Slab estimate must see it through the host's own drift;
    the same run without the planting must not."""
    if os.geteuid() != 0:
        pytest.skip("raw GRE sockets need root")
    found = {}
    for planted in (True, False):
        extra = ("--plant-slab-dir", plant_dir) if planted else ()
        r = Responder(PPTP_RESPONDER, tmp_path, *extra)
        try:
            p, d = soak_json(tmp_path, ["ms01-009", "--raw-only", "--raw-rate", "5000", "--raw-window", "0.2",
                                        "--baseline", "0.5", "--target", "127.0.0.1:%d" % r.port, "--pid",
                                        str(r.pid), "--count", "10000", "--duration", "60", "--no-probe"])
        finally:
            r.stop()
        assert d["messages_sent"] == 10000, p.stdout
        assert d["raw_slab_pairs"] >= 8, d["raw_slab_pairs"]
        found[planted] = (d["raw_slab_paired_ci95_low"], d["raw_slab_paired_bytes_per_packet"],
                          d["raw_slab_paired_ci95_high"])
    assert len(os.listdir(plant_dir)) >= 9500
    assert found[True][0] > 250, found
    assert found[False][0] < 250, found
