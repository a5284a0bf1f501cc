"""A long soak run per design, kept as a benchmark rather than a test: random-access
usemem with read-back, zero pages, zswap in front of an ssd, memory.max pressure and
every injected fault on, under the invariant checker after every phase.  The tracks
must stay at 0 (lost pages, entries left allocated); the time shows what checking a
run of this size costs."""
import vswap_nb as v

from .common import OneRunPerDesign, warm_simulate

FAULTS = {"swap_alloc": 0.02, "zswap_reject": 0.1, "readahead": 0.2}


class Soak(OneRunPerDesign):

    def setup(self, design):
        self.w = v.usemem("1G", nr_tasks=4, random=True, read_back=True, repeat=3,
                          fill={"zero": 0.2, "sequence": 0.8})
        self.s = v.System("1G", memory_max="768M", swap=v.Device("ssd", "8G"),
                          zswap=v.Zswap(max_pool_percent=10), nr_cpus=4, faults=FAULTS)
        warm_simulate(design)

    def time_soak_checked(self, design):
        v.simulate(design, self.w, self.s, seed=7, check="phase")

    def track_content_errors(self, design):
        return int(v.simulate(design, self.w, self.s, seed=7, check="phase").content_errors)

    track_content_errors.unit = "pages"

    def track_live_entries_left(self, design):
        return int(v.simulate(design, self.w, self.s, seed=7).live_entries)

    track_live_entries_left.unit = "entries"
