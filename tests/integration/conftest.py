"""Shared fixtures: a real holdfastd started from the build tree with a
configuration written for the test, under a private temporary directory.

HOLDFAST_BUILD selects the build (default build/release).  Every process a
test starts is stopped by PID at teardown; nothing here uses pkill."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("HOLDFAST_BUILD", "build/release"))
HOLDFASTD = os.path.join(BUILD, "holdfastd")
HOLDFASTCTL = os.path.join(BUILD, "holdfastctl")


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")
SANITIZED = "asan" in os.path.basename(BUILD)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, step=0.02, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out


class LineClient:
    """A plain-socket client for the echo test service."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; pending %r" % self.buf[:200])
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.readline()

    def closed_by_peer(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class Holdfast:
    def __init__(self, tmp, sections, global_extra="", prefix=None):
        self.tmp = tmp
        # e.g. ["ip", "netns", "exec", NAME]: exec'ed, so the PID is holdfastd's
        self.prefix = list(prefix or [])
        self.rundir = os.path.join(tmp, "run")
        self.state = os.path.join(tmp, "var")
        self.conf = os.path.join(tmp, "holdfast.conf")
        self.proc = None
        self.log_path = os.path.join(tmp, "holdfastd.log")
        text = "[holdfast]\nrundir = %s\nstate_dir = %s\nlog = stderr\nlog_level = info\n%s\n" % (
            self.rundir, self.state, global_extra)
        for name, keys in sections.items():
            text += "[%s]\n" % name
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, wait=True, expect_services=None):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.prefix + [HOLDFASTD, "-f", "-c", self.conf], stdout=self.log, stderr=self.log)
        if wait:
            def up():
                if self.proc.poll() is not None:
                    raise AssertionError("holdfastd exited with %s:\n%s" % (self.proc.returncode, self.logtext()))
                try:
                    st = self.status()
                except Exception:
                    return None
                svcs = st["services"]
                if expect_services is not None and len(svcs) != expect_services:
                    return None
                return st if all(s["pid"] > 0 and s["state"] == "running" and s["budget_bytes"] > 0
                                 for s in svcs) else None
            wait_for(up, 10, what="holdfastd to serve")
        return self

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("latin-1")

    def ctl(self, *args, check=True):
        r = subprocess.run([HOLDFASTCTL, "-c", self.conf] + list(args), capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise AssertionError("holdfastctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def status(self):
        return json.loads(self.ctl("status", "--json").stdout)

    def service(self, name):
        for s in self.status()["services"]:
            if s["name"] == name:
                return s
        raise KeyError(name)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


@pytest.fixture
def tmpdir_root():
    d = tempfile.mkdtemp(prefix="hf-it-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def holdfast(tmpdir_root):
    """Factory: holdfast(sections) -> started Holdfast; stopped at teardown."""
    made = []

    def make(sections, start=True, **kw):
        h = Holdfast(tmpdir_root, sections, **kw)
        made.append(h)
        if start:
            h.start()
        return h

    yield make
    reports = []
    for h in made:
        pids = []
        try:
            pids = [s["pid"] for s in h.status()["services"] if s["pid"]] if h.proc and h.proc.poll() is None else []
        except Exception:
            pass
        h.stop()
        for p in pids:
            if pid_alive(p):
                os.kill(p, signal.SIGKILL)
        if h.proc:
            log = h.logtext()
            for marker in SANITIZER_MARKERS:
                if marker in log:
                    reports.append(log)
                    break
    # In sanitizer builds a leak or UB report in any process fails the test.
    assert not reports, reports[0][-6000:]


def echo_section(port, **extra):
    d = {"enable": "yes", "listen": "127.0.0.1:%d" % port, "user": "nobody", "memory_max": "64m"}
    d.update({k: str(v) for k, v in extra.items()})
    return d


@pytest.fixture
def certs(tmpdir_root):
    d = os.path.join(tmpdir_root, "tls")
    subprocess.run([os.path.join(ROOT, "scripts", "gen-cert.sh"), d], check=True, capture_output=True)
    return os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
