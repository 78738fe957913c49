"""term service, the screen as real clients draw it (issue 5): colours,
wide glyphs and keys through xfreerdp and rdesktop under Xvfb.

- Colours: the shell prints a red (SGR 41), a blue (SGR 44) and a
  truecolour green (48;2;0;200;0) block side by side; in a screenshot of
  the client's window each colour covers about the area it should and
  they come in that order from left to right.  A codec that swapped red
  and blue, or mangled the pixel format, fails this (OCR would not
  notice).  Run with xfreerdp and rdesktop at the default depth (16 bpp,
  interleaved RLE), and at 24 (RLE) and 32 bpp (planar) through the
  `color_depth` key (skipped if term.c has none).
- Wide glyphs: `日本語.txt` printed by the shell is read back by tesseract's
  Japanese model from the window.
- Keys: Ctrl+C interrupts a running `sleep` (the shell prints its prompt
  again at once), and an arrow key recalls the previous command.

Needs root (test users, PAM) and Xvfb, xfreerdp, rdesktop, xdotool,
ImageMagick, tesseract with eng and jpn data (scripts/deps.sh)."""
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT
from rdplib import (CONVERT, RDESKTOP, TESSERACT, XFREERDP, rdp_clients, require,  # noqa: F401
                    prepare_shell, read_home_file, screenshot, start_term, test_user,
                    wait_ocr, xvfb)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "src", "rdp", "term.c")), reason="term service not built yet")

TERM_C = os.path.join(ROOT, "src", "rdp", "term.c")


def has_color_depth_key():
    try:
        with open(TERM_C) as f:
            return '"color_depth"' in f.read()
    except OSError:
        return False





def read_ppm(path):
    """(width, height, bytes RGB) of an image, through ImageMagick."""
    r = subprocess.run([CONVERT, path, "-depth", "8", "ppm:-"], check=True, capture_output=True, timeout=60)
    data = r.stdout
    # P6\n<w> <h>\n<max>\n<pixels>
    fields, pos = [], 0
    while len(fields) < 4:
        m = re.compile(rb"\s*(#[^\n]*\n\s*)*(\S+)").match(data, pos)
        fields.append(m.group(2))
        pos = m.end()
    assert fields[0] == b"P6" and fields[3] == b"255", fields
    pos += 1
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos:pos + 3 * w * h]


def colour_blocks(path):
    """Pixel count and mean x of red, blue and green pixels."""
    w, h, px = read_ppm(path)
    stats = {"red": [0, 0], "blue": [0, 0], "green": [0, 0]}
    for i in range(0, len(px), 3):
        r, g, b = px[i], px[i + 1], px[i + 2]
        if r > 150 and g < 80 and b < 80:
            k = "red"
        elif b > 150 and r < 80 and g < 80:
            k = "blue"
        elif g > 150 and r < 80 and b < 80:
            k = "green"
        else:
            continue
        stats[k][0] += 1
        stats[k][1] += (i // 3) % w
    return {k: (n, (sx / n if n else -1)) for k, (n, sx) in stats.items()}


def check_colours(xvfb, client, user, win, tmp_path):
    client.type("printf '\\e[41m%24s\\e[44m%24s\\e[48;2;0;200;0m%24s\\e[0m\\n' '' '' ''; "
                "echo done > .hf-colours\n")
    assert read_home_file(user, ".hf-colours") == "done"
    # 24 cells of 8x16 px each: 3072 px a block.
    want = 24 * 8 * 16
    last = None
    for attempt in range(20):
        shot = screenshot(xvfb, str(tmp_path / ("colours-%d.png" % attempt)), win)
        last = colour_blocks(shot)
        if all(n >= want * 0.9 for n, _ in last.values()):
            break
        time.sleep(0.5)
    for k, (n, _) in last.items():
        assert want * 0.9 <= n <= want * 1.1, (k, last)
    assert last["red"][1] < last["blue"][1] < last["green"][1], last


def login(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, kind, extra=(), **term_extra):
    require(XFREERDP if kind == "xfreerdp" else RDESKTOP)
    prepare_shell(test_user)
    h, port = start_term(holdfast, certs, **term_extra)
    c = rdp_clients(xvfb, kind, port, user=test_user.name, password=test_user.password, extra=extra)
    win = c.window()
    wait_ocr(xvfb, r"READY", timeout=40, workdir=str(tmp_path), window=win)
    return h, c, win


@pytest.mark.parametrize("kind", ["xfreerdp", "rdesktop"])
def test_colours(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, kind):
    h, c, win = login(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, kind)
    check_colours(xvfb, c, test_user, win, tmp_path)
    assert c.alive()


@pytest.mark.skipif(not has_color_depth_key(), reason="term has no color_depth key yet")
@pytest.mark.parametrize("kind,bpp", [("xfreerdp", 24), ("xfreerdp", 32), ("rdesktop", 24), ("rdesktop", 32)])
def test_colours_at_depth(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, kind, bpp):
    extra = ["/bpp:%d" % bpp] if kind == "xfreerdp" else ["-a", str(bpp)]
    h, c, win = login(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, kind, extra=extra,
                      color_depth=bpp)
    # The server chose that depth (term logs it with the client's core data).
    assert re.search(r", %d bpp," % bpp, h.logtext()), h.logtext()[-2000:]
    check_colours(xvfb, c, test_user, win, tmp_path)
    assert c.alive()


def test_japanese_file_name(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path):
    require(TESSERACT)
    langs = subprocess.run([TESSERACT, "--list-langs"], capture_output=True, timeout=30).stdout.decode()
    if "jpn" not in langs.split():
        pytest.skip("tesseract has no Japanese data (tesseract-ocr-jpn)")
    h, c, win = login(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, "xfreerdp")
    # Typed as octal escapes: the keyboard has no kana.
    c.type("clear; printf '\\346\\227\\245\\346\\234\\254\\350\\252\\236.txt\\n'; echo ok > .hf-jp\n")
    assert read_home_file(test_user, ".hf-jp") == "ok"
    text = ""
    for attempt in range(10):
        shot = screenshot(xvfb, str(tmp_path / ("jp-%d.png" % attempt)), win)
        grey = shot + ".grey.png"
        subprocess.run([CONVERT, shot, "-crop", "400x120+0+0", "+repage", "-colorspace", "Gray", "-negate",
                        "-resize", "300%", "-threshold", "60%", grey], check=True, capture_output=True, timeout=60)
        r = subprocess.run([TESSERACT, grey, "stdout", "-l", "jpn", "--psm", "6"], capture_output=True, timeout=120)
        text = r.stdout.decode("utf-8", "replace")
        if "日本語" in text.replace(" ", ""):
            break
        time.sleep(0.5)
    assert "日本語" in text.replace(" ", ""), text


def test_ctrl_c_and_arrow(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path):
    h, c, win = login(holdfast, certs, xvfb, test_user, rdp_clients, tmp_path, "xfreerdp")
    c.type("sleep 600\n")
    time.sleep(1)
    c.key("ctrl+c")
    # Ctrl+C ended the sleep: the next command runs at once.
    c.type("echo interrupted > .hf-int\n")
    assert read_home_file(test_user, ".hf-int", timeout=15) == "interrupted"
    # Up recalls "echo interrupted > .hf-int"; edit its file name with
    # Left/BackSpace (Home/End and editing keys come through vterm).
    os.unlink(os.path.join(test_user.home, ".hf-int"))
    c.key("Up", "BackSpace", "BackSpace", "BackSpace", "BackSpace", "BackSpace", "BackSpace", "BackSpace")
    c.type("hf-up\n")
    assert read_home_file(test_user, "hf-up", timeout=15) == "interrupted"
