"""metadata_overhead(): the fill through every design's verbs at 32 GiB, and the bytes
per slot each design keeps (deterministic, tracked so a change in any design's
accounting shows in the history)."""
import vswap_nb


class MetadataOverhead:
    params = [["disk", "zswap"]]
    param_names = ["backend"]
    timeout = 900

    def setup(self, backend):
        vswap_nb.metadata_overhead(swap_size="64M", usage=(0, 1), backend=backend)  # compile

    def time_metadata_overhead_32G(self, backend):
        vswap_nb.metadata_overhead(swap_size="32G", usage=(0, 0.5, 1), backend=backend)

    def peakmem_metadata_overhead_32G(self, backend):
        vswap_nb.metadata_overhead(swap_size="32G", usage=(0, 0.5, 1), backend=backend)


class MetadataBytesPerSlot:
    params = [list(vswap_nb.designs()), ["disk", "zswap"]]
    param_names = ["design", "backend"]
    timeout = 600

    def setup(self, design, backend):
        self.ds = vswap_nb.metadata_overhead(design, swap_size="1G", usage=(0, 1), backend=backend)

    def track_bytes_per_slot_empty(self, design, backend):
        return float(self.ds.bytes_per_slot.sel(design=design, backend=backend, usage=0.0))

    track_bytes_per_slot_empty.unit = "bytes/slot"

    def track_bytes_per_slot_full(self, design, backend):
        return float(self.ds.bytes_per_slot.sel(design=design, backend=backend, usage=1.0))

    track_bytes_per_slot_full.unit = "bytes/slot"
