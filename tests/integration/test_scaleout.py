# SPDX-License-Identifier: Apache-2.0
"""Scale-out on the real broker: instances of one group share the
partitions, and rebalances (an instance joining, dying, leaving) keep the
output exactly-once.

The input of test_eos.make_input() arrives in twelve chunks of event time
while the group goes 2 -> 3 instances, one is SIGKILLed and restarted, one
is SIGKILLed for good (its partitions move after the session timeout, once
the broker aborted its open transaction), one is stopped, and the last one
finishes alone. Chunks split at event-time boundaries, so that records a
caught-up lane lets go after max_idle can never meet an earlier record
later: the live order is the replay's. The reference is `levcal replay
--from` over the same topics (test_replay_topics shows that the replay
equals an uninterrupted live run); the group's committed output must
equal it record for record, with seq without gaps.
"""
import random
import time

from confluent_kafka import TopicPartition

import kit
from test_eos import (PARTITIONS, S, T0_US, assert_same_output, assert_seq_without_gaps,
                      collect, committed, count, input_topics, make_input, output_topics,
                      run_config)
from test_replay_topics import EPOCH, replay_config

CHUNKS = 12


def ts_of(value, record):
    return kit.decode(record, value)["ts_us"]


def chunked(data, seconds):
    """Per chunk, the trades and prices whose event time falls in it (poison
    without a readable time goes with its neighbour)."""
    width = seconds * S // CHUNKS
    out = [([], []) for _ in range(CHUNKS)]
    for i, (topic, record) in enumerate((("trades", "Trade"), ("prices", "PriceTick"))):
        last = 0
        for key, value, part in data[topic]:
            try:
                last = min(CHUNKS - 1, (ts_of(value, record) - T0_US) // width)
            except Exception:  # noqa: BLE001 (poison: keep it where it was)
                pass
            out[last][i].append((key, value, part))
    return out


def ends_now(inputs):
    c = kit.consumer()
    try:
        return {(inputs[t], p): c.get_watermark_offsets(TopicPartition(inputs[t], p),
                                                        timeout=kit.timeout(10))[1]
                for t in ("trades", "prices") for p in range(PARTITIONS)}
    finally:
        c.close()


def caught_up(group, inputs, procs, timeout=120):
    ends = ends_now(inputs)

    def done():
        for lv in procs:
            if not lv.alive():
                raise AssertionError(f"levcal exited {lv.returncode}:\n{lv.stderr_text()[-3000:]}")
        got = committed(group, ends)
        return all(got[k] >= v for k, v in ends.items())

    kit.wait_for(done, timeout, "the group to commit everything produced", interval=0.2)


def test_two_then_three_then_one_instance_with_kills_commit_exactly_the_replay(tmp_path):
    seconds = 3600
    data = make_input(seed=21, seconds=seconds)
    inputs = input_topics()
    outputs = output_topics()
    group = kit.unique("scale")
    rng = random.Random(7)
    kit.produce(inputs["balances"], [(k, v) for k, v, _ in data["balances"]])
    kit.produce(inputs["positions"], [(k, v) for k, v, _ in data["positions"]])
    chunks = chunked(data, seconds)

    def feed(i):
        kit.produce(inputs["trades"], chunks[i][0])
        kit.produce(inputs["prices"], chunks[i][1])

    def start(name):
        cfg = run_config(inputs, outputs, group, name,
                         processing={"guarantee": "exactly_once", "commit_interval": "100ms",
                                     "max_idle": "3s"})
        return kit.start_levcal(["run"], cfg)

    t0 = time.monotonic()
    events = []
    feed(0)
    feed(1)
    a, b = start("a"), start("b")
    live = {"a": a, "b": b}
    try:
        for lv in (a, b):
            lv.wait_for_stderr(r"state restored", timeout=kit.timeout(60))
        feed(2)
        feed(3)
        caught_up(group, inputs, live.values())
        events.append("2 instances caught up")

        c = live["c"] = start("c")
        c.wait_for_stderr(r"state restored", timeout=kit.timeout(60))
        feed(4)
        feed(5)
        caught_up(group, inputs, live.values())
        events.append("3 instances caught up")

        feed(6)
        time.sleep(rng.random() * 0.3)  # a random moment while chunk 6 is processed
        live.pop("b").kill()
        live["b"] = b = start("b")
        feed(7)
        caught_up(group, inputs, live.values())
        events.append("b killed and restarted, caught up")

        feed(8)
        time.sleep(rng.random() * 0.3)
        live.pop("c").kill()
        killed = time.monotonic()
        feed(9)
        caught_up(group, inputs, live.values(), timeout=180)
        events.append(f"c killed for good; its partitions committed again after "
                      f"{time.monotonic() - killed:.1f} s")

        assert live.pop("b").stop() == 0
        stopped = time.monotonic()
        feed(10)
        feed(11)
        caught_up(group, inputs, live.values(), timeout=180)
        events.append(f"b stopped; a alone caught up after {time.monotonic() - stopped:.1f} s")
        assert live.pop("a").stop() == 0, a.stderr_text()[-3000:]
    finally:
        for lv in live.values():
            if lv.alive():
                lv.kill()
    secs = time.monotonic() - t0
    got = collect(outputs)

    prefix = kit.unique("ref") + "."
    kit.create_topics({prefix + outputs["limits"]: 2, prefix + outputs["warnings"]: 3,
                       prefix + outputs["dead"]: 1})
    res = kit.run_levcal(["replay", "--from", EPOCH],
                         replay_config(inputs, outputs, kit.unique("ref"), prefix), timeout=120)
    assert res.returncode == 0, res.stderr
    want = collect(outputs, prefix=prefix)
    print(f"scale-out: {'; '.join(events)}; {secs:.1f} s; output {count(got)}")
    assert_same_output(got, want, "2 -> 3 -> 1 instances")
    assert_seq_without_gaps(got)
