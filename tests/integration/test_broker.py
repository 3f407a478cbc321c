# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the fixture broker and the kit: what levcal's tests build on.

Records go through the real broker and come back: keys, Avro values from
schemas/, explicit partitions, headers; a transactional producer's aborted
records stay invisible to a read_committed consumer while its committed ones
arrive (the librdkafka mock cluster cannot show this); a compacted topic is
compacted as the broker sees it; a broker restart keeps the data.
"""
import pytest

import kit

INSTRUMENTS = ["BTC-PERP", "ETH-PERP", "SOL-PERP"]


def trade(i, instrument):
    return {"instrument": instrument, "ts_us": 1_700_000_000_000_000 + i * 250_000,
            "price": 100.0 + i * 0.5, "qty": 0.001 * (i + 1),
            "side": ["BUY", "SELL", "UNKNOWN"][i % 3], "trade_id": None if i % 2 else f"t{i}"}


def test_produced_trades_come_back_with_keys_values_partitions_and_headers():
    topic = kit.unique("trades")
    kit.create_topics({topic: 3})
    sent = []
    for i in range(12):
        p = i % 3
        ins = INSTRUMENTS[p]
        sent.append((ins, kit.encode("Trade", trade(i, ins)), p, {"levcal-source": f"in:{p}:{i}"}))
    delivered = kit.produce(topic, sent)
    assert sorted(delivered) == [(p, o) for p in range(3) for o in range(4)]

    got = kit.consume_all(topic, expect=12)
    assert [(r.partition, r.offset) for r in got] == [(p, o) for p in range(3) for o in range(4)]
    for r in got:
        assert r.key == INSTRUMENTS[r.partition]
        rec = kit.decode("Trade", r.value)
        assert rec["instrument"] == r.key
        assert rec == trade(int(r.headers["levcal-source"].split(":")[2]), r.key)
        assert r.headers["levcal-source"].startswith(f"in:{r.partition}:")
    # Nothing beyond the twelve: reading to the end offsets gives the same.
    assert [(r.partition, r.offset) for r in kit.consume_all(topic)] == [(r.partition, r.offset) for r in got]


def test_read_committed_consumer_sees_committed_transactions_and_not_aborted_ones():
    topic = kit.unique("txn")
    kit.create_topics({topic: 2})
    p = kit.transactional_producer()
    p.begin_transaction()
    for i in range(3):
        p.produce(topic, key=f"c1-{i}", value=kit.encode("Trade", trade(i, "BTC-PERP")), partition=i % 2)
    p.commit_transaction(kit.timeout(30))
    p.begin_transaction()
    for i in range(2):
        p.produce(topic, key=f"ab-{i}", value=kit.encode("Trade", trade(10 + i, "BTC-PERP")), partition=i % 2)
    p.flush(kit.timeout(30))
    p.abort_transaction(kit.timeout(30))
    p.begin_transaction()
    p.produce(topic, key="c2-0", value=kit.encode("Trade", trade(20, "ETH-PERP")), partition=1)
    p.commit_transaction(kit.timeout(30))

    committed = kit.consume_all(topic, isolation="read_committed")
    assert sorted(r.key for r in committed) == ["c1-0", "c1-1", "c1-2", "c2-0"]
    assert kit.decode("Trade", next(r for r in committed if r.key == "c2-0").value)["instrument"] == "ETH-PERP"
    # The aborted records were written (read_uncommitted sees them), so the
    # read_committed result above is the broker's doing, not a lost produce.
    everything = kit.consume_all(topic, isolation="read_uncommitted")
    assert sorted(r.key for r in everything) == ["ab-0", "ab-1", "c1-0", "c1-1", "c1-2", "c2-0"]


def test_read_committed_reading_to_the_end_does_not_wait_for_an_open_transaction():
    topic = kit.unique("open-txn")
    kit.create_topics({topic: 1})
    kit.produce(topic, [("before", b"1")])
    p = kit.transactional_producer()
    p.begin_transaction()
    p.produce(topic, key="pending", value=b"2")
    p.flush(kit.timeout(30))
    try:
        assert [r.key for r in kit.consume_all(topic, isolation="read_committed", timeout=20)] == ["before"]
    finally:
        p.abort_transaction(kit.timeout(30))


def test_compacted_topics_are_created_compacted_and_others_not():
    table, stream = kit.unique("positions"), kit.unique("prices")
    kit.create_topics({table: 2, stream: 2}, compacted=[table])
    assert kit.topic_config(table)["cleanup.policy"] == "compact"
    assert kit.topic_config(stream)["cleanup.policy"] == "delete"
    assert kit.partitions_of(table) == [0, 1]


def test_topics_are_not_created_by_producing_to_them():
    # The fixture broker runs with auto.create.topics.enable=false, so a
    # test (or a config) naming a topic nobody created fails loudly.
    with pytest.raises((RuntimeError, TimeoutError)):
        kit.produce(kit.unique("never-created"), [("k", b"v")], config={"message.timeout.ms": 3000},
                    timeout=10)


def test_broker_restart_keeps_port_and_data():
    topic = kit.unique("restart")
    kit.create_topics({topic: 1})
    kit.produce(topic, [("a", b"1"), ("b", b"2")])
    before = kit.bootstrap()
    after = kit.broker_restart()
    assert after == before
    kit.produce(topic, [("c", b"3")])
    assert [(r.key, r.value) for r in kit.consume_all(topic)] == [("a", b"1"), ("b", b"2"), ("c", b"3")]
