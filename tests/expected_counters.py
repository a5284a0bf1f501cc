"""The runs whose counters ``tests/data/expected_counters.npz`` stores (issue 8: every
speed-up must leave every design's counters bit-identical).

Regenerate the file only for a change that is meant to change what the model counts,
and say why in the commit::

    .venv/bin/python tests/expected_counters.py

Each run stores the counter matrix, the vmstat vector and the model time of each phase
(float64, compared exactly: the engine's arithmetic is deterministic)."""
from __future__ import annotations

import pathlib

import numpy as np

import vswap_nb as v
from vswap_nb.core.vmstat import VMSTAT

PATH = pathlib.Path(__file__).parent / "data" / "expected_counters.npz"


def runs():
    """name -> (workload, system): sequential and random usemem with read-back under
    memory.max, zero pages and zswap; a ZRAM run with two tasks; a swapoff while one
    task's pages are swapped out."""
    seq = v.usemem("40M", nr_tasks=2, read_back=True, fill={"zero": 0.1, "same": 0.05, "sequence": 0.85})
    rnd = v.usemem("40M", nr_tasks=2, random=True, read_back=True, fill={"zero": 0.1, "sequence": 0.9})
    memcg = v.System("64M", memory_max="24M", swap=v.Device("ssd", "128M"), nr_cpus=2,
                     zswap=v.Zswap(max_pool_percent=5))
    zram = v.System("64M", swap=v.Device("zram", "128M"), nr_cpus=2)
    return {
        "seq_memcg_zswap": (seq, memcg),
        "rnd_memcg_zswap": (rnd, memcg),
        "seq_zram": (v.usemem("48M", nr_tasks=2, read_back=True, fill={"zero": 0.1, "sequence": 0.9}), zram),
        "swapoff_zram": (v.with_swapoff(_kept_and_pushed(), "read"), zram),
    }


def _kept_and_pushed():
    """Task 0 writes 40 MiB; task 1 writes 48 MiB more in its own mm (pushing task 0's
    pages out) and exits; then task 0 reads its pages back and rewrites them.  A swapoff
    at ``read`` needs only task 0's pages in RAM (every design can finish)."""
    from vswap_nb.workloads.events import F_WRITE, K_BARRIER, K_EXIT, K_MMAP, K_PHASE, K_TOUCH, make_workload

    a, b = 10_240, 12_288
    t0 = [(K_MMAP, 0, a), (K_PHASE, "fill"), (K_TOUCH, 0, a, F_WRITE), (K_BARRIER, 0), (K_BARRIER, 1),
          (K_PHASE, "read"), (K_TOUCH, 0, a, 0), (K_TOUCH, 0, a, F_WRITE), (K_EXIT,)]
    t1 = [(K_MMAP, 0, b), (K_PHASE, "fill"), (K_BARRIER, 0), (K_TOUCH, 0, b, F_WRITE), (K_EXIT,)]
    return make_workload("kept_and_pushed", {}, ("fill", "read"), [t0, t1], fill={"zero": 0.1, "sequence": 0.9})


def measure(design, workload, system):
    ds = v.simulate(design, workload, system, seed=7)
    return {
        "counters": ds.counters.values.astype(np.int64),
        "vmstat": np.array([int(ds[n]) for n in VMSTAT], dtype=np.int64),
        "model_time": ds.model_time.values.astype(np.float64),
    }


def main():
    out = {}
    for name, (w, s) in runs().items():
        for d in v.designs():
            for k, a in measure(d, w, s).items():
                out[f"{d}/{name}/{k}"] = a
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **out)
    print(f"wrote {PATH} ({len(out)} arrays)")


if __name__ == "__main__":
    main()
