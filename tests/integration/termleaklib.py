"""Helpers for the term service's leak acceptance (test_term_leak.py):
a private copy of holdfastd, holdfast-soak runs and their summary lines,
and where in a soak run a login landed.

Everything here runs on this machine and talks only to 127.0.0.1; every
process started here is waited for or stopped by PID."""
import json
import os
import shutil
import signal
import subprocess
import time

import conftest
from conftest import BUILD

SOAK = os.path.join(BUILD, "holdfast-soak")
# Not copied: every process on the host maps these, the copy would not
# make the worker's share of them any steadier.
SYSTEM_LIBS = ("libc.so", "libm.so", "ld-linux", "linux-vdso")


def private_copies(d):
    """Copies holdfastd and the shared libraries it links (but libc, libm
    and the loader) into d; returns the path of the holdfastd copy.

    PSS divides a shared page among the processes that map it: other test
    runs starting and stopping the same holdfastd or libssl move the
    worker's PSS by hundreds of KiB.  Run from the copy (with
    LD_LIBRARY_PATH=d), only the server under test maps those pages."""
    os.makedirs(d, mode=0o755)
    os.chmod(d, 0o755)
    exe = os.path.join(d, "holdfastd")
    shutil.copy2(conftest.HOLDFASTD, exe)
    out = subprocess.run(["ldd", conftest.HOLDFASTD], capture_output=True, text=True, timeout=30).stdout
    for ln in out.splitlines():
        w = ln.split()
        if len(w) >= 3 and w[1] == "=>" and os.path.isabs(w[2]) and not w[0].startswith(SYSTEM_LIBS):
            shutil.copy2(w[2], os.path.join(d, w[0]))
            os.chmod(os.path.join(d, w[0]), 0o755)
    return exe


def soak_args(port, pid, count, js, connections=8, duration=120, warmup=None, valid=False, phase="both",
              seed=None, svg=None):
    args = [SOAK, "ms01-040", "--target", "127.0.0.1:%d" % port, "--pid", str(pid), "--phase", phase,
            "--connections", str(connections), "--count", str(count), "--duration", str(duration),
            "--json", js, "--no-progress"]
    if warmup is not None:
        args += ["--warmup", str(warmup)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if valid:
        args.append("--valid")
    if svg:
        args += ["--svg", svg]
    return args


class Soak:
    """holdfast-soak running in the background; wait() returns its JSON."""

    def __init__(self, args, js):
        self.args, self.js = args, js
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.text = ""
        self.took = None

    def running(self):
        return self.proc.poll() is None

    def elapsed(self):
        return time.monotonic() - self.t0

    def wait(self, timeout):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        finally:
            self.kill()
        self.took = time.monotonic() - self.t0
        self.text = out.decode("latin-1")
        assert self.proc.returncode != 64, self.text
        with open(self.js) as f:
            return json.load(f)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_soak(args, js, timeout):
    s = Soak(args, js)
    d = s.wait(timeout)
    return s, d


def fmt(v, spec="%+.3f"):
    return "n/a" if v is None else spec % v


def summary(label, d, took):
    """One line with everything the report needs from a soak JSON."""
    last = d["samples"][-1]["messages"] if d["samples"] else 0
    return ("%s: verdict %s; PSS %s B/PDU [%s, %s]; RSS %s [%s, %s]; USS %s [%s, %s]; steps %d (%.0f B); "
            "sent %d, read %d in %.1f s (server %.0f PDU/s; run %.1f s); TLS %d handshakes, %d failed; "
            "probe %d, p50 %s ms, p99 %s ms, max %s ms, failures %d; CPU %s us/PDU (%s of a core)"
            % (label, d["verdict"], fmt(d["pss_slope_bytes_per_message"]), fmt(d["pss_ci95_low"]),
               fmt(d["pss_ci95_high"]), fmt(d["rss_slope_bytes_per_message"]), fmt(d["rss_ci95_low"]),
               fmt(d["rss_ci95_high"]), fmt(d["uss_slope_bytes_per_message"]), fmt(d["uss_ci95_low"]),
               fmt(d["uss_ci95_high"]), d["steps_removed"], d["step_bytes"] or 0, d["messages_sent"], last,
               d["total_elapsed_s"], d["server_read_rate"] or 0, took or 0, d["tls_handshakes"],
               d["tls_failures"], d["probe_count"], fmt(d["probe_p50_ms"], "%.2f"), fmt(d["probe_p99_ms"], "%.2f"),
               fmt(d["probe_max_ms"], "%.2f"), d["probe_failures"], fmt(d["cpu_us_per_message"], "%.1f"),
               fmt(d["cpu_share"], "%.2f")))


def sample_at(d, t):
    """Index of the first sample taken at or after t seconds into the run
    (len(samples) if none)."""
    for i, s in enumerate(d["samples"]):
        if s["t"] is not None and s["t"] >= t:
            return i
    return len(d["samples"])


def where(d, t):
    """Where t seconds into the run falls: messages read by then and
    whether that is before the end of the warm-up."""
    i = sample_at(d, t)
    n = len(d["samples"])
    msgs = d["samples"][min(i, n - 1)]["messages"] if n else 0
    return "%.1f s, ~%d PDUs read, sample %d of %d (%s the warm-up's %d)" % (
        t, msgs, i, n, "inside" if i < d["warmup_samples"] else "AFTER", d["warmup_samples"])


def steps(d, key="pss", top=5):
    """The largest sample-to-sample jumps of key (for diagnosis)."""
    s = d["samples"]
    jumps = [(s[i][key] - s[i - 1][key], i, s[i]["messages"], s[i]["t"], s[i]["procs"]) for i in range(1, len(s))]
    jumps.sort(key=lambda j: -abs(j[0]))
    return ", ".join("%+.0f B at sample %d (%d PDUs, %.1f s, %d procs)" % j for j in jumps[:top])


def tree_memory(pid):
    """PSS, RSS and private bytes summed over pid and its descendants
    (smaps_rollup), and the number of processes."""
    pids = [pid]
    kids = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(e))
    i = 0
    while i < len(pids):
        pids.extend(kids.get(pids[i], []))
        i += 1
    tot = {"pss": 0, "rss": 0, "private": 0, "procs": 0}
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                v = {}
                for ln in f:
                    w = ln.split()
                    if len(w) >= 3 and w[2] == "kB":
                        v[w[0].rstrip(":")] = int(w[1]) * 1024
        except OSError:
            continue
        tot["pss"] += v.get("Pss", 0)
        tot["rss"] += v.get("Rss", 0)
        tot["private"] += v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)
        tot["procs"] += 1
    return tot
