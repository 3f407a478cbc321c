#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Writes the golden Avro binary vectors of tests/io/test_codec.c, encoded by
# hand from the Avro 1.11 specification ("Binary Encoding"): zigzag varints
# for int/long/enum index/union branch/lengths/array block counts,
# little-endian IEEE 754 for doubles, length-prefixed UTF-8 for strings,
# arrays as one block (count, items) ended by a zero count. Nothing here uses
# an Avro library; with --check it also decodes every vector with fastavro
# (an independent implementation) against the .avsc files in schemas/.
#
#   python3 tests/data/codec/make_golden.py            # rewrite the .hex files
#   python3 tests/data/codec/make_golden.py --check    # needs: pip install fastavro
import io
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "..", "..", "schemas")


def zz(n):
    """zigzag + base-128 varint, least significant group first"""
    u = (n << 1) ^ (n >> 63)
    u &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def s(text):
    raw = text.encode("utf-8")
    return zz(len(raw)) + raw


def d(x):
    return struct.pack("<d", x)


# Trade: instrument, ts_us, price, qty, side (BUY SELL UNKNOWN), trade_id {null,string}
TRADE = {"instrument": "BTC-PERP", "ts_us": 1700000000000000, "price": 50000.5, "qty": 0.25,
         "side": "SELL", "trade_id": "t-42"}
trade = (s("BTC-PERP") + zz(1700000000000000) + d(50000.5) + d(0.25) + zz(1)
         + zz(1) + s("t-42"))

# LeverageLimit with both arrays filled and previous_max_leverage set.
LIMIT = {
    "instrument": "ETH-PERP", "ts_us": 1700000000123456, "seq": 7, "status": "ACTIVE",
    "reason": "TIGHTEN", "estimator": "max", "sigma_ann": 0.75, "sigma_horizon": 0.0078125,
    "imr": 0.05, "mmr": 0.025, "max_leverage": 20.0, "previous_max_leverage": 25.0,
    "tiers": [
        {"notional_cap": 1e6, "max_leverage": 20.0, "imr": 0.05, "mmr": 0.025,
         "maintenance_deduction": 0.0},
        {"notional_cap": 1e7, "max_leverage": 10.0, "imr": 0.1, "mmr": 0.05,
         "maintenance_deduction": 25000.0},
    ],
    "components": [{"estimator": "ewma", "sigma_ann": 0.75},
                   {"estimator": "yang_zhang", "sigma_ann": 0.5}],
    "config_id": "cfg-1",
}
limit = (s("ETH-PERP") + zz(1700000000123456) + zz(7) + zz(1) + zz(1) + s("max")
         + d(0.75) + d(0.0078125) + d(0.05) + d(0.025) + d(20.0)
         + zz(1) + d(25.0)
         + zz(2) + d(1e6) + d(20.0) + d(0.05) + d(0.025) + d(0.0)
         + d(1e7) + d(10.0) + d(0.1) + d(0.05) + d(25000.0) + zz(0)
         + zz(2) + s("ewma") + d(0.75) + s("yang_zhang") + d(0.5) + zz(0)
         + s("cfg-1"))

# LeverageLimit while warming up: null previous_max_leverage, empty arrays.
LIMIT_EMPTY = {
    "instrument": "SOL-PERP", "ts_us": 0, "seq": 1, "status": "WARMING_UP",
    "reason": "INITIAL", "estimator": "ewma", "sigma_ann": 1.0, "sigma_horizon": 0.010682,
    "imr": 0.5, "mmr": 0.25, "max_leverage": 2.0, "previous_max_leverage": None,
    "tiers": [], "components": [], "config_id": "",
}
limit_empty = (s("SOL-PERP") + zz(0) + zz(1) + zz(0) + zz(0) + s("ewma")
               + d(1.0) + d(0.010682) + d(0.5) + d(0.25) + d(2.0)
               + zz(0) + zz(0) + zz(0) + s(""))

VECTORS = [("trade.hex", "Trade", trade, TRADE),
           ("limit.hex", "LeverageLimit", limit, LIMIT),
           ("limit_empty.hex", "LeverageLimit", limit_empty, LIMIT_EMPTY)]


def main():
    if "--check" in sys.argv:
        import fastavro  # noqa: E402

        def plain(node):
            # logicalType changes what fastavro returns (datetime), not the
            # encoding: drop it to compare plain values.
            if isinstance(node, dict):
                return {k: plain(v) for k, v in node.items() if k != "logicalType"}
            if isinstance(node, list):
                return [plain(v) for v in node]
            return node

        for fname, schema, raw, expect in VECTORS:
            with open(os.path.join(SCHEMAS, schema + ".avsc")) as f:
                parsed = fastavro.parse_schema(plain(json.load(f)))
            buf = io.BytesIO(raw)
            got = fastavro.schemaless_reader(buf, parsed)
            assert buf.tell() == len(raw), fname + ": trailing bytes"
            assert got == expect, (fname, got)
            out = io.BytesIO()
            fastavro.schemaless_writer(out, parsed, expect)
            assert out.getvalue() == raw, fname + ": fastavro encodes differently"
            print(fname, "ok (fastavro decodes it to the record and re-encodes the same bytes)")
        return
    for fname, _, raw, _ in VECTORS:
        with open(os.path.join(HERE, fname), "w") as f:
            f.write(raw.hex() + "\n")
        print(fname, len(raw), "bytes")


if __name__ == "__main__":
    main()
