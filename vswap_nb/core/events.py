"""The page-event format the workloads write and the mm engine reads.

A workload is a short table of *range* events per task ("map 14 million pages", "write
them in order", "wait for the others", "unmap them"); the engine expands each range into
page accesses itself.  This module is the format alone, so the engine (below the
workloads) and the workloads (which build and validate the tables,
:mod:`vswap_nb.workloads.events`) share one definition.

Rows are ``(task, kind, a, b, c, d)`` int64 (columns ``EV_TASK`` .. ``EV_D``):

========================  ============================================================
kind                      meaning of a, b, c, d (unused columns are 0)
========================  ============================================================
``K_MMAP``                map an anonymous VMA ``[a, a+b)`` in the task's mm; its pages
                          start absent
``K_TOUCH``               access pages ``a .. a+b-1`` in order; ``c`` = flags
``K_TOUCH_RANDOM``        ``d`` accesses at pseudo-random vpns in ``[a, a+b)``; ``c`` =
                          flags; vpn number ``i`` is :func:`~vswap_nb.workloads.events.random_vpn`
``K_BARRIER``             wait until every live task of the workload reached barrier ``a``
                          (or exited); ids count 0, 1, 2, ... in every task
``K_UNMAP``               munmap ``[a, a+b)``
``K_EXIT``                exit; the mm's last task unmaps whatever is still mapped
``K_PHASE``               from here on the task's time counts to ``phases[a]``
``K_SWAPOFF``             swapoff(2) of the swap device, run by this task: every page
                          on the device comes back to memory (or, in a virtual design,
                          to the swap cache) and the device is gone for the rest of
                          the run (see :func:`~vswap_nb.workloads.with_swapoff`)
========================  ============================================================

Flags: ``F_WRITE`` (else the access is a read).

A page's content class (``CONTENT_*``) is not in the rows: the engine draws it per page
(:func:`~vswap_nb.workloads.events.content_class`).  ``MAX_VPN`` bounds every vpn.
"""
from __future__ import annotations

__all__ = [
    "CONTENT_NAMES",
    "CONTENT_SAME",
    "CONTENT_SEQUENCE",
    "CONTENT_ZERO",
    "EV_A",
    "EV_B",
    "EV_C",
    "EV_D",
    "EV_KIND",
    "EV_TASK",
    "F_WRITE",
    "KIND_NAMES",
    "K_BARRIER",
    "K_EXIT",
    "K_MMAP",
    "K_PHASE",
    "K_SWAPOFF",
    "K_TOUCH",
    "K_TOUCH_RANDOM",
    "K_UNMAP",
    "MAX_VPN",
]

# event kinds (column EV_KIND)
K_MMAP = 1  # a=start vpn, b=npages: map an anonymous VMA [a, a+b) in the task's mm (pages start absent)
K_TOUCH = 2  # a=start vpn, b=npages, c=flags: access pages a..a+b-1 in order
K_TOUCH_RANDOM = 3  # a=start vpn, b=span, c=flags, d=count: `count` accesses at random_vpn(...)
K_BARRIER = 4  # a=barrier id (0,1,2,... per workload): wait for every live task to reach it
K_UNMAP = 5  # a=start vpn, b=npages: munmap that range
K_EXIT = 6  # the task exits: its mm's last task unmaps everything still mapped
K_PHASE = 7  # a=phase index into Workload.phases: from here on this task's time counts to it
K_SWAPOFF = 8  # swapoff of the swap device, run in this task's context
KIND_NAMES = {
    K_MMAP: "MMAP",
    K_TOUCH: "TOUCH",
    K_TOUCH_RANDOM: "TOUCH_RANDOM",
    K_BARRIER: "BARRIER",
    K_UNMAP: "UNMAP",
    K_EXIT: "EXIT",
    K_PHASE: "PHASE",
    K_SWAPOFF: "SWAPOFF",
}
# flag bits for TOUCH / TOUCH_RANDOM column c
F_WRITE = 1  # write access (else read)
# columns
EV_TASK, EV_KIND, EV_A, EV_B, EV_C, EV_D = range(6)
# content classes
CONTENT_SEQUENCE = 0  # usemem's data: word i holds i (never zero, never same-filled)
CONTENT_ZERO = 1  # zero-filled page
CONTENT_SAME = 2  # same-filled non-zero page (memhog writes 0xff)
CONTENT_NAMES = ("sequence", "zero", "same")

MAX_VPN = 1 << 45  # 128 PiB of 4 KiB pages: the x86-64 5-level user address space
