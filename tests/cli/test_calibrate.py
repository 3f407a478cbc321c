# SPDX-License-Identifier: Apache-2.0
"""`levcal calibrate` end to end (SPEC §7, issue 7), no broker.

- The Fiorentini-Calzolari-Panattoni benchmark through the whole command:
  the DEM/GBP returns as one trade a day, daily bars; the GARCH(1,1) that
  calibrate prints must be the published one (the returns are percent in
  the benchmark and fractions here: omega scales by 1e-4, mu by 1e-2, the
  log-likelihood by n ln 100), and the snippet it writes must pass
  check-config under `instruments:`.
- A simulated two-instrument market with known GARCH parameters: the fit
  recovers them within two standard errors, and the tail rule tells the
  Student-t instrument from the normal one.
- Coverage counts and tests on a short series counted by hand, against
  Kupiec's and Christoffersen's formulas computed here.
- Exit codes and error messages, a clean stdout, the progress line on a
  terminal.
"""
from __future__ import annotations

import json
import math
import os
import pty
import re
import subprocess
import time
from statistics import NormalDist

import calib_util as cu
import kit
import make_inputs

# Published FCP estimates and Hessian standard errors (../shared/data/README.md)
# and the same estimates to 11-12 digits (FCP's corrected program, TSP 4.4).
FCP = {"mu": -0.00619041, "omega": 0.0107613, "alpha": 0.153134, "beta": 0.805974}
FCP_SE = {"mu": 0.00846212, "omega": 0.00285271, "alpha": 0.0265228, "beta": 0.0335527}
FCP_LL = -1106.608
TSP = {"mu": -0.006190408379994, "omega": 0.0107613978518, "alpha": 0.153134061820,
       "beta": 0.805973670305}


def test_dem2gbp_garch_is_the_published_fcp_benchmark(tmp_path):
    info = make_inputs.dem2gbp(tmp_path)
    written = tmp_path / "fitted.yaml"
    t0 = time.monotonic()
    res = cu.calibrate(cu.config("dem2gbp.yaml"), info["paths"], "--write", str(written))
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    assert written.read_text() == res.stdout, "--write holds the same snippet as stdout"

    snip = cu.parse_snippet(res.stdout)
    ins = snip["DEM2GBP"]
    block = cu.instrument_block(res.stdout, "DEM2GBP")
    n = info["n_returns"]
    assert f"{n} bar returns of 1d" in block
    g = cu.garch_comment_numbers(block)
    # Percent returns in the benchmark, fractions here.
    got = {"mu": g["mu"] * 100.0, "omega": ins["volatility.garch.omega"] * 1e4,
           "alpha": ins["volatility.garch.alpha"], "beta": ins["volatility.garch.beta"]}
    se = {"mu": g["mu_se"] * 100.0,
          "omega": cu.se_of(ins["volatility.garch.omega#"])[0] * 1e4,
          "alpha": cu.se_of(ins["volatility.garch.alpha#"])[0],
          "beta": cu.se_of(ins["volatility.garch.beta#"])[0]}
    ll = g["loglik"] - n * math.log(100.0)

    print(f"levcal calibrate on dem2gbp ({n} daily returns, {info['n_trades']} trades): "
          f"{elapsed:.2f} s")
    print(f"  {'param':6} {'calibrate':>16} {'published':>12} {'LRE':>6} {'LRE(TSP)':>8} "
          f"{'se':>12} {'published':>12} {'LRE':>6}")
    for k in ("mu", "omega", "alpha", "beta"):
        print(f"  {k:6} {got[k]:16.10g} {FCP[k]:12.6g} {cu.lre(got[k], FCP[k]):6.2f} "
              f"{cu.lre(got[k], TSP[k]):8.2f} {se[k]:12.6g} {FCP_SE[k]:12.6g} "
              f"{cu.lre(se[k], FCP_SE[k]):6.2f}")
    print(f"  logL   {ll:16.10g} {FCP_LL:12.7g} {cu.lre(ll, FCP_LL):6.2f} "
          f"(calibrate prints {g['loglik']:.6f} for fractional returns)")
    for k in FCP:
        assert cu.lre(got[k], FCP[k]) >= 4.0, k
        assert cu.lre(got[k], TSP[k]) >= 6.0, k
        assert cu.lre(se[k], FCP_SE[k]) >= 4.0, k
    assert cu.lre(ll, FCP_LL) >= 4.0
    # The constant mean is estimated (the core default), and said so.
    assert "mean mu" in block and "estimated" in block
    # DEM/GBP is known to be fat-tailed: the rule writes a Student t.
    assert ins["leverage.tail"] == "student_t"
    assert 3.0 < ins["leverage.tail_nu"] < 6.0
    assert re.fullmatch(r"\d+[dhms].*", str(ins["volatility.half_life"])), ins

    chk = cu.check_config_with(cu.config("dem2gbp.yaml"), written.read_text())
    assert chk.returncode == 0, chk.stderr
    assert ": ok (config_id" in chk.stderr
    dump = chk.stdout
    assert '"DEM2GBP":' in dump or "DEM2GBP:" in dump
    assert "tail: student_t" in dump
    assert f"omega: {ins['volatility.garch.omega']:.10g}" in dump, dump


def test_garch_market_recovers_known_parameters_within_two_standard_errors(tmp_path):
    info = make_inputs.garch_market(tmp_path)
    res = cu.calibrate(cu.config("garch_market.yaml"), info["paths"])
    assert res.returncode == 0, res.stderr
    snip = cu.parse_snippet(res.stdout)
    assert set(snip) == {"SIM-A", "SIM-B"}
    for name, par in info["params"].items():
        ins = snip[name]
        # Normal innovations: the Hessian errors; Student t: quasi-maximum
        # likelihood, so the robust (sandwich) ones.
        which = 0 if par["nu"] is None else 1
        line = []
        for k in ("omega", "alpha", "beta"):
            est = ins[f"volatility.garch.{k}"]
            se = cu.se_of(ins[f"volatility.garch.{k}#"])[which]
            z = (est - par[k]) / se
            line.append(f"{k} {est:.5g} (true {par[k]:.5g}, se {se:.3g}, z {z:+.2f})")
            assert abs(z) <= 2.0, (name, k, est, par[k], se)
        print(f"{name}: " + "; ".join(line))
        assert "volatility.half_life" in ins
    # The tail rule: SIM-A's innovations are normal, SIM-B's t with nu 5.
    assert "leverage.tail" not in snip["SIM-A"]
    assert "not written" in cu.instrument_block(res.stdout, "SIM-A")
    assert snip["SIM-B"]["leverage.tail"] == "student_t"
    assert 4.0 <= snip["SIM-B"]["leverage.tail_nu"] <= 6.5, snip["SIM-B"]
    # Both instruments and the pooled tests in the summary.
    rows = cu.summary_rows(res.stderr)
    for name in ("SIM-A", "SIM-B", "ALL (pooled)"):
        assert (name, "IM", "either") in rows, res.stderr
    pooled = rows[("ALL (pooled)", "IM", "long")]
    assert pooled["trials"] == rows[("SIM-A", "IM", "long")]["trials"] + \
        rows[("SIM-B", "IM", "long")]["trials"]
    chk = cu.check_config_with(cu.config("garch_market.yaml"), res.stdout)
    assert chk.returncode == 0, chk.stderr


def _xlogy(k: int, p: float) -> float:
    return 0.0 if k == 0 else k * math.log(p)


def _kupiec(trials: int, exceed: int, p: float) -> tuple[float, float]:
    l0 = _xlogy(trials - exceed, 1 - p) + _xlogy(exceed, p)
    l1 = _xlogy(trials - exceed, (trials - exceed) / trials) + _xlogy(exceed, exceed / trials)
    lr = max(0.0, -2.0 * (l0 - l1))
    return lr, math.erfc(math.sqrt(lr / 2.0))  # chi2(1) survival


def _christoffersen(hits: list[int], p: float) -> tuple[float, float, float, float]:
    n = {(a, b): 0 for a in (0, 1) for b in (0, 1)}
    for a, b in zip(hits, hits[1:]):
        n[a, b] += 1
    n0, n1 = n[0, 0] + n[0, 1], n[1, 0] + n[1, 1]
    l1 = 0.0
    if n0:
        l1 += _xlogy(n[0, 0], n[0, 0] / n0) + _xlogy(n[0, 1], n[0, 1] / n0)
    if n1:
        l1 += _xlogy(n[1, 0], n[1, 0] / n1) + _xlogy(n[1, 1], n[1, 1] / n1)
    tot, h = n0 + n1, n[0, 1] + n[1, 1]
    l0 = _xlogy(tot - h, (tot - h) / tot) + _xlogy(h, h / tot)
    lp = _xlogy(tot - h, 1 - p) + _xlogy(h, p)
    ind, cc = max(0.0, -2 * (l0 - l1)), max(0.0, -2 * (lp - l1))
    return ind, math.erfc(math.sqrt(ind / 2.0)), cc, math.exp(-cc / 2.0)  # chi2(1), chi2(2)


def _close(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= rel * abs(b) + 1e-12


def test_coverage_counts_and_tests_match_a_hand_count(tmp_path):
    info = make_inputs.hand_case(tmp_path)
    spec = info["spec"]
    report = tmp_path / "hand.html"
    res = cu.calibrate(cu.config("hand.yaml"), info["paths"], "--report", str(report))
    assert res.returncode == 0, res.stderr
    html = report.read_text()
    table = cu.coverage_table(html, "ins-0")
    rows = cu.summary_rows(res.stderr)
    # The one limit in force: the warm-up prior's (hand.yaml explains the
    # numbers), as the engine published it.
    z = NormalDist().inv_cdf(0.99)
    expected = {"IM": 1 - NormalDist().cdf(z), "MM": 1 - NormalDist().cdf(0.5 * z)}
    hits = {m: dict(spec["expected"][m]) for m in ("IM", "MM")}
    for m in hits:
        hits[m]["either"] = [a | b for a, b in zip(hits[m]["long"], hits[m]["short"])]
    for m in ("IM", "MM"):
        for side in ("long", "short", "either"):
            h = hits[m][side]
            p = expected[m] * (2 if side == "either" else 1)
            t = table[(m, side)]
            s = rows[("HAND", m, side)]
            assert t["trials"] == s["trials"] == spec["expected"]["blocks"] == len(h)
            assert t["exceed"] == s["exceed"] == sum(h), (m, side)
            # One tick an hour: every tick's horizon is one block.
            assert t["overlap_trials"] == len(h) and t["overlap_exceed"] == sum(h)
            assert _close(t["expected"], p, 1e-3) and _close(s["expected"], p, 1e-3)
            lr, pv = _kupiec(len(h), sum(h), p)
            ind, p_ind, cc, p_cc = _christoffersen(h, p)
            print(f"{m} {side:6}: {sum(h)}/{len(h)} expected {p:.4g}: Kupiec LR {lr:.4g} p "
                  f"{pv:.3g}, ind LR {ind:.4g} p {p_ind:.3g}, cc LR {cc:.4g} p {p_cc:.3g}")
            assert _close(t["lr_pof"], lr, 1e-3) and _close(t["p_pof"], pv, 5e-3)
            assert _close(t["lr_ind"], ind, 1e-3) and _close(t["p_ind"], p_ind, 5e-3)
            assert _close(t["lr_cc"], cc, 1e-3) and _close(t["p_cc"], p_cc, 5e-3)
            assert _close(s["p_pof"], pv, 5e-3) and _close(s["p_cc"], p_cc, 5e-3)
            want = "pass" if pv >= 0.05 and p_cc >= 0.05 else "reject"
            assert t["verdict"].startswith(want), (m, side, t["verdict"])
    # The price chart marks exactly the counted exceedances.
    for label, n in (("IM exceeded, price fell", 2), ("IM exceeded, price rose", 1),
                     ("MM exceeded, price fell", 3), ("MM exceeded, price rose", 2)):
        assert f"{label} ({n})" in html, label
    # The limit behind it: one (INITIAL, warming up), nothing else.
    assert " 1 published limits" in html and ", 1 limits," in res.stderr


def test_stdout_is_only_yaml_so_that_it_can_be_redirected(tmp_path):
    info = make_inputs.hand_case(tmp_path)
    res = cu.calibrate(cu.config("hand.yaml"), info["paths"])
    assert res.returncode == 0, res.stderr
    for line in res.stdout.splitlines():
        assert line == "" or line.startswith("  "), f"not a snippet line: {line!r}"
    assert "levcal calibrate:" in res.stderr and "levcal calibrate:" not in res.stdout
    assert "coverage of the published margins" in res.stderr
    # Not a terminal and a short run: no progress line, only the summary.
    assert "records/s" not in res.stderr


def test_progress_redraws_on_a_terminal(tmp_path):
    info = make_inputs.dem2gbp(tmp_path)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([kit.levcal_bin(), "calibrate", "-c", str(cu.config("dem2gbp.yaml")),
                                 "--input", str(info["paths"][0])],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                env=kit._child_env(None))
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        out, _ = proc.communicate(timeout=kit.timeout(120))
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    err = b"".join(chunks).decode(errors="replace")
    kit.check_sanitizers(err, "calibrate on a terminal")
    assert proc.returncode == 0, err
    assert re.search(r"\rlevcal calibrate: 1975 records, \d+ records/s", err), err
    assert out.startswith(b"  # levcal calibrate")


def test_usage_and_input_errors_name_the_problem(tmp_path):
    info = make_inputs.hand_case(tmp_path)
    cfg = cu.config("hand.yaml")
    src = str(info["paths"][0])

    res = kit.run_levcal(["calibrate", "-c", str(cfg), "--from", "2024-01-01T00:00:00Z",
                          "--to", "2024-01-02T00:00:00Z"])
    assert res.returncode == 2 and "--from/--to" in res.stderr and "not available" in res.stderr

    res = kit.run_levcal(["calibrate", "-c", str(cfg)])
    assert res.returncode == 2 and "--input" in res.stderr

    res = kit.run_levcal(["calibrate", "--input", src])
    assert res.returncode == 2 and "-c FILE is required" in res.stderr

    missing = tmp_path / "nope.avro"
    res = cu.calibrate(cfg, [missing])
    assert res.returncode == 2 and str(missing) in res.stderr, res.stderr

    junk = tmp_path / "junk.avro"
    junk.write_bytes(b"not an avro container\n")
    res = cu.calibrate(cfg, [junk])
    assert res.returncode == 2 and str(junk) in res.stderr, res.stderr

    bad = kit.write_config("volatility: {estimator: nope}\n")
    res = cu.calibrate(bad, [src])
    assert res.returncode == 2 and f"{bad}:1:" in res.stderr, res.stderr

    # Records, but none of the volatility source: a runtime failure.
    prices = kit.write_container(tmp_path / "prices.avro", "PriceTick",
                                 [{"instrument": "X", "ts_us": 1, "kind": "LAST", "price": 1.0}])
    res = cu.calibrate(cfg, [prices])
    assert res.returncode == 1 and "nothing to calibrate" in res.stderr, res.stderr
    assert res.stdout == ""

    res = cu.calibrate(cfg, [src], "--write", str(tmp_path / "no" / "such" / "dir.yaml"))
    assert res.returncode == 1 and str(tmp_path / "no" / "such" / "dir.yaml") in res.stderr

    res = cu.calibrate(cfg, [src], "--report", str(tmp_path / "no" / "r.html"))
    assert res.returncode == 1 and str(tmp_path / "no" / "r.html") in res.stderr


def test_an_instrument_with_too_little_data_gets_comments_not_keys(tmp_path):
    # Five trades: no model can be fitted; the snippet is comments only, says
    # why, and check-config still accepts it under `instruments:`.
    trades = [make_inputs.trade("TINY", 1_700_000_000_000_000 + i * 60_000_000, 100 + i)
              for i in range(5)]
    path = kit.write_container(tmp_path / "tiny.avro", "Trade", trades)
    res = cu.calibrate(cu.config("hand.yaml"), [path])
    assert res.returncode == 0, res.stderr
    assert cu.parse_snippet(res.stdout) == {}
    assert "TINY: nothing fitted" in res.stdout
    assert "3 grid returns: at least 10 are needed" in res.stdout
    assert "0 bar returns: at least 50 are needed" in res.stdout
    chk = cu.check_config_with(cu.config("hand.yaml"), res.stdout)
    assert chk.returncode == 0, chk.stderr
