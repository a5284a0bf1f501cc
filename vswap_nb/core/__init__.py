"""Shared primitives: jit policy, counters, XArray emulation, swap device and allocator,
swap-table entry encoding, metadata sizes and the verb registry."""
