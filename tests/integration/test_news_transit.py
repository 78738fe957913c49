"""Peering: articles offered by another server.

IHAVE (RFC 3977 6.3.2): 335 then 235; an article already held is 435,
on the same connection and on another one.  Streaming (RFC 4644): MODE
STREAM 203, CHECK 238/438, TAKETHIS 239/439, each reply carrying the
message-id; 200 CHECK+TAKETHIS pairs pipelined on one connection are
answered in order.  A cross-posted article gets a number in each group it
names that exists here (once, even if named twice); an article only for
groups we do not carry is refused.  A moderated group takes no unapproved
post (RFC 5537 3.5); an article dated days ahead is refused.  The same
article twice in one pipeline, or from two racing peers, is stored once.
Peers outside allow_post/allow_feed get 201/440/502."""
import threading
import time

from newslib import MODERATED, PATHHOST, NNTP, build_article, dot_stuff, headers_for, new_msgid, \
    rfc5322_date, split_article, start_news


def art(groups="local.test", msgid=None, body=(b"transit body",), **extra):
    mid = msgid or new_msgid("tr")
    return mid, build_article(headers_for(groups, msgid=mid, transit=True, **extra), list(body))


def fetch(c, spec):
    r = c.cmd("ARTICLE %s" % spec)
    assert r.startswith("220"), r
    return split_article(c.multiline())


def hdr(headers, name):
    vals = [v for k, v in headers if k.lower() == name.lower()]
    assert len(vals) == 1, (name, headers)
    return vals[0]


def group_info(c, name):
    r = c.cmd("GROUP " + name)
    assert r.startswith("211 "), r
    count, low, high, g = r.split()[1:5]
    assert g == name
    return int(count), int(low), int(high)


def test_ihave(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    assert c.greeting[:3] in ("200", "201")
    mid, a = art(subject="ihave one", body=(b"line one", b".dotted", b"end"))
    r, final = c.ihave(mid, a)
    assert r.startswith("335") and final.startswith("235"), (r, final)
    # Offered again on the same connection: not wanted.
    assert c.cmd("IHAVE " + mid).startswith("435")
    # The connection is in step: the next command works.
    assert c.cmd("DATE").startswith("111 ")
    # A second peer offers it after it was accepted: not wanted either.
    d = NNTP(port)
    assert d.cmd("IHAVE " + mid).startswith("435")
    # Stored as sent, with our name in front of the Path and our Xref.
    heads, body = fetch(d, mid)
    assert body == [b"line one", b".dotted", b"end"]
    # RFC 5537 3.2.1: our path-identity is prepended ("!" or a diagnostic like "!.MISMATCH.").
    path = hdr(heads, "Path")
    assert path.startswith(PATHHOST + "!") and path.endswith("!peer.hf-test.invalid!not-for-mail"), path
    count, low, high = group_info(d, "local.test")
    assert count == 1
    assert hdr(heads, "Xref") == "%s local.test:%d" % (PATHHOST, high)
    assert d.cmd("STAT %d" % high) == "223 %d %s" % (high, mid)
    # Message-id in the command and the header differ: refused (437), not stored.
    other = new_msgid("mismatch")
    mid2, a2 = art(msgid=other)
    r, final = c.ihave(new_msgid("claimed"), a2)
    assert r.startswith("335") and final.startswith("437"), final
    assert c.cmd("STAT " + other).startswith("430")
    assert c.cmd("QUIT").startswith("205")
    assert c.closed_by_peer()


def test_streaming_check_takethis(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    caps = c.capabilities()
    assert "STREAMING" in [x.split()[0] for x in caps], caps
    assert c.cmd("MODE STREAM").startswith("203")
    mid, a = art(subject="stream one")
    assert c.cmd("CHECK " + mid) == "238 " + mid
    assert c.takethis(mid, a) == "239 " + mid
    # Now held: CHECK says not wanted, TAKETHIS rejects (and swallows the article).
    assert c.cmd("CHECK " + mid) == "438 " + mid
    assert c.takethis(mid, a) == "439 " + mid
    assert c.cmd("DATE").startswith("111 ")
    # IHAVE on another connection agrees.
    d = NNTP(port)
    assert d.cmd("IHAVE " + mid).startswith("435")
    assert d.cmd("STAT " + mid).startswith("223 ")
    # A TAKETHIS the server refuses for content: 439, not stored, connection in step.
    bad = new_msgid("nodate")
    bad_art = build_article([(k, v) for k, v in headers_for("local.test", msgid=bad, transit=True)
                             if k != "Date"], [b"x"])
    assert c.takethis(bad, bad_art) == "439 " + bad
    assert c.cmd("CHECK " + new_msgid("after")).startswith("238 ")
    assert d.cmd("STAT " + bad).startswith("430")


def test_pipelined_pairs_answered_in_order(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    assert c.cmd("MODE STREAM").startswith("203")
    n = 200
    mids = [new_msgid("pipe%03d" % i) for i in range(n)]
    payload = b"".join(b"CHECK " + m.encode() + b"\r\nTAKETHIS " + m.encode() + b"\r\n" +
                       dot_stuff(art(msgid=m, subject="pipelined %d" % i,
                                     body=(b"pipelined body %d" % i, b".x"))[1])
                       for i, m in enumerate(mids))
    # Send from a thread while we read: the server applies back-pressure
    # (NNTP_PIPELINE_REPLIES_MAX) and must not have to buffer it all.
    err = []
    t = threading.Thread(target=lambda: _send(c, payload, err), daemon=True)
    t.start()
    c.sock.settimeout(30)
    got = [c.line() for _ in range(2 * n)]
    t.join(10)
    assert not err, err
    want = []
    for m in mids:
        want += ["238 " + m, "239 " + m]
    assert got == want, next(((i, g, w) for i, (g, w) in enumerate(zip(got, want)) if g != w), None)
    count, low, high = group_info(c, "local.test")
    assert count == n and high - low + 1 == n
    # Each is stored in order of arrival: the k-th article has number low+k.
    for k in (0, 1, n // 2, n - 1):
        assert c.cmd("STAT %d" % (low + k)) == "223 %d %s" % (low + k, mids[k])


def _send(c, payload, err):
    try:
        c.send(payload)
    except OSError as e:
        err.append(e)


def test_crosspost_unknown_group_and_moderation(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    # Cross-posted to two local groups and one we do not carry.
    mid, a = art("local.test,local.misc,not.carried.here", subject="crosspost")
    r, final = c.ihave(mid, a)
    assert final.startswith("235"), final
    t_count, t_low, t_high = group_info(c, "local.test")
    assert c.cmd("STAT %d" % t_high) == "223 %d %s" % (t_high, mid)
    m_count, m_low, m_high = group_info(c, "local.misc")
    assert c.cmd("STAT %d" % m_high) == "223 %d %s" % (m_high, mid)
    heads, _ = fetch(c, mid)
    xref = hdr(heads, "Xref").split()
    assert xref[0] == PATHHOST
    assert sorted(xref[1:]) == sorted(["local.test:%d" % t_high, "local.misc:%d" % m_high])
    # Listed in OVER of both groups (RFC 3977 8.3).
    assert c.cmd("OVER %d" % m_high).startswith("224")
    ov = c.multiline()
    assert len(ov) == 1 and ov[0].split(b"\t")[4] == mid.encode()

    # Only for groups we do not carry: refused, not stored, no group grew.
    mid2, a2 = art("not.carried.here,other.unknown")
    r, final = c.ihave(mid2, a2)
    assert r.startswith("335") and final.startswith("437"), final
    assert c.cmd("STAT " + mid2).startswith("430")
    assert c.cmd("MODE STREAM").startswith("203")
    mid3, a3 = art("not.carried.here")
    assert c.takethis(mid3, a3) == "439 " + mid3
    assert group_info(c, "local.test")[2] == t_high and group_info(c, "local.misc")[2] == m_high

    # POST to a group that does not exist: 441.
    r, final = c.post(build_article(headers_for("not.carried.here"), [b"x"]))
    assert r.startswith("340") and final.startswith("441"), final

    # Moderated group: POST without Approved is refused (no moderator to mail to) ...
    r, final = c.post(build_article(headers_for(MODERATED, subject="unapproved"), [b"x"]))
    assert r.startswith("340") and final.startswith("441"), final
    assert group_info(c, MODERATED)[0] == 0
    # ... and with Approved it is accepted.
    mid5 = new_msgid("approved")
    r, final = c.post(build_article(headers_for(MODERATED, msgid=mid5, subject="approved",
                                                Approved="moderator@example.org"), [b"approved body"]))
    assert r.startswith("340") and final.startswith("240"), final
    count, low, high = group_info(c, MODERATED)
    assert count == 1 and c.cmd("STAT %d" % high) == "223 %d %s" % (high, mid5)
    mid6, a6 = art(MODERATED, Approved="moderator@example.org")
    r, final = c.ihave(mid6, a6)
    assert final.startswith("235"), final
    assert group_info(c, MODERATED)[0] == 2


def test_peers_not_allowed_to_feed_or_post(holdfast):
    """allow_post/allow_feed exclude us: the greeting says 201 (RFC 3977
    5.1.1), POST is 440, IHAVE/CHECK/TAKETHIS are 502 and MODE STREAM is
    502; CAPABILITIES offers neither POST, IHAVE nor STREAMING."""
    h, port = start_news(holdfast, allow_post="10.0.0.0/8", allow_feed="10.0.0.0/8")
    c = NNTP(port)
    assert c.greeting[:4] == "201 ", c.greeting
    caps = [x.split()[0] for x in c.capabilities()]
    assert "READER" in caps and not {"POST", "IHAVE", "STREAMING"} & set(caps), caps
    assert c.cmd("POST")[:3] == "440"
    assert c.cmd("IHAVE " + new_msgid())[:3] == "502"
    assert c.cmd("CHECK " + new_msgid())[:3] == "502"
    assert c.cmd("MODE STREAM")[:3] == "502"
    # Reading still works.
    assert c.cmd("GROUP local.test")[:4] == "211 "


def test_peer_not_allowed_at_all(holdfast):
    """Neither reading, posting nor feeding allowed: 502 at once and close
    (RFC 3977 5.1.1)."""
    h, port = start_news(holdfast, allow_read="10.0.0.0/8", allow_post="10.0.0.0/8", allow_feed="10.0.0.0/8")
    c = NNTP(port)
    assert c.greeting[:4] == "502 ", c.greeting
    assert c.closed_by_peer(5)


def test_repeated_group_in_newsgroups_numbered_once(holdfast):
    """Newsgroups naming a group twice: the article gets one number there,
    and Xref lists each group once (RFC 5536 3.2.14: one location per
    newsgroup the article is filed in)."""
    h, port = start_news(holdfast)
    c = NNTP(port)
    mid, a = art("local.test")
    assert c.ihave(mid, a)[1][:3] == "235"        # a first article, so numbers differ from 1
    for groups in ("local.test,local.test", "local.test,local.misc,local.test"):
        mid = new_msgid("repeat")
        r, final = c.post(build_article(headers_for(groups, msgid=mid), [b"x"]))
        assert final[:3] == "240", final
        heads, _ = fetch(c, mid)
        xref = hdr(heads, "Xref").split()[1:]
        names = [x.split(":")[0] for x in xref]
        assert sorted(names) == sorted(set(groups.split(","))), (groups, hdr(heads, "Xref"))
    count, low, high = group_info(c, "local.test")
    assert count == 3


def test_article_dated_far_in_the_future_is_refused(holdfast):
    """RFC 5537 3.5 and 3.6: injecting and relaying agents SHOULD reject an
    article whose Date is more than 24 hours in the future (INN does)."""
    h, port = start_news(holdfast)
    c = NNTP(port)
    future = rfc5322_date(time.time() + 7 * 86400)
    mid = new_msgid("future")
    r, final = c.post(build_article(headers_for("local.test", msgid=mid, date=future), [b"x"]))
    assert final[:3] == "441", final
    mid, a = art(msgid=new_msgid("future"), date=future)
    assert c.ihave(mid, a)[1][:3] == "437"
    mid, a = art(msgid=new_msgid("future"), date=future)
    assert c.takethis(mid, a) == "439 " + mid
    # An hour ahead is clock skew, not an error.
    mid, a = art(msgid=new_msgid("skew"), date=rfc5322_date(time.time() + 3600))
    assert c.ihave(mid, a)[1][:3] == "235"


def test_same_article_twice_in_one_pipeline_and_from_two_peers(holdfast):
    """The in-flight set: TAKETHIS X, CHECK X, TAKETHIS X, STAT X, QUIT
    pipelined (with a slow group commit) answer 239, 438, 439, 223, 205 in
    order -- no duplicate, and the reader command after the acks sees the
    article.  Two IHAVE peers racing for one article: the second is told
    to try later (436), then that it is not wanted (435)."""
    h, port = start_news(holdfast, commit_delay="200ms")
    c = NNTP(port)
    assert c.cmd("MODE STREAM")[:3] == "203"
    x, a = art(subject="twice")
    c.send(b"TAKETHIS " + x.encode() + b"\r\n" + dot_stuff(a) + b"CHECK " + x.encode() + b"\r\n" +
           b"TAKETHIS " + x.encode() + b"\r\n" + dot_stuff(a) + b"STAT " + x.encode() + b"\r\nQUIT\r\n")
    got = [c.line() for _ in range(5)]
    assert [g[:3] for g in got] == ["239", "438", "439", "223", "205"], got
    assert got[0] == "239 " + x and got[1] == "438 " + x and got[2] == "439 " + x
    assert c.closed_by_peer()
    assert group_info(NNTP(port), "local.test")[0] == 1

    c1, c2 = NNTP(port), NNTP(port)
    y, b = art(subject="race")
    assert c1.cmd("IHAVE " + y)[:3] == "335"
    assert c2.cmd("IHAVE " + y)[:3] == "436"
    c1.send(dot_stuff(b))
    assert c1.line()[:3] == "235"
    assert c2.cmd("IHAVE " + y)[:3] == "435"
