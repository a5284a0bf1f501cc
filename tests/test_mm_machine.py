"""Stateful property test of the whole model (issue 7): hypothesis builds a random
interleaving of writes, reads, random touches, munmaps and a swapoff of one task's
address space under memory pressure, and every design replays it with the invariant
checker on every ~2000 page events.  The reference model at this level is the page's
content tag: every page that comes back from swap (or from swapoff) must carry the tag
of its last write, and at exit nothing may be left allocated.

The verb-level state machines (alloc, dup, put, cache add/delete, writeout, zswap
writeback, reclaim scans against each design's plain-Python reference) are in
``test_classic.py``, ``test_swap_table.py``, ``test_vswap.py`` and ``test_ste.py``."""
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

import vswap_nb as v
from vswap_nb.workloads import events as ev

NV, VP = 3, 2_400  # three VMAs of 2400 pages: 7200 pages > memory.max of 4096
AFTER_SWAPOFF = 2_500  # pages a workload may keep written once the device is gone
SYSTEM = v.System("64M", memory_max="16M", swap=v.Device("ssd", "256M"), nr_cpus=1,
                  zswap=v.Zswap(max_pool_percent=2))


class MmMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.events = [(ev.K_MMAP, i * VP, VP) for i in range(NV)] + [(ev.K_PHASE, "run")]
        self.live = [True] * NV
        self.vlen = [VP] * NV  # a VMA's length (only MmThpMachine shrinks one)
        self.written = np.zeros(NV * VP, dtype=bool)
        self.swapped_off = False

    @initialize()
    def fill(self):
        """Write every VMA once: about 3000 pages go to swap from the start."""
        self.events += [(ev.K_TOUCH, i * VP, VP, ev.F_WRITE) for i in range(NV)]
        self.written[:] = True

    def _may_write(self, lo, hi):
        if not self.swapped_off:
            return True
        w = self.written.copy()
        w[lo:hi] = True
        return int(w.sum()) <= AFTER_SWAPOFF

    @rule(vma=st.integers(0, NV - 1), start=st.integers(0, VP - 1), n=st.integers(1, VP), write=st.booleans())
    def touch(self, vma, start, n, write):
        if not self.live[vma] or start >= self.vlen[vma]:
            return
        n = min(n, self.vlen[vma] - start)
        lo = vma * VP + start
        if write and not self._may_write(lo, lo + n):
            write = False
        self.events.append((ev.K_TOUCH, lo, n, ev.F_WRITE if write else 0))
        if write:
            self.written[lo : lo + n] = True

    @rule(vma=st.integers(0, NV - 1), count=st.integers(1, 3_000), write=st.booleans())
    def touch_random(self, vma, count, write):
        if not self.live[vma]:
            return
        lo = vma * VP
        n = self.vlen[vma]
        if write and not self._may_write(lo, lo + n):
            write = False
        self.events.append((ev.K_TOUCH_RANDOM, lo, n, ev.F_WRITE if write else 0, count))
        if write:
            self.written[lo : lo + n] = True  # at most these

    @rule(vma=st.integers(0, NV - 1))
    def unmap(self, vma):
        if not self.live[vma]:
            return
        self.events.append((ev.K_UNMAP, vma * VP, self.vlen[vma]))
        self.live[vma] = False
        self.written[vma * VP : (vma + 1) * VP] = False

    @precondition(lambda self: not self.swapped_off)
    @rule()
    def swapoff(self):
        # what the task keeps must fit in memory.max without the device: unmap the
        # most-written VMAs, highest first (VMA 0, written first, has most in swap)
        while int(self.written.sum()) > AFTER_SWAPOFF:
            per = self.written.reshape(NV, VP).sum(axis=1)
            self.unmap(NV - 1 - int(np.argmax(per[::-1])))
        self.events.append((ev.K_SWAPOFF,))
        self.swapped_off = True

    def teardown(self):
        w = ev.make_workload("machine", {}, ("run",), [[*self.events, (ev.K_EXIT,)]],
                          fill={"zero": 0.1, "same": 0.05, "sequence": 0.85})
        for design in v.designs():
            ds = v.simulate(design, w, SYSTEM, check="every")
            assert int(ds.content_errors) == 0, design
            assert int(ds.live_entries) == 0, design
            if self.swapped_off:
                assert float(ds.swapoff_time) > 0, design


MmMachine.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMmMachine = MmMachine.TestCase


THP_SYSTEM = v.System("64M", memory_max="16M", swap=v.Device("zram", "256M"), nr_cpus=1,
                      thp=v.Thp({"16K": "always", "64K": "always", "2M": "always"}))


class MmThpMachine(MmMachine):
    """The same with 16K, 64K and 2M folios on zram (large swap-ins too), no swapoff
    (not modelled with large folios), and munmaps of parts of a VMA that cut large
    folios (deferred splits, reclaim of partially mapped folios): the VMA keeps its head."""

    @precondition(lambda self: False)
    @rule()
    def swapoff(self):
        pass

    @rule(vma=st.integers(0, NV - 1), cut=st.integers(1, 700))
    def unmap_tail(self, vma, cut):
        """munmap the VMA's last ``cut`` pages: the cut falls inside large folios."""
        if not self.live[vma] or cut >= self.vlen[vma]:
            return
        self.vlen[vma] -= cut
        lo = vma * VP + self.vlen[vma]
        self.events.append((ev.K_UNMAP, lo, cut))
        self.written[lo : lo + cut] = False

    def teardown(self):
        w = ev.make_workload("machine", {}, ("run",), [[*self.events, (ev.K_EXIT,)]],
                             fill={"zero": 0.1, "same": 0.05, "sequence": 0.85})
        for design in v.designs():
            ds = v.simulate(design, w, THP_SYSTEM, check="every")
            assert int(ds.content_errors) == 0, design
            assert int(ds.live_entries) == 0, design
            assert int(ds.mthp.sel(mthp_stat="anon_fault_alloc").sum()) > 0, design


MmThpMachine.TestCase.settings = settings(
    max_examples=8,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMmThpMachine = MmThpMachine.TestCase
