"""COMPRESS DEFLATE (RFC 8054) on the news service, with a Python zlib
client: raw deflate both ways (wbits -15), a sync flush after each batch of
commands, as RFC 8054 2.2.2 asks of a client.

Covers: CAPABILITIES advertises COMPRESS DEFLATE and stops once it is on;
206, then GROUP, POST and ARTICLE of a large article through the
compressed stream (which is much smaller on the wire than the text);
COMPRESS again is 502, STARTTLS after it 502, an unknown algorithm 503;
COMPRESS inside TLS (STARTTLS, then COMPRESS), and no AUTHINFO after it
(502, listed without arguments); corrupt compressed input
closes the connection (reject reason compress_error) and the worker goes
on serving; decompression bombs: 100 MiB of one byte in about 100 KiB is
swallowed in bounded steps and the worker's region never grows by more
than a fraction of one connection's budget; 100 MiB of garbage commands
meets the error budget and the connection is closed.  After each
scenario the worker's region and fds return to their baseline."""
import hashlib
import os
import zlib

import pytest

from conftest import free_port, wait_for
from newslib import NNTP, capability_words, close_all_clients, headers_for, \
    insecure_tls_context, new_msgid, news_section, news_status, rejected, rejected_delta, sized_article, \
    split_article, start_news, wait_no_connections

ARTICLE_MAX = 1024 * 1024
REGION_SLACK = 64 * 1024
# What a bomb may add to the worker's high-water mark: one input buffer
# (read_max, 64.5 KiB for news) and one held-back read (16 KiB), with room
# to spare; measured about 78 KiB.  The connection budget the news service
# computes for this fixture is far larger (128 KiB + article_max + 128 KiB
# + COMPRESS's ~116 KiB).
BOMB_PEAK_MAX = 128 * 1024


class ZSock:
    """A socket (plain or TLS) seen through RFC 8054 raw deflate: what is
    sent is compressed and sync-flushed, what is received is inflated.
    NNTP's methods keep working on it unchanged."""

    def __init__(self, sock):
        self.sock = sock
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)
        self.wire_in = 0

    def sendall(self, data):
        self.sock.sendall(self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def sendall_raw(self, data):
        self.sock.sendall(data)

    def recv(self, n):
        while True:
            data = self.sock.recv(n)
            if not data:
                return b""
            self.wire_in += len(data)
            out = self.decomp.decompress(data)
            if out:
                return out

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        self.sock.close()


def compress_on(c):
    r = c.cmd("COMPRESS DEFLATE")
    assert r.startswith("206 "), r
    assert c.buf == b"", c.buf
    c.sock = ZSock(c.sock)
    return c


@pytest.fixture
def news(holdfast):
    h, port = start_news(holdfast, article_max=str(ARTICLE_MAX))
    st0 = wait_no_connections(h)
    base, fds = st0["region_bytes"], st0["fds"]
    yield h, port
    close_all_clients()
    wait_no_connections(h)
    last = {}

    def back():
        last.update(news_status(h))
        return last["region_bytes"] <= base + REGION_SLACK and last["fds"] <= fds
    try:
        wait_for(back, 10, what="region_bytes and fds back to baseline")
    except AssertionError:
        raise AssertionError("region_bytes %d, baseline %d (+%d allowed); fds %d, baseline %d" % (
            last["region_bytes"], base, REGION_SLACK, last["fds"], fds))


def test_compress_session(news):
    h, port = news
    c = NNTP(port)
    caps = capability_words(c.capabilities())
    assert caps.get("COMPRESS") == ["DEFLATE"], caps
    assert c.cmd("COMPRESS GZIP")[:3] == "503"
    compress_on(c)
    caps = capability_words(c.capabilities())
    assert "COMPRESS" not in caps, caps
    assert c.cmd("GROUP local.test")[:4] == "211 "
    # A large article both ways through the compressed stream.
    msgid = new_msgid("z")
    art = sized_article(headers_for(msgid=msgid, subject="compressed"), 600 * 1024)
    r, final = c.post(art)
    assert r[:3] == "340" and final is not None and final[:3] == "240", (r, final)
    wire0 = c.sock.wire_in
    r, lines = c.longcmd("ARTICLE " + msgid, 220)
    assert lines is not None, r
    hdrs, body = split_article(lines)
    assert dict((k.lower(), v) for k, v in hdrs)["message-id"] == msgid
    assert b"\r\n".join(body) + b"\r\n" == art.split(b"\r\n\r\n", 1)[1]
    # Lines of 'x' compress a hundredfold; well below a fifth is plenty.
    assert c.sock.wire_in - wire0 < len(art) // 5, (c.sock.wire_in - wire0, len(art))
    # Once only (RFC 8054 2.2.2).
    assert c.cmd("COMPRESS DEFLATE")[:3] == "502"
    assert c.cmd("DATE")[:4] == "111 "
    assert c.cmd("QUIT")[:3] == "205"
    assert c.closed_by_peer()


def test_compress_corrupt_input_closes(news):
    h, port = news
    pid = news_status(h)["pid"]
    before = rejected(h)
    c = compress_on(NNTP(port))
    assert c.cmd("DATE")[:4] == "111 "
    # A final block of the reserved type 3 (RFC 1951 3.2.3).
    c.sock.sendall_raw(b"\xff\xff\xff\xff")
    assert c.closed_by_peer()
    d = rejected_delta(before, rejected(h))
    assert d.get("compress_error") == 1, d
    # The worker is the same process and serves on, compressed or not.
    assert news_status(h)["pid"] == pid
    assert NNTP(port).cmd("DATE")[:4] == "111 "
    c2 = compress_on(NNTP(port))
    assert c2.cmd("GROUP local.test")[:4] == "211 "


def bomb(payload_chunk, copies, tail):
    """copies x payload_chunk, then tail, as one raw-deflate stream ending
    with a sync flush: the peer cannot tell it from honest traffic."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
    out = [z.compress(payload_chunk) for _ in range(copies)]
    out.append(z.compress(tail))
    out.append(z.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(out)


def test_compress_bomb_swallowed_in_bounded_steps(news):
    h, port = news
    c = compress_on(NNTP(port))
    assert c.cmd("DATE")[:4] == "111 "
    st = news_status(h)
    peak0, pid = st["region_peak_bytes"], st["pid"]
    before = rejected(h)
    # 100 MiB without a line end, then a command: about 100 KiB on the wire.
    data = bomb(b"A" * (1024 * 1024), 100, b"\r\nDATE\r\n")
    assert len(data) < 1024 * 1024, len(data)
    c.sock.sendall_raw(data)
    assert c.line()[:3] == "500"              # the overlong line, once
    assert c.line()[:4] == "111 "             # and in step after it
    st = news_status(h)
    assert st["pid"] == pid
    assert st["region_peak_bytes"] - peak0 < BOMB_PEAK_MAX, (st["region_peak_bytes"] - peak0)
    assert rejected_delta(before, rejected(h)).get("conn_budget", 0) == 0
    assert c.cmd("GROUP local.test")[:4] == "211 "


def test_compress_bomb_of_commands_meets_error_budget(news):
    h, port = news
    c = compress_on(NNTP(port))
    st = news_status(h)
    peak0, pid = st["region_peak_bytes"], st["pid"]
    # 100 MiB of unknown commands: the error budget closes the connection
    # long before; what is left of the bomb is never inflated.
    data = bomb(b"X\r\n" * (1024 * 1024 // 3), 100, b"")
    try:
        c.sock.sendall_raw(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    seen = []
    try:
        while True:
            x = c.line()
            seen.append(x[:3])
            if x[:3] == "400":
                break
    except (EOFError, ConnectionResetError):
        pass
    assert "400" in seen, seen[-5:]
    assert c.closed_by_peer()
    st = news_status(h)
    assert st["pid"] == pid
    assert st["region_peak_bytes"] - peak0 < BOMB_PEAK_MAX, (st["region_peak_bytes"] - peak0)


@pytest.fixture
def tls_news(holdfast, certs, tmpdir_root):
    cert, key = certs
    auth = os.path.join(tmpdir_root, "news-users")
    with open(auth, "w") as f:
        f.write("alice:%s\n" % hashlib.sha256(b"alices-password").hexdigest())
    os.chmod(auth, 0o644)
    port, tport = free_port(), free_port()
    h = holdfast({"news": news_section(port, tls_cert=cert, tls_key=key, listen_tls="127.0.0.1:%d" % tport,
                                       auth_file=auth)})
    wait_no_connections(h)
    yield h, port, tport
    close_all_clients()
    wait_no_connections(h)


def test_compress_inside_tls_and_no_starttls_after(tls_news):
    h, port, tport = tls_news
    ctx = insecure_tls_context()
    # STARTTLS, then COMPRESS: compression runs inside TLS.
    c = NNTP(port)
    assert c.cmd("STARTTLS")[:3] == "382"
    c.starttls(ctx)
    compress_on(c)
    assert c.cmd("GROUP local.test")[:4] == "211 "
    assert c.cmd("DATE")[:4] == "111 "
    assert c.cmd("QUIT")[:3] == "205"
    # Implicit TLS, then COMPRESS; no authentication after it (RFC 8054
    # 2.2.2: CRIME), and AUTHINFO is listed without arguments.
    c = NNTP(tport, tls_ctx=ctx)
    assert capability_words(c.capabilities()).get("AUTHINFO") == ["USER"]
    compress_on(c)
    assert capability_words(c.capabilities()).get("AUTHINFO") == []
    assert c.cmd("AUTHINFO USER alice")[:3] == "502"
    assert c.cmd("DATE")[:4] == "111 "
    # The other order is refused: TLS cannot go under compression.
    c = NNTP(port)
    assert "STARTTLS" in capability_words(c.capabilities())
    compress_on(c)
    assert "STARTTLS" not in capability_words(c.capabilities())
    assert c.cmd("STARTTLS")[:3] == "502"
    assert c.cmd("DATE")[:4] == "111 "
