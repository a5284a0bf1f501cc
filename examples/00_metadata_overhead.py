# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # How many bytes of swap metadata does each design keep?
#
# `metadata_overhead` swaps pages out through each design's own verbs and sums the
# structures the design has allocated at each usage level.  Set `VSWAP_NB_SMALL=1`
# to run it on a small device.

# %%
import os

import vswap_nb

size = "256M" if os.environ.get("VSWAP_NB_SMALL") else "32G"
ds = vswap_nb.metadata_overhead(swap_size=size, usage=(0, 0.5, 1))
print(ds.bytes_per_slot.to_dataframe().unstack("usage").round(3))

# %% [markdown]
# The 6.19 baseline pays about 3 bytes per slot before anything is swapped out
# (`swap_map`, `swap_cgroup`, `zeromap`); the swap table keeps 48 bytes per 512-slot
# cluster static and allocates 5 KiB (table + memcg table) per cluster in use.

# %%
full = ds.bytes_per_slot.sel(backend="disk", usage=1.0)
empty = ds.bytes_per_slot.sel(backend="disk", usage=0.0)
assert float(empty.sel(design="classic")) > 3.0 > float(empty.sel(design="swap_table"))
assert float(full.sel(design="swap_table")) < float(full.sel(design="classic"))
print(ds.metadata_bytes_by_structure.sel(usage=1.0, backend="zswap").transpose("structure", "design").to_pandas())
