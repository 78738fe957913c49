"""MS01-003: an unprivileged local user tries to take the runtime and
storage paths first.  holdfastd must start and serve, or refuse at once
naming the path; never hang, never follow the squatter's symlink."""
import json
import os
import subprocess
import time

import pytest

from conftest import ROOT, Holdfast, LineClient, echo_section, free_port

SQUATTER = os.path.join(os.path.dirname(__file__), "squatter.py")
# An unprivileged user that is not the workers' user (nobody): a worker may
# of course write its own storage directory; another local user may not.
SQUATTER_UID = 65533


def squat(tactic, *paths, hold=False, target=None):
    env = dict(os.environ, SQUAT_TARGET=target or "/etc")
    cmd = ["setpriv", "--reuid=%d" % SQUATTER_UID, "--regid=%d" % SQUATTER_UID, "--clear-groups",
           "/usr/bin/python3", SQUATTER, tactic]
    cmd += list(paths) + (["--hold"] if hold else [])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert line, "squatter printed nothing"
    res = json.loads(line)
    assert res["uid"] == SQUATTER_UID
    if not hold:
        p.wait(10)
        return res, None
    return res, p


def start_refused(h):
    """Starts holdfastd expecting a refusal; returns (seconds, log)."""
    t0 = time.monotonic()
    h.start(wait=False)
    rc = h.proc.wait(5)          # a hang fails here
    dt = time.monotonic() - t0
    assert rc != 0
    return dt, h.logtext()


def test_safe_layout_squatter_takes_nothing_and_holdfast_serves(tmpdir_root):
    port = free_port()
    h = Holdfast(tmpdir_root, {"echo": echo_section(port)})
    # Before the first start and again while it runs.
    res, holder = squat("all", h.rundir, h.state, os.path.join(h.state, "echo"), hold=True)
    try:
        assert res["taken"] == [], res
        h.start()
        res2, _ = squat("all", h.rundir, h.state, os.path.join(h.state, "echo"))
        assert res2["taken"] == [], res2
        c = LineClient(port)
        assert c.readline().startswith("200") and c.cmd("PING") == "200 PONG"
    finally:
        holder.kill()
        holder.wait()
        h.stop()


@pytest.mark.parametrize("tactic", ["mkdir", "symlink", "fill", "flock"])
def test_rundir_in_sticky_dir_taken_first(tmpdir_root, tactic):
    pub = os.path.join(tmpdir_root, "pub")
    os.mkdir(pub)
    os.chmod(pub, 0o1777)
    target = os.path.join(tmpdir_root, "target")
    os.mkdir(target, 0o755)
    h = Holdfast(tmpdir_root, {"echo": echo_section(free_port())})
    h.rundir = os.path.join(pub, "run")
    with open(h.conf) as f:
        text = f.read().replace("rundir = %s/run" % tmpdir_root, "rundir = %s" % h.rundir)
    with open(h.conf, "w") as f:
        f.write(text)
    res, holder = squat(tactic, h.rundir, hold=True, target=target)
    try:
        assert res["taken"] == ["%s:%s" % (tactic, h.rundir)], res
        dt, log = start_refused(h)
        assert dt < 2.0
        assert h.rundir in log, log
        assert os.listdir(target) == []           # the symlink was not followed
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("tactic", ["mkdir", "symlink", "fill"])
def test_state_dir_taken_first(tmpdir_root, tactic):
    pub = os.path.join(tmpdir_root, "pub")
    os.mkdir(pub)
    os.chmod(pub, 0o1777)
    target = os.path.join(tmpdir_root, "target")
    os.mkdir(target, 0o755)
    h = Holdfast(tmpdir_root, {"echo": echo_section(free_port())})
    state = os.path.join(pub, "var")
    with open(h.conf) as f:
        text = f.read().replace("state_dir = %s/var" % tmpdir_root, "state_dir = %s" % state)
    with open(h.conf, "w") as f:
        f.write(text)
    res, _ = squat(tactic, state, target=target)
    assert res["taken"] == ["%s:%s" % (tactic, state)], res
    dt, log = start_refused(h)
    assert dt < 2.0 and state in log, log
    assert os.listdir(target) == []


def test_parent_writable_by_others_is_refused(tmpdir_root):
    open_dir = os.path.join(tmpdir_root, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    h = Holdfast(tmpdir_root, {"echo": echo_section(free_port())})
    rundir = os.path.join(open_dir, "run")
    with open(h.conf) as f:
        text = f.read().replace("rundir = %s/run" % tmpdir_root, "rundir = %s" % rundir)
    with open(h.conf, "w") as f:
        f.write(text)
    dt, log = start_refused(h)
    assert dt < 2.0 and open_dir in log, log


def test_second_instance_refused_at_once(holdfast, tmpdir_root):
    port = free_port()
    h = holdfast({"echo": echo_section(port)})
    h2 = Holdfast(tmpdir_root, {"echo": echo_section(free_port())})
    h2.conf = h.conf  # same rundir, same lock
    dt, log = start_refused(h2)
    assert dt < 2.0 and "locked" in log and h.rundir in log, log
    c = LineClient(port)
    assert c.readline().startswith("200")


def test_fifo_at_lock_name_does_not_hang(tmpdir_root):
    h = Holdfast(tmpdir_root, {"echo": echo_section(free_port())})
    os.mkdir(h.rundir, 0o750)
    os.mkfifo(os.path.join(h.rundir, "holdfastd.pid"))
    dt, log = start_refused(h)
    assert dt < 2.0 and "holdfastd.pid" in log, log
