"""holdfast-soak's scenarios, smoke-tested: every network scenario (attack
and --valid) runs to its count against a sink on 127.0.0.1 and writes a
JSON report, and ms01-003 reports what an unprivileged user could take.
The sink is tests/soak/leaky.c (leaking nothing): it does not speak NNTP,
RDP or PPTP, so the probe fails there and `degraded` is the expected
verdict; what is checked is that the harness sends, counts, measures and
reports without failing.  Every process started here is stopped by PID."""
import json
import os
import pathlib
import pwd
import shutil
import signal
import subprocess
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("HOLDFAST_BUILD", "build/release"))
SOAK = os.path.join(BUILD, "holdfast-soak")
LEAKY_SRC = os.path.join(ROOT, "tests", "soak", "leaky.c")

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
            "--duration", "60", "--json", js, "--no-progress", "--probe-timeout", "200"]
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
                        "--pid", str(pid), "--count", "3000", "--no-probe", "--json", js, "--no-progress"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1, 2), (p.stdout, p.stderr)
    with open(js) as f:
        d = json.load(f)
    assert d["raw_packets_sent"] > 0
    assert d["raw_send_errors"] == 0


def test_raw_refused_where_there_is_none():
    p = subprocess.run([SOAK, "calibrate", "--raw", "--target", "127.0.0.1:9"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 64
