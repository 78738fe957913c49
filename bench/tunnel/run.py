#!/usr/bin/python3
"""bench/tunnel/run.py: holdfast's tunnel service against Debian's pptpd, in
one run, on the same machine, each in a network namespace of its own (both
listen on 127.0.0.1:1723 there; nothing leaves the namespaces).

    bench/tunnel/run.py                    # defaults below
    bench/tunnel/run.py --setups 5000 --idle 200 --json /tmp/tunnel.json
    bench/tunnel/run.py --only holdfast

Run as root, with build/release built and pptpd installed
(scripts/peers-setup.sh pptpd).  Three measurements per server:

1. control connections set up per second: --concurrency clients in one
   selector loop, each connecting, sending Start-Control-Connection-Request,
   reading the whole Reply and closing, until --setups are done or
   --duration seconds pass;
2. memory per idle control connection: PSS of the server (holdfast: the
   tunnel worker; pptpd: pptpd and every pptpctrl child) before and after
   --idle established connections that then stay silent, divided by
   --idle;
3. whether a silent client delays another's accept: one client connects
   and says nothing; a second one's SCCRQ->SCCRP time is measured
   (bounded by --silent-timeout).

The client is Python: for holdfast the setup rate it reports is bounded
by the client as much as by the server (the report says how busy the
server was).  Every process is stopped by PID; namespaces are removed.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("HOLDFAST_BUILD", "build/release")
from conftest import Holdfast  # noqa: E402
import pptplib  # noqa: E402

SCCRQ = pptplib.sccrq()


def pss_bytes(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return t


def setup_rate(n, concurrency, duration):
    """Connect, SCCRQ, whole SCCRP, close; n times with `concurrency` in
    flight.  Returns (done, seconds, failures)."""
    sel = selectors.DefaultSelector()
    started = done = failed = 0
    t0 = time.monotonic()
    deadline = t0 + duration

    def launch():
        nonlocal started
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            s.connect(("127.0.0.1", 1723))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_WRITE, {"state": "connect", "buf": b"", "t": time.monotonic()})
        started += 1

    for _ in range(min(concurrency, n)):
        launch()
    while done + failed < started and time.monotonic() < deadline:
        for key, ev in sel.select(0.5):
            s, st = key.fileobj, key.data
            ok = None
            try:
                if st["state"] == "connect":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        ok = False
                    else:
                        s.send(SCCRQ)
                        st["state"] = "reply"
                        sel.modify(s, selectors.EVENT_READ, st)
                else:
                    data = s.recv(4096)
                    if not data:
                        ok = False
                    else:
                        st["buf"] += data
                        if len(st["buf"]) >= 156:
                            ok = st["buf"][9] == 2 and st["buf"][14] == 1
            except OSError:
                ok = False
            if ok is not None:
                sel.unregister(s)
                s.close()
                if ok:
                    done += 1
                else:
                    failed += 1
                if started < n and time.monotonic() < deadline:
                    launch()
        # a client stuck for 15 s counts as failed
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            if now - key.data["t"] > 15:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                failed += 1
    elapsed = time.monotonic() - t0
    for key in list(sel.get_map().values()):
        sel.unregister(key.fileobj)
        key.fileobj.close()
    return done, elapsed, failed


def open_idle(m):
    conns = []
    for _ in range(m):
        s = socket.create_connection(("127.0.0.1", 1723), timeout=15)
        s.sendall(SCCRQ)
        buf = b""
        while len(buf) < 156:
            d = s.recv(4096)
            if not d:
                raise RuntimeError("server closed an idle connection during set-up")
            buf += d
        conns.append(s)
    return conns


def silent_delay(timeout):
    silent = socket.create_connection(("127.0.0.1", 1723), timeout=5)
    time.sleep(0.2)
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", 1723), timeout=timeout)
        s.settimeout(max(0.1, timeout - (time.monotonic() - t0)))
        s.sendall(SCCRQ)
        buf = b""
        while len(buf) < 156:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        s.close()
        ok = len(buf) >= 156
    except OSError:
        ok = False
    dt = time.monotonic() - t0
    silent.close()
    return dt if ok else None


class HoldfastTunnel:
    name = "holdfast"

    def __init__(self, topo, tmp):
        self.ns = topo.server_ns
        sec = pptplib.tunnel_section(topo, tmp, listen="127.0.0.1:1723", max_connections_per_address=4096,
                                     max_connections=4096, memory_max="256m")
        self.h = Holdfast(tmp, {"tunnel": sec}, prefix=["ip", "netns", "exec", self.ns])
        self.h.start()
        self.worker = self.h.service("tunnel")["pid"]

    def pids(self):
        return [self.worker]

    def stop(self):
        self.h.stop()


class Pptpd:
    name = "pptpd"

    def __init__(self, topo, tmp):
        if not os.path.exists("/usr/sbin/pptpd"):
            raise RuntimeError("pptpd not installed (scripts/peers-setup.sh pptpd)")
        self.ns = topo.client_ns
        base = tempfile.mkdtemp(prefix="hf-bench-pptpd-", dir=tmp)
        conf, opts = os.path.join(base, "pptpd.conf"), os.path.join(base, "options")
        with open(opts, "w") as f:
            f.write("name pptpd\nrefuse-pap\nrefuse-chap\nrefuse-mschap\nrequire-mschap-v2\n"
                    "require-mppe-128\nnodefaultroute\nlock\nnobsdcomp\n")
        with open(conf, "w") as f:
            # pptpd caps connections at 100 and at the remote addresses: lift both for --idle
            f.write("option %s\nlocalip 192.0.2.1\nremoteip 10.200.0.1-254,10.201.0.1-254\nlisten 127.0.0.1\n"
                    "connections 10000\n" % opts)
        self.log = open(os.path.join(base, "pptpd.log"), "w")
        self.proc = topo.popen(self.ns, ["/usr/sbin/pptpd", "--fg", "-c", conf, "-o", opts, "-l", "127.0.0.1",
                                         "-p", os.path.join(base, "pptpd.pid")], stdout=self.log, stderr=self.log)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("pptpd exited: %s" % self.proc.returncode)
            with topo.inside(self.ns):
                try:
                    socket.create_connection(("127.0.0.1", 1723), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)

    def pids(self):
        return [self.proc.pid] + pptplib.descendants(self.proc.pid)

    def stop(self):
        pptplib.stop_tree(self.proc)
        self.log.close()


def measure(server, topo, args):
    r = {"server": server.name}
    with topo.inside(server.ns):
        time.sleep(0.5)
        c0 = cpu_ticks(server.pids())
        done, secs, failed = setup_rate(args.setups, args.concurrency, args.duration)
        c1 = cpu_ticks(server.pids() + ([server.proc.pid] if hasattr(server, "proc") else []))
        r["setups"] = done
        r["setup_failures"] = failed
        r["setup_seconds"] = round(secs, 3)
        r["setups_per_second"] = round(done / secs, 1) if secs > 0 else 0
        r["server_cpu_seconds_during_setups"] = round((c1 - c0) / os.sysconf("SC_CLK_TCK"), 2)
        time.sleep(1.5)      # let pptpd's children of closed connections exit
        before = pss_bytes(server.pids())
        conns = open_idle(args.idle)
        time.sleep(1.0)
        after = pss_bytes(server.pids())
        r["idle_connections"] = len(conns)
        r["pss_before_bytes"] = before
        r["pss_after_bytes"] = after
        r["pss_per_idle_connection_bytes"] = round((after - before) / len(conns))
        d = silent_delay(args.silent_timeout)
        r["accept_with_silent_client_seconds"] = round(d, 3) if d is not None else None
        for s in conns:
            s.close()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setups", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--duration", type=float, default=20.0, help="bound on the setup-rate run, seconds")
    ap.add_argument("--idle", type=int, default=100)
    ap.add_argument("--silent-timeout", type=float, default=15.0)
    ap.add_argument("--only", choices=["holdfast", "pptpd"])
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces, raw sockets, TUN)")
    tmp = tempfile.mkdtemp(prefix="hf-bench-tunnel-")
    os.chmod(tmp, 0o755)
    topo = pptplib.Topology().up()
    results = []
    try:
        for cls in (HoldfastTunnel, Pptpd):
            if args.only and cls.name != args.only:
                continue
            try:
                srv = cls(topo, tmp)
            except Exception as e:  # noqa: BLE001 - report and go on with the other
                results.append({"server": cls.name, "unavailable": str(e)})
                continue
            try:
                results.append(measure(srv, topo, args))
            finally:
                srv.stop()
    finally:
        topo.down()
        subprocess.run(["rm", "-rf", tmp])
    keys = ["setups_per_second", "setups", "setup_failures", "server_cpu_seconds_during_setups",
            "pss_per_idle_connection_bytes", "idle_connections", "accept_with_silent_client_seconds"]
    print("%-40s %s" % ("", " ".join("%14s" % r["server"] for r in results)))
    for k in keys:
        print("%-40s %s" % (k, " ".join("%14s" % r.get(k, r.get("unavailable", "-")) for r in results)))
    hf = next((r for r in results if r["server"] == "holdfast" and "setups" in r), None)
    pd = next((r for r in results if r["server"] == "pptpd" and "setups" in r), None)
    if hf and pd:
        print("setup rate: holdfast/pptpd = %.1fx (goal >= 10x)" %
              (hf["setups_per_second"] / max(pd["setups_per_second"], 0.1)))
        print("PSS per idle connection: holdfast/pptpd = %.3f (goal <= 0.1)" %
              (hf["pss_per_idle_connection_bytes"] / max(pd["pss_per_idle_connection_bytes"], 1)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    main()
