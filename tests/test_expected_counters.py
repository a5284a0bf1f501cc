"""Every design's counters on the stored runs are bit-identical to
``tests/data/expected_counters.npz`` (see ``tests/expected_counters.py``): the guard
that a speed-up changes speed only."""
import numpy as np
import pytest
from expected_counters import PATH, measure, runs

import vswap_nb as v
from vswap_nb.core.vmstat import VMSTAT

EXPECTED = np.load(PATH)
RUNS = runs()


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.parametrize("design", list(v.designs()))
def test_counters_are_as_stored(design, name):
    got = measure(design, *RUNS[name])
    for k, a in got.items():
        want = EXPECTED[f"{design}/{name}/{k}"]
        if k == "vmstat":
            diff = {n: (int(x), int(y)) for n, x, y in zip(VMSTAT, want, a) if x != y}
            assert not diff, f"{design}/{name}: vmstat (stored, now) differs: {diff}"
        else:
            assert np.array_equal(want, a), f"{design}/{name}: {k} differs from the stored run"
