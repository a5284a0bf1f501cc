import pathlib
import sys

import pytest

# the plain-Python reference models live next to the tests
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# `make test` runs pytest on two workers (pytest-xdist, --dist loadgroup): the tests that
# run the mm engine go to one worker, the design-level ones to the other, so each
# design's engine and each design's verbs are compiled once, on one core each.
ENGINE_FILES = {
    "test_check.py", "test_cli.py", "test_config.py", "test_determinism.py", "test_expected_counters.py",
    "test_faults.py", "test_kernel.py", "test_mechanics.py", "test_mm.py", "test_mm_machine.py", "test_plot.py",
    "test_swapoff.py", "test_sweep.py", "test_validation.py",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks into node ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = "engine" if item.path.name in ENGINE_FILES else "designs"
        item.add_marker(pytest.mark.xdist_group(group))
