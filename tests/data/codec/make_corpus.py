#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# Writes the seed corpus of tests/fuzz/fuzz_decode.c into
# tests/fuzz/corpus/decode/: one valid record of every type and a few
# malformed ones, each prefixed with the record-type byte the harness reads
# (0 Trade, 1 PriceTick, 2 Position, 3 AccountBalance, 4 LeverageLimit,
# 5 LiquidationWarning, 6 StateSnapshot). Encoded by hand like
# make_golden.py. Crashers found by libFuzzer are added to the same
# directory by hand (named crash-*), never by this script.
#
#   python3 tests/data/codec/make_corpus.py
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import d, limit, limit_empty, s, trade, zz  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "..", "..", "fuzz", "corpus", "decode")

price = s("ETH-PERP") + zz(1700000000000000) + zz(0) + d(2000.25)
position = (s("acct-1") + s("BTC-PERP") + zz(5) + d(-0.5) + d(42000.0) + zz(0)
            + d(1500.0))
balance = s("acct-1") + zz(5) + d(-12.5)
warning = (s("acct-1") + s("BTC-PERP") + zz(9) + zz(3) + zz(2) + zz(1) + d(30000.0)
           + zz(1) + d(29000.0) + d(1.5) + d(1000.0) + d(400.0) + d(0.4) + d(-0.5)
           + d(0.8) + d(0.13))
state = zz(0) + zz(1) + s("cfg") + s("market.trades:0:17") + zz(4) + b"\x01\x02"

head = s("BTC") + zz(1) + d(1.0) + d(1.0)
limit_head = (s("X") + zz(1) + zz(1) + zz(0) + zz(0) + s("e") + d(0.5) * 5 + zz(0))

SEEDS = {
    "trade_valid": b"\x00" + trade,
    "price_valid": b"\x01" + price,
    "position_valid": b"\x02" + position,
    "balance_valid": b"\x03" + balance,
    "limit_valid": b"\x04" + limit,
    "limit_empty": b"\x04" + limit_empty,
    "warning_valid": b"\x05" + warning,
    "state_valid": b"\x06" + state,
    "trade_huge_string": b"\x00" + zz(209715200) + b"x" * 12,
    "trade_bad_enum": b"\x00" + head + zz(3) + zz(0),
    "trade_bad_union": b"\x00" + head + zz(0) + zz(2),
    "trade_trailing": b"\x00" + head + zz(0) + zz(0) + b"\x00\x01",
    "trade_nan_price": b"\x00" + s("BTC") + zz(1) + b"\x00" * 6 + b"\xf8\x7f" + d(1.0)
                       + zz(0) + zz(0),
    "trade_long_varint": b"\x00" + s("BTC") + b"\xff" * 10 + b"\x01",
    "limit_block_overflow": b"\x04" + limit_head + zz(1000000) + b"0" * 30,
    "limit_negative_block": b"\x04" + limit_head + zz(-1) + zz(40) + d(1.0) * 5 + zz(0)
                            + zz(0) + s("c"),
    "limit_17_tiers": b"\x04" + limit_head + zz(17) + d(1.0) * 85 + zz(0) + zz(0) + s("c"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(len(SEEDS), "seeds in", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
