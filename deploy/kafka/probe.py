# SPDX-License-Identifier: Apache-2.0
"""Readiness probe for deploy/kafka-local.sh: wait until a broker answers.

A listening TCP port is not a ready broker: a KRaft node accepts connections
before it has registered with its controller and caught up with the metadata
log. This asks for cluster metadata (confluent-kafka AdminClient) until the
answer lists the broker, or until the deadline, and gives up at once if the
broker's process is gone.

    python probe.py BOOTSTRAP TIMEOUT_S [PID]

Exit status: 0 ready, 1 not ready by the deadline or the process died,
3 confluent-kafka missing (run deploy/install-deps.sh).
"""
import os
import sys
import time

try:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka import KafkaException
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"probe: cannot import confluent_kafka ({exc}); run deploy/install-deps.sh "
          "or set LVC_PYTHON to a python that has it", file=sys.stderr)
    sys.exit(3)


def alive(pid):
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, timeout_s = argv[1], float(argv[2])
    pid = int(argv[3]) if len(argv) == 4 else None
    deadline = time.monotonic() + timeout_s
    admin = AdminClient({
        "bootstrap.servers": bootstrap,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 250,
        "socket.connection.setup.timeout.ms": 1000,
        # The broker is expected to refuse connections for a while.
        "log_level": 0,
    })
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not alive(pid):
            print(f"probe: broker process {pid} exited", file=sys.stderr)
            return 1
        try:
            md = admin.list_topics(timeout=1.0)
            if md.brokers:
                return 0
            last = "metadata without brokers"
        except KafkaException as exc:
            last = str(exc)
        time.sleep(0.1)
    print(f"probe: {bootstrap} not ready after {timeout_s:.0f} s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
