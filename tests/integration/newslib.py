"""Helpers for the news service's integration tests (tests/integration/
test_news_*.py): its configuration section, article builders,
dot-stuffing, and a raw-socket NNTP client that can pipeline and read
multi-line responses.

Nothing here knows what the server answers; the tests assert that, from
RFC 3977 (NNTP), RFC 4644 (streaming), RFC 4643 (AUTHINFO), RFC 4642
(STARTTLS), RFC 5536/5537 (article format and duties of agents)."""
import email.utils
import os
import socket
import ssl
import time
import uuid

from conftest import wait_for

PATHHOST = "hf.test"
GROUPS = ("local.test", "local.misc")
MODERATED = "local.moderated"

# src/nntp/nntp_limits.h
NNTP_COMMAND_MAX_BYTES = 512
NNTP_ERRORS_MAX = 20
NNTP_HEADER_LINE_MAX_BYTES = 998
NNTP_AUTH_ATTEMPTS_MAX = 3


def news_section(port, **extra):
    """The [news] section every news test starts from; extra keys are added
    or override (values are stringified)."""
    d = {
        "enable": "yes",
        "listen": "127.0.0.1:%d" % port,
        "user": "nobody",
        "memory_max": "256m",
        "create_groups": ", ".join(GROUPS),
        "moderated_groups": MODERATED,
        "pathhost": PATHHOST,
    }
    d.update({k: str(v) for k, v in extra.items()})
    return d


def start_news(holdfast, **extra):
    """Starts holdfastd with only [news]; returns (h, port)."""
    from conftest import free_port
    port = free_port()
    h = holdfast({"news": news_section(port, **extra)})
    return h, port


def news_status(h):
    return h.service("news")


def rejected(h):
    """The news worker's rejected-input counters by reason (a dict copy)."""
    return dict(news_status(h)["rejected"])


def rejected_delta(before, after):
    """Reasons whose count went up between two rejected() snapshots."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def wait_no_connections(h, timeout=10):
    return wait_for(lambda: (lambda s: s if s["connections"] == 0 else None)(news_status(h)), timeout,
                    what="news connections to close")


# ---------------------------------------------------------------- articles

def new_msgid(tag="t"):
    return "<%s.%s@client.hf-test.invalid>" % (tag, uuid.uuid4().hex)


def rfc5322_date(ts=None):
    return email.utils.formatdate(ts, usegmt=True)


def headers_for(newsgroups="local.test", msgid=None, transit=False, subject="test article",
                sender="Tester <tester@example.org>", date=None, **extra):
    """An ordered list of (name, value) header fields.  transit=True adds what
    a relaying peer sends (Path, Message-ID, Date); otherwise Message-ID and
    Date are present only when given.  extra: Name_With_Underscores becomes
    Name-With-Underscores, after the others."""
    h = []
    if transit:
        h.append(("Path", "peer.hf-test.invalid!not-for-mail"))
    h += [("From", sender), ("Newsgroups", newsgroups), ("Subject", subject)]
    mid = msgid or (new_msgid() if transit else None)
    if mid:
        h.append(("Message-ID", mid))
    d = date if date is not None else (rfc5322_date() if transit else None)
    if d:
        h.append(("Date", d))
    for k, v in extra.items():
        h.append((k.replace("_", "-"), v))
    return h


def drop(headers, name):
    return [(k, v) for k, v in headers if k.lower() != name.lower()]


def header_value(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def _b(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def build_article(headers, body_lines, eol=b"\r\n"):
    """The article as it is meant to be stored: header fields, an empty
    line, the body; every line ends with eol; no dot-stuffing."""
    out = [_b(k) + b": " + _b(v) for k, v in headers]
    out.append(b"")
    out += [_b(x) for x in body_lines]
    return eol.join(out) + eol


def sized_article(headers, total, fill=b"x", width=78):
    """An article of exactly total bytes (CRLFs included, before
    dot-stuffing): the body is lines of `width` fill bytes, the last one
    padded to the exact size."""
    head = build_article(headers, [])          # ends with the empty line's CRLF
    room = total - len(head)
    assert room >= 2, "headers alone exceed %d bytes" % total
    lines = []
    while room > 0:
        n = min(width, room - 2)
        if room - (n + 2) in (1,):             # never leave a 1-byte remainder
            n -= 1
        lines.append(fill * n)
        room -= n + 2
    art = head + b"".join(x + b"\r\n" for x in lines)
    assert len(art) == total, (len(art), total)
    return art


def dot_stuff(article, eol=b"\r\n"):
    """RFC 3977 3.1.1: lines starting with '.' get another '.'; the
    terminating '.' line follows.  article must end with eol."""
    assert article.endswith(eol)
    lines = article[:-len(eol)].split(eol)
    out = [(b"." + x) if x.startswith(b".") else x for x in lines]
    return eol.join(out) + eol + b"." + eol


def split_article(raw_lines):
    """Lines of a multi-line ARTICLE response (bytes, unstuffed) ->
    (list of (name, value) with folded lines joined, body lines)."""
    headers, i = [], 0
    while i < len(raw_lines) and raw_lines[i] != b"":
        line = raw_lines[i].decode("utf-8", "surrogateescape")
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + "\r\n" + line)
        else:
            k, _, v = line.partition(":")
            headers.append((k, v[1:] if v.startswith(" ") else v))
        i += 1
    return headers, raw_lines[i + 1:]


# ---------------------------------------------------------------- client

OPEN_CLIENTS = []


def close_all_clients():
    """Closes every NNTP client made so far (a failed test leaves its own
    open, which would keep the server's connection count up)."""
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()

class NNTP:
    """A raw NNTP client over one TCP (or TLS) socket.  cmd() sends one
    command and returns the reply line; send() + reply() pipeline.  Reads
    are bounded by the socket timeout and by max_lines."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, source=None, tls_ctx=None, greet=True):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls_ctx is not None:
            self.sock = tls_ctx.wrap_socket(self.sock)
        self.buf = b""
        OPEN_CLIENTS.append(self)
        self.greeting = self.line() if greet else None

    # -- raw I/O
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def rawline(self):
        """One line as bytes, CRLF (or a bare LF) removed."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                return line[:-1] if line.endswith(b"\r") else line
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; pending %r" % self.buf[:200])
            self.buf += data

    def rawline_crlf(self):
        """One line as bytes including its terminator, to check framing."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed; pending %r" % self.buf[:200])
            self.buf += data

    def line(self):
        return self.rawline().decode("latin-1")

    reply = line

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def code(self, line):
        return int(self.cmd(line)[:3])

    def multiline(self, max_lines=1000000):
        """The data block of a multi-line response: lines (bytes) with
        dot-stuffing removed, without the terminating '.'."""
        out = []
        for _ in range(max_lines):
            x = self.rawline()
            if x == b".":
                return out
            out.append(x[1:] if x.startswith(b".") else x)
        raise AssertionError("multi-line response longer than %d lines" % max_lines)

    def multiline_raw(self, max_lines=1000000):
        """The data block exactly as sent (each line with its terminator),
        the terminating '.' line included."""
        out = []
        for _ in range(max_lines):
            x = self.rawline_crlf()
            out.append(x)
            if x in (b".\r\n", b".\n"):
                return out
        raise AssertionError("multi-line response longer than %d lines" % max_lines)

    def longcmd(self, line, ok):
        """Sends a command expecting a multi-line response with code ok;
        returns (reply line, lines) -- lines is None if the code differs."""
        r = self.cmd(line)
        if r[:3] != str(ok):
            return r, None
        return r, self.multiline()

    def closed_by_peer(self, timeout=5.0):
        """True once the server closed (EOF or reset) within timeout; input
        read meanwhile is kept in self.buf."""
        self.sock.settimeout(timeout)
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, ssl.SSLError):
            return False
        return False

    def starttls(self, ctx):
        self.sock = ctx.wrap_socket(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- article transfer
    def post(self, article):
        """POST: returns (340 line, final line) -- final is None if not 340."""
        r = self.cmd("POST")
        if not r.startswith("340"):
            return r, None
        self.send(dot_stuff(article))
        return r, self.line()

    def ihave(self, msgid, article):
        r = self.cmd("IHAVE " + msgid)
        if not r.startswith("335"):
            return r, None
        self.send(dot_stuff(article))
        return r, self.line()

    def takethis(self, msgid, article):
        self.send(b"TAKETHIS " + msgid.encode() + b"\r\n" + dot_stuff(article))
        return self.line()

    def capabilities(self):
        r, lines = self.longcmd("CAPABILITIES", 101)
        assert lines is not None, r
        return [x.decode("latin-1") for x in lines]


def capability_words(lines):
    """CAPABILITIES lines -> {LABEL: [args]} (labels upper-cased)."""
    out = {}
    for x in lines:
        w = x.split()
        if w:
            out[w[0].upper()] = w[1:]
    return out


def insecure_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def state_dir(h):
    return os.path.join(h.state, "news")
