"""The runtime's limits, reached through the echo test service over real
sockets: line length, request and connection budgets, write budget with
a peer that does not read, per-address and global connection limits,
handshake and idle timeouts, slow senders, STARTTLS.  Each limit is
counted in holdfastctl status and the connection (or the worker) goes on."""
import socket
import ssl
import time

from conftest import LineClient, echo_section, free_port, wait_for


def start(holdfast, **extra):
    port = free_port()
    h = holdfast({"echo": echo_section(port, **extra)})
    return h, port


def rejected(h, reason):
    return h.service("echo")["rejected"].get(reason, 0)


def test_line_at_limit_and_one_over(holdfast):
    h, port = start(holdfast)
    c = LineClient(port)
    c.readline()
    # 512 octets including CRLF is the limit (echo_line_max = 512).
    line = "ECHO " + "x" * (512 - 2 - 5)
    assert c.cmd(line) == "200 " + "x" * 505
    assert c.cmd(line + "y") == "500 line too long"
    # Resynchronised: the next command works on the same connection.
    assert c.cmd("PING") == "200 PONG"
    # A huge line (1 MiB) is swallowed with one error, never buffered.
    c.send("ECHO " + "z" * (1 << 20) + "\r\nPING\r\n")
    assert c.readline() == "500 line too long"
    assert c.readline() == "200 PONG"
    assert rejected(h, "line_too_long") == 2
    assert h.service("echo")["region_peak_bytes"] < 2 * 1024 * 1024


def test_nul_and_bare_cr(holdfast):
    h, port = start(holdfast)
    c = LineClient(port)
    c.readline()
    assert c.cmd("ECHO a\0b") == "501 bad argument"
    assert c.cmd("ECHO a\rb") == "501 bad argument"
    assert c.cmd("ECHO bare lf").startswith("200")
    c.send("PING\n")                         # bare LF framing is accepted
    assert c.readline() == "200 PONG"
    assert rejected(h, "nul_byte") == 1 and rejected(h, "bare_cr") == 1


def test_request_and_connection_budgets(holdfast):
    h, port = start(holdfast, connection_budget="64k", read_max="4k", write_budget="8k")
    c = LineClient(port)
    c.readline()
    assert c.cmd("ALLOC 1000") == "200 allocated 1000"
    assert c.cmd("ALLOC 100000") == "400 budget exceeded"
    assert c.cmd("HOLD 30000") == "200 holding 30000"
    assert c.cmd("HOLD 40000") == "400 budget exceeded"
    assert c.cmd("PING") == "200 PONG"
    # Request memory went back: the same ALLOC succeeds again and again.
    for _ in range(50):
        assert c.cmd("ALLOC 1000") == "200 allocated 1000"
    base = h.service("echo")["region_bytes"]
    assert c.cmd("QUIT") == "205 bye"
    assert c.closed_by_peer()
    c.close()                   # the server lingers for our FIN after its own
    after = wait_for(lambda: (lambda s: s if s["connections"] == 0 else None)(h.service("echo")), 5,
                     what="close")
    # Closing the connection returned its charge (HOLD included) to the worker.
    assert base - after["region_bytes"] >= 30000
    assert rejected(h, "budget") == 2


def test_worker_budget_refuses_connection_memory(holdfast):
    # 16m cap -> 12m worker budget; 200 connections each holding 60k = 12m.
    h, port = start(holdfast, memory_max="16m", connection_budget="64k", read_max="4k", write_budget="4k",
                    max_connections_per_address=1000, max_connections=1000)
    # Past the worker budget, either HOLD is refused or the connection is
    # refused at accept (no memory for its region); both are counted.
    clients, refused = [], 0
    for i in range(260):
        c = LineClient(port)
        clients.append(c)
        try:
            c.readline()
            r = c.cmd("HOLD 60000")
        except (EOFError, ConnectionResetError):
            refused += 1
            continue
        assert r in ("200 holding 60000", "400 budget exceeded")
        refused += r == "400 budget exceeded"
    assert refused > 0
    s = h.service("echo")
    assert s["region_bytes"] <= s["budget_bytes"]
    assert rejected(h, "budget") + s["refused"]["budget"] == refused
    for c in clients:
        c.close()
    wait_for(lambda: h.service("echo")["connections"] == 0, 10, what="connections to close")
    c = LineClient(port)
    assert c.readline().startswith("200") and c.cmd("HOLD 60000") == "200 holding 60000"


def test_peer_that_does_not_read(holdfast):
    h, port = start(holdfast, write_budget="64k")
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.recv(100)
    # 20 MB of pipelined commands whose answers we never read.
    line = b"ECHO " + b"a" * 200 + b"\r\n"
    chunk = line * 1000
    sent = 0
    s.setblocking(False)
    end = time.monotonic() + 10
    while sent < 20 * 1024 * 1024 and time.monotonic() < end:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.01)
    st = h.service("echo")
    # The server stopped reading us: it holds at most read_max + write_budget + overhead.
    assert sent < 20 * 1024 * 1024
    assert st["region_bytes"] < 1024 * 1024
    other = LineClient(port)
    assert other.readline().startswith("200") and other.cmd("PING") == "200 PONG"
    s.close()


def test_per_address_limit(holdfast):
    h, port = start(holdfast, max_connections_per_address=3)
    keep = [LineClient(port) for _ in range(3)]
    for c in keep:
        assert c.readline().startswith("200")
    extra = LineClient(port)
    assert extra.closed_by_peer(5)
    assert h.service("echo")["refused"]["address_limit"] == 1
    # Another source address (127.0.0.2) is not affected.
    other = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0), timeout=5)
    assert other.recv(100).startswith(b"200")


def test_global_limit(holdfast):
    h, port = start(holdfast, max_connections=2)
    keep = [LineClient(port) for _ in range(2)]
    for c in keep:
        c.readline()
    extra = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.3", 0), timeout=5)
    assert extra.recv(100) == b""
    assert h.service("echo")["refused"]["global_limit"] == 1


def test_handshake_timeout_and_slow_sender(holdfast):
    h, port = start(holdfast, handshake_timeout="1s", idle_timeout="2s")
    c = LineClient(port)
    c.readline()
    # One byte every 200 ms never completes a line within the handshake timeout.
    c.sock.settimeout(5)
    closed = False
    for ch in "PINGPINGPING":
        try:
            c.sock.send(ch.encode())
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        time.sleep(0.2)
    assert c.readline() == "400 timeout"
    assert closed or c.closed_by_peer(3)
    assert rejected(h, "handshake_timeout") == 1


def test_idle_timeout(holdfast):
    h, port = start(holdfast, idle_timeout="1s")
    c = LineClient(port)
    c.readline()
    assert c.cmd("PING") == "200 PONG"
    assert c.closed_by_peer(5)
    assert "400 timeout" in c.buf.decode()
    assert rejected(h, "idle_timeout") == 1


def test_pipelined_garbage(holdfast):
    h, port = start(holdfast, echo_max_errors=1000000)
    c = LineClient(port)
    c.readline()
    c.send(b"\x01\x02garbage\xff\r\n" * 10000 + b"PING\r\n")
    for _ in range(10000):
        assert c.readline() == "500 unknown command"
    assert c.readline() == "200 PONG"


def test_error_budget_closes(holdfast):
    h, port = start(holdfast, echo_max_errors=5)
    c = LineClient(port)
    c.readline()
    for _ in range(4):
        assert c.cmd("NOPE") == "500 unknown command"
    assert c.cmd("NOPE") == "500 unknown command"
    assert c.readline() == "400 too many errors"
    assert c.closed_by_peer()


def test_starttls_and_implicit_tls(holdfast, certs):
    cert, key = certs
    port, tport = free_port(), free_port()
    h = holdfast({"echo": echo_section(port, tls_cert=cert, tls_key=key, listen_tls="127.0.0.1:%d" % tport)})
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = LineClient(port)
    c.readline()
    assert c.cmd("STARTTLS") == "382 begin TLS"
    c.sock = ctx.wrap_socket(c.sock)
    assert c.cmd("PING") == "200 PONG"
    assert c.cmd("STARTTLS") == "502 TLS not available"
    raw = socket.create_connection(("127.0.0.1", tport), timeout=5)
    t = LineClient.__new__(LineClient)
    t.sock, t.buf = ctx.wrap_socket(raw), b""
    assert t.readline().startswith("200") and t.cmd("ECHO secret") == "200 secret"
    # Garbage instead of a TLS ClientHello: the connection is closed, the worker goes on.
    g = socket.create_connection(("127.0.0.1", tport), timeout=5)
    g.sendall(b"GET / HTTP/1.0\r\n\r\n")
    g.settimeout(5)
    try:
        while g.recv(1000):
            pass
    except ConnectionResetError:
        pass
    assert t.cmd("PING") == "200 PONG"
