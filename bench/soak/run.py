#!/usr/bin/env python3
"""bench/soak/run.py: holdfast-soak's bulletin scenarios against holdfast and
against the reference servers, in one run, verdicts and slopes side by side.

    bench/soak/run.py                          # ms01-043: holdfast news vs INN
    bench/soak/run.py --count 50000 --valid    # also the --valid control runs
    bench/soak/run.py --only inn --json /tmp/soak.json

Run as root (INN runs as user news, holdfast's worker as nobody).  Each
server is started fresh in a temporary directory, listening on 127.0.0.1
only, and stopped by PID afterwards.  A server that cannot be set up is
reported as "not available (reason)" and the others are still measured.

Servers: holdfast (build/release/holdfastd with a [news] section; measured
as the whole holdfastd tree, supervisor and worker) and INN (Debian's inn2
through tests/integration/innlib.py; the whole innd tree, nnrpd children
included).  The term (ms01-040, xrdp) and tunnel (ms01-009, pptpd)
comparisons are not here yet: those services have not landed.
Every run is bounded by --count and --duration."""
import argparse
import json
import os
import shutil
import signal
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


class InnServer:
    name = "INN"

    def __init__(self, args):
        try:
            innlib.setup_inn()
        except innlib.InnUnavailable as e:
            raise Unavailable(str(e))
        self.inn = innlib.Inn(base=tempfile.mkdtemp(prefix="hf-soak-inn-", dir=args.tmp), groups=[GROUP])
        self.inn.owns_base = True
        try:
            self.inn.start()
        except Exception as e:
            self.inn.stop()
            raise Unavailable("INN did not start: %s" % e)
        self.port = self.inn.port
        self.pid = self.inn.pid

    def stop(self):
        self.inn.stop()


class HoldfastServer:
    name = "holdfast"

    def __init__(self, args):
        self.bin = os.path.join(args.build, "holdfastd")
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
        except Exception as e:
            reason = "%s; log: %s" % (e, self._logtail())
            self.stop()
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
        if self.proc is not None:
            kids = innlib.process_tree(self.proc.pid) if self.proc.poll() is None else []
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            for p in kids:
                if p != self.proc.pid and innlib.pid_alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            self.proc = None
            self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


def soak(args, server, valid):
    fd, js = tempfile.mkstemp(prefix="hf-soak-", suffix=".json", dir=args.tmp)
    os.close(fd)
    cmd = [os.path.join(args.build, "holdfast-soak"), args.scenario, "--target", "127.0.0.1:%d" % server.port,
           "--pid", str(server.pid), "--count", str(args.count), "--duration", str(args.duration),
           "--connections", str(args.connections), "--json", js, "--no-progress"]
    if valid:
        cmd.append("--valid")
    if args.svg_dir:
        os.makedirs(args.svg_dir, exist_ok=True)
        cmd += ["--svg", os.path.join(args.svg_dir, "%s-%s%s.svg" % (args.scenario, server.name.lower(),
                                                                     "-valid" if valid else ""))]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 120)
        if args.verbose:
            sys.stdout.write(p.stdout)
        if p.returncode == 64:
            raise RuntimeError("holdfast-soak: %s" % p.stderr.strip())
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="ms01-043", choices=["ms01-043", "ms03-029"])
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--valid", action="store_true", help="also run the --valid control")
    ap.add_argument("--only", choices=["holdfast", "inn"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--tmp", default=None)
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--svg-dir", help="write each run's SVG here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not os.access(os.path.join(args.build, "holdfast-soak"), os.X_OK):
        sys.exit("holdfast-soak not built in %s (make)" % args.build)
    servers = [c for c in (HoldfastServer, InnServer) if args.only in (None, c.name.lower())]
    rows, results = [], {}
    for cls in servers:
        for valid in ([False, True] if args.valid else [False]):
            label = "%s%s" % (cls.name, " (valid)" if valid else "")
            try:
                srv = cls(args)
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
    print("%s, %d messages (or %d s) per run" % (args.scenario, args.count, args.duration))
    print("%-18s %-12s %-30s %-30s %9s %9s %9s %6s" % ("server", "verdict", "PSS B/msg [95% CI]",
                                                       "RSS B/msg [95% CI]", "messages", "read/s",
                                                       "p99 ms", "fails"))
    for label, d in rows:
        if isinstance(d, str):
            print("%-18s %s" % (label, d))
            continue
        print("%-18s %-12s %-30s %-30s %9d %9.0f %9.2f %6d" % (
            label, d["verdict"], fmt_slope(d), fmt_slope(d, "rss_"), d["messages_sent"],
            d.get("server_read_rate", 0), d["probe_p99_ms"], d["probe_failures"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "samples"} for k, v in results.items()}, f,
                      indent=1)


if __name__ == "__main__":
    main()
