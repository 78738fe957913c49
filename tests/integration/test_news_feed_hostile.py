"""Outgoing news feeds (src/nntp/feed.c) against a hostile peer.

The feeder is a client: every reply line it reads comes from a remote peer
and is untrusted input.  Each test starts holdfast with a feeds_file that
names a fake peer on 127.0.0.1 (a Python listening socket served by a
thread, every wait bounded), posts a few articles, and lets the fake peer
misbehave:

  * greeting of binary garbage with NULs;
  * a greeting "line" of 100 KiB without LF;
  * a 100 KiB reply line (to MODE STREAM);
  * unexpected codes: 999 to MODE STREAM, 239 to a CHECK;
  * replies naming message-ids never asked for (438 / 238+239 for a
    foreign id);
  * a reply truncated mid-line, then close;
  * a peer that accepts and never speaks (slow: closed by the test);
  * a peer that answers one byte per second;
  * a peer that resets (RST) in the middle of a TAKETHIS;
  * a peer that floods unsolicited lines and never reads.

For each: the news worker keeps its PID, its region_bytes stay below
baseline + 1 MiB while the peer misbehaves and come back near the
baseline, and nothing queued is lost: the backlog in "holdfastctl news
feeds" still holds every article; then the hostile peer is replaced on the
same port by a well-behaved RFC 4644 streaming peer, the backlog drains to
0 and that peer receives every article byte for byte as holdfast serves it.

The feeder's own response timeout is 60 s (FEED_RESPONSE_TIMEOUT_MS), too
long for this file: the silent and slow peers are ended by the test."""
import os
import socket
import struct
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import free_port, wait_for  # noqa: E402
from newslib import NNTP, build_article, close_all_clients, new_msgid, news_section, rfc5322_date  # noqa: E402

GROUP = "local.test"
N_ARTICLES = 3
MiB = 1024 * 1024
GROWTH_MAX = 1 * MiB          # region_bytes above baseline while the peer misbehaves
SETTLE_MAX = 256 * 1024       # ... and once the good peer has drained the backlog
PEER_LIFETIME = 60            # seconds: no fake-peer thread outlives this
HOSTILE_WAIT = 20             # seconds for the feeder to react to a hostile peer
DRAIN_WAIT = 30               # seconds for the good peer to get everything (backoff 1, 2, 4 s ...)
BIG = 100 * 1024


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    close_all_clients()


# ---------------------------------------------------------------- fake peers

class Conn:
    """A peer-side connection: bounded line reads, tolerant writes."""

    def __init__(self, sock, peer):
        self.sock, self.peer, self.buf = sock, peer, b""
        sock.settimeout(5.0)

    def stopped(self):
        return self.peer.stop_flag.is_set()

    def readline(self, timeout=10.0, max_bytes=4 * MiB):
        """One line with its terminator, or None on EOF/reset/timeout/stop."""
        end = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) > max_bytes or time.monotonic() > end or self.stopped():
                return None
            try:
                self.sock.settimeout(0.2)
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return None
            if not data:
                return None
            self.buf += data

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait_closed(self, timeout=HOSTILE_WAIT):
        """True once the feeder closed its end (EOF or reset); reads and
        discards what it sends meanwhile."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.stopped():
            try:
                self.sock.settimeout(0.2)
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return True
            if not data:
                return True
        return False

    def sleep(self, seconds):
        """Sleeps, unless the peer is being stopped; False then."""
        return not self.peer.stop_flag.wait(seconds)


class Peer:
    """A listening socket on 127.0.0.1 whose connections are served one at
    a time by handler(conn) in a thread.  Bounded: the thread ends on
    close() or after PEER_LIFETIME seconds."""

    def __init__(self, handler, port=0, rcvbuf=None):
        self.handler = handler
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            # Inherited by accepted sockets: a small window keeps the
            # feeder's writes pending.
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        end = time.monotonic() + 5
        while True:
            try:
                self.lsock.bind(("127.0.0.1", port))
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.stop_flag = threading.Event()
        self.accepted = 0
        self.results = []          # what each handler returned
        self.errors = []           # exceptions raised in the thread
        self.cur = None
        self.deadline = time.monotonic() + PEER_LIFETIME
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.lsock.settimeout(0.2)
        while not self.stop_flag.is_set() and time.monotonic() < self.deadline:
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.accepted += 1
            self.cur = s
            try:
                self.results.append(self.handler(Conn(s, self)))
            except Exception as e:  # recorded, asserted by the test
                self.errors.append(repr(e))
            finally:
                self.cur = None
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.stop_flag.set()
        cur = self.cur
        if cur is not None:
            try:
                cur.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(10)
        assert not self.thread.is_alive(), "fake peer thread did not stop"
        self.lsock.close()


class GoodPeer:
    """RFC 4644 streaming, well behaved: 200 greeting, 203 to MODE STREAM,
    238 to CHECK, 239 to TAKETHIS after the article's terminating dot
    (also IHAVE 335/235, QUIT 205).  Keeps each article unstuffed."""

    def __init__(self):
        self.got, self.commands = {}, []

    def __call__(self, c):
        c.send(b"200 good fake peer ready\r\n")
        while not c.stopped():
            line = c.readline(timeout=30)
            if line is None:
                return "eof"
            cmd = line.rstrip(b"\r\n").decode("latin-1")
            self.commands.append(cmd)
            w = cmd.split()
            verb = w[0].upper() if w else ""
            if verb == "MODE" and len(w) > 1 and w[1].upper() == "STREAM":
                c.send(b"203 streaming ok\r\n")
            elif verb == "CHECK" and len(w) == 2:
                c.send(b"238 " + w[1].encode() + b"\r\n")
            elif verb in ("TAKETHIS", "IHAVE") and len(w) == 2:
                if verb == "IHAVE":
                    c.send(b"335 send it\r\n")
                art = self.read_article(c)
                if art is None:
                    return "eof in article"
                self.got[w[1]] = art
                c.send((b"239 " if verb == "TAKETHIS" else b"235 ") + w[1].encode() + b"\r\n")
            elif verb == "QUIT":
                c.send(b"205 bye\r\n")
                return "quit"
            else:
                c.send(b"500 what?\r\n")
        return "stopped"

    @staticmethod
    def read_article(c):
        lines = []
        while True:
            x = c.readline(timeout=30)
            if x is None:
                return None
            if x == b".\r\n":
                return b"".join(lines)
            lines.append(x[1:] if x.startswith(b".") else x)


def expect_cmd(c, prefix, timeout=10):
    """Reads lines until one starts with prefix (case-insensitive); the
    line, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        x = c.readline(timeout=max(0.1, end - time.monotonic()))
        if x is None:
            return None
        if x.upper().startswith(prefix.upper().encode()):
            return x
    return None


def greet_and_stream(c):
    """200 greeting, 203 to MODE STREAM; False if the feeder did not ask."""
    c.send(b"200 fake peer ready\r\n")
    if expect_cmd(c, "MODE STREAM") is None:
        return False
    return c.send(b"203 streaming ok\r\n")


def msgid_of(line):
    w = line.split()
    return w[1] if len(w) > 1 else b"<?>"


# ---------------------------------------------------------------- hostile behaviours
# Each returns a short string: what happened (the test asserts on it).

def h_greeting_binary(c):
    c.send(b"\x00\x00\xff\xfe\x80\x01garbage\x00\x7f\x1b[31m\xc3\x28 \x00\r\n")
    return "closed" if c.wait_closed() else "kept open"


def h_greeting_nul_200(c):
    # Looks like a 200 but has a NUL inside the code and binary after it.
    c.send(b"2\x0000 \xff\xff\x00ready\r\n")
    return "closed" if c.wait_closed() else "kept open"


def h_greeting_100k_no_lf(c):
    sent = c.send(b"200 " + b"A" * BIG)
    return ("closed" if c.wait_closed() else "kept open") + (" (sent)" if sent else " (send failed)")


def h_reply_100k(c):
    c.send(b"200 fake peer ready\r\n")
    if expect_cmd(c, "MODE STREAM") is None:
        return "no MODE STREAM"
    c.send(b"203 " + b"B" * BIG + b"\r\n")
    return "closed" if c.wait_closed() else "kept open"


def h_greeting_100k_lines(c):
    # 100 KiB of short, valid-looking continuation lines before the greeting's
    # code: the first line is not a 200.
    c.send(b"100 hello\r\n" * (BIG // 11))
    return "closed" if c.wait_closed() else "kept open"


def h_code_999(c):
    c.send(b"200 fake peer ready\r\n")
    if expect_cmd(c, "MODE STREAM") is None:
        return "no MODE STREAM"
    c.send(b"999 what a code\r\n")
    return "closed" if c.wait_closed() else "kept open"


def h_239_to_check(c):
    if not greet_and_stream(c):
        return "no MODE STREAM"
    x = expect_cmd(c, "CHECK ")
    if x is None:
        return "no CHECK"
    c.send(b"239 " + msgid_of(x) + b"\r\n")
    return "closed" if c.wait_closed() else "kept open"


def h_438_foreign_id(c):
    # Refuses an id it was never offered, for each CHECK.
    if not greet_and_stream(c):
        return "no MODE STREAM"
    n = 0
    while True:
        x = expect_cmd(c, "CHECK ", timeout=3)
        if x is None:
            break
        n += 1
        c.send(b"438 <never-asked-%d@hostile.invalid>\r\n" % n)
    return "checks=%d" % n


def h_239_foreign_id(c):
    # Wants every CHECKed id but acknowledges TAKETHIS for a foreign id.
    if not greet_and_stream(c):
        return "no MODE STREAM"
    n = 0
    while True:
        x = c.readline(timeout=3)
        if x is None:
            break
        if x.upper().startswith(b"CHECK "):
            c.send(b"238 " + msgid_of(x) + b"\r\n")
        elif x.upper().startswith(b"TAKETHIS "):
            if GoodPeer.read_article(c) is None:
                break
            n += 1
            c.send(b"239 <never-asked-%d@hostile.invalid>\r\n" % n)
    return "takethis=%d" % n


INJECTED = b"999 \x1b[2J\x1b]0;pwned\x07\r backlog=0 sent=99 state=up"


def h_reply_with_control_bytes(c):
    # Terminal escapes, BEL, a bare CR and fake key=value pairs in a reply
    # the feeder will quote in its status and log.
    if not greet_and_stream(c):
        return "no MODE STREAM"
    if expect_cmd(c, "CHECK ") is None:
        return "no CHECK"
    c.send(INJECTED + b"\r\n")
    return "closed" if c.wait_closed() else "kept open"


def check_no_raw_peer_text(h):
    """Peer-controlled reply text reaches "holdfastctl news feeds" and the
    log only without control bytes, and cannot forge status fields."""
    out = h.ctl("news", "feeds").stdout
    line = [x for x in out.split("\n") if x.startswith("hostile ")][0]
    bad = sorted({"%02x" % ord(ch) for ch in line if ord(ch) < 0x20 or ord(ch) == 0x7f})
    assert not bad, "control bytes %s from the peer in holdfastctl news feeds: %r" % (bad, line)
    assert line.count(" backlog=") == 1 and line.count(" sent=") == 1, \
        "peer text forges status fields: %r" % line
    for x in h.logtext().split("\n"):
        if "feed hostile" in x:
            bad = sorted({"%02x" % ord(ch) for ch in x if ord(ch) < 0x20 or ord(ch) == 0x7f})
            assert not bad, "control bytes %s from the peer in the log: %r" % (bad, x)


def h_truncated_greeting(c):
    c.send(b"20")
    return "sent"


def h_truncated_reply(c):
    if not greet_and_stream(c):
        return "no MODE STREAM"
    if expect_cmd(c, "CHECK ") is None:
        return "no CHECK"
    c.send(b"23")
    return "sent"


def h_silent(c):
    # Accepts, never speaks; the test ends it (stop_flag) after watching.
    c.peer.stop_flag.wait(PEER_LIFETIME)
    return "stopped"


def h_one_byte_per_second(c):
    greeting = b"200 s\r\n"
    for b in greeting:
        if not c.send(bytes([b])) or not c.sleep(1.0):
            return "stopped early"
    # The feeder must have assembled the greeting and moved on.
    if expect_cmd(c, "MODE STREAM", timeout=5) is None:
        return "no MODE STREAM after slow greeting"
    for b in b"203 ":
        if not c.send(bytes([b])) or not c.sleep(1.0):
            return "stopped early"
    return "slow ok"


def h_reset_mid_takethis(c):
    # Wants every article, reads the first TAKETHIS line and a little of
    # its article, then stops reading (the small window fills while the
    # feeder still has the big article to write) and resets.
    if not greet_and_stream(c):
        return "no MODE STREAM"
    ids = []
    while len(ids) < N_ARTICLES:
        x = expect_cmd(c, "CHECK ", timeout=1.5)
        if x is None:
            break
        ids.append(msgid_of(x))
    if not ids:
        return "no CHECK"
    c.send(b"".join(b"238 " + i + b"\r\n" for i in ids))
    if expect_cmd(c, "TAKETHIS ") is None:
        return "no TAKETHIS"
    part = c.readline()
    c.sleep(1.0)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return "reset after %r (%d CHECKs)" % (part[:20] if part else part, len(ids))


def h_flood(c):
    # Greets, then writes unsolicited lines as fast as it can; never reads.
    c.send(b"200 fake peer ready\r\n")
    chunk = b"100 unsolicited line of noise\r\n" * 2048
    end = time.monotonic() + 5
    total = 0
    c.sock.settimeout(0.5)
    while time.monotonic() < end and not c.stopped() and total < 256 * MiB:
        try:
            c.sock.send(chunk)
            total += len(chunk)
        except socket.timeout:
            continue
        except OSError:
            return "closed by feeder after %d bytes" % total
    return "flooded %d bytes, not closed" % total


# ---------------------------------------------------------------- holdfast side

def start_feeding(holdfast, tmpdir_root, peer_port):
    feeds = os.path.join(tmpdir_root, "feeds")
    with open(feeds, "w") as f:
        f.write("# hostile peer\nhostile 127.0.0.1:%d local.*\n" % peer_port)
    os.chmod(feeds, 0o600)
    port = free_port()
    h = holdfast({"news": news_section(port, feeds_file=feeds, commit_delay="5ms")})
    h.port = port
    return h


def feed_status(h, peer="hostile"):
    for line in h.ctl("news", "feeds").stdout.splitlines():
        w = line.split()
        if w and w[0] == peer:
            # last_error comes last and holds peer-controlled text: parse
            # only what precedes it.
            head, _, err = line.partition(" last_error=")
            d = dict(x.split("=", 1) for x in head.split()[1:] if "=" in x)
            if err:
                d["last_error"] = err
            return d
    raise AssertionError("no feed %s in holdfastctl news feeds" % peer)


def articles():
    out = []
    for i in range(N_ARTICLES):
        mid = new_msgid("hostile-%d" % i)
        body = ["Article %d for a hostile peer." % i, ".a line starting with a dot", "..two", ".", "",
                "z" * 900]
        if i == N_ARTICLES - 1:
            # Larger than the output chunk: a TAKETHIS spans several writes.
            body += [("." if j % 3 == 0 else "") + "w" * (j % 200) for j in range(1500)]
        body.append("end of %d" % i)
        art = build_article([("From", "Hostile <h@hf-test.invalid>"), ("Newsgroups", GROUP),
                             ("Subject", "hostile %d" % i), ("Message-ID", mid), ("Date", rfc5322_date())], body)
        out.append((mid, art))
    return out


def post(h, arts):
    c = NNTP(h.port)
    for mid, art in arts:
        r, final = c.post(art)
        assert final is not None and final.startswith("240"), (r, final)
    c.cmd("QUIT")
    c.close()


def fetch(h, mid):
    c = NNTP(h.port)
    try:
        r = c.cmd("MODE READER")
        assert r[:3] in ("200", "201"), r
        r, lines = c.longcmd("ARTICLE %s" % mid, 220)
        assert lines is not None, "ARTICLE %s -> %s" % (mid, r)
        return b"".join(x + b"\r\n" for x in lines)
    finally:
        c.close()


class Watch:
    """Samples the news worker while a condition is awaited: the PID never
    changes, region_bytes stay below baseline + GROWTH_MAX."""

    def __init__(self, h):
        self.h = h
        s = h.service("news")
        self.pid, self.baseline, self.peak = s["pid"], s["region_bytes"], s["region_bytes"]

    def sample(self):
        s = self.h.service("news")
        assert s["pid"] == self.pid and s["state"] == "running", \
            "news worker pid %s -> %s (%s): crashed?" % (self.pid, s["pid"], s["state"])
        self.peak = max(self.peak, s["region_bytes"])
        assert s["region_bytes"] < self.baseline + GROWTH_MAX, \
            "region_bytes %d > baseline %d + %d" % (s["region_bytes"], self.baseline, GROWTH_MAX)
        return s

    def until(self, pred, timeout, what):
        def step():
            self.sample()
            return pred()
        return wait_for(step, timeout, step=0.1, what=what)

    def hold(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            time.sleep(0.1)


def run_hostile(holdfast, tmpdir_root, handler, stop_hostile_after=None, expect=None, min_errors=1,
                rcvbuf=None, check=None):
    """The common scenario; returns (watch, hostile peer, good peer,
    feed status after the hostile phase)."""
    hostile = Peer(handler, rcvbuf=rcvbuf)
    good = None
    try:
        h = start_feeding(holdfast, tmpdir_root, hostile.port)
        w = Watch(h)
        arts = articles()
        post(h, arts)
        mids = [m for m, _ in arts]
        # The articles are queued and the feeder has met the hostile peer.
        w.until(lambda: hostile.accepted >= 1, HOSTILE_WAIT, "the feeder to connect to the fake peer")
        if stop_hostile_after is not None:
            w.hold(stop_hostile_after)
            st = feed_status(h)
            assert int(st["backlog"]) == N_ARTICLES, st
            hostile.stop_flag.set()
        st = w.until(lambda: (lambda s: s if int(s["errors"]) >= min_errors or int(s["backlog"]) < N_ARTICLES
                               else None)(feed_status(h)),
                     HOSTILE_WAIT, "the feeder to give up on the hostile peer")
        w.until(lambda: hostile.results, HOSTILE_WAIT, "the fake peer's handler to finish")
        st = feed_status(h)
        w.sample()
        hostile_result = hostile.results[0]
        print("\n%s: peer %r; feeder last_error=%r errors=%s" % (getattr(handler, "__name__", handler), hostile_result,
                                                            st.get("last_error"), st["errors"]))
        assert not hostile.errors, hostile.errors
        if expect is not None:
            assert hostile_result.startswith(expect), (hostile_result, st)
        if check is not None:
            check(h)
        # Nothing queued was lost to the hostile peer.
        assert int(st["backlog"]) == N_ARTICLES, \
            "articles dequeued by a hostile peer (peer: %s): %s" % (hostile_result, " ".join(
                "%s=%s" % kv for kv in sorted(st.items())))
        assert int(st["sent"]) == 0 and int(st["dropped"]) == 0, st
        # Replace it on the same port with a well-behaved peer.
        port = hostile.port
        hostile.close()
        good_h = GoodPeer()
        good = Peer(good_h, port=port)
        st = w.until(lambda: (lambda s: s if int(s["backlog"]) == 0 else None)(feed_status(h)), DRAIN_WAIT,
                     "the backlog to drain to the good peer")
        assert int(st["sent"]) == N_ARTICLES, st
        assert sorted(good_h.got) == sorted(mids), (sorted(good_h.got), sorted(mids), st)
        for mid, art in arts:
            assert good_h.got[mid] == fetch(h, mid), "article %s altered in transit" % mid
            assert art.split(b"\r\n\r\n", 1)[1] == good_h.got[mid].split(b"\r\n\r\n", 1)[1]
        # Memory returns near the baseline.
        w.until(lambda: w.h.service("news")["region_bytes"] < w.baseline + SETTLE_MAX, 10,
                "region_bytes back near baseline %d (peak %d)" % (w.baseline, w.peak))
        s = w.sample()
        print("%s: region_bytes baseline %d peak %d end %d" % (getattr(handler, "__name__", handler), w.baseline,
                                                              w.peak, s["region_bytes"]))
        return w, hostile_result, st
    finally:
        hostile.close() if hostile.thread.is_alive() else None
        if good is not None:
            good.close()


# ---------------------------------------------------------------- tests

def test_greeting_binary_garbage(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_greeting_binary, expect="closed")


def test_greeting_nul_inside_code(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_greeting_nul_200, expect="closed")


def test_greeting_100k_without_lf(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_greeting_100k_no_lf, expect="closed")


def test_greeting_is_100k_of_other_lines(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_greeting_100k_lines, expect="closed")


def test_reply_of_100k(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_reply_100k, expect="closed")


def test_code_999(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_code_999, expect="closed")


def test_239_to_a_check(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_239_to_check, expect="closed")


def test_438_for_an_id_never_asked(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_438_foreign_id)


def test_239_for_an_id_never_asked(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_239_foreign_id)


def test_reply_control_bytes_not_echoed_raw(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_reply_with_control_bytes, expect="closed", check=check_no_raw_peer_text)


def test_truncated_greeting_then_close(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_truncated_greeting, expect="sent")


def test_truncated_reply_then_close(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_truncated_reply, expect="sent")


def test_silent_peer(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_silent, stop_hostile_after=4, expect="stopped")


def test_one_byte_per_second(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_one_byte_per_second, expect="slow ok")


def test_reset_mid_takethis(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_reset_mid_takethis, expect="reset after", rcvbuf=4096)


def test_flood_of_unsolicited_lines(holdfast, tmpdir_root):
    run_hostile(holdfast, tmpdir_root, h_flood, expect="closed by feeder")
