# SPDX-License-Identifier: Apache-2.0
"""Inputs for the `levcal calibrate` CLI tests (tests/cli/), made at test time.

Each function writes Avro container files (Trade records, schemas/Trade.avsc
through tests/integration/kit.py) into a directory and returns their paths
together with what the test needs to know about them. Everything is
deterministic: the same call writes the same bytes.

    dem2gbp(dir)        the Bollerslev-Ghysels DEM/GBP returns of
                        ../shared/data/dem2gbp.csv as one Trade per day
                        (P_0 = 100, P_t = P_(t-1) exp(r_t / 100)), every trade
                        at a UTC midnight, so that each daily bar closes on
                        its trade and the 1974 bar log returns are r_t / 100.
    garch_market(dir)   two instruments in two files, each a GARCH(1,1) path
                        of bar returns with known parameters (SIM-A normal
                        innovations, SIM-B unit-variance Student t, nu 5),
                        four trades per one-minute bar, the last trade of a
                        bar at the bar's close price.
    hand_case(dir)      the short series of hand_case.json: hourly trades
                        whose hourly moves are given, so that the margin
                        exceedances can be counted by hand.

Run as a script to write all three into a directory (for a look by hand):

    python3 tests/data/calib_cli/make_inputs.py /tmp/calib-inputs
"""
from __future__ import annotations

import json
import math
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("LVC_SOURCE_DIR") or HERE.parents[2])
sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration"))

import kit  # noqa: E402

US_PER_S = 1_000_000
DAY_US = 86_400 * US_PER_S

# 1984-01-02T00:00:00Z in days since the epoch: the day before the first
# return of the DEM/GBP sample (3 January 1984).
DEM2GBP_DAY0 = 5114


def shared_data_dir() -> Path:
    return Path(os.environ.get("LVC_SHARED_DATA_DIR") or SOURCE_DIR.parent / "shared" / "data")


def dem2gbp_returns() -> list[float]:
    """The 1974 percentage log returns, in file order."""
    lines = (shared_data_dir() / "dem2gbp.csv").read_text().split()
    assert lines[0].strip('"') == "DEM2GBP", lines[0]
    return [float(x) for x in lines[1:]]


def trade(instrument: str, ts_us: int, price: float, qty: float = 1.0) -> dict:
    return {"instrument": instrument, "ts_us": int(ts_us), "price": float(price), "qty": float(qty),
            "side": "UNKNOWN", "trade_id": None}


def dem2gbp(directory: str | os.PathLike, instrument: str = "DEM2GBP") -> dict:
    r = dem2gbp_returns()
    p = 100.0
    trades = [trade(instrument, DEM2GBP_DAY0 * DAY_US, p)]
    for t, rt in enumerate(r, start=1):
        p = p * math.exp(rt / 100.0)
        trades.append(trade(instrument, (DEM2GBP_DAY0 + t) * DAY_US, p))
    path = kit.write_container(Path(directory) / "dem2gbp.avro", "Trade", trades)
    return {"paths": [path], "n_returns": len(r), "n_trades": len(trades)}


def _t_unit(rng: random.Random, nu: float) -> float:
    """A Student-t draw scaled to unit variance."""
    z = rng.gauss(0.0, 1.0)
    chi2 = rng.gammavariate(nu / 2.0, 2.0)
    return z / math.sqrt(chi2 / nu) * math.sqrt((nu - 2.0) / nu)


# Per-bar parameters (omega: variance per one-minute bar) and innovations.
GARCH_MARKET = {
    "SIM-A": {"omega": 2.0e-7, "alpha": 0.08, "beta": 0.90, "nu": None, "seed": 11, "p0": 30000.0},
    "SIM-B": {"omega": 4.0e-7, "alpha": 0.12, "beta": 0.85, "nu": 5.0, "seed": 12, "p0": 2000.0},
}
GARCH_BARS = 4000
GARCH_BAR_US = 60 * US_PER_S
GARCH_T0_US = 1_700_000_040 * US_PER_S  # a multiple of a minute


def garch_market(directory: str | os.PathLike) -> dict:
    out = {"paths": [], "params": {}, "bars": GARCH_BARS}
    for name, par in GARCH_MARKET.items():
        rng = random.Random(par["seed"])
        h = par["omega"] / (1.0 - par["alpha"] - par["beta"])
        e = 0.0
        for _ in range(500):  # burn-in from the unconditional variance
            h = par["omega"] + par["alpha"] * e * e + par["beta"] * h
            z = rng.gauss(0.0, 1.0) if par["nu"] is None else _t_unit(rng, par["nu"])
            e = math.sqrt(h) * z
        trades = []
        close = par["p0"]
        # Bar j is (t0 + j B, t0 + (j + 1) B]; bar 0 holds the first trade only
        # (the seed bar, which gives no return).
        trades.append(trade(name, GARCH_T0_US + GARCH_BAR_US, close))
        for j in range(1, GARCH_BARS + 1):
            h = par["omega"] + par["alpha"] * e * e + par["beta"] * h
            z = rng.gauss(0.0, 1.0) if par["nu"] is None else _t_unit(rng, par["nu"])
            e = math.sqrt(h) * z
            new_close = close * math.exp(e)
            start = GARCH_T0_US + j * GARCH_BAR_US
            offs = sorted(rng.randrange(1, GARCH_BAR_US + 1) for _ in range(4))
            for k, off in enumerate(offs):
                if k == len(offs) - 1:
                    price = new_close
                else:
                    # On the way from the previous close to the new one, with
                    # a little noise: it moves the range estimators, not the
                    # close-to-close returns.
                    w = (k + 1) / len(offs)
                    price = close * math.exp(w * e + 0.3 * math.sqrt(h) * rng.gauss(0.0, 1.0))
                trades.append(trade(name, start + off, price, qty=rng.uniform(0.1, 2.0)))
            close = new_close
        path = kit.write_container(Path(directory) / f"{name.lower()}.avro", "Trade", trades)
        out["paths"].append(path)
        out["params"][name] = dict(par)
    return out


def hand_case(directory: str | os.PathLike) -> dict:
    spec = json.loads((HERE / "hand_case.json").read_text())
    t0 = spec["t0_us"]
    p = spec["p0"]
    trades = [trade(spec["instrument"], t0, p)]
    for k, move in enumerate(spec["moves"], start=1):
        p = p * (1.0 + move)
        trades.append(trade(spec["instrument"], t0 + k * spec["step_us"], p))
    path = kit.write_container(Path(directory) / "hand.avro", "Trade", trades)
    return {"paths": [path], "spec": spec}


if __name__ == "__main__":
    d = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    d.mkdir(parents=True, exist_ok=True)
    for f in (dem2gbp, garch_market, hand_case):
        info = f(d)
        print(f.__name__, [str(p) for p in info["paths"]])
