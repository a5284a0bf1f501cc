# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Where virtual swap pays, and which fix takes it back
#
# On linux-mm, the virtual swap series (Nhat Pham) was measured against the 6.19
# baseline with `usemem`: write more than fits in memory, then free it all. v5's
# munmap was markedly slower; v6 added fixes, and this notebook takes them apart.
#
# 1. `classic` vs `vswap_v5` vs `vswap_v6` on usemem, write then free: free latency,
#    throughput, and what the free path touched.
# 2. An ablation of v6: each fix switched on alone on top of v5's behaviour, then all
#    four (which is `vswap_v6`). `vswap_v6` with every switch off counts exactly as
#    `vswap_v5` but for how a cluster is allocated (v6's vzalloc'd descriptor array:
#    the reference-model tests check it step by step).
#
# The four switches of `vswap_v6` (see the docstring of `vswap_nb/designs/vswap.py`):
#
# | switch | what it changes |
# |---|---|
# | `rmap_cache_only_bit` | bit 63 of the physical slot's reverse-map entry says "swap cache only", so the physical allocator reads that word alone; without it each allocated slot it meets costs a reverse-map read plus a vswap lookup (`xa_load` + cluster lock + descriptor read) |
# | `defer_cgroup_check` | `swap_pte_batch()` on the free path does no per-PTE cgroup lookup (runs are split at memcg changes later, under the held lock) |
# | `cluster_lookup_cache` | a per-CPU most-recently-used virtual cluster: a lookup of the same cluster skips `xa_load` |
# | `batch_ops` | one lookup + lock per cluster chunk on the free path, backing released and memcg uncharged per run; writeout and swap-in stop repeating lookups |

# %%
# %matplotlib inline
import os

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

import vswap_nb
from vswap_nb import plot

SMALL = bool(os.environ.get("VSWAP_NB_SMALL"))
FIXES = ["rmap_cache_only_bit", "defer_cgroup_check", "cluster_lookup_cache", "batch_ops"]

if SMALL:
    size, nr_tasks = "48M", 2
    system = vswap_nb.System("64M", swap=vswap_nb.Device("zram", "128M"), nr_cpus=2)
else:
    size, nr_tasks = "768M", 4
    system = vswap_nb.System("2G", swap=vswap_nb.Device("zram", "4G"), nr_cpus=4)
write_free = vswap_nb.usemem(size, nr_tasks=nr_tasks, sync_free=True)
print(system, "\nusemem", size, "x", nr_tasks, "tasks")

# %% [markdown]
# ## 1. The regression: write, then free

# %%
ds = vswap_nb.compare(["classic", "vswap_v5", "vswap_v6"], write_free, system)
summary = pd.DataFrame({
    "free latency (us)": ds.latency.sel(phase="free").to_pandas(),
    "free vs classic": (ds.model_time.sel(phase="free") / ds.model_time.sel(phase="free", design="classic")).to_pandas(),
    "write throughput (KB/s)": ds.throughput.sel(phase="write").to_pandas(),
    "write vs classic": (ds.throughput.sel(phase="write") / ds.throughput.sel(phase="write", design="classic")).to_pandas(),
    "pages swapped out": ds.pswpout.to_pandas(),
})
summary.round(3)

# %% [markdown]
# **Finding.** `vswap_v5`'s free latency is about 1.8x `classic`'s; `vswap_v6` is back
# at `classic` (within a few percent). Write throughput differs by no more than a
# couple of percent between the three: the regression is in the munmap.
#
# What the free path touched, per page freed:

# %%
free_prims = ["xa_lookup", "xa_node_visit", "cluster_lock", "desc_read", "memcg_read",
              "memcg_uncharge", "bitmap_op", "lookup_cache_hit"]
(ds.counters.sel(op="free", primitive=free_prims) / ds.pswpout).to_pandas().round(3)

# %% [markdown]
# **Finding.** v5's free path does two cluster-map XArray lookups per freed PTE (one
# for `swap_pte_batch()`'s cgroup check, one for the put itself), plus three cluster
# locks, three descriptor reads and a memcg uncharge per page. v6 does nearly no
# lookups at all.
# `classic` walks no XArray: its clusters are found by arithmetic.

# %%
free_t = ds.model_time.sel(phase="free")
xa_free = ds.counters.sel(op="free", primitive="xa_lookup")
assert float(free_t.sel(design="vswap_v5")) > 1.5 * float(free_t.sel(design="classic"))
assert float(free_t.sel(design="vswap_v6")) < 1.1 * float(free_t.sel(design="classic"))
assert int(xa_free.sel(design="classic")) == 0
assert int(xa_free.sel(design="vswap_v5")) >= 2 * int(ds.pswpout.sel(design="vswap_v5"))
assert int(xa_free.sel(design="vswap_v6")) < 0.05 * int(xa_free.sel(design="vswap_v5"))
tput = ds.throughput.sel(phase="write")
assert float(tput.max()) < 1.05 * float(tput.min())

# %%
plot.cost_breakdown(ds, op="free")

# %% [markdown]
# ## 2. Ablation: one fix at a time
#
# The physical allocator's cache-only check only matters once swapped-in pages hold
# physical slots in the swap cache, so the ablation runs usemem's `case-swapin`
# pattern (`-W`, `read_back=True`): write, read everything back, free. Each
# configuration is one `simulate` of `vswap_v6` with the switches given as keyword
# arguments; `classic` is the reference. (`vswap_nb.sweep(["vswap_v6"], ...,
# over={switch: [False, True] ...})` would run the full 2^4 grid instead.)

# %%
read_back = vswap_nb.usemem(size, nr_tasks=nr_tasks, read_back=True, sync_free=True)
off = dict.fromkeys(FIXES, False)
configs = {"v5 (all off)": off}
configs.update({f"+{f}": {**off, f: True} for f in FIXES})
configs["v6 (all on)"] = dict.fromkeys(FIXES, True)

runs = {"classic": vswap_nb.simulate("classic", read_back, system)}
for name, switches in configs.items():
    runs[name] = vswap_nb.simulate("vswap_v6", read_back, system, **switches)
abl = xr.concat(list(runs.values()), dim=pd.Index(list(runs), name="design"))
assert (abl.content_errors == 0).all()
print(list(abl.design.values))


# %%
def c(op, prim):
    return abl.counters.sel(op=op, primitive=prim).to_pandas()


table = pd.DataFrame({
    "free: xa_lookup": c("free", "xa_lookup"),
    "free: cluster_lock": c("free", "cluster_lock"),
    "free: memcg_uncharge": c("free", "memcg_uncharge"),
    "alloc (writeout): rmap_read": c("writeout", "rmap_read"),
    "alloc (writeout): xa_lookup": c("writeout", "xa_lookup"),
    "alloc (writeout): desc_read": c("writeout", "desc_read"),
    "swapin: xa_lookup": c("swapin", "xa_lookup"),
    "dup: xa_lookup": c("dup", "xa_lookup"),
    "free time (ms)": abl.model_time.sel(phase="free").to_pandas() / 1e6,
    "read time (ms)": abl.model_time.sel(phase="read").to_pandas() / 1e6,
    "write throughput (KB/s)": abl.throughput.sel(phase="write").to_pandas(),
})
table.T.round(2)

# %% [markdown]
# Virtual swap allocates the *physical* slot lazily, when the page is written out, so
# the physical allocator's work (scanning clusters, meeting slots that are already
# allocated) is counted under `writeout`.
#
# **Findings**, each fix against the v5 row:
#
# * `rmap_cache_only_bit` changes nothing on the free path; in the allocator it
#   removes one vswap lookup (`xa_load`, cluster lock, descriptor read) for every
#   allocated slot the scan meets: writeout's `xa_lookup` and `desc_read` drop by as
#   many as v5's reverse-map reads.
# * `defer_cgroup_check` halves the free path's XArray lookups: the per-PTE cgroup
#   lookup of `swap_pte_batch()` is gone, the put's own lookup remains.
# * `cluster_lookup_cache` turns nearly every lookup, on every path (free, dup,
#   writeout, swap-in), into a per-CPU cache hit; locks and descriptor reads stay.
# * `batch_ops` takes one lock per cluster chunk on the free path and uncharges memcg
#   per run instead of per page; swap-in stops repeating its lookups.
# * Alone, `batch_ops` buys the largest part of the free time back; no single fix
#   brings the free phase back to `classic`, all four together do.

# %%
v5, v6 = "v5 (all off)", "v6 (all on)"
T = table  # shorthand
# rmap bit: no effect on the free path, the allocator's lookups per met slot vanish
assert T.loc["+rmap_cache_only_bit", "free: xa_lookup"] == T.loc[v5, "free: xa_lookup"]
drop = T.loc[v5, "alloc (writeout): xa_lookup"] - T.loc["+rmap_cache_only_bit", "alloc (writeout): xa_lookup"]
assert T.loc[v5, "alloc (writeout): rmap_read"] > 0
assert abs(drop - T.loc[v5, "alloc (writeout): rmap_read"]) <= 0.01 * T.loc[v5, "alloc (writeout): rmap_read"]
assert abs(T.loc["+rmap_cache_only_bit", "free time (ms)"] / T.loc[v5, "free time (ms)"] - 1) < 0.02
# deferred cgroup check: half the free path's lookups
assert abs(T.loc["+defer_cgroup_check", "free: xa_lookup"] / T.loc[v5, "free: xa_lookup"] - 0.5) < 0.01
# lookup cache: (nearly) no xa_load left on the free, dup and swap-in paths
for col in ("free: xa_lookup", "dup: xa_lookup", "swapin: xa_lookup"):
    assert T.loc["+cluster_lookup_cache", col] < 0.05 * T.loc[v5, col], col
# batching: far fewer locks and uncharges on the free path
assert T.loc["+batch_ops", "free: cluster_lock"] < 0.5 * T.loc[v5, "free: cluster_lock"]
assert T.loc["+batch_ops", "free: memcg_uncharge"] < 0.1 * T.loc[v5, "free: memcg_uncharge"]
# free time: batch_ops is the best single fix, all four are needed to reach classic
singles = T.loc[[f"+{f}" for f in FIXES], "free time (ms)"]
assert singles.idxmin() == "+batch_ops"
assert (singles > 1.1 * T.loc["classic", "free time (ms)"]).all()
assert T.loc[v6, "free time (ms)"] < 1.1 * T.loc["classic", "free time (ms)"]
assert T.loc[v5, "free time (ms)"] > 1.5 * T.loc["classic", "free time (ms)"]

# %% [markdown]
# Free time and write throughput per configuration, relative to `classic`:

# %%
rel = pd.DataFrame({
    "free time": T["free time (ms)"] / T.loc["classic", "free time (ms)"],
    "read time": T["read time (ms)"] / T.loc["classic", "read time (ms)"],
    "write throughput": T["write throughput (KB/s)"] / T.loc["classic", "write throughput (KB/s)"],
})
print(rel.round(3))

fig = Figure(figsize=(9, 3.8), layout="constrained")
ax = fig.add_subplot()
x = np.arange(len(rel))
for i, col in enumerate(rel.columns):
    ax.bar(x + (i - 1) * 0.27, rel[col], width=0.27, label=col)
ax.axhline(1.0, color="k", lw=0.8)
ax.set_xticks(x, rel.index, rotation=25, ha="right")
ax.set_ylabel("relative to classic [1]")
ax.set_title("vswap_v6 switches, one at a time (usemem write / read back / free)")
ax.legend(fontsize="small")
fig

# %% [markdown]
# **Finding.** The fixes act on the munmap: the free phase goes from about 1.8x
# `classic` (v5) to `classic`'s time (all four). Write throughput stays within a few
# percent of `classic` in every configuration. The read-back phase is a few percent
# slower in v5 than in `classic` (its swap-in path repeats cluster lookups), and the
# lookup cache alone brings most of that back. The costs are model costs: counts of
# each primitive times `vswap_nb.mm.cost`'s ns table.

# %%
assert (rel["write throughput"].between(0.97, 1.03)).all()
assert (rel["read time"].between(0.9, 1.15)).all()
assert rel.loc[v6, "read time"] < rel.loc[v5, "read time"]
assert rel.loc["+cluster_lookup_cache", "read time"] - 1 < 0.5 * (rel.loc[v5, "read time"] - 1)

# %% [markdown]
# Where the free path's model time goes, per configuration (`cost_breakdown` takes any
# Dataset with a `design` dimension, so the configurations stand in for designs):

# %%
plot.cost_breakdown(abl, op="free")

# %% [markdown]
# and the allocator's share, counted under `writeout` (the `rmap_cache_only_bit` rows
# lose their `xa_lookup`/`desc_read` segments from the cache-only check):

# %%
plot.cost_breakdown(abl, op="writeout")
