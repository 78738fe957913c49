"""Helpers for the tunnel (PPTP) integration tests: two network namespaces
joined by a veth pair, the tunnel service in one, clients in the other.

Topology (names random per test, removed at teardown in every path):

    hfs-XXXXXX (server)                    hfc-XXXXXX (client)
      hsXXXXXX 192.168.N.1/24  <-- veth -->  hcXXXXXX 192.168.N.2/24
      hft0 10.99.0.1 (the service's TUN device; pool 10.99.0.10-50)

The test process itself stays in the host namespace; `topo.inside(ns)`
switches it into a namespace (setns(2) through ctypes) just long enough to
create sockets there, which keep working after it switches back.  Every
process started here is stopped by PID (and its descendants by PID) at
teardown.  Nothing is sent anywhere but inside these namespaces.

Also: RFC 1662 HDLC-like framing (what pptp-linux reads and writes on its
stdio, as it would with pppd on a tty), PPTP control message builders, and
the [tunnel] section for the holdfast fixture.
"""
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import struct
import subprocess
import time

from conftest import children_of, pid_alive, wait_for

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

LOCAL_ADDRESS = "10.99.0.1"
POOL_START = "10.99.0.10"
POOL_END = "10.99.0.50"
USER = "alice"
PASSWORD = "wonderland-7"


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise AssertionError("ip %s: %s" % (" ".join(args), r.stderr))
    return r


class Topology:
    def __init__(self):
        r = secrets.token_hex(3)
        self.server_ns = "hfs-" + r
        self.client_ns = "hfc-" + r
        self.veth_s = "hs" + r
        self.veth_c = "hc" + r
        octet = 100 + secrets.randbelow(150)
        self.server_ip = "192.168.%d.1" % octet
        self.client_ip = "192.168.%d.2" % octet
        self.procs = []
        self.created = []

    def up(self):
        for ns in (self.server_ns, self.client_ns):
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", self.veth_s, "type", "veth", "peer", "name", self.veth_c)
        _ip("link", "set", self.veth_s, "netns", self.server_ns)
        _ip("link", "set", self.veth_c, "netns", self.client_ns)
        _ip("-n", self.server_ns, "addr", "add", self.server_ip + "/24", "dev", self.veth_s)
        _ip("-n", self.client_ns, "addr", "add", self.client_ip + "/24", "dev", self.veth_c)
        _ip("-n", self.server_ns, "link", "set", self.veth_s, "up")
        _ip("-n", self.client_ns, "link", "set", self.veth_c, "up")
        return self

    def down(self):
        for p in reversed(self.procs):
            stop_tree(p)
        for ns in self.created:
            _ip("netns", "del", ns, check=False)
        self.created = []

    @contextlib.contextmanager
    def inside(self, ns):
        """Runs the block with this process in namespace ns."""
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open("/run/netns/" + ns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def popen(self, ns, argv, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(argv), **kw)
        self.procs.append(p)
        return p

    def run(self, ns, argv, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 30)
        return subprocess.run(["ip", "netns", "exec", ns] + list(argv), **kw)

    def connect(self, port=1723, timeout=5.0):
        """A TCP connection from the client namespace to the service."""
        with self.inside(self.client_ns):
            return socket.create_connection((self.server_ip, port), timeout=timeout)

    def raw_gre(self):
        """A raw IPPROTO_GRE socket in the client namespace (IP header
        added by the kernel on send)."""
        with self.inside(self.client_ns):
            return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_GRE)


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children_of(p):
            out.append(c)
            todo.append(c)
    return out


def stop_tree(p, sig=signal.SIGTERM, timeout=5):
    """Stops a process we started and every descendant, by PID."""
    if p.poll() is not None:
        return
    kids = descendants(p.pid)
    for pid in [p.pid] + kids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    for pid in [p.pid] + kids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if p.poll() is None:
        p.wait(5)


def write_users(tmp, users=None):
    path = os.path.join(tmp, "tunnel-users")
    users = users or {USER: PASSWORD}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for u, p in users.items():
            f.write("%s %s\n" % (u, p))
    os.chmod(path, 0o600)
    return path


def tunnel_section(topo, tmp, **extra):
    d = {
        "enable": "yes",
        "listen": "%s:1723" % topo.server_ip,
        "user": "nobody",
        "memory_max": "64m",
        "tun_name": "hft0",
        "local_address": LOCAL_ADDRESS,
        "pool_start": POOL_START,
        "pool_end": POOL_END,
        "users_file": write_users(tmp),
        "auth": "mschapv2",
        "mppe": "require",
        "connection_budget": "32k",
        "read_max": "1k",
        "write_budget": "4k",
    }
    d.update({k: str(v) for k, v in extra.items()})
    return d


def start_server(holdfast, topo, tmp, **extra):
    h = holdfast({"tunnel": tunnel_section(topo, tmp, **extra)}, start=False,
                 prefix=["ip", "netns", "exec", topo.server_ns])
    return h.start()


def tunnel_status(h):
    out = h.ctl("tunnel", "status").stdout
    st = {}
    for line in out.splitlines():
        k, _, v = line.partition(" ")
        st[k] = int(v) if v.isdigit() else v
    return st


def tunnel_calls(h):
    out = h.ctl("tunnel", "calls").stdout
    return [line.split() for line in out.splitlines() if line and not line.startswith("#")]


def rejects(h):
    return dict(h.service("tunnel")["rejected"])


# ---------------------------------------------------------------- HDLC (RFC 1662)

def _fcs_table():
    t = []
    for b in range(256):
        v = b
        for _ in range(8):
            v = (v >> 1) ^ 0x8408 if v & 1 else v >> 1
        t.append(v)
    return t


_FCS = _fcs_table()


def fcs16(data, fcs=0xFFFF):
    for b in data:
        fcs = (fcs >> 8) ^ _FCS[(fcs ^ b) & 0xFF]
    return fcs


def hdlc_encode(frame):
    """frame: ff 03 proto info.  Returns 7e ... 7e with FCS and escapes
    (every control character escaped: the default ACCM)."""
    fcs = fcs16(frame) ^ 0xFFFF
    body = frame + struct.pack("<H", fcs)
    out = bytearray(b"\x7e")
    for b in body:
        if b in (0x7E, 0x7D) or b < 0x20:
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)


class HdlcReader:
    """Decodes frames from a byte stream; frames with a bad FCS are counted."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.bad = 0

    def frame(self, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            f = self._take()
            if f is not None:
                return f
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                return None
            self.buf += data

    def _take(self):
        while True:
            try:
                start = self.buf.index(0x7E)
            except ValueError:
                self.buf.clear()
                return None
            try:
                stop = self.buf.index(0x7E, start + 1)
            except ValueError:
                del self.buf[:start]
                return None
            raw = bytes(self.buf[start + 1:stop])
            del self.buf[:stop]
            if not raw:
                continue
            out = bytearray()
            esc = False
            for b in raw:
                if esc:
                    out.append(b ^ 0x20)
                    esc = False
                elif b == 0x7D:
                    esc = True
                else:
                    out.append(b)
            if len(out) < 4 or fcs16(bytes(out)) != 0xF0B8:
                self.bad += 1
                continue
            return bytes(out[:-2])


def ppp_proto(frame):
    """(protocol, information) of a frame as pptp-linux hands it over."""
    if frame[:2] == b"\xff\x03":
        frame = frame[2:]
    if frame[0] & 1:
        return frame[0], frame[1:]
    return (frame[0] << 8) | frame[1], frame[2:]


class PptpClient:
    """pptp-linux (`pptp SERVER --nolaunchpppd`) in the client namespace,
    its stdin and stdout one end of a socketpair (it closes stdout on a
    pipe); the test holds the other end and speaks HDLC-framed PPP."""

    def __init__(self, topo, extra=()):
        self.topo = topo
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.proc = topo.popen(topo.client_ns,
                               ["pptp", topo.server_ip, "--nolaunchpppd", "--nohostroute", "--loglevel", "1"]
                               + list(extra),
                               stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL)
        theirs.close()
        self.reader = HdlcReader(self.sock)

    def send_frame(self, frame):
        self.sock.sendall(hdlc_encode(frame))

    def frame(self, timeout=5.0):
        return self.reader.frame(timeout)

    def stop(self):
        stop_tree(self.proc)
        self.sock.close()


# ---------------------------------------------------------------- PPTP control messages

MAGIC = 0x1A2B3C4D
FIXED = {1: 156, 2: 156, 3: 16, 4: 16, 5: 16, 6: 20, 7: 168, 8: 32, 9: 220, 10: 24, 11: 28, 12: 16,
         13: 148, 14: 40, 15: 24}


def ctrl_msg(ctype, body=b"", length=None, magic=MAGIC, msg_type=1, reserved0=0):
    """A control message of ctype: body after the 12-byte header, padded
    with zeros to the type's fixed size; every header field overridable."""
    size = FIXED.get(ctype, 16)
    body = body + b"\0" * max(0, size - 12 - len(body))
    m = struct.pack("!HHIHH", length if length is not None else 12 + len(body), msg_type, magic, ctype,
                    reserved0) + body
    return m


def sccrq(version=0x0100):
    return ctrl_msg(1, struct.pack("!HHIIHH", version, 0, 1, 1, 0, 1) + b"test".ljust(64, b"\0") +
                    b"pytest".ljust(64, b"\0"))


def ocrq(peer_call_id, serial=1, window=64, phone_len=0):
    return ctrl_msg(7, struct.pack("!HHIIIIHHHH", peer_call_id, serial, 300, 100000000, 1, 1, window, 0,
                                   phone_len, 0))


def echorq(ident):
    return ctrl_msg(5, struct.pack("!I", ident))


def ccrq(peer_call_id):
    return ctrl_msg(12, struct.pack("!HH", peer_call_id, 0))


class CtrlClient:
    """A raw control connection: send messages, read whole replies."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def recv_msg(self, timeout=5.0):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                n = struct.unpack("!H", self.buf[:2])[0]
                if n >= 12 and len(self.buf) >= n:
                    m, self.buf = self.buf[:n], self.buf[n:]
                    return m
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return b""
            if not data:
                return b""
            self.buf += data

    def closed(self, timeout=5.0):
        """True once the server closed (any pending messages are read and dropped)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.recv_msg(max(0.05, end - time.monotonic()))
            if m == b"":
                return True
        return False

    def close(self):
        self.sock.close()


def ctrl_type(m):
    return struct.unpack("!H", m[8:10])[0]


def start_ctrl(topo):
    c = CtrlClient(topo.connect())
    c.send(sccrq())
    m = c.recv_msg()
    assert m and ctrl_type(m) == 2 and m[14] == 1, m
    return c


__all__ = ["Topology", "PptpClient", "CtrlClient", "start_server", "tunnel_status", "tunnel_calls", "wait_for",
           "hdlc_encode", "ppp_proto", "ctrl_msg", "sccrq", "ocrq", "echorq", "ccrq", "ctrl_type", "start_ctrl"]
