# SPDX-License-Identifier: Apache-2.0
"""levcal on a Confluent-framed bus with a Schema Registry (issue 9).

The producers here are confluent-kafka's own registry-aware AvroSerializer
and SchemaRegistryClient, writing ticks with an evolved writer schema (fields
in another order, added fields with defaults, float where we have double, an
added enum symbol with a default); levcal's outputs are read back with
AvroDeserializer and checked field by field against `levcal replay` over the
same ticks in our own schema. A second test stops the registry mid-run:
cached ids keep flowing, the partition behind a new id waits, and once the
registry is back every held record is processed, in order, none lost.

The registry is the CTest fixture `registry` (deploy/registry/registry-local.sh
in <build>/registry; LVC_REGISTRY_DIR names it), next to the broker fixture.
"""
import datetime
import json
import os
import struct
import subprocess
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

import pytest

import kit

T0_US = 1_767_225_600_000_000
REGISTRY_LOCAL = kit.SOURCE_DIR / "deploy" / "registry" / "registry-local.sh"


def registry_dir() -> Path:
    d = os.environ.get("LVC_REGISTRY_DIR")
    if not d:
        raise RuntimeError("LVC_REGISTRY_DIR is not set: run through ctest (fixture registry) "
                           "or start deploy/registry/registry-local.sh start DIR and export it")
    return Path(d)


def registry_url() -> str:
    return (registry_dir() / "url").read_text().strip()


def registry(cmd: str) -> None:
    proc = subprocess.run(["bash", str(REGISTRY_LOCAL), cmd, str(registry_dir())],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=kit.timeout(60))
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")


def client() -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry_url()})


def ours(name: str) -> str:
    return json.dumps(kit.schema_json(name))


def evolved_trade() -> str:
    """Trade as a producer evolved it: another field order, two added fields
    with defaults, price and qty as float, Side with an added symbol and a
    default (the Avro way to let old readers read a new symbol)."""
    return json.dumps({
        "type": "record", "name": "Trade", "namespace": "levcal",
        "fields": [
            {"name": "venue", "type": "string", "default": "XNAS"},
            {"name": "side", "type": {"type": "enum", "name": "Side",
                                      "symbols": ["BUY", "SELL", "UNKNOWN", "AUCTION"],
                                      "default": "UNKNOWN"}},
            {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "qty", "type": "float"},
            {"name": "instrument", "type": "string"},
            {"name": "fee", "type": "double", "default": 0.0},
            {"name": "price", "type": "float"},
            {"name": "trade_id", "type": ["null", "string"], "default": None},
        ]})


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def market(n=900):
    """Two instruments, a random walk with a quiet and a wild half; prices
    and quantities float32-exact so both writer schemas carry them exactly."""
    import random
    rng = random.Random(11)
    px = {"BTC-PERP": 60000.0, "ETH-PERP": 3000.0}
    out = []
    for k in range(n):
        for i, name in enumerate(px):
            sig = 0.0004 if k < n // 2 else 0.004
            px[name] = f32(px[name] * (1 + sig * rng.gauss(0, 1)))
            out.append({"instrument": name, "ts_us": T0_US + k * 1_000_000 + i,
                        "price": px[name], "qty": f32(0.5 + rng.random()),
                        "side": rng.choice(["BUY", "SELL"]), "trade_id": f"{name}-{k}"})
    return out


MODEL = {
    "volatility": {"estimator": "ewma", "sample_interval": "1s", "half_life": "1m"},
    "leverage": {"warmup_samples": 30, "relax_after": "2m", "stale_after": "1h"},
}


def topics(partitions=2):
    names = {k: kit.unique(k) for k in ("trades", "prices", "limits", "warnings", "dead",
                                         "positions", "balances", "state")}
    kit.create_topics({n: partitions for n in names.values()},
                      compacted=[names["positions"], names["balances"], names["state"]])
    return names, {"trades": names["trades"], "prices": names["prices"],
                   "leverage_limits": names["limits"],
                   "liquidation_warnings": names["warnings"], "dead_letter": names["dead"],
                   "positions": names["positions"], "balances": names["balances"],
                   "state": names["state"]}


def plain_micros(v):
    """AvroDeserializer turns timestamp-micros into datetimes; levcal's JSON
    has integers."""
    if isinstance(v, datetime.datetime):
        d = v - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    return v


def read_limits(names, expect):
    de = AvroDeserializer(client())
    ctx = SerializationContext(names["limits"], MessageField.VALUE)
    out = kit.consume_all(names["limits"], expect=expect, timeout=60)
    vals = []
    for r in out:
        assert r.value[0] == 0, "not Confluent-framed"
        v = de(r.value, ctx)
        v["ts_us"] = plain_micros(v["ts_us"])
        assert r.key == v["instrument"]
        vals.append((r, v))
    return vals


def confluent_cfg(topic_cfg, guarantee="at_least_once", **extra):
    if guarantee == "exactly_once":
        extra = dict(extra, instance=kit.unique("lv"))
    return kit.base_config(topics=topic_cfg,
                           schema={"wire_format": "confluent",
                                   "registry": {"url": registry_url(), "timeout": "2s"}},
                           processing={"guarantee": guarantee, "commit_interval": "100ms"},
                           **MODEL, **extra)


def test_evolved_producers_are_read_and_outputs_read_back_with_the_registry(tmp_path):
    names, topic_cfg = topics()
    trades = market()
    # The oracle: a plain replay of the same ticks in our schema.
    inp = tmp_path / "trades.avro"
    kit.write_container(inp, "Trade", trades)
    res = kit.run_levcal(["replay", "--input", str(inp), "--out", str(tmp_path / "o.jsonl")],
                         kit.base_config(topics=topic_cfg, **MODEL))
    assert res.returncode == 0, res.stderr
    oracle = [json.loads(x)["value"] for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert any(v["reason"] == "TIGHTEN" for v in oracle), [v["reason"] for v in oracle]

    # Producers: the first half with our schema, the second with the evolved
    # one (and some AUCTION sides, which we read as UNKNOWN).
    sr = client()
    ctx = SerializationContext(names["trades"], MessageField.VALUE)
    ser_ours = AvroSerializer(sr, ours("Trade"), conf={"auto.register.schemas": True})
    ser_new = AvroSerializer(sr, evolved_trade(), conf={"auto.register.schemas": True})
    recs = []
    for k, t in enumerate(trades):
        if k < len(trades) // 2:
            recs.append((t["instrument"], ser_ours(t, ctx)))
        else:
            e = dict(t, venue="XLON", fee=0.01, side="AUCTION" if k % 7 == 0 else t["side"])
            recs.append((t["instrument"], ser_new(e, ctx)))
    ids = {struct.unpack(">I", v[1:5])[0] for _, v in recs}
    assert len(ids) == 2, ids
    kit.produce(names["trades"], recs)

    with kit.start_levcal(["run"], confluent_cfg(topic_cfg)) as lv:
        got = read_limits(names, expect=len(oracle))
        assert lv.stop() == 0, lv.stderr_text()
    err = lv.stderr_text()
    for i in ids:
        assert f"schema id {i} resolved against levcal.Trade" in err, err
    assert kit.consume_all(names["dead"]) == []

    # Field by field against the oracle, per instrument (the partitions
    # interleave instruments differently from the replay's merge).
    want, have = {}, {}
    for v in oracle:
        want.setdefault(v["instrument"], []).append(v)
    for _, v in got:
        have.setdefault(v["instrument"], []).append(v)
    assert sorted(have) == sorted(want)
    for inst in want:
        assert len(have[inst]) == len(want[inst]), inst
        for a, b in zip(have[inst], want[inst]):
            assert a == b, (inst, a, b)

    # Our output schema was registered under the topic-name subject, and
    # the outputs carry its id.
    subject = names["limits"] + "-value"
    latest = sr.get_latest_version(subject)
    assert {struct.unpack(">I", r.value[1:5])[0] for r, _ in got} == {latest.schema_id}
    assert json.loads(latest.schema.schema_str)["name"] == "LeverageLimit"


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_registry_outage_holds_only_the_partition_with_a_new_id_and_loses_nothing(guarantee):
    names, topic_cfg = topics()
    sr = client()
    ctx = SerializationContext(names["trades"], MessageField.VALUE)
    ser_ours = AvroSerializer(sr, ours("Trade"), conf={"auto.register.schemas": True})
    ser_new = AvroSerializer(sr, evolved_trade(), conf={"auto.register.schemas": True})

    def trade(inst, k):
        return {"instrument": inst, "ts_us": T0_US + k * 1_000_000, "price": 100.0 + k,
                "qty": 1.0, "side": "BUY", "trade_id": None}

    # Serialize one evolved record now, so that its id is registered (the
    # producer side needs the registry for that) but levcal has not seen it.
    new_id_value = ser_new(dict(trade("N1", 2), venue="X", fee=0.0), ctx)
    lv = kit.start_levcal(["run"], confluent_cfg(topic_cfg, guarantee))
    with lv:
        # Phase A, registry up: one instrument per partition.
        kit.produce(names["trades"], [("A0", ser_ours(trade("A0", 1), ctx), 0),
                                      ("B0", ser_ours(trade("B0", 1), ctx), 1)])
        kit.wait_for(lambda: len(kit.consume_all(names["limits"])) >= 2, 60, "phase A limits")

        # Phase B, registry stopped: a new id on partition 0, then a cached
        # id behind it on partition 0, and a cached id on partition 1.
        registry("stop")
        kit.produce(names["trades"], [("N1", new_id_value, 0),
                                      ("A1", ser_ours(trade("A1", 3), ctx), 0),
                                      ("B1", ser_ours(trade("B1", 3), ctx), 1)])
        kit.wait_for(lambda: {kit.decode("LeverageLimit", r.value[5:])["instrument"]
                              for r in kit.consume_all(names["limits"])} >= {"B1"},
                     60, "the cached id on partition 1 to flow during the outage")
        lv.wait_for_stderr(r"schema registry unreachable", timeout=30)
        lv.wait_for_stderr(r":0:\d+ held", timeout=30)
        during = {kit.decode("LeverageLimit", r.value[5:])["instrument"]
                  for r in kit.consume_all(names["limits"])}
        assert "N1" not in during and "A1" not in during, during

        # Phase C, registry back: the next tick of partition 0 lets the
        # held records through, in order.
        registry("restart")
        kit.produce(names["trades"], [("A2", ser_ours(trade("A2", 4), ctx), 0)])
        got = read_limits(names, expect=6)
        lv.wait_for_stderr(r"reachable again", timeout=30)
        assert lv.stop() == 0, lv.stderr_text()

    assert kit.consume_all(names["dead"]) == []
    inputs = {(r.partition, r.offset): r.key for r in kit.consume_all(names["trades"], expect=6)}
    p0 = [(int(r.headers["levcal-source"].rsplit(":", 2)[2]), v["instrument"])
          for r, v in got if r.headers["levcal-source"].rsplit(":", 2)[1] == "0"]
    # Every partition-0 input caused its INITIAL limit, in offset order.
    assert [i for _, i in sorted(p0)] == ["A0", "N1", "A1", "A2"], p0
    assert all(inputs[(0, off)] == inst for off, inst in p0)
    assert sorted(v["instrument"] for _, v in got) == ["A0", "A1", "A2", "B0", "B1", "N1"]
    assert all(v["reason"] == "INITIAL" and v["seq"] == 1 for _, v in got)


def test_an_incompatible_writer_is_dead_lettered_with_the_field_and_the_original_bytes():
    names, topic_cfg = topics(partitions=1)
    sr = client()
    ctx = SerializationContext(names["trades"], MessageField.VALUE)
    # A writer that dropped price (ours has no default for it).
    no_price = json.dumps({"type": "record", "name": "Trade", "namespace": "levcal",
                           "fields": [{"name": "instrument", "type": "string"},
                                      {"name": "ts_us", "type": "long"},
                                      {"name": "qty", "type": "double"}]})
    bad = AvroSerializer(sr, no_price, conf={"auto.register.schemas": True})(
        {"instrument": "X-PERP", "ts_us": T0_US, "qty": 1.0}, ctx)
    good = AvroSerializer(sr, ours("Trade"), conf={"auto.register.schemas": True})(
        {"instrument": "Y-PERP", "ts_us": T0_US + 1, "price": 10.0, "qty": 1.0,
         "side": "BUY", "trade_id": None}, ctx)
    bad_id = struct.unpack(">I", bad[1:5])[0]
    kit.produce(names["trades"], [("X-PERP", bad), ("Y-PERP", good),
                                  ("Z-PERP", b"\x07\x00\x00\x00\x01junk")])
    with kit.start_levcal(["run"], confluent_cfg(topic_cfg)) as lv:
        dead = kit.consume_all(names["dead"], expect=2, timeout=60)
        limits = read_limits(names, expect=1)
        assert lv.stop() == 0, lv.stderr_text()
    assert [v["instrument"] for _, v in limits] == ["Y-PERP"]
    assert dead[0].value == bad and dead[0].key == "X-PERP"
    assert dead[0].headers["levcal-error"] == (
        f"schema id {bad_id} cannot be read as levcal.Trade: Trade.price: the writer schema "
        f"has no field price, and ours gives it no default")
    assert dead[1].value == b"\x07\x00\x00\x00\x01junk"
    assert dead[1].headers["levcal-error"] == "confluent framing: magic byte 0x07, expected 0x00"
    assert dead[1].headers["levcal-source"].endswith(":0:2")


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 (its own CA), made with cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "levcal test registry")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "registry.pem", tmp_path / "registry.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_and_basic_auth_with_the_password_from_a_file_never_shown(tmp_path):
    names, topic_cfg = topics(partitions=1)
    cert, key = _self_signed(tmp_path)
    secret = "Reg-Pw-" + kit.unique("s")
    (tmp_path / "registry-password").write_text(secret + "\n")
    url_file = tmp_path / "url"
    proc = subprocess.Popen([os.environ.get("LVC_PYTHON") or "python3",
                             str(kit.SOURCE_DIR / "deploy" / "registry" / "registry.py"),
                             "--port", "0", "--url-file", str(url_file), "--user", "levcal",
                             "--password", secret, "--tls-cert", str(cert), "--tls-key", str(key)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = kit.wait_for(lambda: url_file.exists() and url_file.read_text().strip(), 20,
                           "the TLS registry to listen")
        assert url.startswith("https://127.0.0.1:")
        sr = SchemaRegistryClient({"url": url, "basic.auth.user.info": f"levcal:{secret}",
                                   "ssl.ca.location": str(cert)})
        ctx = SerializationContext(names["trades"], MessageField.VALUE)
        value = AvroSerializer(sr, evolved_trade(), conf={"auto.register.schemas": True})(
            {"venue": "X", "side": "AUCTION", "ts_us": T0_US, "qty": 1.0,
             "instrument": "T-PERP", "fee": 0.0, "price": 5.0, "trade_id": None}, ctx)
        kit.produce(names["trades"], [("T-PERP", value)])
        reg = {"url": url, "timeout": "5s",
               "basic_auth": {"user": "levcal", "password_file": str(tmp_path / "registry-password")},
               "tls": {"ca_file": str(cert)}}
        cfg = kit.base_config(topics=topic_cfg, schema={"wire_format": "confluent", "registry": reg},
                              processing={"guarantee": "at_least_once"}, **MODEL)
        checked = kit.run_levcal(["check-config"], cfg)
        assert checked.returncode == 0, checked.stderr
        assert secret not in checked.stdout + checked.stderr
        with kit.start_levcal(["run"], cfg) as lv:
            out = kit.consume_all(names["limits"], expect=1, timeout=60)
            assert lv.stop() == 0, lv.stderr_text()
        assert secret not in lv.stderr_text()
        de = AvroDeserializer(sr)
        v = de(out[0].value, SerializationContext(names["limits"], MessageField.VALUE))
        assert v["instrument"] == "T-PERP" and v["reason"] == "INITIAL"

        # Without our CA the registry's certificate is refused at start.
        no_ca = dict(cfg, schema={"wire_format": "confluent",
                                  "registry": dict(reg, tls={"verify": True})})
        res = kit.run_levcal(["run"], no_ca, timeout=60)
        assert res.returncode == 1
        assert "registering levcal.LeverageLimit" in res.stderr and "SSL" in res.stderr, res.stderr
        assert secret not in res.stderr
        # And a wrong password is refused (401), without showing either.
        (tmp_path / "wrong").write_text("not-it\n")
        wrong = dict(cfg, schema={"wire_format": "confluent",
                                  "registry": dict(reg, basic_auth={
                                      "user": "levcal", "password_file": str(tmp_path / "wrong")})})
        res = kit.run_levcal(["run"], wrong, timeout=60)
        assert res.returncode == 1 and "401" in res.stderr, res.stderr
        assert "not-it" not in res.stderr and secret not in res.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
