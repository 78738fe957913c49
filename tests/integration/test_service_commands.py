"""holdfastctl SERVICE COMMAND: forwarded by holdfastd to the service's
worker over a typed socketpair, answered with the worker's text."""
import os
import signal

from conftest import echo_section, free_port, wait_for


def test_command_reaches_worker_and_answers(holdfast):
    h = holdfast({"echo": echo_section(free_port())})
    r = h.ctl("echo", "ping")
    assert r.stdout == "pong\n"
    r = h.ctl("echo", "echo", "a", "b c")
    assert r.stdout == "a b c\n"
    r = h.ctl("echo", "stats")
    assert "connections 0" in r.stdout and "region_bytes" in r.stdout


def test_unknown_command_fails_with_usage(holdfast):
    h = holdfast({"echo": echo_section(free_port())})
    r = h.ctl("echo", "nope", check=False)
    assert r.returncode == 1 and "usage" in r.stderr


def test_unknown_or_disabled_service(holdfast):
    h = holdfast({"echo": echo_section(free_port())})
    r = h.ctl("echo2", "ping", check=False)
    assert r.returncode == 1 and "no such service" in r.stderr
    r = h.ctl("nosuch", "ping", check=False)
    assert r.returncode == 1


def test_commands_survive_worker_restart(holdfast):
    h = holdfast({"echo": echo_section(free_port())})
    old = h.service("echo")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: (lambda s: s["pid"] not in (0, old) and s["state"] == "running" and s["budget_bytes"])(
        h.service("echo")), 5, what="restart")
    assert h.ctl("echo", "ping").stdout == "pong\n"


def test_overlong_argument_refused_by_client(holdfast):
    h = holdfast({"echo": echo_section(free_port())})
    r = h.ctl("echo", "echo", "x" * 300, check=False)
    assert r.returncode == 2 and "too long" in r.stderr


def _ctl_raw(h, data, read=True, timeout=5):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(os.path.join(h.rundir, "control"))
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"<timeout>"
    s.close()
    return out


def test_malformed_control_messages(holdfast):
    import struct
    import time
    h = holdfast({"echo": echo_section(free_port())})
    MAGIC = 0x6866636c
    hdr = lambda t, n, magic=MAGIC, ver=1: struct.pack("=IHHII", magic, ver, t, n, 0)
    # Each gets CTL_RESP_ERROR (103) and the supervisor goes on.
    for bad in (hdr(1, 0, magic=0), hdr(1, 0, ver=9), hdr(1, 5), hdr(3, 10), hdr(77, 0)):
        out = _ctl_raw(h, bad)
        assert len(out) >= 16 and struct.unpack("=IHHII", out[:16])[2] == 103, out[:32]
    # A client that sends half a header and waits is dropped after the I/O timeout.
    t0 = time.monotonic()
    out = _ctl_raw(h, b"\x6c\x63", timeout=10)
    assert out == b"" and time.monotonic() - t0 < 5
    assert h.ctl("echo", "ping").stdout == "pong\n"
    assert h.status()["services"][0]["name"] == "echo"
