#!/usr/bin/env python3
"""bench/soak/run.py: holdfast-soak's bulletin scenarios against holdfast and
against the reference servers, in one run, verdicts and slopes side by side.

    bench/soak/run.py                          # ms01-043: holdfast news vs INN
    bench/soak/run.py --count 50000 --valid    # also the --valid control runs
    bench/soak/run.py --only inn --json /tmp/soak.json
    bench/soak/run.py --scenario ms01-040 --count 100000 --ref-count 4000      # RDP: term vs xrdp
    bench/soak/run.py --scenario ms01-009 --count 200000 --ref-count 30000     # PPTP: tunnel vs pptpd
    bench/soak/run.py --scenario ms01-009 --raw --raw-rate 2000 ...            # + GRE at established calls

Run as root (INN runs as user news, holdfast's worker as nobody).  Each
server is started fresh in a temporary directory, listening on 127.0.0.1
only, and stopped by PID afterwards.  A server that cannot be set up is
reported as "not available (reason)" and the others are still measured.

Servers: holdfast (build/release/holdfastd with a [news] section; measured
as the whole holdfastd tree, supervisor and worker) and INN (Debian's inn2
through tests/integration/innlib.py; the whole innd tree, nnrpd children
included).  ms01-040 runs holdfast's term ([term] with a fresh self-signed
certificate; --holdfastd PATH selects a holdfastd built elsewhere while
src/rdp is not in this tree) against Debian's xrdp, --phase both unless
told.  ms01-009 runs holdfast's tunnel ([tunnel], a users file, a TUN
device hfsoakN) against Debian's pptpd, each in a network namespace of its
own (hfsoak-tunnel-XXXXXX, hfsoak-pptpd-XXXXXX: loopback only, removed
afterwards with whatever device is in it); holdfast-soak runs inside the
namespace (`ip netns exec`).  xrdp and pptpd are installed by
scripts/peers-setup.sh; private configs; the whole tree is measured (both
fork a child per connection).  --ref-count gives the reference servers a
count of their own (their accept backlogs of 2-3 make them slow).
--phase (ms01-040), --raw / --raw-only / --raw-rate / --gre-calls pass on
to holdfast-soak.  Every run is bounded by --count and --duration; SIGTERM
and ^C stop the servers and remove the namespaces."""
import argparse
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import innlib  # noqa: E402

GROUP = "local.test"


class Unavailable(Exception):
    pass


class NotYetError(Unavailable):
    pass


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


class Netns:
    """A network namespace of this run's own (hfsoak-TAG-RANDOM) with only
    its loopback up: the PPTP servers listen on its 127.0.0.1, their TUN
    device and GRE stay in it, holdfast-soak runs in it (`ip netns exec`),
    and remove() deletes it (with any device left in it).  Nothing in the
    host's namespace changes; pptpd's fixed port 1723 is free in it."""

    def __init__(self, tag):
        self.name = "hfsoak-%s-%s" % (tag, secrets.token_hex(3))
        r = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise Unavailable("ip netns add %s: %s" % (self.name, r.stderr.strip()))
        r = subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], capture_output=True, text=True,
                           timeout=20)
        if r.returncode != 0:
            self.remove()
            raise Unavailable("ip -n %s link set lo up: %s" % (self.name, r.stderr.strip()))

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    @contextlib.contextmanager
    def inside(self):
        """Runs the block with this thread in the namespace (sockets made
        there keep working after the switch back)."""
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open("/run/netns/" + self.name, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def links(self):
        r = subprocess.run(["ip", "-n", self.name, "-o", "link", "show"], capture_output=True, text=True, timeout=20)
        return [line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines() if ":" in line]

    def pids(self):
        r = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True, timeout=20)
        return [int(x) for x in r.stdout.split() if x.isdigit()]

    def remove(self):
        """Called after the server was stopped by PID: anything still in
        the namespace (a child forked after the tree was read) was started
        there by this run; SIGKILL it by PID, then delete the namespace."""
        if self.name is None:
            return
        for _ in range(3):
            left = [p for p in self.pids() if innlib.pid_alive(p)]
            if not left:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20)
        self.name = None


def _inside(netns):
    return netns.inside() if netns is not None else contextlib.nullcontext()


class InnServer:
    name = "INN"

    def __init__(self, args):
        try:
            self.inn = innlib.start_private([GROUP], prefix="hf-soak-inn-", tmp=args.tmp)
        except innlib.InnUnavailable as e:
            raise Unavailable(str(e))
        self.port = self.inn.port
        self.pid = self.inn.pid

    def stop(self):
        self.inn.stop()


class HoldfastServer:
    name = "holdfast"

    def __init__(self, args):
        self.bin = args.holdfastd or os.path.join(args.build, "holdfastd")
        self.ctl = os.path.join(args.build, "holdfastctl")
        self.proc = None
        if not os.access(self.bin, os.X_OK):
            raise Unavailable("%s not built (make)" % self.bin)
        self.base = tempfile.mkdtemp(prefix="hf-soak-hf-", dir=args.tmp)
        os.chmod(self.base, 0o755)
        self.port = innlib.free_port()
        self.conf = os.path.join(self.base, "holdfast.conf")
        with open(self.conf, "w") as f:
            f.write("[holdfast]\nrundir = %s\nstate_dir = %s\nlog = stderr\nlog_level = warning\n\n"
                    "[news]\nenable = yes\nlisten = 127.0.0.1:%d\nuser = nobody\ncreate_groups = %s\n"
                    "max_connections = 4096\nmax_connections_per_address = 4096\n"
                    % (os.path.join(self.base, "run"), os.path.join(self.base, "var"), self.port, GROUP))
        self.log_path = os.path.join(self.base, "holdfastd.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.bin, "-f", "-c", self.conf], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        try:
            self._wait_up(15)
        except BaseException as e:
            reason = "%s; log: %s" % (e, self._logtail())
            self.stop()
            if not isinstance(e, Exception):
                raise
            raise Unavailable(reason)

    def _logtail(self, n=400):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("latin-1").strip().replace("\n", " | ") or "(empty)"
        except OSError:
            return "(no log)"

    def _wait_up(self, timeout):
        end = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("holdfastd exited with %s" % self.proc.returncode)
            try:
                c = innlib.NntpClient(self.port, timeout=3)
                g = c.greeting
                c.quit()
                if g[:3] in ("200", "201"):
                    return
                last = "greeting %r" % g
            except Exception as e:
                last = str(e)
            time.sleep(0.1)
        raise RuntimeError("news service not serving on 127.0.0.1:%d after %ds (%s)" % (self.port, timeout, last))

    def stop(self):
        try:
            if self.proc is not None:
                _stop_tree(self.proc)
                self.proc = None
                self.log.close()
            shutil.rmtree(self.base, ignore_errors=True)
        finally:
            if getattr(self, "netns", None) is not None:
                self.netns.remove()


def _wait_port(port, proc, timeout, what, netns=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with _inside(netns):
                s = socket.socket()
            with s:
                s.settimeout(1)
                s.connect(("127.0.0.1", port))
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s not listening on 127.0.0.1:%d after %ds" % (what, port, timeout))


def _port_in_use(port, netns=None):
    with _inside(netns):
        s = socket.socket()
    with s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _stop_tree(proc):
    """SIGTERM to a process we started, SIGKILL to what is left of its
    tree after 10 s; by PID only."""
    kids = innlib.process_tree(proc.pid) if proc.poll() is None else []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for p in kids:
        if p != proc.pid and innlib.pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


class ForegroundServer:
    """A third-party daemon run in the foreground from a private config in a
    temporary directory; stop() ends its tree by PID."""
    name = "?"
    package = "?"
    netns = None

    def _setup(self):
        if os.geteuid() != 0 and not os.access(self.binary, os.X_OK):
            raise Unavailable("%s not installed (run scripts/peers-setup.sh %s as root)" % (self.binary, self.package))
        p = subprocess.run([os.path.join(ROOT, "scripts", "peers-setup.sh"), self.package], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise Unavailable("scripts/peers-setup.sh %s: %s" % (self.package, p.stderr.strip()[-300:]))

    def _start(self, args, cmd, timeout=15):
        self.log_path = os.path.join(self.base, "stdout.log")
        self.log = open(self.log_path, "ab")
        ns = getattr(self, "netns", None)
        self.proc = subprocess.Popen((ns.prefix() if ns else []) + cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, cwd=self.base)
        self.pid = self.proc.pid      # `ip netns exec` execs the command: same PID
        try:
            _wait_port(self.port, self.proc, timeout, self.name, ns)
            # The readiness connection forked a child; holdfast-soak records
            # the tree at start and calls any of it that exits a crash, so
            # start only once the tree is the main process alone.
            # The child may be forked late: the tree must stay alone for 1 s.
            end = time.monotonic() + 15
            alone_since = None
            while alone_since is None or time.monotonic() - alone_since < 1.0:
                if innlib.process_tree(self.pid) != [self.pid]:
                    alone_since = None
                elif alone_since is None:
                    alone_since = time.monotonic()
                if time.monotonic() > end:
                    raise RuntimeError("%s still has children %s after the readiness check"
                                       % (self.name, innlib.process_tree(self.pid)[1:]))
                time.sleep(0.05)
        except BaseException as e:
            self.stop()
            if not isinstance(e, Exception):
                raise
            raise Unavailable(str(e))

    def stop(self):
        try:
            if getattr(self, "proc", None) is not None:
                _stop_tree(self.proc)
                self.proc = None
                self.log.close()
            if getattr(self, "base", None) is not None:
                shutil.rmtree(self.base, ignore_errors=True)
        finally:
            if getattr(self, "netns", None) is not None:
                self.netns.remove()


class XrdpServer(ForegroundServer):
    """Debian's xrdp: `xrdp --nodaemon -c PRIVATE.ini`, the ini a copy of
    /etc/xrdp/xrdp.ini listening on tcp://127.0.0.1:PORT, logging to a file
    of its own; keys and certificate from the package's postinst."""
    name = "xrdp"
    package = "xrdp"
    binary = "/usr/sbin/xrdp"

    def __init__(self, args):
        self.proc = None
        self._setup()
        for f in ("/etc/xrdp/xrdp.ini", "/etc/xrdp/rsakeys.ini"):
            if not os.path.exists(f):
                raise Unavailable("%s missing (xrdp postinst did not run?)" % f)
        self.base = tempfile.mkdtemp(prefix="hf-soak-xrdp-", dir=args.tmp)
        self.port = innlib.free_port()
        out = []
        with open("/etc/xrdp/xrdp.ini") as f:
            for line in f:
                key = line.split("=", 1)[0].strip()
                if key == "port" and current_section(out) == "Globals":
                    line = "port=tcp://127.0.0.1:%d\n" % self.port
                elif key == "LogFile":
                    line = "LogFile=%s\n" % os.path.join(self.base, "xrdp.log")
                elif key == "EnableSyslog":
                    line = "EnableSyslog=false\n"
                out.append(line)
        self.ini = os.path.join(self.base, "xrdp.ini")
        with open(self.ini, "w") as f:
            f.writelines(out)
        self._start(args, [self.binary, "--nodaemon", "-c", self.ini])


def current_section(lines):
    for line in reversed(lines):
        t = line.strip()
        if t.startswith("[") and t.endswith("]"):
            return t[1:-1]
    return None


class PptpdServer(ForegroundServer):
    """Debian's pptpd: `pptpd --fg -c PRIVATE.conf -o PRIVATE-options -l
    127.0.0.1 -p PRIVATE.pid`, in a network namespace of its own (like
    holdfast's tunnel; --host-netns: the host's loopback).  Its port is
    fixed (1723).  localip/remoteip are dummies: no call gets as far as
    pppd (no kernel PPP here)."""
    name = "pptpd"
    package = "pptpd"
    binary = "/usr/sbin/pptpd"

    def __init__(self, args):
        self.proc = None
        self._setup()
        self.port = 1723
        if not args.host_netns:
            self.netns = Netns("pptpd")
        try:
            if _port_in_use(self.port, self.netns):
                raise Unavailable("127.0.0.1:1723 is in use (pptpd cannot choose its port)")
            self.base = tempfile.mkdtemp(prefix="hf-soak-pptpd-", dir=args.tmp)
            conf, opts = os.path.join(self.base, "pptpd.conf"), os.path.join(self.base, "options")
            with open(opts, "w") as f:
                f.write("name pptpd\nrefuse-pap\nrefuse-chap\nrefuse-mschap\nrequire-mschap-v2\n"
                        "require-mppe-128\nnodefaultroute\nlock\nnobsdcomp\n")
            with open(conf, "w") as f:
                f.write("option %s\nlocalip 192.0.2.1\nremoteip 192.0.2.10-20\nlisten 127.0.0.1\n" % opts)
        except BaseException:
            self.stop()
            raise
        self._start(args, [self.binary, "--fg", "-c", conf, "-o", opts, "-l", "127.0.0.1",
                           "-p", os.path.join(self.base, "pptpd.pid")])


class NotYet:
    name = "holdfast"

    def __init__(self, args):
        raise NotYetError("not yet (issue 5/6)")


class HoldfastServiceServer(HoldfastServer):
    """holdfastd with one of the services still being written ([term] or
    [tunnel]); used once src/rdp or src/pptp is in this tree.  Ready when
    its port accepts a connection.  The section's keys follow
    etc/holdfast.conf of those worktrees; if holdfastd refuses the config,
    the row says why (its log)."""
    section = "?"
    netns = None

    def make_netns(self, args):
        return None

    def listen_port(self):
        return innlib.free_port()

    def ready(self):
        pass

    def __init__(self, args):
        self.bin = args.holdfastd or os.path.join(args.build, "holdfastd")
        self.proc = None
        if not os.access(self.bin, os.X_OK):
            raise Unavailable("%s not built (make)" % self.bin)
        self.base = tempfile.mkdtemp(prefix="hf-soak-hf-", dir=args.tmp)
        os.chmod(self.base, 0o755)
        try:
            self.netns = self.make_netns(args)
            self.port = self.listen_port()
            self.conf = os.path.join(self.base, "holdfast.conf")
            with open(self.conf, "w") as f:
                f.write("[holdfast]\nrundir = %s\nstate_dir = %s\nlog = stderr\nlog_level = warning\n\n"
                        % (os.path.join(self.base, "run"), os.path.join(self.base, "var")))
                f.write(self.section_text())
        except BaseException:
            self.stop()
            raise
        self.log_path = os.path.join(self.base, "holdfastd.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen((self.netns.prefix() if self.netns else []) + [self.bin, "-f", "-c", self.conf],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid      # `ip netns exec` execs holdfastd: same PID
        try:
            _wait_port(self.port, self.proc, 15, "holdfastd [%s]" % self.section, self.netns)
            time.sleep(0.5)   # the readiness connection is gone from the tree
            self.ready()
        except BaseException as e:
            reason = "%s; log: %s" % (e, self._logtail())
            self.stop()
            if not isinstance(e, Exception):
                raise
            raise Unavailable(reason)


class HoldfastTermServer(HoldfastServiceServer):
    """[term] on a free port of the host's 127.0.0.1, a fresh self-signed
    RSA certificate; handshake_timeout 10 s (holdfast-soak's drain wait)."""
    section = "term"

    def section_text(self):
        cert, key = os.path.join(self.base, "cert.pem"), os.path.join(self.base, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=holdfast-soak"], check=True, capture_output=True)
        return ("[term]\nenable = yes\nlisten = 127.0.0.1:%d\nuser = nobody\ntls_cert = %s\ntls_key = %s\n"
                "handshake_timeout = 10s\nidle_timeout = 60s\nmax_connections = 4096\n"
                "max_connections_per_address = 4096\n" % (self.port, cert, key))


class HoldfastTunnelServer(HoldfastServiceServer):
    """[tunnel] in a network namespace of its own (Netns), on its
    127.0.0.1:1723, a users file, its TUN device hfsoakN and the pool
    10.99.77.0/26 inside that namespace only (--host-netns: on the host's
    loopback, port free, the device in the host namespace, removed when
    the worker exits)."""
    section = "tunnel"

    def make_netns(self, args):
        return None if args.host_netns else Netns("tunnel")

    def listen_port(self):
        return 1723 if self.netns else innlib.free_port()

    def section_text(self):
        users = os.path.join(self.base, "users")
        fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("soak soak-password\n")
        self.tun = "hfsoak%d" % (os.getpid() % 10000)
        return ("[tunnel]\nenable = yes\nlisten = 127.0.0.1:%d\nuser = nobody\nusers_file = %s\n"
                "tun_name = %s\nlocal_address = 10.99.77.1\npool_start = 10.99.77.10\n"
                "pool_end = 10.99.77.50\nmax_connections = 4096\nmax_connections_per_address = 4096\n"
                % (self.port, users, self.tun))

    def ready(self):
        if self.netns is not None and self.tun not in self.netns.links():
            raise RuntimeError("no TUN device %s in %s" % (self.tun, self.netns.name))

    def stop(self):
        super().stop()
        tun = getattr(self, "tun", None)
        if tun and os.path.exists("/sys/class/net/" + tun):
            # --host-netns only (a namespace takes its devices with it):
            # the worker removes it when it exits; if not, we do.
            subprocess.run(["ip", "link", "del", tun], capture_output=True, timeout=20)


def _term():
    if "--holdfastd" in sys.argv or os.path.isdir(os.path.join(ROOT, "src", "rdp")):
        return HoldfastTermServer
    return NotYet


def _tunnel():
    if "--holdfastd" in sys.argv or os.path.isdir(os.path.join(ROOT, "src", "pptp")):
        return HoldfastTunnelServer
    return NotYet


SCENARIOS = {
    "ms01-043": (HoldfastServer, InnServer),
    "ms03-029": (HoldfastServer, InnServer),
    "ms01-040": (_term(), XrdpServer),
    "ms01-009": (_tunnel(), PptpdServer),
}


def count_for(args, server):
    """--count for holdfast, --ref-count (if given) for the reference servers."""
    if args.ref_count and not server.name.startswith("holdfast"):
        return args.ref_count
    return args.count


def soak(args, server, valid):
    fd, js = tempfile.mkstemp(prefix="hf-soak-", suffix=".json", dir=args.tmp)
    os.close(fd)
    ns = getattr(server, "netns", None)
    cmd = (ns.prefix() if ns else []) + [
           os.path.join(args.build, "holdfast-soak"), args.scenario, "--target", "127.0.0.1:%d" % server.port,
           "--pid", str(server.pid), "--count", str(count_for(args, server)), "--duration", str(args.duration),
           "--connections", str(args.connections), "--json", js, "--no-progress"]
    if valid:
        cmd.append("--valid")
    if args.phase:
        cmd += ["--phase", args.phase]
    if args.drain_wait:
        cmd += ["--drain-wait", str(args.drain_wait)]
    if args.raw_only:
        cmd.append("--raw-only")
    elif args.raw:
        cmd.append("--raw")
    if args.raw_rate:
        cmd += ["--raw-rate", str(args.raw_rate)]
    if args.gre_calls is not None:
        cmd += ["--gre-calls", str(args.gre_calls)]
    if args.svg_dir:
        os.makedirs(args.svg_dir, exist_ok=True)
        cmd += ["--svg", os.path.join(args.svg_dir, "%s-%s%s.svg" % (args.scenario, server.name.lower(),
                                                                     "-valid" if valid else ""))]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 120)
        if args.verbose:
            sys.stdout.write(p.stdout)
        if p.returncode == 64 or not os.path.getsize(js):
            raise RuntimeError("holdfast-soak exit %d: %s" % (p.returncode, p.stderr.strip()[-300:]))
        with open(js) as f:
            return json.load(f)
    finally:
        os.unlink(js)


def fmt_slope(d, prefix=""):
    s = d.get(prefix + "slope_bytes_per_message")
    lo, hi = d.get(prefix + "ci95_low"), d.get(prefix + "ci95_high")
    if s is None:
        return "-"
    return "%+.2f [%+.2f, %+.2f]" % (s, lo, hi)


def details(d):
    """The second line of a row: what the run did besides the slopes."""
    out = []
    uss = d.get("uss_slope_bytes_per_message")
    if uss is not None:
        out.append("USS %+.2f [%+.2f, %+.2f]" % (uss, d.get("uss_ci95_low", 0), d.get("uss_ci95_high", 0)))
    if d.get("connects"):
        out.append("%s connections (%s closed by the server before our half-close)" % (
            format(d["connects"], ","), format(d.get("server_closes", 0), ",")))
    if d.get("tls_handshakes"):
        out.append("%s TLS handshakes, %d refused, %d failed (%d timeouts)" % (
            format(d["tls_handshakes"], ","), d.get("tls_refused", 0), d.get("tls_failures", 0),
            d.get("tls_timeouts", 0)))
    if d.get("raw_packets_sent"):
        out.append("%s raw packets" % format(d["raw_packets_sent"], ","))
    if d.get("gre_call_setups") is not None and d.get("raw_packets_sent"):
        out.append("%s GRE at established calls, %d calls set up, %d lost" % (
            format(d.get("gre_packets_to_calls", 0), ","), d.get("gre_call_setups", 0), d.get("gre_call_losses", 0)))
    if d.get("cpu_us_per_message") is not None:
        out.append("%.1f us CPU/msg" % d["cpu_us_per_message"])
    if d.get("raw_cpu_us_per_packet") is not None:
        out.append("%.2f us CPU/raw packet" % d["raw_cpu_us_per_packet"])
    if d.get("raw_pss_slope_bytes_per_packet") is not None:
        out.append("PSS/raw packet %+.2f [%+.2f, %+.2f]" % (d["raw_pss_slope_bytes_per_packet"],
                                                             d.get("raw_pss_ci95_low", 0), d.get("raw_pss_ci95_high", 0)))
    if d.get("raw_slab_paired_bytes_per_packet") is not None:
        out.append("host Slab paired %+.2f B/packet [%+.2f, %+.2f]" % (
            d["raw_slab_paired_bytes_per_packet"], d.get("raw_slab_paired_ci95_low", 0),
            d.get("raw_slab_paired_ci95_high", 0)))
    out.append("%d probes, p50 %.2f ms" % (d.get("probe_count", 0), d.get("probe_p50_ms", 0)))
    if d.get("drain_timeouts"):
        out.append("%d drain timeouts" % d["drain_timeouts"])
    out.append("%.0f s" % d.get("elapsed_s", 0))
    return "; ".join(out)


def _sigterm(signum, frame):
    # finally blocks stop the servers and remove the namespaces
    raise SystemExit(128 + signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="ms01-043", choices=sorted(SCENARIOS))
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--ref-count", type=int, help="--count for the reference server (INN, xrdp, pptpd); their "
                    "small accept backlogs make them slow")
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--connections", type=int, default=None,
                    help="default 4; 64 for ms01-040/ms01-009 (xrdp and pptpd listen with a backlog of 2/3: "
                         "one message per connection, so the rate is bounded by dropped SYNs)")
    ap.add_argument("--valid", action="store_true", help="also run the --valid control")
    ap.add_argument("--phase", choices=["pre", "post", "both"], help="ms01-040: malformed PDUs before TLS, after, "
                    "or both (holdfast-soak's default: both)")
    ap.add_argument("--drain-wait", type=float, help="holdfast-soak --drain-wait SECONDS")
    ap.add_argument("--raw", action="store_true", help="ms01-009/ms01-040: the raw side flood (GRE at established "
                    "calls / bad TCP checksums) beside the TCP flood; root")
    ap.add_argument("--raw-only", action="store_true", help="only the raw packets, as the messages (root)")
    ap.add_argument("--raw-rate", type=int, help="raw packets per second (holdfast-soak's default: 10000)")
    ap.add_argument("--gre-calls", type=int, help="ms01-009 --raw: calls set up for the GRE to aim at")
    ap.add_argument("--only", choices=["holdfast", "inn", "xrdp", "pptpd"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--holdfastd", help="the holdfastd to measure (default BUILD/holdfastd); for ms01-040 / "
                    "ms01-009 it also selects the term / tunnel rows before src/rdp / src/pptp are in this tree")
    ap.add_argument("--host-netns", action="store_true", help="ms01-009: run pptpd and the tunnel on the host's "
                    "loopback instead of a network namespace of their own")
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--svg-dir", help="write each run's SVG here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _sigterm)
    if args.scenario == "ms01-040" and not args.phase and not args.raw_only:
        args.phase = "both"
    if not os.access(os.path.join(args.build, "holdfast-soak"), os.X_OK):
        sys.exit("holdfast-soak not built in %s (make)" % args.build)
    if args.connections is None:
        args.connections = 64 if args.scenario in ("ms01-040", "ms01-009") else 4
    servers = [c for c in SCENARIOS[args.scenario] if args.only in (None, c.name.lower())]
    rows, results = [], {}
    for cls in servers:
        for valid in ([False, True] if args.valid else [False]):
            label = "%s%s" % (cls.name, " (valid)" if valid else "")
            try:
                srv = cls(args)
            except NotYetError as e:
                rows.append((label, str(e)))
                break
            except Unavailable as e:
                rows.append((label, "not available (%s)" % str(e)[:200]))
                break
            try:
                d = soak(args, srv, valid)
                results[label] = d
                rows.append((label, d))
            except Exception as e:
                rows.append((label, "failed (%s)" % str(e)[:200]))
            finally:
                srv.stop()
    print("%s%s%s, %d messages%s (or %d s) per run, %d connections" % (
        args.scenario, " --phase " + args.phase if args.phase else "",
        " --raw-only" if args.raw_only else " --raw" if args.raw else "", args.count,
        " (reference: %d)" % args.ref_count if args.ref_count else "", args.duration, args.connections))
    print("%-18s %-12s %-30s %-30s %9s %9s %9s %6s" % ("server", "verdict", "PSS B/msg [95% CI]",
                                                       "RSS B/msg [95% CI]", "messages", "read/s",
                                                       "p99 ms", "fails"))
    for label, d in rows:
        if isinstance(d, str):
            print(("%s: %s" if d.startswith("not yet") else "%-18s %s") % (label, d))
            continue
        print("%-18s %-12s %-30s %-30s %9d %9.0f %9.2f %6d" % (
            label, d["verdict"], fmt_slope(d), fmt_slope(d, "rss_"), d["messages_sent"],
            d.get("server_read_rate", 0), d["probe_p99_ms"], d["probe_failures"]))
        print("%-18s (%s)" % ("", details(d)))
        if d.get("crash_reason"):
            print("%-18s crash: %s" % ("", d["crash_reason"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "samples"} for k, v in results.items()}, f,
                      indent=1)


if __name__ == "__main__":
    main()
