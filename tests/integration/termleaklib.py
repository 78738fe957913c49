"""Helpers for the term service's leak acceptance (test_term_leak.py):
a private copy of holdfastd, holdfast-soak runs and their summary lines,
and where in a soak run a login landed.

Everything here runs on this machine and talks only to 127.0.0.1; every
process started here is waited for or stopped by PID."""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import conftest
from conftest import BUILD

SOAK = os.path.join(BUILD, "holdfast-soak")
# Not copied: the loader is named in the executable (PT_INTERP), and the
# vdso is the kernel's.
SYSTEM_LIBS = ("ld-linux", "linux-vdso")


def copy_with_libs(src, d, name=None):
    """Copies the executable src and the shared libraries it links (but the
    loader) into the directory d (made 0755); returns the copy's path."""
    os.makedirs(d, mode=0o755, exist_ok=True)
    os.chmod(d, 0o755)
    exe = os.path.join(d, name or os.path.basename(src))
    shutil.copy2(src, exe)
    os.chmod(exe, 0o755)
    out = subprocess.run(["ldd", src], capture_output=True, text=True, timeout=30).stdout
    for ln in out.splitlines():
        w = ln.split()
        if len(w) >= 3 and w[1] == "=>" and os.path.isabs(w[2]) and not w[0].startswith(SYSTEM_LIBS):
            shutil.copy2(w[2], os.path.join(d, w[0]))
            os.chmod(os.path.join(d, w[0]), 0o755)
    return exe


def private_copies(d):
    """Copies holdfastd and the shared libraries it links, libc included
    (but the loader), into d; returns the path of the holdfastd copy.

    PSS divides a shared page among the processes that map it: other test
    runs starting and stopping the same holdfastd or libssl move the
    worker's PSS by hundreds of KiB, and every process that starts or ends
    on the host moves each process's share of libc (seen: 14-18 KiB per
    process of the tree within a minute).  Run from the copy (with
    LD_LIBRARY_PATH=d), only the server under test maps those pages."""
    return copy_with_libs(conftest.HOLDFASTD, d)


def private_shell(d):
    """A login shell for the test user whose pages no other process on
    the host maps: a copy of bash and its libraries (libtinfo, libc) in d,
    started by a two-line script (the broker clears the environment, so
    LD_LIBRARY_PATH is set there).  The script's /bin/sh execs bash at
    once.  Returns the script's path (the user's shell)."""
    bash = copy_with_libs("/bin/bash", d)
    login = os.path.join(d, "login-shell")
    with open(login, "w") as f:
        f.write("#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s -l\n" % (d, bash))
    os.chmod(login, 0o755)
    return login


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


def tree_pids(pid):
    """pid and its descendants (by ppid, from /proc)."""
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
    pids = [pid]
    i = 0
    while i < len(pids):
        pids.extend(sorted(kids.get(pids[i], [])))
        i += 1
    return pids


def proc_memory(p):
    """One process: comm, and PSS, RSS, private bytes (smaps_rollup) and
    the resident bytes of its [heap] (malloc's main arena: what is not in a
    region, OpenSSL's allocations first).  None if it is gone."""
    v = {}
    heap = 0
    try:
        with open("/proc/%d/comm" % p) as f:
            comm = f.read().strip()
        with open("/proc/%d/smaps_rollup" % p) as f:
            for ln in f:
                w = ln.split()
                if len(w) >= 3 and w[2] == "kB":
                    v[w[0].rstrip(":")] = int(w[1]) * 1024
        with open("/proc/%d/smaps" % p) as f:
            cur = None
            for ln in f:
                w = ln.split()
                if w and "-" in w[0] and not w[0].endswith(":"):
                    cur = w[5] if len(w) > 5 else ""
                elif w and w[0] == "Rss:" and cur == "[heap]":
                    heap += int(w[1]) * 1024
    except (OSError, IndexError):
        return None
    return {"pid": p, "comm": comm, "pss": v.get("Pss", 0), "rss": v.get("Rss", 0),
            "private": v.get("Private_Clean", 0) + v.get("Private_Dirty", 0), "heap": heap}


def tree_memory(pid):
    """PSS, RSS and private bytes summed over pid and its descendants, the
    number of processes, and each process (proc_memory) in "procs"."""
    tot = {"pss": 0, "rss": 0, "private": 0, "procs": []}
    for p in tree_pids(pid):
        m = proc_memory(p)
        if m is None:
            continue
        for k in ("pss", "rss", "private"):
            tot[k] += m[k]
        tot["procs"].append(m)
    return tot


def tree_text(tm):
    return "; ".join("%s %d: PSS %d RSS %d private %d heap %d" % (m["comm"], m["pid"], m["pss"], m["rss"],
                                                                  m["private"], m["heap"]) for m in tm["procs"])


def mappings(p):
    """{mapping name: (Rss, Pss, Private) bytes} of one process (smaps)."""
    out = {}
    try:
        with open("/proc/%d/smaps" % p) as f:
            cur = None
            for ln in f:
                w = ln.split()
                if not w:
                    continue
                if "-" in w[0] and not w[0].endswith(":"):
                    cur = w[5] if len(w) > 5 else "[anon]"
                    out.setdefault(cur, [0, 0, 0])
                elif w[0] == "Rss:":
                    out[cur][0] += int(w[1]) * 1024
                elif w[0] == "Pss:":
                    out[cur][1] += int(w[1]) * 1024
                elif w[0] in ("Private_Clean:", "Private_Dirty:"):
                    out[cur][2] += int(w[1]) * 1024
    except (OSError, IndexError, ValueError):
        return None
    return out


class Tracer:
    """Diagnosis only (HF_TERM_LEAK_TRACE=FILE): every `every` seconds, the
    per-mapping RSS/PSS/private bytes of each process of the tree, written
    as JSON lines, so that a PSS slope can be traced to the mapping (and
    the process) it comes from."""

    def __init__(self, pid, path, every=1.0):
        import threading
        self.pid, self.path, self.every = pid, path, every
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        t0 = time.monotonic()
        with open(self.path, "w") as f:
            while not self.stop_ev.is_set():
                row = {"t": time.monotonic() - t0, "procs": {}}
                for p in tree_pids(self.pid):
                    m = mappings(p)
                    if m is None:
                        continue
                    try:
                        with open("/proc/%d/comm" % p) as c:
                            comm = c.read().strip()
                    except OSError:
                        comm = "?"
                    row["procs"]["%s:%d" % (comm, p)] = m
                f.write(json.dumps(row) + "\n")
                self.stop_ev.wait(self.every)

    def stop(self):
        self.stop_ev.set()
        self.th.join(10)


GDB = "/usr/bin/gdb"


def mallinfo(pid):
    """malloc's own counters of a running process (glibc's mallinfo2(),
    called through gdb; needs libc's debug symbols): dict with arena
    (heap bytes from the system), hblkhd (mmapped), uordblks (bytes in
    use), fordblks (free).  None when gdb cannot tell.  The process stops
    for the call (a few hundred ms)."""
    r = subprocess.run([GDB, "-p", str(pid), "-batch", "-nx", "-ex", "p mallinfo2()"], capture_output=True,
                       text=True, timeout=120)
    m = re.search(r"\{arena = (\d+).*?hblkhd = (\d+).*?uordblks = (\d+), fordblks = (\d+)", r.stdout, re.S)
    if not m:
        return None
    return dict(zip(("arena", "hblkhd", "uordblks", "fordblks"), map(int, m.groups())))


def gdb_call(pid, expr):
    """Evaluates expr (e.g. "(long)malloc(4000)") in the stopped process;
    returns the printed value as a string, or None."""
    r = subprocess.run([GDB, "-p", str(pid), "-batch", "-nx", "-ex", "p " + expr], capture_output=True, text=True,
                       timeout=120)
    m = re.search(r"^\$1 = (.*)$", r.stdout, re.M)
    return m.group(1).strip() if m else None
