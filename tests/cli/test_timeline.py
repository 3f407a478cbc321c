# SPDX-License-Identifier: Apache-2.0
"""Leverage-policy timelines through `levcal replay --input` (SPEC §4): a
calm market, a shock, calm again, a feed gap — with the exact event
sequence asserted: reasons, statuses, leverage steps and timestamps.

The price paths make the EWMA volatility known in closed form: instrument A
ticks exactly on the 1 s grid and alternates +a, -a log-returns (so every
squared return is a^2), with one 5% jump. The expected times of the
leverage changes come from a few lines of Python that apply SPEC §3-4's
formulas (EWMA on grid returns, z * sigma_h, steps), not from levcal.
"""
import json
import math
from statistics import NormalDist

import kit

S = 1_000_000
T0 = 1_767_225_600 * S
YEAR_S = 365 * 86400
CALM = 0.7          # sigma_ann of the alternating returns
SHOCK_TICK = 300    # A jumps 5% at this tick
GAP = (820, 880)    # A is silent after tick 820 until tick 880
END = 890
STEPS = [1, 2, 3, 5, 10, 20, 25, 50, 75, 100]
HALF_LIFE_S = 10
WARMUP = 10
RELAX_S = 60
STALE_S = 30

CONFIG = {
    "kafka": {"bootstrap.servers": "127.0.0.1:9"},  # replay --out never connects
    "volatility": {"estimator": "ewma", "sample_interval": "1s", "half_life": f"{HALF_LIFE_S}s"},
    "leverage": {"warmup_samples": WARMUP, "relax_after": f"{RELAX_S}s",
                 "stale_after": f"{STALE_S}s", "prior_sigma_ann": 1.0,
                 "tiers": [{"notional_cap": 1.0e12, "multiplier": 1.0}]},
}


def a_prices():
    a = CALM / math.sqrt(YEAR_S)
    level, out = 0.0, {}
    for k in range(END + 1):
        if k == SHOCK_TICK:
            level += math.log(1.05)
        if GAP[0] < k < GAP[1]:
            continue
        out[k] = 100.0 * math.exp(level + (a if k % 2 else 0.0))
    return out


def oracle_steps(prices):
    """The computed step at each tick of A (SPEC §3 EWMA on grid returns,
    §4 margin and steps), with the prior during warm-up."""
    lam = 2 ** (-1 / HALF_LIFE_S)
    z = NormalDist().inv_cdf(0.99)
    v = 1.0 ** 2 / YEAR_S          # prior variance of one 1 s interval
    samples, out = 0, {}
    grid = {}
    for k in range(END + 1):
        if k in prices:
            grid[k] = prices[k]
        elif k - 1 in grid:
            grid[k] = grid[k - 1]   # previous-tick interpolation
    for k in sorted(prices):
        # at tick k the returns r_j for grid points j < k are known
        for j in range(1, k):
            if j in grid and (j, "done") not in grid:
                r = math.log(grid[j] / grid[j - 1])
                v = lam * v + (1 - lam) * r * r
                samples += 1
                grid[(j, "done")] = True
        sigma = 1.0 if samples < WARMUP else math.sqrt(v * YEAR_S)
        need = min(max(z * sigma * math.sqrt(3600 / YEAR_S), 0.01), 1.0)
        out[k] = max(s for s in STEPS if s <= 1 / need * (1 + 1e-12))
    return out


def first_tick_above(steps, published, start):
    return next(k for k in sorted(steps) if k >= start and steps[k] > published)


def run_replay(tmp_path, rows):
    path = tmp_path / "trades.avro"
    out = tmp_path / "out.jsonl"
    kit.write_container(path, "Trade", rows)
    res = kit.run_levcal(["replay", "--input", str(path), "--out", str(out)], CONFIG)
    assert res.returncode == 0, res.stderr
    return [json.loads(x)["value"] for x in out.read_text().splitlines()]


def test_calm_shock_calm_gap_gives_the_exact_event_sequence(tmp_path):
    pa = a_prices()
    rows = []
    for k in range(END + 1):
        if k in pa:
            rows.append({"instrument": "A", "ts_us": T0 + k * S, "price": pa[k], "qty": 1.0,
                         "side": "BUY", "trade_id": None})
        # B ticks every second, half a second later, and keeps the
        # partition's event-time clock going through A's gap.
        rows.append({"instrument": "B", "ts_us": T0 + k * S + S // 2,
                     "price": 50.0 * (math.exp(CALM / math.sqrt(YEAR_S)) if k % 2 else 1.0),
                     "qty": 1.0, "side": "SELL",
                     "trade_id": None})
    events = run_replay(tmp_path, rows)
    a = [e for e in events if e["instrument"] == "A"]
    b = [e for e in events if e["instrument"] == "B"]

    steps = oracle_steps(pa)
    t_calm = first_tick_above(steps, 25, 0)             # warm-up over, 50x allowed
    t_after = first_tick_above(steps, 1, SHOCK_TICK + 1)  # 2x allowed again
    relax = [t_after + RELAX_S * i for i in range(1, 8)]
    want = [
        ("INITIAL", "WARMING_UP", 25.0, 0),
        ("RELAX", "ACTIVE", 50.0, t_calm + RELAX_S),
        ("TIGHTEN", "ACTIVE", 1.0, SHOCK_TICK + 1),        # the tick that reveals the jump
    ] + [("RELAX", "ACTIVE", float(s), t) for s, t in zip([2, 3, 5, 10, 20, 25, 50], relax)] + [
        ("STALE", "STALE", 1.0, GAP[0] + STALE_S),          # on B's tick at 850 s (its clock)
        ("RECOVERED", "ACTIVE", 50.0, GAP[1]),              # A's next tick: the pre-stale limit
    ]
    got = [(e["reason"], e["status"], e["max_leverage"], (e["ts_us"] - T0) // S) for e in a]
    assert got == want, "\n".join(map(str, got))
    assert [e["seq"] for e in a] == list(range(1, len(a) + 1))
    # The STALE event comes at B's tick (half a second into 850 s).
    assert a[-2]["ts_us"] == T0 + (GAP[0] + STALE_S) * S + S // 2
    assert [e["previous_max_leverage"] for e in a] == [None] + [w[2] for w in want[:-1]]
    # Published margins are those of the published leverage.
    for e in a:
        assert e["imr"] == 1 / e["max_leverage"]
        assert e["mmr"] == 0.5 * e["imr"]
    # B is calm throughout: warm-up, one relax to 50x, never stale.
    assert [(e["reason"], e["max_leverage"]) for e in b] == [("INITIAL", 25.0), ("RELAX", 50.0)]


def test_a_tighten_resets_the_relax_wait(tmp_path):
    """Calm, then a jump, then a second smaller jump while the relax wait
    runs: the second TIGHTEN or the renewed need restarts the wait, so no
    RELAX comes within relax_after of it."""
    pa = a_prices()
    second = SHOCK_TICK + 70
    for k in pa:
        if k >= second:
            pa[k] *= 1.03
    rows = [{"instrument": "A", "ts_us": T0 + k * S, "price": p, "qty": 1.0, "side": "BUY",
             "trade_id": None} for k, p in sorted(pa.items()) if k < 800]
    a = run_replay(tmp_path, rows)
    relaxes = [(e["ts_us"] - T0) // S for e in a if e["reason"] == "RELAX"
               and e["ts_us"] > T0 + SHOCK_TICK * S]
    assert relaxes, "no relax after the shocks"
    assert all(t >= second + 1 + RELAX_S for t in relaxes), relaxes
    steps = [e["max_leverage"] for e in a if e["ts_us"] > T0 + SHOCK_TICK * S]
    for x, y in zip(steps, steps[1:]):
        if y > x:
            assert STEPS.index(y) == STEPS.index(x) + 1, steps   # one step at a time
