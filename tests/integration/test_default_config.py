"""etc/holdfast.conf, the configuration `make run` uses, loads and serves.
The test rewrites only the runtime and storage paths (so it never touches
/run/holdfast or the tree's var/), every listen port (the shipped ones,
such as news on 1119, may be busy on a developer's machine) and, for the
echo section, enable."""
import os
import re
import socket
import subprocess

from conftest import HOLDFASTCTL, HOLDFASTD, ROOT, LineClient, wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def move_ports(text):
    """Every listen/listen_tls line gets a free port of its own (its IPv4
    and IPv6 addresses share it, as in the shipped file); hosts are kept.
    Returns (text, {(section, key): port})."""
    out, ports, section = [], {}, None
    for line in text.split("\n"):
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            section = m.group(1)
        m = re.match(r"^(listen(?:_tls)?) = (.*)$", line)
        if m:
            port = free_port()
            ports[(section, m.group(1))] = port
            hosts = [a.strip().rsplit(":", 1)[0] for a in m.group(2).split(",")]
            line = "%s = %s" % (m.group(1), ", ".join("%s:%d" % (h, port) for h in hosts))
        out.append(line)
    return "\n".join(out), ports


def shipped_conf(tmpdir_root):
    """etc/holdfast.conf as shipped, with TLS files made under
    tmpdir_root/var/tls (where the shipped ../var/tls points from
    tmpdir_root/etc) and runtime and storage paths moved into tmpdir_root.
    Returns (text, path to write it to)."""
    etc = os.path.join(tmpdir_root, "etc")
    os.mkdir(etc)
    subprocess.run([os.path.join(ROOT, "scripts", "gen-cert.sh"), os.path.join(tmpdir_root, "var", "tls")],
                   check=True, capture_output=True)
    with open(os.path.join(ROOT, "etc", "holdfast.conf")) as f:
        text = f.read()
    text = re.sub(r"^rundir = .*$", "rundir = %s/run" % tmpdir_root, text, flags=re.M)
    text = re.sub(r"^state_dir = .*$", "state_dir = ../var/lib", text, flags=re.M)
    return text, os.path.join(etc, "holdfast.conf")


def write_conf(text, conf):
    """Moves every listen port, writes the file; returns the ports."""
    text, ports = move_ports(text)
    with open(conf, "w") as f:
        f.write(text)
    return ports


def test_default_config_starts_and_answers_status(tmpdir_root):
    etc = os.path.join(tmpdir_root, "etc")
    os.mkdir(etc)
    with open(os.path.join(ROOT, "etc", "holdfast.conf")) as f:
        text = f.read()
    assert re.search(r"^rundir = /run/holdfast$", text, re.M)
    text = re.sub(r"^rundir = .*$", "rundir = %s/run" % tmpdir_root, text, flags=re.M)
    text = re.sub(r"^state_dir = .*$", "state_dir = %s/var" % tmpdir_root, text, flags=re.M)
    # Everything listens on loopback only.
    for addr in re.findall(r"^listen(?:_tls)? = (.*)$", text, re.M):
        for a in addr.split(","):
            assert a.strip().startswith(("127.", "[::1]")), a
    text, _ = move_ports(text)
    conf = os.path.join(etc, "holdfast.conf")
    with open(conf, "w") as f:
        f.write(text)
    p = subprocess.Popen([HOLDFASTD, "-f", "-c", conf], stderr=subprocess.PIPE, text=True)
    try:
        def status():
            r = subprocess.run([HOLDFASTCTL, "-c", conf, "status"], capture_output=True, text=True)
            return r if r.returncode == 0 else None
        r = wait_for(status, 10, what="status")
        assert "holdfastd pid %d" % p.pid in r.stdout
    finally:
        p.terminate()
        assert p.wait(5) == 0


def test_default_config_with_echo_enabled(tmpdir_root):
    """The echo section as shipped (TLS files under var/tls) works once enabled."""
    text, conf = shipped_conf(tmpdir_root)
    text = text.replace("[echo]\nenable = no", "[echo]\nenable = yes")
    # Default ports may be busy on a developer's machine: move them.
    port = write_conf(text, conf)[("echo", "listen")]
    p = subprocess.Popen([HOLDFASTD, "-f", "-c", conf], stderr=subprocess.PIPE, text=True)
    try:
        def up():
            try:
                c = LineClient(port)
                return c
            except OSError:
                return None
        c = wait_for(up, 10, what="echo to listen")
        assert c.readline().startswith("200")
        assert c.cmd("STARTTLS") == "382 begin TLS"
    finally:
        p.terminate()
        assert p.wait(5) == 0


def test_default_config_serves_news(tmpdir_root):
    """The news section as shipped is enabled: it greets, carries the
    configured groups, offers STARTTLS and answers holdfastctl news."""
    text, conf = shipped_conf(tmpdir_root)
    assert re.search(r"^\[news\]\nenable = yes$", text, re.M)
    port = write_conf(text, conf)[("news", "listen")]
    p = subprocess.Popen([HOLDFASTD, "-f", "-c", conf], stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                c = LineClient(port)
                return c
            except OSError:
                return None
        c = wait_for(up, 10, what="news to listen")
        assert c.readline().startswith("200 ")
        r = c.cmd("GROUP local.misc")
        assert r.startswith("211 ") and r.endswith(" local.misc"), r
        assert c.cmd("STARTTLS").startswith("382")
        r = subprocess.run([HOLDFASTCTL, "-c", conf, "news", "list"], capture_output=True, text=True)
        assert r.returncode == 0 and {"local.test", "local.misc"} <= {x.split()[0] for x in r.stdout.splitlines()}
    finally:
        p.terminate()
        assert p.wait(5) == 0


def test_default_config_serves_term(tmpdir_root):
    """The term section as shipped is enabled on loopback: an X.224
    Connection Request asking for TLS gets a Connection Confirm selecting
    PROTOCOL_SSL, and one asking for standard RDP security gets
    RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER (the bytes of issue 5)."""
    text, conf = shipped_conf(tmpdir_root)
    assert re.search(r"^\[term\]\nenable = yes$", text, re.M)
    port = write_conf(text, conf)[("term", "listen")]
    p = subprocess.Popen([HOLDFASTD, "-f", "-c", conf], stderr=subprocess.DEVNULL)

    def exchange(req):
        def up():
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                return None
        s = wait_for(up, 10, what="term to listen")
        try:
            s.sendall(req)
            got = b""
            while len(got) < 19:
                b = s.recv(19 - len(got))
                if not b:
                    break
                got += b
            return got
        finally:
            s.close()
    try:
        tls = bytes.fromhex("030000130ee000000000000100080001000000")
        assert exchange(tls)[11:16] == bytes.fromhex("0200080001"), "no Connection Confirm selecting TLS"
        std = bytes.fromhex("030000130ee000000000000100080000000000")
        want = bytes.fromhex("030000130ed000000000000300080001000000")
        got = exchange(std)
        # bytes 8-9 are the server's X.224 source reference, its choice
        assert got[:8] + got[10:] == want[:8] + want[10:], got.hex()
    finally:
        p.terminate()
        assert p.wait(5) == 0
