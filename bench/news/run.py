#!/usr/bin/env python3
"""bench/news/run.py: holdfast's news service against Debian's INN on the
same machine, all traffic on 127.0.0.1.  See bench/news/README.md.

For every run (default 3) and every client kind (plain: ordinary delayed
ACKs; quickack: TCP_QUICKACK set before each read) each server is started
fresh in a fresh temporary directory and measured on:
  ingest   N articles of SIZE bytes over one MODE STREAM connection,
           CHECK/TAKETHIS pipelined in windows of W  (articles/s)
  article  ARTICLE by number, one at a time, one reader connection (ops/s)
  idle     PSS of the server per idle reader connection after MODE READER
           (KiB; INN: the whole innd tree, one nnrpd per reader; holdfast:
           the news worker); idle_pss: the server's whole PSS with them
Prints min/median/max per server and the holdfast/INN ratio of the
medians.  A server that cannot be set up or fails is reported as
"NAME: not available (reason)" and the other one is still measured.
Every loop is bounded by a count and by time."""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import innlib  # noqa: E402
from innlib import NntpClient, pid_alive, process_tree, pss_kib  # noqa: E402

COMMIT_DELAY = "0"
GROUP = "bench.test"
LOADER = None   # path of the C client (nntpload.c), built by build_loader()


class Unavailable(Exception):
    pass


# ---------------------------------------------------------------- articles

def make_articles(n, size, tag):
    """n wire-format articles (CRLF, dot-stuffed, final '.') of about size
    bytes each, with message-IDs unique to tag."""
    out = []
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    filler = ("The quick brown fox jumps over the lazy dog %s. " % tag) * 64
    for i in range(n):
        mid = "<bench-%s-%d@bench.holdfast.test>" % (tag, i)
        head = ("Path: bench.origin!not-for-mail\r\n"
                "From: Bench <bench@holdfast.test>\r\n"
                "Newsgroups: %s\r\n"
                "Subject: bench article %d\r\n"
                "Date: %s\r\n"
                "Message-ID: %s\r\n"
                "\r\n" % (GROUP, i, date, mid))
        need = max(size - len(head) - 3, 64)
        body, pos = [], 0
        while need > 0:
            ln = min(70, need - 2) if need > 2 else 1
            chunk = filler[pos:pos + ln]
            pos = (pos + ln) % 1000
            body.append(chunk + "\r\n")
            need -= len(chunk) + 2
        out.append((mid, (head + "".join(body) + ".\r\n").encode()))
    return out


# ---------------------------------------------------------------- measures

def build_loader(tmp):
    """Compiles nntpload.c (the C client) into tmp; returns its path."""
    exe = os.path.join(tmp, "nntpload")
    p = subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, os.path.join(HERE, "nntpload.c")],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit("cannot build nntpload.c:\n" + p.stderr)
    return exe


def run_loader(argv, timeout):
    p = subprocess.run([LOADER] + [str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip() or "nntpload exited %d" % p.returncode)
    return json.loads(p.stdout)


def measure_ingest_c(port, articles, window, quickack, max_seconds, tmp):
    path = os.path.join(tmp, "articles.%d" % port)
    with open(path, "wb") as f:
        for mid, data in articles:
            f.write(b"%s %d\n" % (mid.encode(), len(data)))
            f.write(data)
    try:
        d = run_loader(["ingest", port, path, window, max_seconds, int(quickack)], max_seconds + 60)
    finally:
        os.unlink(path)
    info = {"offered": d["offered"], "accepted": d["ops"], "refused": d["refused"], "rejected": d["rejected"],
            "seconds": round(d["seconds"], 3), "time_bounded": d["time_bounded"]}
    if d["ops"] == 0:
        raise RuntimeError("no article accepted: %s" % info)
    return d["ops"] / d["seconds"], info


def measure_article_c(port, quickack, max_ops, max_seconds):
    d = run_loader(["article", port, GROUP, max_ops, max_seconds, int(quickack)], max_seconds + 60)
    return d["ops"] / d["seconds"], {"ops": d["ops"], "seconds": round(d["seconds"], 3), "range": d["range"]}


def measure_ingest(port, articles, window, quickack, max_seconds):
    """Returns (articles accepted per second, info dict)."""
    c = NntpClient(port, timeout=30, quickack=quickack, nodelay=False)
    try:
        r = c.cmd("MODE STREAM")
        if not r.startswith("203"):
            raise RuntimeError("MODE STREAM -> %s" % r)
        accepted = refused = failed = 0
        t0 = time.monotonic()
        deadline = t0 + max_seconds
        i = 0
        while i < len(articles) and time.monotonic() < deadline:
            win = articles[i:i + window]
            i += len(win)
            c.send("".join("CHECK %s\r\n" % mid for mid, _ in win))
            want = []
            for mid, data in win:
                r = c.readline()
                if r.startswith("238"):
                    want.append((mid, data))
                elif r[:3] in ("438", "431"):
                    refused += 1
                else:
                    raise RuntimeError("CHECK %s -> %s" % (mid, r))
            if want:
                c.send(b"".join(b"TAKETHIS " + mid.encode() + b"\r\n" + data for mid, data in want))
                for mid, _ in want:
                    r = c.readline()
                    if r.startswith("239"):
                        accepted += 1
                    elif r.startswith("439"):
                        failed += 1
                    else:
                        raise RuntimeError("TAKETHIS %s -> %s" % (mid, r))
        el = time.monotonic() - t0
    finally:
        c.quit()
    info = {"offered": i, "accepted": accepted, "refused": refused, "rejected": failed,
            "seconds": round(el, 3), "time_bounded": i < len(articles)}
    if accepted == 0:
        raise RuntimeError("no article accepted: %s" % info)
    return accepted / el, info


def measure_article(port, count, quickack, max_ops, max_seconds, expect_bytes=None):
    """ARTICLE n, one at a time; returns (ops/s, info)."""
    c = NntpClient(port, timeout=30, quickack=quickack, nodelay=False)
    try:
        r = c.cmd("MODE READER")
        if r[:3] not in ("200", "201"):
            raise RuntimeError("MODE READER -> %s" % r)
        r = c.cmd("GROUP %s" % GROUP)
        if not r.startswith("211"):
            raise RuntimeError("GROUP -> %s" % r)
        f = r.split()
        first, last = int(f[2]), int(f[3])
        if last < first:
            raise RuntimeError("group empty: %s" % r)
        n = first
        ops = 0
        t0 = time.monotonic()
        deadline = t0 + max_seconds
        while ops < max_ops and time.monotonic() < deadline:
            r = c.cmd("ARTICLE %d" % n)
            if not r.startswith("220"):
                raise RuntimeError("ARTICLE %d -> %s" % (n, r))
            c.read_multiline()
            ops += 1
            n = n + 1 if n < last else first
        el = time.monotonic() - t0
    finally:
        c.quit()
    return ops / el, {"ops": ops, "seconds": round(el, 3), "range": [first, last]}


def measure_idle(port, pss_fn, n, quickack, max_seconds):
    """PSS (KiB) per idle reader connection; pss_fn() gives the server's
    PSS in KiB."""
    before = pss_fn()
    conns = []
    t0 = time.monotonic()
    try:
        for _ in range(n):
            if time.monotonic() - t0 > max_seconds:
                break
            c = NntpClient(port, timeout=30, quickack=quickack, nodelay=False)
            conns.append(c)
            r = c.cmd("MODE READER")
            if r[:3] not in ("200", "201"):
                raise RuntimeError("MODE READER -> %s" % r)
        # Let the server settle (INN: nnrpd finishes its start-up).
        time.sleep(0.5)
        after = pss_fn()
    finally:
        for c in conns:
            c.close()
    if not conns:
        raise RuntimeError("no connection opened")
    return (after - before) / len(conns), {"connections": len(conns), "pss_before_kib": before,
                                           "pss_after_kib": after}


# ---------------------------------------------------------------- servers

class InnServer:
    name = "INN"

    def __init__(self, args):
        try:
            self.inn = innlib.start_private([GROUP], prefix="hf-bench-inn-", tmp=args.tmp)
        except innlib.InnUnavailable as e:
            raise Unavailable(str(e))
        self.port = self.inn.port

    def pss(self):
        return self.inn.pss_kib()

    def stop(self):
        self.inn.stop()


class HoldfastServer:
    name = "holdfast"

    def __init__(self, args):
        self.bin = os.path.join(args.build, "holdfastd")
        self.ctlbin = os.path.join(args.build, "holdfastctl")
        if not os.access(self.bin, os.X_OK):
            raise Unavailable("%s not built (make)" % self.bin)
        self.base = tempfile.mkdtemp(prefix="hf-bench-hf-", dir=args.tmp)
        os.chmod(self.base, 0o755)
        self.port = innlib.free_port()
        self.conf = os.path.join(self.base, "holdfast.conf")
        with open(self.conf, "w") as f:
            f.write("[holdfast]\nrundir = %s\nstate_dir = %s\nlog = stderr\nlog_level = warning\n\n"
                    "[news]\nenable = yes\nlisten = 127.0.0.1:%d\nuser = nobody\n"
                    "create_groups = %s\ncommit_delay = %s\n"
                    "max_connections = 4096\nmax_connections_per_address = 4096\n"
                    % (os.path.join(self.base, "run"), os.path.join(self.base, "var"), self.port, GROUP,
                       COMMIT_DELAY))
        self.log_path = os.path.join(self.base, "holdfastd.log")
        self.log = open(self.log_path, "ab")
        self.worker_pids = []
        self.proc = subprocess.Popen([self.bin, "-f", "-c", self.conf], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        try:
            self._wait_up(15)
        except Exception as e:
            reason = "%s; log: %s" % (e, self.logtail())
            self.stop()
            raise Unavailable(reason)

    def logtail(self, n=600):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("latin-1").strip().replace("\n", " | ") or "(empty)"
        except OSError:
            return "(no log)"

    def status(self):
        r = subprocess.run([self.ctlbin, "-c", self.conf, "status", "--json"], capture_output=True,
                           text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError("holdfastctl status: %s" % (r.stderr or r.stdout).strip())
        return json.loads(r.stdout)

    def news_pid(self):
        for s in self.status()["services"]:
            if s["name"] == "news" and s.get("pid", 0) > 0:
                return s["pid"]
        return None

    def _wait_up(self, timeout):
        end = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("holdfastd exited with %s" % self.proc.returncode)
            try:
                pid = self.news_pid()
                if pid:
                    self.worker_pids = [s["pid"] for s in self.status()["services"] if s.get("pid")]
                    c = NntpClient(self.port, timeout=3)
                    g = c.greeting
                    c.quit()
                    if g[:3] in ("200", "201"):
                        return
                    last = "greeting %r" % g
                else:
                    last = "no running news worker"
            except Exception as e:
                last = str(e)
            time.sleep(0.05)
        raise RuntimeError("news service not serving on 127.0.0.1:%d after %ds (%s)" % (self.port, timeout, last))

    def pss(self):
        pid = self.news_pid()
        if not pid:
            raise RuntimeError("news worker gone")
        return sum(pss_kib(p) for p in process_tree(pid))

    def stop(self):
        if self.proc is not None:
            try:
                self.worker_pids = list(set(self.worker_pids) |
                                        {s["pid"] for s in self.status()["services"] if s.get("pid")})
            except Exception:
                pass
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            for p in self.worker_pids:
                if pid_alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.proc = None
            self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


# ---------------------------------------------------------------- driver

MEASURES = [("ingest", "articles/s", True), ("article", "ops/s", True), ("idle", "KiB/conn", False),
            ("idle_pss", "KiB total", False)]
KINDS = ["plain", "quickack"]


def run_one(server_cls, args, run, kind, results, errors):
    name = server_cls.name
    tag = "%s-r%d-%s-%d" % (name, run, kind, os.getpid())
    quick = kind == "quickack"
    try:
        srv = server_cls(args)
    except Unavailable as e:
        errors.setdefault(name, str(e))
        return False
    try:
        arts = make_articles(args.articles, args.size, tag)
        try:
            if LOADER:
                rate, info = measure_ingest_c(srv.port, arts, args.window, quick, args.max_seconds, args.tmpdir)
            else:
                rate, info = measure_ingest(srv.port, arts, args.window, quick, args.max_seconds)
            results[(name, "ingest", kind)].append(rate)
            detail = "ingest %.0f/s %s" % (rate, info)
        except Exception as e:
            errors.setdefault(name + " ingest", "%s" % e)
            return True
        try:
            if LOADER:
                rate, info2 = measure_article_c(srv.port, quick, args.reads, args.read_seconds)
            else:
                rate, info2 = measure_article(srv.port, info["accepted"], quick, args.reads, args.read_seconds)
            results[(name, "article", kind)].append(rate)
            detail += "; article %.0f/s %s" % (rate, info2)
        except Exception as e:
            errors.setdefault(name + " article", "%s" % e)
        try:
            kib, info3 = measure_idle(srv.port, srv.pss, args.idle, quick, args.max_seconds)
            results[(name, "idle", kind)].append(kib)
            results[(name, "idle_pss", kind)].append(float(info3["pss_after_kib"]))
            detail += "; idle %.0f KiB/conn %s" % (kib, info3)
        except Exception as e:
            errors.setdefault(name + " idle", "%s" % e)
        if args.verbose:
            print("  run %d %-8s %-8s %s" % (run + 1, kind, name, detail), flush=True)
    finally:
        srv.stop()
    return True


def fmt(v):
    if v >= 100:
        return "%.0f" % v
    return "%.2f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["inn", "holdfast"], help="measure one server only")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--size", type=int, default=2048, help="article size in bytes")
    ap.add_argument("--window", type=int, default=64, help="CHECK/TAKETHIS pipeline window")
    ap.add_argument("--reads", type=int, default=20000, help="max ARTICLE commands per run")
    ap.add_argument("--read-seconds", type=float, default=5.0, help="time bound of the ARTICLE loop")
    ap.add_argument("--idle", type=int, default=200, help="idle reader connections")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time bound of ingest and idle setup")
    ap.add_argument("--kinds", default="plain,quickack", help="client kinds: plain,quickack")
    ap.add_argument("--commit-delay", default="0", help="holdfast's commit_delay (0, the default config's)")
    ap.add_argument("--build", default=os.path.join(ROOT, os.environ.get("HOLDFAST_BUILD", "build/release")))
    ap.add_argument("--tmp", default=None, help="parent of the fresh per-server directories")
    ap.add_argument("--client", choices=["c", "python"], default="c",
                    help="ingest/article client: nntpload.c (default) or the Python one")
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("note: not root; INN needs root (it runs as news) and holdfast drops to user nobody",
              file=sys.stderr)
    kinds = [k for k in args.kinds.split(",") if k in KINDS]
    global COMMIT_DELAY, LOADER
    COMMIT_DELAY = args.commit_delay
    args.tmpdir = tempfile.mkdtemp(prefix="hf-bench-news-", dir=args.tmp)
    if args.client == "c":
        LOADER = build_loader(args.tmpdir)
    servers = [s for s in (HoldfastServer, InnServer)
               if args.only is None or args.only == s.name.lower()]
    results = {(s.name, m, k): [] for s in servers for m, _, _ in MEASURES for k in kinds}
    errors = {}
    avail = {s.name: True for s in servers}
    t_start = time.monotonic()
    for run in range(args.runs):
        for kind in kinds:
            for s in servers:
                if avail[s.name]:
                    avail[s.name] = run_one(s, args, run, kind, results, errors)
    shutil.rmtree(args.tmpdir, ignore_errors=True)
    print("news benchmark: %d runs, %d x %d-byte articles, window %d, ARTICLE <= %d ops / %.0fs, "
          "%d idle readers, %s client; %.0fs" % (args.runs, args.articles, args.size, args.window, args.reads,
                                                 args.read_seconds, args.idle,
                                                 "C (nntpload)" if LOADER else "Python",
                                                 time.monotonic() - t_start))
    for s in servers:
        if not avail[s.name] or s.name in errors:
            print("%s: not available (%s)" % (s.name, errors.get(s.name, "failed")))
    for key, err in sorted(errors.items()):
        if " " in key:
            print("%s failed: %s" % (key, err))
    print("%-8s %-8s %-10s %-24s %-24s %s" % ("measure", "client", "unit", "holdfast min/med/max",
                                               "INN min/med/max", "holdfast/INN (median)"))
    out = {}
    for m, unit, higher_better in MEASURES:
        for k in kinds:
            cells = []
            meds = {}
            for name in ("holdfast", "INN"):
                v = results.get((name, m, k))
                if v:
                    meds[name] = statistics.median(v)
                    cells.append("/".join(fmt(x) for x in (min(v), meds[name], max(v))))
                else:
                    cells.append("-")
                out["%s/%s/%s" % (name, m, k)] = v or []
            if "holdfast" in meds and "INN" in meds and meds["INN"]:
                ratio = "%.3g%s" % (meds["holdfast"] / meds["INN"],
                                    "" if higher_better else " (lower is better)")
            else:
                ratio = "n/a"
            print("%-8s %-8s %-10s %-24s %-24s %s" % (m, k, unit, cells[0], cells[1], ratio))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": out, "errors": errors}, f, indent=1)
    return 0 if any(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
