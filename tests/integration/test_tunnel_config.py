"""Configuration errors of the tunnel section stop holdfastd at once with
a message naming the key or path; nothing is created (no TUN device, no
namespace needed: the checks run in the supervisor before any fork)."""
import os
import signal
import subprocess

from conftest import HOLDFASTD
from pptplib import write_users


def run_with(tmpdir_root, **keys):
    """holdfastd with a [tunnel] section that must be refused: if it were
    accepted, holdfastd would serve (and make a TUN device), so the run is
    bounded and stopped by PID."""
    if "users_file" not in keys:
        keys["users_file"] = write_users(tmpdir_root)
    sec = {"enable": "yes", "listen": "127.0.0.1:1", "user": "nobody",
           "connection_budget": "32k", "read_max": "1k", "write_budget": "4k"}
    sec.update(keys)
    text = "[holdfast]\nrundir = %s/run\nstate_dir = %s/var\n[tunnel]\n" % (tmpdir_root, tmpdir_root)
    text += "".join("%s = %s\n" % kv for kv in sec.items())
    path = os.path.join(tmpdir_root, "t.conf")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.Popen([HOLDFASTD, "-f", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)     # a graceful stop takes its worker with it
        out, err = p.communicate(timeout=15)
        raise AssertionError("accepted a bad configuration %r:\n%s" % (keys, err))
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def test_users_file_must_be_root_0600(tmpdir_root):
    users = os.path.join(tmpdir_root, "users-0644")
    with open(users, "w") as f:
        f.write("alice secret\n")
    os.chmod(users, 0o644)
    r = run_with(tmpdir_root, users_file=users)
    assert r.returncode == 1
    assert users in r.stderr, r.stderr
    r = run_with(tmpdir_root, users_file=os.path.join(tmpdir_root, "missing"))
    assert r.returncode == 1 and "missing" in r.stderr


def test_bad_tunnel_values(tmpdir_root):
    cases = [
        ({"local_address": "10.99.0.300"}, "local_address"),
        ({"pool_start": "10.99.0.60", "pool_end": "10.99.0.50"}, "pool_start"),
        ({"pool_start": "10.0.0.1", "pool_end": "10.1.0.0"}, "more than"),
        ({"local_address": "10.99.0.20"}, "inside the pool"),
        ({"auth": "chap", "mppe": "require"}, "mschapv2"),
        ({"auth": "mschapv3"}, "mschapv3"),
        ({"mppe": "sometimes"}, "mppe"),
        ({"dns": "1.1.1.1, 8.8.8.8, 9.9.9.9"}, "dns"),
        ({"tun_name": "a-very-long-interface-name"}, "tun_name"),
        ({"calls_max": "0"}, "calls_max"),
        ({"gre_rate": "0"}, "gre_rate"),
        ({"users_file": ""}, "users_file"),
    ]
    for keys, word in cases:
        r = run_with(tmpdir_root, **keys)
        assert r.returncode == 1, (keys, r.stderr)
        assert word in r.stderr, (keys, r.stderr)


def test_worker_and_tun_go_with_a_killed_supervisor(holdfast, tmpdir_root):
    """SIGKILL to holdfastd: the tunnel worker (which holds the TUN device
    and the raw GRE socket) must not outlive it.  The worker drops
    privileges after fork, which clears the parent-death signal; the
    runtime sets it again."""
    from pptplib import Topology, start_server, stop_tree  # noqa: F401
    from conftest import pid_alive, wait_for
    topo = Topology().up()
    worker = None
    try:
        h = start_server(holdfast, topo, tmpdir_root)
        worker = h.service("tunnel")["pid"]
        assert "hft0" in topo.run(topo.server_ns, ["ip", "link"]).stdout
        h.proc.send_signal(signal.SIGKILL)
        h.proc.wait(5)
        wait_for(lambda: not pid_alive(worker), 10, step=0.1, what="the worker to exit")
        wait_for(lambda: "hft0" not in topo.run(topo.server_ns, ["ip", "link"]).stdout, 5, step=0.1,
                 what="the TUN device to go")
    finally:
        if worker and pid_alive(worker):        # the bug this test is about: stop it by PID
            os.kill(worker, signal.SIGKILL)
        topo.down()
