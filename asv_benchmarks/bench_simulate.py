"""End-to-end ``simulate``: the mm engine plus each design's verbs on usemem.

``Small`` is a few hundred MiB (quick to run on every commit); ``FullSize`` is the
linux-mm case of the vswap thread, ``usemem -n 1 56G`` on a 32 GiB machine with a
64 GiB zram device (about 14.7 million page writes, 6 million swap-outs, all freed).
Setup runs a tiny simulation first so compilation is not timed.
"""
import vswap_nb as v

from .common import OneRunPerDesign, warm_simulate


class SimulateSmall:
    params = [list(v.designs())]
    param_names = ["design"]
    timeout = 900

    def setup(self, design):
        warm_simulate(design)
        self.w = v.usemem("256M", nr_tasks=2, read_back=True)
        self.s = v.System("256M", swap=v.Device("zram", "1G"), nr_cpus=2)

    def time_usemem(self, design):
        v.simulate(design, self.w, self.s)

    def peakmem_usemem(self, design):
        v.simulate(design, self.w, self.s)

    def track_free_xa_lookups_per_page(self, design):
        ds = v.simulate(design, self.w, self.s)
        pages = int(ds.pswpout) + int(ds.zswpout) or 1
        return int(ds.counters.sel(op="free", primitive="xa_lookup")) / pages

    track_free_xa_lookups_per_page.unit = "lookups"

    def track_swap_ra(self, design):
        return int(v.simulate(design, self.w, self.s).swap_ra)

    track_swap_ra.unit = "pages"

    def track_metadata_peak_bytes(self, design):
        ds = v.simulate(design, self.w, self.s)
        return int(ds.metadata_bytes_peak_total)

    track_metadata_peak_bytes.unit = "bytes"

    def track_model_time_free_ms(self, design):
        """Model time of the free phase (counters x cost table), deterministic."""
        ds = v.simulate(design, self.w, self.s)
        return float(ds.model_time.sel(phase="free")) / 1e6

    track_model_time_free_ms.unit = "ms"


class FullSize(OneRunPerDesign):

    def setup(self, design):
        warm_simulate(design)
        self.w = v.usemem("56G")
        self.s = v.System("32G", swap=v.Device("zram", "64G"), nr_cpus=4)

    def time_usemem_56G(self, design):
        v.simulate(design, self.w, self.s)

    def peakmem_usemem_56G(self, design):
        v.simulate(design, self.w, self.s)


class Throughput:
    """Page events per second of the mm engine plus a design's verbs (issue 8): usemem
    of 2 GiB on a 1 GiB machine with a 4 GiB zram device, sequential (``usemem 2G``) or
    random (``usemem -R 2G``): 524288 page writes, about 330 thousand swap-outs, all
    freed.  Events per second = ``track_page_events`` / ``time_usemem``."""

    params = [list(v.designs()), ["sequential", "random"]]
    param_names = ["design", "access"]
    timeout = 900

    def setup(self, design, access):
        warm_simulate(design)
        self.w = v.usemem("2G", random=access == "random")
        self.s = v.System("1G", swap=v.Device("zram", "4G"), nr_cpus=2)

    def time_usemem(self, design, access):
        v.simulate(design, self.w, self.s)

    def track_page_events(self, design, access):
        return self.w.page_events

    track_page_events.unit = "events"

    def track_swap_outs(self, design, access):
        return int(v.simulate(design, self.w, self.s).pswpout)

    track_swap_outs.unit = "pages"
