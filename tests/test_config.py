"""vswap_nb.mm.config (Device, Zswap, System) and vswap_nb.mm.cost (the cost table)."""
import json
import math

import numpy as np
import pytest

from vswap_nb.core.counters import N_PRIMITIVES, PRIMITIVES
from vswap_nb.mm import config as cfg
from vswap_nb.mm import cost as cm
from vswap_nb.mm.config import Device, System, Zswap, default_min_free_kbytes

G = 1 << 30
M = 1 << 20


def zram(size="64G", **kw):
    return Device("zram", size, **kw)


# --------------------------------------------------------------------------- Device


@pytest.mark.parametrize(
    "kind, sync, in_ram, dedup, rd, wr",
    [
        ("zram", True, True, True, 1500, 5000),
        ("pmem", True, False, False, 800, 1000),
        ("brd", True, False, False, 500, 600),
        ("ssd", False, False, False, 80_000, 20_000),
        ("hdd", False, False, False, 5_000_000, 5_000_000),
    ],
)
def test_device_kinds(kind, sync, in_ram, dedup, rd, wr):
    d = Device(kind, "1G")
    assert d.synchronous is sync  # brd/pmem/zram set BLK_FEAT_SYNCHRONOUS
    assert d.stores_in_ram is in_ram
    assert d.dedup_same_filled is dedup
    assert (d.read_ns, d.write_ns) == (rd, wr)
    assert d.nslots == G // 4096 - 1
    assert (d.ratio is not None) is (kind == "zram")


def test_device_overrides_and_repr():
    d = Device("SSD", 256 * G, read_ns=50_000, synchronous=True)
    assert d.kind == "ssd" and d.size == 256 * G and d.read_ns == 50_000.0
    assert d.synchronous is True
    assert repr(d) == "Device('ssd', '256G', read_ns=50000, synchronous=True)"
    assert repr(zram()) == "Device('zram', '64G')"
    assert Device("pmem", "1G", synchronous=False).synchronous is False
    z = zram(ratio={"sequence": 0.5})
    assert dict(z.ratio) == {"sequence": 0.5, "zero": 0.0, "same": 0.0}
    assert "ratio={'sequence': 0.5}" in repr(z)
    assert Device("zram", "64G") == Device("zram", 64 * G, synchronous=True, read_ns=1500)
    assert hash(zram()) == hash(Device("zram", 64 * G))
    assert Device("zram", "8K").nslots == 1  # two pages: the header and one slot


@pytest.mark.parametrize(
    "args, kw, exc, match",
    [
        ((3, "1G"), {}, TypeError, "kind"),
        (("nvme", "1G"), {}, ValueError, "kind='nvme'.*zram, pmem, brd, ssd, hdd"),
        (("zram", True), {}, TypeError, "size"),
        (("zram", "4K"), {}, ValueError, "size='4K' is below 8K.*two pages"),
        (("zram", 2**50 + 4096), {}, ValueError, "size.*above"),
        (("zram", "lots"), {}, ValueError, "size='lots' is not a size"),
        (("zram", "1G"), {"read_ns": True}, TypeError, "read_ns"),
        (("zram", "1G"), {"read_ns": "fast"}, TypeError, "read_ns"),
        (("zram", "1G"), {"read_ns": -1}, ValueError, "read_ns must be >= 0"),
        (("zram", "1G"), {"write_ns": float("nan")}, ValueError, "write_ns"),
        (("zram", "1G"), {"write_ns": float("inf")}, ValueError, "write_ns"),
        (("zram", "1G"), {"synchronous": 1}, TypeError, "synchronous"),
        (("ssd", "1G"), {"ratio": {"sequence": 0.3}}, ValueError, "ratio applies to zram only"),
        (("zram", "1G"), {"ratio": 0.3}, TypeError, "ratio"),
        (("zram", "1G"), {"ratio": {"text": 0.3}}, ValueError, "ratio.*'text'.*sequence"),
        (("zram", "1G"), {"ratio": {"sequence": 1.5}}, ValueError, r"ratio\['sequence'\]"),
        (("zram", "1G"), {"ratio": {"sequence": True}}, TypeError, r"ratio\['sequence'\]"),
        (("zram", "1G"), {"ratio": {"same": 0.01}}, ValueError, r"ratio\['same'\] must be 0"),
    ],
)
def test_device_errors(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        Device(*args, **kw)


def test_device_frozen():
    d = zram()
    with pytest.raises(AttributeError):
        d.size = 1


# --------------------------------------------------------------------------- Zswap


def test_zswap_defaults():
    z = Zswap()
    assert z.enabled and z.writeback and z.shrinker
    assert z.max_pool_percent == 20
    assert dict(z.ratio) == {"sequence": 0.30, "zero": 0.0, "same": 0.01}
    assert (z.compress_ns, z.decompress_ns) == (5000.0, 1500.0)
    assert repr(z) == "Zswap()"
    z2 = Zswap(max_pool_percent=12.5, ratio={"sequence": 0.4}, shrinker=False)
    assert repr(z2) == "Zswap(max_pool_percent=12.5, ratio={'sequence': 0.4}, shrinker=False)"
    assert dict(z2.ratio) == {"sequence": 0.4, "zero": 0.0, "same": 0.01}
    assert Zswap(writeback=False, shrinker=False).writeback is False
    # floor(ram_pages * percent / 100)
    assert Zswap().max_pool_pages(4_194_304) == 838_860  # 4194304 * 20 / 100 = 838860.8
    assert Zswap(max_pool_percent=12.5).max_pool_pages(1001) == 125  # 125.125


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        ({"enabled": 1}, TypeError, "enabled"),
        ({"max_pool_percent": 0}, ValueError, r"max_pool_percent must be in \(0, 100\]"),
        ({"max_pool_percent": 100.5}, ValueError, "max_pool_percent"),
        ({"max_pool_percent": float("nan")}, ValueError, "max_pool_percent"),
        ({"max_pool_percent": True}, TypeError, "max_pool_percent"),
        ({"max_pool_percent": "20"}, TypeError, "max_pool_percent"),
        ({"writeback": "yes"}, TypeError, "writeback"),
        ({"shrinker": None}, TypeError, "shrinker"),
        ({"writeback": False}, ValueError, "shrinker=True needs writeback=True"),
        ({"compress_ns": -5}, ValueError, "compress_ns"),
        ({"decompress_ns": False}, TypeError, "decompress_ns"),
        ({"ratio": {"sequence": -0.1}}, ValueError, "ratio"),
        ({"ratio": {"random": 0.5}}, ValueError, "ratio.*'random'"),
    ],
)
def test_zswap_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        Zswap(**kw)


# --------------------------------------------------------------------------- System


def test_system_basics_and_repr():
    s = System("16G", memory_max="4G", swap=zram(), zswap=True)
    assert s.ram == 16 * G and s.memory_max == 4 * G
    assert s.ram_pages == 4_194_304 and s.memory_max_pages == 1_048_576
    assert s.zswap == Zswap() and s.zswap_on
    assert repr(s) == "System('16G', memory_max='4G', swap=Device('zram', '64G'), zswap=Zswap())"
    s2 = System(32 * G, swap="ssd:128G", nr_cpus=32, page_cluster=0, kswapd=False)
    assert s2.swap == Device("ssd", "128G") and s2.zswap is None and s2.memory_max_pages is None
    assert repr(s2) == (
        "System('32G', nr_cpus=32, swap=Device('ssd', '128G'), page_cluster=0, kswapd=False)"
    )
    assert System("16G", swap=zram(), zswap=False).zswap is None
    assert System("16G", swap=zram(), zswap=np.bool_(True)).zswap == Zswap()
    # zswap in front of zram: allowed, people run it
    assert System("16G", swap=zram(), zswap=Zswap(max_pool_percent=10)).zswap_on
    # a disabled Zswap is kept but is off
    s3 = System("16G", swap=zram(), zswap=Zswap(enabled=False))
    assert not s3.zswap_on and s3.to_params()[cfg.P_ZSWAP_ON] == 0
    assert System("16G", memory_max="16G", swap=zram()).memory_max == 16 * G  # == ram is fine


@pytest.mark.parametrize(
    "args, kw, exc, match",
    [
        (("16G",), {}, ValueError, r"swap is required.*Device\('zram', '64G'\)"),
        (("16G",), {"swap": 64 * G}, TypeError, "swap must be a Device"),
        (("16G",), {"swap": "zram"}, ValueError, "swap='zram'.*KIND:SIZE"),
        (("32M",), {"swap": zram()}, ValueError, "ram='32M' is below 64M.*watermark"),
        ((True,), {"swap": zram()}, TypeError, "ram"),
        ((2**51,), {"swap": zram()}, ValueError, "ram.*above"),
        (("16G",), {"swap": zram(), "memory_max": "8M"}, ValueError, "memory_max='8M' is below 16M"),
        (("16G",), {"swap": zram(), "memory_max": "32G"}, ValueError,
         "memory_max above ram has no effect; drop it or lower it"),
        (("16G",), {"swap": zram(), "nr_cpus": 0}, ValueError, r"nr_cpus must be in \[1, 4096\]"),
        (("16G",), {"swap": zram(), "nr_cpus": 4097}, ValueError, "nr_cpus"),
        (("16G",), {"swap": zram(), "nr_cpus": True}, TypeError, "nr_cpus"),
        (("16G",), {"swap": zram(), "nr_cpus": 4.0}, TypeError, "nr_cpus"),
        (("16G",), {"swap": zram(), "zswap": "on"}, TypeError, "zswap must be None/False"),
        (("16G",), {"swap": zram(), "page_cluster": 32}, ValueError, r"page_cluster must be in \[0, 31\]"),
        (("16G",), {"swap": zram(), "page_cluster": -1}, ValueError, "page_cluster"),
        (("16G",), {"swap": zram(), "vma_readahead": 1}, TypeError, "vma_readahead"),
        (("16G",), {"swap": zram(), "swappiness": 201}, ValueError, r"swappiness must be in \[0, 200\]"),
        (("16G",), {"swap": zram(), "swappiness": False}, TypeError, "swappiness"),
        (("16G",), {"swap": zram(), "min_free_kbytes": -1}, ValueError, "min_free_kbytes"),
        (("16G",), {"swap": zram(), "min_free_kbytes": True}, TypeError, "min_free_kbytes"),
        (("64M",), {"swap": zram(), "min_free_kbytes": 65536}, ValueError,
         "min_free_kbytes=65536 puts the high watermark"),
        (("16G",), {"swap": zram(), "kswapd": "yes"}, TypeError, "kswapd"),
    ],
)
def test_system_errors(args, kw, exc, match):
    with pytest.raises(exc, match=match):
        System(*args, **kw)


def test_system_keyword_only():
    with pytest.raises(TypeError):
        System("16G", None, 4, zram())


def test_default_min_free_kbytes():
    # calculate_min_free_kbytes: clamp(int_sqrt(lowmem_kbytes * 16), 128, 262144)
    assert default_min_free_kbytes(16 * G) == 16384  # sqrt(16777216 * 16) = 16384 exactly
    assert default_min_free_kbytes(32 * G) == 23170  # isqrt(536870912) = 23170 (23171**2 too big)
    assert default_min_free_kbytes(64 * M) == 1024  # sqrt(65536 * 16) = 1024
    assert default_min_free_kbytes(512 << 10) == 128  # isqrt(512 * 16) = 90 -> clamped up to 128
    # above 4 TiB of lowmem (4294967296 KiB * 16 = 262144**2) the upper clamp applies
    assert default_min_free_kbytes(8 << 40) == 262144


def test_watermarks_16g():
    s = System("16G", swap=zram())
    # ram_pages = 16 GiB / 4 KiB = 4194304; lowmem_kbytes = 16777216
    # min_free_kbytes = int_sqrt(16777216 * 16) = int_sqrt(268435456) = 16384 (in [128, 262144])
    # min  = 16384 >> 2 = 4096 pages
    # gap  = max(4096 >> 2, 4194304 * 10 // 10000) = max(1024, 4194) = 4194
    # low  = 4096 + 4194 = 8290; high = 8290 + 4194 = 12484
    assert s.min_free_kbytes is None and s.min_free_kbytes_effective == 16384
    assert s.watermarks == (4096, 8290, 12484)


def test_watermarks_32g():
    s = System("32G", swap=zram())
    # ram_pages = 8388608; lowmem_kbytes = 33554432; * 16 = 536870912
    # int_sqrt(536870912) = 23170 (23170**2 = 536848900 <= 536870912 < 23171**2 = 536895241)
    # min  = 23170 >> 2 = 5792 pages
    # gap  = max(5792 >> 2, 8388608 * 10 // 10000) = max(1448, 8388) = 8388
    # low  = 5792 + 8388 = 14180; high = 14180 + 8388 = 22568
    assert s.min_free_kbytes_effective == 23170
    assert s.watermarks == (5792, 14180, 22568)


def test_watermarks_explicit_min_free_kbytes():
    # 1 GiB, min_free_kbytes 65536: min = 16384; gap = max(16384 >> 2 = 4096, 262144 * 10 // 10000
    # = 262) = 4096 (the min/4 floor wins on a small system); low = 20480; high = 24576
    s = System("1G", swap=zram(), min_free_kbytes=65536)
    assert s.watermarks == (16384, 20480, 24576)


def test_params_layout():
    expected = [
        "P_RAM_PAGES", "P_MEMCG_MAX_PAGES", "P_NR_CPUS", "P_WMARK_MIN", "P_WMARK_LOW",
        "P_WMARK_HIGH", "P_SWAP_SLOTS", "P_DEV_SYNC", "P_DEV_IN_RAM", "P_DEV_DEDUP_SAME",
        "P_DEV_READ_NS", "P_DEV_WRITE_NS", "P_ZSWAP_ON", "P_ZSWAP_MAX_POOL_PAGES",
        "P_ZSWAP_WRITEBACK", "P_ZSWAP_SHRINKER", "P_ZSWAP_COMPRESS_NS", "P_ZSWAP_DECOMPRESS_NS",
        "P_ZSWAP_RATIO_SEQ", "P_ZSWAP_RATIO_ZERO", "P_ZSWAP_RATIO_SAME", "P_ZRAM_RATIO_SEQ",
        "P_ZRAM_RATIO_ZERO", "P_ZRAM_RATIO_SAME", "P_PAGE_CLUSTER", "P_VMA_RA", "P_SWAPPINESS",
        "P_KSWAPD", "P_FAULT_SWAP_ALLOC", "P_FAULT_ZSWAP_REJECT", "P_FAULT_READAHEAD",
        "P_FAULT_ATOMIC_ALLOC", "P_MEMCG_CHARGES_ZSWAP", "P_THP_ORDERS", "P_MTHP_SWAPIN",
        "P_MEMCG_SWAP_MAX_PAGES",
    ]
    assert [getattr(cfg, n) for n in expected] == list(range(len(expected)))
    assert cfg.N_PARAMS == len(expected) == len(cfg.PARAM_NAMES)


def test_to_params_values():
    s = System("16G", memory_max="4G", swap=zram(), zswap=True, nr_cpus=8, swappiness=100)
    p = s.to_params()
    assert p.dtype == np.float64 and p.shape == (cfg.N_PARAMS,)
    want = {
        cfg.P_RAM_PAGES: 4_194_304, cfg.P_MEMCG_MAX_PAGES: 1_048_576, cfg.P_NR_CPUS: 8,
        cfg.P_WMARK_MIN: 4096, cfg.P_WMARK_LOW: 8290, cfg.P_WMARK_HIGH: 12484,
        cfg.P_SWAP_SLOTS: 64 * G // 4096 - 1, cfg.P_DEV_SYNC: 1, cfg.P_DEV_IN_RAM: 1,
        cfg.P_DEV_DEDUP_SAME: 1, cfg.P_DEV_READ_NS: 1500, cfg.P_DEV_WRITE_NS: 5000,
        cfg.P_ZSWAP_ON: 1, cfg.P_ZSWAP_MAX_POOL_PAGES: 838_860, cfg.P_ZSWAP_WRITEBACK: 1,
        cfg.P_ZSWAP_SHRINKER: 1, cfg.P_ZSWAP_COMPRESS_NS: 5000, cfg.P_ZSWAP_DECOMPRESS_NS: 1500,
        cfg.P_ZSWAP_RATIO_SEQ: 0.30, cfg.P_ZSWAP_RATIO_ZERO: 0.0, cfg.P_ZSWAP_RATIO_SAME: 0.01,
        cfg.P_ZRAM_RATIO_SEQ: 0.30, cfg.P_ZRAM_RATIO_ZERO: 0.0, cfg.P_ZRAM_RATIO_SAME: 0.0,
        cfg.P_PAGE_CLUSTER: 3, cfg.P_VMA_RA: 1, cfg.P_SWAPPINESS: 100, cfg.P_KSWAPD: 1,
        cfg.P_FAULT_SWAP_ALLOC: 0, cfg.P_FAULT_ZSWAP_REJECT: 0, cfg.P_FAULT_READAHEAD: 0,
        cfg.P_FAULT_ATOMIC_ALLOC: 0, cfg.P_MEMCG_CHARGES_ZSWAP: 1, cfg.P_THP_ORDERS: 0, cfg.P_MTHP_SWAPIN: 0,
        cfg.P_MEMCG_SWAP_MAX_PAGES: -1,
    }
    assert len(want) == cfg.N_PARAMS
    for i, v in want.items():
        assert p[i] == v, cfg.PARAM_NAMES[i]

    q = System("32G", swap="ssd:128G", vma_readahead=False, kswapd=False).to_params()
    assert q[cfg.P_MEMCG_MAX_PAGES] == -1
    assert q[cfg.P_DEV_SYNC] == 0 and q[cfg.P_DEV_IN_RAM] == 0 and q[cfg.P_DEV_DEDUP_SAME] == 0
    assert (q[cfg.P_DEV_READ_NS], q[cfg.P_DEV_WRITE_NS]) == (80_000, 20_000)
    assert q[cfg.P_ZSWAP_ON] == 0 and q[cfg.P_ZSWAP_MAX_POOL_PAGES] == 0
    assert q[cfg.P_ZRAM_RATIO_SEQ] == q[cfg.P_ZRAM_RATIO_ZERO] == q[cfg.P_ZRAM_RATIO_SAME] == 1.0
    assert q[cfg.P_VMA_RA] == 0 and q[cfg.P_KSWAPD] == 0
    assert q[cfg.P_WMARK_HIGH] == 22568
    assert System("1G", swap=zram(), cgroup_version=1).to_params()[cfg.P_MEMCG_CHARGES_ZSWAP] == 0


def test_dict_round_trip():
    systems = [
        System("16G", memory_max="4G", swap=zram(ratio={"sequence": 0.42}), zswap=True),
        System("32G", swap=Device("pmem", "48G", read_ns=700, synchronous=False),
               zswap=Zswap(max_pool_percent=12.5, writeback=False, shrinker=False,
                           ratio={"same": 0.02}),
               nr_cpus=52, page_cluster=5, vma_readahead=False, swappiness=200,
               min_free_kbytes=90112, kswapd=False),
        System("64M", swap="hdd:1G"),
    ]
    for s in systems:
        d = s.to_dict()
        back = System.from_dict(json.loads(json.dumps(d)))
        assert back == s and back.to_params().tolist() == s.to_params().tolist()
        assert Device.from_dict(json.loads(json.dumps(s.swap.to_dict()))) == s.swap
        if s.zswap is not None:
            assert Zswap.from_dict(json.loads(json.dumps(s.zswap.to_dict()))) == s.zswap
    with pytest.raises(ValueError, match="unknown keys.*'colour'"):
        System.from_dict({**systems[0].to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="needs 'ram'"):
        System.from_dict({"swap": zram().to_dict()})
    with pytest.raises(ValueError, match="Device dict has unknown keys"):
        Device.from_dict({"kind": "zram", "size": "1G", "speed": 3})
    with pytest.raises(ValueError, match="needs 'kind' and 'size'"):
        Device.from_dict({"kind": "zram"})
    with pytest.raises(ValueError, match="Zswap dict has unknown keys"):
        Zswap.from_dict({"pool": 3})
    with pytest.raises(TypeError, match="must be a dict"):
        System.from_dict([("ram", "16G")])


def test_parse_cli():
    s = System.parse_cli(ram="16G", memory_max="4G", swap="zram:64G", zswap=True, nr_cpus=4)
    assert s == System("16G", memory_max="4G", swap=Device("zram", "64G"), zswap=True)
    s = System.parse_cli("16G", memory_max="max", swap="PMEM:48G", zswap="off", nr_cpus="32",
                         page_cluster="0", vma_readahead="no", swappiness="100",
                         min_free_kbytes="none", kswapd="on")
    assert s == System("16G", swap=Device("pmem", "48G"), nr_cpus=32, page_cluster=0,
                       vma_readahead=False, swappiness=100)
    assert System.parse_cli("16G", swap="ssd:1T", zswap="yes").zswap == Zswap()
    assert System.parse_cli("16G", swap="ssd:1T", memory_max=None).memory_max is None
    assert System.parse_cli("16G", swap=Device("brd", "48G")).swap.kind == "brd"
    assert Device.parse("zram:64G") == Device("zram", "64G")


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        ({}, ValueError, "--swap is required.*--swap zram:64G"),
        ({"swap": "zram"}, ValueError, "--swap='zram'.*KIND:SIZE.*'zram:64G'"),
        ({"swap": "zram:"}, ValueError, "--swap='zram:'"),
        ({"swap": "nvme:64G"}, ValueError, "--swap='nvme:64G': unknown device kind 'nvme'"),
        ({"swap": "zram:huge"}, ValueError, "--swap size='huge' is not a size"),
        ({"swap": "zram:4K"}, ValueError, "--swap size='4K' is below"),
        ({"swap": 64}, TypeError, "--swap must be a Device"),
        ({"swap": "zram:64G", "ram": "8M"}, ValueError, "--ram='8M' is below 64M"),
        ({"swap": "zram:64G", "memory_max": "32G"}, ValueError,
         "--memory-max=32G is above --ram=16G: memory_max above ram has no effect"),
        ({"swap": "zram:64G", "nr_cpus": "many"}, ValueError, "--nr-cpus='many' is not a whole"),
        ({"swap": "zram:64G", "nr_cpus": "0"}, ValueError, r"--nr-cpus must be in \[1, 4096\]"),
        ({"swap": "zram:64G", "zswap": "maybe"}, ValueError, "--zswap='maybe' is not on/off"),
        ({"swap": "zram:64G", "page_cluster": "40"}, ValueError, "--page-cluster must be in"),
        ({"swap": "zram:64G", "swappiness": "300"}, ValueError, "--swappiness must be in"),
        ({"swap": "zram:64G", "vma_readahead": "sometimes"}, ValueError, "--vma-readahead"),
        ({"swap": "zram:64G", "min_free_kbytes": "-5"}, ValueError, "--min-free-kbytes"),
        ({"swap": "zram:64G", "kswapd": 2}, TypeError, "--kswapd"),
    ],
)
def test_parse_cli_errors(kw, exc, match):
    kw = {"ram": "16G", **kw}
    with pytest.raises(exc, match=match):
        System.parse_cli(**kw)


# --------------------------------------------------------------------------- cost


def test_cost_tables_cover_every_name():
    assert tuple(cm.DEFAULT_COST) == PRIMITIVES
    assert tuple(cm.MM_COST) == cm.MM_NAMES and len(cm.MM_NAMES) == cm.N_MM == 10
    for table in (cm.DEFAULT_COST, cm.MM_COST):
        for name, (ns, why) in table.items():
            assert isinstance(ns, float) and ns > 0 and math.isfinite(ns), name
            assert isinstance(why, str) and len(why) > 10, name
    order = ["M_FAULT", "M_PAGE_ALLOC", "M_PAGE_ZERO", "M_PAGE_TOUCH", "M_PAGE_FREE",
             "M_LRU_OP", "M_UNMAP_PTE", "M_PTE_ZAP", "M_RECLAIM_BATCH", "M_SAME_FILLED_CHECK"]
    assert [getattr(cm, n) for n in order] == list(range(10))
    assert [cm.MM_NAMES[getattr(cm, n)] for n in order] == [n[2:].lower() for n in order]


def test_cost_vectors_defaults_and_overrides():
    before = dict(cm.DEFAULT_COST), dict(cm.MM_COST)
    prim, mm = cm.cost_vectors()
    assert prim.dtype == np.float64 and prim.shape == (N_PRIMITIVES,)
    assert mm.dtype == np.float64 and mm.shape == (cm.N_MM,)
    assert prim.tolist() == [cm.DEFAULT_COST[n][0] for n in PRIMITIVES]
    assert mm.tolist() == [cm.MM_COST[n][0] for n in cm.MM_NAMES]
    assert prim[PRIMITIVES.index("table_read")] == 1.0
    assert mm[cm.M_FAULT] == 700.0

    p2, m2 = cm.cost_vectors({"xa_node_visit": 25, "fault": 1000.0, "cluster_lock": (7, "mine")})
    changed = np.flatnonzero(p2 != prim).tolist()
    assert changed == sorted([PRIMITIVES.index("xa_node_visit"), PRIMITIVES.index("cluster_lock")])
    assert p2[PRIMITIVES.index("xa_node_visit")] == 25 and p2[PRIMITIVES.index("cluster_lock")] == 7
    assert np.flatnonzero(m2 != mm).tolist() == [cm.M_FAULT] and m2[cm.M_FAULT] == 1000
    # the defaults themselves are accepted as an override
    p3, m3 = cm.cost_vectors({**cm.DEFAULT_COST, **cm.MM_COST})
    assert p3.tolist() == prim.tolist() and m3.tolist() == mm.tolist()
    # the module tables are not mutated
    assert (cm.DEFAULT_COST, cm.MM_COST) == before


@pytest.mark.parametrize(
    "cost, exc, match",
    [
        ({"xa_walk": 3}, ValueError, "unknown name 'xa_walk'.*xa_lookup.*fault"),
        ({"fault": -1}, ValueError, r"cost\['fault'\] must be a finite number"),
        ({"table_read": float("inf")}, ValueError, "table_read"),
        ({"table_read": float("nan")}, ValueError, "table_read"),
        ({"table_read": True}, TypeError, "table_read"),
        ({"table_read": "1ns"}, TypeError, "table_read"),
        ([("table_read", 1)], TypeError, "cost must be None, a dict"),
    ],
)
def test_cost_vectors_errors(cost, exc, match):
    with pytest.raises(exc, match=match):
        cm.cost_vectors(cost)


def test_cost_dict_round_trip():
    d = cm.cost_to_dict({"xa_lookup": 33.0, "page_zero": 400})
    assert set(d) == {"primitives", "mm"}
    assert list(d["primitives"]) == list(PRIMITIVES) and list(d["mm"]) == list(cm.MM_NAMES)
    back = cm.cost_from_dict(json.loads(json.dumps(d)))
    assert back["xa_lookup"] == 33.0 and back["page_zero"] == 400.0
    p, m = cm.cost_vectors(back)
    assert p[PRIMITIVES.index("xa_lookup")] == 33.0 and m[cm.M_PAGE_ZERO] == 400.0
    assert cm.cost_from_dict({"fault": 5}) == {"fault": 5.0}
    with pytest.raises(ValueError, match="unknown name"):
        cm.cost_from_dict({"primitives": {"nope": 1.0}})


def test_calibrate():
    c = cm.calibrate(repeat=1)
    assert set(c) == set(PRIMITIVES) | set(cm.MM_NAMES)
    for name in cm.CALIBRATED:
        assert math.isfinite(c[name]) and c[name] > 0, (name, c[name])
        assert c[name] < 10_000, (name, c[name])  # ns per op; anything near 10 us is broken
    for name in set(PRIMITIVES) - set(cm.CALIBRATED):
        assert c[name] == cm.DEFAULT_COST[name][0]
    prim, _ = cm.cost_vectors(c)
    assert prim[PRIMITIVES.index("xa_node_visit")] == c["xa_node_visit"]
    json.dumps(c)
    with pytest.raises(ValueError, match="repeat"):
        cm.calibrate(repeat=0)


def test_thp_orders_follow_the_kernel_modes():
    """always uses a size; inherit follows the top-level enabled; madvise and never do
    not (no workload madvises); 2M defaults to inherit, the others to never."""
    assert cfg.Thp().orders == (0,)
    assert cfg.Thp(enabled="always").orders == (9, 0)
    assert cfg.Thp({"64K": "always", "16K": "madvise"}).orders == (4, 0)
    assert cfg.Thp("64K=always,32K=inherit", enabled="always").orders == (9, 4, 3, 0)
    s = cfg.System("1G", swap="zram:1G", thp={"64K": "always"})
    p = s.to_params()
    assert p[cfg.P_THP_ORDERS] == 1 << 4 and p[cfg.P_MTHP_SWAPIN] == 1
    assert cfg.System("1G", swap="zram:1G", thp={"64K": "always"}, zswap=True).to_params()[cfg.P_MTHP_SWAPIN] == 0
    assert cfg.System("1G", swap="zram:1G", thp=cfg.Thp("64K=always", zswap_was_enabled=True)).to_params()[cfg.P_MTHP_SWAPIN] == 0
    assert cfg.System("1G", swap="zram:1G").to_params()[cfg.P_THP_ORDERS] == 0
    assert cfg.System.from_dict(s.to_dict()) == s


@pytest.mark.parametrize("bad, msg", [
    ({"sizes": {"48K": "always"}}, "no anonymous folio size '48K'"),
    ({"sizes": {"64K": "sometimes"}}, r"sizes\['64K'\] must be one of always, inherit, madvise, never"),
    ({"sizes": "64K"}, "write SIZE=MODE"),
    ({"enabled": "inherit"}, "enabled must be one of always, madvise, never"),
])
def test_thp_bad_input_names_the_argument(bad, msg):
    with pytest.raises(ValueError, match=msg):
        cfg.Thp(**bad)
    with pytest.raises(TypeError, match="thp must be None"):
        cfg.System("1G", swap="zram:1G", thp=3)
