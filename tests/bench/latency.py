#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Produce-to-event latency of `levcal run` at fixed offered loads.

For each load (default 10k, 50k and 100k trades/s, plus one MARK per
instrument every 100 ms) one invocation: starts `levcal run` in a fresh group,
waits until it is ready (/readyz), starts the latency probe
(tests/bench/latency.c) at the end of the output topics, drives
`levcal gen --rate R` for --seconds, waits until the stage has committed every
input record, stops the probe and the stage, and prints the distribution of

    append_ms   output LogAppendTime - input CreateTime (the output topics are
                created with message.timestamp.type=LogAppendTime): a tick
                produced -> its event in the log;
    visible_ms  probe receive time - event ts_us (gen's wall clock when it
                produced the tick): the same, as a consumer sees it.

(p50, p90, p99, p99.9, max) over every event of the run; the same for the
bus alone

    bus_ms      probe receive time - input CreateTime of every --bus-every'th
                input tick: what any consumer of the bus sees, the floor
                under levcal's figures on this broker and machine;

the stage's own share, from its /metrics histogram (bucket upper bounds)

    stage_ms    levcal_arrival_latency_seconds: the poll that returned a tick
                -> producing the event it caused (merge wait, decode, engine);

and levcal's CPU seconds per million ticks in the window. The broker, gen, levcal and the probe
share the machine's cores, which the report says next to every figure.

Settings (--settings):

    low       librdkafka for latency, in the config's kafka section, so that
              gen, levcal and the probe all get them: linger.ms 0,
              socket.nagle.disable true, fetch.wait.max.ms 10 (librdkafka
              2.0.2's defaults are linger.ms 5, Nagle on, fetch.wait.max.ms
              500);
    default   librdkafka's and levcal's defaults.

The engine runs an event-heavy config (EWMA on 100 ms samples with a 2 s
half-life, one-step leverage increments from 10x to 40x, relax_after 1 s), so
that every run has thousands of events to measure: latency is a property of
the path a tick takes, which the config does not change, but the count of
samples does decide how far into the tail the figures reach.

    latency.py [--build DIR] [--rates 10000,50000,100000] [--seconds 60]
               [--instruments 100] [--positions 10000] [--settings low]
               [--guarantee at_least_once] [--broker-dir DIR | --bootstrap-file F]
    latency.py --smoke --bootstrap-file build/kafka/bootstrap --build build
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import e2e  # noqa: E402 (helpers shared with the throughput benchmark)

LOW_LATENCY = {"linger.ms": "0", "socket.nagle.disable": "true", "fetch.wait.max.ms": "10"}

# Leverage steps 1..10 coarse, then every integer to 40: sigma noise moves
# the limit one step at a time.
STEPS = [1, 2, 3, 5] + list(range(10, 36)) + [40, 50]

ENGINE = {
    "volatility": {"estimator": "ewma", "sample_interval": "100ms", "half_life": "2s"},
    "leverage": {"warmup_samples": 5, "relax_after": "1s", "steps": STEPS,
                 "max_leverage_cap": 50, "im_multiplier": 2.0, "stale_after": "30s"},
}


def log(msg: str) -> None:
    print(f"latency: {msg}", file=sys.stderr, flush=True)


def machine_busy() -> tuple[int, int]:
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]


class Latency:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.build = e2e.find_build(a.build)
        self.work = Path(tempfile.mkdtemp(prefix="levcal-latency-"))
        self.started = False
        if a.bootstrap_file:
            self.bootstrap_file = Path(a.bootstrap_file)
            self.broker_dir = None
        else:
            self.broker_dir = Path(a.broker_dir or (self.work / "kafka"))
            self.bootstrap_file = self.broker_dir / "bootstrap"
        self.prefix = f"lat-{secrets.token_hex(3)}"
        os.environ["LVC_BOOTSTRAP_FILE"] = str(self.bootstrap_file)
        sys.path.insert(0, str(e2e.SOURCE / "tests" / "integration"))

    def kit(self):
        import kit  # noqa: E402
        return kit

    def t(self, name: str, run: str) -> str:
        return f"{self.prefix}-{run}.{name}"

    def topics(self, run: str) -> None:
        k = self.kit()
        n = self.a.partitions
        k.create_topics({self.t("trades", run): n, self.t("prices", run): n,
                         self.t("positions", run): 1, self.t("balances", run): 1,
                         self.t("dead", run): n, self.t("state", run): n},
                        compacted=[self.t("positions", run), self.t("balances", run),
                                   self.t("state", run)])
        k.create_topics({self.t("limits", run): n, self.t("warnings", run): n},
                        config={"message.timestamp.type": "LogAppendTime"})

    def config(self, run: str, group: str) -> Path:
        k = self.kit()
        kafka = {"bootstrap.servers": k.bootstrap(), "group.id": group}
        if self.a.settings == "low":
            kafka.update(LOW_LATENCY)
        kafka.update(self.a.kafka)
        cfg = {
            "kafka": kafka,
            "instance": group,
            "topics": {"trades": self.t("trades", run), "prices": self.t("prices", run),
                       "positions": self.t("positions", run), "balances": self.t("balances", run),
                       "leverage_limits": self.t("limits", run),
                       "liquidation_warnings": self.t("warnings", run),
                       "dead_letter": self.t("dead", run), "state": self.t("state", run)},
            "processing": {"guarantee": self.a.guarantee,
                           "commit_interval": f"{self.a.commit_interval_ms}ms",
                           **({"max_idle": self.a.max_idle} if self.a.max_idle else {})},
            "metrics": {"listen": "127.0.0.1:0"},
            **ENGINE,
        }
        path = self.work / f"{group}.yaml"
        path.write_text(k.to_yaml(cfg))
        return path

    def wait_ready(self, proc: subprocess.Popen, logpath: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"levcal exited {proc.returncode} before it was ready; see {logpath}")
            if port is None:
                m = re.search(r"\(port (\d+)\)", logpath.read_text(errors="replace"))
                port = int(m[1]) if m else None
            if port is not None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                        if r.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"levcal not ready after {timeout} s; see {logpath}")

    def stage_quantiles(self, logpath: Path, name: str) -> dict:
        """The stage's own histogram NAME (seconds) from its /metrics: the
        bucket bound (ms) at or below which p50, p99 and p99.9 of the
        observations fall (an upper bound, as fine as the buckets)."""
        m = re.search(r"\(port (\d+)\)", logpath.read_text(errors="replace"))
        if not m:
            return {}
        with urllib.request.urlopen(f"http://127.0.0.1:{m[1]}/metrics", timeout=5) as r:
            text = r.read().decode()
        buckets = []
        for line in text.splitlines():
            b = re.match(name + r'_bucket\{.*le="([^"]+)".*\} (\d+)', line)
            if b:
                buckets.append((float(b[1]), int(b[2])))
        if not buckets or buckets[-1][1] == 0:
            return {}
        total = buckets[-1][1]
        out = {"count": total, "unit": "ms (bucket upper bound)"}
        for q, key in ((0.5, "p50"), (0.99, "p99"), (0.999, "p999")):
            out[key] = next(le * 1e3 for le, c in buckets if c >= q * total)
        return out

    def wait_committed(self, group: str, run: str, timeout: float) -> bool:
        ends = e2e.Bench.end_offsets(self, [self.t("trades", run), self.t("prices", run)])
        total = sum(ends.values())
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.kit().bootstrap(), "group.id": group,
                      "enable.auto.commit": False, "isolation.level": "read_uncommitted"})
        tps = [TopicPartition(t, p) for (t, p) in sorted(ends)]
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                got = c.committed(tps, timeout=10)
                if sum(tp.offset for tp in got if tp.offset >= 0) >= total:
                    return True
                time.sleep(0.05)
        finally:
            c.close()
        return False

    def one(self, rate: int) -> dict:
        a = self.a
        run = f"r{rate}"
        group = f"{self.prefix}-{run}"
        self.topics(run)
        cfg = self.config(run, group)
        lvc_log = self.work / f"{group}-levcal.log"
        probe_log = self.work / f"{group}-probe.log"
        gen_log = self.work / f"{group}-gen.log"
        lvc = subprocess.Popen([str(self.build / "levcal"), "run", "-c", str(cfg)],
                               stdout=subprocess.DEVNULL, stderr=open(lvc_log, "w"))
        probe = gen = None
        res: dict = {"rate": rate, "settings": a.settings, "guarantee": a.guarantee}
        try:
            self.wait_ready(lvc, lvc_log, 60)
            since_us = int((time.time() + a.warmup) * 1e6)
            probe = subprocess.Popen([str(self.build / "bench" / "latency"), "-c", str(cfg),
                                      "--samples", str(self.work / f"{group}-samples.csv"),
                                      "--bus-every", str(a.bus_every), "--since-us", str(since_us)],
                                     stdout=subprocess.PIPE, stderr=open(probe_log, "w"), text=True)
            deadline = time.monotonic() + 30
            while "ready" not in probe_log.read_text():
                if probe.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the probe did not start; see {probe_log}")
                time.sleep(0.02)
            cpu0, busy0 = e2e.proc_cpu_s(lvc.pid), machine_busy()
            bpid = e2e.Bench.broker_pid(self)
            bcpu0 = e2e.proc_cpu_s(bpid) if bpid else None
            t0 = time.monotonic()
            gen = subprocess.run([str(self.build / "levcal"), "gen", "-c", str(cfg), "--rate", str(rate),
                                  "--seconds", str(a.seconds), "--instruments", str(a.instruments),
                                  "--positions", str(a.positions), "--seed", "7"],
                                 stdout=subprocess.DEVNULL, stderr=open(gen_log, "w"))
            if gen.returncode != 0:
                raise RuntimeError(f"levcal gen exited {gen.returncode}; see {gen_log}")
            caught_up = self.wait_committed(group, run, 120)
            t1 = time.monotonic()
            cpu1, busy1 = e2e.proc_cpu_s(lvc.pid), machine_busy()
            bcpu1 = e2e.proc_cpu_s(bpid) if bpid else None
            mem = e2e.proc_mem_kb(lvc.pid)
            res["in_stage_ms"] = self.stage_quantiles(lvc_log, "levcal_arrival_latency_seconds")
            probe.send_signal(signal.SIGTERM)
            out, _ = probe.communicate(timeout=180)
            res.update(json.loads(out.strip().splitlines()[-1]))
            m = re.search(r"done in [\d.]+ s: trades=(\d+) \(([\d.]+)/s.*?marks=(\d+) \(([\d.]+)/s",
                          gen_log.read_text())
            if m:
                res.update({"gen_trades": int(m[1]), "gen_trades_per_s": float(m[2]),
                            "gen_marks": int(m[3]), "gen_marks_per_s": float(m[4])})
            ticks = res.get("gen_trades", 0) + res.get("gen_marks", 0)
            res["caught_up"] = caught_up
            res["levcal_cpu_s_per_million_ticks"] = (cpu1 - cpu0) / (ticks / 1e6) if ticks else None
            res["levcal_cpu_share"] = (cpu1 - cpu0) / (t1 - t0)
            res["broker_cpu_share"] = (bcpu1 - bcpu0) / (t1 - t0) if bcpu0 is not None else None
            tot, idle = busy1[0] - busy0[0], busy1[1] - busy0[1]
            res["machine_busy_cores"] = (1 - idle / tot) * (os.cpu_count() or 1) if tot else None
            res["levcal_vm_hwm_kb"] = mem.get("VmHWM")
            if "not implemented in this version" in lvc_log.read_text(errors="replace"):
                res["note"] = "this levcal ran at_least_once: exactly_once is not implemented in its build"
        finally:
            if probe is not None and probe.poll() is None:
                probe.kill()
                probe.wait()
            if lvc.poll() is None:
                lvc.send_signal(signal.SIGTERM)
                try:
                    lvc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    lvc.kill()
                    lvc.wait()
        res["levcal_exit"] = lvc.returncode
        for what, path in (("levcal run", lvc_log), ("the probe", probe_log), ("levcal gen", gen_log)):
            if path.exists() and e2e.SANITIZER.search(path.read_text(errors="replace")):
                res["sanitizer"] = f"a sanitizer reported an error in {what}; see {path}"
        return res

    def run(self) -> int:
        a = self.a
        if self.broker_dir is not None:
            log(f"starting a broker in {self.broker_dir}")
            subprocess.run(["bash", str(e2e.SOURCE / "deploy" / "kafka-local.sh"), "start",
                            str(self.broker_dir)], check=True)
            self.started = True
        results = []
        try:
            for rate in a.rates:
                log(f"{rate} trades/s for {a.seconds} s ({a.settings} settings, {a.guarantee})")
                r = self.one(rate)
                results.append(r)
                log(json.dumps(r))
        finally:
            if self.started:
                subprocess.run(["bash", str(e2e.SOURCE / "deploy" / "kafka-local.sh"), "stop",
                                str(self.broker_dir)], check=False)
        print(f"\nlevcal produce-to-event latency, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
              f"{os.cpu_count()} CPU(s) shared by the broker, levcal gen, levcal run and the probe; "
              f"{a.settings} settings{''.join(f' {k}={v}' for k, v in a.kafka.items())}, {a.guarantee}, {a.instruments} instruments, {a.positions} positions")
        print(f"{'trades/s':>9} {'achieved':>9} {'events':>7} | {'append ms p50':>13} {'p99':>6} "
              f"{'p99.9':>6} {'max':>6} | {'visible ms p50':>14} {'p99':>7} {'p99.9':>7} | "
              f"{'bus ms p50':>10} {'p99':>7} {'p99.9':>7} | {'stage ms p50':>12} {'p99':>5} {'p99.9':>5} | "
              f"{'cpu s/M':>7} {'busy cores':>10}")
        errors = []
        for r in results:
            ap, vi, bu = r.get("append_ms", {}), r.get("visible_ms", {}), r.get("bus_visible_ms", {})
            sg = r.get("in_stage_ms", {})
            print(f"{r['rate']:9d} {r.get('gen_trades_per_s', 0):9.0f} {r.get('events', 0):7d} | "
                  f"{ap.get('p50', float('nan')):13.1f} {ap.get('p99', float('nan')):6.1f} "
                  f"{ap.get('p999', float('nan')):6.1f} {ap.get('max', float('nan')):6.1f} | "
                  f"{vi.get('p50', float('nan')):14.2f} {vi.get('p99', float('nan')):7.2f} "
                  f"{vi.get('p999', float('nan')):7.2f} | "
                  f"{bu.get('p50', float('nan')):10.2f} {bu.get('p99', float('nan')):7.2f} "
                  f"{bu.get('p999', float('nan')):7.2f} | "
                  f"{sg.get('p50', float('nan')):12.1f} {sg.get('p99', float('nan')):5.1f} "
                  f"{sg.get('p999', float('nan')):5.1f} | "
                  f"{r.get('levcal_cpu_s_per_million_ticks') or 0:7.2f} "
                  f"{r.get('machine_busy_cores') or 0:10.2f}"
                  + (f"  [{r['note']}]" if r.get("note") else ""))
            if not r.get("events"):
                errors.append(f"{r['rate']}/s: no event reached the probe")
            if not r.get("caught_up"):
                errors.append(f"{r['rate']}/s: levcal did not commit every input record")
            if r.get("source_not_found", 0) > r.get("events", 0) // 100:
                errors.append(f"{r['rate']}/s: {r['source_not_found']} events name no input record")
            if r.get("sanitizer"):
                errors.append(f"{r['rate']}/s: {r['sanitizer']}")
            if r.get("levcal_exit") != 0:
                errors.append(f"{r['rate']}/s: levcal exited {r.get('levcal_exit')}")
        if a.json:
            Path(a.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                                "cpus": os.cpu_count(), "args": vars(a),
                                                "low_latency_settings": LOW_LATENCY,
                                                "results": results}, indent=2) + "\n")
        for e in errors:
            print(f"latency: FAILED: {e}", file=sys.stderr)
        if errors:
            print(f"latency: logs kept in {self.work}", file=sys.stderr)
        elif not a.keep_work:
            shutil.rmtree(self.work, ignore_errors=True)
        return 1 if errors else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build")
    ap.add_argument("--rates", default="10000,50000,100000")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--instruments", type=int, default=100)
    ap.add_argument("--positions", type=int, default=10000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds at the start of each run not counted (connections, INITIAL limits)")
    ap.add_argument("--bus-every", type=int, default=5,
                    help="the probe also times every N-th input record: the bus's own latency")
    ap.add_argument("--settings", choices=["low", "default"], default="low")
    ap.add_argument("--kafka", action="append", default=[], metavar="KEY=VALUE",
                    help="a librdkafka property for gen, levcal and the probe, over --settings")
    ap.add_argument("--guarantee", choices=["at_least_once", "exactly_once"], default="at_least_once")
    ap.add_argument("--max-idle", help="processing.max_idle (the merge's wait for the other input; "
                                       "default: levcal's 50ms)")
    ap.add_argument("--commit-interval-ms", type=int, default=100)
    ap.add_argument("--broker-dir")
    ap.add_argument("--bootstrap-file")
    ap.add_argument("--json")
    ap.add_argument("--keep-work", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="a few-second version for CTest")
    a = ap.parse_args()
    if a.smoke:
        a.rates, a.seconds, a.instruments, a.positions, a.partitions = "5000", 3, 20, 300, 2
    a.rates = [int(x) for x in a.rates.split(",") if x]
    a.kafka = dict(kv.split("=", 1) for kv in a.kafka)
    return Latency(a).run()


if __name__ == "__main__":
    sys.exit(main())
