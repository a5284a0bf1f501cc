"""What a user waits for on a first run: ``timeraw_*`` benchmarks run their code in a
fresh interpreter and time all of it (import plus first call).

``cold``: with an empty Numba cache (a new ``VSWAP_NB_CACHE_DIR``), so the kernels
compile; ``warm``: with the default cache, filled by setup, so the kernels load."""
import vswap_nb

from .common import OneRunPerDesign

_COLD = """
import os, shutil, tempfile
d = tempfile.mkdtemp(prefix="vswap-nb-cold-")
os.environ["VSWAP_NB_CACHE_DIR"] = d
try:
    import vswap_nb
    {call}
finally:
    shutil.rmtree(d, ignore_errors=True)
"""

_WARM = """
import vswap_nb
{call}
"""

_OVERHEAD = "vswap_nb.metadata_overhead({design!r}, swap_size='64M', usage=(0.5,))"
_SIMULATE = (
    "vswap_nb.simulate({design!r}, vswap_nb.usemem('4M'), "
    "vswap_nb.System('64M', swap=vswap_nb.Device('zram', '64M')))"
)


class Import:
    timeout = 120

    def timeraw_import(self):
        return "import vswap_nb"


class FirstCall(OneRunPerDesign):
    timeout = 1200

    def setup(self, design):
        exec(_SIMULATE.format(design=design), {"vswap_nb": vswap_nb})
        exec(_OVERHEAD.format(design=design), {"vswap_nb": vswap_nb})

    def timeraw_cold_verbs(self, design):
        """Compile one design's verbs (metadata_overhead swaps pages out through them)."""
        return _COLD.format(call=_OVERHEAD.format(design=design))

    def timeraw_cold_simulate(self, design):
        """Compile the mm engine and the verbs of one design."""
        return _COLD.format(call=_SIMULATE.format(design=design))

    def timeraw_warm_simulate(self, design):
        return _WARM.format(call=_SIMULATE.format(design=design))
