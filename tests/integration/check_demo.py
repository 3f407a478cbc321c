#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`levcal demo` on its embedded mock cluster: it must exit 0 within its
time and its output must show the volatility shock tightening leverage (at
least one TIGHTEN event line and the final table). Usage: check_demo.py
LEVCAL SECONDS."""
import re
import subprocess
import sys

levcal, seconds = sys.argv[1], sys.argv[2]
proc = subprocess.run([levcal, "demo", "--seconds", seconds], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, timeout=float(seconds) + 60)
out = proc.stdout.decode(errors="replace")
err = proc.stderr.decode(errors="replace")
print(out)
print(err, file=sys.stderr)
assert proc.returncode == 0, f"levcal demo exited {proc.returncode}"
tighten = [l for l in out.splitlines() if re.match(r"event .* TIGHTEN ", l)]
assert tighten, "no TIGHTEN event in the demo output"
assert re.search(r"\d+ leverage-limit events, [1-9]\d* TIGHTEN", out), "no summary line"
assert "AddressSanitizer" not in err and "runtime error:" not in err
print(f"ok: {len(tighten)} TIGHTEN event(s)")
