"""term service acceptance with real clients (issue 5): Debian's xfreerdp
and rdesktop under Xvfb, typing with xdotool, reading the client's window
back with a screenshot and tesseract.

- xfreerdp /sec:tls /cert:ignore /u /p logs in to a fresh test user;
  `echo holdfast-$RANDOM | tee .hf-ocr` typed with xdotool; the value the
  shell wrote (read from the user's home) is then found by OCR in the
  client's window.
- rdesktop without a password shows the in-terminal login prompt; typing
  the user name and password there gives a shell.
- Ten concurrent xfreerdp sessions (ten users) each log in and run a
  command typed into their own window.

Needs root (test users, PAM) and Xvfb, xfreerdp, rdesktop, xdotool,
ImageMagick, tesseract (scripts/deps.sh); skipped otherwise.  The users'
login shells print a fixed prompt (PS1 from ~/.bash_profile) that OCR
reads reliably."""
import os
import re

import pytest

from conftest import ROOT, free_port, wait_for
from rdplib import (RDESKTOP, XFREERDP, RdpClient, TestUser, Xvfb, install_pam, rdp_clients,  # noqa: F401
                    require, term_section, test_user, wait_listening, wait_ocr, xvfb)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "src", "rdp", "term.c")), reason="term service not built yet")

PROMPT = "READY> "


def prepare_shell(user):
    """A prompt OCR can find: bash -l reads ~/.bash_profile."""
    path = os.path.join(user.home, ".bash_profile")
    with open(path, "w") as f:
        f.write("PS1='%s'\nexport PS1\n" % PROMPT)
    os.chown(path, user.uid, -1)


def start_term(holdfast, certs, **extra):
    port = free_port()
    h = holdfast({"term": term_section(port, certs[0], certs[1], **extra)})
    wait_listening(port)
    return h, port


def read_home_file(user, name, timeout=20):
    path = os.path.join(user.home, name)

    def got():
        try:
            with open(path) as f:
                t = f.read().strip()
            return t or None
        except FileNotFoundError:
            return None
    return wait_for(got, timeout, step=0.1, what=path)


def test_xfreerdp_tls_login_echo(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path):
    require(XFREERDP)
    prepare_shell(test_user)
    h, port = start_term(holdfast, certs)
    c = rdp_clients(xvfb, "xfreerdp", port, user=test_user.name, password=test_user.password)
    win = c.window()
    wait_ocr(xvfb, r"READY", timeout=40, workdir=str(tmp_path), window=win)
    c.type("echo holdfast-$RANDOM | tee .hf-ocr\n")
    value = read_home_file(test_user, ".hf-ocr")
    assert re.fullmatch(r"holdfast-\d{1,5}", value), value
    m = wait_ocr(xvfb, r"(?m)^\s*" + re.escape(value) + r"\s*$", timeout=30, workdir=str(tmp_path), window=win)
    assert m
    assert c.alive()


def test_rdesktop_login_prompt(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path):
    require(RDESKTOP)
    prepare_shell(test_user)
    h, port = start_term(holdfast, certs)
    # No password: the session starts at the login prompt drawn in the terminal.
    c = rdp_clients(xvfb, "rdesktop", port, user=test_user.name)
    win = c.window()
    wait_ocr(xvfb, r"login:", timeout=40, workdir=str(tmp_path), window=win)
    c.type(test_user.name + "\n")
    wait_ocr(xvfb, r"Password:", timeout=20, workdir=str(tmp_path), window=win)
    c.type(test_user.password + "\n")
    wait_ocr(xvfb, r"READY", timeout=30, workdir=str(tmp_path), window=win)
    c.type("echo $((6*7)) > .hf-ok\n")
    assert read_home_file(test_user, ".hf-ok") == "42"


def test_ten_concurrent_xfreerdp(holdfast, certs, tmp_path):
    require(XFREERDP)
    install_pam()
    x = Xvfb(width=1600, height=1200)
    users, clients = [], []
    try:
        for _ in range(10):
            u = TestUser()
            users.append(u)
            prepare_shell(u)
        h, port = start_term(holdfast, certs, session_max=16)
        for u in users:
            clients.append(RdpClient(x, "xfreerdp", port, user=u.name, password=u.password, width=400, height=300))
        # Each session's shell runs as its user in a pty.
        for u in users:
            wait_for(lambda: any(_is_shell(p) for p in u.pids()), 60, step=0.2, what="a shell of " + u.name)
        for i, (u, c) in enumerate(zip(users, clients)):
            c.type("echo ok-%d > .hf-ok\n" % i)
        for i, u in enumerate(users):
            assert read_home_file(u, ".hf-ok", timeout=30) == "ok-%d" % i
        assert all(c.alive() for c in clients)
        st = h.service("term")
        assert st["pid"] > 0
    finally:
        for c in clients:
            c.stop()
        x.stop()
        for u in users:
            u.remove()


def _is_shell(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() == "bash"
    except OSError:
        return False
