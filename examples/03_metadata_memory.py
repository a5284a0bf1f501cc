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
# # How many bytes of swap metadata does each design keep?
#
# `vswap_nb.metadata_overhead` swaps pages out through each design's own verbs (allocate,
# unmap, write out, drop from the swap cache) until a given fraction of the device is in
# use, and sums the structures the design really holds at that point: static arrays
# sized by the device, and tables, descriptors and XArray nodes allocated on demand.
# Two backends: `disk` (each page gets a device slot) and `zswap` (each page is stored
# compressed in RAM, which some designs can do without a device slot).
#
# The device is 8 GiB in a full run and 256 MiB with `VSWAP_NB_SMALL=1`; the 1 TiB
# figures at the end are derived from these measurements (bytes per slot times the
# 2**28 slots of a 1 TiB device), not measured on a 1 TiB device.

# %%
# %matplotlib inline
import os
from itertools import pairwise

import pandas as pd

import vswap_nb
from vswap_nb import plot
from vswap_nb.designs import get_design, register

SMALL = bool(os.environ.get("VSWAP_NB_SMALL"))
SIZE, QUARTER = ("256M", "64M") if SMALL else ("8G", "2G")
USAGE = (0, 0.25, 0.5, 0.75, 1)
print("designs:", vswap_nb.designs(), " device:", SIZE)

ds = vswap_nb.metadata_overhead(swap_size=SIZE, usage=USAGE, backend=("disk", "zswap"))
print(ds.attrs["swap_slots"], "slots of 4 KiB")
ds.bytes_per_slot.to_dataframe().unstack("usage").round(3)

# %% [markdown]
# ## Bytes per slot against usage, disk backend
#
# Left: bytes of metadata per usable slot as the device fills; a flat floor is
# static (allocated at swapon whatever is used), a slope is paid per used slot. Right:
# which structure holds the bytes when the device is full.

# %%
plot.metadata_vs_usage(ds, backend="disk")

# %%
per_slot = ds.metadata_bytes_by_structure / (ds.attrs["swap_slots"] - 1)
full_disk = per_slot.sel(backend="disk", usage=1.0).to_pandas().T
full_disk.loc[(full_disk != 0).any(axis=1)].round(3)

# %% [markdown]
# **Findings (disk).** (Figures: small run / full run.)
#
# * `classic` (6.19) pays about 3 bytes per slot before anything is swapped out (3.25
#   / 3.19): the 1-byte `swap_map`, the 2-byte `swap_cgroup` id and the zeromap bit,
#   all static. In use it adds the 8-byte swap table (the swap cache) per slot: 11.19
#   when full.
# * `swap_table` (P4) keeps almost nothing static (the per-cluster info) and allocates
#   an 8-byte table entry and a 2-byte memcg id per slot of a cluster in use: 10.09
#   bytes per slot when full, a little under `classic`. `ghost` without zswap *is*
#   `swap_table`, byte for byte (in both of its readings, see below).
# * The virtual designs pay nearly nothing for unused slots but the most per used
#   slot: `vswap_v5` (40.34 / 40.33 when full) a 24-byte descriptor, an 8-byte
#   reverse-map entry in the physical table, and 8 more bytes per slot from rounding
#   each 512-descriptor cluster (12392 bytes, one kvzalloc) up to a 16 KiB slab
#   object; `vswap_v6` (32.56 / 32.55) allocates the descriptors separately and loses
#   that rounding; the Swap Table Edition (`vswap_ste`, 26.32 / 26.30) replaces the
#   descriptor with an 8-byte table entry, a 2-byte memcg id and an 8-byte
#   `virtual_table` entry, and keeps the 8-byte reverse-map entry.

# %%
d0 = ds.bytes_per_slot.sel(backend="disk", usage=0.0)
d1 = ds.bytes_per_slot.sel(backend="disk", usage=1.0)
assert 3.0 < float(d0.sel(design="classic")) < 3.5
for name in ("swap_table", "vswap_v5", "vswap_v6", "vswap_ste", "ghost"):
    assert float(d0.sel(design=name)) < 0.5, name
order = ["vswap_v5", "vswap_v6", "vswap_ste", "classic", "swap_table"]
assert all(float(d1.sel(design=a)) > float(d1.sel(design=b)) for a, b in pairwise(order))
assert 7.0 < float(d1.sel(design="vswap_v5") - d1.sel(design="vswap_v6")) < 8.5
ghost_disk = ds.metadata_bytes.sel(backend="disk", design="ghost")
assert (ghost_disk == ds.metadata_bytes.sel(backend="disk", design="swap_table")).all()

# %% [markdown]
# ## The zswap backend
#
# With zswap every stored page has a 56-byte `zswap_entry` in every design; the
# designs differ in what they keep around it.

# %%
plot.metadata_vs_usage(ds, backend="zswap")

# %%
full_zswap = per_slot.sel(backend="zswap", usage=1.0).to_pandas().T
full_zswap.loc[(full_zswap != 0).any(axis=1)].round(3)

# %% [markdown]
# **Findings (zswap).** The `zswap_entry` dominates every design. `classic` and
# `swap_table` keep their per-slot tables *and* zswap's own XArray trees (about 9 bytes
# of nodes per page: 9.18 small, 9.21 full); the virtual designs point at the
# `zswap_entry` from their descriptor or virtual table and keep no zswap tree, and
# need no reverse map for a page that has no physical slot. `ghost` (the "vswap
# optional" route) with zswap is now, in its default reading, byte for byte
# `vswap_ste`: the swap table's per-slot entries plus an 8-byte `virtual_table` in
# every ghost cluster, where zswap finds its entries, and no zswap tree. The two come
# out lowest (74.38 bytes per slot small, 74.30 full), below `swap_table` (75.27,
# 75.30) and `classic` (76.36, 76.40). `vswap_v5` is highest (88.40, 88.33), by its
# descriptor and slab rounding.
#
# This notebook used to find `ghost` alone lowest, with no forward table for entries
# without a physical slot and no zswap tree. Issue 16 made ghost's reading of its
# RFCs a switch: the default, `lazy_forward_table=False`, follows the P4 RFC cover
# ("16 bytes per slot memory usage, when using ghost / virtual zswap"; zswap uses the
# ghost cluster's `virtual_table`), which is the STE vswap device.

# %%
z1 = ds.bytes_per_slot.sel(backend="zswap", usage=1.0)
assert (abs(per_slot.sel(backend="zswap", usage=1.0, structure="zswap_entry") - 56.0) < 0.01).all()
# ghost (default reading) is vswap_ste with zswap, at every usage, and the two are lowest
ghost_z = ds.metadata_bytes.sel(backend="zswap", design="ghost")
assert (ghost_z == ds.metadata_bytes.sel(backend="zswap", design="vswap_ste")).all()
assert float(z1.sel(design="ghost")) == float(z1.min())
assert str(z1.idxmax().values) == "vswap_v5"
assert float(z1.sel(design="ghost")) < float(z1.sel(design="swap_table")) < float(z1.sel(design="classic"))
assert float(per_slot.sel(backend="zswap", usage=1.0, design="vswap_v6", structure="zswap_xa_nodes")) == 0.0
assert float(per_slot.sel(backend="zswap", usage=1.0, design="ghost", structure="zswap_xa_nodes")) == 0.0

# %% [markdown]
# ### ghost's other reading: `lazy_forward_table=True`
#
# With `lazy_forward_table=True` (the reading this package took before issue 16) a
# ghost cluster's forward table exists only while one of its entries has a physical
# slot, so zswap cannot keep its entries there and keeps them as for any swap device,
# in its own XArray trees indexed by the ghost offset. `simulate` and `compare` take
# the switch as a design option; `metadata_overhead` takes no options, so a one-line
# preset registered under its own name (`register`, see `05_add_a_design`) measures
# it next to the default.

# %%
GHOST_LAZY = "ghost_lazy_forward_table"


if GHOST_LAZY not in vswap_nb.designs():  # registering twice is an error
    register(get_design("ghost").preset(
        GHOST_LAZY, "ghost, lazy_forward_table=True (forward table only while an entry has a slot)",
        lazy_forward_table=True,
    ))
lazy = vswap_nb.metadata_overhead([GHOST_LAZY], swap_size=SIZE, usage=USAGE, backend=("disk", "zswap"))
lazy_per_slot = lazy.metadata_bytes_by_structure / (lazy.attrs["swap_slots"] - 1)


def zswap_full(p):
    """bytes per slot by structure (rows) and design (columns), zswap, device full"""
    return p.sel(backend="zswap", usage=1.0).to_pandas().T


readings = pd.concat([zswap_full(per_slot)[["swap_table", "vswap_ste", "ghost"]], zswap_full(lazy_per_slot)], axis=1)
readings.loc["total"] = readings.sum()
readings.loc[(readings != 0).any(axis=1)].round(3)

# %% [markdown]
# **Finding.** The two readings differ only with zswap, and there by what holds
# zswap's entries: the default reading keeps an 8-byte `virtual_table` per ghost slot;
# the lazy one has no `virtual_table` for zswap pages but zswap's own trees (9.18 bytes
# per page small, 9.21 full), as `swap_table` does, so it comes out 75.56 bytes per
# slot (small) and 75.51 (full) when full: above `swap_table` (75.27, 75.30), whose
# cluster info is smaller and which has no ghost cluster map, and below `classic`.
# Neither reading is now the lowest design on its own. Without zswap both readings
# are `swap_table`.

# %%
lz = float(lazy.bytes_per_slot.sel(design=GHOST_LAZY, backend="zswap", usage=1.0))
# without zswap both readings are swap_table, byte for byte, at every usage
assert (lazy.metadata_bytes.sel(design=GHOST_LAZY, backend="disk")
        == ds.metadata_bytes.sel(design="swap_table", backend="disk")).all()
# with zswap the lazy reading keeps no virtual_table for zswap pages but zswap's own trees,
# as many nodes as swap_table's
assert readings.loc["virtual_table", GHOST_LAZY] == 0.0 and abs(readings.loc["virtual_table", "ghost"] - 8) < 0.01
assert readings.loc["zswap_xa_nodes", GHOST_LAZY] == readings.loc["zswap_xa_nodes", "swap_table"] > 9.0
# 75.56 (small) / 75.51 (full): above swap_table and the default reading, below classic
assert float(z1.sel(design="ghost")) < float(z1.sel(design="swap_table")) < lz < float(z1.sel(design="classic"))

# %% [markdown]
# ## Does bytes-per-slot depend on the device size?
#
# To scale the measurement to a bigger device, bytes per slot must not depend much on
# the size. Measure again on a device a quarter the size and compare.

# %%
q = vswap_nb.metadata_overhead(list(ds.design.values), swap_size=QUARTER, usage=USAGE,
                              backend=("disk", "zswap"))
cmp = pd.DataFrame({
    f"{QUARTER}, 0%": q.bytes_per_slot.sel(usage=0.0).to_series(),
    f"{SIZE}, 0%": ds.bytes_per_slot.sel(usage=0.0).to_series(),
    f"{QUARTER}, 100%": q.bytes_per_slot.sel(usage=1.0).to_series(),
    f"{SIZE}, 100%": ds.bytes_per_slot.sel(usage=1.0).to_series(),
})
rel_full = (q.bytes_per_slot.sel(usage=1.0) / ds.bytes_per_slot.sel(usage=1.0) - 1)
print("largest relative difference at 100% usage:", f"{float(abs(rel_full).max()):.4f}")
cmp.round(3)

# %% [markdown]
# **Finding.** At full usage the two sizes agree to well under 1% (at most 0.25% apart
# for 64 MiB against 256 MiB, 0.02% for 2 GiB against 8 GiB): what is paid per used
# slot dominates. An empty device is relatively dearer when small (per-device and
# per-CPU fixed costs spread over fewer slots), so the larger device is the better
# basis for extrapolation, and the static (0%) figures below are, if anything, a little
# high.

# %%
assert float(abs(rel_full).max()) < 0.01
assert (q.bytes_per_slot.sel(usage=0.0) >= ds.bytes_per_slot.sel(usage=0.0)).all()

# %% [markdown]
# ## What a 1 TiB swap device would cost
#
# A 1 TiB device has 2**40 / 4096 = 2**28 slots. Multiplying the bytes per slot measured
# above (on the `SIZE` device) by 2**28 gives the metadata a 1 TiB device would hold at
# each usage, in GiB. This is an extrapolation from the smaller device, justified by the
# size comparison above; it is not a run on a 1 TiB device.

# %%
SLOTS_1TIB = 2**28
tib = (ds.bytes_per_slot.sel(usage=[0.0, 0.5, 1.0]) * SLOTS_1TIB / 2**30)
tib_table = tib.to_dataframe(name="GiB").GiB.unstack(["backend", "usage"])
tib_table[("disk", "full vs swap_table")] = tib_table[("disk", 1.0)] / tib_table.loc["swap_table", ("disk", 1.0)]
tib_table.round(2)

# %% [markdown]
# **Finding.** Empty, a 1 TiB device costs `classic` most of a GiB of static arrays
# (0.81 GiB from the small run, 0.80 from the full one) and the other designs almost
# nothing (under 0.1 GiB); full, on disk, `swap_table` and `classic` need a few GiB
# (2.52 and 2.80), the virtual designs between about two and a half and four times
# as much as `swap_table` (`vswap_ste` 2.61x, `vswap_v6` 3.22x, `vswap_v5` the most,
# 4.00x, at both sizes). With zswap the 56-byte `zswap_entry` per page puts every
# design well above 10 GiB (18.6 GiB for the lowest, `vswap_ste` and `ghost`, 22.1
# for `vswap_v5`), and the differences between designs are a smaller share of the
# total.

# %%
assert 0.5 < float(tib.sel(design="classic", backend="disk", usage=0.0)) < 1.0
assert float(tib.sel(design="swap_table", backend="disk", usage=0.0)) < 0.1
ratio = tib_table[("disk", "full vs swap_table")]
assert 2.4 < ratio[["vswap_v5", "vswap_v6", "vswap_ste"]].min() and ratio.max() < 4.2
assert ratio.idxmax() == "vswap_v5"
assert float(tib.sel(backend="zswap", usage=1.0).min()) > 10.0
