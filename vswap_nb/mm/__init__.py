"""The memory-management model: the system a run models (:mod:`.config`), the cost
table (:mod:`.cost`), the engine that decides when swap metadata operations happen
(:mod:`.engine`: reclaim, faults and readahead, unmap, zswap) and one run of it
(:mod:`.run`)."""
