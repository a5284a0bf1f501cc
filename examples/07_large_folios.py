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
# # Large folios: can each design still place them?
#
# With `System(thp=...)` a fault may allocate a large folio (16K to 2M), and reclaim
# swaps it out with one `alloc(order)` of the design: 2**order contiguous entries.
# When the design cannot place them, the mm splits the folio and swaps its pages out
# one by one (`swpout_fallback` in the kernel's per-size counters).  On a synchronous
# device (zram) with zswap never enabled, a fault may also swap a large folio back in
# whole, when the entries of its aligned range are consecutive and the design's
# swap-cache insert accepts the range (`swpin`, else `swpin_fallback` or order 0).
#
# The per-size counters are in `ds.mthp` (dims `order`, `mthp_stat`).  This notebook
# looks at swap-out on a fresh device (usemem), then at a device that fills and
# churns (`vswap_nb.churn`: regions read back in parts, punched full of holes of mixed
# lengths and alignments, and written again elsewhere, round after round), then at
# mTHP swap-in.
#
# A virtual design (`vswap_v5`, `vswap_v6`, `vswap_ste`) allocates its *virtual*
# entries at swap-out and a physical slot only at writeout; the last section shows
# what that does to the counters.

# %%
# %matplotlib inline
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import vswap_nb

SMALL = bool(os.environ.get("VSWAP_NB_SMALL"))
DESIGNS = list(vswap_nb.designs())
MIB = 1 << 20
if SMALL:
    usemem_size, churn_size, rounds = "64M", "32M", 8
else:
    usemem_size, churn_size, rounds = "512M", "256M", 16
THP_64K = {"64K": "always"}
THP_2M = {"2M": "always"}
THP_MIXED = {"16K": "always", "64K": "always"}


def large(ds, stat):
    """A per-size counter summed over the large orders (1..9)."""
    return ds.mthp.sel(order=slice(1, None), mthp_stat=stat).sum("order")


def fallback_rate(ds):
    """Share of the large folios reclaim tried to swap out that it had to split."""
    whole = large(ds, "swpout") + large(ds, "zswpout")
    split = large(ds, "swpout_fallback")
    return split / (whole + split)


# %% [markdown]
# ## Swap-out of 64K and 2M folios on a fresh device
#
# usemem, two tasks, three write passes (`repeat=3`: the later passes fault the pages
# back in and dirty them, so they are written out again) in a memcg of a quarter of
# what they write; the zram device holds what must be in swap with 4% to spare.  Once
# with 64K folios, once with 2M folios.

# %%
uw = vswap_nb.usemem(usemem_size, nr_tasks=2, repeat=3)
u_total = 2 * vswap_nb.parse_size(usemem_size)
u_need = u_total - u_total // 4
u_dev = u_need * 25 // 24 // MIB * MIB
swapout = {}
for name, thp, order in (("64K", THP_64K, 4), ("2M", THP_2M, 9)):
    s = vswap_nb.System("1G", memory_max=u_total // 4, swap=vswap_nb.Device("zram", u_dev), nr_cpus=2, thp=thp)
    ds = vswap_nb.compare(DESIGNS, uw, s)
    m = ds.mthp.sel(order=order).to_pandas()[["anon_fault_alloc", "swpout", "swpout_fallback", "split"]]
    m["swap_alloc_fail"] = ds.swap_alloc_fail.to_pandas()
    m["pswpout"] = ds.pswpout.to_pandas()
    swapout[name] = m
pd.concat(swapout, names=["folio", "design"])

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, (name, m) in zip(axes, swapout.items()):
    x = np.arange(len(m))
    ax.bar(x - 0.2, m["swpout"], 0.4, label="swapped out whole (swpout)")
    ax.bar(x + 0.2, m["swpout_fallback"], 0.4, label="split first (swpout_fallback)")
    ax.set_xticks(x, m.index, rotation=30)
    ax.set_title(f"{name} folios, usemem x3 passes")
    ax.set_ylabel("folios")
axes[0].legend(fontsize=8, loc="lower left")
fig.tight_layout()

# %% [markdown]
# The bars are folios: those reclaim swapped out whole and those it split because
# the design had no room for them.  **Finding.** Written in order, the device lets
# every design swap out its large folios whole, with what must be in swap at 96% of
# it: no 2M folio falls back in any design (16 small, 128 full), and 64K folios fall
# back once in `classic`, `swap_table` and `ghost` in the small run (the virtual
# designs count one `swap_alloc_fail` instead) and never in the full run (24576
# swapped out whole by every design).  In the small run `vswap_ste` swaps out 2047
# 64K folios whole against 3070 for the others, with as many pages written
# (`pswpout`) and no split.

# %%
for name, m in swapout.items():
    assert (m["swpout_fallback"] <= 1).all(), (name, m)
    assert (m["swpout"] > 0).all()
assert (swapout["2M"]["swpout_fallback"] == 0).all()
for d in ("vswap_v5", "vswap_v6", "vswap_ste"):
    assert swapout["64K"].loc[d, "swpout_fallback"] == 0

# %% [markdown]
# ## Fallbacks as the device fills
#
# `churn`: 4 tasks each keep a region mapped in a memcg of half of it all, so the
# other half is always in swap; each of `rounds` rounds reads back a quarter of the
# region (in ranges of 1 to 1023 pages), unmaps a quarter in holes of such ranges, and
# maps and writes a quarter at fresh addresses.  The sweep varies the zram device, so
# the half that must be in swap fills 70% to 90% of it; 64K folios alone, then 16K
# and 64K together (mixed orders).

# %%
cw = vswap_nb.churn(churn_size, nr_tasks=4, rounds=rounds)
c_total = 4 * vswap_nb.parse_size(churn_size)
c_need = c_total // 2
FILLS = [0.7, 0.75, 0.8, 0.85, 0.875, 0.9]
devices = [int(c_need / f) // MIB * MIB for f in FILLS]
fill_sweeps = {}
for name, thp in (("64K", THP_64K), ("16K+64K", THP_MIXED)):
    base = vswap_nb.System("1G", memory_max=c_need, swap=vswap_nb.Device("zram", devices[0]),
                           nr_cpus=4, thp=thp)
    sw = vswap_nb.sweep(DESIGNS, cw, base, over={"swap.size": devices})
    fill_sweeps[name] = sw.assign_coords({"swap.size": FILLS}).rename({"swap.size": "fill"})
rates = pd.concat({k: fallback_rate(sw).to_pandas() for k, sw in fill_sweeps.items()}, names=["thp", "design"])
rates.round(3)

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
for col, (name, sw) in enumerate(fill_sweeps.items()):
    r = fallback_rate(sw)
    for d in DESIGNS:
        axes[0, col].plot(FILLS, r.sel(design=d), marker="o", label=d)
        axes[1, col].plot(FILLS, sw.swap_alloc_fail.sel(design=d), marker="o", label=d)
    axes[0, col].set_title(f"{name} folios: swap-out fallback rate")
    axes[1, col].set_title(f"{name} folios: swap_alloc_fail")
    axes[1, col].set_xlabel("what must be in swap / device size")
    axes[1, col].set_yscale("symlog")
axes[0, 0].set_ylabel("split / (whole + split)")
axes[1, 0].set_ylabel("folios")
axes[0, 0].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# Top: the share of large folios that reclaim had to split, against how full the
# device is.  Bottom: `swap_alloc_fail`, the folios reclaim could get no slot for
# (symlog scale).  **Finding.** With 64K folios alone, `classic`, `swap_table` and
# `ghost` split none up to 85% full and about 1% at 90% (small 1.2%, full 0.8%).
# With 16K and 64K folios together they split from 75% full on, up to 36-37% (small)
# and 19-20% (full) at 90%.  `ghost` counts exactly as `swap_table` (no zswap, no
# zero pages here).  The virtual designs never split a folio for want of entries
# (their rate stays 0): their `swap_alloc_fail` grows with the fill instead, from 0
# to 60-114 (small) and 183-228 (full) at 90% with 64K folios, and to 1940-2646
# (small) and 7872-14201 (full) with 16K and 64K.  (A virtual design allocates its
# virtual entries whole; a folio whose physical slots it cannot allocate at writeout
# stays in memory, dirty, and is counted there.)

# %%
for name, sw in fill_sweeps.items():
    r = fallback_rate(sw)
    for d in ("vswap_v5", "vswap_v6", "vswap_ste"):
        assert float(r.sel(design=d).max()) == 0.0
        assert int(sw.swap_alloc_fail.sel(design=d, fill=0.9)) > 0
    for d in ("classic", "swap_table"):
        assert float(r.sel(design=d, fill=0.9)) > float(r.sel(design=d, fill=0.7))
    assert (sw.mthp.sel(design="ghost") == sw.mthp.sel(design="swap_table")).all()
mixed, only64 = fallback_rate(fill_sweeps["16K+64K"]), fallback_rate(fill_sweeps["64K"])
for d in ("classic", "swap_table"):
    assert float(mixed.sel(design=d, fill=0.9)) > float(only64.sel(design=d, fill=0.9))

# %% [markdown]
# ## Fallbacks as the device churns
#
# The same churn at 7/8 full, 64K and 16K folios, run for more and more rounds
# (`churn(..., rounds=k)` is the start of `rounds=k+1`, so each point adds rounds to
# the one before; the rate is over the whole run).

# %%
ROUNDS = [0, 1, 2, 4, 8] if SMALL else [0, 2, 4, 8, 16]
s78 = vswap_nb.System("1G", memory_max=c_need, swap=vswap_nb.Device("zram", c_need * 8 // 7 // MIB * MIB),
                      nr_cpus=4, thp=THP_MIXED)
by_rounds = vswap_nb.sweep(DESIGNS, cw, s78, over={"rounds": ROUNDS})
fallback_rate(by_rounds).to_pandas().round(3)

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
rr = fallback_rate(by_rounds)
for d in DESIGNS:
    ax.plot(ROUNDS, rr.sel(design=d), marker="o", label=d)
ax.set_xlabel("rounds of churn")
ax.set_ylabel("split / (whole + split)")
ax.set_title("16K+64K folios at 7/8 full")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# **Finding.** Written once (0 rounds), the regions leave nothing split, in every
# design.  With churn, `classic`, `swap_table` and `ghost` split more and more large
# folios: 0.16 of them after one round and 0.27-0.30 after 2 to 8 (small), 0.10-0.11
# after two rounds and 0.15 after 16 (full).  The virtual designs stay at 0.

# %%
for d in ("classic", "swap_table"):
    assert float(rr.sel(design=d, rounds=ROUNDS[-1])) > float(rr.sel(design=d, rounds=0))

# %% [markdown]
# ## mTHP swap-in: what each design's range checks do
#
# usemem with read-back (`read_back=True`: write, then read everything) of 64K folios
# on zram, zswap never enabled; all pages holding data, then half of them zero-filled.
# A fault swaps in a 64K folio when its aligned range is 16 consecutive swap entries
# (count 1 on the faulting one), all or none zero, the folio can be charged without
# reclaim (else `swpin_fallback`), and the design's swap-cache insert accepts the
# range (else order 0, uncounted).  Order-0 swap-ins are `pswpin` minus 16 per 64K
# swap-in.

# %%
swapin = {}
for name, fill in (("data", "sequence"), ("half zero", {"zero": 0.5, "sequence": 0.5})):
    rw = vswap_nb.usemem(usemem_size, nr_tasks=2, read_back=True, fill=fill)
    s = vswap_nb.System("1G", memory_max=u_total // 4, swap=vswap_nb.Device("zram", 2 * u_total), nr_cpus=2,
                        thp=THP_64K)
    ds = vswap_nb.compare(DESIGNS, rw, s)
    m = ds.mthp.sel(order=4)
    t = pd.DataFrame({
        "swpin": m.sel(mthp_stat="swpin").to_pandas(),
        "swpin_fallback": m.sel(mthp_stat="swpin_fallback").to_pandas(),
        "pswpin": ds.pswpin.to_pandas(),
        "swap_ra": ds.swap_ra.to_pandas(),
        "content_errors": ds.content_errors.to_pandas(),
    })
    t["order-0 swap-ins"] = t["pswpin"] - 16 * t["swpin"]
    swapin[name] = t
pd.concat(swapin, names=["pages", "design"])

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, (name, t) in zip(axes, swapin.items()):
    x = np.arange(len(t))
    ax.bar(x, 16 * t["swpin"], label="in 64K folios")
    ax.bar(x, t["order-0 swap-ins"], bottom=16 * t["swpin"], label="one page at a time")
    ax.set_xticks(x, t.index, rotation=30)
    ax.set_title(f"pages swapped in from the device ({name})")
axes[0].set_ylabel("pages")
axes[0].legend(fontsize=8, loc="lower left")
fig.tight_layout()

# %% [markdown]
# The bars split the pages read from the device into those swapped in as 64K folios
# and those swapped in one at a time.  **Finding.** With data in every page, every
# design swaps in the same 64K folios (1024 small, 8192 full) and the same pages one
# at a time; `vswap_v5` and `vswap_v6` count as many `swpin_fallback` as 64K
# swap-ins (1024, 8192), the others about a quarter (`classic` 287 and 2079).  With
# half the pages zero-filled, `classic`, `swap_table` and `ghost` swap in as many 64K
# folios as with data and read nothing ahead, while the virtual designs swap in fewer
# (458 small, 3701 full) and read ahead (`swap_ra` 9440, 74564), as notebook 04 found
# for their zero-filled entries, which are not on the synchronous device.

# %%
data, half = swapin["data"], swapin["half zero"]
assert (data["content_errors"] == 0).all() and (half["content_errors"] == 0).all()
assert data["swpin"].nunique() == 1 and data["order-0 swap-ins"].nunique() == 1
for d in ("vswap_v5", "vswap_v6"):
    assert data.loc[d, "swpin_fallback"] > data.loc["classic", "swpin_fallback"]
for d in ("classic", "swap_table", "ghost"):
    assert half.loc[d, "swpin"] == data.loc[d, "swpin"] and half.loc[d, "swap_ra"] == 0
for d in ("vswap_v5", "vswap_v6", "vswap_ste"):
    assert half.loc[d, "swpin"] < half.loc["classic", "swpin"] and half.loc[d, "swap_ra"] > 0
