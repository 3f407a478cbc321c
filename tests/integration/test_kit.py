# SPDX-License-Identifier: Apache-2.0
"""The kit's own tests: Avro helpers against schemas/, the YAML writer, and the
process helpers driven with a stand-in program (so that they are proven
before levcal's subcommands exist; the levcal tests then rely on them).
"""
import json
import struct
import sys
import textwrap

import fastavro
import pytest

import kit

SCHEMAS = sorted(p.stem for p in kit.SCHEMA_DIR.glob("*.avsc"))


def test_every_schema_file_parses():
    assert {"Trade", "PriceTick", "Position", "AccountBalance", "LeverageLimit",
            "LiquidationWarning"} <= set(SCHEMAS)
    for name in SCHEMAS:
        assert kit.schema(name)["name"] == f"levcal.{name}"


def test_trade_encoding_is_plain_avro_binary_in_schema_field_order():
    rec = {"instrument": "BTC", "ts_us": 1, "price": 2.0, "qty": 0.5, "side": "SELL", "trade_id": "x"}
    data = kit.encode("levcal.Trade", rec)
    # string "BTC": zigzag length 3 -> 0x06; long 1 -> 0x02; two
    # little-endian doubles; enum SELL index 1 -> 0x02; union branch 1
    # (string) -> 0x02, then "x" (length 1 -> 0x02).
    assert data[:5] == b"\x06BTC\x02"
    assert data[5:21] == struct.pack("<dd", 2.0, 0.5)
    assert data[-4:] == b"\x02\x02\x02x"
    assert kit.decode("Trade", data) == rec


def test_decode_refuses_trailing_bytes():
    data = kit.encode("PriceTick", {"instrument": "ETH", "ts_us": 5, "kind": "MARK", "price": 3.5})
    assert kit.decode("PriceTick", data)["kind"] == "MARK"
    with pytest.raises(ValueError, match="trailing"):
        kit.decode("PriceTick", data + b"\x00")


def test_timestamps_stay_integer_microseconds():
    rec = kit.decode("Trade", kit.encode("Trade", {"instrument": "A", "ts_us": 1_700_000_000_123_456,
                                                   "price": 1.0, "qty": 1.0, "side": "BUY"}))
    assert rec["ts_us"] == 1_700_000_000_123_456 and isinstance(rec["ts_us"], int)
    assert rec["trade_id"] is None


def test_container_files_round_trip_with_the_record_name(tmp_path):
    rows = [{"account": f"acc{i}", "ts_us": i, "collateral": 1000.0 + i} for i in range(5)]
    path = kit.write_container(tmp_path / "balances.avro", "AccountBalance", rows, codec="deflate")
    with open(path, "rb") as f:
        assert fastavro.reader(f).writer_schema["name"] == "levcal.AccountBalance"
    name, back = kit.read_container(path)
    assert name == "levcal.AccountBalance" and back == rows


def test_confluent_framing_round_trips():
    payload = kit.encode("AccountBalance", {"account": "a", "ts_us": 1, "collateral": 2.0})
    framed = kit.frame_confluent(42, payload)
    assert framed[:5] == b"\x00\x00\x00\x00\x2a"
    assert kit.unframe_confluent(framed) == (42, payload)


def test_yaml_writer_emits_block_yaml_with_quoted_strings():
    cfg = {"kafka": {"bootstrap.servers": "127.0.0.1:1", "enable.idempotence": True},
           "leverage": {"steps": [1, 2, 5], "tiers": [{"notional_cap": 1.0e6, "multiplier": 1.0}],
                        "prior_sigma_ann": None}, "instruments": {}}
    assert kit.to_yaml(cfg) == textwrap.dedent("""\
        kafka:
          bootstrap.servers: "127.0.0.1:1"
          enable.idempotence: true
        leverage:
          steps:
            - 1
            - 2
            - 5
          tiers:
            - notional_cap: 1000000.0
              multiplier: 1.0
          prior_sigma_ann: null
        instruments: {}
        """)


# A stand-in for levcal: reports its argv and the config it was given, and
# on SIGTERM says so and exits 0.
STANDIN = textwrap.dedent("""\
    import json, signal, sys, time
    def term(*_):
        print("got SIGTERM", file=sys.stderr, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, term)
    args = sys.argv[1:]
    cfg = open(args[args.index("-c") + 1]).read() if "-c" in args else None
    print(json.dumps({"args": args, "config": cfg}), flush=True)
    print("ready", file=sys.stderr, flush=True)
    if args and args[0] == "serve":
        while True:
            time.sleep(0.05)
    if args and args[0] == "asan":
        print("==1==ERROR: AddressSanitizer: heap-use-after-free", file=sys.stderr)
    sys.exit(3 if args and args[0] == "fail" else 0)
    """)


@pytest.fixture
def standin(tmp_path):
    script = tmp_path / "standin.py"
    script.write_text(STANDIN)
    return [sys.executable, str(script)]


def test_run_levcal_passes_the_config_after_the_subcommand_and_captures_output(standin):
    res = kit.run_levcal(["replay", "--input", "x.avro"], {"kafka": {"group.id": "g"}}, binary=standin)
    out = json.loads(res.stdout)
    assert out["args"][:3] == ["replay", "-c", str(res.config_path)]
    assert out["args"][3:] == ["--input", "x.avro"]
    assert out["config"] == 'kafka:\n  group.id: "g"\n'
    assert res.returncode == 0 and res.stderr == "ready\n" and res.stderr_path.read_text() == "ready\n"


def test_run_levcal_check_raises_on_a_nonzero_exit(standin):
    assert kit.run_levcal(["fail"], binary=standin).returncode == 3
    with pytest.raises(AssertionError, match="exited 3"):
        kit.run_levcal(["fail"], binary=standin, check=True)


def test_run_levcal_fails_on_a_sanitizer_report(standin):
    with pytest.raises(AssertionError, match="sanitizer report"):
        kit.run_levcal(["asan"], binary=standin)


def test_start_levcal_stop_sends_sigterm_and_kill_sends_sigkill(standin):
    h = kit.start_levcal(["serve"], "kafka: {}\n", binary=standin)
    h.wait_for_stderr("(?m)^ready$", timeout=20)
    assert h.alive()
    assert h.stop() == 0
    assert "got SIGTERM" in h.stderr_text()
    assert json.loads(h.stdout_text())["config"] == "kafka: {}\n"

    h2 = kit.start_levcal(["serve"], binary=standin)
    h2.wait_for_stderr("ready", timeout=20)
    assert h2.kill() == -9
    assert "got SIGTERM" not in h2.stderr_text()


def test_wait_for_returns_the_value_or_names_what_it_waited_for():
    calls = []
    assert kit.wait_for(lambda: calls.append(1) or (len(calls) >= 3 and "done"), 10, "three calls") == "done"
    with pytest.raises(TimeoutError, match="waiting for the impossible"):
        kit.wait_for(lambda: False, 0.2, "the impossible")


def test_unique_names_differ():
    names = {kit.unique("t") for _ in range(100)}
    assert len(names) == 100 and all(n.startswith("t-") for n in names)


def test_lvc_bin_is_the_levcal_binary_under_test():
    res = kit.run_levcal(["--help"], check=True)
    assert "usage: levcal" in res.stdout
    assert kit.run_levcal(["no-such-command"]).returncode == 2
