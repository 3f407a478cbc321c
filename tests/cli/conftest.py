# SPDX-License-Identifier: Apache-2.0
"""pytest glue for tests/cli: makes kit (tests/integration/kit.py) and the
input generators (tests/data/calib_cli/make_inputs.py) importable, and gives
each test its own working directory for the configs and logs that
kit.run_levcal writes. No broker: kit's broker functions are never called
here."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "data" / "calib_cli"))

import kit  # noqa: E402


@pytest.fixture(autouse=True)
def _kit_per_test(tmp_path):
    kit.set_workdir(tmp_path)
    yield
    left = kit.kill_started()
    kit.set_workdir(None)
    if left:
        pytest.fail(f"test left levcal running (killed now): {left}")
