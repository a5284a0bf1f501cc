"""metadata_overhead() at 32 GiB: the fill through every design's verbs."""
import vswap_nb


class MetadataOverhead:
    params = [["disk", "zswap"]]
    param_names = ["backend"]
    timeout = 600

    def setup(self, backend):
        vswap_nb.metadata_overhead(swap_size="64M", usage=(0, 1), backend=backend)  # compile

    def time_metadata_overhead_32G(self, backend):
        vswap_nb.metadata_overhead(swap_size="32G", usage=(0, 0.5, 1), backend=backend)

    def peakmem_metadata_overhead_32G(self, backend):
        vswap_nb.metadata_overhead(swap_size="32G", usage=(0, 0.5, 1), backend=backend)

    def track_bytes_per_slot_full(self, backend):
        ds = vswap_nb.metadata_overhead(swap_size="1G", usage=(1,), backend=backend)
        return float(ds.bytes_per_slot.sel(design="swap_table", backend=backend).values[0])

    track_bytes_per_slot_full.unit = "bytes/slot"
