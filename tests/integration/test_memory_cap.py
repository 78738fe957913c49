"""A worker driven past its OS memory cap (cgroup memory.max, or
RLIMIT_DATA where no cgroup is writable) dies and is restarted alone."""
import pytest

from conftest import SANITIZED, LineClient, echo_section, free_port, wait_for


@pytest.mark.parametrize("mode", ["auto", "rlimit"])
def test_worker_past_cap_is_restarted_alone(holdfast, mode):
    if SANITIZED and mode == "rlimit":
        pytest.skip("AddressSanitizer reserves terabytes of shadow: it cannot start under RLIMIT_DATA")
    p1, p2 = free_port(), free_port()
    h = holdfast({"echo": echo_section(p1, memory_max="32m", allow_hog="yes"), "echo2": echo_section(p2)},
                 global_extra="memory_cap = %s" % mode)
    before = {s["name"]: s["pid"] for s in h.status()["services"]}
    cap = h.service("echo")["memory_cap"]
    assert cap in (("cgroup2", "cgroup1", "rlimit") if mode == "auto" else ("rlimit",))
    if SANITIZED and cap == "rlimit":
        pytest.skip("AddressSanitizer cannot run under RLIMIT_DATA and no cgroup is writable here")
    other = LineClient(p2)
    other.readline()
    c = LineClient(p1)
    c.readline()
    died = False
    for i in range(64):                       # at most 256 MiB, 8x the cap
        try:
            r = c.cmd("HOG 4194304")
        except (EOFError, ConnectionResetError, BrokenPipeError):
            died = True
            break
        assert r.startswith("200 hogged")
    assert died, "worker survived 256 MiB past a 32 MiB cap (%s)" % cap
    s = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] not in (0, before["echo"])
                          and s["budget_bytes"] else None)(h.service("echo")), 5, what="restart")
    assert s["restarts"] == 1
    assert h.service("echo2")["pid"] == before["echo2"] and h.service("echo2")["restarts"] == 0
    assert other.cmd("PING") == "200 PONG"
    c2 = LineClient(p1)
    assert c2.readline().startswith("200") and c2.cmd("PING") == "200 PONG"
