"""Acceptance test for MS01-043 (the NNTP post leak) against holdfast's news
service: 200,000 malformed articles, mixing every kind of defect
holdfast-soak's ms01-043 scenario knows (tools/soak/scen_ms01_043.c), through
POST (after MODE READER), IHAVE and TAKETHIS (after MODE STREAM) on 4
pipelined connections, while holdfast-soak's probe, a fifth connection,
sends "GROUP local.test" every 10 ms and times the answer.

Asserted from holdfast-soak's JSON report: verdict "no leak"; the fitted
slope of the news worker's PSS (Theil-Sen after the 20% warm-up, 95% CI by
Sen's method) has its CI upper bound below 1 byte per post; the count was
sent and read by the server; probe p99 < 100 ms with no failure; the worker
never changed PID.  From holdfastctl status afterwards: the rejected
counters moved by at least 90% of the posts, and region_bytes is back near
its idle baseline.

A --valid control run (the same commands with well-formed articles, a
smaller count) is measured and its slope printed, not asserted: stored
articles legitimately grow SQLite's page cache and the in-memory indexes.

PSS divides each shared page by the number of processes mapping it, so
other processes on the host starting and stopping the same holdfastd (other
test runs) or the same libsqlite3 move the worker's PSS by hundreds of KiB
(seen: the worker's USS flipping by the size of holdfastd's text, ~950 KB).
The server under test therefore runs from a private copy of holdfastd and of
the shared libraries it links besides libc/libm (LD_LIBRARY_PATH), so that
only its own supervisor and worker share those pages.

History: in 2 of 6 early runs a one-off growth of ~1.4 MB of private memory
appeared during the measured posts (+7 B/post).  It was glibc's dynamic
mmap threshold: after the first huge body was freed, requests of that size
came from the heap, and the free heap top (below twice the threshold) was
never trimmed.  Workers now fix both thresholds (worker.c); since then the
slope has been flat, with no step, run after run, and the test is back in
`make check` (`make leak` runs it alone).

Release build only: under HOLDFAST_BUILD=build/asan the sanitizer's
quarantine and shadow memory make PSS meaningless, so the test skips.
Everything listens on 127.0.0.1; every process is stopped by PID
(conftest's fixtures and holdfast-soak's own exit)."""
import json
import os
import shutil
import subprocess
import time

import pytest

import conftest
from conftest import BUILD, SANITIZED
from newslib import NNTP, news_status, rejected, rejected_delta, start_news, wait_no_connections

SOAK = os.path.join(BUILD, "holdfast-soak")

COUNT = 200000            # the acceptance count: do not lower it
# Before the measured run, the same attack (another seed) fills what is
# legitimately bounded and filled by use: SQLite's page cache (capped at
# 2 MiB; 15% of the "defective" posts are repaired and stored) and malloc's
# arenas.  Without it a fast run (20 s) measured the cache filling:
# +1.48 [0.06, 2.39] B/post, inconclusive.
WARMUP_COUNT = 100000
CONNECTIONS = 4
VALID_COUNT = 50000       # control run: same commands, well-formed articles
SLOPE_LIMIT = 1.0         # bytes per post, CI upper bound
PROBE_P99_LIMIT_MS = 100.0
REJECTED_SHARE = 0.90
REGION_SLACK = 64 * 1024  # region_bytes after the run, above the idle baseline
SYSTEM_LIBS = ("libc.so", "libm.so", "ld-linux", "linux-vdso")

pytestmark = [
    pytest.mark.skipif(SANITIZED, reason="ASan build (%s): its quarantine and shadow memory make PSS "
                                         "meaningless for a leak slope; run with the release build" % BUILD),
    pytest.mark.skipif(not os.path.exists(SOAK), reason="holdfast-soak not built in %s" % BUILD),
]


def run_soak(port, pid, count, js, valid=False, svg=None, duration=600, seed=None):
    args = [SOAK, "ms01-043", "--target", "127.0.0.1:%d" % port, "--pid", str(pid),
            "--connections", str(CONNECTIONS), "--count", str(count), "--duration", str(duration),
            "--probe-p99-limit", str(PROBE_P99_LIMIT_MS), "--json", js, "--no-progress"]
    if seed is not None:
        args += ["--seed", str(seed)]
    if valid:
        args.append("--valid")
    if svg:
        args += ["--svg", svg]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=duration + 120)
    took = time.monotonic() - t0
    assert p.returncode != 64, p.stderr
    with open(js) as f:
        d = json.load(f)
    return p, d, took


def summary(label, d, took):
    return ("%s: verdict %s; PSS %+.3f B/msg [%+.3f, %+.3f]; RSS %+.3f [%+.3f, %+.3f]; USS %+.3f [%+.3f, %+.3f]; "
            "steps %d (%.0f B); sent %d, read %d in %.1f s (server %.0f msg/s; run %.1f s in all); "
            "probe %d, p50 %.2f ms, p99 %.2f ms, max %.2f ms, failures %d; server closes %d, own closes %d"
            % (label, d["verdict"], d["pss_slope_bytes_per_message"], d["pss_ci95_low"], d["pss_ci95_high"],
               d["rss_slope_bytes_per_message"], d["rss_ci95_low"], d["rss_ci95_high"],
               d["uss_slope_bytes_per_message"], d["uss_ci95_low"], d["uss_ci95_high"],
               d["steps_removed"], d["step_bytes"], d["messages_sent"], d["samples"][-1]["messages"],
               d["total_elapsed_s"], d["server_read_rate"], took, d["probe_count"], d["probe_p50_ms"],
               d["probe_p99_ms"], d["probe_max_ms"], d["probe_failures"], d["server_closes"], d["own_closes"]))


def settle(h):
    """Waits until the flood's connections are gone; returns the status."""
    wait_no_connections(h, timeout=30)
    return news_status(h)


def private_copies(d):
    """holdfastd and its shared libraries (but libc, libm, the loader)
    copied into d; returns the path of the holdfastd copy."""
    os.makedirs(d, mode=0o755)
    os.chmod(d, 0o755)
    exe = os.path.join(d, "holdfastd")
    shutil.copy2(conftest.HOLDFASTD, exe)
    out = subprocess.run(["ldd", conftest.HOLDFASTD], capture_output=True, text=True, timeout=30).stdout
    for ln in out.splitlines():
        w = ln.split()
        if len(w) >= 3 and w[1] == "=>" and os.path.isabs(w[2]) and not w[0].startswith(SYSTEM_LIBS):
            shutil.copy2(w[2], os.path.join(d, w[0]))
    return exe


@pytest.fixture
def news(holdfast, tmpdir_root, monkeypatch):
    priv = os.path.join(tmpdir_root, "private-bin")
    exe = private_copies(priv)
    monkeypatch.setattr(conftest, "HOLDFASTD", exe)
    monkeypatch.setenv("LD_LIBRARY_PATH", priv)
    # The flood reconnects after every article it cuts off: allow the churn
    # from one address (the defaults would refuse it, which is not what is
    # measured here).
    h, port = start_news(holdfast, max_connections=4096, max_connections_per_address=4096,
                         commit_delay=os.environ.get("HF_LEAK_COMMIT_DELAY", "0"))
    pid = news_status(h)["pid"]
    assert os.readlink("/proc/%d/exe" % pid) == exe, "the worker does not run the private copy"
    return h, port


def group_count(port, group="local.test"):
    c = NNTP(port)
    try:
        r = c.cmd("GROUP " + group)
    finally:
        c.close()
    assert r.startswith("211 "), r
    return int(r.split()[1])


def test_malformed_posts_do_not_leak(news, tmp_path):
    h, port = news
    wp, wd, wtook = run_soak(port, news_status(h)["pid"], WARMUP_COUNT, str(tmp_path / "warmup.json"), seed=4242)
    print("\n" + summary("warm-up (not asserted)", wd, wtook))
    settle(h)
    st0 = news_status(h)
    pid = st0["pid"]
    assert pid > 0
    region0 = st0["region_bytes"]
    rej0 = rejected(h)
    stored0 = group_count(port)
    js = str(tmp_path / "attack.json")
    svg = os.environ.get("HF_LEAK_SVG")   # e.g. /tmp/leak.svg to look at the run
    p, d, took = run_soak(port, pid, COUNT, js, svg=svg)
    line = summary("attack", d, took)
    print("\n" + line)

    # Nothing crashed: the worker is the one we started with.
    st1 = settle(h)
    assert st1["pid"] == pid, "news worker replaced (crash?): %d -> %d\n%s" % (pid, st1["pid"], h.logtext()[-3000:])
    assert st1["restarts"] == st0["restarts"]
    assert d["pids"][:1] == [pid] or pid in d["pids"], d["pids"]
    assert d["crash_reason"] == "", d["crash_reason"]
    assert d["stopped_by"] == "count", line

    # The whole count went in and the server read it.
    assert d["messages_sent"] >= COUNT, line
    assert d["samples"][-1]["messages"] >= 0.99 * COUNT, line

    # No leak: the CI of the PSS slope lies below 1 B/post.
    assert d["slope_source"] == "pss"
    assert d["pss_ci95_high"] is not None, line
    assert d["pss_ci95_high"] < SLOPE_LIMIT, line
    assert d["memory_verdict"] == "no leak", line
    assert d["verdict"] == "no leak", line

    # The reader stayed served: GROUP under 100 ms at p99, none lost.
    assert d["probe_count"] > 0, line
    assert d["probe_failures"] == 0, line
    assert d["probe_p99_ms"] < PROBE_P99_LIMIT_MS, line

    # The posts were rejected (and counted), and their memory went back.
    delta = rejected_delta(rej0, rejected(h))
    total = sum(delta.values())
    stored = group_count(port) - stored0
    print("rejected: %d in all (%.1f%% of %d): %s" % (total, 100.0 * total / COUNT, COUNT,
                                                     ", ".join("%s=%d" % kv for kv in sorted(delta.items()))))
    # Some "defects" are legal input that the server repairs and stores:
    # POST without Message-ID (RFC 5537 3.4.1), bare LF line ends, a
    # line of ". not the end", a huge body under article_max.
    print("stored: %d articles (the rest of the posts)" % stored)
    print("region_bytes: %d before, %d after (peak %d)" % (region0, st1["region_bytes"], st1["region_peak_bytes"]))
    assert total >= REJECTED_SHARE * COUNT, delta
    assert st1["region_bytes"] <= region0 + REGION_SLACK, (region0, st1["region_bytes"])


def test_valid_control_slope_is_recorded(news, tmp_path):
    """The same volume of well-formed articles (smaller count): its slope is
    printed for the report, not asserted (stored articles grow caches)."""
    h, port = news
    st0 = news_status(h)
    pid = st0["pid"]
    js = str(tmp_path / "valid.json")
    p, d, took = run_soak(port, pid, VALID_COUNT, js, valid=True)
    line = summary("valid control", d, took)
    print("\n" + line)
    st1 = settle(h)
    print("region_bytes: %d before, %d after (peak %d); rejected: %s" % (
        st0["region_bytes"], st1["region_bytes"], st1["region_peak_bytes"],
        rejected_delta(st0["rejected"], st1["rejected"])))
    assert st1["pid"] == pid
    assert d["crash_reason"] == ""
    assert d["messages_sent"] >= VALID_COUNT, line
