"""Real RDP clients for the term service's tests and bench/term.

Everything here runs on this machine and talks only to 127.0.0.1:

  Xvfb        a private X display (free number, no TCP) for the clients
  UnixUser    a Unix user with a random name and password, removed after
  RdpClient   Debian's xfreerdp (freerdp2-x11) or rdesktop under that display
  xdotool     typing into the client window
  screenshot  ImageMagick's `import -window root` (by full path, together
              with /usr/bin/convert: /usr/local/bin/convert may be a stand-in)
  ocr         the screenshot turned grey, negated (terminal text is light on
              dark), scaled 3-5x, thresholded and read with tesseract;
              wait_ocr tries several such preparations (OCR_VARIANTS) on
              each screenshot, since unifont's dotted zero often reads as 8

Every process started here is stopped by PID.  Fixtures for pytest are at
the end (xvfb, test_user, term_server)."""
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, wait_for

XVFB = "/usr/bin/Xvfb"
XFREERDP = "/usr/bin/xfreerdp"
RDESKTOP = "/usr/bin/rdesktop"
XDOTOOL = "/usr/bin/xdotool"
IMPORT = "/usr/bin/import"
CONVERT = "/usr/bin/convert"
TESSERACT = "/usr/bin/tesseract"
PAM_SRC = os.path.join(ROOT, "etc", "pam.d", "holdfast")
PAM_DST = "/etc/pam.d/holdfast"


def missing_tools(*paths):
    return [p for p in paths if not os.access(p, os.X_OK)]


def require(*paths):
    miss = missing_tools(*paths)
    if miss:
        pytest.skip("not installed: %s (scripts/deps.sh check)" % ", ".join(miss))


def _stop_pid(proc, timeout=5):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Xvfb:
    """A private X server on the first free display from 60 on."""

    def __init__(self, width=1280, height=1024, depth=24):
        self.width, self.height = width, height
        self.proc = None
        for n in range(60, 400):
            if not os.path.exists("/tmp/.X%d-lock" % n) and not os.path.exists("/tmp/.X11-unix/X%d" % n):
                self.num = n
                break
        else:
            raise RuntimeError("no free X display")
        self.display = ":%d" % self.num
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([XVFB, self.display, "-screen", "0", "%dx%dx%d" % (width, height, depth),
                                      "-nolisten", "tcp", "-noreset", "-br"], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("Xvfb %s exited (%s)" % (self.display, self.proc.returncode))
            return os.path.exists("/tmp/.X11-unix/X%d" % self.num)
        wait_for(up, 10, what="Xvfb " + self.display)
        self.env = dict(os.environ, DISPLAY=self.display)
        self.env.pop("XAUTHORITY", None)

    def run(self, args, timeout=20, check=True):
        return subprocess.run(args, env=self.env, capture_output=True, timeout=timeout, check=check)

    def stop(self):
        _stop_pid(self.proc)
        self.proc = None


class UnixUser:
    """A Unix user for one test: random name (hft + 8 letters/digits) and
    password, bash as shell, home in a temporary directory.  remove() ends
    whatever still runs as that user (by PID, from /proc) and deletes it."""

    def __init__(self, shell="/bin/bash"):
        if os.geteuid() != 0:
            pytest.skip("needs root (creates a Unix user)")
        alphabet = string.ascii_lowercase + string.digits
        self.name = "hft" + "".join(secrets.choice(alphabet) for _ in range(8))
        # Letters and digits only: xdotool types them the same in any layout.
        self.password = "Pw" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))
        self.home_parent = tempfile.mkdtemp(prefix="hf-user-")
        os.chmod(self.home_parent, 0o755)
        self.home = os.path.join(self.home_parent, self.name)
        subprocess.run(["useradd", "-m", "-d", self.home, "-s", shell, self.name], check=True,
                       capture_output=True)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (self.name, self.password), text=True, check=True,
                       capture_output=True)
        import pwd
        self.uid = pwd.getpwnam(self.name).pw_uid

    def pids(self):
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/status" % d) as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            if int(line.split()[1]) == self.uid:
                                out.append(int(d))
                            break
            except (FileNotFoundError, ProcessLookupError):
                continue
        return out

    def remove(self):
        # SIGTERM first: an X server of the user's (xrdp sessions) then
        # removes its /tmp/.X*-lock; SIGKILL what is left after 2 s.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + (2 if sig == signal.SIGTERM else 5)
            while pids and self.pids() and time.monotonic() < end:
                time.sleep(0.05)
        # userdel refuses while a process of the user lives (a killed one
        # may take a moment to be reaped by its parent): retry briefly.
        for _ in range(20):
            if subprocess.run(["userdel", "-r", self.name], capture_output=True).returncode in (0, 6, 12):
                break
            time.sleep(0.1)
        shutil.rmtree(self.home_parent, ignore_errors=True)


def install_pam():
    """The term service's PAM file, as scripts/run.sh installs it."""
    if os.geteuid() != 0:
        pytest.skip("needs root (PAM file, logins)")
    with open(PAM_SRC, "rb") as f:
        want = f.read()
    try:
        with open(PAM_DST, "rb") as f:
            if f.read() == want:
                return
    except FileNotFoundError:
        pass
    with open(PAM_DST + ".tmp", "wb") as f:
        f.write(want)
    os.chmod(PAM_DST + ".tmp", 0o644)
    os.rename(PAM_DST + ".tmp", PAM_DST)


class RdpClient:
    """xfreerdp or rdesktop in an Xvfb; output in a log file."""

    def __init__(self, xvfb, kind, port, user=None, password=None, width=1024, height=768, extra=(),
                 host="127.0.0.1"):
        self.xvfb, self.kind, self.port = xvfb, kind, port
        self.tmp = tempfile.mkdtemp(prefix="hf-rdpc-")
        self.logpath = os.path.join(self.tmp, "client.log")
        self.log = open(self.logpath, "wb")
        env = dict(xvfb.env, HOME=self.tmp)
        stdin = subprocess.DEVNULL
        if kind == "xfreerdp":
            cmd = [XFREERDP, "/v:%s:%d" % (host, port), "/sec:tls", "/cert:ignore", "/size:%dx%d" % (width, height),
                   "/bpp:16", "-clipboard", "/log-level:WARN"]
            if user is not None:
                cmd.append("/u:" + user)
            if password is not None:
                cmd.append("/p:" + password)
            self.title = "FreeRDP"
        elif kind == "rdesktop":
            cmd = [RDESKTOP, "-g", "%dx%d" % (width, height), "-a", "16", "-N"]
            if user is not None:
                cmd += ["-u", user]
            if password is not None:
                cmd += ["-p", password]
            cmd.append("%s:%d" % (host, port))
            self.title = "rdesktop"
            # rdesktop 1.9 asks on stdin whether to trust an unknown
            # certificate; it gets "yes".
            stdin = subprocess.PIPE
        else:
            raise ValueError(kind)
        self.cmd = cmd + list(extra)
        # Windows of other clients on this display are not ours.
        r = xvfb.run([XDOTOOL, "search", "--name", self.title], check=False)
        self.others = set(r.stdout.decode().split())
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=self.log, stderr=self.log, stdin=stdin,
                                     cwd=self.tmp)
        if stdin == subprocess.PIPE:
            try:
                self.proc.stdin.write(b"yes\n" * 4)
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass

    def alive(self):
        return self.proc.poll() is None

    def logtext(self):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("latin-1")

    def window(self, timeout=20):
        """The client's window id (waits for it to be mapped)."""
        def find():
            if not self.alive():
                raise AssertionError("%s exited (%s):\n%s" % (self.kind, self.proc.returncode, self.logtext()[-3000:]))
            r = self.xvfb.run([XDOTOOL, "search", "--onlyvisible", "--pid", str(self.proc.pid)], check=False)
            ids = r.stdout.decode().split()
            if not ids:
                # rdesktop sets no _NET_WM_PID: a new window with its title.
                r = self.xvfb.run([XDOTOOL, "search", "--onlyvisible", "--name", self.title], check=False)
                ids = [i for i in r.stdout.decode().split() if i not in self.others]
            return ids[-1] if ids else None
        return wait_for(find, timeout, step=0.1, what="%s window" % self.kind)

    def focus(self):
        """No window manager: keyboard focus follows the pointer, so put
        the pointer in the window and give it the focus explicitly."""
        win = self.window()
        self.xvfb.run([XDOTOOL, "mousemove", "--window", win, "40", "40"], check=False)
        self.xvfb.run([XDOTOOL, "windowfocus", "--sync", win], check=False)
        return win

    def type(self, text, delay_ms=40):
        """Types text; each "\\n" is a Return key (xdotool type turns a
        newline into a keysym on a scratch keycode, which xfreerdp, mapping
        X keycodes to scancodes, does not send)."""
        self.focus()
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if part:
                self.xvfb.run([XDOTOOL, "type", "--delay", str(delay_ms), "--", part], timeout=60)
            if i < len(parts) - 1:
                self.xvfb.run([XDOTOOL, "key", "Return"])

    def key(self, *keys):
        self.focus()
        self.xvfb.run([XDOTOOL, "key", "--delay", "40"] + list(keys))

    def stop(self):
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        _stop_pid(self.proc)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def screenshot(xvfb, path, window=None):
    xvfb.run([IMPORT, "-window", window or "root", path], timeout=30)
    return path


# Ways to prepare a screenshot for tesseract, tried in turn until the text
# sought is read.  Unifont's zero has a dot inside, which tesseract often
# takes for an 8 or a 9; a larger scale with a character whitelist reads
# digits reliably (it also drops spaces, so patterns should not depend on
# them), the plain variant reads words best.
OCR_VARIANTS = (
    {"resize": 300, "blur": 0, "threshold": 60, "whitelist": False},
    {"resize": 400, "blur": 0, "threshold": 60, "whitelist": True},
    {"resize": 400, "blur": 1, "threshold": 60, "whitelist": True},
    {"resize": 500, "blur": 0, "threshold": 60, "whitelist": False},
)
OCR_WHITELIST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-:>$._|"


def ocr(path, crop=None, variant=0):
    """Text of a screenshot of light-on-dark terminal text."""
    v = OCR_VARIANTS[variant % len(OCR_VARIANTS)]
    grey = path + ".grey%d.png" % variant
    args = [CONVERT, path]
    if crop:
        args += ["-crop", crop, "+repage"]
    args += ["-colorspace", "Gray", "-negate", "-resize", "%d%%" % v["resize"]]
    if v["blur"]:
        args += ["-blur", "0x%d" % v["blur"]]
    args += ["-threshold", "%d%%" % v["threshold"], grey]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    cmd = [TESSERACT, grey, "stdout", "--psm", "6"]
    if v["whitelist"]:
        cmd += ["-c", "tessedit_char_whitelist=" + OCR_WHITELIST, "-c", "preserve_interword_spaces=1"]
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    return r.stdout.decode("utf-8", "replace")


def wait_ocr(xvfb, pattern, timeout=30, workdir=None, window=None):
    """Screenshots until the OCR text matches pattern (a regex), trying
    every OCR_VARIANTS preparation on each; returns the match, or raises
    with the last texts read."""
    workdir = workdir or tempfile.gettempdir()
    rx = re.compile(pattern)
    end = time.monotonic() + timeout
    texts = []
    n = 0
    while time.monotonic() < end:
        n += 1
        p = screenshot(xvfb, os.path.join(workdir, "shot-%d.png" % n), window)
        texts = []
        for i in range(len(OCR_VARIANTS)):
            text = ocr(p, variant=i)
            texts.append(text)
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > end:
                break
        time.sleep(0.3)
    raise AssertionError("OCR never matched %r; last texts read:\n%s" % (pattern, "\n---\n".join(texts)))


def term_section(port, cert, key, **extra):
    d = {"enable": "yes", "listen": "127.0.0.1:%d" % port, "user": "nobody", "memory_max": "512m",
         "tls_cert": cert, "tls_key": key}
    d.update({k: str(v) for k, v in extra.items()})
    return d


def wait_listening(port, timeout=10):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout, step=0.05, what="127.0.0.1:%d" % port)


# ---- helpers shared by the term tests ----

PROMPT = "READY> "


def prepare_shell(user):
    """A prompt OCR can find: bash -l reads ~/.bash_profile."""
    path = os.path.join(user.home, ".bash_profile")
    with open(path, "w") as f:
        f.write("PS1='%s'\nexport PS1\n" % PROMPT)
    os.chown(path, user.uid, -1)


def start_term(holdfast, certs, **extra):
    """holdfastd with a [term] section on a free loopback port."""
    from conftest import free_port
    port = free_port()
    h = holdfast({"term": term_section(port, certs[0], certs[1], **extra)})
    wait_listening(port)
    return h, port


def read_home_file(user, name, timeout=20):
    """The stripped text of ~user/name once it exists and is not empty."""
    path = os.path.join(user.home, name)

    def got():
        try:
            with open(path) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None
    return wait_for(got, timeout, step=0.1, what=path)


# ---- pytest fixtures ----

@pytest.fixture
def xvfb():
    require(XVFB, XDOTOOL, IMPORT, CONVERT, TESSERACT)
    x = Xvfb()
    yield x
    x.stop()


@pytest.fixture
def test_user():
    install_pam()
    u = UnixUser()
    yield u
    u.remove()


@pytest.fixture
def rdp_clients():
    """Factory: rdp_clients(xvfb, kind, port, ...) -> RdpClient, stopped at teardown."""
    made = []

    def make(*a, **kw):
        c = RdpClient(*a, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.stop()
