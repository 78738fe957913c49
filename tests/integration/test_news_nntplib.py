"""A reader and poster session driven by Python's own NNTP client
(nntplib, Python 3.11 stdlib): what a real newsreader does, end to end.

Greeting, CAPABILITIES (RFC 3977 5.2), LIST ACTIVE / NEWSGROUPS, GROUP,
POST with and without Message-ID/Date (the server, as injecting agent,
adds Message-ID, Date, Path, Injection-Date and Xref: RFC 5537 3.5),
OVER, HDR, ARTICLE/HEAD/BODY/STAT by number and by message-id,
NEXT/LAST, NEWNEWS, NEWGROUPS, DATE, HELP, QUIT.  Content must round-trip
byte for byte, including body lines that start with '.'."""
import datetime
import email.utils
import re
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import nntplib

import pytest

from newslib import GROUPS, MODERATED, PATHHOST, build_article, headers_for, new_msgid, rfc5322_date, \
    split_article, start_news

MSGID_RE = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")

# Body lines chosen to break a careless dot-stuffer or line splitter.
BODY_A = [b"Hello from nntplib.", b".leading dot", b"..two leading dots", b".", b"..", b"",
          b"trailing spaces   ", b"tab\there", b"caf\xc3\xa9 (UTF-8)", b"last line"]
BODY_B = [b"Second article, Message-ID and Date supplied by the poster.", b". dot space", b"end"]


def hdr(headers, name):
    vals = [v for k, v in headers if k.lower() == name.lower()]
    assert len(vals) == 1, "%s appears %d times in %r" % (name, len(vals), headers)
    return vals[0]


def parse_date(v):
    d = email.utils.parsedate_to_datetime(v)
    assert d is not None, v
    # "-0000" (RFC 5322 3.3) parses to a naive datetime: it is UTC.
    return d if d.tzinfo else d.replace(tzinfo=datetime.timezone.utc)


def stored_len(lines):
    return sum(len(x) + 2 for x in lines)


@pytest.fixture
def session(holdfast):
    h, port = start_news(holdfast)
    s = nntplib.NNTP("127.0.0.1", port, timeout=10)
    yield h, s
    try:
        s.sock.close()
    except Exception:
        pass


def test_reader_and_poster_session(session):
    h, s = session

    # -- greeting and capabilities (RFC 3977 5.1, 5.2)
    assert s.getwelcome().startswith("200 "), s.getwelcome()    # posting allowed from loopback
    caps = s.getcapabilities()
    assert caps["VERSION"][0] == "2" and s.nntp_version == 2
    for c in ("READER", "POST", "IHAVE", "OVER", "HDR", "NEWNEWS", "LIST"):
        assert c in caps, "capability %s missing: %r" % (c, caps)
    for kw in ("ACTIVE", "NEWSGROUPS", "OVERVIEW.FMT"):
        assert kw in caps["LIST"], caps["LIST"]
    assert s._shortcmd("MODE READER").startswith("200")
    resp, helptext = s.help()
    assert resp.startswith("100") and helptext

    # -- LIST ACTIVE (RFC 3977 7.6.3)
    resp, groups = s.list()
    assert resp.startswith("215")
    by_name = {g.group: g for g in groups}
    for g in GROUPS:
        assert by_name[g].flag == "y", by_name.get(g)
    assert by_name[MODERATED].flag == "m"
    resp, some = s.list("local.t*")
    assert [g.group for g in some] == ["local.test"]
    resp, none = s.list("no.such.*")
    assert resp.startswith("215") and none == []

    # -- LIST NEWSGROUPS (7.6.6): may omit groups without a description
    resp, desc = s.descriptions("local.*")
    assert resp.startswith("215")
    assert set(desc) <= set(GROUPS) | {MODERATED}, desc

    # -- GROUP (6.1.1)
    resp, count, first, last, name = s.group("local.test")
    assert resp.startswith("211") and count == 0 and name == "local.test"
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.group("local.nosuchgroup")
    assert str(e.value).startswith("411")

    # -- POST without Message-ID and Date: the server adds them
    t0 = datetime.datetime.now(datetime.timezone.utc)
    ha = headers_for("local.test", subject="nntplib round trip A", sender="Alice <alice@example.org>")
    assert s.post(build_article(ha, BODY_A)).startswith("240")
    # -- POST with the poster's own Message-ID and Date: kept as given
    mid_b, date_b = new_msgid("b"), rfc5322_date(t0.timestamp() - 3600)
    hb = headers_for("local.test", msgid=mid_b, date=date_b, subject="nntplib round trip B",
                     sender="Bob <bob@example.org>", References="<parent@example.org>")
    assert s.post(build_article(hb, BODY_B)).startswith("240")

    resp, count, first, last, name = s.group("local.test")
    assert resp.startswith("211") and count == 2 and last == first + 1, (resp, count, first, last)
    na, nb = first, last

    # -- ARTICLE by number: exact content plus what the injecting agent adds
    resp, art = s.article(na)
    assert resp.startswith("220 %d " % na) and art.number == na
    heads, body = split_article(art.lines)
    assert body == BODY_A
    for k, v in ha:
        assert hdr(heads, k) == v
    mid_a = hdr(heads, "Message-ID")
    assert MSGID_RE.match(mid_a) and art.message_id == mid_a
    assert abs((parse_date(hdr(heads, "Date")) - t0).total_seconds()) < 300
    assert hdr(heads, "Path").startswith(PATHHOST + "!"), hdr(heads, "Path")
    assert hdr(heads, "Xref") == "%s local.test:%d" % (PATHHOST, na)
    inj = parse_date(hdr(heads, "Injection-Date"))
    assert abs((inj - t0).total_seconds()) < 300
    full_a = art.lines

    # -- ARTICLE by message-id; the poster's Message-ID and Date are kept
    resp, art = s.article(mid_b)
    assert resp.split()[0] == "220" and resp.split()[1] in ("0", str(nb)) and resp.split()[2] == mid_b
    heads_b, body = split_article(art.lines)
    assert body == BODY_B
    assert hdr(heads_b, "Message-ID") == mid_b and hdr(heads_b, "Date") == date_b
    assert hdr(heads_b, "References") == "<parent@example.org>"
    assert hdr(heads_b, "Path").startswith(PATHHOST + "!")
    assert hdr(heads_b, "Xref") == "%s local.test:%d" % (PATHHOST, nb)
    hdr(heads_b, "Injection-Date")
    full_b = art.lines

    # -- HEAD and BODY, by number and by message-id, agree with ARTICLE
    sep = full_a.index(b"")
    for spec in (na, mid_a):
        resp, hd = s.head(spec)
        assert resp.startswith("221") and hd.lines == full_a[:sep]
        resp, bd = s.body(spec)
        assert resp.startswith("222") and bd.lines == full_a[sep + 1:]
    resp, bd = s.body(mid_b)
    assert bd.lines == BODY_B

    # -- OVER (8.3) with the format from LIST OVERVIEW.FMT (8.4)
    resp, fmt = s._longcmdstring("LIST OVERVIEW.FMT")
    assert resp.startswith("215")
    assert [x.lower() for x in fmt[:7]] == ["subject:", "from:", "date:", "message-id:", "references:",
                                           ":bytes", ":lines"], fmt
    resp, ov = s.over((na, nb))
    assert resp.startswith("224") and [n for n, _ in ov] == [na, nb]
    oa, ob = ov[0][1], ov[1][1]
    assert oa["subject"] == "nntplib round trip A" and oa["from"] == "Alice <alice@example.org>"
    assert oa["message-id"] == mid_a and oa["references"] == ""
    assert int(oa[":lines"]) == len(BODY_A)
    assert int(oa[":bytes"]) == stored_len(full_a)       # 8.1.1: CRLF counts 2, no dot-stuffing
    assert ob["message-id"] == mid_b and ob["date"] == date_b
    assert ob["references"] == "<parent@example.org>"
    assert int(ob[":lines"]) == len(BODY_B) and int(ob[":bytes"]) == stored_len(full_b)
    resp, ov = s.over(mid_b)
    assert resp.startswith("224") and len(ov) == 1 and ov[0][0] in (0, nb)
    assert ov[0][1]["subject"] == "nntplib round trip B"

    # -- HDR (8.5); XHDR is RFC 2980's legacy form, optional
    resp, lines = s._longcmdstring("HDR Subject %d-%d" % (na, nb))
    assert resp.startswith("225")
    assert lines == ["%d nntplib round trip A" % na, "%d nntplib round trip B" % nb], lines
    resp, lines = s._longcmdstring("HDR subject %s" % mid_a)
    assert resp.startswith("225") and len(lines) == 1
    assert lines[0].split(" ", 1)[0] in ("0", str(na)) and lines[0].split(" ", 1)[1] == "nntplib round trip A"
    try:
        resp, pairs = s.xhdr("subject", "%d-%d" % (na, nb))
        assert pairs == [(str(na), "nntplib round trip A"), (str(nb), "nntplib round trip B")]
    except nntplib.NNTPPermanentError as e:
        assert str(e).startswith("500"), e

    # -- STAT, NEXT, LAST (6.2.4, 6.1.3, 6.1.4)
    assert s.stat(na)[1:] == (na, mid_a)
    resp, n, m = s.stat(mid_b)
    assert resp.startswith("223") and m == mid_b and n in (0, nb)
    resp, n, m = s.next()                      # current article is still na: STAT <id> does not move it
    assert resp.startswith("223") and (n, m) == (nb, mid_b)
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.next()
    assert str(e.value).startswith("421")
    resp, n, m = s.last()
    assert resp.startswith("223") and (n, m) == (na, mid_a)
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.last()
    assert str(e.value).startswith("422")
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.stat(new_msgid("absent"))
    assert str(e.value).startswith("430")
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.stat(nb + 1000)
    assert str(e.value).startswith("423")

    # -- NEWNEWS (7.4) and NEWGROUPS (7.3): nntplib sends server-local
    # time without GMT; two days either side is safe in any time zone.
    now = datetime.datetime.utcnow()
    before, after = now - datetime.timedelta(days=2), now + datetime.timedelta(days=2)
    for pattern in ("local.*", "local.test", "*"):
        resp, ids = s.newnews(pattern, before)
        assert resp.startswith("230") and sorted(ids) == sorted([mid_a, mid_b]), (pattern, ids)
    resp, ids = s.newnews("local.misc", before)
    assert resp.startswith("230") and ids == []
    resp, ids = s.newnews("local.*,!local.test", before)
    assert ids == []
    resp, ids = s.newnews("local.*", after)
    assert resp.startswith("230") and ids == []
    resp, lines = s._longcmdstring("NEWNEWS local.* %s GMT" % before.strftime("%Y%m%d %H%M%S"))
    assert resp.startswith("230") and sorted(lines) == sorted([mid_a, mid_b])
    resp, newg = s.newgroups(before)
    assert resp.startswith("231")
    assert {g.group for g in newg} >= set(GROUPS) | {MODERATED}
    resp, newg = s.newgroups(after)
    assert resp.startswith("231") and newg == []

    # -- DATE (7.1): UTC
    resp, d = s.date()
    assert resp.startswith("111") and abs((d - datetime.datetime.utcnow()).total_seconds()) < 120

    # -- a second reader sees the same thing; then QUIT (5.4)
    assert s.quit().startswith("205")


def test_post_refused_groups_and_reader_errors(session):
    """Error paths a reader meets: POST to a group that does not exist is
    441 (RFC 5537 3.5), commands that need a group before GROUP are 412."""
    h, s = session
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.stat(1)
    assert str(e.value).startswith("412")
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.next()
    assert str(e.value).startswith("412")
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.post(build_article(headers_for("local.nosuchgroup"), [b"x"]))
    assert str(e.value).startswith("441")
    resp, count, first, last, name = s.group("local.misc")
    assert count == 0
    # An empty group has no current article (6.1.1.2): 420.
    with pytest.raises(nntplib.NNTPTemporaryError) as e:
        s.stat()
    assert str(e.value).startswith("420")
    assert s.quit().startswith("205")
