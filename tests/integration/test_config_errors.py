"""Configuration errors stop holdfastd at once, naming file, line and key."""
import os
import subprocess

from conftest import HOLDFASTD


def run_with(tmpdir_root, text):
    path = os.path.join(tmpdir_root, "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([HOLDFASTD, "-f", "-c", path], capture_output=True, text=True, timeout=10)
    return path, r


def test_unknown_key_names_file_line_key(tmpdir_root):
    path, r = run_with(tmpdir_root, "[holdfast]\nrundir = %s/run\n\n[echo]\nlisten = 127.0.0.1:1\nlistne = x\n"
                       % tmpdir_root)
    assert r.returncode == 1
    assert "%s:6:" % path in r.stderr and "listne" in r.stderr


def test_bad_duration_names_line(tmpdir_root):
    path, r = run_with(tmpdir_root, "[holdfast]\n[echo]\nidle_timeout = 3x\n")
    assert r.returncode == 1
    assert "%s:3:" % path in r.stderr and "idle_timeout" in r.stderr


def test_unknown_section(tmpdir_root):
    path, r = run_with(tmpdir_root, "[holdfast]\n\n[nttp]\nenable = yes\n")
    assert r.returncode == 1
    assert "%s:3:" % path in r.stderr and "nttp" in r.stderr


def test_unknown_user(tmpdir_root):
    path, r = run_with(tmpdir_root, "[holdfast]\nrundir = %s/run\n[echo]\nenable = yes\nlisten = 127.0.0.1:1\n"
                       "user = no-such-user-hf\n" % tmpdir_root)
    assert r.returncode == 1
    assert "no-such-user-hf" in r.stderr and "user" in r.stderr


def test_missing_file(tmpdir_root):
    r = subprocess.run([HOLDFASTD, "-f", "-c", os.path.join(tmpdir_root, "nope.conf")], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and "nope.conf" in r.stderr


def test_address_in_use_is_refused(tmpdir_root):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    path, r = run_with(tmpdir_root, "[holdfast]\nrundir = %s/run\nstate_dir = %s/var\n[echo]\nenable = yes\n"
                       "listen = 127.0.0.1:%d\n" % (tmpdir_root, tmpdir_root, port))
    s.close()
    assert r.returncode == 1 and "127.0.0.1:%d" % port in r.stderr
