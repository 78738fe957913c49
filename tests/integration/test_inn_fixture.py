"""The private-INN helper works: start an INN of our own on 127.0.0.1,
create a group, post through nnrpd with Python's nntplib, read the article
back, stop everything by PID.  Skips (with the reason) where INN cannot be
installed, e.g. not root or no Debian mirror."""
import os
import sys
import time
import warnings

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from innlib import Inn, InnUnavailable, NntpClient, pid_alive, setup_inn  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import nntplib
    except ImportError:  # removed from Python 3.13
        nntplib = None


@pytest.fixture
def inn():
    try:
        setup_inn()
    except InnUnavailable as e:
        pytest.skip("INN not available: %s" % e)
    i = Inn()
    yield i
    i.stop()


def test_private_inn_post_and_read(inn):
    if nntplib is None:
        pytest.skip("python's nntplib is gone (Python >= 3.13)")
    t0 = time.monotonic()
    inn.start()
    started = time.monotonic() - t0
    assert started < 5, "INN took %.1fs to start" % started
    base, pid = inn.base, inn.pid

    # Transit greeting on the peer port: 127.0.0.1 is an incoming.conf peer.
    c = inn.nntp()
    assert c.greeting.startswith("200 inn.test "), c.greeting
    c.quit()

    inn.add_group("local.test")

    msgid = "<fixture-%d@holdfast.test>" % os.getpid()
    body = ["First line of the body.", ".A line starting with a dot.", "", "Last line."]
    art = ("From: Tester <tester@holdfast.test>\r\n"
           "Newsgroups: local.test\r\n"
           "Subject: fixture test\r\n"
           "Message-ID: %s\r\n"
           "\r\n%s\r\n" % (msgid, "\r\n".join(body))).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        s = nntplib.NNTP("127.0.0.1", inn.port, readermode=True, timeout=10)
        try:
            resp = s.post(art)
            assert resp.startswith("240"), resp
            resp, count, first, last, name = s.group("local.test")
            assert (count, first, last, name) == (1, 1, 1, "local.test")
            resp, info = s.article(msgid)
            lines = [l.decode() for l in info.lines]
            sep = lines.index("")
            head, got_body = lines[:sep], lines[sep + 1:]
            assert got_body == body
            assert "Subject: fixture test" in head
            assert any(h.startswith("Path: inn.test!") for h in head), head
            resp, info = s.article("1")
            assert info.message_id == msgid
        finally:
            s.quit()

    # The same article through the raw client, by number after GROUP.
    c = inn.nntp(reader=True)
    assert c.cmd("GROUP local.test").startswith("211 1 1 1 ")
    r = c.cmd("BODY 1")
    assert r.startswith("222 1 " + msgid), r
    assert c.read_multiline().decode().split("\r\n")[:-1] == body
    c.quit()

    # One nnrpd per reader: while a reader is connected the tree has two.
    c = inn.nntp(reader=True)
    assert len(inn.tree_pids()) >= 2
    assert inn.pss_kib() > 0
    c.close()

    inn.stop()
    assert not pid_alive(pid)
    assert not os.path.exists(base)
    with pytest.raises(OSError):
        NntpClient(inn.port, timeout=1)
