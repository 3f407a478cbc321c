# SPDX-License-Identifier: Apache-2.0
"""`levcal replay --from T [--to T]` on the real broker: the historic topics
read by their record timestamps, merged in event time as the live stage
merges them, written to the replay-prefixed topics or --out.

- Over the whole topics its output equals the live stage's committed output
  record for record (values, keys, levcal-source headers naming the same
  input records), and the live group's committed offsets are untouched.
- --from/--to select the tick records whose Kafka timestamps fall in the
  window (the tables are read from their start): the output equals a file
  replay (--input) of exactly those records.
"""
import json
import math
import random

from confluent_kafka import Producer

import kit
from test_eos import (MODEL, S, T0_US, assert_same_output, collect, committed, count,
                      input_topics, make_input, produce_input, run_oracle)

EPOCH = "1970-01-01T00:00:00Z"


def replay_config(inputs, outputs, group, prefix):
    topics = {"trades": inputs["trades"], "prices": inputs["prices"],
              "positions": inputs["positions"], "balances": inputs["balances"],
              "leverage_limits": outputs["limits"], "liquidation_warnings": outputs["warnings"],
              "dead_letter": outputs["dead"], "state": outputs["state"],
              "replay_prefix": prefix}
    cfg = kit.base_config(topics=topics, **MODEL)
    cfg["kafka"]["group.id"] = group
    return cfg


def json_value(kind, v):
    """A decoded Avro record as --out writes it: infinities are null."""
    if kind == "dead":
        return v
    return {k: (None if isinstance(x, float) and math.isinf(x) else x) for k, x in v.items()}


def test_replay_of_the_topics_equals_the_live_output_and_leaves_the_group_alone(tmp_path):
    data = make_input(seed=12, seconds=1800)
    inputs = input_topics()
    ends = produce_input(inputs, data)
    group = kit.unique("live")
    outputs, live, _ = run_oracle(inputs, ends, group=group)
    before = committed(group, ends)
    assert before == ends

    prefix = kit.unique("bt") + "."
    kit.create_topics({prefix + outputs["limits"]: 2, prefix + outputs["warnings"]: 3,
                       prefix + outputs["dead"]: 1})
    cfg = replay_config(inputs, outputs, group, prefix)
    res = kit.run_levcal(["replay", "--from", EPOCH], cfg, timeout=120)
    assert res.returncode == 0, res.stderr
    got = collect(outputs, prefix=prefix)
    print(f"replay of {sum(ends.values())} tick records: {count(got)}")
    assert_same_output(got, live, "topic replay")
    assert committed(group, ends) == before, "the replay moved the live group's offsets"

    # The same through --out, in JSON Lines, with a --to past the end.
    out = tmp_path / "replay.jsonl"
    res = kit.run_levcal(["replay", "--from", EPOCH, "--to", "2100-01-01T00:00:00Z",
                          "--out", str(out)], cfg, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    want = {}
    names = {"limits": "LeverageLimit", "warnings": "LiquidationWarning"}
    for kind, topic in (("limits", outputs["limits"]), ("warnings", outputs["warnings"])):
        for key, items in live[kind].items():
            want[(topic, key)] = [json_value(kind, kit.decode(names[kind], v)) for v, _ in items]
    seen = {}
    for x in lines:
        if x["topic"] == outputs["dead"]:
            continue
        v = x["value"]
        key = v["instrument"] if x["topic"] == outputs["limits"] else (v["account"],
                                                                        v["instrument"])
        seen.setdefault((x["topic"], key), []).append(v)
    assert seen == want
    assert sum(1 for x in lines if x["topic"] == outputs["dead"]) == len(data["poison"])


def window_market(seconds=1800, seed=3):
    """One partition, two instruments, a shock: (trades, prices) as dicts."""
    rng = random.Random(seed)
    px = {"BTC-PERP": 60000.0, "ETH-PERP": 3000.0}
    dt = 1.0 / (365 * 86400)
    trades, prices = [], []
    for k in range(seconds):
        for i, name in enumerate(px):
            v = 0.7 * (6 if 700 <= k < 1000 else 1)
            px[name] *= math.exp(v * math.sqrt(dt) * rng.gauss(0, 1) - 0.5 * v * v * dt)
            t = T0_US + k * S + i
            trades.append({"instrument": name, "ts_us": t, "price": px[name], "qty": 1.0,
                           "side": "BUY", "trade_id": None})
            if k % 3 == 0:
                prices.append({"instrument": name, "ts_us": t + 500, "kind": "MARK",
                               "price": px[name]})
    positions = [{"account": "alice", "instrument": "BTC-PERP", "ts_us": T0_US - 10,
                  "size": 1.0, "entry_price": 60000.0, "margin_mode": "ISOLATED",
                  "collateral": 5000.0}]
    return trades, prices, positions


def produce_at_event_time(topic, record_name, rows, key):
    """Each record with its Kafka timestamp = its event time (ms)."""
    p = Producer({"bootstrap.servers": kit.bootstrap(), "enable.idempotence": True,
                  "linger.ms": 5})
    errors = []
    for r in rows:
        while True:
            try:
                p.produce(topic, key=r[key].encode(), value=kit.encode(record_name, r),
                          partition=0, timestamp=r["ts_us"] // 1000,
                          on_delivery=lambda err, msg: err and errors.append(err))
                break
            except BufferError:
                p.poll(0.1)
    assert p.flush(kit.timeout(30)) == 0 and not errors, errors


def iso(us):
    import datetime
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def test_from_and_to_select_the_tick_records_by_timestamp(tmp_path):
    trades, prices, positions = window_market()
    names = {k: kit.unique(k) for k in ("trades", "prices", "positions", "balances", "limits",
                                         "warnings", "dead", "state")}
    kit.create_topics({names["trades"]: 1, names["prices"]: 1, names["positions"]: 1,
                       names["balances"]: 1, names["limits"]: 1, names["warnings"]: 1,
                       names["dead"]: 1}, compacted=[names["positions"], names["balances"]])
    produce_at_event_time(names["trades"], "Trade", trades, "instrument")
    produce_at_event_time(names["prices"], "PriceTick", prices, "instrument")
    produce_at_event_time(names["positions"], "Position", positions, "account")
    lo, hi = T0_US + 600 * S, T0_US + 1200 * S
    sel_t = [r for r in trades if lo // 1000 <= r["ts_us"] // 1000 < hi // 1000]
    sel_p = [r for r in prices if lo // 1000 <= r["ts_us"] // 1000 < hi // 1000]
    files = []
    for name, rec, rows in (("positions", "Position", positions), ("prices", "PriceTick", sel_p),
                            ("trades", "Trade", sel_t)):
        path = tmp_path / f"{name}.avro"
        kit.write_container(path, rec, rows)
        files.append(str(path))
    cfg = replay_config(names, names, kit.unique("g"), "")
    want_path, got_path = tmp_path / "files.jsonl", tmp_path / "topics.jsonl"
    res = kit.run_levcal(["replay", "--input", *files, "--out", str(want_path)], cfg)
    assert res.returncode == 0, res.stderr
    res = kit.run_levcal(["replay", "--from", iso(lo), "--to", iso(hi), "--out", str(got_path)],
                         cfg, timeout=120)
    assert res.returncode == 0, res.stderr
    want = [json.loads(x) for x in want_path.read_text().splitlines()]
    got = [json.loads(x) for x in got_path.read_text().splitlines()]
    reasons = {x["value"].get("reason") for x in got}
    assert "TIGHTEN" in reasons, reasons
    assert [(x["topic"], x["key"], x["value"]) for x in got] == \
        [(x["topic"], x["key"], x["value"]) for x in want]
    # The sources name the topic records of the window.
    for x in got:
        topic, part, off = x["headers"]["levcal-source"].rsplit(":", 2)
        assert topic in (names["trades"], names["prices"], names["positions"]), topic
        if topic == names["trades"]:
            assert int(off) >= trades.index(sel_t[0]) and int(off) <= trades.index(sel_t[-1])


def test_replay_refuses_a_window_that_is_not_rfc3339_or_empty():
    cfg = kit.base_config()
    res = kit.run_levcal(["replay", "--from", "2026-01-01 00:00"], cfg)
    assert res.returncode == 2
    assert "--from 2026-01-01 00:00: allowed: an RFC 3339 time" in res.stderr
    res = kit.run_levcal(["replay", "--from", "2026-01-02T00:00:00Z", "--to",
                          "2026-01-01T00:00:00Z"], cfg)
    assert res.returncode == 2
    assert "--to must be after --from" in res.stderr
    res = kit.run_levcal(["replay", "--from", EPOCH, "--input", "x.avro"], cfg)
    assert res.returncode == 2
    assert "not both" in res.stderr
