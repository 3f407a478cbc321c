# SPDX-License-Identifier: Apache-2.0
"""Helpers of the `levcal calibrate` CLI tests: run it, read what it wrote.

The YAML snippet is read with a small parser for the block style calibrate
writes (the test virtualenv has no YAML library, and the point is to read
exactly what a user pastes); the numbers in its comments (standard errors,
log-likelihoods, the mean) with regular expressions; the report's tables
with html.parser.
"""
from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import kit
import make_inputs

CONFIG_DIR = make_inputs.HERE


def config(name: str) -> Path:
    return CONFIG_DIR / name


def calibrate(cfg: Path, inputs, *extra: str, timeout: float = 180, env=None) -> kit.Finished:
    args = ["calibrate", "-c", str(cfg), "--input", *[str(p) for p in inputs], *extra]
    return kit.run_levcal(args, timeout=timeout, env=env)


# ---------------------------------------------------------------------------
# The YAML snippet
# ---------------------------------------------------------------------------

def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    try:
        return float(text)
    except ValueError:
        return text


def parse_snippet(text: str) -> dict:
    """{instrument: {"volatility.garch.omega": value, ...}} plus, per key, the
    comment on its line under "<key>#"."""
    out: dict = {}
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        body, _, comment = raw.strip().partition(" #")
        key, sep, value = body.partition(":")
        assert sep, f"not a mapping line: {raw!r}"
        key = _scalar(key)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack:
            assert indent == 2, f"instrument keys sit at two spaces: {raw!r}"
            out[key] = {}
            stack.append((indent, key))
            continue
        path = ".".join([k for _, k in stack[1:]] + [key])
        if value.strip():
            out[stack[0][1]][path] = _scalar(value)
            if comment:
                out[stack[0][1]][path + "#"] = comment.strip()
        else:
            stack.append((indent, key))
    return out


def instrument_block(text: str, instrument: str) -> str:
    """The lines of the snippet that belong to one instrument, comments
    included (from its leading comment to the next instrument's)."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(f"  # {instrument}:"))
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if re.match(r"^  # \S+: \d+ source ticks", lines[i]):
            end = i
            break
    return "\n".join(lines[start:end])


def se_of(comment: str) -> tuple[float, float]:
    """(se, robust se) from a parameter line's comment."""
    m = re.fullmatch(r"se (\S+) \(robust (\S+)\)", comment)
    assert m, comment
    return float(m.group(1)), float(m.group(2))


def garch_comment_numbers(block: str) -> dict:
    m = re.search(r"logL (-?[\d.]+),", block)
    mu = re.search(r"mean mu (\S+) \(se (\S+)\) estimated", block)
    assert m and mu, block
    return {"loglik": float(m.group(1)), "mu": float(mu.group(1)), "mu_se": float(mu.group(2))}


def lre(x: float, ref: float) -> float:
    return 16.0 if x == ref else -math.log10(abs(x - ref) / abs(ref))


def check_config_with(base: Path, snippet: str) -> kit.Finished:
    """Runs `levcal check-config` on base + "instruments:" + the snippet."""
    text = base.read_text().rstrip("\n") + "\ninstruments:\n" + snippet
    path = kit.write_config(text)
    return kit.run_levcal(["check-config", "-c", str(path)], timeout=60)


# ---------------------------------------------------------------------------
# The summary table (stderr)
# ---------------------------------------------------------------------------

def summary_rows(stderr: str) -> dict:
    """{(instrument, "IM"|"MM", side): {trials, exceed, rate, expected, p_pof,
    p_ind, p_cc, verdict}} from the coverage part of the summary."""
    rows = {}
    rx = re.compile(r"^  (\S.{0,15}?)\s+(IM|MM) (long|short|either)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)"
                    r"\s+(\S+)\s+(\S+)\s+(\S+)\s+(.+)$")
    for line in stderr.splitlines():
        m = rx.match(line)
        if not m:
            continue
        num = lambda s: math.nan if s == "n/a" else float(s)  # noqa: E731
        rows[(m.group(1).strip(), m.group(2), m.group(3))] = {
            "trials": int(m.group(4)), "exceed": int(m.group(5)), "rate": num(m.group(6)),
            "expected": num(m.group(7)), "p_pof": num(m.group(8)), "p_ind": num(m.group(9)),
            "p_cc": num(m.group(10)), "verdict": m.group(11).strip()}
    return rows


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

class _Tables(HTMLParser):
    """Every <table> of a page as lists of cell texts, with the id of the
    <section> it is in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[str | None, list[list[str]]]] = []
        self._section: str | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id")
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self._section, self._rows))
            self._rows = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def report_tables(html: str) -> list[tuple[str | None, list[list[str]]]]:
    p = _Tables()
    p.feed(html)
    return p.tables


def coverage_table(html: str, section: str | None) -> dict:
    """{("IM"|"MM", side): row dict} of the coverage table in a section."""
    for sec, rows in report_tables(html):
        if sec == section and rows and rows[0][:2] == ["margin", "side"]:
            out = {}
            for r in rows[1:]:
                num = lambda s: math.nan if s == "n/a" else float(s)  # noqa: E731
                m = "IM" if r[0].startswith("initial") else "MM"
                out[(m, r[1])] = {"trials": int(r[2]), "exceed": int(r[3]), "rate": num(r[4]),
                                  "expected": num(r[5]), "lr_pof": num(r[6]), "p_pof": num(r[7]),
                                  "lr_ind": num(r[8]), "p_ind": num(r[9]), "lr_cc": num(r[10]),
                                  "p_cc": num(r[11]), "verdict": r[12],
                                  "overlap_trials": int(r[13]), "overlap_exceed": int(r[14])}
            return out
    raise AssertionError(f"no coverage table in section {section!r}")
