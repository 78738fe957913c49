"""Incoming feeds limited by peer: feeds_file's accept=WILDMAT.

The feeds_file lists a peer "p" at 127.0.0.1 (a closed port: the feeder
tries it and backs off, which is harmless) with accept=local.test.  The
test client connects from 127.0.0.1, so to the server it IS that peer:

  * IHAVE of an article for local.test: 235.
  * IHAVE of an article for local.misc only: 437, not stored, counted as
    "peer_groups" in the rejected counters (holdfastctl status --json).
  * Cross-posted to local.test,local.misc: stored in local.test only
    (Xref lists only local.test; local.misc did not grow).
  * TAKETHIS of an article for local.misc only: 439, not stored.
  * POST is not a feed: the peer's accept= does not apply to it.
  * Without accept=, the listed peer may send every group (as before)."""
import os

import pytest

from conftest import free_port
from newslib import PATHHOST, NNTP, build_article, close_all_clients, headers_for, new_msgid, news_section, \
    rejected, rejected_delta, split_article


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    close_all_clients()


def start_with_peer(holdfast, tmpdir_root, options):
    feeds = os.path.join(tmpdir_root, "feeds")
    with open(feeds, "w") as f:
        f.write("# the test client's address is this peer's\np 127.0.0.1:%d local.* %s\n" % (free_port(), options))
    os.chmod(feeds, 0o600)
    port = free_port()
    h = holdfast({"news": news_section(port, feeds_file=feeds)})
    return h, port


def art(groups, tag="pg"):
    mid = new_msgid(tag)
    return mid, build_article(headers_for(groups, msgid=mid, transit=True), [b"peer groups body"])


def fetch_headers(c, mid):
    r = c.cmd("ARTICLE %s" % mid)
    assert r.startswith("220"), r
    return split_article(c.multiline())[0]


def hdr(headers, name):
    vals = [v for k, v in headers if k.lower() == name.lower()]
    assert len(vals) == 1, (name, headers)
    return vals[0]


def high(c, group):
    r = c.cmd("GROUP " + group)
    assert r.startswith("211 "), r
    return int(r.split()[3])


def test_peer_groups_accept_wildmat(holdfast, tmpdir_root):
    h, port = start_with_peer(holdfast, tmpdir_root, "accept=local.test")
    c = NNTP(port)
    assert c.greeting[:3] in ("200", "201"), c.greeting

    # A group the peer may send: stored.
    mid, a = art("local.test")
    r, final = c.ihave(mid, a)
    assert r.startswith("335") and final.startswith("235"), (r, final)
    assert c.cmd("STAT " + mid).startswith("223")

    # Only a group it may not send (though we carry it): 437, counted.
    misc_high = high(c, "local.misc")
    before = rejected(h)
    mid, a = art("local.misc")
    r, final = c.ihave(mid, a)
    assert r.startswith("335") and final.startswith("437"), (r, final)
    assert c.cmd("STAT " + mid).startswith("430")
    assert rejected_delta(before, rejected(h)) == {"peer_groups": 1}

    # Cross-posted: kept in local.test only.
    mid, a = art("local.test,local.misc")
    r, final = c.ihave(mid, a)
    assert final.startswith("235"), (r, final)
    t_high = high(c, "local.test")
    xref = hdr(fetch_headers(c, mid), "Xref")
    assert xref == "%s local.test:%d" % (PATHHOST, t_high), xref
    assert high(c, "local.misc") == misc_high

    # Streaming: TAKETHIS of a local.misc-only article is 439.
    assert c.cmd("MODE STREAM").startswith("203")
    before = rejected(h)
    mid, a = art("local.misc")
    assert c.takethis(mid, a) == "439 " + mid
    assert c.cmd("STAT " + mid).startswith("430")
    assert rejected_delta(before, rejected(h)) == {"peer_groups": 1}
    mid, a = art("local.test")
    assert c.takethis(mid, a) == "239 " + mid
    assert high(c, "local.misc") == misc_high

    # POST is not a feed: accept= does not limit it.
    d = NNTP(port)
    mid = new_msgid("post")
    r, final = d.post(build_article(headers_for("local.misc", msgid=mid), [b"posted"]))
    assert final is not None and final.startswith("240"), (r, final)
    assert high(d, "local.misc") == misc_high + 1


def test_peer_groups_without_accept_takes_all(holdfast, tmpdir_root):
    h, port = start_with_peer(holdfast, tmpdir_root, "mode=stream")
    c = NNTP(port)
    before = rejected(h)
    mid, a = art("local.test,local.misc")
    r, final = c.ihave(mid, a)
    assert final.startswith("235"), (r, final)
    names = sorted(x.split(":")[0] for x in hdr(fetch_headers(c, mid), "Xref").split()[1:])
    assert names == ["local.misc", "local.test"], names
    assert "peer_groups" not in rejected_delta(before, rejected(h))
