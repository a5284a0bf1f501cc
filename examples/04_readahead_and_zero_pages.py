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
# # Why readahead rose with virtual swap on zram
#
# In the linux-mm thread, virtual swap on zram showed far more swap readahead
# (`swap_ra` in /proc/vmstat) than the baseline. The reason is the fault's readahead
# decision, which the model calls `ra_probe` (`vswap_nb/core/verbs.py`):
#
# * `do_swap_page()` skips `swapin_readahead()` and reads the page directly when the
#   entry's data sits on a `SWP_SYNCHRONOUS_IO` device (zram, pmem, brd). In 6.19
#   (`classic`) that holds for an entry whose swap count is 1 (and such a page
#   bypasses the swap cache too, as 6.18 and 6.19 do); swap table P4 (`swap_table`)
#   skips readahead for every entry on such a device.
# * A virtual swap entry is not on any device: the virtual designs first resolve the
#   entry's backend (`swap_entry_backend_has_flag()`). Only an entry backed by a slot on
#   the synchronous device skips readahead; **zero-filled, zswap and unbacked entries
#   always take `swapin_readahead()`**.
#
# 6.19 keeps a zero-filled page as a bit in the zeromap of the (synchronous) device,
# so its fault reads it directly; virtual swap stores it as a ZERO descriptor with no
# device behind it, so its fault goes through readahead. A workload with zero-filled
# pages on zram therefore shows the rise; on an asynchronous device (an SSD) every
# fault goes through readahead in every design, and there is nothing to rise.
#
# The workload: usemem with half of its pages zero-filled (`fill=`), written, then read
# back (`read_back=True`, usemem's `-W`), then freed; on zram, then on an SSD.

# %%
# %matplotlib inline
import os
from itertools import pairwise

import pandas as pd

import vswap_nb
from vswap_nb import plot

SMALL = bool(os.environ.get("VSWAP_NB_SMALL"))
DESIGNS = ["classic", "swap_table", "vswap_v5", "vswap_v6"]
HALF_ZERO = {"zero": 0.5, "sequence": 0.5}
if SMALL:
    size, ram, dev_size = "48M", "64M", "256M"
else:
    size, ram, dev_size = "768M", "1G", "4G"
workload = vswap_nb.usemem(size, nr_tasks=2, read_back=True, fill=HALF_ZERO)
zram = vswap_nb.System(ram, swap=vswap_nb.Device("zram", dev_size), nr_cpus=2)
ssd = vswap_nb.System(ram, swap=vswap_nb.Device("ssd", dev_size), nr_cpus=2)
print(zram, zram.swap.synchronous, "\n", ssd, ssd.swap.synchronous)

# %%
on_zram = vswap_nb.compare(DESIGNS, workload, zram)
on_ssd = vswap_nb.compare(DESIGNS, workload, ssd)
COLS = ["swap_ra", "swap_ra_hit", "pgmajfault", "pswpin", "content_errors"]
table = pd.concat({"zram": on_zram[COLS].to_dataframe(), "ssd": on_ssd[COLS].to_dataframe()})
table["read time (ms)"] = pd.concat({
    "zram": on_zram.model_time.sel(phase="read").to_pandas(),
    "ssd": on_ssd.model_time.sel(phase="read").to_pandas(),
}) / 1e6
table.round(2)

# %% [markdown]
# **Finding.** On zram, `classic` and `swap_table` do no readahead at all on this
# workload (no page has a swap count above 1, so both read every fault directly),
# while `vswap_v5` and `vswap_v6` read ahead on a large share of the faults: their
# zero-filled pages have no device behind them (`swap_ra` 17807 and 17804 pages in
# the small run, 283512 and 283994 in the full one). On the SSD every design reads
# ahead the same amount, within 0.05% (about 21500 pages small, 344050 full): the
# device is asynchronous, so every fault takes readahead whatever the design. These
# findings are unchanged by issue 16's corrections.

# %%
ra_z = on_zram.swap_ra
ra_s = on_ssd.swap_ra
assert (on_zram.content_errors == 0).all() and (on_ssd.content_errors == 0).all()
assert int(ra_z.sel(design="classic")) == 0 and int(ra_z.sel(design="swap_table")) == 0
for d in ("vswap_v5", "vswap_v6"):
    assert int(ra_z.sel(design=d)) > 1000
    assert int(ra_z.sel(design=d)) >= 10 * max(int(ra_z.sel(design="classic")), 1)
assert int(ra_s.min()) > 0 and float(ra_s.max()) < 1.01 * float(ra_s.min())

# %%
plot.vmstat(on_zram, names=["swap_ra", "swap_ra_hit", "pgmajfault", "pswpin"])

# %% [markdown]
# Readahead is not wasted here: the read-back is sequential, so nearly every page read
# ahead is then found by a fault (`swap_ra_hit` / `swap_ra` above 0.999 at both
# sizes), and the virtual designs take fewer major faults than `classic` (6780 and
# 6784 against 24576 small, 109713 and 109224 against 393216 full). What the
# readahead costs in metadata work is the per-entry probe and cache add, counted under
# the `readahead` operation:

# %%
ra_prims = ["xa_lookup", "cluster_lock", "desc_read", "desc_write", "lookup_cache_hit",
            "table_read", "map_read", "memcg_charge"]
on_zram.counters.sel(op="readahead", primitive=ra_prims).to_pandas()

# %% [markdown]
# **Finding.** On zram only the virtual designs have readahead work at all; `vswap_v5`
# pays XArray lookups for the entries it probes (about 9 per page read ahead: 160690
# small, 2559855 full), `vswap_v6` finds nearly all of its clusters through its
# per-CPU lookup cache (its `xa_load`s are 0.3% of v5's).

# %%
hit = on_zram.swap_ra_hit / on_zram.swap_ra
for d in ("vswap_v5", "vswap_v6"):
    assert float(hit.sel(design=d)) > 0.95
    assert int(on_zram.pgmajfault.sel(design=d)) < int(on_zram.pgmajfault.sel(design="classic"))
xa_ra = on_zram.counters.sel(op="readahead", primitive="xa_lookup")
assert int(xa_ra.sel(design="classic")) == 0
assert int(xa_ra.sel(design="vswap_v5")) >= int(on_zram.swap_ra.sel(design="vswap_v5"))
assert int(xa_ra.sel(design="vswap_v6")) < 0.05 * int(xa_ra.sel(design="vswap_v5"))

# %% [markdown]
# ## It is the zero pages
#
# Sweep the share of zero-filled pages (`fill`, a workload parameter) on zram with
# `vswap_nb.sweep`: with no zero pages the virtual designs skip readahead on zram just
# as the baseline does, and their readahead grows with the share of zero pages.

# %%
FILLS = ["sequence", {"zero": 0.25, "sequence": 0.75}, HALF_ZERO, "zero"]
sw = vswap_nb.sweep(["classic", "vswap_v5", "vswap_v6"], workload, zram, over={"fill": FILLS})
ra_fill = sw.swap_ra.to_pandas()
ra_fill.columns = ["0% zero", "25% zero", "50% zero", "100% zero"]
ra_fill

# %% [markdown]
# **Finding.** `classic`'s `swap_ra` stays at zero at every zero-page share; the
# virtual designs do none without zero pages and more the more zero pages there are
# (`vswap_v5`: 0, 12663, 17807, 21494 pages small; 0, 201087, 283512, 344042 full).

# %%
assert (sw.swap_ra.sel(design="classic") == 0).all()
for d in ("vswap_v5", "vswap_v6"):
    row = ra_fill.loc[d].to_numpy()
    assert row[0] == 0 and all(a < b for a, b in pairwise(row)), (d, row)

# %%
plot.sweep_lines(sw.assign_coords(fill=ra_fill.columns.to_list()), "swap_ra", "fill")
