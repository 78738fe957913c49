"""Outgoing news feeds (src/nntp/feed.c): holdfast feeds a private INN.

  * 50 articles posted to holdfast arrive in INN intact: body bytes equal,
    every header field except Path and Xref verbatim, and INN's Path ends
    with holdfast's (RFC 5537 3.2: a relaying agent only prepends).
  * INN down, then up: what was accepted meanwhile is queued durably and
    all of it arrives once INN is back (bounded wait; the retry backoff is
    1 s doubling).
  * kill -9 of the news worker with a backlog: the supervisor restarts it
    and the backlog is still delivered.
  * Feeding articles INN already has: all duplicates (CHECK 438 / IHAVE
    435), the backlog drains to 0.
  * mode=ihave: the same with plain IHAVE.
  * No echo: an article whose Path names the peer is not queued for it.
  * A ~600 KB article of dot-lines is stuffed correctly across the
    output buffer's chunks.
  * max_backlog: beyond it, articles are dropped and counted (no INN).
  * A peer that answers MODE STREAM with 500 gets IHAVE (a fake peer).

Status is read with "holdfastctl news feeds" (one line per peer,
key=value counters).  Skips when INN cannot be installed or run here."""
import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import pid_alive, wait_for  # noqa: E402
from innlib import Inn, InnUnavailable, NntpClient, setup_inn  # noqa: E402
from newslib import NNTP, build_article, close_all_clients, news_section, new_msgid, rfc5322_date  # noqa: E402
from conftest import free_port  # noqa: E402

GROUP = "local.test"
DELIVERY_TIMEOUT = 60        # seconds: backoff steps of 1, 2, 4, 8, 16 s fit


@pytest.fixture
def inn():
    try:
        setup_inn()
    except InnUnavailable as e:
        pytest.skip("INN not available: %s" % e)
    i = Inn(groups=[GROUP])
    i.start()
    yield i
    i.keep = False
    i.stop()


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    close_all_clients()


def start_feeding(holdfast, tmpdir_root, inn_port, options="", peer="inn", wildmat="local.*"):
    feeds = os.path.join(tmpdir_root, "feeds")
    with open(feeds, "w") as f:
        f.write("# outgoing feeds\n%s 127.0.0.1:%d %s %s\n" % (peer, inn_port, wildmat, options))
    os.chmod(feeds, 0o600)
    port = free_port()
    h = holdfast({"news": news_section(port, feeds_file=feeds, commit_delay="5ms")})
    h.port = port
    return h


def feed_status(h, peer="inn"):
    for line in h.ctl("news", "feeds").stdout.splitlines():
        w = line.split()
        if w and w[0] == peer:
            return dict(x.split("=", 1) for x in w[1:] if "=" in x and not x.startswith("last_error"))
    raise AssertionError("no feed %s in holdfastctl news feeds" % peer)


def article(i, tag, path=None):
    mid = new_msgid("feed-%s-%d" % (tag, i))
    headers = ([("Path", path)] if path else []) + [("From", "Feeder <feeder@hf-test.invalid>"), ("Newsgroups", GROUP),
               ("Subject", "feed %s %d" % (tag, i)), ("Message-ID", mid), ("Date", rfc5322_date()),
               ("X-Folded", "first part\r\n\tsecond part")]
    body = ["Body of article %d." % i, ".a line that starts with a dot", "..two dots", ".", "",
            "x" * 900, "last line"]
    return mid, build_article(headers, body)


def post_all(h, n, tag):
    c = NNTP(h.port)
    mids = []
    for i in range(n):
        mid, art = article(i, tag)
        r, final = c.post(art)
        assert final is not None and final.startswith("240"), (r, final)
        mids.append(mid)
    c.cmd("QUIT")
    c.close()
    return mids


def inn_missing(inn, mids):
    """Message-ids INN does not have yet (CHECK on one streaming connection)."""
    c = NntpClient(inn.port, timeout=10)
    try:
        c.expect("MODE STREAM", "203")
        return [m for m in mids if not c.cmd("CHECK %s" % m).startswith("438")]
    finally:
        c.quit()


def wait_delivered(inn, mids, timeout=DELIVERY_TIMEOUT):
    left = list(mids)

    def done():
        left[:] = inn_missing(inn, left)
        return not left
    wait_for(done, timeout, step=0.2, what="%d articles to reach INN" % len(left))


def wait_backlog(h, n=0, timeout=DELIVERY_TIMEOUT):
    return wait_for(lambda: (lambda s: s if int(s["backlog"]) == n else None)(feed_status(h)), timeout,
                    step=0.1, what="feed backlog %d" % n)


def fetch(port, mid):
    c = NntpClient(port, timeout=10)
    try:
        r = c.cmd("MODE READER")
        assert r[:3] in ("200", "201"), r
        r = c.cmd("ARTICLE %s" % mid)
        assert r.startswith("220 "), "ARTICLE %s -> %s" % (mid, r)
        return c.read_multiline()
    finally:
        c.quit()


def split_fields(raw):
    head, body = raw.split(b"\r\n\r\n", 1)
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields, body


def field(fields, name):
    name = name.lower().encode() + b":"
    for f in fields:
        if f.lower().startswith(name):
            return f.split(b":", 1)[1].strip()
    return None


def assert_arrived_intact(hf_raw, inn_raw):
    hf_fields, hf_body = split_fields(hf_raw)
    inn_fields, inn_body = split_fields(inn_raw)
    assert inn_body == hf_body
    skip = (b"path:", b"xref:")
    assert [f for f in inn_fields if not f.lower().startswith(skip)] == \
        [f for f in hf_fields if not f.lower().startswith(skip)]
    hf_path, inn_path = field(hf_fields, "Path"), field(inn_fields, "Path")
    assert inn_path is not None and inn_path.endswith(b"!" + hf_path), (inn_path, hf_path)


def test_feed_50_articles_arrive_intact(holdfast, tmpdir_root, inn):
    h = start_feeding(holdfast, tmpdir_root, inn.port)
    mids = post_all(h, 50, "intact")
    wait_delivered(inn, mids)
    st = wait_backlog(h, 0)
    assert int(st["sent"]) == 50 and st["mode"] == "stream", st
    for mid in mids[:10] + mids[-5:]:
        assert_arrived_intact(fetch(h.port, mid), fetch(inn.port, mid))


def test_peer_down_then_up_loses_nothing(holdfast, tmpdir_root, inn):
    h = start_feeding(holdfast, tmpdir_root, inn.port)
    first = post_all(h, 5, "before")
    wait_delivered(inn, first)
    inn_port = inn.port
    # Stop innd (the tree stays: same history, same port on restart).
    inn.keep = True
    inn.stop()
    later = post_all(h, 20, "down")
    st = wait_for(lambda: (lambda s: s if int(s["errors"]) >= 1 else None)(feed_status(h)), 30, step=0.2,
                  what="the feed to notice INN is down")
    assert int(st["backlog"]) == 20, st
    time.sleep(2)
    assert int(feed_status(h)["backlog"]) == 20
    inn.port = inn_port
    inn.start()
    wait_delivered(inn, later)
    wait_backlog(h, 0)


def test_kill9_worker_backlog_still_delivered(holdfast, tmpdir_root, inn):
    h = start_feeding(holdfast, tmpdir_root, inn.port)
    inn.keep = True
    inn.stop()
    mids = post_all(h, 30, "kill")
    wait_for(lambda: int(feed_status(h)["backlog"]) == 30, 10, what="backlog of 30")
    pid0 = h.service("news")["pid"]
    os.kill(pid0, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid0), 10, what="killed worker to go")
    wait_for(lambda: (lambda s: s["pid"] not in (0, pid0) and s["state"] == "running")(h.service("news")), 45,
             step=0.1, what="news worker restart")
    # The new worker read its backlog from the store.
    assert int(feed_status(h)["backlog"]) == 30
    inn.start()
    wait_delivered(inn, mids)
    wait_backlog(h, 0)


def test_second_feed_is_all_duplicates(holdfast, tmpdir_root, inn):
    arts = [article(i, "dup", path="origin.example!not-for-mail") for i in range(12)]
    # INN has them first (as a peer would have given them).
    assert inn.inject([a for _, a in arts]) == ["235"] * len(arts)
    h = start_feeding(holdfast, tmpdir_root, inn.port)
    c = NNTP(h.port)
    for mid, a in arts:
        r, final = c.post(a)
        assert final is not None and final.startswith("240"), (r, final)
    c.cmd("QUIT")
    st = wait_backlog(h, 0)
    assert int(st["refused"]) == len(arts) and int(st["sent"]) == 0, st


def test_ihave_mode(holdfast, tmpdir_root, inn):
    h = start_feeding(holdfast, tmpdir_root, inn.port, options="mode=ihave")
    mids = post_all(h, 15, "ihave")
    wait_delivered(inn, mids)
    st = wait_backlog(h, 0)
    assert st["mode"] == "ihave" and int(st["sent"]) == 15, st
    for mid in mids[:3]:
        assert_arrived_intact(fetch(h.port, mid), fetch(inn.port, mid))
    # Duplicates in IHAVE mode: 435, drained.
    h2_arts = [article(i, "ihave-dup", path="origin.example!not-for-mail") for i in range(5)]
    assert inn.inject([a for _, a in h2_arts]) == ["235"] * 5
    c = NNTP(h.port)
    for mid, a in h2_arts:
        r, final = c.post(a)
        assert final is not None and final.startswith("240"), (r, final)
    c.cmd("QUIT")
    st = wait_for(lambda: (lambda s: s if int(s["backlog"]) == 0 and int(s["refused"]) == 5 else None)(
        feed_status(h)), DELIVERY_TIMEOUT, step=0.1, what="5 IHAVE duplicates")
    assert int(st["sent"]) == 15, st


def test_no_echo_to_a_peer_in_path(holdfast, tmpdir_root, inn):
    h = start_feeding(holdfast, tmpdir_root, inn.port, options="path=inn.test")
    mid = new_msgid("echo")
    art = build_article([("Path", "inn.test!origin.example!not-for-mail"), ("From", "E <e@hf-test.invalid>"),
                         ("Newsgroups", GROUP), ("Subject", "echo"), ("Message-ID", mid),
                         ("Date", rfc5322_date())], ["no echo"])
    c = NNTP(h.port)
    r, final = c.ihave(mid, art)
    assert final is not None and final.startswith("235"), (r, final)
    c.cmd("QUIT")
    other = post_all(h, 1, "after-echo")
    wait_delivered(inn, other)
    wait_backlog(h, 0)
    st = feed_status(h)
    assert int(st["sent"]) == 1, st
    assert inn_missing(inn, [mid]) == [mid]


def test_bad_feeds_file_names_file_and_line(holdfast, tmpdir_root):
    feeds = os.path.join(tmpdir_root, "feeds")
    with open(feeds, "w") as f:
        f.write("# ok\ninn 127.0.0.1:119 local.*\nbad 127.0.0.1 local.*\n")
    h = holdfast({"news": news_section(free_port(), feeds_file=feeds)}, start=False)
    h.start(wait=False)
    assert h.proc.wait(10) != 0
    log = h.logtext()
    assert feeds in log and "line 3" in log, log[-2000:]


def test_max_backlog_drops_beyond_the_limit(holdfast, tmpdir_root):
    # A peer that is never up (nothing listens on its port): no INN needed.
    h = start_feeding(holdfast, tmpdir_root, free_port(), options="max_backlog=3")
    post_all(h, 5, "bounded")
    st = wait_for(lambda: (lambda s: s if int(s["errors"]) >= 1 else None)(feed_status(h)), 20, step=0.1,
                  what="a failed connect")
    assert int(st["backlog"]) == 3 and int(st["dropped"]) == 2 and st["state"] == "down", st
    assert "last_error" in h.ctl("news", "feeds").stdout


def test_big_article_dot_stuffed_across_buffer_chunks(holdfast, tmpdir_root, inn):
    # ~600 KB of lines starting with '.', of lengths that do not divide the
    # output chunk: the stuffing crosses many buffer boundaries.
    h = start_feeding(holdfast, tmpdir_root, inn.port)
    mid = new_msgid("big")
    body = [("." * (1 + i % 7)) + ("y" * (i % 997)) for i in range(1200)] + ["."]
    art = build_article([("From", "B <b@hf-test.invalid>"), ("Newsgroups", GROUP), ("Subject", "big"),
                         ("Message-ID", mid), ("Date", rfc5322_date())], body)
    assert 500000 < len(art) < 1000000
    c = NNTP(h.port)
    r, final = c.post(art)
    assert final is not None and final.startswith("240"), (r, final)
    c.cmd("QUIT")
    wait_delivered(inn, [mid])
    assert_arrived_intact(fetch(h.port, mid), fetch(inn.port, mid))
    wait_backlog(h, 0)


class FakePeer:
    """A minimal NNTP peer without streaming: MODE STREAM -> 500, IHAVE ->
    335, then 235 after the article's "." line.  Keeps what it received
    (unstuffed) by message-id."""

    def __init__(self):
        import socket
        import threading
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.got, self.commands = {}, []
        self.stop_flag = False
        self.conn = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        import socket
        self.lsock.settimeout(0.2)
        while not self.stop_flag:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            self.conn = s
            f = s.makefile("rb")
            s.sendall(b"200 fake peer ready\r\n")
            try:
                while True:
                    line = f.readline()
                    if not line:
                        break
                    cmd = line.rstrip(b"\r\n").decode("latin-1")
                    self.commands.append(cmd)
                    w = cmd.split()
                    if w[0].upper() == "IHAVE":
                        s.sendall(b"335 send it\r\n")
                        lines = []
                        while True:
                            x = f.readline()
                            if x in (b".\r\n", b""):
                                break
                            lines.append(x[1:] if x.startswith(b".") else x)
                        self.got[w[1]] = b"".join(lines)
                        s.sendall(b"235 thanks\r\n")
                    elif w[0].upper() == "QUIT":
                        s.sendall(b"205 bye\r\n")
                        break
                    else:
                        s.sendall(b"500 what?\r\n")
            finally:
                s.close()

    def close(self):
        import socket
        self.stop_flag = True
        if self.conn is not None:
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
        self.lsock.close()


def test_falls_back_to_ihave_when_peer_refuses_streaming(holdfast, tmpdir_root):
    peer = FakePeer()
    try:
        h = start_feeding(holdfast, tmpdir_root, peer.port)
        mids = post_all(h, 6, "fallback")
        st = wait_backlog(h, 0, timeout=30)
        assert st["mode"] == "ihave" and int(st["sent"]) == 6, st
        assert peer.commands[0] == "MODE STREAM" and not any(c.startswith("CHECK") for c in peer.commands)
        assert sorted(peer.got) == sorted(mids)
        for mid in mids:
            _, body = split_fields(fetch(h.port, mid))
            _, got_body = split_fields(peer.got[mid])
            assert got_body == body
    finally:
        peer.close()
