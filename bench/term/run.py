#!/usr/bin/python3
"""bench/term/run.py: holdfast's term service against Debian's xrdp, in one
run, with the same client (Debian's xfreerdp under a private Xvfb).

    bench/term/run.py                  # 5 first-frame runs, 4 sessions for memory
    bench/term/run.py --client rdesktop   # first frames with rdesktop (xfreerdp
                                          # pauses 100 ms in its own polls)
    bench/term/run.py --runs 10 --sessions 8 --json /tmp/term.json
    bench/term/run.py --only holdfast  # or --only xrdp
    bench/term/run.py --holdfast-set connect_pipeline=no   # the strict sequence
    HOLDFAST_BUILD=build/asan bench/term/run.py   # another build of holdfastd

Run as root: test users are created (random names and passwords, removed
after), PAM is asked, xrdp's sesman starts Xorg as the user.  Each server
runs from a private configuration in a temporary directory, on 127.0.0.1
only, and every process started is stopped by PID.  See README.md."""
import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import rdplib  # noqa: E402
from conftest import free_port  # noqa: E402

# The prompt both servers' shells print: a run of bright green cells that
# a pixel scan finds in the client's window without OCR.
PS1 = r"\[\e[42m\]READY>\[\e[0m\] "
SESMAN_PORT = 3350      # xrdp asks the sesman named in /etc/xrdp/sesman.ini


class Unavailable(Exception):
    pass


# ---- PSS ----

def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def all_procs():
    """pid -> (ppid, uid) for every live process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            st = os.stat("/proc/" + d)
            out[int(d)] = (int(fields[1]), st.st_uid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return out


def tree(roots, procs=None):
    procs = procs or all_procs()
    kids = {}
    for p, (pp, _) in procs.items():
        kids.setdefault(pp, []).append(p)
    seen, todo = set(), [r for r in roots if r in procs]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    return seen


def measured_pids(roots, uids):
    """The servers' trees plus every process of the test users (xrdp's
    sesman double-forks sessions; holdfast's broker is in its tree)."""
    procs = all_procs()
    s = tree(roots, procs)
    s |= {p for p, (_, uid) in procs.items() if uid in uids}
    s |= tree(list(s), procs)
    return s


def pss_total(pids):
    return sum(pss_kib(p) for p in pids)


# ---- pixels: XGetImage through ctypes (a capture is a few ms) ----

class XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_ubyte)), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


class Grabber:
    ZPixmap = 2
    AllPlanes = ctypes.c_ulong(0xffffffff)

    def __init__(self, display):
        self.x = ctypes.CDLL("libX11.so.6")
        self.x.XOpenDisplay.restype = ctypes.c_void_p
        self.x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x.XGetImage.restype = ctypes.POINTER(XImage)
        self.x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        self.x.XDestroyImage.argtypes = [ctypes.POINTER(XImage)]
        self.x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
        self.handler_t = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        self.handler = self.handler_t(lambda d, e: 0)   # a window that went away is not fatal
        self.x.XSetErrorHandler(ctypes.cast(self.handler, ctypes.c_void_p))
        self.dpy = self.x.XOpenDisplay(display.encode())
        if not self.dpy:
            raise RuntimeError("XOpenDisplay(%s) failed" % display)
        self.x.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.root = self.x.XDefaultRootWindow(self.dpy)

    def green_cells(self, win, w, h):
        """Pixels of the prompt's green background in the top-left w x h of
        window win (32 bpp little-endian BGRX)."""
        img = self.x.XGetImage(self.dpy, int(win), 0, 0, w, h, self.AllPlanes, self.ZPixmap)
        if not img:
            return 0
        try:
            im = img.contents
            if im.bits_per_pixel != 32:
                return 0
            n = im.bytes_per_line * im.height
            data = ctypes.string_at(im.data, n)
        finally:
            self.x.XDestroyImage(img)
        count = 0
        # Every 4th pixel of every 2nd row is plenty for cell-sized runs.
        for y in range(0, h, 2):
            row = data[y * w * 4:(y + 1) * w * 4]
            for i in range(0, len(row), 16):
                b, g, r = row[i], row[i + 1], row[i + 2]
                if g > 140 and r < 90 and b < 90:
                    count += 1
        return count


# ---- the servers ----

def prepare_user(u):
    for name in (".bash_profile", ".bashrc"):
        path = os.path.join(u.home, name)
        with open(path, "w") as f:
            f.write("PS1='%s'\nexport PS1\n" % PS1)
        os.chown(path, u.uid, -1)


HOLDFASTD = os.path.join(ROOT, os.environ.get("HOLDFAST_BUILD", "build/release"), "holdfastd")


class Holdfast:
    name = "holdfast"

    def __init__(self, tmp, settings=()):
        if not os.access(HOLDFASTD, os.X_OK):
            raise Unavailable("%s missing (make)" % HOLDFASTD)
        self.base = tempfile.mkdtemp(prefix="hf-bench-term-", dir=tmp)
        os.chmod(self.base, 0o755)
        tls = os.path.join(self.base, "tls")
        subprocess.run([os.path.join(ROOT, "scripts", "gen-cert.sh"), tls], check=True, capture_output=True)
        self.port = free_port()
        conf = os.path.join(self.base, "holdfast.conf")
        with open(conf, "w") as f:
            f.write("[holdfast]\nrundir = %s/run\nstate_dir = %s/var\nlog = stderr\nlog_level = warning\n\n"
                    "[term]\nenable = yes\nlisten = 127.0.0.1:%d\nuser = nobody\nmemory_max = 512m\n"
                    "tls_cert = %s/cert.pem\ntls_key = %s/key.pem\nsession_max = 64\n"
                    % (self.base, self.base, self.port, tls, tls))
            for kv in settings:
                f.write("%s = %s\n" % tuple(x.strip() for x in kv.split("=", 1)))
        self.log = open(os.path.join(self.base, "holdfastd.log"), "ab")
        self.proc = subprocess.Popen([HOLDFASTD, "-f", "-c", conf],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        rdplib.wait_listening(self.port)
        self.roots = [self.proc.pid]

    def worker_pids(self):
        return [p for p in tree([self.proc.pid]) if p != self.proc.pid]

    def stop(self):
        rdplib._stop_pid(self.proc, 10)
        self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def _private_ini(src, dst, changes):
    out, section = [], None
    with open(src) as f:
        for line in f:
            t = line.strip()
            if t.startswith("[") and t.endswith("]"):
                section = t[1:-1]
            key = line.split("=", 1)[0].strip()
            if (section, key) in changes:
                line = "%s=%s\n" % (key, changes[(section, key)])
            out.append(line)
    with open(dst, "w") as f:
        f.writelines(out)


def clear_stale_x_locks():
    """sesman gives each session the first display from X11DisplayOffset
    (10) whose /tmp/.X<n>-lock is absent, up to MaxSessions: locks left by
    X servers that were killed (ours, from an interrupted run) would use up
    that range.  A lock whose process is gone is stale, as X itself
    decides; only those are removed."""
    for n in range(10, 200):
        lock = "/tmp/.X%d-lock" % n
        try:
            with open(lock) as f:
                pid = int(f.read().strip() or "0")
        except (FileNotFoundError, ValueError):
            continue
        if pid > 0 and os.path.exists("/proc/%d" % pid):
            continue
        for path in (lock, "/tmp/.X11-unix/X%d" % n):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    # sesman also takes a display as used while xrdp's per-display sockets
    # exist (chansrv's, xrdp_display_N...); a session killed by signal
    # leaves them.  Only sockets nobody listens on are removed.
    sockdir = "/var/run/xrdp/sockdir"
    try:
        names = os.listdir(sockdir)
    except FileNotFoundError:
        names = []
    for name in names:
        path = os.path.join(sockdir, name)
        if not name.rsplit("_", 1)[-1].isdigit():
            continue
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                continue
            except ConnectionRefusedError:
                pass
            except OSError:
                continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class Xrdp:
    """Debian's xrdp and xrdp-sesman in the foreground from private inis;
    sessions are Xorg (xorgxrdp) + xterm (Xsession's fallback when no
    window manager is installed), killed when the client disconnects."""
    name = "xrdp"

    def __init__(self, tmp):
        p = subprocess.run([os.path.join(ROOT, "scripts", "peers-setup.sh"), "xrdp"], capture_output=True, text=True)
        if p.returncode != 0:
            raise Unavailable("scripts/peers-setup.sh xrdp: " + p.stderr.strip()[-300:])
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(fam) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((host, SESMAN_PORT))
                except OSError:
                    raise Unavailable("%s port %d (sesman) is in use" % (host, SESMAN_PORT))
        clear_stale_x_locks()
        self.base = tempfile.mkdtemp(prefix="hf-bench-xrdp-", dir=tmp)
        os.chmod(self.base, 0o755)
        self.port = free_port()
        _private_ini("/etc/xrdp/xrdp.ini", os.path.join(self.base, "xrdp.ini"), {
            ("Globals", "port"): "tcp://127.0.0.1:%d" % self.port,
            ("Logging", "LogFile"): os.path.join(self.base, "xrdp.log"),
            ("Logging", "EnableSyslog"): "false",
            ("Logging", "LogLevel"): "WARNING",
        })
        _private_ini("/etc/xrdp/sesman.ini", os.path.join(self.base, "sesman.ini"), {
            ("Sessions", "KillDisconnected"): "true",
            ("Sessions", "DisconnectedTimeLimit"): "0",
            ("Logging", "LogFile"): os.path.join(self.base, "sesman.log"),
            ("Logging", "EnableSyslog"): "false",
            ("Logging", "LogLevel"): "WARNING",
            ("ChansrvLogging", "EnableSyslog"): "false",
        })
        self.logf = open(os.path.join(self.base, "stdout.log"), "ab")
        self.sesman = subprocess.Popen(["/usr/sbin/xrdp-sesman", "--nodaemon", "-c",
                                        os.path.join(self.base, "sesman.ini")],
                                       stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL, cwd=self.base)
        self.proc = subprocess.Popen(["/usr/sbin/xrdp", "--nodaemon", "-c", os.path.join(self.base, "xrdp.ini")],
                                     stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL, cwd=self.base)
        try:
            rdplib.wait_listening(self.port, 15)
            end = time.monotonic() + 15
            while True:
                # sesman 0.9.21 binds "127.0.0.1" as [::1] here: either will do.
                try:
                    socket.create_connection(("127.0.0.1", SESMAN_PORT), timeout=0.5).close()
                    break
                except OSError:
                    pass
                try:
                    socket.create_connection(("::1", SESMAN_PORT), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > end:
                        raise Unavailable("sesman did not listen")
                    time.sleep(0.1)
        except Exception:
            self.stop()
            raise
        self.roots = [self.proc.pid, self.sesman.pid]

    def stop(self):
        kids = tree(self.roots) if getattr(self, "roots", None) else set()
        for p in (getattr(self, "proc", None), getattr(self, "sesman", None)):
            rdplib._stop_pid(p, 10)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.logf.close()
        shutil.rmtree(self.base, ignore_errors=True)


# ---- measures ----

class Capture:
    """dumpcap on lo for one server's port; parsed after stop()."""

    def __init__(self, port, tmp, name):
        self.port = port
        self.pcap = os.path.join(tmp, "%s.pcap" % name)
        self.proc = subprocess.Popen(["/usr/bin/dumpcap", "-q", "-i", "lo", "-f", "tcp port %d" % port,
                                      "-w", self.pcap], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while not os.path.exists(self.pcap) and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.5)

    def stop(self):
        time.sleep(0.3)
        rdplib._stop_pid(self.proc)
        r = subprocess.run(["/usr/bin/tshark", "-r", self.pcap, "-T", "fields", "-e", "frame.time_epoch",
                            "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len", "-e", "tcp.flags.syn",
                            "-e", "tcp.flags.ack"], capture_output=True, text=True, timeout=120)
        self.packets = []
        for line in r.stdout.splitlines():
            f = line.split("\t")
            try:
                self.packets.append((float(f[0]), int(f[1]), int(f[2]), int(f[3]), f[4] in ("1", "True"),
                                     f[5] in ("1", "True")))
            except (ValueError, IndexError):
                continue

    def connections(self):
        """[(syn_time, client_port)] in order."""
        return [(t, sp) for t, sp, dp, ln, syn, ack in self.packets if syn and not ack and dp == self.port]

    def steps(self, client_port):
        """For every client flight of one connection, the time from its
        last segment to the server's first answering segment.  Steps 1
        and 2 are X.224 and the TLS handshake; later ones are in TLS."""
        steps, cur = [], None
        for t, sp, dp, ln, syn, ack in self.packets:
            if ln == 0 or client_port not in (sp, dp):
                continue
            if sp == client_port:
                if cur is None or cur["reply_at"] is not None:
                    cur = {"client_bytes": 0, "reply_at": None, "server_bytes": 0, "first_client": t,
                           "think_ms": None}
                    if steps and steps[-1]["reply_at"] is not None:
                        # The client's time between our last answer and its next flight.
                        steps[-1]["think_ms"] = round((t - steps[-1]["last_server"]) * 1000, 3)
                    steps.append(cur)
                cur["client_bytes"] += ln
                cur["last_client"] = t
            elif cur is not None:
                if cur["reply_at"] is None:
                    cur["reply_at"] = t
                cur["server_bytes"] += ln
                cur["last_server"] = t
        return [{"step": i + 1, "client_bytes": st["client_bytes"], "server_bytes": st["server_bytes"],
                 "latency_ms": round((st["reply_at"] - st["last_client"]) * 1000, 3), "think_ms": st["think_ms"]}
                for i, st in enumerate(steps) if st["reply_at"] is not None]


# xfreerdp 2.11 sometimes sleeps in its 100 ms poll although our answer is
# already there (it hits xrdp at nearly every step): a client pause this
# long between an answer and its next flight is counted as a stall.
CLIENT_STALL_MS = 90


def client_stalls_s(steps):
    return sum(st["think_ms"] for st in steps if st.get("think_ms") and st["think_ms"] >= CLIENT_STALL_MS) / 1000.0


def prompt_seen(server, x, grab, user, args):
    """Starts a client and returns (start, seen): wall-clock times of the
    client's start and of the first capture that shows the session's
    prompt (green cells).  Without a window manager the client's window
    maps at the root's top-left corner, so the root is captured there from
    the moment the client starts (a few ms per capture): no waiting for
    the window to be found first."""
    start = time.time()
    c = rdplib.RdpClient(x, args.client, server.port, user=user.name, password=user.password,
                         width=args.width, height=args.height)
    try:
        end = time.monotonic() + args.frame_timeout
        while time.monotonic() < end:
            if grab.green_cells(grab.root, min(args.width, 400), 64) >= 20:
                return start, time.time()
            if not c.alive():
                raise AssertionError("%s: client exited: %s" % (server.name, c.logtext()[-500:]))
            time.sleep(0.002)
        raise AssertionError("%s: no prompt within %ss" % (server.name, args.frame_timeout))
    finally:
        c.stop()
        time.sleep(0.5)   # let the server end the session before the next run


def first_frames(server, x, grab, args, tmp):
    """Seconds from each run's TCP connect (the client's SYN, from a
    capture: xfreerdp's own log stamps are not reliable to the
    millisecond) to the prompt on screen; and the handshake steps of every
    run's connection."""
    cap = Capture(server.port, tmp, server.name)
    runs = []
    try:
        for i in range(args.runs):
            # A new user every run: xrdp keeps a disconnected session
            # (sesman checks KillDisconnected only now and then) and would
            # otherwise reconnect to it instead of starting one.
            user = rdplib.UnixUser()
            try:
                prepare_user(user)
                runs.append(prompt_seen(server, x, grab, user, args))
            finally:
                user.remove()
    finally:
        cap.stop()
    conns = cap.connections()
    times, steps = [], []
    for start, seen in runs:
        # This run's connection: the first SYN after the client started.
        mine = [(t, p) for t, p in conns if t >= start - 0.001]
        if not mine:
            raise AssertionError("%s: no SYN captured for a run" % server.name)
        syn, port = mine[0]
        times.append(seen - syn)
        steps.append(cap.steps(port))
    return times, steps


class HalfHeader:
    """A connection that sends 2 bytes of a TPKT header and nothing more;
    a thread notes when the server closes it."""

    def __init__(self, port):
        import threading
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"\x03\x00")
        self.t0 = time.monotonic()
        self.closed_after = None
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def _wait(self):
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.closed_after = time.monotonic() - self.t0

    def result(self, limit):
        """Seconds until the server closed, or None if still open at limit
        seconds after the connect."""
        left = limit - (time.monotonic() - self.t0)
        if left > 0:
            self.thread.join(left)
        done = self.closed_after
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        return done


def median_steps(all_steps):
    """Per step index, the median latency over runs (same flight count)."""
    if not all_steps:
        return []
    n = min(len(s) for s in all_steps)
    out = []
    for i in range(n):
        lat = [s[i]["latency_ms"] for s in all_steps]
        out.append({"step": i + 1, "client_bytes": all_steps[0][i]["client_bytes"],
                    "server_bytes": all_steps[0][i]["server_bytes"], "latency_ms": round(statistics.median(lat), 3),
                    "client_stalls": sum(1 for s in all_steps if (s[i].get("think_ms") or 0) >= CLIENT_STALL_MS)})
    return out


def memory_per_session(server, x, users, args):
    """(PSS after N logged-in sessions - PSS before) / N, in KiB, over the
    server's process tree and every process of the test users."""
    uids = {u.uid for u in users}
    before = pss_total(measured_pids(server.roots, uids))
    clients = []
    grab = Grabber(x.display)
    try:
        for u in users:
            c = rdplib.RdpClient(x, "xfreerdp", server.port, user=u.name, password=u.password,
                                 width=args.width, height=args.height)
            clients.append(c)
            win = c.window(timeout=30)
            end = time.monotonic() + args.frame_timeout
            while grab.green_cells(win, min(args.width, 400), 64) < 20:
                if time.monotonic() > end:
                    raise AssertionError("%s: session of %s never showed its prompt" % (server.name, u.name))
                time.sleep(0.05)
        time.sleep(1.0)
        pids = measured_pids(server.roots, uids)
        after = pss_total(pids)
        return (after - before) / len(users), len(pids)
    finally:
        for c in clients:
            c.stop()
        time.sleep(1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="first-frame runs per server (default 5)")
    ap.add_argument("--sessions", type=int, default=4, help="concurrent sessions for memory (default 4)")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--frame-timeout", type=float, default=30.0)
    ap.add_argument("--only", choices=["holdfast", "xrdp"])
    ap.add_argument("--client", choices=["xfreerdp", "rdesktop"], default="xfreerdp",
                    help="the client for the first-frame runs (memory always uses xfreerdp)")
    ap.add_argument("--steps", type=int, default=12, help="handshake steps to print (default 12)")
    ap.add_argument("--half-header-wait", type=int, default=45,
                    help="how long to watch a connection that sent half a TPKT header (default 45 s)")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--json")
    ap.add_argument("--holdfast-set", action="append", default=[], metavar="KEY=VALUE",
                    help="one more [term] setting for holdfast, e.g. connect_pipeline=no (repeatable)")
    args = ap.parse_args()
    for kv in args.holdfast_set:
        if "=" not in kv:
            sys.exit("--holdfast-set %s: KEY=VALUE" % kv)
    if os.geteuid() != 0:
        sys.exit("bench/term/run.py: run as root (test users, PAM, xrdp sessions)")
    miss = rdplib.missing_tools(rdplib.XVFB, rdplib.XFREERDP, rdplib.XDOTOOL, "/usr/bin/tshark", "/usr/bin/dumpcap")
    if miss:
        sys.exit("bench/term/run.py: missing %s (scripts/deps.sh check)" % ", ".join(miss))
    tmp = tempfile.mkdtemp(prefix="hf-bench-term-", dir=args.tmp)
    rdplib.install_pam()
    users = []
    x = None
    results = {}
    try:
        for _ in range(max(args.sessions, 1)):
            u = rdplib.UnixUser()
            prepare_user(u)
            users.append(u)
        x = rdplib.Xvfb(width=max(1280, args.width), height=max(1024, args.height))
        grab = Grabber(x.display)
        kinds = [k for k in (Holdfast, Xrdp) if args.only in (None, k.name)]
        for kind in kinds:
            res = results.setdefault(kind.name, {})
            try:
                server = kind(tmp, args.holdfast_set) if kind is Holdfast else kind(tmp)
            except Unavailable as e:
                res["unavailable"] = str(e)
                print("%s: not available (%s)" % (kind.name, e), flush=True)
                continue
            half = HalfHeader(server.port)
            try:
                times, steps = first_frames(server, x, grab, args, tmp)
                stalls = [client_stalls_s(st) for st in steps]
                print("%s: TCP connect to prompt on screen: %s s" % (kind.name, " ".join("%.3f" % t for t in times)),
                      flush=True)
                print("%s: client pauses >= %d ms after an answer, per run: %s s"
                      % (kind.name, CLIENT_STALL_MS, " ".join("%.1f" % t for t in stalls)), flush=True)
                res["first_frame_s"] = times
                res["first_frame_median_s"] = statistics.median(times)
                res["first_frame_min_s"] = min(times)
                res["client_stalls_s"] = stalls
                res["handshake"] = median_steps(steps)
                kib, nproc = memory_per_session(server, x, users, args)
                res["pss_per_session_kib"] = kib
                res["measured_processes"] = nproc
                print("%s: %.0f KiB PSS per session (%d sessions, %d processes measured)"
                      % (kind.name, kib, args.sessions, nproc), flush=True)
                held = half.result(args.half_header_wait)
                res["half_header_closed_after_s"] = held
                res["half_header_wait_s"] = args.half_header_wait
                print("%s: a half-sent TPKT header: %s" % (kind.name, "closed after %.1f s" % held if held is not None
                                                            else "still open after %d s" % args.half_header_wait),
                      flush=True)
            except Exception as e:   # report and go on with the other server
                res["error"] = str(e)
                print("%s: error: %s" % (kind.name, e), flush=True)
            finally:
                server.stop()
    finally:
        if x:
            x.stop()
        for u in users:
            u.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


def report(results, args):
    print()
    print("%-10s %22s %18s %22s" % ("", "first frame (median)", "PSS per session", "half TPKT header"))
    for name, r in results.items():
        if "first_frame_median_s" in r:
            ff = "%.3f s" % r["first_frame_median_s"]
        else:
            ff = r.get("unavailable") or r.get("error", "-")
        mem = "%.1f MiB" % (r["pss_per_session_kib"] / 1024) if "pss_per_session_kib" in r else "-"
        if "half_header_wait_s" in r:
            held = r["half_header_closed_after_s"]
            hh = "closed after %.1f s" % held if held is not None else "open > %d s" % r["half_header_wait_s"]
        else:
            hh = "-"
        print("%-10s %22s %18s %22s" % (name, ff[:22], mem, hh))
    h, x = results.get("holdfast", {}), results.get("xrdp", {})
    for name, r in results.items():
        if "first_frame_min_s" in r:
            print("%-10s first frame: best %.3f s; runs with client pauses >= %d ms: %d of %d"
                  % (name, r["first_frame_min_s"], CLIENT_STALL_MS, sum(1 for st in r["client_stalls_s"] if st > 0),
                     len(r["client_stalls_s"])))
    if "first_frame_median_s" in h and "first_frame_median_s" in x:
        print("first frame (%s): xrdp / holdfast = %.1fx median, %.1fx best (goal >= 3x)"
              % (args.client, x["first_frame_median_s"] / h["first_frame_median_s"],
                 x["first_frame_min_s"] / h["first_frame_min_s"]))
    if "pss_per_session_kib" in h and "pss_per_session_kib" in x and h["pss_per_session_kib"] > 0:
        print("memory per session: holdfast / xrdp = %.3f (goal <= 0.1)"
              % (h["pss_per_session_kib"] / x["pss_per_session_kib"]))
    for name, r in results.items():
        if r.get("handshake"):
            print()
            print("%s: server reply latency per client flight, median of %d runs (capture on lo)"
                  % (name, len(r.get("first_frame_s", []))))
            print("  step  client B  server B  latency ms  client stalled after it (runs)")
            for s in r["handshake"][:args.steps]:
                print("  %4d  %8d  %8d  %10.2f  %d" % (s["step"], s["client_bytes"], s["server_bytes"], s["latency_ms"],
                                                     s.get("client_stalls", 0)))
            total = sum(s["latency_ms"] for s in r["handshake"][:args.steps])
            print("  sum of the first %d: %.1f ms" % (min(args.steps, len(r["handshake"])), total))


if __name__ == "__main__":
    main()
