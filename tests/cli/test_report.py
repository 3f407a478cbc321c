# SPDX-License-Identifier: Apache-2.0
"""The report of `levcal calibrate --report FILE.html` (issue 7), no broker.

- The file is self-contained: no script, no external style, font, image or
  link; every <svg> is well-formed XML whose series paths hold finite
  coordinates inside the chart; the title names the config_id and the
  input files; the tables hold the fitted parameters with their standard
  errors and the coverage tests with a verdict at 5%.
- It opens in headless Chromium (Debian's chromium) without a console
  message; the DOM Chromium builds has every chart; the screenshot is not
  blank: the chart colours are there, in bands down the page (decoded here
  with zlib and struct, no imaging library).

The screenshot and the report are copied to $LVC_ARTIFACT_DIR (the build's
cli-artifacts/) for a look by hand.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import calib_util as cu
import kit
import make_inputs

CHROMIUM = os.environ.get("LVC_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Series colours of src/app/report.c.
PRICE = (0x1F, 0x77, 0xB4)
LEVERAGE = (0x2C, 0xA0, 0x2C)
IM_MARK = (0xD6, 0x27, 0x28)


def _report(tmp_path: Path) -> tuple[Path, dict, kit.Finished]:
    info = make_inputs.garch_market(tmp_path)
    out = tmp_path / "report.html"
    res = cu.calibrate(cu.config("garch_market.yaml"), info["paths"], "--report", str(out))
    assert res.returncode == 0, res.stderr
    return out, info, res


def _numbers(d: str) -> list[float]:
    toks = re.findall(r"[MLHVZ]|[^\sMLHVZ]+", d)
    out = []
    for t in toks:
        if t in "MLHVZ":
            continue
        out.append(float(t))  # raises on anything that is not a number
    return out


def test_report_is_self_contained_and_its_charts_are_well_formed(tmp_path):
    path, info, _ = _report(tmp_path)
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    low = html.lower()
    for bad in ("<script", "<link", "<img", "<iframe", "@import", "http://", "https://", " src="):
        assert bad not in low, bad
    # The only references are to the page itself (#anchors, #clip paths).
    for m in re.finditer(r'(?:href|xlink:href)="([^"]*)"', html):
        assert m.group(1).startswith("#"), m.group(0)
    for m in re.finditer(r"url\(([^)]*)\)", html):
        assert m.group(1).startswith("#"), m.group(0)

    title = re.search(r"<title>(.*?)</title>", html).group(1)
    cfg_id = re.search(r"config_id ([0-9a-f]{16})", title).group(1)
    head = html[: html.index("<h2>")]
    assert cfg_id in head
    for p in info["paths"]:
        assert f"<code>{p}</code>" in head, p

    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 3 * 2, "price, sigma and leverage per instrument"
    ids = set()
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML
        w, h = float(root.get("width")), float(root.get("height"))
        series = [p for p in root.iter("path") if p.get("class") == "series"]
        assert series, "a chart without a series path"
        for p in root.iter("path"):
            nums = _numbers(p.get("d"))
            assert nums, "an empty path"
            assert all(math.isfinite(v) for v in nums)
        for p in series:
            nums = _numbers(p.get("d"))
            xs, ys = nums[0::2], nums[1::2]
            assert all(-20 <= x <= w + 20 for x in xs) and all(-20 <= y <= h + 20 for y in ys)
        clip = root.find("defs/clipPath").get("id")
        assert clip not in ids
        ids.add(clip)
        assert root.find("title").text
    # The price and sigma charts have many vertices: a long series downsampled.
    first = ET.fromstring(svgs[0])
    price = next(p for p in first.iter("path") if p.get("class") == "series")
    assert 1000 < len(_numbers(price.get("d"))) // 2 <= 4 * 1100

    # Fitted parameters with standard errors, coverage with verdicts.
    tables = cu.report_tables(html)
    par = [rows for sec, rows in tables if sec == "ins-0" and rows[0][0] == "model"][0]
    omega = next(r for r in par if r[1].startswith("omega"))
    assert float(omega[2]) > 0 and float(omega[3]) > 0 and float(omega[4]) > 0
    cov = cu.coverage_table(html, "ins-0")
    assert {v["verdict"].split(":")[0] for v in cov.values()} <= {"pass", "reject", "no test"}
    pooled = cu.coverage_table(html, None)
    assert pooled[("IM", "long")]["trials"] == (cu.coverage_table(html, "ins-0")[("IM", "long")]["trials"]
                                                + cu.coverage_table(html, "ins-1")[("IM", "long")]["trials"])


# ---------------------------------------------------------------------------
# PNG (RGB or RGBA, 8 bits, not interlaced: what Chromium writes)
# ---------------------------------------------------------------------------

def _add_bytes(a: bytes, b: bytes) -> bytes:
    """Bytewise (a + b) mod 256 in one big-integer operation (SWAR)."""
    n = len(a)
    m7 = int.from_bytes(b"\x7f" * n, "big")
    m8 = int.from_bytes(b"\x80" * n, "big")
    x, y = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    return (((x & m7) + (y & m7)) ^ ((x ^ y) & m8)).to_bytes(n, "big")


def read_png(path: Path) -> tuple[int, int, int, list[bytes]]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, hdr
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytes(stride)
    for r in range(h):
        f = raw[r * (stride + 1)]
        cur = raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)]
        if f == 0:
            row = cur
        elif f == 2:
            row = _add_bytes(cur, prev)
        else:
            out = bytearray(cur)
            for i in range(stride):
                a = out[i - bpp] if i >= bpp else 0
                b = prev[i]
                if f == 1:
                    out[i] = (out[i] + a) & 255
                elif f == 3:
                    out[i] = (out[i] + ((a + b) >> 1)) & 255
                else:
                    c = prev[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    out[i] = (out[i] + pr) & 255
            row = bytes(out)
        rows.append(row)
        prev = row
    return w, h, bpp, rows


def _colour_rows(rows, w, bpp, rgb, tol=40):
    """{row: pixels within tol (per channel) of rgb}."""
    out = {}
    for y, row in enumerate(rows):
        n = 0
        for x in range(0, w * bpp, bpp):
            if abs(row[x] - rgb[0]) <= tol and abs(row[x + 1] - rgb[1]) <= tol and \
                    abs(row[x + 2] - rgb[2]) <= tol:
                n += 1
        if n:
            out[y] = n
    return out


def _chromium(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    assert os.access(CHROMIUM, os.X_OK), (f"{CHROMIUM} is missing: install Debian's chromium "
                                           f"(deploy/install-deps.sh) or set LVC_CHROMIUM")
    ud = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={ud}", *args]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=kit.timeout(timeout), env={**os.environ, "HOME": str(tmp_path)})


def test_report_renders_in_headless_chromium(tmp_path):
    path, info, _ = _report(tmp_path)
    url = path.resolve().as_uri()

    # The DOM Chromium builds from the file: every chart is in it.
    dom = _chromium(["--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    text = dom.stdout.decode()
    assert text.count("<svg") == 6 and text.count('class="series"') >= 6 and "</html>" in text

    png = tmp_path / "report.png"
    shot = _chromium(["--enable-logging=stderr", "--v=0", f"--screenshot={png}",
                      "--window-size=1400,3000", url], tmp_path)
    log = shot.stderr.decode(errors="replace")
    assert shot.returncode == 0, log[-2000:]
    # No console message at all (the page has no script; a parse problem
    # or a blocked resource would show here).
    console = [l for l in log.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    assert not console, console

    w, h, bpp, rows = read_png(png)
    assert (w, h) == (1400, 3000)
    white = 0
    for row in rows:
        white += sum(1 for x in range(0, w * bpp, bpp)
                     if row[x] >= 250 and row[x + 1] >= 250 and row[x + 2] >= 250)
    non_white = 1 - white / (w * h)
    price, lev, im = (_colour_rows(rows, w, bpp, c) for c in (PRICE, LEVERAGE, IM_MARK))
    print(f"screenshot {png}: {non_white:.1%} non-white; price-blue pixels "
          f"{sum(price.values())} in {len(price)} rows, leverage-green {sum(lev.values())} in "
          f"{len(lev)} rows, margin-red {sum(im.values())}")
    assert 0.02 < non_white < 0.6, "blank or solid"
    # The price line is drawn (a band of rows, not one legend swatch), and
    # the leverage step line further down the page.
    assert sum(price.values()) > 2000 and len(price) > 100
    assert sum(lev.values()) > 800 and len(lev) > 40
    assert max(lev) > min(price) + 300, "the leverage chart sits below the price chart"

    art = os.environ.get("LVC_ARTIFACT_DIR")
    if art:
        Path(art).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(art) / "report.png")
        shutil.copy(path, Path(art) / "report.html")
        print(f"copied to {Path(art) / 'report.png'}")
