"""Everything a ``kernel`` run changes on the machine, and how it is put back.

Rules (they hold on every path out of a run):

* **Only what we made.**  A run creates its own memory cgroups (one per cgroup of the
  workload and repetition), its own swap device (a zram device from ``hot_add``, a
  loop device over a sparse file of ours, or a brd ramdisk it loaded) and changes
  sysfs/sysctl values after recording what they were.
  It never touches a swap device, cgroup, loop device or value it did not create or
  set; if swap is already active on the machine it refuses to run.
* **One run at a time.**  A machine-wide lock (``flock`` on ``<state>/lock``; the
  kernel drops it when the holder dies, even by SIGKILL) serialises runs from any
  process: pytest-xdist workers, dask workers, two shells.
* **A journal before every change.**  Each change is appended to
  ``<state>/journal.jsonl`` (and fsync'd) *before* it is made, with what undoes it
  (the old value of a setting, the cgroup's path, the zram id, the loop device and its
  file).  Teardown undoes the journal in reverse and deletes it.  A journal found when
  the lock is taken belongs to a run that was killed (SIGKILL, power loss): the new run
  undoes it first and says so (a :class:`KernelCleanupWarning`).  The journal's
  ``boot_id`` tells whether the machine rebooted since; then only files are left to
  remove.  Names carry the prefix ``vswap_nb-``, so leftovers a journal missed
  (a cgroup or a loop device's file) are found by name as well.
* **Signals.**  A run turns SIGTERM into an exception in the main thread, so the same
  teardown runs as on an error or a KeyboardInterrupt; teardown itself runs with SIGINT
  and SIGTERM blocked, and a signal that arrives meanwhile is delivered after it.

The state directory is ``/run/vswap_nb`` (``$VSWAP_NB_KERNEL_STATE`` overrides it).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time
import warnings

from .machine import PREFIX, KernelError, KernelUnavailable, _read, _selected, state_dir

__all__ = ["Host", "KernelCleanupWarning", "KernelInterrupted", "recover", "state_dir"]

SYS = pathlib.Path("/sys")
JOURNAL = "journal.jsonl"
LOCK = "lock"


class KernelCleanupWarning(UserWarning):
    """A run found what a killed earlier run left behind and removed it."""


class KernelInterrupted(KernelError):
    """SIGTERM arrived during a kernel run; the machine was restored before this was raised."""


_libc = ctypes.CDLL(None, use_errno=True)


def _swapon(dev: str) -> None:
    if _libc.swapon(dev.encode(), 0) != 0:
        e = ctypes.get_errno()
        raise KernelError(f"swapon {dev} failed: {os.strerror(e)}")


def _swapoff(dev: str) -> None:
    if _libc.swapoff(dev.encode()) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"swapoff {dev}: {os.strerror(e)}")


def active_swaps() -> list:
    lines = (_read("/proc/swaps", "") or "").splitlines()[1:]
    return [ln.split()[0] for ln in lines if ln.split()]


def swap_used_pages(dev: str) -> int | None:
    """Pages in use on ``dev`` (/proc/swaps), None when it is not active."""
    for ln in (_read("/proc/swaps", "") or "").splitlines()[1:]:
        parts = ln.split()
        if parts and parts[0] == dev:
            return int(parts[3]) // 4  # KiB
    return None


def _write(path, value) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id", "")


# --------------------------------------------------------------------------- undo steps


def _kill_cgroup(path: pathlib.Path, timeout: float = 10.0) -> None:
    """SIGKILL every task in the cgroup and wait until it is empty, then remove it."""
    if not path.is_dir():
        return
    deadline = time.monotonic() + timeout
    while True:
        pids = [int(p) for p in (_read(path / "cgroup.procs", "") or "").split()]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise KernelError(f"tasks {pids} in {path} did not die; remove it by hand once they have")
        time.sleep(0.02)
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _swapoff_if_active(dev: str) -> None:
    if dev in active_swaps():
        _swapoff(dev)


def _undo(step: dict, rebooted: bool) -> str | None:
    """Undo one journal step; returns what was done (None: nothing to do)."""
    op = step["op"]
    if op == "file":
        p = pathlib.Path(step["path"])
        if p.exists():
            p.unlink()
            return f"removed {p}"
        return None
    if rebooted:  # devices, cgroups and settings did not survive the reboot
        return None
    if op == "set":
        cur = _selected(_read(step["path"]))
        if cur is None or cur == step["old"]:
            return None
        _write(step["path"], step["old"])
        return f"{step['path']} back to {step['old']}"
    if op == "swapon":
        if step["dev"] in active_swaps():
            _swapoff(step["dev"])
            return f"swapoff {step['dev']}"
        return None
    if op == "cgroup":
        p = pathlib.Path(step["path"])
        if p.is_dir():
            _kill_cgroup(p)
            return f"removed cgroup {p}"
        return None
    if op == "zram":
        n = int(step["id"])
        dev = f"/dev/zram{n}"
        if not (SYS / "block" / f"zram{n}").exists():
            return None
        _swapoff_if_active(dev)
        _write(SYS / "block" / f"zram{n}" / "reset", 1)
        _write(SYS / "class" / "zram-control" / "hot_remove", n)
        return f"removed {dev}"
    if op == "loop":
        dev = step["dev"]
        name = os.path.basename(dev)
        backing = _read(SYS / "block" / name / "loop" / "backing_file")
        if backing is None or not os.path.basename(backing).startswith(PREFIX):
            return None  # detached already, or reused by someone else
        _swapoff_if_active(dev)
        subprocess.run(["losetup", "-d", dev], check=True, capture_output=True)
        return f"detached {dev}"
    if op == "brd":
        if (SYS / "module" / "brd").exists():
            for ram in step.get("devs", []):
                _swapoff_if_active(ram)
            subprocess.run(["rmmod", "brd"], check=True, capture_output=True)
            return "unloaded brd"
        return None
    raise KernelError(f"unknown journal step {step!r}")


def _stragglers(cgroup_root, skip=()) -> list:
    """Cgroups and loop devices of ours that no journal lists (found by the prefix)."""
    out = []
    if cgroup_root:
        for p in sorted(pathlib.Path(cgroup_root).glob(PREFIX + "*")):
            if p.is_dir() and str(p) not in skip:
                out.append({"op": "cgroup", "path": str(p)})
    for b in sorted(SYS.glob("block/loop*/loop/backing_file")):
        f = _read(b)
        if f and os.path.basename(f.replace(" (deleted)", "")).startswith(PREFIX):
            dev = "/dev/" + b.parent.parent.name
            if dev not in skip:
                out.append({"op": "loop", "dev": dev})
                out.append({"op": "file", "path": f.replace(" (deleted)", "")})
    return out


def recover(sdir: pathlib.Path, cgroup_root) -> list:
    """Undo what a killed run left (its journal, then leftovers by name).  Call with the
    lock held.  Returns what was done, one line each."""
    done = []
    jpath = sdir / JOURNAL
    steps, header = [], {}
    if jpath.exists():
        for line in jpath.read_text().splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                if rec.get("op") == "begin":
                    header = rec
                else:
                    steps.append(rec)
    rebooted = bool(header) and header.get("boot_id") != _boot_id()
    errors = []
    for step in reversed(steps):
        try:
            r = _undo(step, rebooted)
        except Exception as exc:  # noqa: BLE001 - report every step that failed
            errors.append(f"{step}: {exc}")
            continue
        if r:
            done.append(r)
    seen = {s.get("path") or s.get("dev") for s in steps}
    for step in _stragglers(cgroup_root, skip=seen):
        try:
            r = _undo(step, False)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{step}: {exc}")
            continue
        if r:
            done.append(r)
    if errors:
        raise KernelError(
            "could not undo what an earlier kernel run left behind (fix by hand, then delete "
            f"{jpath}):\n  " + "\n  ".join(errors)
        )
    if jpath.exists():
        jpath.unlink()
    for d in sdir.glob("prog-*"):  # a killed run's helper programs (no run holds the lock)
        shutil.rmtree(d, ignore_errors=True)
    if done:
        who = f" (pid {header.get('pid')}, started {header.get('started')})" if header else ""
        warnings.warn(
            f"vswap_nb kernel: cleaned up after an interrupted run{who}"
            + (" from before the last reboot" if rebooted else "")
            + ": " + "; ".join(done),
            KernelCleanupWarning,
            stacklevel=3,
        )
    return done


# --------------------------------------------------------------------------- the host


class Host:
    """The machine during one kernel run: ``with Host(machine) as h: ...``.

    Entering takes the lock (waiting for a run in progress elsewhere), recovers what a
    killed run left, and starts a journal; the ``make_*``/``set`` methods change the
    machine, journal first; leaving undoes everything in reverse, whatever happened."""

    def __init__(self, machine, wait_message=None):
        self.m = machine
        self.dir = state_dir()
        self.steps: list = []
        self.recovered: list = []
        self._fd = None
        self._journal = None
        self._n = 0
        self.wait_message = wait_message
        self.lock_wait = 0.0
        self.held = [None, None]

    # -- lock and journal ---------------------------------------------------------
    def __enter__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        t0 = time.monotonic()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            if self.wait_message is not None:
                self.wait_message(f"waiting for another kernel run to finish (pid {holder or '?'})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        self.lock_wait = time.monotonic() - t0
        self.held = [time.time(), None]  # when the lock was taken and given back
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self.recovered = recover(self.dir, self.m.cgroup_root)
            self._journal = open(self.dir / JOURNAL, "a")
            self._log({"op": "begin", "pid": os.getpid(), "boot_id": _boot_id(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        except BaseException:
            self._unlock()
            raise
        return self

    def _log(self, rec: dict) -> None:
        self._journal.write(json.dumps(rec) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        if rec["op"] != "begin":
            self.steps.append(rec)

    def _unlock(self) -> None:
        if self._fd is not None:
            self.held[1] = time.time()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __exit__(self, *exc):
        blocked = {signal.SIGINT, signal.SIGTERM}
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            errors = self.teardown()
        finally:
            self._unlock()
            if in_main:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
        if errors:
            msg = (
                "could not restore the machine after the kernel run (the journal is kept; the "
                "next run retries):\n  " + "\n  ".join(errors)
            )
            if exc[0] is None:
                raise KernelError(msg)
            warnings.warn(msg, KernelCleanupWarning, stacklevel=2)  # the run's own error goes on
        return False

    def teardown(self) -> list:
        """Undo every step in reverse; returns the steps that failed (the journal is kept
        then, for the next run to retry)."""
        errors = []
        for step in reversed(self.steps):
            try:
                _undo(step, False)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{step}: {exc}")
        if self._journal is not None:
            self._journal.close()
            self._journal = None
            if not errors:
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / JOURNAL).unlink()
        self.steps = []
        return errors

    # -- changes ------------------------------------------------------------------
    def set(self, path, value) -> None:
        """Write ``value`` to the sysfs/procfs file ``path``, journalling the old value."""
        old = _selected(_read(path))
        if old is None:
            raise KernelUnavailable(f"{path} does not exist on this kernel")
        if old == str(value):
            return
        self._log({"op": "set", "path": str(path), "old": old})
        _write(path, value)

    def make_cgroups(
        self, n: int, limit: int | None, swappiness: int, swap_max: int | None = None, zswap_writeback: bool = True
    ) -> list:
        """``n`` fresh memory cgroups under the controller's root (one repetition of a
        workload with ``n`` cgroups), each limited to ``limit`` bytes: v1's
        ``memory.limit_in_bytes`` and ``memory.swappiness``; v2's ``memory.max``, and
        ``memory.swap.max`` when ``swap_max`` is given and ``memory.zswap.writeback`` 0
        when ``zswap_writeback`` is False.  One cgroup is ``vswap_nb-PID-R`` (R counts
        the calls), several are ``vswap_nb-PID-R-0``, ``vswap_nb-PID-R-1``, ...  Each is
        journalled before it is made, so every one is removed on every way out."""
        self._n += 1
        names = [f"{PREFIX}{os.getpid()}-{self._n}"]
        if n > 1:
            names = [f"{names[0]}-{c}" for c in range(n)]
        out = []
        for name in names:
            path = pathlib.Path(self.m.cgroup_root) / name
            self._log({"op": "cgroup", "path": str(path)})
            path.mkdir()
            out.append(path)
            if self.m.cgroup_version == 1:
                if limit is not None:
                    _write(path / "memory.limit_in_bytes", limit)
                _write(path / "memory.swappiness", swappiness)
                continue
            if limit is not None:
                _write(path / "memory.max", limit)
            if swap_max is not None:
                if not (path / "memory.swap.max").exists():
                    raise KernelUnavailable(
                        f"{path}/memory.swap.max does not exist: this kernel does not account swap "
                        f"to cgroups (swapaccount=0 on its command line?); run without swap_max"
                    )
                _write(path / "memory.swap.max", swap_max)
            if not zswap_writeback:
                _write(path / "memory.zswap.writeback", 0)
        return out

    def remove_cgroup(self, path: pathlib.Path) -> None:
        _kill_cgroup(path)
        self.steps = [s for s in self.steps if not (s["op"] == "cgroup" and s["path"] == str(path))]

    def make_zram(self, size: int) -> str:
        hot_add = SYS / "class" / "zram-control" / "hot_add"
        n = int(_read(hot_add))
        self._log({"op": "zram", "id": n})
        _write(SYS / "block" / f"zram{n}" / "disksize", size)
        return f"/dev/zram{n}"

    def make_loop(self, size: int, directory: str, rotational: bool) -> str:
        f = pathlib.Path(directory).resolve() / f"{PREFIX}{os.getpid()}.swap"
        self._log({"op": "file", "path": str(f)})
        with open(f, "wb") as fh:
            fh.truncate(size)
        r = subprocess.run(
            ["losetup", "--find", "--show", "--direct-io=on", str(f)], capture_output=True, text=True
        )
        if r.returncode != 0:
            raise KernelError(f"losetup {f} failed: {r.stderr.strip()}")
        dev = r.stdout.strip()
        self._log({"op": "loop", "dev": dev})
        _write(SYS / "block" / os.path.basename(dev) / "queue" / "rotational", int(rotational))
        return dev

    def make_brd(self, size: int) -> str:
        self._log({"op": "brd", "devs": ["/dev/ram0"]})
        r = subprocess.run(
            ["modprobe", "brd", "rd_nr=1", f"rd_size={size // 1024}", "max_part=0"], capture_output=True, text=True
        )
        if r.returncode != 0:
            raise KernelError(f"modprobe brd failed: {r.stderr.strip()}")
        return "/dev/ram0"

    def swapon(self, dev: str) -> None:
        r = subprocess.run(["mkswap", dev], capture_output=True, text=True)
        if r.returncode != 0:
            raise KernelError(f"mkswap {dev} failed: {r.stderr.strip()}")
        self._log({"op": "swapon", "dev": dev})
        _swapon(dev)

    def swapon_again(self, dev: str) -> None:
        """swapon a device of this run that the workload swapped off (journalled already)."""
        _swapon(dev)

    def mark_zswap_enabled(self) -> None:
        """Remember, for the rest of this boot, that zswap was enabled (mTHP swap-in is
        off from then on: zswap_never_enabled())."""
        p = self.dir / "zswap-enabled"
        if not (_read(p) or "").startswith(_boot_id()):
            _write(p, f"{_boot_id()} {time.strftime('%Y-%m-%dT%H:%M:%S')}")
