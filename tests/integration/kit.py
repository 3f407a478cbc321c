# SPDX-License-Identifier: Apache-2.0
"""Integration-test kit: a real Kafka broker, Avro from schemas/, levcal as a process.

The tests under tests/integration/ run with pytest against the broker that
the CTest fixture (tests/integration/CMakeLists.txt, deploy/kafka-local.sh)
started. The environment tells the kit where everything is:

    LVC_BOOTSTRAP_FILE  file with "127.0.0.1:PORT" (its directory is the
                        broker's: deploy/kafka-local.sh restart works on it)
    LVC_BIN             the levcal binary under test
    LVC_SOURCE_DIR      the repository (schemas/, deploy/)
    LVC_TIMEOUT_SCALE   multiplier for every timeout (slow machine, valgrind)

Run one file by hand against a broker of your own:

    deploy/kafka-local.sh start /tmp/k
    LVC_BOOTSTRAP_FILE=/tmp/k/bootstrap LVC_BIN=build/levcal \\
        ~/.cache/levcal/venv/bin/python -m pytest tests/integration/test_broker.py

Rules the helpers enforce: waits poll a condition with a deadline (never a
sleep that paces the test); topics get unique names (unique()); Avro schemas
are parsed from the repository's .avsc files, never typed again here.
"""
from __future__ import annotations

import io
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------

SOURCE_DIR = Path(os.environ.get("LVC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
SCHEMA_DIR = SOURCE_DIR / "schemas"
KAFKA_LOCAL = SOURCE_DIR / "deploy" / "kafka-local.sh"

# What a sanitizer prints when it finds something (tests/CMakeLists.txt
# fails unit tests on the same text).
SANITIZER_REPORT = re.compile(r"ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:")


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run through ctest (tests/integration/CMakeLists.txt) "
                           f"or export it (see tests/integration/kit.py)")
    return value


def bootstrap_file() -> Path:
    """The file that names the fixture broker (LVC_BOOTSTRAP_FILE)."""
    return Path(_env("LVC_BOOTSTRAP_FILE"))


def bootstrap() -> str:
    """bootstrap.servers of the fixture broker, e.g. "127.0.0.1:40123"."""
    path = bootstrap_file()
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise RuntimeError(f"{path} does not exist: the kafka fixture is not running "
                           f"(ctest starts it with kafka_start; by hand: deploy/kafka-local.sh start DIR)")
    if not text:
        raise RuntimeError(f"{path} is empty")
    return text


def broker_dir() -> Path:
    """The fixture broker's directory (server.properties, broker.log, data/)."""
    return bootstrap_file().parent


def timeout_scale() -> float:
    return float(os.environ.get("LVC_TIMEOUT_SCALE") or 1)


def timeout(seconds: float) -> float:
    """seconds scaled by LVC_TIMEOUT_SCALE: every deadline in a test goes through this."""
    return seconds * timeout_scale()


_scale = timeout  # for the functions below whose `timeout` argument hides timeout()


def levcal_bin() -> str:
    """The levcal binary under test (LVC_BIN)."""
    path = _env("LVC_BIN")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"LVC_BIN={path} is not an executable")
    return path


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll predicate() until it returns a true value, and return that value.

    timeout is in seconds and is scaled here (do not scale it twice). An
    exception from predicate propagates at once. On the deadline raises
    TimeoutError naming `what` and the last value seen.
    """
    deadline = time.monotonic() + _scale(timeout)
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {_scale(timeout):.1f} s waiting for "
                               f"{what} (last value: {last!r})")
        time.sleep(interval)


_unique_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other test (or earlier run on the same broker) uses: prefix-<pid>-<n>-<random>."""
    return f"{prefix}-{os.getpid()}-{next(_unique_counter)}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------
# Topics
# ---------------------------------------------------------------------------

_admins: dict[str, AdminClient] = {}


def admin() -> AdminClient:
    """An AdminClient for the fixture broker (one per bootstrap address)."""
    bs = bootstrap()
    if bs not in _admins:
        _admins[bs] = AdminClient({"bootstrap.servers": bs})
    return _admins[bs]


def create_topics(topics: Mapping[str, int], compacted: Iterable[str] = (),
                  config: Mapping[str, str] | None = None, timeout: float = 30) -> list[str]:
    """Create topics {name: partitions} (replication 1) and wait until every partition has a leader.

    Names in `compacted` get cleanup.policy=compact; `config` is added to
    every topic's config. Use unique() names. Returns the names.
    """
    compacted = set(compacted)
    unknown = compacted - set(topics)
    if unknown:
        raise ValueError(f"compacted names {sorted(unknown)} are not among the topics to create")
    new = []
    for name, partitions in topics.items():
        cfg = dict(config or {})
        if name in compacted:
            cfg["cleanup.policy"] = "compact"
        new.append(NewTopic(name, num_partitions=int(partitions), replication_factor=1, config=cfg))
    t = _scale(timeout)
    futures = admin().create_topics(new, request_timeout=t, operation_timeout=t)
    for name, fut in futures.items():
        try:
            fut.result(timeout=t)
        except KafkaException as exc:
            raise RuntimeError(f"creating topic {name}: {exc}") from exc

    def all_led():
        md = admin().list_topics(timeout=5)
        for name, partitions in topics.items():
            tm = md.topics.get(name)
            if tm is None or tm.error is not None or len(tm.partitions) != int(partitions):
                return False
            if any(p.leader < 0 for p in tm.partitions.values()):
                return False
        return True

    wait_for(all_led, timeout, f"leaders for topics {sorted(topics)}")
    return list(topics)


def topic_config(topic: str) -> dict[str, str]:
    """The topic's effective config as the broker reports it."""
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin().describe_configs([res])[res].result(timeout=timeout(30))
    return {k: v.value for k, v in entries.items()}


def partitions_of(topic: str) -> list[int]:
    md = admin().list_topics(topic, timeout=timeout(10))
    tm = md.topics.get(topic)
    if tm is None or tm.error is not None:
        raise RuntimeError(f"topic {topic} not found: {tm.error if tm else 'no metadata'}")
    return sorted(tm.partitions)


# ---------------------------------------------------------------------------
# Avro (fastavro, schemas from schemas/*.avsc)
# ---------------------------------------------------------------------------

def _strip_logical_types(node: Any) -> Any:
    # timestamp-micros would make fastavro turn ts_us into datetime objects;
    # levcal's records carry plain microsecond integers, and the binary
    # encoding is the same long either way.
    if isinstance(node, dict):
        return {k: _strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_strip_logical_types(v) for v in node]
    return node


_schemas: dict[str, Any] = {}


def schema_json(record_name: str) -> dict:
    """The JSON of schemas/<Name>.avsc ("Trade" or "levcal.Trade")."""
    short = record_name.rsplit(".", 1)[-1]
    path = SCHEMA_DIR / f"{short}.avsc"
    if not path.exists():
        have = sorted(p.stem for p in SCHEMA_DIR.glob("*.avsc"))
        raise KeyError(f"no schema {record_name}: {path} missing; schemas/ has {have}")
    return json.loads(path.read_text())


def schema(record_name: str) -> Any:
    """The parsed schema of a record (cached), ts_us as plain long."""
    short = record_name.rsplit(".", 1)[-1]
    if short not in _schemas:
        _schemas[short] = fastavro.parse_schema(_strip_logical_types(schema_json(short)))
    return _schemas[short]


def encode(record_name: str, record: Mapping[str, Any]) -> bytes:
    """Plain Avro binary (no framing) of record, e.g. encode("Trade", {...})."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema(record_name), dict(record))
    return buf.getvalue()


def decode(record_name: str, data: bytes) -> dict:
    """Inverse of encode(); raises ValueError when bytes are left over."""
    buf = io.BytesIO(data)
    rec = fastavro.schemaless_reader(buf, schema(record_name), None)
    if buf.tell() != len(data):
        raise ValueError(f"{record_name}: {len(data) - buf.tell()} trailing bytes after the record "
                         f"({len(data)} bytes in all)")
    return rec


def frame_confluent(schema_id: int, payload: bytes) -> bytes:
    """Confluent wire format: magic 0, 4-byte big-endian schema id, then the Avro binary."""
    return b"\x00" + int(schema_id).to_bytes(4, "big") + payload


def unframe_confluent(data: bytes) -> tuple[int, bytes]:
    """(schema id, Avro binary) of a Confluent-framed value."""
    if len(data) < 5 or data[0] != 0:
        raise ValueError(f"not Confluent-framed: {data[:5]!r}")
    return int.from_bytes(data[1:5], "big"), data[5:]


def write_container(path: str | os.PathLike, record_name: str, records: Iterable[Mapping[str, Any]],
                    codec: str = "null") -> Path:
    """An Avro object container file of records (for levcal replay --input)."""
    path = Path(path)
    with open(path, "wb") as f:
        fastavro.writer(f, schema(record_name), [dict(r) for r in records], codec=codec)
    return path


def read_container(path: str | os.PathLike) -> tuple[str, list[dict]]:
    """(writer schema's record name, records) of a container file, ts_us as int."""
    with open(path, "rb") as f:
        reader = fastavro.reader(f)
        name = reader.writer_schema.get("name", "")
        f.seek(0)
        reader = fastavro.reader(f, reader_schema=schema(name.rsplit(".", 1)[-1]))
        return name, list(reader)


# ---------------------------------------------------------------------------
# Produce and consume
# ---------------------------------------------------------------------------

def _b(x: str | bytes | None) -> bytes | None:
    return x.encode() if isinstance(x, str) else x


@dataclass
class Record:
    """One consumed record. key and headers are UTF-8 decoded where they decode."""
    topic: str
    partition: int
    offset: int
    timestamp: int  # ms since the epoch (CreateTime or LogAppendTime)
    key: str | bytes | None
    value: bytes | None
    headers: dict[str, str | bytes | None] = field(default_factory=dict)
    header_list: list[tuple[str, bytes | None]] = field(default_factory=list)


def _text(x: bytes | None) -> str | bytes | None:
    if x is None:
        return None
    try:
        return x.decode()
    except UnicodeDecodeError:
        return x


def produce(topic: str, records: Iterable[Sequence[Any]], config: Mapping[str, Any] | None = None,
            timeout: float = 30) -> list[tuple[int, int]]:
    """Produce records and wait for every delivery; returns [(partition, offset)] in order.

    Each record is (key, value) or (key, value, partition_or_None) or
    (key, value, partition_or_None, headers); key str/bytes/None, value bytes
    (str is UTF-8 encoded) or None (a tombstone), headers a dict or a list
    of pairs. Raises on any delivery error.
    """
    conf = {"bootstrap.servers": bootstrap(), "enable.idempotence": True, "linger.ms": 5}
    conf.update(config or {})
    p = Producer(conf)
    results: list[Any] = []
    for i, rec in enumerate(records):
        key, value = rec[0], rec[1]
        partition = rec[2] if len(rec) > 2 else None
        headers = rec[3] if len(rec) > 3 else None
        if isinstance(headers, Mapping):
            headers = list(headers.items())
        results.append(None)

        def on_delivery(err, msg, i=i):
            results[i] = err if err is not None else (msg.partition(), msg.offset())

        kwargs = {"key": _b(key), "value": _b(value), "on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = [(k, _b(v)) for k, v in headers]
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(_scale(timeout))
    if left:
        raise TimeoutError(f"{left} of {len(results)} records to {topic} not delivered in time")
    errors = [(i, r) for i, r in enumerate(results) if not isinstance(r, tuple)]
    if errors:
        raise RuntimeError(f"delivery to {topic} failed for {len(errors)} records, first: "
                           f"#{errors[0][0]}: {errors[0][1]}")
    return results


def consumer(config: Mapping[str, Any] | None = None) -> Consumer:
    """A Consumer on the fixture broker with its own unique group, no auto commit."""
    conf = {"bootstrap.servers": bootstrap(), "group.id": unique("kit"),
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed"}
    conf.update(config or {})
    return Consumer(conf)


def consume_all(topic: str, isolation: str = "read_committed", expect: int | None = None,
                timeout: float = 30, partitions: Iterable[int] | None = None) -> list[Record]:
    """Read topic from the beginning, sorted by (partition, offset).

    expect=N: return as soon as N records have been read (TimeoutError if
    fewer arrive in time). expect=None: read up to the end offsets as of the
    call (for read_committed: the last stable offset, so an open
    transaction's records are not waited for). To assert that nothing more
    is there, call again with expect=None.
    """
    parts = sorted(partitions) if partitions is not None else partitions_of(topic)
    c = consumer({"isolation.level": isolation, "enable.partition.eof": True})
    try:
        ends = {}
        for p in parts:
            _, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=_scale(10))
            ends[p] = high
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        out: list[Record] = []
        at_end = {p: False for p in parts}
        deadline = time.monotonic() + _scale(timeout)
        while True:
            if expect is not None and len(out) >= expect:
                break
            if expect is None and all(at_end.values()):
                break
            if time.monotonic() >= deadline:
                want = f"{expect} records" if expect is not None else f"end offsets {ends}"
                raise TimeoutError(f"consume_all({topic!r}, {isolation}): read {len(out)} records, "
                                   f"wanted {want}; at end: {at_end}")
            msg = c.poll(0.1)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= ends[msg.partition()]:
                        at_end[msg.partition()] = True
                    continue
                raise RuntimeError(f"consume_all({topic!r}): {err}")
            hl = [(k, v) for k, v in (msg.headers() or [])]
            out.append(Record(topic=msg.topic(), partition=msg.partition(), offset=msg.offset(),
                              timestamp=msg.timestamp()[1], key=_text(msg.key()), value=msg.value(),
                              headers={k: _text(v) for k, v in hl}, header_list=hl))
            if expect is None and msg.offset() + 1 >= ends[msg.partition()]:
                at_end[msg.partition()] = True
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        c.close()


def transactional_producer(transactional_id: str | None = None,
                           config: Mapping[str, Any] | None = None) -> Producer:
    """A transactional Producer, init_transactions() done."""
    conf = {"bootstrap.servers": bootstrap(), "transactional.id": transactional_id or unique("kit-txn")}
    conf.update(config or {})
    p = Producer(conf)
    p.init_transactions(timeout(30))
    return p


# ---------------------------------------------------------------------------
# levcal as a process
# ---------------------------------------------------------------------------

_workdir: Path | None = None
_started: list["Levcal"] = []


def set_workdir(path: str | os.PathLike | None) -> None:
    """Where run_levcal/start_levcal put configs and output (conftest.py sets the test's tmp_path)."""
    global _workdir
    _workdir = Path(path) if path is not None else None


def workdir() -> Path:
    global _workdir
    if _workdir is None:
        _workdir = Path(tempfile.mkdtemp(prefix="lvc-kit-"))
    _workdir.mkdir(parents=True, exist_ok=True)
    return _workdir


def _yaml_scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def _yaml_key(k: Any) -> str:
    k = str(k)
    return k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", k) else json.dumps(k)


def to_yaml(obj: Any, indent: int = 0) -> str:
    """Block-style YAML of dicts, lists and scalars (strings always double-quoted)."""
    pad = " " * indent
    lines = []
    if isinstance(obj, Mapping):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            if isinstance(v, (Mapping, list, tuple)) and v:
                lines.append(f"{pad}{_yaml_key(k)}:\n{to_yaml(v, indent + 2)}")
            elif isinstance(v, Mapping):
                lines.append(f"{pad}{_yaml_key(k)}: {{}}\n")
            elif isinstance(v, (list, tuple)):
                lines.append(f"{pad}{_yaml_key(k)}: []\n")
            else:
                lines.append(f"{pad}{_yaml_key(k)}: {_yaml_scalar(v)}\n")
        return "".join(lines)
    if isinstance(obj, (list, tuple)):
        for v in obj:
            if isinstance(v, Mapping) and v:
                body = to_yaml(v, indent + 2)
                lines.append(pad + "- " + body[indent + 2:])
            elif isinstance(v, (list, tuple)) and v:
                lines.append(pad + "-\n" + to_yaml(v, indent + 2))
            elif isinstance(v, Mapping):
                lines.append(pad + "- {}\n")
            elif isinstance(v, (list, tuple)):
                lines.append(pad + "- []\n")
            else:
                lines.append(f"{pad}- {_yaml_scalar(v)}\n")
        return "".join(lines)
    return pad + _yaml_scalar(obj) + "\n"


def base_config(**sections: Any) -> dict:
    """A config dict pointing at the fixture broker with a unique group; sections are merged in."""
    # metrics on a free port: several levcal processes may run at once. An
    # instance name, so that the default exactly_once has its stable
    # transactional id (tests with several instances set their own).
    cfg: dict[str, Any] = {"kafka": {"bootstrap.servers": bootstrap(), "group.id": unique("levcal")},
                           "metrics": {"listen": "127.0.0.1:0"}, "instance": "0"}
    for k, v in sections.items():
        if isinstance(v, Mapping) and isinstance(cfg.get(k), Mapping):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg


def write_config(config: Mapping[str, Any] | str, path: str | os.PathLike | None = None) -> Path:
    """Write a config (a dict, or YAML text as is) to path or a new file in workdir()."""
    if path is None:
        path = workdir() / f"{unique('levcal')}.yaml"
    path = Path(path)
    path.write_text(config if isinstance(config, str) else to_yaml(config))
    return path


def _argv(args: Sequence[str], config: Mapping[str, Any] | str | None,
          binary: Sequence[str] | str | None) -> tuple[list[str], Path | None]:
    args = [str(a) for a in args]
    cfg_path = write_config(config) if config is not None else None
    if cfg_path is not None:
        if "{config}" in args:
            args = [str(cfg_path) if a == "{config}" else a for a in args]
        else:
            args = args[:1] + ["-c", str(cfg_path)] + args[1:]
    if binary is None:
        binary = [levcal_bin()]
    elif isinstance(binary, str):
        binary = [binary]
    return list(binary) + args, cfg_path


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    e.update(env or {})
    return e


def _tail(text: str, n: int = 40) -> str:
    return "\n".join(text.splitlines()[-n:])


@dataclass
class Finished:
    """The result of run_levcal()."""
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    stderr_path: Path
    config_path: Path | None


def check_sanitizers(stderr: str, what: str) -> None:
    """Raise AssertionError when stderr holds an ASan/LSan/UBSan report."""
    m = SANITIZER_REPORT.search(stderr)
    if m:
        raise AssertionError(f"{what}: sanitizer report in stderr:\n{_tail(stderr[m.start():], 60)}")


def run_levcal(args: Sequence[str], config: Mapping[str, Any] | str | None = None,
               env: Mapping[str, str] | None = None, timeout: float = 60, check: bool = False,
               binary: Sequence[str] | str | None = None, sanitizers: bool = True) -> Finished:
    """Run levcal to completion: run_levcal(["replay", "--input", f], cfg).

    config (dict or YAML text) is written to a file in workdir() and passed
    as "-c FILE" after the subcommand (or where an argument is "{config}").
    stdout is returned as text; stderr goes to a file (kept for debugging)
    and is returned too. check=True raises unless the exit code is 0; a
    sanitizer report always raises (sanitizers=False to allow it). On the
    (scaled) timeout the process is killed and TimeoutError raised.
    """
    argv, cfg_path = _argv(args, config, binary)
    err_path = workdir() / f"{unique('levcal')}.stderr"
    with open(err_path, "w+b") as err:
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                  env=_child_env(env), timeout=_scale(timeout))
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{' '.join(argv)} still running after {_scale(timeout):.0f} s; "
                               f"stderr ({err_path}):\n{_tail(err_path.read_text(errors='replace'))}")
    stderr = err_path.read_text(errors="replace")
    res = Finished(argv, proc.returncode, proc.stdout.decode(errors="replace"), stderr, err_path, cfg_path)
    if sanitizers:
        check_sanitizers(stderr, " ".join(argv))
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}; stderr:\n{_tail(stderr)}")
    return res


class Levcal:
    """A levcal process started by start_levcal()."""

    def __init__(self, argv: list[str], env: dict[str, str], config_path: Path | None, sanitizers: bool):
        self.argv = argv
        self.config_path = config_path
        self.sanitizers = sanitizers
        base = workdir() / unique("levcal")
        self.stdout_path = base.with_suffix(".stdout")
        self.stderr_path = base.with_suffix(".stderr")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err, env=env)
        _started.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def wait_for_stderr(self, pattern: str, timeout: float = 30) -> re.Match:
        """Wait until stderr matches the regex pattern; fails early if the process exits."""
        rx = re.compile(pattern)

        def seen():
            m = rx.search(self.stderr_text())
            if m is None and not self.alive():
                raise AssertionError(f"levcal exited {self.returncode} before stderr matched {pattern!r}:\n"
                                     f"{_tail(self.stderr_text())}")
            return m

        return wait_for(seen, timeout, f"levcal stderr to match {pattern!r}")

    def _finish(self) -> int:
        self._out.close()
        self._err.close()
        rc = self.proc.returncode
        if self.sanitizers:
            check_sanitizers(self.stderr_text(), " ".join(self.argv))
        return rc

    def wait(self, timeout: float = 60) -> int:
        """Wait for the process to exit by itself; returns its exit code."""
        try:
            self.proc.wait(_scale(timeout))
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"levcal still running after {_scale(timeout):.0f} s:\n"
                               f"{_tail(self.stderr_text())}")
        return self._finish()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a clean end: the open transaction is finished) and wait; returns the exit code.

        Raises TimeoutError (after a SIGKILL) when it does not exit in time.
        """
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(_scale(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TimeoutError(f"levcal did not exit within {_scale(timeout):.0f} s of SIGTERM:\n"
                               f"{_tail(self.stderr_text())}")
        return self._finish()

    def kill(self) -> int:
        """SIGKILL (a crash at an arbitrary point) and wait; returns the exit code (-9)."""
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self._out.close()
        self._err.close()
        return self.proc.returncode

    def __enter__(self) -> "Levcal":
        return self

    def __exit__(self, *exc) -> None:
        if self.alive():
            self.kill()


def start_levcal(args: Sequence[str], config: Mapping[str, Any] | str | None = None,
                 env: Mapping[str, str] | None = None, binary: Sequence[str] | str | None = None,
                 sanitizers: bool = True) -> Levcal:
    """Start levcal in the background (same arguments as run_levcal); see Levcal."""
    argv, cfg_path = _argv(args, config, binary)
    return Levcal(argv, _child_env(env), cfg_path, sanitizers)


def kill_started() -> list[str]:
    """SIGKILL every process start_levcal() started that still runs (conftest's teardown)."""
    killed = []
    while _started:
        h = _started.pop()
        if h.alive():
            h.kill()
            killed.append(" ".join(h.argv))
    return killed


# ---------------------------------------------------------------------------
# The broker itself
# ---------------------------------------------------------------------------

def _kafka_local(*args: str, timeout_s: float = 120) -> None:
    proc = subprocess.run(["bash", str(KAFKA_LOCAL), *args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout(timeout_s))
    if proc.returncode != 0:
        raise RuntimeError(f"kafka-local.sh {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout.decode(errors='replace')}")


def broker_stop() -> None:
    """Stop the fixture broker (clients see it gone); broker_restart() brings it back."""
    _kafka_local("stop", str(broker_dir()))


def broker_restart() -> str:
    """Restart the fixture broker on the same port and data; returns once it answers metadata."""
    _kafka_local("restart", str(broker_dir()))
    _admins.clear()
    return bootstrap()


def broker_running() -> bool:
    return bootstrap_file().exists()
