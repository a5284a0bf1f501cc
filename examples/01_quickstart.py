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
# # Quick start: four swap-metadata designs on one workload
#
# `vswap_nb` runs a workload (here vm-scalability's `usemem`) on a modelled machine
# once per metadata design, on the same stream of page events, and returns what each
# design did as an `xarray.Dataset`: vmstat-style counters, a matrix of what every
# kernel operation touched (`counters[op, primitive]`), and model time per phase
# (counts times a cost table, see `vswap_nb.mm.cost`).
#
# The designs compared here:
#
# * `classic`: the 6.19 baseline (static `swap_map`, `swap_cgroup`, zeromap);
# * `swap_table`: Kairui Song's swap table, phase 4;
# * `vswap_v5` and `vswap_v6`: Nhat Pham's virtual swap, v5 and v6 (v6 = v5 plus the
#   thread's fixes, see `02_where_vswap_pays`).
#
# Set `VSWAP_NB_SMALL=1` for a small run (what CI does); without it the notebook runs
# the README's `make demo` case, four tasks writing 768 MiB each on a 2 GiB machine.
# The first run of each design compiles its engine (a minute or two); later runs load
# it from the on-disk cache.

# %%
# %matplotlib inline
import os

import vswap_nb
from vswap_nb import plot

SMALL = bool(os.environ.get("VSWAP_NB_SMALL"))
DESIGNS = ["classic", "swap_table", "vswap_v5", "vswap_v6"]

if SMALL:
    workload = vswap_nb.usemem("48M", nr_tasks=2, sync_free=True)
    system = vswap_nb.System("64M", swap=vswap_nb.Device("zram", "128M"), nr_cpus=2)
else:
    workload = vswap_nb.usemem("768M", nr_tasks=4, sync_free=True)
    system = vswap_nb.System("2G", swap=vswap_nb.Device("zram", "8G"), nr_cpus=4)
print(workload.name, workload.params)
print(system)

# %% [markdown]
# `usemem(size, nr_tasks=..., sync_free=True)` is `usemem -n N -x SIZE`: each task
# maps and writes `size` bytes (more than the machine's RAM in total, so the write
# phase swaps out to zram), then all tasks wait for each other and unmap together
# (the "free" phase, whose time usemem reports as free latency).
#
# `compare` runs `simulate` once per design and stacks the results along a `design`
# dimension.

# %%
ds = vswap_nb.compare(DESIGNS, workload, system)
ds

# %% [markdown]
# ## Reading the Dataset
#
# Scalars per design are vmstat-style counters (`pswpout`, `allocstall`, ...) and a few
# summaries; `model_time`, `latency` and `throughput` have a `phase` dimension;
# `counters` has `op` (kernel operation) and `primitive` (what was touched). Every
# variable carries `long_name` and `units` attributes.

# %%
print(ds.model_time.attrs["long_name"], "[", ds.model_time.attrs["units"], "]")
ds[["pswpout", "pswpin", "allocstall", "direct_reclaim_share", "content_errors",
    "metadata_bytes_peak_total"]].to_dataframe()

# %%
# model time per phase in ms, and as a ratio to classic
ms = ds.model_time.to_pandas() / 1e6
ratio = (ds.model_time / ds.model_time.sel(design="classic")).to_pandas()
print("model time (ms)\n", ms.round(2), "\n\nratio to classic\n", ratio.round(2))

# %% [markdown]
# **Finding.** The write phase costs about the same in every design (within a few
# percent: it is dominated by reclaim and zram compression, not by swap metadata). The
# free phase (the munmap) is where they differ: `vswap_v5` takes about 1.8x the model
# time of `classic`, while `vswap_v6` is back at `classic`'s time and `swap_table` is
# slightly below it. Every page written out was checked when it came back
# (`content_errors` is 0).

# %%
free = ds.model_time.sel(phase="free")
write = ds.model_time.sel(phase="write")
assert (ds.content_errors == 0).all() and (ds.pswpout > 0).all()
assert float(free.sel(design="vswap_v5")) > 1.5 * float(free.sel(design="classic"))
assert float(free.sel(design="vswap_v6")) < 1.1 * float(free.sel(design="classic"))
assert float(free.sel(design="swap_table")) <= float(free.sel(design="classic"))
assert float(write.max()) < 1.1 * float(write.min())

# %% [markdown]
# ## What the free path touched
#
# `ds.counters.sel(op="free")` is what `swap_put_entries_direct()` (and
# `swap_pte_batch()`) touched in each design during the whole run. Select rows and
# columns by name with `.sel`; here the primitives that differ most, per freed page
# (`pswpout` pages were swapped out, and all of them are freed by the munmap).

# %%
prims = ["xa_lookup", "cluster_lock", "desc_read", "memcg_read", "memcg_uncharge",
         "map_read", "table_read"]
per_page = ds.counters.sel(op="free", primitive=prims) / ds.pswpout
per_page.to_pandas().round(3)

# %% [markdown]
# **Finding.** `vswap_v5` does two XArray lookups (`xa_load` on the virtual cluster
# map) per freed page, and takes a cluster lock and reads descriptors per page and
# uncharges memcg page by page (three cluster locks and three descriptor reads per
# page); `vswap_v6` does almost no lookups: it frees in batches, one lookup and lock
# per cluster chunk. `classic` and `swap_table` find their clusters by arithmetic and
# never walk an XArray.

# %%
xa = ds.counters.sel(op="free", primitive="xa_lookup")
assert int(xa.sel(design="classic")) == 0 and int(xa.sel(design="swap_table")) == 0
assert int(xa.sel(design="vswap_v5")) >= 2 * int(ds.pswpout.sel(design="vswap_v5"))
assert int(xa.sel(design="vswap_v6")) < 0.1 * int(xa.sel(design="vswap_v5"))

# %% [markdown]
# ## Plots
#
# `vswap_nb.plot` draws the package's Datasets with matplotlib (no pyplot state, so it
# works headless); each function returns a `Figure` and writes a PNG when given
# `path=`. `cost_breakdown` turns the counter matrix into model cost (counts times ns
# per primitive) per operation, one stacked bar per design.

# %%
plot.cost_breakdown(ds, op="free")

# %% [markdown]
# The free path of `vswap_v5` is mostly XArray walks (`xa_lookup`, `xa_node_visit`),
# per-page cluster locks and descriptor reads; `vswap_v6` removes the walks and most
# of the locks. All operations at once:

# %%
plot.cost_breakdown(ds)

# %% [markdown]
# And the vmstat counters side by side (all designs swap out the same pages; the
# engine is the same, only the metadata verbs differ):

# %%
plot.vmstat(ds, names=["pswpout", "allocstall", "pgsteal_kswapd", "pgsteal_direct"])

# %% [markdown]
# ## One design, one run
#
# `simulate` is the single-design call behind `compare`; its Dataset has no `design`
# dimension, and a design's switches are keyword arguments. Here `vswap_v6` with its
# per-CPU cluster lookup cache off: its free path still does only a small fraction of
# v5's lookups, because the batching alone takes one lookup per cluster chunk (the
# next notebook takes the switches apart one by one).

# %%
one = vswap_nb.simulate("vswap_v6", workload, system, cluster_lookup_cache=False)
print(one.attrs["design"], "free-path xa_lookup:",
      int(one.counters.sel(op="free", primitive="xa_lookup")),
      " free latency (us):", round(float(one.latency.sel(phase="free")), 1))
xa_one = int(one.counters.sel(op="free", primitive="xa_lookup"))
assert xa_one < 0.05 * int(xa.sel(design="vswap_v5"))
