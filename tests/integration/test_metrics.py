# SPDX-License-Identifier: Apache-2.0
"""The operations endpoint of a running stage on the real broker: /metrics
parses as Prometheus text (prometheus_client's strict parser), its counters
move with the work the stage does, /healthz answers and /readyz turns true
once the consumer has its assignment."""
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import kit
from test_stage import MODEL, market, topics


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    status, text = get(port, "/metrics")
    assert status == 200
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_move_with_the_work_and_parse_strictly():
    names, topic_cfg = topics(partitions=2)
    trades = market(minutes=10, shock=(3, 6))
    cfg = kit.base_config(topics=topic_cfg, processing={"guarantee": "at_least_once"}, **MODEL)
    with kit.start_levcal(["run"], cfg) as lv:
        port = int(lv.wait_for_stderr(r"metrics on http://\S+ \(port (\d+)\)").group(1))
        assert get(port, "/healthz")[0] == 200
        kit.wait_for(lambda: get(port, "/readyz")[0] == 200, kit.timeout(30),
                     "/readyz to turn 200 after the assignment")
        before = scrape(port)
        assert value(before, "levcal_up") == 1
        assert value(before, "levcal_ticks_in_total", topic=names["trades"]) == 0

        half = len(trades) // 2
        kit.produce(names["trades"], [(t["instrument"], kit.encode("Trade", t)) for t in trades[:half]]
                    + [("BTC-PERP", b"junk")])
        kit.wait_for(lambda: value(scrape(port), "levcal_ticks_in_total",
                                   topic=names["trades"]) == half + 1,
                     kit.timeout(30), "ticks_in to count every record")
        mid = scrape(port)
        limits = kit.consume_all(names["limits"])
        assert value(mid, "levcal_events_out_total", type="leverage_limit") == len(limits) > 0
        assert value(mid, "levcal_dead_letters_total", reason="decode") == 1
        assert value(mid, "levcal_processing_latency_seconds_count") == len(limits)
        assert value(mid, "levcal_instruments") in (0.0, 2.0)  # the gauge moves once a second

        kit.produce(names["trades"], [(t["instrument"], kit.encode("Trade", t)) for t in trades[half:]])
        kit.wait_for(lambda: value(scrape(port), "levcal_ticks_in_total",
                                   topic=names["trades"]) == len(trades) + 1,
                     kit.timeout(30), "the second half to be counted")
        end = kit.wait_for(lambda: (lambda s: s if value(s, "levcal_instruments") == 2.0 else None)(
            scrape(port)), kit.timeout(10), "the instruments gauge")
        lags = {k: v for k, v in end.items() if k[0] == "levcal_consumer_lag"}
        assert lags, "no consumer lag series"
        assert all(v >= 0 for v in lags.values())
        assert value(end, "levcal_events_out_total", type="leverage_limit") == \
            len(kit.consume_all(names["limits"]))
        assert lv.stop() == 0, lv.stderr_text()
