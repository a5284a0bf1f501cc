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
# Since issue 16 the model counts v5's and v6's operations as the posted patches have
# them, and the munmap regression reproduces only in part: v5's free phase costs 1.16x
# (small run) to 1.22x (full run) `classic`'s, no longer the 1.8x this notebook
# showed before, while v5's write and read-back phases now cost more than they did.
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
# | `cluster_lookup_cache` | a per-CPU most-recently-used virtual cluster: a lookup of the same cluster skips `xa_load` (the fault's `tryget_swap_entry()` / `put_swap_entry()` never use it) |
# | `batch_ops` | every other v5 -> v6 difference of the posted code: on the free path one memcg uncharge per run and no separate shadow-clearing loop; allocation, writeout, `__remove_mapping` and swap-in without v5's repeated lookups |

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
# **Finding.** `vswap_v5`'s free latency is 1.16x `classic`'s in the small run and
# 1.22x in the full run (it was about 1.8x before issue 16's recount of v5's free
# path, below; and every design's munmap now pays zram's `zs_free` at 200 ns per freed
# slot instead of 50, which `classic` pays too); `vswap_v6` is back within a few
# percent of `classic` (1.015x and 1.033x).
# Write throughput is no longer the same in all three: `vswap_v6` is within 1% of
# `classic` (0.999x, 0.994x), but `vswap_v5` writes 7.5% (small) and 11% (full)
# slower, because its writeout is now counted as posted (10 cluster-map lookups and 12
# cluster locks per page written out, where `vswap_v6` does 3 lookups, all lookup-cache
# hits, and 5 locks).
#
# What the free path touched, per page freed:

# %%
free_prims = ["xa_lookup", "xa_node_visit", "cluster_lock", "desc_read", "memcg_read",
              "memcg_uncharge", "bitmap_op", "lookup_cache_hit"]
(ds.counters.sel(op="free", primitive=free_prims) / ds.pswpout).to_pandas().round(3)

# %% [markdown]
# **Finding.** v5's free path does about one cluster-map XArray lookup per freed PTE
# (1.05 small, 1.06 full), not the two this notebook showed before: the lookup of
# `swap_pte_batch()`'s per-PTE cgroup check remains, but the put itself takes one
# lookup per cluster the freed range enters (the posted `vswap_free_nr_any_cache_only()`,
# issue 16's recount). Per page v5 takes 1.1 cluster locks and reads 4 descriptors,
# and it uncharges memcg once per physical run, as `classic` does (0.024 uncharges
# per page small, 0.030 full, in both), not per page. v6 does nearly no lookups (0.020
# and 0.026 per page). `classic` walks no XArray: its clusters are found by
# arithmetic.

# %%
free_t = ds.model_time.sel(phase="free")
free_r = free_t / free_t.sel(design="classic")
xa_free = ds.counters.sel(op="free", primitive="xa_lookup")
# v5's munmap 1.16x (small) / 1.22x (full) classic's: a regression, but not the 1.8x of before
assert 1.1 < float(free_r.sel(design="vswap_v5")) < 1.35
assert float(free_r.sel(design="vswap_v6")) < 1.05  # 1.015x, 1.033x
assert int(xa_free.sel(design="classic")) == 0
# v5: one lookup per freed PTE (the cgroup check) plus one per cluster change: 1.05 / 1.06 per page
assert 1.0 <= int(xa_free.sel(design="vswap_v5")) / int(ds.pswpout.sel(design="vswap_v5")) < 1.1
assert int(xa_free.sel(design="vswap_v6")) < 0.05 * int(xa_free.sel(design="vswap_v5"))  # 1.9%, 2.5%
unch = ds.counters.sel(op="free", primitive="memcg_uncharge") / ds.pswpout
assert float(unch.sel(design="vswap_v5")) < 1.05 * float(unch.sel(design="classic"))  # per run, not per page
# write throughput: v5 0.925x (small) / 0.892x (full) classic's, v6 within 1% (0.999x, 0.994x)
tput = ds.throughput.sel(phase="write") / ds.throughput.sel(phase="write", design="classic")
assert float(tput.sel(design="vswap_v5")) < 0.95
assert abs(float(tput.sel(design="vswap_v6")) - 1) < 0.01

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
    "pages swapped out": abl.pswpout.to_pandas(),
    "major faults": abl.pgmajfault.to_pandas(),
    "free: xa_lookup": c("free", "xa_lookup"),
    "free: cluster_lock": c("free", "cluster_lock"),
    "free: desc_read": c("free", "desc_read"),
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
# **Findings**, each fix against the v5 row (figures: small run / full run):
#
# * `rmap_cache_only_bit` changes nothing on the free path (free time within 0.3% of
#   v5's at both sizes); in the allocator it removes one vswap lookup (`xa_load`,
#   cluster lock, descriptor read) for every allocated slot the scan meets: v5's
#   writeout does exactly 10 lookups per page swapped out plus one per reverse-map
#   read, and with the bit exactly the 10 are left. (The bit changes the write phase's
#   model time and with it when kswapd and the tasks reclaim, so this run swaps out 32
#   pages more than v5's in the small run and 32 fewer in the full one, and its counts
#   are not v5's minus the reverse-map reads to the page; its free-path lookups differ
#   from v5's by 0.8% / 0.2%.)
# * `defer_cgroup_check` removes nearly all of the free path's XArray lookups (95% /
#   88%: 12871 -> 647, 434684 -> 53660) and most of its locks. This notebook used to
#   say it halves them; with the put now counted as posted (one lookup per cluster
#   change, issue 16), the per-PTE cgroup lookup of `swap_pte_batch()` was nearly all
#   of v5's free-path lookups.
# * `cluster_lookup_cache` turns nearly every lookup of the free, dup and writeout
#   paths into a per-CPU cache hit (under 3% of v5's `xa_load`s left); locks and
#   descriptor reads stay. On the swap-in path two `xa_load`s per fault remain (2.03 /
#   2.05, of v5's 15.0): the fault's `tryget_swap_entry()` and `put_swap_entry()`
#   never go through the cache (V6p22; counted since issue 16).
# * `batch_ops` changes little on the free path: the per-PTE cgroup check's lookups
#   and locks stay (95% / 88% of v5's locks); what goes is v5's per-run work (its
#   shadow-clearing loop's descriptor reads: 25% fewer; memcg uncharges 14% / 29%
#   fewer). It acts elsewhere: allocation without its 2 lookups per page, writeout's
#   lookups down to about a third (34% / 40% of v5's), `__remove_mapping` with 2
#   instead of 4, swap-in with 13 per fault instead of 15.
# * For the free time, `defer_cgroup_check` is now the best single fix (1.03x / 1.07x
#   `classic`, where v5 is 1.16x / 1.25x); `batch_ops`, which this notebook used to
#   find the best, buys back little of it alone (1.15x / 1.21x). No single fix is as
#   good as all four together (1.01x / 1.03x).

# %%
v5, v6 = "v5 (all off)", "v6 (all on)"
T = table  # shorthand
rb = "+rmap_cache_only_bit"
# rmap bit: the free path is untouched (free time and lookups as v5's up to the runs' drift)
assert abs(T.loc[rb, "free time (ms)"] / T.loc[v5, "free time (ms)"] - 1) < 0.01  # 0.3%, 0.3%
assert abs(T.loc[rb, "free: xa_lookup"] / T.loc[v5, "free: xa_lookup"] - 1) < 0.02  # 0.8%, 0.2%
# ... and the allocator's one lookup per met slot vanishes: per page swapped out, v5's
# writeout lookups less its reverse-map reads are what is left with the bit (10.000 both)
assert T.loc[v5, "alloc (writeout): rmap_read"] > 0
per_page_v5 = (T.loc[v5, "alloc (writeout): xa_lookup"] - T.loc[v5, "alloc (writeout): rmap_read"]) \
    / T.loc[v5, "pages swapped out"]
per_page_rb = T.loc[rb, "alloc (writeout): xa_lookup"] / T.loc[rb, "pages swapped out"]
assert abs(per_page_rb / per_page_v5 - 1) < 0.001
# deferred cgroup check: nearly all of the free path's lookups go (5.0% / 12.3% left)
assert T.loc["+defer_cgroup_check", "free: xa_lookup"] < 0.2 * T.loc[v5, "free: xa_lookup"]
# lookup cache: (nearly) no xa_load left on the free, dup and writeout paths (<= 2.7%) ...
for col in ("free: xa_lookup", "dup: xa_lookup", "alloc (writeout): xa_lookup"):
    assert T.loc["+cluster_lookup_cache", col] < 0.05 * T.loc[v5, col], col
# ... but the fault's tryget/put keep two per fault (v5: 15 per fault)
swapin_per_fault = T["swapin: xa_lookup"] / T["major faults"]
assert abs(swapin_per_fault[v5] - 15) < 0.01
assert 2.0 <= swapin_per_fault["+cluster_lookup_cache"] < 2.1
# batching: most free-path locks stay (95% / 88%), fewer uncharges and descriptor reads;
# writeout's lookups fall to 34% / 40% of v5's
assert T.loc["+batch_ops", "free: cluster_lock"] > 0.8 * T.loc[v5, "free: cluster_lock"]
assert T.loc["+batch_ops", "free: memcg_uncharge"] < T.loc[v5, "free: memcg_uncharge"]
assert T.loc["+batch_ops", "free: desc_read"] < 0.8 * T.loc[v5, "free: desc_read"]
assert T.loc["+batch_ops", "alloc (writeout): xa_lookup"] < 0.5 * T.loc[v5, "alloc (writeout): xa_lookup"]
# free time: v5 1.16x / 1.25x classic; defer_cgroup_check the best single fix (1.03x / 1.07x),
# all four together better than any one (1.01x / 1.03x)
singles = T.loc[[f"+{f}" for f in FIXES], "free time (ms)"]
assert singles.idxmin() == "+defer_cgroup_check"
assert (singles > T.loc[v6, "free time (ms)"]).all()
assert T.loc[v6, "free time (ms)"] < 1.05 * T.loc["classic", "free time (ms)"]
assert T.loc[v5, "free time (ms)"] > 1.1 * T.loc["classic", "free time (ms)"]

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
# **Finding.** The fixes no longer act on the munmap alone. The free phase goes from
# 1.16x (small) / 1.25x (full) `classic` (v5) to 1.01x / 1.03x (all four). v5's other
# phases now pay too, where they used to be within a few percent of `classic`: with
# its writeout and swap-in counted as posted (issue 16: 10 lookups per page written
# out, 15 lookups and 16 locks per swap-in fault), v5's write throughput is 0.933x /
# 0.894x `classic`'s and its read-back phase takes 1.14x / 1.22x `classic`'s time.
# The lookup cache and `batch_ops` each bring back more than half of the write
# throughput v5 loses (69% / 71% and 58% / 61%); the lookup cache alone brings back
# most of the read-back phase (1.05x / 1.06x); all four together put both within 3%
# of `classic` (write 0.999x / 0.994x, read 1.03x / 1.03x). The costs are model costs:
# counts of each primitive times `vswap_nb.mm.cost`'s ns table.

# %%
wt = rel["write throughput"]
assert wt[v5] < 0.95  # 0.933, 0.894
for fix in ("+cluster_lookup_cache", "+batch_ops"):
    assert (wt[fix] - wt[v5]) / (1 - wt[v5]) > 0.5, fix
assert abs(wt[v6] - 1) < 0.01
assert rel.loc[v5, "read time"] > 1.1  # 1.14, 1.22
assert rel.loc[v6, "read time"] < 1.05  # 1.03, 1.03
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
