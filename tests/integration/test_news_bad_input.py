"""Malformed input to the news service (MS01-043: a post's memory belongs to
the post and is released on every outcome).

Every limit at limit and limit+1: command lines of 512/513 octets and
100 KiB (RFC 3977 3.1), articles of article_max and article_max+1 by POST,
IHAVE and TAKETHIS (441/437/439), header lines of 998/999 octets
(RFC 5322 2.1.1), and each limit of nntp_limits.h at limit-1/limit/limit+1
(header fields, newsgroups, message-id, body line, header field and
section sizes).  Every defect gets its code and a reject reason in
holdfastctl status: NUL, unknown commands, wrong argument counts (501),
missing or malformed headers, bare CR.  An article cut off by the peer is
never stored.  Pipelined garbage meets the error budget (NNTP_ERRORS_MAX:
20 errors, then 400 and close).  A one-byte-a-second sender is closed by
handshake_timeout.  A peer that never reads its responses is paused, not
buffered.  Hundreds of refused posts on one connection leave its memory
where it was (< 1 byte per post).  After each scenario the worker's region
and fds are back at their baseline once the connections are gone."""
import select
import socket
import threading
import time

import pytest

from conftest import wait_for
from newslib import NNTP, NNTP_COMMAND_MAX_BYTES, NNTP_ERRORS_MAX, NNTP_HEADER_LINE_MAX_BYTES, build_article, \
    close_all_clients, dot_stuff, drop, header_value, headers_for, new_msgid, news_status, rejected, \
    rejected_delta, sized_article, start_news, wait_no_connections

ARTICLE_MAX = 64 * 1024
REGION_SLACK = 64 * 1024

# Reject reason names: article.h's enum article_err lower-cased without
# "ART_" (its example: ART_BAD_MESSAGE_ID -> "bad_message_id"); the line
# and timeout reasons are the runtime's (echo.c uses the same names).
R_LINE = "line_too_long"
# Names the news service chose for command errors: "nul_byte",
# "unknown_command" (as echo.c); 501s have several ("syntax", "bad_range"...).


@pytest.fixture
def news(holdfast):
    """A news server with article_max = 64k; checks at teardown that the
    worker's region went back to its idle baseline."""
    h, port = start_news(holdfast, article_max="64k", handshake_timeout="30s")
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


@pytest.fixture
def news256k(holdfast):
    """As news, with article_max = 256k: room for the per-field limits."""
    h, port = start_news(holdfast, article_max="256k")
    wait_no_connections(h)
    base = news_status(h)["region_bytes"]
    yield h, port
    close_all_clients()
    wait_no_connections(h)
    wait_for(lambda: news_status(h)["region_bytes"] <= base + REGION_SLACK, 10,
             what="region_bytes back to baseline")


def expect_reason(h, before, reason, n=1):
    d = rejected_delta(before, rejected(h))
    assert d.get(reason, 0) >= n, "expected reject reason %r +%d; counters moved: %r" % (reason, n, d)


# ------------------------------------------------------------ command lines

def test_command_line_512_513_and_huge(news):
    h, port = news
    c = NNTP(port)
    before = rejected(h)
    # Exactly 512 octets with CRLF: a valid (if long) argument, answered normally.
    for verb in ("GROUP", "LISTGROUP"):
        line = verb + " " + "a" * (NNTP_COMMAND_MAX_BYTES - 2 - len(verb) - 1)
        assert len(line) + 2 == NNTP_COMMAND_MAX_BYTES
        assert c.cmd(line)[:3] == "411", verb           # no such newsgroup
    # 513 octets: too long, one 500, still in step.
    line = "GROUP " + "a" * (NNTP_COMMAND_MAX_BYTES - 2 - 6 + 1)
    assert len(line) + 2 == NNTP_COMMAND_MAX_BYTES + 1
    assert c.cmd(line)[:3] == "500"
    assert c.cmd("DATE")[:4] == "111 "
    # 100 KiB in one line: one 500, swallowed, never buffered.
    peak0 = news_status(h)["region_peak_bytes"]
    c.send("GROUP " + "b" * (100 * 1024) + "\r\nDATE\r\n")
    assert c.line()[:3] == "500"
    assert c.line()[:4] == "111 "
    assert news_status(h)["region_peak_bytes"] - peak0 < 32 * 1024
    assert c.cmd("GROUP local.test")[:4] == "211 "
    expect_reason(h, before, R_LINE, 2)
    assert c.cmd("QUIT")[:3] == "205"


def test_nul_unknown_command_and_argument_counts(news):
    h, port = news
    before = rejected(h)
    c = NNTP(port)
    assert c.cmd("GROUP local.te\0st")[:3] == "501"
    assert c.cmd("FROBNICATE")[:3] == "500"
    assert c.cmd("FROBNICATE local.test 1")[:3] == "500"
    assert c.cmd("DATE")[:4] == "111 "
    d = rejected_delta(before, rejected(h))
    assert d.get("nul_byte") == 1 and d.get("unknown_command") == 2, d
    # Wrong argument counts and malformed arguments: 501 for each (RFC 3977
    # 3.2.1), on fresh connections so the error budget is not what answers.
    bad = [
        "ARTICLE 1 2", "HEAD 1 2", "BODY 1 2", "STAT 1 2", "ARTICLE one", "STAT no-brackets@example.org",
        "GROUP", "GROUP local.test extra", "LISTGROUP local.test 1-2 extra", "LISTGROUP local.test x-y",
        "LAST extra", "NEXT extra", "POST extra", "IHAVE", "IHAVE <a@b> extra", "IHAVE not-a-msgid",
        "CAPABILITIES a b", "MODE", "MODE READER extra", "MODE STREAM extra", "MODE NOSUCHMODE",
        "QUIT extra", "DATE extra", "HELP extra",
        "NEWGROUPS", "NEWGROUPS 20260101", "NEWGROUPS 20260101 000000 GMT extra", "NEWGROUPS 2026011 000000",
        "NEWGROUPS 20261301 000000", "NEWGROUPS 20260101 250000",
        "NEWNEWS", "NEWNEWS local.*", "NEWNEWS local.* 20260101", "NEWNEWS local.* 20260101 000000 PST",
        "OVER 1 2", "OVER 1-2-3", "HDR", "HDR Subject 1 2", "LIST ACTIVE local.* extra", "LIST NOSUCHKEYWORD",
        "CHECK", "CHECK <a@b> extra",
    ]
    wrong = []
    for i in range(0, len(bad), 10):
        c.close()
        c = NNTP(port)
        # A group is selected, so that only the syntax can be wrong.
        assert c.cmd("GROUP local.test")[:4] == "211 "
        for line in bad[i:i + 10]:
            r = c.cmd(line)
            if r[:3] != "501":
                wrong.append((line, r))
        assert c.cmd("DATE")[:4] == "111 "
    c.close()
    assert not wrong, "expected 501 for: %r" % wrong
    d = rejected_delta(before, rejected(h))
    assert sum(d.values()) >= len(bad), d        # reasons vary: syntax, bad_number, bad_date...
    # A message-id that is not one: 501, or CHECK's own refusal 438 (RFC 4644
    # 2.3 lets a server refuse any offer); never 238.
    c = NNTP(port)
    assert c.cmd("CHECK not-a-msgid")[:3] in ("501", "438")


def test_syntax_error_takes_precedence_over_state(news):
    """RFC 3977 3.2.1: when several responses apply, the generic 501
    (syntax) comes before command-specific ones such as 412 (no group)."""
    h, port = news
    c = NNTP(port)
    wrong = [(line, r) for line, r in ((x, c.cmd(x)) for x in ("ARTICLE one", "OVER 1-2-3", "STAT 1 2"))
             if r[:3] != "501"]
    assert not wrong, wrong


# ------------------------------------------------------------ article sizes

def test_article_max_by_post_ihave_takethis(news):
    h, port = news
    c = NNTP(port)
    before = rejected(h)
    for kind, ok, refused in (("POST", "240", "441"), ("IHAVE", "235", "437"), ("TAKETHIS", "239", "439")):
        for size, want in ((ARTICLE_MAX - 1, ok), (ARTICLE_MAX, ok), (ARTICLE_MAX + 1, refused)):
            mid = new_msgid("size%d" % size)
            heads = headers_for("local.test", msgid=mid, transit=kind != "POST", subject="%s %d" % (kind, size))
            a = sized_article(heads, size)
            if kind == "POST":
                r, final = c.post(a)
                assert r[:3] == "340", r
            elif kind == "IHAVE":
                r, final = c.ihave(mid, a)
                assert r[:3] == "335", r
            else:
                final = c.takethis(mid, a)
            assert final[:3] == want, (kind, size, final)
            if kind == "TAKETHIS":
                assert final == want + " " + mid
            # In step after either outcome; stored only if accepted.
            assert c.cmd("STAT " + mid)[:3] == ("223" if want == ok else "430"), (kind, size)
    expect_reason(h, before, "too_big", 3)
    # A 4 MiB article is swallowed, not buffered: the region peak stays far below it.
    peak0 = news_status(h)["region_peak_bytes"]
    mid = new_msgid("huge")
    r, final = c.post(sized_article(headers_for("local.test", msgid=mid), 4 * 1024 * 1024))
    assert final[:3] == "441"
    assert news_status(h)["region_peak_bytes"] - peak0 < 512 * 1024
    assert c.cmd("STAT " + mid)[:3] == "430"
    assert c.cmd("DATE")[:4] == "111 "


def test_header_line_998_and_999(news):
    h, port = news
    c = NNTP(port)
    before = rejected(h)
    for kind in ("POST", "IHAVE"):
        for length, want in ((NNTP_HEADER_LINE_MAX_BYTES, "240" if kind == "POST" else "235"),
                             (NNTP_HEADER_LINE_MAX_BYTES + 1, "441" if kind == "POST" else "437")):
            mid = new_msgid("hl%d" % length)
            filler = "X-Filler: " + "f" * (length - len("X-Filler: "))
            heads = headers_for("local.test", msgid=mid, transit=kind == "IHAVE")
            heads.append(tuple(filler.split(": ", 1)))
            a = build_article(heads, [b"body"])
            assert filler.encode() + b"\r\n" in a and len(filler) == length
            if kind == "POST":
                r, final = c.post(a)
            else:
                r, final = c.ihave(mid, a)
            assert final is not None and final[:3] == want, (kind, length, r, final)
            assert c.cmd("STAT " + mid)[:3] == ("430" if want[:2] in ("44", "43") else "223")
    expect_reason(h, before, "header_line_too_long", 2)


def test_per_field_limits_at_limit_and_one_over(news256k):
    """nntp_limits.h, each at limit-1, limit, limit+1, as the peer sent
    them (what the server adds itself must not count against the peer):
    NNTP_HEADER_FIELDS_MAX 128 fields, NNTP_GROUPS_PER_ARTICLE_MAX 32
    Newsgroups entries, NNTP_MSGID_MAX_BYTES 250 (brackets included),
    NNTP_BODY_LINE_MAX_BYTES 64 KiB (a line's text, CRLF excluded),
    NNTP_HEADER_FIELD_MAX_BYTES 32 KiB (one unfolded field),
    NNTP_HEADER_MAX_BYTES 64 KiB (the header section, empty line excluded)."""
    h, port = news256k
    c = NNTP(port)
    wrong = []

    def post(what, heads, body, want, reason=None):
        before = rejected(h)
        r, final = c.post(build_article(heads, body))
        if r[:3] != "340" or final is None or final[:3] != want:
            wrong.append((what, want, r, final))
        elif reason:
            d = rejected_delta(before, rejected(h))
            if d != {reason: 1}:
                wrong.append((what, "reason %s +1" % reason, d))
        assert c.cmd("DATE")[:4] == "111 "

    def ihave(what, heads, body, want):
        mid = header_value(heads, "Message-ID")
        r, final = c.ihave(mid, build_article(heads, body))
        if r[:3] != "335" or final is None or final[:3] != want:
            wrong.append((what, want, r, final))

    for n, want in ((127, "240"), (128, "240"), (129, "441")):
        heads = headers_for("local.test", msgid=new_msgid("f%d" % n))
        heads += [("X-Field-%d" % i, "v") for i in range(n - len(heads))]
        post("POST with %d header fields" % n, heads, [b"x"], want, want == "441" and "too_many_headers")
    for n, want in ((127, "235"), (128, "235"), (129, "437")):
        heads = headers_for("local.test", msgid=new_msgid("f%d" % n), transit=True)
        heads += [("X-Field-%d" % i, "v") for i in range(n - len(heads))]
        ihave("IHAVE with %d header fields" % n, heads, [b"x"], want)
    for n, want in ((31, "240"), (32, "240"), (33, "441")):
        groups = ",".join(["local.test"] + ["remote.group%d" % i for i in range(n - 1)])
        post("POST to %d groups" % n, headers_for(groups, msgid=new_msgid("g%d" % n)), [b"x"], want,
             want == "441" and "too_many_groups")
    for n, want in ((249, "240"), (250, "240"), (251, "441")):
        mid = "<" + "m" * (n - 2 - len("@example.org")) + "@example.org>"
        assert len(mid) == n
        post("POST Message-ID of %d bytes" % n, headers_for("local.test", msgid=mid), [b"x"], want,
             want == "441" and "bad_message_id")
    for n, want in ((65535, "240"), (65536, "240"), (65537, "441")):
        post("POST body line of %d bytes" % n, headers_for("local.test", msgid=new_msgid("b%d" % n)),
             [b"before", b"y" * n, b"after"], want, want == "441" and "body_line_too_long")
    # NNTP_HEADER_FIELD_MAX_BYTES 32 KiB: one field unfolded ("Name: value",
    # folding CRLFs removed), folded into lines of at most 900 bytes.
    for n, want in ((32767, "240"), (32768, "240"), (32769, "441")):
        value = "v" * (n - len("X-Long: "))
        folded = "\r\n ".join(value[i:i + 900] for i in range(0, len(value), 900))
        assert len("X-Long: " + folded.replace("\r\n", "")) == n + folded.count("\r\n")
        # Each fold adds a space the unfolded field keeps: take it off the first chunk.
        value = "v" * (n - len("X-Long: ") - folded.count("\r\n"))
        folded = "\r\n ".join(value[i:i + 900] for i in range(0, len(value), 900))
        assert len("X-Long: " + folded.replace("\r\n", "")) == n
        post("POST header field of %d bytes unfolded" % n, headers_for("local.test", msgid=new_msgid("hf%d" % n))
             + [("X-Long", folded)], [b"x"], want, want == "441" and "header_too_big")
    # NNTP_HEADER_MAX_BYTES 64 KiB: the header section as article.h spans it
    # (every field with its CRLF; the empty line after it not counted).
    for n, want in ((65535, "240"), (65536, "240"), (65537, "441")):
        heads = headers_for("local.test", msgid=new_msgid("hs%d" % n))
        room, i = n + 2 - len(build_article(heads, [])), 0
        while room > 0:
            k = min(900, room - len("X-F000: ") - 2)
            if room - (len("X-F000: ") + k + 2) in range(1, len("X-F000: ") + 3):
                k -= len("X-F000: ") + 3      # leave room for one more whole field
            heads.append(("X-F%03d" % i, "v" * k))
            room -= len("X-F000: ") + k + 2
            i += 1
        a = build_article(heads, [b"x"])
        assert a.index(b"\r\n\r\n") + 2 == n
        post("POST header section of %d bytes" % n, heads, [b"x"], want, want == "441" and "header_too_big")
    assert not wrong, "\n".join(repr(w) for w in wrong)


# ------------------------------------------------------------ malformed articles

def post_case(port, article):
    c = NNTP(port)
    try:
        r, final = c.post(article)
        assert r[:3] == "340", r
        after = c.cmd("DATE")
        assert after[:4] == "111 ", after
        return final
    finally:
        c.close()


def ihave_case(port, mid, article):
    c = NNTP(port)
    try:
        r, final = c.ihave(mid, article)
        assert r[:3] == "335", r
        assert c.cmd("DATE")[:4] == "111 "
        return final
    finally:
        c.close()


def test_malformed_articles(news):
    h, port = news
    results = []

    def check(what, final, want, reason, mid=None):
        before = check.before
        now = rejected(h)
        d = rejected_delta(before, now)
        check.before = now
        problems = []
        if final is None or final[:3] != want:
            problems.append("got %r, want %s" % (final, want))
        if d.get(reason, 0) < 1:
            problems.append("reject reason %r not counted (moved: %r)" % (reason, d))
        if mid:
            c = NNTP(port)
            st = c.cmd("STAT " + mid)
            c.close()
            if st[:3] != "430":
                problems.append("stored anyway: STAT -> %r" % st)
        if problems:
            results.append((what, problems))
    check.before = rejected(h)

    # POST without each required header (RFC 5537 3.5: Newsgroups, From, Subject).
    for name in ("Newsgroups", "From", "Subject"):
        mid = new_msgid("no" + name)
        a = build_article(drop(headers_for("local.test", msgid=mid), name), [b"body"])
        check("POST without " + name, post_case(port, a), "441", "missing_" + name.lower(), mid)
    # IHAVE without each header a relaying agent needs (RFC 5537 3.6: Message-ID, Date, Path).
    for name in ("Message-ID", "Date", "Path"):
        mid = new_msgid("no" + name)
        a = build_article(drop(headers_for("local.test", msgid=mid, transit=True), name), [b"body"])
        check("IHAVE without " + name, ihave_case(port, mid, a), "437",
              "missing_" + name.lower().replace("-", "_"), mid)
    # Malformed fields.
    check("POST bad Message-ID", post_case(port, build_article(
        headers_for("local.test", msgid="no-angle-brackets@example.org"), [b"x"])), "441", "bad_message_id")
    check("POST Message-ID with space", post_case(port, build_article(
        headers_for("local.test", msgid="<a b@example.org>"), [b"x"])), "441", "bad_message_id")
    for ng in ("local..test", "Local Test", "local.test,,local.misc", ".local.test", "local.test!x"):
        mid = new_msgid("badng")
        check("POST Newsgroups %r" % ng, post_case(port, build_article(
            headers_for(ng, msgid=mid), [b"x"])), "441", "bad_newsgroups", mid)
    mid = new_msgid("baddate")
    check("POST bad Date", post_case(port, build_article(
        headers_for("local.test", msgid=mid, date="yesterday, at noon"), [b"x"])), "441", "bad_date", mid)
    mid = new_msgid("baddate")
    check("IHAVE bad Date", ihave_case(port, mid, build_article(
        headers_for("local.test", msgid=mid, transit=True, date="Mon, 32 Foo 2026 99:99:99 +0000"), [b"x"])),
        "437", "bad_date", mid)
    mid = new_msgid("dup")
    heads = headers_for("local.test", msgid=mid) + [("Message-ID", new_msgid("dup2"))]
    check("POST duplicate Message-ID", post_case(port, build_article(heads, [b"x"])), "441",
          "duplicate_header", mid)
    mid = new_msgid("dupsubj")
    heads = headers_for("local.test", msgid=mid) + [("Subject", "second subject")]
    check("POST duplicate Subject", post_case(port, build_article(heads, [b"x"])), "441",
          "duplicate_header", mid)
    mid = new_msgid("nul")
    check("POST NUL in body", post_case(port, build_article(
        headers_for("local.test", msgid=mid), [b"before", b"nul \x00 here", b"after"])), "441", "nul", mid)
    mid = new_msgid("nulhdr")
    check("POST NUL in header", post_case(port, build_article(
        headers_for("local.test", msgid=mid, subject="a\x00b"), [b"x"])), "441", "nul", mid)
    mid = new_msgid("cr")
    check("POST bare CR in body", post_case(port, build_article(
        headers_for("local.test", msgid=mid), [b"before", b"bare \r CR", b"after"])), "441", "bare_cr", mid)
    mid = new_msgid("nosep")
    check("POST header without colon", post_case(port, build_article(
        headers_for("local.test", msgid=mid) + [("NoColonHere", "x")], [b"x"]).replace(
        b"NoColonHere: x", b"NoColonHere x")), "441", "bad_header_syntax", mid)

    assert not results, "\n".join("%s: %s" % (w, "; ".join(p)) for w, p in results)


def test_bare_lf_line_endings_are_normalised(news):
    """DOCUMENTED CHOICE (not an RFC requirement): an article sent with bare
    LF line endings, terminator included, is accepted and stored with CRLF
    line endings -- the line reader frames CRLF and bare LF alike (line.h),
    as INN's nnrpd does for posters.  If the server is meant to refuse it
    instead (article.h has ART_BARE_LF), change this test and the docs
    together."""
    h, port = news
    c = NNTP(port)
    mid = new_msgid("lf")
    a = build_article(headers_for("local.test", msgid=mid, subject="bare LF"), [b"one", b".dot", b"three"],
                      eol=b"\n")
    assert c.cmd("POST")[:3] == "340"
    c.send(dot_stuff(a, eol=b"\n"))
    assert c.line()[:3] == "240"
    r = c.cmd("ARTICLE " + mid)
    assert r[:3] == "220"
    raw = c.multiline_raw()
    assert all(x.endswith(b"\r\n") and b"\r" not in x[:-2] and b"\n" not in x[:-1] for x in raw), raw
    assert raw[-4:] == [b"one\r\n", b"..dot\r\n", b"three\r\n", b".\r\n"]
    assert b"Subject: bare LF\r\n" in raw


def test_article_cut_off_is_not_stored(news):
    h, port = news
    post_mid, ihave_mid, take_mid = new_msgid("cutpost"), new_msgid("cutihave"), new_msgid("cuttake")
    before = rejected(h)
    c = NNTP(port)
    assert c.cmd("POST")[:3] == "340"
    c.send(build_article(headers_for("local.test", msgid=post_mid), [b"no final dot"]))
    c.close()
    c = NNTP(port)
    assert c.cmd("IHAVE " + ihave_mid)[:3] == "335"
    c.send(build_article(headers_for("local.test", msgid=ihave_mid, transit=True), [b"no final dot"]))
    c.close()
    c = NNTP(port)
    c.send(b"TAKETHIS " + take_mid.encode() + b"\r\n" +
           build_article(headers_for("local.test", msgid=take_mid, transit=True), [b"no final dot"]))
    # Half-close so the server sees EOF after the bytes, not a reset.
    c.sock.shutdown(socket.SHUT_WR)
    assert c.closed_by_peer(10)
    c.close()
    wait_no_connections(h)
    c = NNTP(port)
    for mid in (post_mid, ihave_mid, take_mid):
        assert c.cmd("STAT " + mid)[:3] == "430", mid
    r = c.cmd("GROUP local.test")
    assert r.split()[1] == "0", r
    # Each cut-off article is a refused input, and counted as one.
    d = rejected_delta(before, rejected(h))
    assert sum(d.values()) >= 3, d


# ------------------------------------------------------------ MS01-043: no growth per post

def test_no_memory_growth_per_refused_post(news):
    """THREATS.md, MS01-043: a post's memory is released on every outcome.
    With one connection open, hundreds of refused (and some accepted)
    articles of every kind leave the worker's region where it was: less
    than 1 byte per article."""
    h, port = news
    c = NNTP(port)

    def bad_posts():
        yield drop(headers_for("local.test"), "From"), [b"x"]
        yield headers_for("local..test"), [b"x"]
        yield headers_for("local.test", msgid="no-brackets@x"), [b"x"]
        yield headers_for("local.test", date="not a date"), [b"x"]
        yield headers_for("local.test") + [("From", "dup <d@example.org>")], [b"x"]
        yield headers_for("local.test"), [b"nul \x00"]
        yield headers_for("local.test"), [b"cr \r x"]
        yield headers_for("local.test", X_Long="l" * 1200), [b"x"]

    def one_round():
        for heads, body in bad_posts():
            r, final = c.post(build_article(heads, body))
            assert final is not None and final[:3] == "441", (heads, final)
        # Transit refusals, a too-big article, an accepted one.
        mid = new_msgid("slope")
        r, final = c.ihave(mid, build_article(drop(headers_for("local.test", msgid=mid, transit=True), "Path"),
                                              [b"x"]))
        assert final[:3] == "437", final
        assert c.takethis(mid, sized_article(headers_for("local.test", msgid=mid, transit=True),
                                             ARTICLE_MAX + 100)) == "439 " + mid
        mid = new_msgid("slope-ok")
        r, final = c.post(build_article(headers_for("local.test", msgid=mid), [b"accepted"]))
        assert final[:3] == "240", final
        # (No overlong command line here: those are protocol errors, and
        # NNTP_ERRORS_MAX would close the connection.)
        assert c.cmd("DATE")[:4] == "111 "
        return 11

    for _ in range(5):
        one_round()
    warm = news_status(h)["region_bytes"]
    n = 0
    for _ in range(40):
        n += one_round()
    after = news_status(h)["region_bytes"]
    assert after - warm < n, "region grew %d bytes over %d articles (%d -> %d)" % (after - warm, n, warm, after)


# ------------------------------------------------------------ slow consumer

def test_reader_that_does_not_read(news):
    """A peer that pipelines requests for big responses and never reads
    them: the server stops reading it (back-pressure, write_budget) instead
    of buffering; the worker's region stays small; others are served."""
    h, port = news
    c = NNTP(port)
    mid = new_msgid("big")
    r, final = c.post(sized_article(headers_for("local.test", msgid=mid), 60 * 1024))
    assert final[:3] == "240", final
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # 3,000 x 60 KiB = 180 MB of responses asked for, never read.
    req = ("ARTICLE %s\r\n" % mid).encode() * 3000
    c.sock.setblocking(False)
    sent, end = 0, time.monotonic() + 10
    while sent < len(req) and time.monotonic() < end:
        try:
            sent += c.sock.send(req[sent:sent + 65536])
        except BlockingIOError:
            select.select([], [c.sock], [], 0.1)
    st = news_status(h)
    assert st["region_bytes"] < 2 * 1024 * 1024, st["region_bytes"]
    other = NNTP(port)
    t0 = time.monotonic()
    assert other.cmd("DATE")[:4] == "111 "
    assert other.cmd("STAT " + mid)[:4] == "223 "
    assert time.monotonic() - t0 < 2
    assert news_status(h)["region_peak_bytes"] < 4 * 1024 * 1024
    c.close()


# ------------------------------------------------------------ error budget, slow sender

def test_pipelined_garbage_meets_error_budget(news):
    h, port = news
    before = rejected(h)
    c = NNTP(port)
    payload = b"\x01\x02garbage\xff\r\n" * 10000 + b"DATE\r\n"
    err = []

    def sender():
        try:
            c.sock.sendall(payload)
        except OSError as e:        # the server closed while we were sending: expected
            err.append(e)
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    c.sock.settimeout(15)
    lines = []
    for _ in range(10002):
        try:
            lines.append(c.line())
        except (EOFError, ConnectionResetError):
            break
    t.join(15)
    # NNTP_ERRORS_MAX protocol errors, each answered 500, then 400 and close.
    assert [x[:3] for x in lines] == ["500"] * NNTP_ERRORS_MAX + ["400"], lines[:3] + ["..."] + lines[-3:]
    assert c.closed_by_peer(5)
    d = rejected_delta(before, rejected(h))
    assert d.get("unknown_command") == NNTP_ERRORS_MAX, d
    # The worker goes on.
    c2 = NNTP(port)
    assert c2.cmd("DATE")[:4] == "111 "


def test_one_byte_a_second_is_closed_by_handshake_timeout(holdfast):
    h, port = start_news(holdfast, handshake_timeout="2s")
    wait_no_connections(h)
    base = news_status(h)["region_bytes"]
    before = rejected(h)
    c = NNTP(port)
    t0 = time.monotonic()
    got = b""
    closed = False
    for ch in b"DATE\r\n":
        try:
            c.sock.send(bytes([ch]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        # Pace by waiting up to 1 s for the server to say something.
        r, _, _ = select.select([c.sock], [], [], 1.0)
        if r:
            try:
                data = c.sock.recv(4096)
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                break
            got += data
            if b"\n" in got:
                break
    assert got[:3] == b"400", got
    assert closed or c.closed_by_peer(5)
    assert time.monotonic() - t0 < 5.5
    assert b"111 " not in got
    expect_reason(h, before, "handshake_timeout", 1)
    wait_no_connections(h)
    assert news_status(h)["region_bytes"] <= base + REGION_SLACK
