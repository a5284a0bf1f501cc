"""Designs differ in cost, never in meaning: one random page-level sequence replayed
through every design leaves the same live swapped pages, keyed by the page that owns
them (same swap reference count per page, same swap-cache state, found by a fault's
readahead probe), and each design's
state returns to empty when every page is gone."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vswap_nb import designs
from vswap_nb.core import verbs
from vswap_nb.core.counters import (
    OP_CACHE_DEL,
    OP_DUP,
    OP_FREE,
    OP_SWAPIN,
    OP_WRITEOUT,
    OP_ZSWAP_WB,
)
from vswap_nb.core.metadata import N_STRUCTURES
from vswap_nb.designs import get_design

NPAGES = 24
BACKENDS = (verbs.BACKEND_DISK, verbs.BACKEND_ZSWAP, verbs.BACKEND_ZERO)


class Replay:
    """The mm's part, design-independent: pages are present (folio = page + 1, maybe
    in the swap cache) or swapped out (held by ``refs`` PTEs)."""

    def __init__(self, name):
        self.name = name
        self.dst = get_design(name).new_state(4096, ncpu=2, cluster_size=64, zswap_enabled=True)
        self.ctx = verbs.new_ctx(4 * NPAGES + 8)
        self.ctx.meta[verbs.C_ZSWAP_ENABLED] = 1
        self.entry = {}  # page -> first swap entry while it has one
        self.refs = {}  # page -> PTEs holding the entry (swapped pages)
        self.backend = {}

    def folio(self, p):
        return p + 1

    def swap_out(self, p, backend, cpu):
        if p in self.refs or p in self.entry:
            return
        self.ctx.meta[verbs.C_CPU] = cpu
        f = self.folio(p)
        e = verbs.alloc(self.dst, self.ctx, cpu, 0, f, 1 + p % 3)
        assert e > 0, (self.name, e)
        assert verbs.dup(self.dst, self.ctx, OP_DUP, e, 1) == 0  # unmap: one PTE
        got = verbs.writeout(self.dst, self.ctx, OP_WRITEOUT, e, 1, backend)
        assert got == backend, (self.name, got)
        verbs.cache_del(self.dst, self.ctx, OP_CACHE_DEL, e, 1)
        self.entry[p] = e
        self.refs[p] = 1
        self.backend[p] = backend

    def fork(self, p):
        if p in self.refs:
            assert verbs.dup(self.dst, self.ctx, OP_DUP, self.entry[p], 1) == 0
            self.refs[p] += 1

    def swap_in(self, p, keep_cache, cpu):
        """A fault on one of the page's PTEs; the other PTEs stay swapped."""
        if p not in self.refs:
            return
        self.ctx.meta[verbs.C_CPU] = cpu
        e, f = self.entry[p], self.folio(p)
        if verbs.cache_lookup(self.dst, self.ctx, OP_SWAPIN, e) < 0:
            assert verbs.cache_add(self.dst, self.ctx, OP_SWAPIN, e, 1, f) == 0
            verbs.read_backend(self.dst, self.ctx, OP_SWAPIN, e)
        self.ctx.folio[f, verbs.F_FLAGS] |= verbs.FOLIO_MAPPED
        verbs.put(self.dst, self.ctx, OP_SWAPIN, e, 1, False)  # folio_put_swap()
        self.refs[p] -= 1
        if self.refs[p] == 0:
            del self.refs[p]
            if not keep_cache:
                assert verbs.cache_free(self.dst, self.ctx, OP_SWAPIN, e, 1) == 1
                del self.entry[p]

    def zap(self, p, cpu):
        """munmap of every PTE of the page."""
        self.ctx.meta[verbs.C_CPU] = cpu
        if p in self.refs:
            e = self.entry[p]
            for _ in range(self.refs[p]):
                n = verbs.pte_batch(self.dst, self.ctx, OP_FREE, e, 1)
                assert n == 1
                verbs.put(self.dst, self.ctx, OP_FREE, e, 1, True)
            del self.refs[p]
            self.entry.pop(p, None)
            f = self.folio(p)
            if self.ctx.folio[f, verbs.F_SWAP]:
                # a fault mapped the page from the swap cache while other PTEs still held
                # the entry (swap_in after fork): that PTE goes too, and the folio with it
                self.ctx.folio[f, verbs.F_FLAGS] &= ~verbs.FOLIO_MAPPED
                verbs.cache_free(self.dst, self.ctx, OP_FREE, e, 1)
        elif p in self.entry:  # present, still in the swap cache: freed with the folio
            f = self.folio(p)
            self.ctx.folio[f, verbs.F_FLAGS] &= ~verbs.FOLIO_MAPPED
            if self.ctx.folio[f, verbs.F_SWAP]:
                verbs.cache_free(self.dst, self.ctx, OP_FREE, self.entry[p], 1)
            del self.entry[p]
        self.backend.pop(p, None)

    def writeback(self, p, cpu):
        if p in self.refs and self.backend.get(p) == verbs.BACKEND_ZSWAP:
            self.ctx.meta[verbs.C_CPU] = cpu
            tmp = 2 * NPAGES + 4 + p
            r = verbs.zswap_writeback(self.dst, self.ctx, OP_ZSWAP_WB, self.entry[p], tmp)
            assert r == 0, (self.name, r)
            self.backend[p] = verbs.BACKEND_DISK

    def live(self):
        """page -> (swap count, in swap cache, a fault's readahead probe finds the
        entry) as the design holds it."""
        out = {}
        for p, e in self.entry.items():
            cached = int(self.ctx.folio[self.folio(p), verbs.F_SWAP]) != 0
            found = verbs.ra_probe(self.dst, self.ctx, OP_SWAPIN, e) != verbs.ENOENT
            out[p] = (int(verbs.swap_count(self.dst, e)), cached, found)
        return out


OPS = st.lists(
    st.tuples(
        st.sampled_from(["out", "out", "fork", "in", "in_keep", "zap", "wb"]),
        st.integers(0, NPAGES - 1),
        st.sampled_from(BACKENDS),
        st.integers(0, 1),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=30, deadline=None)
@given(ops=OPS)
def test_every_design_keeps_the_same_live_pages(ops):
    runs = {name: Replay(name) for name in designs()}
    for op, p, backend, cpu in ops:
        for r in runs.values():
            if op == "out":
                r.swap_out(p, backend, cpu)
            elif op == "fork":
                r.fork(p)
            elif op in ("in", "in_keep"):
                r.swap_in(p, op == "in_keep", cpu)
            elif op == "zap":
                r.zap(p, cpu)
            else:
                r.writeback(p, cpu)
        lives = {name: r.live() for name, r in runs.items()}
        first = lives["swap_table"]
        for name, live in lives.items():
            assert live == first, (name, op, p, live, first)
        # the mm's own bookkeeping agrees with every design's
        for p2, (count, cached, found) in first.items():
            assert count == runs["swap_table"].refs.get(p2, 0)
            assert found
    # everything gone: no swap metadata left but the static parts
    out = np.zeros(N_STRUCTURES, dtype=np.int64)
    for name, r in runs.items():
        for p in range(NPAGES):
            r.zap(p, 0)
        assert r.live() == {}
        for e_page in range(NPAGES):
            assert int(r.ctx.folio[r.folio(e_page), verbs.F_SWAP]) == 0
        verbs.metadata_bytes(r.dst, out)
        fresh = get_design(name).new_state(4096, ncpu=2, cluster_size=64, zswap_enabled=True)
        base = np.zeros(N_STRUCTURES, dtype=np.int64)
        verbs.metadata_bytes(fresh, base)
        # dynamic structures are back to their empty size at once (no grace period is
        # modelled), but for the virtual clusters a CPU cache still holds (and cluster 0,
        # whose slot 0 is reserved for good)
        diff = out - base
        if name.startswith("vswap_v"):
            from vswap_nb.designs import vswap

            held = {int(x) for x in r.dst.vpcpu[:, : vswap.P_MRU_ID].ravel() if x >= 0}
            held |= {int(x) for x in r.dst.vpcpu[:, vswap.P_MRU_ROW :: 2].ravel() if x >= 0}
            live = {int(row) for row in np.flatnonzero(r.dst.vc[:, vswap.VC_FLAGS] & vswap.VF_LIVE)}
            zero = [int(row) for row in live if r.dst.vc[row, vswap.VC_ID] == 0]
            assert live <= held | set(zero), (name, live, held)
            assert all(r.dst.vc[row, vswap.VC_COUNT] == (1 if row in zero else 0) for row in live)
            from vswap_nb.core import metadata as md

            for s_ in (md.S_VSWAP_CLUSTER, md.S_VSWAP_DESC, md.S_CLUSTER_MAP_NODES):
                diff[s_] = 0
        assert not diff.any(), (name, diff)
