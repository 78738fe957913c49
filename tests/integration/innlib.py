"""innlib: a private INN (Debian's inn2) instance for interop tests and
benchmarks.

Each `Inn` has its own tree under a temporary directory: inn.conf (found
by every INN program through the INNCONF environment variable), the other
configuration files, spool, overview, history, logs and run directory.  It
listens on a free port on 127.0.0.1 only, runs as user news (the caller
must be root; innd is started with -f so its PID is ours), and is stopped
by PID at stop(): innd first, then any nnrpd or innfeed it left behind.

Usage:
    from innlib import Inn, InnUnavailable, setup_inn
    setup_inn()                      # runs scripts/inn-setup.sh; raises InnUnavailable
    inn = Inn(groups=["local.test"]) # or Inn(feed=("127.0.0.1", port))
    inn.start()
    c = inn.nntp(reader=True)        # raw client; MODE READER already sent
    ...
    inn.stop()                       # also removes the tree unless keep=True

Facts about INN that matter here:
  * 127.0.0.1 is a feed peer (incoming.conf), so a connection lands in
    innd's transit mode; readers must send MODE READER first, upon which
    innd hands the socket to a freshly forked nnrpd (one per reader).
  * nnrpd posts through innd's Unix socket in pathrun.
  * innd writes each response line with its own write() and leaves Nagle
    on; a client with ordinary delayed ACKs is slowed to ~25 commands/s.
    NntpClient(quickack=True) sets TCP_QUICKACK before every read.
  * Without syslog (/dev/log) INN's own notices are lost; innd's stdout and
    stderr go to log/innd.out, the per-article log is log/news.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SETUP = os.path.join(ROOT, "scripts", "inn-setup.sh")
INNBIN = "/usr/lib/news/bin"
TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)


class InnUnavailable(Exception):
    """INN cannot be installed or run here; the message says why."""


def setup_inn(timeout=600):
    """Run scripts/inn-setup.sh once per process; raise InnUnavailable with
    the reason if INN is not usable."""
    global _setup_error
    if _setup_error is None:
        if os.geteuid() != 0:
            _setup_error = "not root: a private INN runs as user news and needs root to start"
        else:
            try:
                r = subprocess.run([SETUP], capture_output=True, text=True, timeout=timeout)
                if r.returncode != 0:
                    _setup_error = "scripts/inn-setup.sh failed (%d): %s" % (
                        r.returncode, (r.stderr + r.stdout).strip()[-2000:])
                elif not os.access(os.path.join(INNBIN, "innd"), os.X_OK):
                    _setup_error = "%s/innd missing after inn-setup.sh" % INNBIN
                else:
                    _setup_error = ""
            except (OSError, subprocess.TimeoutExpired) as e:
                _setup_error = "scripts/inn-setup.sh: %s" % e
    if _setup_error:
        raise InnUnavailable(_setup_error)


_setup_error = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_children():
    """Map pid -> list of child pids (live processes only)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] == "Z":
            continue
        kids.setdefault(int(fields[1]), []).append(int(d))
    return kids


def process_tree(pid):
    """pid and all its live descendants."""
    kids = _proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kib(pid):
    """Proportional set size of one process in KiB (0 if it is gone)."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class NntpError(Exception):
    pass


class NntpClient:
    """A minimal raw NNTP client (bytes in, str status lines out)."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, quickack=False, nodelay=True):
        self.quickack = quickack
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.greeting = self.readline()

    def _recv(self):
        if self.quickack:
            self.sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
        data = self.sock.recv(262144)
        if not data:
            raise EOFError("connection closed by server; pending %r" % self.buf[:200])
        self.buf += data

    def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                return line.rstrip(b"\r").decode("latin-1")
            self._recv()

    def read_multiline(self):
        """Body of a multi-line response, dot-unstuffed, lines joined by
        CRLF, without the terminating '.'."""
        while True:
            if self.buf.startswith(b".\r\n"):
                end = 0
                break
            end = self.buf.find(b"\r\n.\r\n")
            if end >= 0:
                end += 2
                break
            self._recv()
        raw, self.buf = self.buf[:end], self.buf[end + 3:]
        lines = raw.split(b"\r\n")[:-1] if raw else []
        return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines) + (b"\r\n" if lines else b"")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.readline()

    def expect(self, line, *codes):
        r = self.cmd(line)
        if codes and r[:3] not in codes:
            raise NntpError("%s -> %s" % (line, r))
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def quit(self):
        try:
            self.cmd("QUIT")
        except (OSError, EOFError):
            pass
        self.close()


def to_wire(article):
    """bytes article (LF or CRLF line ends) -> CRLF, dot-stuffed, with the
    terminating '.' line."""
    if isinstance(article, str):
        article = article.encode("utf-8")
    lines = article.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def message_id(article):
    if isinstance(article, str):
        article = article.encode("utf-8")
    head = article.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("latin-1")
    raise ValueError("article has no Message-ID")


class Inn:
    """A private INN instance.  groups: created before start.  feed: (host,
    port) of a peer that innfeed sends every article INN accepts to (see
    flush_feed)."""

    def __init__(self, base=None, groups=(), feed=None, port=None, keep=False,
                 pathhost="inn.test", extra_conf=None):
        self.owns_base = base is None
        self.base = base or tempfile.mkdtemp(prefix="hf-inn-")
        self.keep = keep
        self.port = port or free_port()
        self.pathhost = pathhost
        self.feed = feed
        self.extra_conf = dict(extra_conf or {})
        self.proc = None
        self.pid = None
        self.groups = []
        self._pending_groups = list(groups)
        pw = pwd.getpwnam("news")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        d = self.base
        self.etc = os.path.join(d, "etc")
        self.db = os.path.join(d, "db")
        self.run = os.path.join(d, "run")
        self.log = os.path.join(d, "log")
        self.spool = os.path.join(d, "spool")
        self.articles = os.path.join(self.spool, "articles")
        self.overview = os.path.join(self.spool, "overview")
        self.incoming = os.path.join(self.spool, "incoming")
        self.outgoing = os.path.join(self.spool, "outgoing")
        self.tmp = os.path.join(self.incoming, "tmp")
        self.innconf = os.path.join(self.etc, "inn.conf")
        self.env = dict(os.environ, INNCONF=self.innconf, HOME=self.base,
                        PATH=INNBIN + ":/usr/sbin:/usr/bin:/sbin:/bin")
        self._made = False
        self._extra_pids = set()

    # ---- setup -------------------------------------------------------

    def _write(self, path, text, mode=0o644):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def _make_tree(self):
        os.chmod(self.base, 0o755)
        for p in (self.etc, self.db, self.run, self.log, self.spool, self.articles, self.overview,
                  self.incoming, self.outgoing, self.tmp, os.path.join(self.spool, "archive"),
                  os.path.join(self.spool, "innfeed"), os.path.join(self.etc, "filter"),
                  os.path.join(self.base, "http")):
            os.makedirs(p, exist_ok=True)
        conf = {
            "domain": "localdomain",
            "fromhost": self.pathhost,
            "pathhost": self.pathhost,
            "server": "127.0.0.1",
            "port": str(self.port),
            "bindaddress": "127.0.0.1",
            "runasuser": "news",
            "runasgroup": "news",
            "organization": '"holdfast test"',
            "mta": '"/bin/true %s"',
            "ovmethod": "tradindexed",
            "hismethod": "hisv6",
            "enableoverview": "true",
            "useoverchan": "false",
            "wireformat": "true",
            "artcutoff": "0",
            "maxartsize": "1000000",
            "localmaxartsize": "1000000",
            "maxconnections": "0",
            "readerswhenstopped": "false",
            "noreader": "false",
            "nnrpdloadlimit": "0",
            "clienttimeout": "1800",
            "peertimeout": "3600",
            "status": "0",
            "timer": "0",
            "logstatus": "false",
            "logipaddr": "true",
            "logartsize": "true",
            "nnrpdcheckart": "true",
            "addinjectionpostinghost": "false",
            "pathnews": "/usr/lib/news",
            "pathbin": INNBIN,
            "pathcontrol": INNBIN + "/control",
            "pathfilter": os.path.join(self.etc, "filter"),
            "pathetc": self.etc,
            "pathdb": self.db,
            "pathrun": self.run,
            "pathlog": self.log,
            "pathhttp": os.path.join(self.base, "http"),
            "pathspool": self.spool,
            "patharticles": self.articles,
            "pathoverview": self.overview,
            "pathincoming": self.incoming,
            "pathoutgoing": self.outgoing,
            "patharchive": os.path.join(self.spool, "archive"),
            "pathtmp": self.tmp,
        }
        conf.update(self.extra_conf)
        self._write(self.innconf, "".join("%s: %s\n" % kv for kv in conf.items()))
        self._write(os.path.join(self.etc, "storage.conf"),
                    "method tradspool {\n    newsgroups: *\n    class: 0\n}\n")
        self._write(os.path.join(self.etc, "expire.ctl"), "/remember/:11\n*:A:1:10:never\n")
        self._write(os.path.join(self.etc, "incoming.conf"),
                    "streaming: true\nmax-connections: 0\n"
                    'peer local {\n    hostname: "127.0.0.1, localhost"\n    patterns: "*"\n}\n')
        self._write(os.path.join(self.etc, "readers.conf"),
                    'auth "local" {\n    hosts: "127.0.0.1, localhost"\n    default: "<local>"\n}\n'
                    'access "local" {\n    users: "<local>"\n    newsgroups: "*"\n    access: RPA\n}\n')
        for name in ("distrib.pats", "moderators", "passwd.nntp", "control.ctl", "control.ctl.local",
                     "localgroups", "subscriptions", "innwatch.ctl", "nnrpd.track", "distributions"):
            self._write(os.path.join(self.etc, name), "")
        self._write(os.path.join(self.etc, "passwd.nntp"), "", 0o640)
        self._write_newsfeeds()
        active = ["control 0000000000 0000000001 n", "control.cancel 0000000000 0000000001 n",
                  "junk 0000000000 0000000001 n"]
        newsgroups = ["control\tVarious control messages (no posting).",
                      "control.cancel\tCancel messages (no posting).",
                      "junk\tUnfiled articles (no posting)."]
        for g in self._pending_groups:
            active.append("%s 0000000000 0000000001 y" % g)
            newsgroups.append("%s\tholdfast test group." % g)
            self.groups.append(g)
        self._pending_groups = []
        self._write(os.path.join(self.db, "active"), "\n".join(active) + "\n")
        self._write(os.path.join(self.db, "newsgroups"), "\n".join(newsgroups) + "\n")
        self._write(os.path.join(self.db, "active.times"), "")
        self._write(os.path.join(self.db, "history"), "", 0o664)
        subprocess.run(["chown", "-R", "news:news", self.base], check=True)
        # An empty history plus its dbz index (what Debian's postinst does,
        # minus scanning an empty spool with makehistory).
        self._tool(["makedbz", "-i", "-o", "-s", "300000"], timeout=30)
        self._made = True

    def _write_newsfeeds(self):
        text = "ME:*,!junk,!control*::\n"
        if self.feed:
            host, port = self.feed
            text += "innfeed!:!*:Tc,Wnm*:%s/innfeed -c %s\n" % (INNBIN, os.path.join(self.etc, "innfeed.conf"))
            text += "hfpeer:*,!junk,!control*:Tm:innfeed!\n"
            self._write(os.path.join(self.etc, "innfeed.conf"),
                        "backlog-directory: %s\n"
                        "pid-file: %s\n"
                        "log-file: %s\n"
                        "status-file: %s\n"
                        "stats-period: 1\nstats-reset: 43200\n"
                        "initial-connections: 1\nmax-connections: 1\n"
                        "article-timeout: 600\nresponse-timeout: 300\n"
                        "dynamic-method: 0\nbacklog-limit: 0\n"
                        "no-check-high: 95.0\nno-check-low: 90.0\n"
                        "peer hfpeer {\n    ip-name: %s\n    port-number: %d\n    streaming: true\n}\n"
                        % (os.path.join(self.spool, "innfeed"), os.path.join(self.run, "innfeed.pid"),
                           os.path.join(self.log, "innfeed.log"), os.path.join(self.log, "innfeed.status"),
                           host, port))
        self._write(os.path.join(self.etc, "newsfeeds"), text)

    def _demote(self):
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)

    def _tool(self, argv, timeout=30, check=True, input=None):
        """Run an INN program as news with this instance's INNCONF."""
        prog = argv[0] if argv[0].startswith("/") else os.path.join(INNBIN, argv[0])
        r = subprocess.run([prog] + list(argv[1:]), env=self.env, cwd=self.base, capture_output=True,
                           timeout=timeout, input=input, preexec_fn=self._demote)
        if check and r.returncode != 0:
            raise RuntimeError("%s exited %d: %s%s" % (" ".join(argv), r.returncode,
                                                      r.stdout.decode("latin-1"), r.stderr.decode("latin-1")))
        return r

    # ---- lifecycle ---------------------------------------------------

    def start(self, timeout=15):
        if not self._made:
            self._make_tree()
        self._out = open(os.path.join(self.log, "innd.out"), "ab")
        self.proc = subprocess.Popen([os.path.join(INNBIN, "innd"), "-f", "-N"], env=self.env, cwd=self.base,
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._out,
                                     preexec_fn=self._demote)
        self.pid = self.proc.pid
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("innd exited with %s during start: %s" % (self.proc.returncode, self.diagnostics()))
            try:
                c = NntpClient(self.port, timeout=2)
                g = c.greeting
                c.quit()
                if g.startswith("20"):
                    # The control socket is ready once ctlinnd answers.
                    if self.ctlinnd("mode", check=False, timeout=5).returncode == 0:
                        return self
                last = g
            except (OSError, EOFError) as e:
                last = e
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("innd not serving on 127.0.0.1:%d after %ss (%s): %s" % (
            self.port, timeout, last, self.diagnostics()))

    def diagnostics(self):
        out = []
        for name in ("innd.out", "errlog", "news.err", "news.crit", "news.notice", "innfeed.log"):
            p = os.path.join(self.log, name)
            try:
                with open(p, "rb") as f:
                    t = f.read()[-3000:].decode("latin-1").strip()
                if t:
                    out.append("[%s] %s" % (name, t))
            except OSError:
                pass
        return "\n".join(out) or "(no INN logs)"

    def tree_pids(self):
        """innd and every process under it (nnrpd per reader, innfeed)."""
        if not self.pid or not pid_alive(self.pid):
            return []
        return process_tree(self.pid)

    def pss_kib(self):
        return sum(pss_kib(p) for p in self.tree_pids())

    def stop(self, timeout=10):
        if self.proc is not None:
            pids = set(self.tree_pids()) | self._extra_pids
            if self.proc.poll() is None:
                self.ctlinnd("shutdown", "test done", check=False, timeout=5)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.send_signal(signal.SIGTERM)
                    try:
                        self.proc.wait(3)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        self.proc.wait()
            # nnrpd and innfeed outlive innd (they are reparented to init).
            pids.discard(self.pid)
            for p in pids:
                if pid_alive(p):
                    try:
                        os.kill(p, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            end = time.monotonic() + 3
            while time.monotonic() < end and any(pid_alive(p) for p in pids):
                time.sleep(0.02)
            for p in pids:
                if pid_alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self._out.close()
            self.proc = None
        if self.owns_base and not self.keep and os.path.isdir(self.base):
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- control -----------------------------------------------------

    def ctlinnd(self, *args, check=True, timeout=30):
        return self._tool(["ctlinnd", "-t", str(int(timeout))] + list(args), timeout=timeout + 5, check=check)

    def add_group(self, name, flag="y"):
        """Create a newsgroup (before start: written to active; running:
        ctlinnd newgroup)."""
        if self.proc is None:
            if not self._made:
                self._pending_groups.append(name)
                return
            with open(os.path.join(self.db, "active"), "a") as f:
                f.write("%s 0000000000 0000000001 %s\n" % (name, flag))
        else:
            self.ctlinnd("newgroup", name, flag, "holdfast-test")
        self.groups.append(name)

    def nntp(self, reader=False, quickack=False, timeout=10.0):
        """Raw client to this INN.  reader=True sends MODE READER (127.0.0.1
        is a peer, so without it the connection stays in innd's transit
        mode)."""
        c = NntpClient(self.port, timeout=timeout, quickack=quickack)
        if reader:
            c.expect("MODE READER", "200", "201")
        return c

    def has_article(self, msgid):
        """True if innd has the article (asked with CHECK on a peer
        connection, so no history-sync lag as with grephistory)."""
        c = NntpClient(self.port, timeout=10)
        try:
            c.expect("MODE STREAM", "203")
            return c.cmd("CHECK %s" % msgid).startswith("438")
        finally:
            c.quit()

    def token(self, msgid):
        r = self._tool(["grephistory", "-e", msgid], check=False)
        t = r.stdout.decode("latin-1").strip()
        return t if r.returncode == 0 and t.startswith("@") else None

    def inject(self, articles, timeout=60):
        """Give articles (bytes) to INN as a peer would (IHAVE). Returns the
        list of response codes."""
        codes = []
        c = NntpClient(self.port, timeout=timeout)
        try:
            for a in articles:
                r = c.cmd("IHAVE %s" % message_id(a))
                if r.startswith("335"):
                    c.send(to_wire(a))
                    r = c.readline()
                codes.append(r[:3])
        finally:
            c.quit()
        return codes

    def feed_to(self, host, port, articles, timeout=120, check_first=True, extra_args=()):
        """Send articles to the NNTP peer host:port with innxmit.  Each item
        is either raw article bytes (written to a file innxmit reads) or a
        message-ID (str) of an article in this INN's spool (sent from its
        storage token).  Returns (returncode, output, stats) where stats is
        a dict of innxmit's counters (offered, accepted, refused, rejected,
        ...) parsed from its -v report."""
        batch_dir = os.path.join(self.outgoing, "feed-%d" % int(time.monotonic() * 1000))
        os.makedirs(batch_dir)
        os.chown(batch_dir, self.uid, self.gid)
        lines = []
        for i, a in enumerate(articles):
            if isinstance(a, str):
                tok = self.token(a)
                if tok is None:
                    raise KeyError("%s is not in INN's spool" % a)
                lines.append("%s %s\n" % (tok, a))
            else:
                p = os.path.join(batch_dir, "%06d" % i)
                with open(p, "wb") as f:
                    f.write(a.replace(b"\r\n", b"\n"))
                os.chown(p, self.uid, self.gid)
                lines.append("%s %s\n" % (p, message_id(a)))
        batch = os.path.join(batch_dir, "batch")
        with open(batch, "w") as f:
            f.writelines(lines)
        os.chown(batch, self.uid, self.gid)
        argv = ["innxmit", "-v", "-l", "-t", "10", "-T", str(int(timeout))]
        if not check_first:
            argv.append("-c")
        argv += list(extra_args) + ["-P", str(port), host, batch]
        r = self._tool(argv, timeout=timeout + 15, check=False)
        out = (r.stdout + r.stderr).decode("latin-1")
        return r.returncode, out, parse_innxmit_stats(out)

    def flush_feed(self, wait_for=None, timeout=30, step=0.05):
        """Flush innd's buffered feed to innfeed (ctlinnd flush innfeed!),
        then, if wait_for (a callable) is given, poll it until it returns
        true or timeout passes.  Returns wait_for's last value (or True)."""
        if not self.feed:
            raise RuntimeError("this Inn was made without feed=(host, port)")
        self.ctlinnd("flush", "innfeed!", check=False)
        if wait_for is None:
            return True
        end = time.monotonic() + timeout
        v = None
        while time.monotonic() < end:
            v = wait_for()
            if v:
                return v
            time.sleep(step)
        return v


def parse_innxmit_stats(text):
    """innxmit -v prints e.g. 'peer stats offered 3 accepted 3 refused 0
    rejected 0 ...'; return the numeric counters found."""
    stats = {}
    for line in text.splitlines():
        words = line.replace(":", " ").split()
        for k, v in zip(words, words[1:]):
            if k in ("offered", "accepted", "refused", "rejected", "missing", "accsize", "rejsize") \
                    and v.isdigit():
                stats[k] = int(v)
    return stats


def start_private(groups, prefix="hf-inn-", tmp=None):
    """A started private Inn in a fresh temporary directory it owns (removed
    by stop()), for benchmarks.  Raises InnUnavailable with the reason when
    inn2 cannot be installed or innd does not start."""
    setup_inn()
    inn = Inn(base=tempfile.mkdtemp(prefix=prefix, dir=tmp), groups=list(groups))
    inn.owns_base = True
    try:
        inn.start()
    except Exception as e:
        inn.stop()
        raise InnUnavailable("INN did not start: %s" % e)
    return inn
