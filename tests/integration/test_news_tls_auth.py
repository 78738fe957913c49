"""STARTTLS (RFC 4642), implicit TLS on listen_tls, and AUTHINFO USER/PASS
(RFC 4643) with auth_file lines "user:sha256hex".

With auth_plaintext = no, passwords travel only under TLS: before
STARTTLS, CAPABILITIES does not offer AUTHINFO USER and AUTHINFO USER is
483; after it, AUTHINFO USER is offered, a right password is 281 and a
wrong one 481.  STARTTLS is not offered (and is 502) once TLS is on or
after authentication; AUTHINFO is not offered once authenticated."""
import hashlib
import os
import socket
import ssl

import pytest

from conftest import free_port, wait_for
from newslib import NNTP, NNTP_AUTH_ATTEMPTS_MAX, capability_words, close_all_clients, insecure_tls_context, \
    news_section, news_status, wait_no_connections

USER, PASSWORD = "alice", "correct-horse-battery-staple"


@pytest.fixture
def tls_news(holdfast, certs, tmpdir_root):
    def make(**extra):
        cert, key = certs
        auth = os.path.join(tmpdir_root, "news-users")
        with open(auth, "w") as f:
            f.write("%s:%s\n" % (USER, hashlib.sha256(PASSWORD.encode()).hexdigest()))
            f.write("bob:%s\n" % hashlib.sha256(b"bobs-password").hexdigest())
        os.chmod(auth, 0o644)
        port, tport = free_port(), free_port()
        keys = dict(tls_cert=cert, tls_key=key, listen_tls="127.0.0.1:%d" % tport, auth_file=auth,
                    auth_plaintext="no")
        keys.update(extra)
        h = holdfast({"news": news_section(port, **keys)})
        return h, port, tport
    return make


def authinfo_offered(caps):
    w = capability_words(caps)
    return "AUTHINFO" in w and "USER" in [x.upper() for x in w["AUTHINFO"]]


def test_starttls_then_authinfo(tls_news):
    h, port, tport = tls_news()
    ctx = insecure_tls_context()
    c = NNTP(port)
    assert c.greeting[:3] in ("200", "201")
    caps = c.capabilities()
    assert "STARTTLS" in capability_words(caps), caps
    assert not authinfo_offered(caps), caps
    # Plaintext password refused before TLS (RFC 4643 2.2, 483).
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "483"
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] in ("483", "482")
    assert c.cmd("STARTTLS")[:3] == "382"
    c.starttls(ctx)
    caps = c.capabilities()
    assert authinfo_offered(caps), caps
    assert "STARTTLS" not in capability_words(caps), caps      # RFC 4642 2.2.2
    assert c.cmd("STARTTLS")[:3] == "502"
    # PASS before USER: out of sequence.
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] == "482"
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
    assert c.cmd("AUTHINFO PASS wrong-password")[:3] == "481"
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] == "281"
    caps = c.capabilities()
    assert "AUTHINFO" not in capability_words(caps), caps      # RFC 4643 2.1
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "502"
    assert c.cmd("DATE")[:4] == "111 "
    assert c.cmd("GROUP local.test")[:4] == "211 "
    assert c.cmd("QUIT")[:3] == "205"


def test_wrong_user_and_attempt_budget(tls_news):
    h, port, tport = tls_news()
    c = NNTP(port)
    assert c.cmd("STARTTLS")[:3] == "382"
    c.starttls(insecure_tls_context())
    # An unknown user is refused like a wrong password (no user oracle).
    r = c.cmd("AUTHINFO USER mallory")
    if r[:3] == "381":
        r = c.cmd("AUTHINFO PASS " + PASSWORD)
    assert r[:3] == "481", r
    # bob's password is not alice's.
    assert c.cmd("AUTHINFO USER bob")[:3] == "381"
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] == "481"
    assert c.cmd("AUTHINFO USER bob")[:3] == "381"
    assert c.cmd("AUTHINFO PASS bobs-password")[:3] == "281"


def test_implicit_tls_listener(tls_news):
    h, port, tport = tls_news()
    c = NNTP(tport, tls_ctx=insecure_tls_context())
    assert c.greeting[:3] in ("200", "201"), c.greeting
    caps = c.capabilities()
    assert authinfo_offered(caps), caps
    assert "STARTTLS" not in capability_words(caps), caps
    assert c.cmd("STARTTLS")[:3] == "502"
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] == "281"
    assert c.cmd("DATE")[:4] == "111 "
    # Plain text on the TLS port is not NNTP: closed, and the worker goes on.
    g = socket.create_connection(("127.0.0.1", tport), timeout=5)
    g.sendall(b"CAPABILITIES\r\n")
    g.settimeout(5)
    try:
        while g.recv(1000):
            pass
    except ConnectionResetError:
        pass
    g.close()
    assert c.cmd("DATE")[:4] == "111 "


def test_auth_plaintext_yes_allows_authinfo_without_tls(tls_news):
    h, port, tport = tls_news(auth_plaintext="yes")
    c = NNTP(port)
    caps = c.capabilities()
    assert authinfo_offered(caps), caps
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] == "281"
    # RFC 4642 2.2.2: no STARTTLS after authentication.
    assert c.cmd("STARTTLS")[:3] == "502"


def test_starttls_with_pipelined_plaintext(tls_news):
    """CVE-2011-0411 class: a command pipelined behind STARTTLS in plaintext
    must not be executed inside the TLS session (RFC 4642 2.2.2 / 4.1)."""
    h, port, tport = tls_news()
    before = dict(h.service("news")["rejected"])
    c = NNTP(port)
    c.send("STARTTLS\r\nDATE\r\n")
    assert c.line()[:3] == "382"
    assert c.buf == b""
    try:
        c.starttls(insecure_tls_context())
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return              # closing the connection is also acceptable
    # The first response under TLS answers our first TLS command, not the injected DATE.
    assert c.cmd("HELP")[:3] == "100"
    assert c.multiline()
    assert c.cmd("DATE")[:4] == "111 "
    after = h.service("news")["rejected"]
    assert sum(after.values()) > sum(before.values()), after


def test_authinfo_attempt_budget(tls_news):
    """NNTP_AUTH_ATTEMPTS_MAX failures per session, then the connection
    closes (a password guesser cannot keep one connection forever)."""
    h, port, tport = tls_news()
    c = NNTP(tport, tls_ctx=insecure_tls_context())
    for i in range(NNTP_AUTH_ATTEMPTS_MAX):
        assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
        assert c.cmd("AUTHINFO PASS wrong%d" % i)[:3] == "481"
    assert c.closed_by_peer(5)
    # The right password still works on a new connection.
    c = NNTP(tport, tls_ctx=insecure_tls_context())
    assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
    assert c.cmd("AUTHINFO PASS " + PASSWORD)[:3] == "281"


def test_tls_sessions_leave_nothing_behind(tls_news):
    """TLS state and sockets hang on the connection's region: after 60
    sessions -- STARTTLS, implicit TLS, failed handshakes, failed logins,
    peers that vanish mid-handshake -- the worker's region bytes and open
    fds are back at their idle baseline."""
    h, port, tport = tls_news()
    wait_no_connections(h)
    st0 = news_status(h)
    ctx = insecure_tls_context()
    for i in range(10):
        c = NNTP(port)
        assert c.cmd("STARTTLS")[:3] == "382"
        c.starttls(ctx)
        assert c.cmd("AUTHINFO USER " + USER)[:3] == "381"
        assert c.cmd("AUTHINFO PASS " + ("wrong" if i % 2 else PASSWORD))[:3] in ("481", "281")
        c.close()
        c = NNTP(tport, tls_ctx=ctx)
        assert c.cmd("DATE")[:4] == "111 "
        c.close()
        g = socket.create_connection(("127.0.0.1", tport), timeout=5)
        g.sendall(b"\x16\x03\x01\x00\x05hello")           # a truncated ClientHello, then gone
        g.close()
        g = socket.create_connection(("127.0.0.1", port), timeout=5)
        g.recv(100)
        g.sendall(b"STARTTLS\r\n")
        g.close()                                           # vanishes before its handshake
        g = socket.create_connection(("127.0.0.1", tport), timeout=5)
        g.sendall(b"GET / HTTP/1.0\r\n\r\n")
        g.settimeout(5)
        try:
            while g.recv(1000):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        g.close()
        c = NNTP(port)
        assert c.cmd("QUIT")[:3] == "205"
        c.close()
    close_all_clients()
    last = {}

    def idle():
        last.update(news_status(h))
        return (last["connections"] == 0 and last["region_bytes"] <= st0["region_bytes"] + 64 * 1024
                and last["fds"] <= st0["fds"])
    try:
        wait_for(idle, 15, what="news worker idle")
    except AssertionError:
        raise AssertionError("not back to baseline: connections %d, region %d (was %d), fds %d (was %d)" % (
            last["connections"], last["region_bytes"], st0["region_bytes"], last["fds"], st0["fds"]))
