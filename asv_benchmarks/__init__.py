"""airspeed velocity benchmarks for vswap_nb (see asv.conf.json at the repository root)."""
