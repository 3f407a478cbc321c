# SPDX-License-Identifier: Apache-2.0
"""levcal run on the real broker: trades in, leverage limits out.

The oracle is `levcal replay` over the same trades written to an Avro
container file: the live stage must publish, per instrument, exactly the
events the deterministic replay publishes (values equal field by field), with
keys = instrument and the levcal-source header naming the input record that
caused each event. Poison records go to the dead-letter topic with a reason
and the stage goes on.
"""
import json
import math
import random

import kit

T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
STEP_US = 1_000_000


def market(seed=7, minutes=40, shock=(15, 25)):
    """Two instruments, one trade per second each, GBM with a volatility
    shock (x6) between the given minutes. Deterministic for the seed."""
    rng = random.Random(seed)
    insts = {"BTC-PERP": [60000.0, 0.5], "ETH-PERP": [3000.0, 0.8]}
    dt = 1.0 / (365 * 86400)
    out = []
    for k in range(minutes * 60):
        t = T0_US + k * STEP_US
        shocked = shock[0] * 60 <= k < shock[1] * 60
        for i, (name, st) in enumerate(insts.items()):
            sig = st[1] * (6 if shocked else 1)
            st[0] *= math.exp(sig * math.sqrt(dt) * rng.gauss(0, 1) - 0.5 * sig * sig * dt)
            out.append({"instrument": name, "ts_us": t + i, "price": st[0],
                        "qty": 0.5 + rng.random(), "side": rng.choice(["BUY", "SELL"]),
                        "trade_id": f"{name}-{k}"})
    return out


MODEL = {
    "volatility": {"estimator": "ewma", "sample_interval": "1s", "half_life": "2m"},
    "leverage": {"warmup_samples": 60, "relax_after": "5m", "stale_after": "30s"},
}


def topics(partitions=2):
    names = {k: kit.unique(k) for k in ("trades", "prices", "limits", "warnings", "dead",
                                         "positions", "balances")}
    kit.create_topics({n: partitions for n in names.values()},
                      compacted=[names["positions"], names["balances"]])
    return names, {"trades": names["trades"], "prices": names["prices"],
                   "leverage_limits": names["limits"],
                   "liquidation_warnings": names["warnings"], "dead_letter": names["dead"],
                   "positions": names["positions"], "balances": names["balances"]}


def replay_oracle(trades, topic_cfg, tmp_path):
    inp = tmp_path / "trades.avro"
    out = tmp_path / "out.jsonl"
    kit.write_container(inp, "Trade", trades)
    cfg = kit.base_config(topics=topic_cfg, **MODEL)
    res = kit.run_levcal(["replay", "--input", str(inp), "--out", str(out)], cfg)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines, "the replay produced nothing"
    return lines


def by_key(values):
    per = {}
    for v in values:
        per.setdefault(v["instrument"], []).append(v)
    return per


def test_live_stage_publishes_the_replay_events_with_keys_and_source_headers(tmp_path):
    names, topic_cfg = topics()
    trades = market()
    oracle = replay_oracle(trades, topic_cfg, tmp_path)
    reasons = [x["value"]["reason"] for x in oracle]
    assert "TIGHTEN" in reasons and "RELAX" in reasons, reasons

    # Key by instrument so that each instrument lives on one partition.
    kit.produce(names["trades"], [(t["instrument"], kit.encode("Trade", t)) for t in trades])
    cfg = kit.base_config(topics=topic_cfg,
                          processing={"guarantee": "at_least_once", "commit_interval": "100ms"},
                          **MODEL)
    with kit.start_levcal(["run"], cfg) as lv:
        out = kit.consume_all(names["limits"], expect=len(oracle), timeout=kit.timeout(60))
        assert lv.stop() == 0, lv.stderr_text()
    assert len(out) == len(oracle)

    # The input records, by (partition, offset), to check the source headers.
    inputs = {(r.partition, r.offset): kit.decode("Trade", r.value)
              for r in kit.consume_all(names["trades"], expect=len(trades))}
    live = []
    for r in out:
        v = kit.decode("LeverageLimit", r.value)
        assert r.key == v["instrument"]
        src = r.headers["levcal-source"]
        topic, part, off = src.rsplit(":", 2)
        assert topic == names["trades"]
        cause = inputs[(int(part), int(off))]
        assert cause["instrument"] == v["instrument"]
        assert cause["ts_us"] == v["ts_us"], (src, cause, v)
        live.append(v)

    want = by_key([x["value"] for x in oracle])
    got = by_key(live)
    assert sorted(got) == sorted(want)
    for inst in want:
        seqs = [v["seq"] for v in got[inst]]
        assert seqs == list(range(1, len(seqs) + 1)), (inst, seqs)
        assert got[inst] == want[inst], inst
    # And the replay's JSON carries the same source positions' event times.
    assert all(len(v["config_id"]) == 16 for v in live)


def test_poison_records_are_dead_lettered_with_a_reason_and_the_stage_goes_on(tmp_path):
    names, topic_cfg = topics(partitions=1)
    trades = market(minutes=3, shock=(0, 0))
    good_before = [(t["instrument"], kit.encode("Trade", t)) for t in trades[:10]]
    nan_trade = dict(trades[10], price=float("nan"))
    poison = [
        ("BTC-PERP", b"\x00\x01garbage"),
        ("BTC-PERP", kit.encode("Trade", nan_trade)),
        ("BTC-PERP", kit.encode("Trade", trades[11]) + b"\x00"),  # trailing byte
    ]
    # A new instrument after the poison proves processing went on.
    after = dict(trades[12], instrument="SOL-PERP", price=150.0)
    kit.produce(names["trades"], good_before + poison + [("SOL-PERP", kit.encode("Trade", after))])

    cfg = kit.base_config(topics=topic_cfg, processing={"guarantee": "at_least_once"}, **MODEL)
    with kit.start_levcal(["run"], cfg) as lv:
        dead = kit.consume_all(names["dead"], expect=3, timeout=kit.timeout(60))
        limits = kit.wait_for(
            lambda: [r for r in kit.consume_all(names["limits"], timeout=kit.timeout(5))
                     if r.key == "SOL-PERP"],
            kit.timeout(60), "a limit for SOL-PERP after the poison records")
        assert lv.stop() == 0, lv.stderr_text()

    assert len(dead) == 3
    assert [r.value for r in dead] == [p[1] for p in poison]
    assert all(r.key == "BTC-PERP" for r in dead)
    offsets = [int(r.headers["levcal-source"].rsplit(":", 1)[1]) for r in dead]
    assert offsets == [10, 11, 12]
    errors = [r.headers["levcal-error"] for r in dead]
    assert "Trade" in errors[0]
    assert errors[1].startswith("Trade.price: nan"), errors[1]
    assert "trailing" in errors[2], errors[2]
    assert kit.decode("LeverageLimit", limits[0].value)["reason"] == "INITIAL"


def test_run_refuses_topics_that_are_not_co_partitioned():
    names = {k: kit.unique(k) for k in ("trades", "prices", "limits", "warnings", "dead")}
    kit.create_topics({names["trades"]: 2, names["prices"]: 3, names["limits"]: 1,
                       names["warnings"]: 1, names["dead"]: 1})
    # (positions and balances are not even needed: the check comes first)
    cfg = kit.base_config(topics={"trades": names["trades"], "prices": names["prices"],
                                  "leverage_limits": names["limits"],
                                  "liquidation_warnings": names["warnings"],
                                  "dead_letter": names["dead"]},
                          processing={"guarantee": "at_least_once"})
    res = kit.run_levcal(["run"], cfg, timeout=kit.timeout(60))
    assert res.returncode == 1
    assert (f"topics {names['trades']} (2 partitions) and {names['prices']} (3 partitions) "
            "must be co-partitioned") in res.stderr
