# SPDX-License-Identifier: Apache-2.0
"""The state topic and the exactly-once start on the real broker.

- levcal creates topics.state when it is missing: compacted, with the
  inputs' partition count; a state topic with another partition count, or
  one that is not compacted, is refused with a message that says what is
  wrong and how to fix it; exactly_once without an instance name (and
  without kafka.transactional.id) is a config error.
- A restart restores the state it committed: the second run continues each
  instrument's seq where the first stopped, and its state records are
  written to the partition of their input partition.
- A committed offset below the log start (records deleted by retention
  before they were processed) is reported with the partition, both offsets
  and the count lost, and the stage goes on from the log start.
"""
from confluent_kafka import TopicPartition

import kit
from test_eos import MODEL, S, T0_US, committed

NAMES = ("BTC-PERP", "ETH-PERP", "SOL-PERP", "ADA-PERP", "XRP-PERP", "DOT-PERP")


def trades(n, start=0, partitions=1):
    """(key, value, partition): two instruments per partition when there
    are three, so that a gap makes the other one STALE."""
    rows = []
    for k in range(start, start + n):
        for i, name in enumerate(NAMES):
            rows.append((name, kit.encode("Trade", {
                "instrument": name, "ts_us": T0_US + k * S + i, "price": 100.0 + (k % 7) + i,
                "qty": 1.0, "side": "BUY", "trade_id": None}), i // 2 if partitions == 3 else 0))
    return rows


def topics(partitions=2, state_partitions=None, state_compacted=True):
    names = {k: kit.unique(k) for k in ("trades", "prices", "positions", "balances", "limits",
                                         "warnings", "dead", "state")}
    create = {names[k]: partitions for k in ("trades", "prices")}
    create.update({names["positions"]: 1, names["balances"]: 1, names["limits"]: 1,
                   names["warnings"]: 1, names["dead"]: 1})
    compacted = [names["positions"], names["balances"]]
    if state_partitions is not None:
        create[names["state"]] = state_partitions
        if state_compacted:
            compacted.append(names["state"])
    kit.create_topics(create, compacted=compacted)
    cfg = {"trades": names["trades"], "prices": names["prices"],
           "positions": names["positions"], "balances": names["balances"],
           "leverage_limits": names["limits"], "liquidation_warnings": names["warnings"],
           "dead_letter": names["dead"], "state": names["state"]}
    return names, cfg


def config(topic_cfg, instance="i-0", **extra):
    cfg = kit.base_config(topics=topic_cfg, processing={"guarantee": "exactly_once",
                                                        "max_idle": "100ms"}, **MODEL)
    cfg["kafka"]["session.timeout.ms"] = 6000
    if instance is not None:
        cfg["instance"] = instance
    else:
        cfg.pop("instance", None)  # kit.base_config gives one
    cfg.update(extra)
    return cfg


def ends_of(topic, parts):
    c = kit.consumer()
    try:
        return {(topic, p): c.get_watermark_offsets(TopicPartition(topic, p),
                                                    timeout=kit.timeout(10))[1] for p in parts}
    finally:
        c.close()


def run_until_committed(cfg, ends):
    with kit.start_levcal(["run"], cfg) as lv:
        lv.wait_for_stderr(r"state restored", timeout=kit.timeout(60))
        kit.wait_for(lambda: not lv.alive() or committed(cfg["kafka"]["group.id"], ends) == ends,
                     kit.timeout(60), "the input committed")
        assert lv.stop() == 0, lv.stderr_text()[-3000:]
        return lv.stderr_text()


def test_the_state_topic_is_created_compacted_and_a_restart_continues_seq():
    names, topic_cfg = topics(partitions=3)
    kit.produce(names["trades"], trades(300, partitions=3))
    cfg = config(topic_cfg)
    run_until_committed(cfg, ends_of(names["trades"], range(3)))
    assert kit.partitions_of(names["state"]) == [0, 1, 2]
    assert kit.topic_config(names["state"])["cleanup.policy"] == "compact"
    state = kit.consume_all(names["state"])
    assert state
    # Each state record sits in the partition of the input it belongs to.
    for r in state:
        v = kit.decode("StateSnapshot", r.value)
        assert v["format_version"] == 1
        assert len(v["config_id"]) == 16
        if v["kind"] == "PARTITION":
            assert r.key == f"partition:{r.partition}"
        elif v["kind"] == "INSTRUMENT":
            src = v["source"]
            assert src.startswith(names["trades"] + ":") or src.startswith(names["prices"] + ":")
            assert int(src.rsplit(":", 2)[1]) == r.partition, (r.key, src, r.partition)
    limits1 = kit.consume_all(names["limits"])
    assert limits1

    # The second run, a new process with the same instance, after a gap in
    # event time (STALE, RECOVERED): seq goes on.
    kit.produce(names["trades"], trades(300, 400, partitions=3))
    stderr = run_until_committed(cfg, ends_of(names["trades"], range(3)))
    assert "state restored for partition(s) 0,1,2" in stderr
    by_inst = {}
    for r in kit.consume_all(names["limits"]):
        v = kit.decode("LeverageLimit", r.value)
        by_inst.setdefault(v["instrument"], []).append(v["seq"])
    assert len(kit.consume_all(names["limits"])) > len(limits1), "the second run published"
    for inst, seqs in by_inst.items():
        assert seqs == list(range(1, len(seqs) + 1)), (inst, seqs)


def test_a_state_topic_with_another_partition_count_is_refused():
    names, topic_cfg = topics(partitions=2, state_partitions=3)
    res = kit.run_levcal(["run"], config(topic_cfg), timeout=60)
    assert res.returncode == 1
    assert (f"state topic {names['state']} has 3 partition(s) but the inputs have 2: it must "
            "be co-partitioned with them") in res.stderr


def test_a_state_topic_that_is_not_compacted_is_refused():
    names, topic_cfg = topics(partitions=2, state_partitions=2, state_compacted=False)
    res = kit.run_levcal(["run"], config(topic_cfg), timeout=60)
    assert res.returncode == 1
    assert f"state topic {names['state']} has cleanup.policy=delete: it must be compacted" \
        in res.stderr
    assert kit.partitions_of(names["state"]) == [0, 1]


def test_exactly_once_without_an_instance_name_is_a_config_error():
    names, topic_cfg = topics(partitions=1)
    res = kit.run_levcal(["run"], config(topic_cfg, instance=None), timeout=60)
    assert res.returncode == 2
    assert ("processing.guarantee exactly_once needs a transactional id that is stable per "
            "instance: set `instance`") in res.stderr
    assert names["state"] not in kit.admin().list_topics(timeout=10).topics


def test_a_committed_offset_below_the_log_start_is_reported_and_the_stage_goes_on():
    names, topic_cfg = topics(partitions=1)
    kit.produce(names["trades"], trades(50)[:100])
    cfg = config(topic_cfg)
    run_until_committed(cfg, ends_of(names["trades"], [0]))
    done = committed(cfg["kafka"]["group.id"], ends_of(names["trades"], [0]))
    assert done == {(names["trades"], 0): 100}
    # 100 more records, then retention deletes everything below 150: the
    # committed offset 100 falls below the log start.
    kit.produce(names["trades"], trades(50, 50)[:100])
    fut = kit.admin().delete_records([TopicPartition(names["trades"], 0, 150)])
    for f in fut.values():
        f.result(timeout=kit.timeout(30))
    stderr = run_until_committed(cfg, ends_of(names["trades"], [0]))
    assert (f"{names['trades']} [0]: the committed offset 100 is below the log start offset 150: "
            "50 record(s) were deleted by retention before levcal processed them (their events "
            "are lost); continuing from the log start 150") in stderr
    sources = [int(r.headers["levcal-source"].rsplit(":", 1)[1])
               for r in kit.consume_all(names["limits"])]
    assert sources and all(o < 100 or o >= 150 for o in sources), sources

