"""term service: resizing through the display control channel with a real
client.  xfreerdp /dynamic-resolution logs in to a test user at 640x480;
its window is then resized with xdotool to 1000x700; the shell must see
the new terminal size (`stty size` run after the resize says 43 rows,
125 columns: 700/16 and 1000/8), and typing still works.

Needs root (test user, PAM) and Xvfb, xfreerdp, xdotool (scripts/deps.sh);
skipped otherwise."""
import os

import pytest

from conftest import ROOT, free_port, wait_for
from rdplib import (XDOTOOL, XFREERDP, rdp_clients, read_home_file, require, term_section, test_user,  # noqa: F401
                    wait_listening, xvfb)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "src", "rdp", "dvc.c")), reason="display control not built")



def test_xfreerdp_dynamic_resolution(holdfast, certs, xvfb, test_user, rdp_clients):
    require(XFREERDP, XDOTOOL)
    port = free_port()
    h = holdfast({"term": term_section(port, certs[0], certs[1])})
    wait_listening(port)
    c = rdp_clients(xvfb, "xfreerdp", port, user=test_user.name, password=test_user.password, width=640,
                    height=480, extra=("/dynamic-resolution",))
    win = c.window()

    def shell():
        for p in test_user.pids():
            try:
                with open("/proc/%d/comm" % p) as f:
                    if f.read().strip() in ("bash", "sh", "dash"):
                        return True
            except OSError:
                pass
        return False
    wait_for(shell, 40, step=0.2, what="a shell of the test user")
    c.type("stty size > .hf-size-0\n")
    assert read_home_file(test_user, ".hf-size-0") == "30 80"          # 480/16, 640/8
    xvfb.run([XDOTOOL, "windowsize", win, "1000", "700"])
    wait_for(lambda: "resize 640x480 -> 1000x700" in h.logtext(), 20, step=0.2, what="the server's resize")
    c.type("stty size > .hf-size-1\n")
    assert read_home_file(test_user, ".hf-size-1") == "43 125"
    assert c.alive()
