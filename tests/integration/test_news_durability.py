"""An acknowledgement is a promise (storage.h: 235/239/240 only after
store_commit).  A streaming feed of 5,000 articles is cut by kill -9 of the
news worker after about 1,000 acknowledgements; after the supervisor has
restarted it, every article that got 239 is there (STAT 223), a re-offer
of one is not wanted (438), and news.db passes SQLite's integrity check."""
import os
import signal
import subprocess
import threading

from conftest import pid_alive, wait_for
from newslib import NNTP, build_article, dot_stuff, headers_for, new_msgid, news_status, start_news, state_dir

N_ARTICLES = 5000
KILL_AFTER_ACKS = 1000
WINDOW = 200          # articles sent but not yet answered, so the kill lands mid-feed


def test_kill9_mid_feed_keeps_every_acknowledged_article(holdfast):
    # A longer group-commit window: a server that acknowledged before its
    # commit would have many acknowledged, uncommitted articles at the kill.
    h, port = start_news(holdfast, commit_delay="50ms")
    st0 = news_status(h)
    pid0 = st0["pid"]
    assert pid0 > 0
    c = NNTP(port)
    assert c.cmd("MODE STREAM")[:3] == "203"
    mids = [new_msgid("dur%04d" % i) for i in range(N_ARTICLES)]
    answered = threading.Semaphore(WINDOW)
    stop = threading.Event()
    send_err = []

    def sender():
        try:
            for i, m in enumerate(mids):
                if not answered.acquire(timeout=30) or stop.is_set():
                    return
                a = build_article(headers_for("local.test", msgid=m, transit=True, subject="durable %d" % i),
                                  [b"article %d of the durability feed" % i, b".dotted line"])
                c.sock.sendall(b"CHECK " + m.encode() + b"\r\nTAKETHIS " + m.encode() + b"\r\n" + dot_stuff(a))
        except OSError as e:
            send_err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    c.sock.settimeout(30)
    acked, other, killed = [], [], False
    try:
        for _ in range(2 * N_ARTICLES):
            try:
                r = c.line()
            except (EOFError, ConnectionResetError):
                break
            code, _, mid = r.partition(" ")
            if code in ("238", "431", "438"):      # CHECK's answer; TAKETHIS follows regardless
                if code != "238":
                    other.append(r)
                continue
            answered.release()
            if code == "239":
                acked.append(mid)
            else:
                other.append(r)
            if len(acked) == KILL_AFTER_ACKS and not killed:
                os.kill(pid0, signal.SIGKILL)
                killed = True
    finally:
        stop.set()
        for _ in range(WINDOW + 1):
            answered.release()
        t.join(10)
    assert killed, "feed ended after %d acks without the kill: %r" % (len(acked), other[:5])
    assert not other, other[:5]
    assert KILL_AFTER_ACKS <= len(acked) < N_ARTICLES, len(acked)
    print("acknowledged before the kill: %d of %d" % (len(acked), N_ARTICLES))
    c.close()

    # The supervisor restarts the worker.
    wait_for(lambda: not pid_alive(pid0), 10, what="killed worker to go")
    st = wait_for(lambda: (lambda s: s if s["pid"] not in (0, pid0) and s["state"] == "running" else None)(
        news_status(h)), 15, what="a new news worker")
    assert st["restarts"] >= 1

    # Every acknowledged article is there, by message-id.
    c = NNTP(port)
    assert c.greeting[:3] in ("200", "201")
    missing = []
    for i in range(0, len(acked), 100):
        batch = acked[i:i + 100]
        c.send("".join("STAT %s\r\n" % m for m in batch))
        for m in batch:
            r = c.line()
            if not (r.startswith("223 ") and r.split()[2] == m):
                missing.append((m, r))
    assert not missing, "%d acknowledged articles lost, e.g. %r" % (len(missing), missing[:5])
    r = c.cmd("GROUP local.test")
    assert r[:4] == "211 " and int(r.split()[1]) >= len(acked), r
    # History survived too: a re-offer is not wanted.
    assert c.cmd("MODE STREAM")[:3] == "203"
    assert c.cmd("CHECK " + acked[0]) == "438 " + acked[0]
    assert c.cmd("CHECK " + acked[-1]) == "438 " + acked[-1]
    # And the new worker takes new articles.
    m = new_msgid("after")
    a = build_article(headers_for("local.test", msgid=m, transit=True), [b"after restart"])
    assert c.takethis(m, a) == "239 " + m
    assert c.cmd("STAT " + m)[:4] == "223 "
    # Numbers are unique and the newest article has the highest one: none
    # was handed out twice across the crash (RFC 3977 6: never reused).
    r = c.cmd("LISTGROUP local.test")
    assert r[:4] == "211 ", r
    numbers = [int(x) for x in c.multiline(max_lines=N_ARTICLES + 10)]
    assert len(numbers) == len(set(numbers)) == int(r.split()[1]), r
    assert c.cmd("STAT %d" % max(numbers)) == "223 %d %s" % (max(numbers), m)
    c.close()

    db = os.path.join(state_dir(h), "news.db")
    assert os.path.exists(db), os.listdir(state_dir(h))
    r = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.stdout[-2000:], r.stderr[-2000:])
