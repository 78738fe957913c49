"""holdfastctl news VERB: the operator's commands for the news service
(src/nntp/news_ctl.c), checked against what NNTP clients then see.

newgroup makes a group GROUP can select (211); rmgroup makes it 411;
list filters by wildmat; a bad group name, a bad status, an unknown verb
and a refused expire age exit 1 with a message; expire removes articles
by their Date (older than AGE) and GROUP counts follow; check runs
SQLite's integrity check; every verb works while a streaming feed is
running and leaves the database intact."""
import os
import subprocess
import threading
import time

from conftest import HOLDFASTD, SANITIZED
from newslib import NNTP, build_article, dot_stuff, headers_for, new_msgid, rfc5322_date, start_news

DAY = 24 * 3600


def group_info(c, name):
    r = c.cmd("GROUP " + name)
    assert r.startswith("211 "), r
    count, low, high, g = r.split()[1:5]
    assert g == name
    return int(count), int(low), int(high)


def ctl_list(h, *args):
    """list's lines as {name: (high, low, status, count)}."""
    out = {}
    for line in h.ctl("news", "list", *args).stdout.splitlines():
        w = line.split()
        if len(w) == 5:
            out[w[0]] = (int(w[1]), int(w[2]), w[3], int(w[4]))
    return out


def ihave(c, groups, date=None, subject="ctl test"):
    mid = new_msgid("ctl")
    art = build_article(headers_for(groups, msgid=mid, transit=True, subject=subject, date=date),
                        [b"body of " + mid.encode()])
    r, final = c.ihave(mid, art)
    assert r.startswith("335") and final.startswith("235"), (r, final)
    return mid


def test_newgroup_then_group_over_nntp(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    assert c.cmd("GROUP local.new").startswith("411")
    r = h.ctl("news", "newgroup", "local.new")
    assert r.returncode == 0 and "created group local.new" in r.stdout
    # RFC 3977 6.1.1.2: an empty group reports count 0 and low = high + 1.
    assert c.cmd("GROUP local.new") == "211 0 1 0 local.new"
    d = h.ctl("news", "group", "local.new").stdout
    assert "status y" in d and "creator holdfastctl" in d and "count 0" in d
    mid = ihave(c, "local.new")
    assert group_info(c, "local.new") == (1, 1, 1)
    assert c.cmd("STAT 1") == "223 1 %s" % mid
    # Status and description; LIST NEWSGROUPS serves the description.
    assert h.ctl("news", "newgroup", "local.mod", "m", "A moderated", "group").returncode == 0
    r, lines = c.longcmd("LIST NEWSGROUPS local.mod", 215)
    assert lines == [b"local.mod\tA moderated group"], (r, lines)
    r, lines = c.longcmd("LIST ACTIVE local.mod", 215)
    assert lines and lines[0].split()[3] == b"m", lines
    # Again: refused, unless it changes the status (as ctlinnd newgroup).
    r = h.ctl("news", "newgroup", "local.new", check=False)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = h.ctl("news", "newgroup", "local.new", "n")
    assert "changed from y to n" in r.stdout
    assert ctl_list(h, "local.new")["local.new"][2] == "n"
    # Durable: a restarted worker still has them.
    h.stop()
    h.start()
    c = NNTP(port)
    assert group_info(c, "local.new") == (1, 1, 1)


def test_rmgroup_then_group_is_411(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    only = ihave(c, "local.misc")
    cross = ihave(c, "local.misc,local.test")
    r = h.ctl("news", "rmgroup", "local.misc")
    assert r.returncode == 0 and "removed group local.misc (2 articles)" in r.stdout
    assert c.cmd("GROUP local.misc").startswith("411")
    assert "local.misc" not in ctl_list(h)
    # Its own article is gone; the cross-post stays in its other group.
    assert c.cmd("STAT " + only).startswith("430")
    assert c.cmd("STAT " + cross).startswith("223")
    assert group_info(c, "local.test")[0] == 1
    r = h.ctl("news", "rmgroup", "local.misc", check=False)
    assert r.returncode == 1 and "no such group" in r.stderr
    r = h.ctl("news", "rmgroup", check=False)
    assert r.returncode == 1 and "usage" in r.stderr


def test_list_with_wildmat(holdfast):
    h, port = start_news(holdfast)
    for g in ("local.a", "other.b", "other.c"):
        h.ctl("news", "newgroup", g)
    c = NNTP(port)
    ihave(c, "other.b")
    ihave(c, "other.b")
    every = ctl_list(h)
    assert set(every) >= {"local.test", "local.misc", "local.moderated", "local.a", "other.b", "other.c"}
    assert every["other.b"] == (2, 1, "y", 2)
    assert every["other.c"] == (0, 1, "y", 0)
    assert every["local.moderated"][2] == "m"
    assert set(ctl_list(h, "other.*")) == {"other.b", "other.c"}
    assert set(ctl_list(h, "*,!local.*")) == {"other.b", "other.c"}
    assert set(ctl_list(h, "local.?")) == {"local.a"}
    r = h.ctl("news", "list", "nothing.*")
    assert r.returncode == 0 and "no groups match" in r.stdout
    r = h.ctl("news", "list", "a b", check=False)
    assert r.returncode == 1 and "bad wildmat" in r.stderr


def test_long_list_is_truncated_at_a_line(holdfast):
    """An answer longer than the reply (CTL_TEXT_MAX_BYTES, 48 KiB) is cut
    at a line boundary and says so on its last line."""
    h, port = start_news(holdfast)
    names = ["local.t%04d.%s.%s" % (i, "x" * 60, "y" * 50) for i in range(400)]
    for name in names:
        h.ctl("news", "newgroup", name)
    out = h.ctl("news", "list", "local.t*").stdout
    assert len(out.encode()) < 48 * 1024 and out.endswith("\n... (truncated)\n"), out[-300:]
    lines = out.splitlines()[:-1]
    assert 300 < len(lines) < 400
    assert [x.split()[0] for x in lines] == names[:len(lines)]
    assert all(len(x.split()) == 5 for x in lines)
    # A wildmat that selects few is whole.
    assert set(ctl_list(h, "local.t0399.*")) == {names[399]}


def test_bad_group_name_refused(holdfast):
    h, port = start_news(holdfast)
    for bad in ("Local.Upper", "local..empty", ".local", "local.", "local/x", "x" * 200):
        r = h.ctl("news", "newgroup", bad, check=False)
        assert r.returncode == 1 and "bad group name" in r.stderr, (bad, r.stderr)
    r = h.ctl("news", "newgroup", "local.ok", "q", check=False)
    assert r.returncode == 1 and "status must be" in r.stderr
    r = h.ctl("news", "newgroup", "local.ok", "y", "tab\there", check=False)
    assert r.returncode == 1 and "control characters" in r.stderr
    r = h.ctl("news", "newgroup", check=False)
    assert r.returncode == 1 and "usage" in r.stderr
    names = ctl_list(h)
    assert not [n for n in names if n not in ("local.test", "local.misc", "local.moderated")], names


def test_expire_by_posted_date(holdfast):
    h, port = start_news(holdfast)
    c = NNTP(port)
    old = [ihave(c, "local.test", date=rfc5322_date(time.time() - 10 * DAY)) for _ in range(3)]
    new = [ihave(c, "local.test") for _ in range(2)]
    old_misc = ihave(c, "local.misc", date=rfc5322_date(time.time() - 10 * DAY))
    assert group_info(c, "local.test") == (5, 1, 5)
    # No AGE and no expire_age configured; AGE 0 and nonsense refused.
    for args, msg in (((), "expire_age is not set"), (("0",), "refused"), (("local.*", "0s"), "refused"),
                      (("local.*", "soon"), "bad AGE"), (("a b", "1d"), "bad wildmat"),
                      (("local.*", "1d", "x"), "usage")):
        r = h.ctl("news", "expire", *args, check=False)
        assert r.returncode == 1 and msg in r.stderr, (args, r.stderr)
    assert group_info(c, "local.test") == (5, 1, 5)
    # Only local.test, older than a day.
    r = h.ctl("news", "expire", "local.test", "1d")
    assert "expired 3 articles" in r.stdout, r.stdout
    for mid in old:
        assert c.cmd("STAT " + mid).startswith("430")
    for mid in new:
        assert c.cmd("STAT " + mid).startswith("223")
    assert group_info(c, "local.test") == (2, 4, 5)
    for n in (1, 2, 3):
        assert c.cmd("STAT %d" % n).startswith("423")
    assert c.cmd("STAT 4") == "223 4 %s" % new[0]
    assert ctl_list(h, "local.test")["local.test"] == (5, 4, "y", 2)
    # Expired ids are remembered: a feed offering one again is refused.
    assert c.cmd("IHAVE " + old[0]).startswith("435")
    # local.misc was not chosen; a bare AGE means every group.
    assert c.cmd("STAT " + old_misc).startswith("223")
    r = h.ctl("news", "expire", "5d")
    assert "expired 1 articles" in r.stdout and "all groups" in r.stdout, r.stdout
    assert c.cmd("STAT " + old_misc).startswith("430")
    assert group_info(c, "local.misc")[0] == 0
    assert group_info(c, "local.test")[0] == 2


def test_expire_defaults_to_expire_age(holdfast):
    h, port = start_news(holdfast, expire_age="2d", expire_groups="local.*, !local.misc")
    c = NNTP(port)
    a = ihave(c, "local.test", date=rfc5322_date(time.time() - 3 * DAY))
    b = ihave(c, "local.test", date=rfc5322_date(time.time() - 1 * DAY))
    r = h.ctl("news", "expire")
    assert "expired 1 articles" in r.stdout, r.stdout
    assert c.cmd("STAT " + a).startswith("430") and c.cmd("STAT " + b).startswith("223")


def test_bad_expire_groups_refused_at_start(tmpdir_root):
    path = os.path.join(tmpdir_root, "bad.conf")
    with open(path, "w") as f:
        f.write("[holdfast]\nrundir = %s/run\n[news]\nenable = yes\nlisten = 127.0.0.1:1\n"
                "expire_groups = local.*, a b\n" % tmpdir_root)
    r = subprocess.run([HOLDFASTD, "-f", "-c", path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "expire_groups" in r.stderr, r.stderr


def test_check_and_feeds_and_unknown_verb(holdfast):
    h, port = start_news(holdfast)
    r = h.ctl("news", "check")
    assert r.stdout == "ok\n"
    assert h.ctl("news", "feeds").stdout == "no feeds configured\n"
    r = h.ctl("news", "help")
    assert "usage" in r.stdout and "expire [WILDMAT] [AGE]" in r.stdout
    r = h.ctl("news", "nope", check=False)
    assert r.returncode == 1 and "usage" in r.stderr and "newgroup" in r.stderr
    r = h.ctl("news", "check", "extra", check=False)
    assert r.returncode == 1 and "usage" in r.stderr


def test_verb_commits_the_open_batch_first(holdfast):
    """With a long commit_delay, an article waits in the open batch; a verb
    commits it first (news_ctl.c: commit, not "busy"), so its 239 comes at
    once and the verb sees it."""
    h, port = start_news(holdfast, commit_delay="8s")
    c = NNTP(port)
    assert c.cmd("MODE STREAM").startswith("203")
    mid = new_msgid("batch")
    c.send(b"TAKETHIS " + mid.encode() + b"\r\n" +
           dot_stuff(build_article(headers_for("local.test", msgid=mid, transit=True), [b"x"])))
    time.sleep(0.3)
    t0 = time.monotonic()
    assert ctl_list(h, "local.test")["local.test"][3] == 1
    c.sock.settimeout(3)
    assert c.line() == "239 " + mid
    assert time.monotonic() - t0 < 3


class Feed:
    """A streaming peer: TAKETHIS in chunks from one thread, replies read
    by another, until stop() (bounded by max_articles)."""

    def __init__(self, port, group, max_articles=5000, chunk=10, pause=0.02):
        self.c = NNTP(port)
        assert self.c.cmd("MODE STREAM").startswith("203")
        self.c.sock.settimeout(30)
        self.group, self.max, self.chunk, self.pause = group, max_articles, chunk, pause
        self.sent, self.replies, self.errors = [], [], []
        self.stopping = threading.Event()
        self.sender_done = threading.Event()
        self.ts = threading.Thread(target=self._send, daemon=True)
        self.tr = threading.Thread(target=self._read, daemon=True)
        self.ts.start()
        self.tr.start()

    def _send(self):
        try:
            while not self.stopping.is_set() and len(self.sent) < self.max:
                data = []
                for _ in range(self.chunk):
                    mid = new_msgid("feed")
                    art = build_article(headers_for(self.group, msgid=mid, transit=True), [b"fed " + mid.encode()])
                    data.append(b"TAKETHIS " + mid.encode() + b"\r\n" + dot_stuff(art))
                    self.sent.append(mid)
                self.c.send(b"".join(data))
                time.sleep(self.pause)
        except OSError as e:
            self.errors.append(e)
        self.sender_done.set()

    def _read(self):
        try:
            while not (self.sender_done.is_set() and len(self.replies) == len(self.sent)):
                if len(self.replies) < len(self.sent):
                    self.replies.append(self.c.line())
                else:
                    time.sleep(0.001)
        except (OSError, EOFError) as e:
            self.errors.append(e)

    def stop(self):
        self.stopping.set()
        self.ts.join(30)
        self.tr.join(60)
        assert not self.ts.is_alive() and not self.tr.is_alive(), "feed did not finish"
        assert not self.errors, self.errors
        return self.sent, self.replies


def test_every_verb_during_a_streaming_feed(holdfast):
    # Under ASan freed article buffers stay in its quarantine (256 MiB by
    # default) and count against the cap: give the worker room.
    h, port = start_news(holdfast, memory_max="1g" if SANITIZED else "256m")
    feed = Feed(port, "local.test")
    c = NNTP(port)
    old = ihave(c, "local.misc", date=rfc5322_date(time.time() - 10 * DAY))
    # Wait until the feed is under way, so every verb meets open batches.
    end = time.monotonic() + 10
    while len(feed.replies) < 100 and time.monotonic() < end and not feed.errors:
        time.sleep(0.01)
    assert len(feed.replies) >= 100, (len(feed.replies), feed.errors)
    busy = []
    for _ in range(3):
        r = h.ctl("news", "newgroup", "local.during", "y", "made while feeding")
        assert "created" in r.stdout
        assert "local.during" in ctl_list(h, "local.*")
        assert "name local.test" in h.ctl("news", "group", "local.test").stdout
        assert h.ctl("news", "check").stdout == "ok\n"
        assert "no feeds configured" in h.ctl("news", "feeds").stdout
        # Expires nothing the feed sends (dated now), only the old one.
        h.ctl("news", "expire", "local.*", "2d")
        assert "removed group local.during" in h.ctl("news", "rmgroup", "local.during").stdout
        busy.append(feed.sender_done.is_set())
    sent, replies = feed.stop()
    assert not any(busy), "the feed ended before the commands did"
    assert replies == ["239 " + m for m in sent], \
        next(((i, g) for i, g in enumerate(replies) if g != "239 " + sent[i]), None)
    assert h.ctl("news", "check").stdout == "ok\n"
    count, low, high = group_info(c, "local.test")
    assert count == len(sent) and high - low + 1 == count
    assert ctl_list(h, "local.test")["local.test"][3] == len(sent)
    for m in (sent[0], sent[len(sent) // 2], sent[-1]):
        assert c.cmd("STAT " + m).startswith("223")
    assert c.cmd("STAT " + old).startswith("430")
    assert c.cmd("GROUP local.during").startswith("411")
