# SPDX-License-Identifier: Apache-2.0
"""File replays read plain Avro whatever the bus's wire format: with
`schema.wire_format: confluent` (static ids, no registry) a replay of a
Trade file to JSON Lines gives the same events as with the plain format,
and no dead letters."""
import json

import kit

T0 = 1_767_225_600_000_000


def replay(tmp_path, extra, name):
    rows = [{"instrument": "X", "ts_us": T0 + k * 1_000_000, "price": 100.0 + (k % 2),
             "qty": 1.0, "side": "BUY", "trade_id": None} for k in range(120)]
    inp = tmp_path / f"{name}.avro"
    out = tmp_path / f"{name}.jsonl"
    kit.write_container(inp, "Trade", rows)
    cfg = {"kafka": {"bootstrap.servers": "127.0.0.1:9"},
           "leverage": {"warmup_samples": 10}, **extra}
    res = kit.run_levcal(["replay", "--input", str(inp), "--out", str(out)], cfg)
    assert res.returncode == 0, res.stderr
    return [json.loads(x) for x in out.read_text().splitlines()]


def test_a_file_replay_under_the_confluent_wire_format_reads_plain_records(tmp_path):
    ids = {k: i + 1 for i, k in enumerate(["trade", "price_tick", "position", "account_balance",
                                           "leverage_limit", "liquidation_warning"])}
    framed = replay(tmp_path, {"schema": {"wire_format": "confluent", "ids": ids}}, "framed")
    plain = replay(tmp_path, {}, "plain")
    assert framed, "no events"
    assert all(x["topic"] == "risk.leverage-limits" for x in framed), framed[:3]
    strip = lambda xs: [{k: v for k, v in x["value"].items() if k != "config_id"} for x in xs]
    assert strip(framed) == strip(plain)


def test_a_dead_letter_in_out_carries_the_original_bytes_in_base64(tmp_path):
    """A record refused for its value (price 0) is a dead letter in --out:
    its value is the record's own Avro bytes, base64, and it has a reason."""
    import base64

    row = {"instrument": "X", "ts_us": T0, "price": 0.0, "qty": 1.0, "side": "SELL",
           "trade_id": "t-1"}
    inp, out = tmp_path / "bad.avro", tmp_path / "bad.jsonl"
    kit.write_container(inp, "Trade", [row])
    res = kit.run_levcal(["replay", "--input", str(inp), "--out", str(out)],
                         {"kafka": {"bootstrap.servers": "127.0.0.1:9"}})
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    dead = [x for x in lines if x["topic"] == "levcal.deadletter"]
    assert len(dead) == 1, lines
    assert dead[0]["value"] == base64.b64encode(kit.encode("Trade", row)).decode()
