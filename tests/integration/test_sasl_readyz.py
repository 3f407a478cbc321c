# SPDX-License-Identifier: Apache-2.0
"""/readyz of a running stage on the real broker: 503 until the consumer has
its assignment, 200 after (issue 8's proof; with state restore, 200 once the
assigned partitions are also restored, which this test allows for).

Deterministic without sleeps: a Python consumer joins the stage's group
first, takes every partition and then stops polling. Both use the eager
`range` assignor, so when the stage joins, the coordinator moves the group
to PreparingRebalance and waits for the Python member to rejoin, which it
cannot do without a poll (librdkafka waits for the application to handle
the revocation). While the group is seen in that state with two members,
the stage cannot hold an assignment, and /readyz must say 503 (and /healthz
200: the stage is alive, only waiting). When the Python consumer leaves,
the rebalance completes with the stage alone: /readyz turns 200, the stage
holds every partition, and it processes records.

(The file is named test_sasl_* after the ownership of the security tests;
it needs no SASL.)
"""
import urllib.error
import urllib.request

from confluent_kafka import Consumer, ConsumerGroupState

import kit
from test_stage import MODEL, market, topics


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def group_state(group):
    desc = kit.admin().describe_consumer_groups([group], request_timeout=kit.timeout(10))[group]
    d = desc.result(timeout=kit.timeout(10))
    return d.state, len(d.members), d


def test_readyz_is_503_while_the_group_rebalance_is_held_and_200_once_assigned():
    names, topic_cfg = topics(partitions=2)
    group = kit.unique("levcal-ready")
    inputs = [names["trades"], names["prices"]]

    holder_got = []
    holder = Consumer({"bootstrap.servers": kit.bootstrap(), "group.id": group,
                       "partition.assignment.strategy": "range", "enable.auto.commit": False})
    try:
        holder.subscribe(inputs, on_assign=lambda c, parts: holder_got.extend(parts))
        kit.wait_for(lambda: holder.poll(0.1) is None and len(holder_got) == 4, 30,
                     "the holding consumer to get all four partitions")
        assert group_state(group)[:2] == (ConsumerGroupState.STABLE, 1)
        # From here on the holder never polls again.

        cfg = kit.base_config(kafka={"group.id": group, "partition.assignment.strategy": "range"},
                              topics=topic_cfg, processing={"guarantee": "at_least_once"}, **MODEL)
        with kit.start_levcal(["run"], cfg) as lv:
            port = int(lv.wait_for_stderr(r"metrics on http://\S+ \(port (\d+)\)").group(1))
            assert get(port, "/readyz") == 503  # nothing assigned yet

            # The stage has joined and the coordinator waits for the holder.
            kit.wait_for(lambda: group_state(group)[:2] ==
                         (ConsumerGroupState.PREPARING_REBALANCING, 2), 30,
                         "the stage's join to start a rebalance that the holder holds")
            assert get(port, "/readyz") == 503
            assert get(port, "/healthz") == 200
            assert "kafka: assigned" not in lv.stderr_text()
            # Still held: the holder can neither rejoin nor be evicted before
            # its max.poll.interval.ms (300 s), so this is no race.
            assert group_state(group)[:2] == (ConsumerGroupState.PREPARING_REBALANCING, 2)
            assert get(port, "/readyz") == 503

            holder.close()  # leaves the group: the rebalance completes without it
            holder = None
            kit.wait_for(lambda: get(port, "/readyz") == 200, 30,
                         "/readyz to turn 200 once the stage holds the partitions")
            lv.wait_for_stderr(r"kafka: assigned 4 partition\(s\)", timeout=5)
            state, members, desc = group_state(group)
            assert (state, members) == (ConsumerGroupState.STABLE, 1)
            assigned = {(tp.topic, tp.partition)
                        for tp in desc.members[0].assignment.topic_partitions}
            assert assigned == {(t, p) for t in inputs for p in (0, 1)}

            # Ready means working: a trade in, limits out.
            trades = market(minutes=3, shock=(0, 0))
            kit.produce(names["trades"], [(t["instrument"], kit.encode("Trade", t)) for t in trades])
            out = kit.wait_for(lambda: kit.consume_all(names["limits"], timeout=5), 60,
                               "limits from the stage after /readyz turned 200")
            assert {kit.decode("LeverageLimit", r.value)["instrument"] for r in out} <= \
                {"BTC-PERP", "ETH-PERP"}
            assert get(port, "/readyz") == 200
            assert lv.stop() == 0, lv.stderr_text()
    finally:
        if holder is not None:
            holder.close()
