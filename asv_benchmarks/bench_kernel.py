"""The model against the running kernel (the ``kernel`` design).

``KernelAgreement`` tracks ``classic``'s counts divided by the kernel's on four cases
of ``docs/kernel-validation.md`` (a fidelity drift shows as a ratio moving away from
1); ``KernelHarness`` times what a ``kernel`` run costs on top of its workload (the
checks, the cgroup and swap device set up and torn down, the helper started).  Both
need a machine that can run ``kernel`` (root, a memory controller, zram and loop
devices, cc, no swap active); elsewhere their setup raises NotImplementedError, which
asv reports as skipped.  The cases leave zswap off (enabling it once turns mTHP
swap-in off until reboot).
"""
import vswap_nb as v
from vswap_nb import kernel
from vswap_nb import kernel_validation as validation

from .common import warm_simulate

CASES = ["zram", "loop", "zram random", "loop random"]
FIGURES = ["pswpout", "pswpin", "pgmajfault", "swap_ra"]


def _unavailable():
    m = kernel.kernel_info()
    for case in CASES:
        try:
            kernel.check(validation.case_workload(case), validation.case_system(case, m), {})
        except (ValueError, kernel.KernelError) as exc:
            return str(exc)
    return None


class KernelAgreement:
    params = [CASES, FIGURES]
    param_names = ["case", "figure"]
    timeout = 900

    def setup_cache(self):
        if _unavailable():
            return None
        ds = validation.run_cases(CASES, repeat=3)
        out = {}
        for case in CASES:
            c = ds.sel(case=case)
            out[case] = {
                f: (float(c[f].sel(design="classic")), float(c[f].sel(design="kernel"))) for f in FIGURES
            }
        return out

    def setup(self, cache, case, figure):
        if cache is None:
            raise NotImplementedError(_unavailable() or "kernel runs are not possible here")

    def track_ratio(self, cache, case, figure):
        model, kern = cache[case][figure]
        return model / kern if kern else (1.0 if model == 0 else float("inf"))

    track_ratio.unit = "classic / kernel"


class KernelHarness:
    timeout = 300
    number = 1
    repeat = 5

    def setup(self):
        reason = _unavailable()
        if reason:
            raise NotImplementedError(reason)
        warm_simulate("classic")
        m = kernel.kernel_info()
        self.w = v.usemem("4M")
        self.s = v.System("1G", memory_max="64M", swap=v.Device("zram", "64M"), nr_cpus=1,
                          cgroup_version=m.cgroup_version)
        v.simulate("kernel", self.w, self.s)  # builds the helper

    def time_tiny_run(self):
        """A 4 MiB usemem that never swaps: nearly all of it is the harness."""
        v.simulate("kernel", self.w, self.s)
