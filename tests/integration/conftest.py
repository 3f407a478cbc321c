# SPDX-License-Identifier: Apache-2.0
"""pytest glue for tests/integration: makes kit importable and cleans up after each test.

Every test gets its own working directory (pytest's tmp_path) for the
configs and logs that kit.run_levcal/start_levcal write; levcal processes a
test left running are killed at its end (and the test fails, since a test
should stop what it starts); a test that stopped the fixture broker and did
not bring it back gets it restarted, so that the next test has one.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kit  # noqa: E402


@pytest.fixture(autouse=True)
def _kit_per_test(tmp_path):
    kit.set_workdir(tmp_path)
    broker_was_up = "LVC_BOOTSTRAP_FILE" in os.environ and kit.broker_running()
    yield
    left = kit.kill_started()
    kit.set_workdir(None)
    if broker_was_up and not kit.broker_running():
        kit.broker_restart()
    if left:
        pytest.fail(f"test left levcal running (killed now): {left}")


def pytest_report_header(config):
    return [f"levcal kit: LVC_BOOTSTRAP_FILE={os.environ.get('LVC_BOOTSTRAP_FILE')} "
            f"LVC_BIN={os.environ.get('LVC_BIN')} LVC_TIMEOUT_SCALE={kit.timeout_scale()}"]
