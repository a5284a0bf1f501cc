import os
import pathlib
import sys

from hypothesis import settings

# hypothesis draws the same examples on every run (derandomize), so a CI run passes or
# fails on the code alone; VSWAP_NB_HYPOTHESIS=explore draws new ones each run
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("VSWAP_NB_HYPOTHESIS", "fixed"))

# the plain-Python reference models live next to the tests
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# `make test` runs pytest on two workers (pytest-xdist, --dist loadgroup): the tests that
# run the mm engine go to one worker, the design-level ones to the other, so each
# design's engine and each design's verbs are compiled once, on one core each.
ENGINE_FILES = {
    "test_calibration.py", "test_check.py", "test_churn.py", "test_cli.py", "test_config.py", "test_determinism.py",
    "test_expected_counters.py", "test_faults.py", "test_kernel.py", "test_mechanics.py", "test_mm.py",
    "test_mm_machine.py", "test_plot.py", "test_swapoff.py", "test_sweep.py", "test_validation.py",
}


def group_of(nodeid: str) -> str:
    """The worker group of a test: "engine" for the files in ENGINE_FILES, else "designs"."""
    return "engine" if nodeid.split("::", 1)[0].rsplit("/", 1)[-1] in ENGINE_FILES else "designs"


def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadgroup``, schedule by our two groups.  (xdist's own loadgroup reads
    ``xdist_group`` marks through a suffix it writes into each node id; with pytest 9 that
    suffix never reaches the scheduler, so the marks alone grouped nothing.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group_of(nodeid)

    return ByGroup(config, log)
