#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End-to-end throughput: `levcal run` against the passthrough baseline, side by side.

One invocation starts a real broker (deploy/kafka-local.sh) or uses a running
one, pre-loads N trades and MARK ticks over K instruments and P positions with
the bulk loader (tests/bench/loader.c), then runs, alternating A/B/A/B, the
passthrough (tests/bench/passthrough.c: consume and produce every record
unchanged, the physical limit of any stage here) and `levcal run` over the same
input, each in a fresh consumer group, for each mode:

    alo       processing.guarantee at_least_once (commit interval 100 ms)
    eos10     exactly_once, commit_interval 10 ms
    eos100    exactly_once, commit_interval 100 ms (levcal's default)
    eos1000   exactly_once, commit_interval 1 s

How it measures, the same way for both programs: every 20 ms the group's
committed offsets on the input partitions (an OffsetFetch, read_uncommitted,
so that a pending transaction does not block it) and the process's CPU time
(utime + stime of all threads, /proc/PID/stat). The rate is the committed
records between the first sample with anything committed and the first with
everything committed, over that time; CPU seconds per million records are the
CPU time spent between the same two samples per million of those records.
Start-up (metadata, group join, reading the position tables) is outside both,
and reported apart for levcal. Resident memory (VmHWM, VmRSS at the end) is
reported for levcal and the passthrough. The broker's CPU in the same window
is reported too: on a 2-core machine the broker and the stage share the cores,
and every figure says so.

    e2e.py [--build DIR] [--trades 5000000] [--instruments 1000]
           [--positions 100000] [--partitions 4] [--modes alo,eos10,eos100,eos1000]
           [--rounds 2] [--broker-dir DIR | --bootstrap-file FILE] [--json OUT]
           [--levcal BIN] [--levcal-b BIN]   (a second build, run after levcal each round)
           [--kafka KEY=VALUE ...]   (librdkafka properties for both programs)
    e2e.py --smoke --bootstrap-file build/kafka/bootstrap --build build

--smoke: a few-second version for CTest (small load, one round of alo and
eos100); it fails when a run does not commit every input record, when the
passthrough's output does not hold every record, or when levcal published no
limit.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
# What ASan/UBSan print (the smoke runs use the sanitized CI build).
SANITIZER = re.compile(r"ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:")

MODES = {
    "alo": ("at_least_once", 100),
    "eos10": ("exactly_once", 10),
    "eos100": ("exactly_once", 100),
    "eos1000": ("exactly_once", 1000),
}


def log(msg: str) -> None:
    print(f"e2e: {msg}", file=sys.stderr, flush=True)


def find_build(arg: str | None) -> Path:
    cands = [Path(arg)] if arg else [SOURCE / "build-perf-rel", SOURCE / "build"]
    for c in cands:
        if (c / "levcal").exists() and (c / "bench" / "passthrough").exists():
            return c.resolve()
    raise SystemExit(f"e2e: no build with levcal and bench/passthrough among {[str(c) for c in cands]} "
                     f"(give --build; figures need -DLVC_SANITIZE=OFF)")


def proc_cpu_s(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the ")" of comm: field 3 is state, 14 utime and 15 stime.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, /proc/stat)."""
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return (sum(v) - v[3] - v[4]) / CLK_TCK


def proc_mem_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.build = find_build(args.build)
        self.levcal = Path(args.levcal).resolve() if args.levcal else self.build / "levcal"
        self.work = Path(tempfile.mkdtemp(prefix="levcal-e2e-"))
        self.broker_dir: Path | None = None
        self.started_broker = False
        if args.bootstrap_file:
            self.bootstrap_file = Path(args.bootstrap_file)
        else:
            self.broker_dir = Path(args.broker_dir or (self.work / "kafka"))
            self.bootstrap_file = self.broker_dir / "bootstrap"
        self.prefix = f"e2e-{secrets.token_hex(3)}"
        self.results: list[dict] = []

    # ---- broker and topics ------------------------------------------------

    def start_broker(self) -> None:
        if self.broker_dir is None:
            return
        log(f"starting a broker in {self.broker_dir}")
        subprocess.run(["bash", str(SOURCE / "deploy" / "kafka-local.sh"), "start", str(self.broker_dir)],
                       check=True)
        self.started_broker = True

    def stop_broker(self) -> None:
        if self.started_broker:
            subprocess.run(["bash", str(SOURCE / "deploy" / "kafka-local.sh"), "stop", str(self.broker_dir)],
                           check=False)

    def kit(self):
        os.environ["LVC_BOOTSTRAP_FILE"] = str(self.bootstrap_file)
        sys.path.insert(0, str(SOURCE / "tests" / "integration"))
        import kit  # noqa: E402 (needs the environment above)
        return kit

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def create_topics(self) -> None:
        k = self.kit()
        n = self.args.partitions
        k.create_topics({self.topic("trades"): n, self.topic("prices"): n,
                         self.topic("positions"): 1, self.topic("balances"): 1,
                         self.topic("limits"): n, self.topic("warnings"): n, self.topic("dead"): n,
                         self.topic("pt-out"): n},
                        compacted=[self.topic("positions"), self.topic("balances")])

    def end_offsets(self, topics: list[str]) -> dict[tuple[str, int], int]:
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.kit().bootstrap(), "group.id": "e2e-watermarks"})
        out = {}
        try:
            for t in topics:
                md = c.list_topics(t, timeout=10).topics[t]
                for p in md.partitions:
                    out[(t, p)] = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
        finally:
            c.close()
        return out

    # ---- configs -------------------------------------------------------------

    def config(self, group: str, guarantee: str, commit_ms: int) -> Path:
        k = self.kit()
        kafka = {"bootstrap.servers": k.bootstrap(), "group.id": group}
        kafka.update(self.args.kafka)
        cfg = {
            "kafka": kafka,
            "instance": group,
            "topics": {"trades": self.topic("trades"), "prices": self.topic("prices"),
                       "positions": self.topic("positions"), "balances": self.topic("balances"),
                       "leverage_limits": self.topic("limits"),
                       "liquidation_warnings": self.topic("warnings"),
                       # A state topic per run: a run must not restore what an
                       # earlier run over the same input committed.
                       "dead_letter": self.topic("dead"), "state": self.topic(f"state-{group}")},
            "processing": {"guarantee": guarantee, "commit_interval": f"{commit_ms}ms"},
            "metrics": {"listen": "127.0.0.1:0"},
        }
        path = self.work / f"{group}.yaml"
        path.write_text(k.to_yaml(cfg))
        return path

    # ---- one measured run ------------------------------------------------------

    def committed(self, consumer, tps) -> int:
        got = consumer.committed(tps, timeout=10)
        return sum(tp.offset for tp in got if tp.offset >= 0)

    def broker_pid(self) -> int | None:
        d = self.bootstrap_file.parent
        try:
            return int((d / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def measure(self, what: str, argv: list[str], group: str, total: int, input_tps,
                stop_when_done: bool) -> dict:
        from confluent_kafka import Consumer, TopicPartition
        probe = Consumer({"bootstrap.servers": self.kit().bootstrap(), "group.id": group,
                          "enable.auto.commit": False, "isolation.level": "read_uncommitted"})
        tps = [TopicPartition(t, p) for (t, p) in input_tps]
        logf = open(self.work / f"{group}.log", "w")
        t_spawn = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=logf, text=True)
        bpid = self.broker_pid()
        samples = []  # (t, committed, cpu, broker cpu, memory, machine busy cpu)
        mem_last: dict[str, int] = {}
        deadline = t_spawn + self.args.run_timeout
        done = False
        try:
            while time.monotonic() < deadline:
                c = self.committed(probe, tps)
                now = time.monotonic()
                cpu = proc_cpu_s(proc.pid)
                if cpu is None:  # reaped already: its last reading stands
                    cpu = samples[-1][2] if samples else 0.0
                mem = proc_mem_kb(proc.pid)
                if mem:
                    mem_last = mem
                samples.append((now, c, cpu, proc_cpu_s(bpid) if bpid else None, mem, machine_cpu_s()))
                if c >= total:
                    done = True
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
        finally:
            probe.close()
        mem_end = mem_last
        if stop_when_done and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        logf.close()
        logtext = (self.work / f"{group}.log").read_text(errors="replace")
        res = {"program": what, "group": group, "exit": proc.returncode, "done": done,
               "records": total, "log": str(self.work / f"{group}.log")}
        first = next((s for s in samples if s[1] > 0), None)
        if not done or first is None:
            res["error"] = (f"{what} did not commit all {total} records within {self.args.run_timeout} s "
                            f"(last committed {samples[-1][1] if samples else 0}); see {res['log']}")
            return res
        last = samples[-1]
        if last is first:
            # Everything was committed between two samples (a tiny load):
            # the window falls back to the whole run, start-up included.
            first = (t_spawn, 0, 0.0, samples[0][3], {}, samples[0][5])
            res.setdefault("notes", []).append("window includes start-up (load too small to measure)")
        n = last[1] - first[1]
        secs = last[0] - first[0]
        res.update({
            "startup_s": round(first[0] - t_spawn, 3),
            "window_records": n,
            "window_s": round(secs, 3),
            "records_per_s": n / secs,
            "cpu_s": last[2] - first[2],
            "cpu_s_per_million": (last[2] - first[2]) / (n / 1e6),
            "broker_cpu_s_per_million": ((last[3] - first[3]) / (n / 1e6)
                                         if first[3] is not None and last[3] is not None else None),
            # Cores busy with anything else than this program and the broker
            # (other work on a shared machine), averaged over the window.
            "other_busy_cores": ((last[5] - first[5]) - (last[2] - first[2])
                                 - ((last[3] - first[3]) if first[3] is not None and last[3] is not None else 0)) / secs,
            "vm_hwm_kb": mem_end.get("VmHWM"),
            "vm_rss_kb": mem_end.get("VmRSS"),
        })
        if out.strip():
            try:
                res["self_report"] = json.loads(out.strip().splitlines()[-1])
            except json.JSONDecodeError:
                pass
        if res.get("self_report", {}).get("max_rss_kb") and not res.get("vm_hwm_kb"):
            res["vm_hwm_kb"] = res["self_report"]["max_rss_kb"]
        if "not implemented in this version" in logtext and "exactly_once" in logtext:
            res.setdefault("notes", []).append(
                "this levcal ran at_least_once: exactly_once is not implemented in its build")
        if SANITIZER.search(logtext):
            res["error"] = f"a sanitizer reported an error in {what}; see {res['log']}"
        elif what != "passthrough" and proc.returncode != 0:
            res["error"] = f"{what} exited {proc.returncode}; see {res['log']}"
        for line in logtext.splitlines():
            if "tables loaded in" in line:
                res["tables_line"] = line.split("levcal: ", 1)[-1]
        return res

    def run_passthrough(self, mode: str, rnd: int, total: int, input_tps) -> dict:
        guarantee, commit_ms = MODES[mode]
        group = f"{self.prefix}-pt-{mode}-{rnd}"
        cfg = self.config(group, guarantee, commit_ms)
        argv = [str(self.build / "bench" / "passthrough"), "-c", str(cfg), "--group", group,
                "--out", self.topic("pt-out"), "--guarantee", guarantee,
                "--commit-interval-ms", str(commit_ms), "--expect", str(total)]
        return self.measure("passthrough", argv, group, total, input_tps, stop_when_done=False)

    def run_levcal(self, mode: str, rnd: int, total: int, input_tps, prog: str = "levcal") -> dict:
        guarantee, commit_ms = MODES[mode]
        group = f"{self.prefix}-{'lvc' if prog == 'levcal' else 'lvcb'}-{mode}-{rnd}"
        cfg = self.config(group, guarantee, commit_ms)
        binary = self.levcal if prog == "levcal" else Path(self.args.levcal_b).resolve()
        argv = [str(binary), "run", "-c", str(cfg)]
        return self.measure(prog, argv, group, total, input_tps, stop_when_done=True)

    # ---- the whole benchmark ------------------------------------------------------

    def load(self) -> dict:
        a = self.args
        cfg = self.config(f"{self.prefix}-loader", "at_least_once", 100)
        argv = [str(self.build / "bench" / "loader"), "-c", str(cfg), "--trades", str(a.trades),
                "--instruments", str(a.instruments), "--positions", str(a.positions),
                "--rate", str(a.rate), "--mark-interval", str(a.mark_interval)]
        log("loading: " + " ".join(argv[3:]))
        out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    def run(self) -> int:
        a = self.args
        self.start_broker()
        try:
            self.create_topics()
            loaded = self.load()
            log(f"loaded {loaded['records']} records in {loaded['seconds']} s "
                f"({loaded['records_per_s']:.0f}/s)")
            ends = self.end_offsets([self.topic("trades"), self.topic("prices")])
            total = sum(ends.values())
            input_tps = sorted(ends)
            pt_out_before = sum(self.end_offsets([self.topic("pt-out")]).values())
            for mode in a.modes:
                for rnd in range(a.rounds):
                    progs = ("passthrough", "levcal") + (("levcal-b",) if a.levcal_b else ())
                    for prog in progs:
                        log(f"{mode} round {rnd + 1}/{a.rounds}: {prog}")
                        if prog == "passthrough":
                            r = self.run_passthrough(mode, rnd, total, input_tps)
                        else:
                            r = self.run_levcal(mode, rnd, total, input_tps, prog)
                        r["mode"] = mode
                        r["round"] = rnd + 1
                        self.results.append(r)
                        log(summary_line(r))
            pt_out = sum(self.end_offsets([self.topic("pt-out")]).values()) - pt_out_before
            limits = sum(self.end_offsets([self.topic("limits")]).values())
        finally:
            self.stop_broker()
        report = self.report(loaded, total, pt_out, limits)
        if a.json:
            Path(a.json).write_text(json.dumps(report, indent=2) + "\n")
        return self.check(report)

    def report(self, loaded: dict, total: int, pt_out: int, limits: int) -> dict:
        a = self.args
        rows = []
        print(f"\nlevcal e2e throughput, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
              f"{os.cpu_count()} CPU(s) shared by the broker and the program under test")
        print("others: cores busy with other work than the program and the broker during the window "
              "(a shared machine)")
        print(f"input: {total} records ({loaded['trades']} trades, {loaded['marks']} marks) over "
              f"{a.instruments} instruments in {a.partitions} partitions, {a.positions} positions; "
              f"levcal {self.levcal}, passthrough {self.build / 'bench' / 'passthrough'}"
              + (f", levcal-b {Path(a.levcal_b).resolve()}" if a.levcal_b else ""))
        print(f"{'mode':8} {'program':12} {'records/s':>11} {'cpu s/M':>8} {'broker s/M':>10} "
              f"{'startup s':>9} {'VmHWM MB':>8} {'others':>6}")
        for r in self.results:
            if "error" in r:
                print(f"{r['mode']:8} {r['program']:12} ERROR {r['error']}")
                continue
            print(f"{r['mode']:8} {r['program']:12} {r['records_per_s']:11.0f} "
                  f"{r['cpu_s_per_million']:8.2f} {r['broker_cpu_s_per_million'] or 0:10.2f} "
                  f"{r['startup_s']:9.1f} {(r['vm_hwm_kb'] or 0) / 1024:8.1f} {r['other_busy_cores']:6.2f}"
                  + (f"  ({'; '.join(r['notes'])})" if r.get("notes") else ""))
        print()
        for mode, prog in [(m, p) for m in a.modes for p in ("levcal", "levcal-b")]:
            pt = [r for r in self.results if r["mode"] == mode and r["program"] == "passthrough" and "error" not in r]
            lv = [r for r in self.results if r["mode"] == mode and r["program"] == prog and "error" not in r]
            if not pt or not lv:
                continue
            pt_rate = statistics.mean(r["records_per_s"] for r in pt)
            lv_rate = statistics.mean(r["records_per_s"] for r in lv)
            lv_cpu = statistics.mean(r["cpu_s_per_million"] for r in lv)
            pt_cpu = statistics.mean(r["cpu_s_per_million"] for r in pt)
            row = {"mode": mode, "program": prog, "passthrough_records_per_s": pt_rate, "levcal_records_per_s": lv_rate,
                   "ratio": lv_rate / pt_rate, "passthrough_cpu_s_per_million": pt_cpu,
                   "levcal_cpu_s_per_million": lv_cpu,
                   "levcal_records_per_cpu_s": 1e6 / lv_cpu if lv_cpu > 0 else None,
                   "levcal_vm_hwm_kb": max(r["vm_hwm_kb"] or 0 for r in lv),
                   "rounds": len(lv)}
            notes = sorted({n for r in lv for n in r.get("notes", [])})
            if notes:
                row["note"] = "; ".join(notes)
            rows.append(row)
            print(f"{mode:8} {prog}/passthrough = {row['ratio']:.2f}  "
                  f"({prog} {lv_rate:.0f}/s, passthrough {pt_rate:.0f}/s; {prog} "
                  f"{lv_cpu:.2f} CPU s per million = {1e6 / lv_cpu:.0f} records per CPU second)"
                  + (f"  [{row['note']}]" if row.get("note") else ""))
        return {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
                "args": vars(a), "loaded": loaded, "input_records": total,
                "passthrough_output_records": pt_out, "limits_published": limits,
                "runs": self.results, "summary": rows}

    def check(self, report: dict) -> int:
        errors = [r["error"] for r in report["runs"] if "error" in r]
        n_pt = sum(1 for r in report["runs"] if r["program"] == "passthrough")
        if report["passthrough_output_records"] < n_pt * report["input_records"]:
            errors.append(f"the passthrough output holds {report['passthrough_output_records']} records, "
                          f"fewer than {n_pt} runs x {report['input_records']}")
        if report["limits_published"] == 0:
            errors.append("levcal published no leverage limit")
        for e in errors:
            print(f"e2e: FAILED: {e}", file=sys.stderr)
        if not errors and not self.args.keep_work:
            shutil.rmtree(self.work, ignore_errors=True)
        elif errors:
            print(f"e2e: logs and configs kept in {self.work}", file=sys.stderr)
        return 1 if errors else 0


def summary_line(r: dict) -> str:
    if "error" in r:
        return f"  ERROR: {r['error']}"
    return (f"  {r['records_per_s']:.0f} records/s, {r['cpu_s_per_million']:.2f} CPU s per million, "
            f"start-up {r['startup_s']:.1f} s, VmHWM {(r['vm_hwm_kb'] or 0) / 1024:.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="build directory with levcal and bench/ (Release, no sanitizers, for figures)")
    ap.add_argument("--levcal", help="the levcal binary to measure (default: BUILD/levcal)")
    ap.add_argument("--levcal-b", help="a second levcal binary (another build) run after levcal in every "
                    "round and reported beside it: an A/B of two builds on the same input and broker")
    ap.add_argument("--trades", type=int, default=5_000_000)
    ap.add_argument("--instruments", type=int, default=1000)
    ap.add_argument("--positions", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rate", type=float, default=100_000, help="trades per event-time second in the load")
    ap.add_argument("--mark-interval", type=float, default=1.0, help="seconds of event time between MARKs of an instrument")
    ap.add_argument("--modes", default="alo,eos10,eos100,eos1000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--broker-dir", help="start the broker here (default: a temporary directory)")
    ap.add_argument("--bootstrap-file", help="use a running broker (its DIR/bootstrap) instead of starting one")
    ap.add_argument("--run-timeout", type=float, default=600)
    ap.add_argument("--kafka", action="append", default=[], metavar="KEY=VALUE",
                    help="a librdkafka property for both programs (the config's kafka section)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep-work", action="store_true", help="keep configs and logs")
    ap.add_argument("--smoke", action="store_true", help="a few-second version for CTest")
    a = ap.parse_args()
    if a.smoke:
        a.trades, a.instruments, a.positions, a.partitions = 100_000, 20, 300, 2
        a.modes, a.rounds, a.run_timeout = "alo,eos100", 1, 120
    try:
        a.kafka = dict(kv.split("=", 1) for kv in a.kafka)
    except ValueError:
        ap.error("--kafka takes KEY=VALUE")
    a.modes = [m for m in a.modes.split(",") if m]
    for m in a.modes:
        if m not in MODES:
            ap.error(f"--modes: {m} is not one of {', '.join(MODES)}")
    return Bench(a).run()


if __name__ == "__main__":
    sys.exit(main())
