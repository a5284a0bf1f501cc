"""numactl's memhog as a page-event stream.

``memhog SIZE`` maps ``SIZE`` bytes of anonymous memory, ``memset``s it to 0xff and
exits.  Every page is therefore same-filled with a non-zero byte (``CONTENT_SAME``): the
case where the zero-page shortcut does not apply but zswap/zram's same-filled-page
detection does (the virtual swap v5/v6 reports use ``memhog 48G`` on a 16 GB host).

One task, one mm::

    MMAP(0, pages), PHASE(write), TOUCH(0, pages, F_WRITE), PHASE(free), UNMAP(0, pages), EXIT

memhog's exit tears its mm down; the explicit UNMAP is the same work and gives the
teardown a phase of its own ("free").  memhog's ``-r N`` repetitions are not modelled.
"""
from __future__ import annotations

import numpy as np

from .events import (
    F_WRITE,
    K_EXIT,
    K_MMAP,
    K_PHASE,
    K_TOUCH,
    K_UNMAP,
    Workload,
    build_workload,
    check_pages,
    parse_fill,
)

__all__ = ["memhog"]


def memhog(size) -> Workload:
    """memhog: one task writes ``size`` bytes ("48G", "512M" or an int, rounded up to 4 KiB
    pages) of 0xff in order, then frees them.  Phases ("write", "free")."""
    nbytes, pages = check_pages(size, "size")
    events = np.array(
        [
            (0, K_MMAP, 0, pages, 0, 0),
            (0, K_PHASE, 0, 0, 0, 0),
            (0, K_TOUCH, 0, pages, F_WRITE, 0),
            (0, K_PHASE, 1, 0, 0, 0),
            (0, K_UNMAP, 0, pages, 0, 0),
            (0, K_EXIT, 0, 0, 0, 0),
        ],
        dtype=np.int64,
    )
    return build_workload(
        "memhog",
        {"size": nbytes},
        ("write", "free"),
        events,
        np.array([0, events.shape[0]], dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.full(1, -1, dtype=np.int64),
        parse_fill("same"),
    )
