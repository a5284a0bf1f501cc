"""What this machine offers for ground-truth runs, read without changing anything, and
the checks a ``kernel`` run must pass before it starts.

:func:`probe` reads the machine (root, kernel release, CPUs, RAM, where the memory
controller is and which cgroup version it is on, zram, zswap, loop devices, brd, THP,
MGLRU, the tools the runner uses, the swap devices already active, the reclaim and
readahead settings).  :func:`check_request` turns a System, a Workload and the
``kernel`` design's options into the reasons the run cannot happen here: a
:class:`KernelUnavailable` for what the machine lacks (each reason names the missing
piece and what to do), a ValueError for what the request asks that a real kernel cannot
do (injected faults, no kswapd, ...).  Both are raised before anything on the machine
changes.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
from dataclasses import asdict, dataclass, field

import numpy as np

from ..core.units import PAGE_SIZE, format_size, parse_size
from ..mm.config import DEVICE_DEFAULTS, THP_SIZES, Device, System, Thp

__all__ = [
    "DEVICE_SIZE", "KernelError", "KernelUnavailable", "Machine", "check_request", "machine_system", "mm_cgroups", "probe",
    "state_dir", "thp_problems", "thp_settings",
]

SYS = pathlib.Path("/sys")
PROC = pathlib.Path("/proc")
THP_DIR = SYS / "kernel" / "mm" / "transparent_hugepage"
THP_DEFRAG = "madvise"  # the model's large-folio allocation (GFP_TRANSHUGE_LIGHT) assumes it
PREFIX = "vswap_nb-"  # every cgroup, file and journal this package makes starts with it
ADDRESS_SPACE_MAX = 1 << 46  # bytes one helper process reserves at most (64 TiB)
DEVICE_SIZE = "512M"  # the swap device of the validation and calibration cases


def state_dir() -> pathlib.Path:
    """Where kernel runs keep their journal, lock and helper (``$VSWAP_NB_KERNEL_STATE``,
    default /run/vswap_nb)."""
    return pathlib.Path(os.environ.get("VSWAP_NB_KERNEL_STATE", "/run/vswap_nb"))


class KernelError(RuntimeError):
    """A ``kernel`` run failed on the machine (the machine is restored before this is
    raised).  ``results`` holds what was measured before the failure, if anything."""

    results = None


class KernelUnavailable(KernelError):
    """This machine cannot run ``kernel``: not root, no memory controller, no zram, ...
    The message names each missing piece and what to do."""


def _read(path, default=None):
    try:
        return pathlib.Path(path).read_text().strip()
    except OSError:
        return default


def _selected(text):
    """The bracketed choice of a sysfs list such as ``always [madvise] never``."""
    if text is None:
        return None
    m = re.search(r"\[([^\]]+)\]", text)
    return m.group(1) if m else text


@dataclass(frozen=True)
class Machine:
    """The machine as :func:`probe` read it (``to_dict()`` for Dataset attributes)."""

    root: bool
    release: str
    cpus: int
    ram: int  # MemTotal, bytes
    mem_available: int  # MemAvailable, bytes
    boot_id: str
    cgroup_version: int | None  # of the memory controller; None: none mounted
    cgroup_root: str | None  # the memory controller's root directory
    cgroup_problem: str | None  # why runs cannot use it, if they cannot
    zram: bool  # /sys/class/zram-control (new devices by hot_add)
    zram_comp: str | None  # zram's default compressor
    zswap: dict | None  # zswap's module parameters; None: no zswap in this kernel
    zswap_ever_enabled: str
    loop: bool
    brd: str  # "absent", "loadable" or "loaded"
    thp: dict = field(default_factory=dict)  # "enabled", "defrag" and each "hugepages-<size>kB"
    mglru: str | None = None
    tools: dict = field(default_factory=dict)  # name -> path (None: not found)
    swaps: tuple = ()  # swap devices active now
    page_cluster: int | None = None
    vma_ra_enabled: bool | None = None
    swappiness: int | None = None
    min_free_kbytes: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["swaps"] = list(self.swaps)
        return d


def _meminfo() -> dict:
    out = {}
    for line in (_read(PROC / "meminfo", "") or "").splitlines():
        k, _, v = line.partition(":")
        parts = v.split()
        if parts and parts[0].isdigit():
            out[k] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return out


def _memory_controller():
    """(version, root directory, problem) of the memory cgroup controller."""
    v2 = None
    for line in (_read(PROC / "self" / "mounts", "") or "").splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mnt, fstype, opts = parts[1], parts[2], parts[3].split(",")
        if fstype == "cgroup" and "memory" in opts:
            return 1, mnt, None  # a controller lives on one hierarchy only
        if fstype == "cgroup2" and v2 is None:
            v2 = mnt
    if v2 is None:
        return None, None, "no memory cgroup controller is mounted (neither cgroup v1 'memory' nor cgroup2)"
    controllers = (_read(pathlib.Path(v2) / "cgroup.controllers", "") or "").split()
    if "memory" not in controllers:
        return None, None, (
            f"the memory controller is not available: it is not mounted as cgroup v1 and "
            f"{v2}/cgroup.controllers does not list it"
        )
    subtree = (_read(pathlib.Path(v2) / "cgroup.subtree_control", "") or "").split()
    if "memory" not in subtree:
        return 2, v2, (
            f"{v2}/cgroup.subtree_control does not enable 'memory' for child cgroups; "
            f"vswap_nb does not change cgroups it did not create: run "
            f"`echo +memory > {v2}/cgroup.subtree_control` yourself"
        )
    return 2, v2, None


def _swaps() -> tuple:
    lines = (_read(PROC / "swaps", "") or "").splitlines()[1:]
    return tuple(line.split()[0] for line in lines if line.split())


def _zswap_ever_enabled(params, cmdline, state_dir, boot_id) -> str:
    if params is None:
        return "no (this kernel has no zswap)"
    if params.get("enabled") in ("Y", "1"):
        return "yes (zswap is enabled now)"
    if re.search(r"\bzswap\.enabled=(1|y|Y)\b", cmdline or ""):
        return "yes (kernel command line)"
    marker = _read(pathlib.Path(state_dir) / "zswap-enabled")
    if marker and marker.split()[0] == boot_id:
        return f"yes (a vswap_nb run enabled it this boot, at {' '.join(marker.split()[1:])})"
    return "no evidence (no vswap_nb run enabled it this boot; another program may have)"


def _brd(release) -> str:
    if (SYS / "module" / "brd").exists():
        return "loaded"
    mods = pathlib.Path("/lib/modules") / release
    if shutil.which("modprobe") and mods.is_dir() and any(mods.rglob("brd.ko*")):
        return "loadable"
    return "absent"


def _thp() -> dict:
    """The anonymous THP controls: ``enabled``, ``defrag`` and each size's ``enabled``
    (``hugepages-<size>kB``), as their selected values."""
    out = {}
    for name in ("enabled", "defrag"):
        sel = _selected(_read(THP_DIR / name))
        if sel is not None:
            out[name] = sel
    if THP_DIR.is_dir():
        for d in sorted(THP_DIR.glob("hugepages-*kB"), key=lambda p: int(p.name[10:-2])):
            v = _selected(_read(d / "enabled"))
            if v is not None:  # sizes only shmem or file THP can use have no "enabled"
                out[d.name] = v
    return out


def _size_dir(size: str) -> str:
    """``hugepages-64kB`` for the Thp size ``"64K"``."""
    return f"hugepages-{parse_size(size) // 1024}kB"


def thp_settings(m: Machine, thp) -> list:
    """The THP values a run of ``thp`` (a :class:`~vswap_nb.mm.config.Thp`) sets, as
    ``(name, path, value)``: the top-level ``enabled``, ``defrag`` (always
    :data:`THP_DEFRAG`) and ``hugepages-<size>kB/enabled`` of every size the machine has
    (:func:`check_request` refuses a size it lacks that the Thp would use)."""
    out = [("enabled", THP_DIR / "enabled", thp.enabled), ("defrag", THP_DIR / "defrag", THP_DEFRAG)]
    for size, mode in thp.sizes.items():
        d = _size_dir(size)
        if d in m.thp:
            out.append((d, THP_DIR / d / "enabled", mode))
    return out


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def probe(sdir=None) -> Machine:
    """Read what this machine offers for ``kernel`` runs (nothing is changed); ``sdir``
    is the state directory (default :func:`state_dir`)."""
    release = os.uname().release
    mi = _meminfo()
    version, root, problem = _memory_controller()
    zparams = None
    zdir = SYS / "module" / "zswap" / "parameters"
    if zdir.is_dir():
        zparams = {p.name: _read(p) for p in sorted(zdir.iterdir())}
    boot_id = _read(PROC / "sys" / "kernel" / "random" / "boot_id", "")
    lru_gen = _read(SYS / "kernel" / "mm" / "lru_gen" / "enabled")
    vma_ra = _read(SYS / "kernel" / "mm" / "swap" / "vma_ra_enabled")
    return Machine(
        root=os.geteuid() == 0,
        release=release,
        cpus=os.cpu_count() or 1,
        ram=mi.get("MemTotal", 0),
        mem_available=mi.get("MemAvailable", 0),
        boot_id=boot_id,
        cgroup_version=version,
        cgroup_root=root,
        cgroup_problem=problem,
        zram=(SYS / "class" / "zram-control" / "hot_add").exists(),
        zram_comp=_selected(_read(SYS / "block" / "zram0" / "comp_algorithm")),
        zswap=zparams,
        zswap_ever_enabled=_zswap_ever_enabled(
            zparams, _read(PROC / "cmdline", ""), sdir or state_dir(), boot_id
        ),
        loop=pathlib.Path("/dev/loop-control").exists(),
        brd=_brd(release),
        thp=_thp(),
        mglru=lru_gen,
        tools={t: shutil.which(t) for t in ("mkswap", "losetup", "cc", "modprobe", "rmmod")},
        swaps=_swaps(),
        page_cluster=_int(_read(PROC / "sys" / "vm" / "page-cluster")),
        vma_ra_enabled=None if vma_ra is None else vma_ra in ("true", "1", "Y"),
        swappiness=_int(_read(PROC / "sys" / "vm" / "swappiness")),
        min_free_kbytes=_int(_read(PROC / "sys" / "vm" / "min_free_kbytes")),
    )


# --------------------------------------------------------------------------- checks


def machine_problems(m: Machine, device_kind: str | None = None, zswap: bool = False, ours=()) -> list:
    """What this machine lacks for a run on a ``device_kind`` device (None: for any
    run), as sentences naming the missing piece and what to do.  ``ours`` lists swap
    devices a killed earlier run left behind (the next run removes them)."""
    out = []
    if not m.root:
        out.append(
            "not root: kernel runs create a cgroup and a swap device and set sysfs values; "
            "run as root (e.g. sudo) or use the model's designs"
        )
    if m.cgroup_problem:
        out.append(m.cgroup_problem)
    if not m.tools.get("cc"):
        out.append("no C compiler (cc): the page-touching helper is built on first use; install gcc")
    if not m.tools.get("mkswap"):
        out.append("no mkswap: install util-linux")
    foreign = [s for s in m.swaps if s not in ours]
    if foreign:
        out.append(
            f"swap is already active on this machine ({', '.join(foreign)}): a run would swap "
            f"to it too, and vswap_nb does not touch swap it did not create; swapoff it first"
        )
    if device_kind == "zram" and not m.zram:
        out.append(
            "no zram: /sys/class/zram-control is missing (zram not built in or not loaded); "
            "modprobe zram, or use an ssd/hdd device (a loop device)"
        )
    if device_kind in ("ssd", "hdd"):
        if not m.loop:
            out.append("no loop devices (/dev/loop-control missing): modprobe loop, or use zram")
        if not m.tools.get("losetup"):
            out.append("no losetup: install util-linux")
    if device_kind in ("pmem", "brd"):
        if m.brd == "absent":
            out.append(
                f"a {device_kind} device is a brd ramdisk here, and this kernel has no brd module "
                f"(not built in, nothing under /lib/modules/{m.release}); use zram or ssd/hdd"
            )
        elif m.brd == "loaded":
            out.append(
                f"a {device_kind} device is a brd ramdisk here, but brd is already loaded and its "
                f"ramdisks are not vswap_nb's to use; rmmod brd first, or use zram or ssd/hdd"
            )
        elif not m.tools.get("rmmod"):
            out.append("no rmmod to unload brd after the run: install kmod")
    if zswap and m.zswap is None:
        out.append("this kernel has no zswap (/sys/module/zswap missing); run without zswap")
    return out


def thp_problems(m: Machine, thp) -> list:
    """What this machine lacks for a run with large folios ``thp`` (a Thp; None: nothing
    is needed), as sentences naming the missing piece and what to do."""
    if thp is None:
        return []
    if "enabled" not in m.thp:
        return [
            f"this kernel has no transparent huge pages ({THP_DIR}/enabled is missing), so it "
            f"cannot fault large folios: run with thp=None (order-0 folios only)"
        ]
    out = []
    if "defrag" not in m.thp:
        out.append(
            f"{THP_DIR}/defrag is missing, and the model assumes defrag={THP_DEFRAG!r}; run with "
            f"thp=None on this kernel"
        )
    have = [k[10:] for k in m.thp if k.startswith("hugepages-")]
    for size, mode in thp.sizes.items():
        d = _size_dir(size)
        if d not in m.thp and THP_SIZES[size] in thp.orders:
            out.append(
                f"the System's thp uses {size} folios (sizes[{size!r}]={mode!r}), but this kernel "
                f"has no {THP_DIR}/{d}/enabled (its anonymous sizes: {', '.join(have) or 'none'}); "
                f"set that size to 'never' in Thp(...)"
            )
    return out


def _check_thp_zswap(m: Machine, system) -> None:
    """The model swaps large folios in whole only if zswap was never enabled since boot
    (the kernel's ``zswap_never_enabled()``); the System must say what this machine is."""
    thp = system.thp
    if thp is None:
        return
    if m.zswap_ever_enabled.startswith("yes") and not thp.zswap_was_enabled and not system.zswap_on:
        raise ValueError(
            f"zswap was enabled on this machine since boot ({m.zswap_ever_enabled}), so the kernel "
            f"swaps every large folio in as order-0 pages until the next reboot "
            f"(zswap_never_enabled() is false), and the System's thp says it never was: pass "
            f"System(..., thp=Thp(..., zswap_was_enabled=True)) so that the model does the same"
        )
    if m.zswap is None and thp.zswap_was_enabled:
        raise ValueError(
            "this kernel has no zswap, so zswap_never_enabled() is true and large folios are "
            "swapped in whole, but the System's thp says zswap_was_enabled=True: drop "
            "zswap_was_enabled from Thp(...)"
        )


def mm_cgroups(workload):
    """The memory cgroup of each address space (mm) of ``workload``, an int64 array
    indexed by mm: the cgroup its tasks are in (``workload.task_memcg``; a Workload
    keeps every task of an mm in one cgroup), which the mm's helper process joins."""
    out = np.zeros(workload.nmm, dtype=np.int64)
    out[workload.task_mm] = workload.task_memcg
    return out


def check_request(m: Machine, system, workload, options: dict, ours=()) -> None:
    """Raise if ``workload`` on ``system`` cannot run on this machine's kernel: a
    ValueError for what a real kernel cannot do or what would be unsafe here, then a
    KernelUnavailable listing everything the machine lacks."""
    kind = system.swap.kind
    zswap = system.zswap_on
    # what a real kernel cannot be asked to do
    if system.faults is not None:
        raise ValueError(
            "the kernel design cannot inject faults (System faults=...): a real kernel fails "
            "when it fails; drop faults for kernel runs"
        )
    if not system.kswapd:
        raise ValueError("the kernel design cannot run without kswapd (System kswapd=False); drop it")
    if system.min_free_kbytes is not None:
        raise ValueError(
            "the kernel design leaves vm.min_free_kbytes as the machine has it (it shapes the "
            "whole machine's reclaim); drop min_free_kbytes for kernel runs"
        )
    if system.swap.synchronous != DEVICE_DEFAULTS[kind][0]:
        raise ValueError(
            f"the kernel design cannot change whether a {kind} device is SWP_SYNCHRONOUS_IO "
            f"(the driver decides); drop synchronous= from the Device"
        )
    if zswap:
        z = system.zswap
        if not z.shrinker and z.writeback:
            raise ValueError(
                "the kernel's zswap shrink worker always runs when writeback is allowed; "
                "Zswap(shrinker=False) is a what-if of the model only (use writeback=False "
                "on cgroup v2 to stop writeback)"
            )
        if z.max_pool_percent != int(z.max_pool_percent):
            raise ValueError(
                f"zswap max_pool_percent={z.max_pool_percent} is not a whole number, which is all "
                f"the kernel parameter takes"
            )
    if system.memory_max is None and not options.get("allow_global_pressure"):
        raise ValueError(
            "a kernel run needs memory_max (the workload's cgroup limit), so that only the "
            "workload is pushed into reclaim; global pressure on a shared machine hurts "
            "everything else on it.  Give memory_max, or opt in with the kernel option "
            "allow_global_pressure=True (--option kernel:allow_global_pressure=on)"
        )
    if workload.nmm and int(workload.mm_pages.max()) * PAGE_SIZE > ADDRESS_SPACE_MAX:
        raise ValueError(
            f"an address space of the workload spans {format_size(int(workload.mm_pages.max()) * PAGE_SIZE)}; "
            f"the kernel runner reserves at most {format_size(ADDRESS_SPACE_MAX)} per process"
        )
    # the machine
    problems = machine_problems(m, kind, zswap, ours) + thp_problems(m, system.thp)
    if m.root and m.cgroup_version is not None and m.cgroup_problem is None:
        if system.cgroup_version != m.cgroup_version:
            raise ValueError(
                f"this machine's memory controller is cgroup v{m.cgroup_version}, but the System "
                f"says cgroup_version={system.cgroup_version}; the two charge zswap differently "
                f"(v2 charges the pool to the cgroup, v1 does not), so the model would not be "
                f"comparable: pass System(..., cgroup_version={m.cgroup_version}) "
                f"(--cgroup-version {m.cgroup_version})"
            )
        if zswap and not system.zswap.writeback and m.cgroup_version == 1:
            problems.append(
                "zswap writeback=False needs memory.zswap.writeback, which cgroup v1 does not have; "
                "run with writeback, or on a cgroup v2 machine"
            )
    _check_thp_zswap(m, system)
    if system.nr_cpus > m.cpus:
        raise ValueError(
            f"nr_cpus={system.nr_cpus} is more than this machine's {m.cpus} CPUs; the kernel "
            f"design runs on the real machine, so use nr_cpus <= {m.cpus}"
        )
    if system.ram > m.ram:
        raise ValueError(
            f"ram={format_size(system.ram)} is more than this machine's {format_size(m.ram)}; "
            f"model a machine no larger than this one (a memory_max makes the pressure)"
        )
    avail = m.mem_available
    ncg = workload.nmemcg
    held = (system.memory_max or 0) * ncg + (system.swap.size if kind in ("zram", "pmem", "brd") else 0)
    if avail and held > avail * 3 // 4:
        each = f"memory_max of each of the {ncg} cgroups" if ncg > 1 else "memory_max"
        raise ValueError(
            f"{each} plus the RAM-backed {kind} device ({format_size(held)}) is more than "
            f"three quarters of this machine's available memory ({format_size(avail)}): the "
            f"run could push the whole machine into reclaim; use a smaller memory_max or device"
        )
    if kind in ("ssd", "hdd"):
        d = options.get("swap_dir") or DEFAULT_SWAP_DIR
        p = pathlib.Path(d)
        if not p.is_dir():
            raise ValueError(f"swap_dir={d!r} is not a directory; give an existing directory for the loop device's file")
        st = os.statvfs(p)
        free = st.f_bavail * st.f_frsize
        if free < system.swap.size:
            raise ValueError(
                f"swap_dir={d!r} has {format_size(free)} free, less than the {format_size(system.swap.size)} "
                f"swap device (its file is sparse, but a full device writes all of it); use a smaller "
                f"device or another directory"
            )
        if _fstype(p) in ("tmpfs", "ramfs"):
            raise ValueError(
                f"swap_dir={d!r} is on {_fstype(p)}, which lives in RAM: the device would not be a "
                f"disk; choose a directory on a real file system (kernel option swap_dir)"
            )
    if problems:
        raise KernelUnavailable(
            "the kernel design cannot run on this machine:\n  - " + "\n  - ".join(problems)
        )


DEFAULT_SWAP_DIR = "/var/tmp"
_ANY_THP = Thp()  # the defaults: what describe() checks the machine's THP controls with


def _fstype(path: pathlib.Path) -> str | None:
    """The file system type of the mount holding ``path``."""
    best, kind = "", None
    path = str(path.resolve())
    for line in (_read(PROC / "self" / "mounts", "") or "").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = parts[1]
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
            best, kind = mnt, parts[2]
    return kind


def describe(m: Machine) -> list:
    """Lines for ``vswap-nb kernel-info``: what the machine offers and what kernel runs
    can and cannot do here."""
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    lines = [
        f"kernel          {m.release}",
        f"root            {yes(m.root)}",
        f"CPUs, RAM       {m.cpus}, {m.ram / 2**30:.1f} GiB ({m.mem_available / 2**30:.1f} GiB available)",
        "memory cgroup   "
        + (f"v{m.cgroup_version} at {m.cgroup_root}" if m.cgroup_version else "none")
        + (f" ({m.cgroup_problem})" if m.cgroup_problem else ""),
        f"zram            {'yes (new devices by hot_add)' if m.zram else 'no'}"
        + (f", compressor {m.zram_comp}" if m.zram and m.zram_comp else ""),
        "zswap           "
        + (
            "not in this kernel"
            if m.zswap is None
            else ", ".join(f"{k}={v}" for k, v in m.zswap.items())
        ),
        f"zswap ever on   {m.zswap_ever_enabled}"
        + ("  (so mTHP swap-in is off until reboot)" if m.zswap_ever_enabled.startswith("yes") else ""),
        f"loop devices    {yes(m.loop)}",
        f"brd (pmem/brd)  {m.brd}",
        "THP             " + ", ".join(f"{k}={v}" for k, v in m.thp.items()),
        f"MGLRU           {m.mglru if m.mglru is not None else 'not in this kernel (classic LRU)'}",
        f"swap active     {', '.join(m.swaps) if m.swaps else 'none'}",
        f"sysctls         page-cluster={m.page_cluster}, vma_ra_enabled={m.vma_ra_enabled}, "
        f"swappiness={m.swappiness}, min_free_kbytes={m.min_free_kbytes}",
        "tools           " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in m.tools.items()),
        "",
        "kernel runs here:",
    ]
    for kind in ("zram", "ssd", "hdd", "pmem", "brd"):
        p = machine_problems(m, kind)
        lines.append(f"  swap {kind:<5} " + ("can run" if not p else "cannot: " + "; ".join(p)))
    zp = machine_problems(m, None, True)
    lines.append("  zswap      " + ("can run" if not zp else "cannot: " + "; ".join(zp)))
    tp = thp_problems(m, _ANY_THP)
    if tp:
        lines.append("  THP        cannot: " + "; ".join(tp))
    else:
        if m.zswap_ever_enabled.startswith("yes"):
            swapin = "mTHP swap-in off until reboot: give Thp(..., zswap_was_enabled=True)"
        elif m.zswap is None:
            swapin = "no zswap, so mTHP swap-in is on: Thp(zswap_was_enabled=False)"
        else:
            swapin = "mTHP swap-in on unless another program enabled zswap: Thp(zswap_was_enabled=False)"
        lines.append(
            "  THP        can run (System thp=Thp(...): enabled, defrag=madvise and each "
            f"hugepages-<size>kB/enabled set for the run and put back; {swapin})"
        )
    lines.append(
        "  always     in memory cgroups (one per cgroup of the workload, memory_max each), one run "
        "at a time; without System thp, THP off for the workload (PR_SET_THP_DISABLE, order-0 "
        "folios) and no THP value touched"
    )
    lines.append(
        "  never      fault injection, kswapd off, another min_free_kbytes, or more CPUs/RAM "
        "than this machine has"
    )
    return lines


def machine_system(machine, kind: str, zswap: bool, memory_max: str) -> System:
    """A System describing ``machine`` (its RAM, CPUs and cgroup version) with a
    ``DEVICE_SIZE`` swap device of ``kind``: what a validation or calibration case runs
    on, on both sides (the kernel and the model)."""
    return System(
        (machine.ram >> 20) << 20,
        memory_max=memory_max,
        swap=Device(kind, DEVICE_SIZE),
        nr_cpus=machine.cpus,
        zswap=zswap,
        cgroup_version=machine.cgroup_version or 2,
    )
