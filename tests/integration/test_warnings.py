# SPDX-License-Identifier: Apache-2.0
"""Liquidation warnings on the real broker: positions and balances (compacted
tables, read whole), MARK ticks, warnings read back.

The oracle is `levcal replay` over the same records as Avro container files;
the live stage must publish, per account, the same warnings (every field),
keyed by account, with the levcal-source header naming the input record
that caused each. Volatility comes from the marks (`volatility.source:
mark`) so that the live input order is the order of one topic partition,
which the replay's event-time merge reproduces.
"""
import json
import math
import re
import urllib.request

import kit
from test_stage import T0_US, topics

MODEL = {
    "volatility": {"source": "mark", "estimator": "ewma", "sample_interval": "1s",
                   "half_life": "1m"},
    "leverage": {"warmup_samples": 30, "relax_after": "5m", "stale_after": "30s"},
}


def scenario():
    """BTC falls 12% over 10 minutes, then recovers; ETH drifts. Positions at
    different leverage, long and short, isolated and cross."""
    balances = [{"account": "carol", "ts_us": T0_US - 2, "collateral": 4000.0}]
    positions = [
        # account, instrument, size, entry, mode, collateral
        ("alice", "BTC-PERP", 1.0, 60000.0, "ISOLATED", 7000.0),    # ~8.6x long
        ("bob", "BTC-PERP", -0.5, 60000.0, "ISOLATED", 3000.0),     # 10x short: gains
        ("carol", "BTC-PERP", 0.5, 60000.0, "CROSS", 0.0),          # cross with ETH
        ("carol", "ETH-PERP", 2.0, 3000.0, "CROSS", 0.0),
        ("dave", "BTC-PERP", 0.2, 60000.0, "ISOLATED", 12000.0),    # 1x: never warned
        ("erin", "ETH-PERP", 5.0, 3000.0, "ISOLATED", 1500.0),      # 10x long ETH
    ]
    pos = [{"account": a, "instrument": i, "ts_us": T0_US - 1, "size": s, "entry_price": e,
            "margin_mode": m, "collateral": c} for a, i, s, e, m, c in positions]
    marks = []
    for k in range(1800):
        t = T0_US + k * 1_000_000
        frac = min(k, 600) / 600 if k < 1200 else max(0.0, 1 - (k - 1200) / 600)
        btc = 60000.0 * (1 - 0.12 * frac) * (1 + 0.0004 * math.sin(k / 7))
        eth = 3000.0 * (1 - 0.03 * frac) * (1 + 0.0004 * math.cos(k / 5))
        marks.append({"instrument": "BTC-PERP", "ts_us": t, "kind": "MARK", "price": btc})
        marks.append({"instrument": "ETH-PERP", "ts_us": t + 1, "kind": "MARK", "price": eth})
    # alice closes after the last mark (size 0 in both runs; a tombstone is
    # tested apart).
    closing = [{"account": "alice", "instrument": "BTC-PERP", "ts_us": marks[-1]["ts_us"] + 1,
                "size": 0.0, "entry_price": 60000.0, "margin_mode": "ISOLATED",
                "collateral": 0.0}]
    return balances, pos, marks, closing


def ticks_in(port, topic):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    m = re.search(r'^levcal_ticks_in_total\{topic="%s"\} (\S+)$' % re.escape(topic), text, re.M)
    return int(float(m.group(1))) if m else -1


def replay(tmp_path, topic_cfg, balances, pos, marks, closing):
    files = []
    for name, rec, rows in (("balances", "AccountBalance", balances),
                            ("positions", "Position", pos + closing),
                            ("prices", "PriceTick", marks)):
        path = tmp_path / f"{name}.avro"
        kit.write_container(path, rec, rows)
        files.append(str(path))
    out = tmp_path / "out.jsonl"
    cfg = kit.base_config(topics=topic_cfg, **MODEL)
    res = kit.run_levcal(["replay", "--input", *files, "--out", str(out)], cfg)
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in out.read_text().splitlines()]


def test_live_warnings_equal_the_replay_and_follow_the_levels(tmp_path):
    names, topic_cfg = topics(partitions=1)
    balances, pos, marks, closing = scenario()
    oracle = replay(tmp_path, topic_cfg, balances, pos, marks, closing)
    want = [x for x in oracle if x["topic"] == topic_cfg["liquidation_warnings"]]
    assert want, "the replay produced no warnings"
    levels = {}
    for x in want:
        v = x["value"]
        levels.setdefault((v["account"], v["instrument"]), []).append(v["level"])
    # alice's long walks down the levels as BTC falls, and is cleared on close.
    a = levels[("alice", "BTC-PERP")]
    assert a[:3] == ["WATCH", "WARNING", "CRITICAL"], a
    assert a[-1] == "CLEAR", a
    assert ("bob", "BTC-PERP") not in levels     # the short gains
    assert ("dave", "BTC-PERP") not in levels    # fully collateralized
    assert ("carol", "ETH-PERP") in levels       # cross: BTC's fall hits ETH's margin too

    kit.produce(names["balances"], [(b["account"], kit.encode("AccountBalance", b))
                                    for b in balances])
    kit.produce(names["positions"], [(f'{p["account"]}|{p["instrument"]}',
                                      kit.encode("Position", p)) for p in pos])
    cfg = kit.base_config(topics=topic_cfg, processing={"guarantee": "at_least_once"}, **MODEL)
    with kit.start_levcal(["run"], cfg) as lv:
        port = int(lv.wait_for_stderr(r"metrics on http://\S+ \(port (\d+)\)").group(1))
        lv.wait_for_stderr(r"tables loaded", timeout=kit.timeout(60))
        kit.produce(names["prices"], [(m["instrument"], kit.encode("PriceTick", m))
                                      for m in marks])
        # The close comes after every mark in event time: hand it over once
        # the stage has read them all (its own counter says so).
        kit.wait_for(lambda: ticks_in(port, names["prices"]) == len(marks), kit.timeout(60),
                     "the stage to read every mark")
        kit.produce(names["positions"], [(f'{c["account"]}|{c["instrument"]}',
                                          kit.encode("Position", c)) for c in closing])
        out = kit.consume_all(names["warnings"], expect=len(want), timeout=kit.timeout(60))
        assert lv.stop() == 0, lv.stderr_text()
    assert len(out) == len(want)

    got = {}
    for r in out:
        v = kit.decode("LiquidationWarning", r.value)
        assert r.key == v["account"]
        topic, _, off = r.headers["levcal-source"].rsplit(":", 2)
        assert topic in (names["prices"], names["positions"]), topic
        got.setdefault(v["account"], []).append(v)
    expect = {}
    for x in want:
        expect.setdefault(x["value"]["account"], []).append(x["value"])
    assert sorted(got) == sorted(expect)
    for acct in expect:
        assert got[acct] == expect[acct], acct
        for inst in {v["instrument"] for v in expect[acct]}:
            seqs = [v["seq"] for v in got[acct] if v["instrument"] == inst]
            assert seqs == list(range(1, len(seqs) + 1)), (acct, inst, seqs)


def test_a_tombstone_on_the_positions_topic_clears_a_warned_position():
    names, topic_cfg = topics(partitions=1)
    balances, pos, marks, _ = scenario()
    kit.produce(names["positions"], [(f'{p["account"]}|{p["instrument"]}',
                                      kit.encode("Position", p)) for p in pos])
    cfg = kit.base_config(topics=topic_cfg, processing={"guarantee": "at_least_once"}, **MODEL)
    with kit.start_levcal(["run"], cfg) as lv:
        lv.wait_for_stderr(r"tables loaded", timeout=kit.timeout(60))
        kit.produce(names["prices"], [(m["instrument"], kit.encode("PriceTick", m))
                                      for m in marks[:1200]])
        kit.wait_for(lambda: any(kit.decode("LiquidationWarning", r.value)["level"] == "CRITICAL"
                                 for r in kit.consume_all(names["warnings"]) if r.key == "alice"),
                     kit.timeout(60), "alice CRITICAL")
        kit.produce(names["positions"], [("alice|BTC-PERP", None)])
        w = kit.wait_for(lambda: [kit.decode("LiquidationWarning", r.value)
                                  for r in kit.consume_all(names["warnings"])
                                  if r.key == "alice" and
                                  kit.decode("LiquidationWarning", r.value)["level"] == "CLEAR"],
                         kit.timeout(30), "alice's CLEAR after the tombstone")
        assert lv.stop() == 0, lv.stderr_text()
    assert w[0]["previous_level"] in ("CRITICAL", "LIQUIDATE")
    assert w[0]["size"] == 0.0
    assert w[0]["liquidation_price"] is None
