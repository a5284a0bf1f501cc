"""vswap_nb.workloads: the event format, its hashes against plain-Python references,
usemem/memhog/kbuild event structure, usemem's command line, validation, and traces."""
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings

import vswap_nb as v
from hypothesis import strategies as st

from vswap_nb.workloads import (
    CONTENT_NAMES,
    EV_A,
    EV_B,
    EV_C,
    EV_D,
    EV_KIND,
    EV_TASK,
    F_WRITE,
    K_BARRIER,
    K_EXIT,
    K_MMAP,
    K_PHASE,
    K_TOUCH,
    K_TOUCH_RANDOM,
    K_UNMAP,
    Workload,
    churn,
    content_class,
    kbuild,
    make_workload,
    memhog,
    parse_usemem_args,
    random_vpn,
    read_trace,
    splitmix64,
    usemem,
    usemem_from_args,
    write_trace,
)

MASK = (1 << 64) - 1
G, M = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03
GIB_PAGES = (1 << 30) // 4096


# --------------------------------------------------------------------------- plain-Python references


def naive_splitmix64(x):
    x = (x + G) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def naive_content_class(seed, mm, vpn, fill):
    h = naive_splitmix64((seed * G + mm * M + vpn) & MASK)
    u = (h >> 11) * 2.0**-53
    return 0 if u < fill[0] else 1 if u < fill[0] + fill[1] else 2


def naive_random_vpn(seed, task, event_index, i, start, span):
    base = naive_splitmix64((seed ^ (task * G)) & MASK)
    return start + naive_splitmix64((base + event_index * M + i) & MASK) % span


def kinds(w, task=0):
    ev = w.events[w.task_start[task] : w.task_start[task + 1]]
    return [int(k) for k in ev[:, EV_KIND]]


def rows(w, task=0):
    return [tuple(int(v) for v in r) for r in w.events[w.task_start[task] : w.task_start[task + 1], 1:]]


# --------------------------------------------------------------------------- hashes


def test_splitmix64_known_value_and_arrays():
    # the first output of the reference splitmix64 generator from state 0
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    xs = np.array([0, 1, 2, 1 << 63, MASK], dtype=np.uint64)
    assert splitmix64(xs).tolist() == [naive_splitmix64(int(x)) for x in xs]
    assert splitmix64(-1) == naive_splitmix64(MASK)  # negatives wrap like a C cast


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, MASK),
    mm=st.integers(0, 1 << 20),
    vpn=st.integers(0, 1 << 45),
    task=st.integers(0, 1 << 20),
    ev=st.integers(0, 1 << 30),
    i=st.integers(0, 1 << 40),
    start=st.integers(0, 1 << 40),
    span=st.integers(1, 1 << 40),
)
def test_hashes_match_plain_python(seed, mm, vpn, task, ev, i, start, span):
    fill = (0.5, 0.3, 0.2)
    assert content_class(seed, mm, vpn, fill) == naive_content_class(seed, mm, vpn, fill)
    assert random_vpn(seed, task, ev, i, start, span) == naive_random_vpn(seed, task, ev, i, start, span)


def test_content_class_vectorised_deterministic_and_fractions():
    vpn = np.arange(100_000, dtype=np.int64)
    fill = np.array([0.5, 0.3, 0.2])
    cls = content_class(7, 3, vpn, fill)
    assert cls.dtype == np.int64 and cls.shape == vpn.shape
    assert np.array_equal(cls, content_class(7, 3, vpn, fill))
    assert [content_class(7, 3, int(v), fill) for v in vpn[:50]] == cls[:50].tolist()
    frac = np.bincount(cls, minlength=3) / vpn.size
    assert np.allclose(frac, fill, atol=0.01)  # ~6 standard deviations
    # other seeds and mms give other pages
    assert not np.array_equal(cls, content_class(8, 3, vpn, fill))
    assert not np.array_equal(cls, content_class(7, 4, vpn, fill))
    # pure classes
    for k, name in enumerate(CONTENT_NAMES):
        pure = np.zeros(3)
        pure[k] = 1.0
        assert np.all(content_class(1, 0, vpn[:1000], pure) == k), name


def test_random_vpn_in_range_deterministic_and_spread():
    i = np.arange(100_000, dtype=np.int64)
    v = random_vpn(5, 2, 17, i, 1000, 500)
    assert v.dtype == np.int64 and v.min() >= 1000 and v.max() < 1500
    assert np.array_equal(v, random_vpn(5, 2, 17, i, 1000, 500))
    assert random_vpn(5, 2, 17, 3, 1000, 500) == v[3]
    counts = np.bincount(v - 1000, minlength=500)
    assert counts.min() > 100 and counts.max() < 300  # mean 200
    # task, event index and seed each change the stream
    for other in (random_vpn(6, 2, 17, i, 1000, 500), random_vpn(5, 3, 17, i, 1000, 500), random_vpn(5, 2, 18, i, 1000, 500)):
        assert not np.array_equal(v, other)
    with pytest.raises(ValueError, match="span"):
        random_vpn(0, 0, 0, 0, 0, 0)


# --------------------------------------------------------------------------- usemem


def expected_kinds(repeat=1, random=False, read_back=False, sync_rw=False, sync_free=False):
    t = K_TOUCH_RANDOM if random else K_TOUCH
    out = [K_MMAP] + [K_BARRIER] * sync_rw + [K_PHASE] + [t] * repeat
    if read_back:
        out += [K_BARRIER, K_PHASE, t]
    return out + [K_BARRIER] * sync_free + [K_PHASE, K_UNMAP, K_EXIT]


FLAGS = [
    {},
    {"random": True},
    {"read_back": True},
    {"repeat": 3},
    {"sync_rw": True},
    {"sync_free": True},
    {"sync_rw": True, "sync_free": True, "read_back": True, "random": True, "repeat": 2},
]


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: ",".join(f) or "plain")
def test_usemem_events_per_flag(flags):
    n, pages = 4, 300
    w = usemem(pages * 4096, nr_tasks=n, **flags)
    want = expected_kinds(**flags)
    assert (w.ntasks, w.nmm, w.nevents) == (n, n, n * len(want))
    for t in range(n):
        assert kinds(w, t) == want
    assert w.task_mm.tolist() == list(range(n))
    assert w.task_cpu.tolist() == [-1] * n
    assert w.mm_pages.tolist() == [pages] * n
    assert w.total_pages == n * pages
    passes = flags.get("repeat", 1) + flags.get("read_back", False)
    assert w.page_events == n * pages * passes
    read_back = flags.get("read_back", False)
    assert w.phases == (("write", "read", "free") if read_back else ("write", "free"))
    # barrier ids count from 0 in every task
    ev = w.events[w.events[:, EV_KIND] == K_BARRIER]
    nb = flags.get("sync_rw", False) + read_back + flags.get("sync_free", False)
    assert ev[:, EV_A].tolist() == list(range(nb)) * n
    # writes, then reads
    tr = w.events[np.isin(w.events[:, EV_KIND], (K_TOUCH, K_TOUCH_RANDOM))]
    flags_col = tr[:, EV_C].reshape(n, -1)
    assert np.all(flags_col[:, : flags.get("repeat", 1)] == F_WRITE)
    if read_back:
        assert np.all(flags_col[:, -1] == 0)
    if flags.get("random"):
        assert np.all(tr[:, EV_B] == pages) and np.all(tr[:, EV_D] == pages)
    assert w.fill.tolist() == [1.0, 0.0, 0.0]


def test_usemem_phase_order_and_rows():
    w = usemem("1M", sync_rw=True, sync_free=True, read_back=True)
    p = 256
    assert rows(w) == [
        (K_MMAP, 0, p, 0, 0),
        (K_BARRIER, 0, 0, 0, 0),
        (K_PHASE, 0, 0, 0, 0),
        (K_TOUCH, 0, p, F_WRITE, 0),
        (K_BARRIER, 1, 0, 0, 0),
        (K_PHASE, 1, 0, 0, 0),
        (K_TOUCH, 0, p, 0, 0),
        (K_BARRIER, 2, 0, 0, 0),
        (K_PHASE, 2, 0, 0, 0),
        (K_UNMAP, 0, p, 0, 0),
        (K_EXIT, 0, 0, 0, 0),
    ]


def test_usemem_threads_share_one_mm_with_a_region_each():
    pages = 100
    w = usemem(pages * 4096, nr_tasks=3, threads=True)
    assert (w.ntasks, w.nmm) == (3, 1)
    assert w.task_mm.tolist() == [0, 0, 0]
    assert w.mm_pages.tolist() == [3 * pages]
    for t in range(3):
        r = rows(w, t)
        assert r[0] == (K_MMAP, t * pages, pages, 0, 0)
        assert (K_TOUCH, t * pages, pages, F_WRITE, 0) in r
        assert (K_UNMAP, t * pages, pages, 0, 0) in r
    assert w.total_pages == 3 * pages


def test_usemem_bind_and_rounding_and_fill():
    w = usemem(4097, nr_tasks=4, bind=3)
    assert w.mm_pages.tolist() == [2] * 4  # rounded up to pages
    assert w.task_cpu.tolist() == [0, 3, 6, 9]
    assert usemem("4k", bind=0).task_cpu.tolist() == [-1]  # usemem: -b 0 binds nothing
    assert usemem("4k", fill="zero").fill.tolist() == [0.0, 1.0, 0.0]
    assert usemem("4k", fill="same").fill.tolist() == [0.0, 0.0, 1.0]
    f = usemem("4k", fill={"zero": 0.25, "sequence": 0.75}).fill
    assert f.tolist() == [0.75, 0.25, 0.0]
    f = usemem("4k", fill={"zero": 0.3333333, "sequence": 0.6666667}).fill  # within 1e-6: normalised
    assert abs(f.sum() - 1.0) < 1e-12


def test_usemem_56g_is_a_handful_of_events():
    w = usemem("56G")
    pages = 56 * GIB_PAGES
    assert w.nevents < 100
    assert w.page_events == pages and w.total_pages == pages
    w32 = usemem("1536M", nr_tasks=32, sync_rw=True, sync_free=True)
    assert w32.nevents < 100 * 32
    assert w32.page_events == 32 * 1536 * 256


def test_usemem_params_rebuild_the_workload():
    for kw in ({}, {"nr_tasks": 3, "threads": True, "random": True, "fill": {"zero": 0.5, "same": 0.5}, "bind": 2}):
        w = usemem("2M", **kw)
        json.dumps(w.params)
        assert usemem(**w.params) == w


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"size": -1}, "size"),
        ({"size": 0}, "size"),
        ({"size": "12Q"}, "size"),
        ({"size": True}, "size"),
        ({"size": 1.5}, "size"),
        ({"size": "1M", "nr_tasks": 0}, "nr_tasks"),
        ({"size": "1M", "nr_tasks": 2.0}, "nr_tasks"),
        ({"size": "1M", "nr_tasks": "4"}, "nr_tasks"),
        ({"size": "1M", "nr_tasks": True}, "nr_tasks"),
        ({"size": "1M", "repeat": 0}, "repeat"),
        ({"size": "1M", "random": 1}, "random"),
        ({"size": "1M", "threads": "yes"}, "threads"),
        ({"size": "1M", "bind": -1}, "bind"),
        ({"size": "1M", "fill": {"zero": 0.3, "sequence": 0.3}}, "fill"),
        ({"size": "1M", "fill": {"zeros": 1.0}}, "fill"),
        ({"size": "1M", "fill": {"zero": -0.5, "sequence": 1.5}}, "fill"),
        ({"size": "1M", "fill": "random"}, "fill"),
        ({"size": "1M", "fill": 3}, "fill"),
        ({"size": "1M", "fill": {"zero": True}}, "fill"),
    ],
)
def test_usemem_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        usemem(**kwargs)


# --------------------------------------------------------------------------- usemem's command line

BASE = {
    "nr_tasks": 1,
    "threads": False,
    "random": False,
    "read_back": False,
    "repeat": 1,
    "sync_rw": False,
    "sync_free": False,
    "bind": None,
}


@pytest.mark.parametrize(
    "args, changes",
    [
        ("--init-time -O -y -x -n 32 1536M", {"size": "1536M", "nr_tasks": 32, "sync_rw": True, "sync_free": True}),
        ("--init-time -O -y -x -n 31 1G", {"size": "1G", "nr_tasks": 31, "sync_rw": True, "sync_free": True}),
        ("usemem --init-time -O -y -x -n 48 1G", {"size": "1G", "nr_tasks": 48, "sync_rw": True, "sync_free": True}),
        ("--init-time -O -y -x -n 1 56G", {"size": "56G", "sync_rw": True, "sync_free": True}),
        ("--init-time -O -n 1 56G", {"size": "56G"}),
        ("--init-time -O -R -n 32 622M", {"size": "622M", "nr_tasks": 32, "random": True}),
        ("-n 1 56G", {"size": "56G"}),
        ("-n 32 -R 1536M", {"size": "1536M", "nr_tasks": 32, "random": True}),
        ("./usemem -t 52 --random 300M", {"size": "300M", "nr_tasks": 52, "threads": True, "random": True}),
        ("-n 4 -W 1G", {"size": "1G", "nr_tasks": 4, "read_back": True}),
        ("-Oyx -n8 -r 3 -b 2 64m", {"size": "64m", "nr_tasks": 8, "sync_rw": True, "sync_free": True, "repeat": 3, "bind": 2}),
        ("--sync-rw --sync-free --bind=4 -n 2 1g", {"size": "1g", "nr_tasks": 2, "sync_rw": True, "sync_free": True, "bind": 4}),
        (["-n", "2", "1G"], {"size": "1G", "nr_tasks": 2}),
    ],
)
def test_parse_usemem_args(args, changes):
    assert parse_usemem_args(args) == {**BASE, **changes}


def test_usemem_from_args_linux_mm_invocations():
    w = usemem_from_args("--init-time -O -y -x -n 32 1536M")
    assert (w.ntasks, w.nmm) == (32, 32)
    assert w.page_events == 32 * 1536 * 256
    assert kinds(w, 5) == expected_kinds(sync_rw=True, sync_free=True)
    w = usemem_from_args("--init-time -O -R -n 32 622M")
    assert kinds(w, 0) == expected_kinds(random=True)
    assert w.page_events == 32 * 622 * 256
    w = usemem_from_args("-n 1 56G")
    assert w.ntasks == 1 and w.page_events == 56 * GIB_PAGES and w.nevents < 100
    w = usemem_from_args("-t 52 -R 300M", fill="zero")
    assert (w.ntasks, w.nmm) == (52, 1) and w.fill.tolist() == [0.0, 1.0, 0.0]
    assert w.params["fill"] == "zero"


@pytest.mark.parametrize(
    "args, match",
    [
        ("-z -n 2 1G", "-z"),
        ("--frobnicate 1G", "--frobnicate"),
        ("-n two 1G", "-n"),
        ("-n", "-n"),
        ("-n 2", "size"),
        ("-n 2 1G 2G", "size"),
        ("-n 2 -t 4 1G", "-t"),
        ("-n 0 1G", "nr_tasks"),
        ("-n 2 1X", "size"),
        ("-n 2 'unclosed 1G", "cannot split"),
    ],
)
def test_parse_usemem_args_errors(args, match):
    with pytest.raises(ValueError, match=match) as info:
        usemem_from_args(args)
    if "unknown" in match or args.startswith(("-z", "--frob")):
        assert "supported flags" in str(info.value)


# --------------------------------------------------------------------------- memhog, kbuild


def test_memhog():
    w = memhog("48G")
    pages = 48 * GIB_PAGES
    assert kinds(w) == [K_MMAP, K_PHASE, K_TOUCH, K_PHASE, K_UNMAP, K_EXIT]
    assert w.fill.tolist() == [0.0, 0.0, 1.0]
    assert w.page_events == pages and w.phases == ("write", "free")
    assert rows(w)[2] == (K_TOUCH, 0, pages, F_WRITE, 0)
    assert memhog(**w.params) == w
    with pytest.raises(ValueError, match="size"):
        memhog(0)


def test_kbuild_structure():
    w = kbuild(jobs=4, files=10, ram_per_job="1M", seed=3)
    assert (w.ntasks, w.nmm, w.phases) == (4, 4, ("build",))
    per_slot = [3, 3, 2, 2]
    for t in range(4):
        k = kinds(w, t)
        assert k == [K_PHASE] + [K_MMAP, K_TOUCH, K_TOUCH, K_UNMAP] * per_slot[t] + [K_EXIT]
        r = rows(w, t)[1:-1]
        nxt = 0
        for i in range(per_slot[t]):
            (_, a, b, _, _), (_, ta, tb, tf, _), (_, ra, rb, rf, _), (_, ua, ub, _, _) = r[4 * i : 4 * i + 4]
            assert a == nxt and (ta, tb, tf) == (a, b, F_WRITE) and (ua, ub) == (a, b)
            assert ra == a and 1 <= rb <= b and rf == 0
            assert 128 <= b <= 384  # 256 pages x [0.5, 1.5)
            nxt = a + b
        assert w.mm_pages[t] == nxt
    assert w.total_pages == int(w.mm_pages.sum())
    assert kbuild(**w.params) == w
    assert kbuild(jobs=4, files=10, ram_per_job="1M", seed=4) != w


def test_kbuild_defaults_are_a_few_million_page_events():
    w = kbuild()
    assert w.ntasks == 52
    assert 1_000_000 < w.page_events < 5_000_000
    assert w.fill.tolist() == [0.8, 0.2, 0.0]
    assert kbuild(jobs=8, files=3).ntasks == 3  # never more slots than compiles


@pytest.mark.parametrize(
    "kwargs, name",
    [({"jobs": 0}, "jobs"), ({"files": 0}, "files"), ({"ram_per_job": 0}, "ram_per_job"), ({"seed": -1}, "seed"), ({"fill": {"x": 1}}, "fill")],
)
def test_kbuild_bad_arguments(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        kbuild(**kwargs)


# --------------------------------------------------------------------------- churn


def churn_rounds(w, t):
    """Task t's rows cut into (head, [round rows, ...], tail): a round ends with the
    MMAP + TOUCH of its new VMA (a round without frees has no MMAP: then the rounds
    are not separable and this returns them as one)."""
    r = rows(w, t)
    start = 5  # MMAP, PHASE, TOUCH, BARRIER, PHASE
    end = max(i for i, row in enumerate(r) if row[0] == K_BARRIER)
    body, rounds, cur = r[start:end], [], []
    for i, row in enumerate(body):
        cur.append(row)
        if row[0] == K_TOUCH and row[2] and i > 0 and body[i - 1][0] == K_MMAP:
            rounds.append(cur)
            cur = []
    if cur:
        rounds.append(cur)
    return r[:start], rounds, r[end:]


def test_churn_replayed_page_by_page():
    """A plain-Python replay of every task's pages: each access and hole lies on
    mapped pages, holes and reads cover what the fractions say, every VMA is whole
    2 MiB at a 2 MiB boundary after the last, the pages mapped stay ``size``, and the
    free unmaps exactly what is left."""
    pages, rounds, rf = 2048, 4, 0.5
    w = churn("8M", nr_tasks=3, rounds=rounds, free_fraction=0.25, read_fraction=rf, seed=5)
    freed = 512
    assert (w.ntasks, w.nmm, w.phases) == (3, 3, ("write", "churn", "free"))
    assert w.mm_pages.tolist() == [pages + rounds * freed] * 3
    assert w.total_pages == 3 * (pages + rounds * freed)
    assert w.page_events == 3 * (pages + rounds * (round(rf * pages) + freed))
    assert w.fill.tolist() == [1.0, 0.0, 0.0]
    for t in range(3):
        head, body, tail = churn_rounds(w, t)
        assert head == [(K_MMAP, 0, pages, 0, 0), (K_PHASE, 0, 0, 0, 0), (K_TOUCH, 0, pages, F_WRITE, 0),
                        (K_BARRIER, 0, 0, 0, 0), (K_PHASE, 1, 0, 0, 0)]
        mapped, end = set(range(pages)), pages
        assert len(body) == rounds
        for rnd in body:
            *work, (k1, a1, b1, _, _), (k2, a2, b2, f2, _) = rnd
            kinds_ = [row[0] for row in work]
            assert kinds_ == sorted(kinds_, key=lambda k: k == K_UNMAP)  # reads, then holes
            reads = [row for row in work if row[0] == K_TOUCH]
            holes = [row for row in work if row[0] == K_UNMAP]
            assert all(row[3] == 0 for row in reads)  # read accesses
            for _, a, b, _, _ in reads:
                assert set(range(a, a + b)) <= mapped
            assert sum(b for _, _, b, _, _ in reads) == round(rf * pages)
            for _, a, b, _, _ in holes:
                hole = set(range(a, a + b))
                assert hole <= mapped  # never a page twice, never outside a VMA
                mapped -= hole
            assert sum(b for _, _, b, _, _ in holes) == freed
            assert (k1, a1, b1) == (K_MMAP, end, freed) and (k2, a2, b2, f2) == (K_TOUCH, end, freed, F_WRITE)
            assert a1 % 512 == 0 and b1 % 512 == 0
            mapped |= set(range(end, end + freed))
            end += freed
            assert len(mapped) == pages
        assert tail[:2] == [(K_BARRIER, 1, 0, 0, 0), (K_PHASE, 2, 0, 0, 0)] and tail[-1] == (K_EXIT, 0, 0, 0, 0)
        for _, a, b, _, _ in tail[2:-1]:
            assert set(range(a, a + b)) <= mapped
            mapped -= set(range(a, a + b))
        assert not mapped
    # the tasks draw their own ranges
    assert rows(w, 0)[5:] != rows(w, 1)[5:]


def test_churn_ranges_have_mixed_lengths_and_alignments():
    w = churn("64M", nr_tasks=1, rounds=4, free_fraction=0.25, read_fraction=0.25)
    _, body, _ = churn_rounds(w, 0)
    work = np.array([row for rnd in body for row in rnd[:-2]], dtype=np.int64)  # all but the new VMAs
    holes = work[work[:, 0] == K_UNMAP]
    reads = work[work[:, 0] == K_TOUCH]
    assert holes.shape[0] + reads.shape[0] == work.shape[0] and not reads[:, 3].any()
    for ranges in (holes, reads):
        lengths = ranges[:, 2]
        assert lengths.min() < 16 and lengths.max() > 256  # inside one 64K folio, and across many
        assert len(np.unique(ranges[:, 1] % 16)) >= 12  # starts at every alignment, or nearly


def test_churn_is_deterministic_and_rounds_extend_it():
    kw = {"size": "8M", "nr_tasks": 2, "free_fraction": 0.25, "read_fraction": 0.3, "seed": 11}
    w3 = churn(rounds=3, **kw)
    assert churn(rounds=3, **kw) == w3
    assert churn(**w3.params) == w3
    json.dumps(w3.params)
    assert churn(rounds=3, **{**kw, "seed": 12}) != w3
    w4 = churn(rounds=4, **kw)
    for t in range(2):
        head3, body3, _ = churn_rounds(w3, t)
        head4, body4, _ = churn_rounds(w4, t)
        assert head3 == head4 and body3 == body4[:3]  # round r does not depend on rounds


def test_churn_without_rounds_frees_or_reads():
    w = churn("4M", rounds=0)
    assert kinds(w) == [K_MMAP, K_PHASE, K_TOUCH, K_BARRIER, K_PHASE, K_BARRIER, K_PHASE, K_UNMAP, K_EXIT]
    assert w.page_events == 2 * 1024
    w = churn("4M", rounds=3, free_fraction=0, read_fraction=0.5)
    assert w.mm_pages.tolist() == [1024, 1024]
    churn_part = w.events[w.task_start[0] + 5 : w.task_start[1] - 4]
    assert set(churn_part[:, EV_KIND].tolist()) == {K_TOUCH} and not churn_part[:, EV_C].any()
    w = churn("4M", rounds=3, free_fraction=0.25, read_fraction=0)
    churn_part = w.events[w.task_start[0] + 5 : w.task_start[1] - 4]
    assert not ((churn_part[:, EV_KIND] == K_TOUCH) & (churn_part[:, EV_C] == 0)).any()


def test_churn_maps_whole_2mib():
    w = churn(5 << 20, nr_tasks=1, rounds=2, free_fraction=0.01)  # 5 MiB -> 6 MiB
    maps = w.events[w.events[:, EV_KIND] == K_MMAP]
    assert maps[:, EV_A].tolist() == [0, 1536, 2048] and maps[:, EV_B].tolist() == [1536, 512, 512]
    assert w.params["size"] == 5 << 20


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"size": 0}, "size"),
        ({"size": "1X"}, "size"),
        ({"size": "8M", "nr_tasks": 0}, "nr_tasks"),
        ({"size": "8M", "nr_tasks": 1.0}, "nr_tasks"),
        ({"size": "8M", "rounds": -1}, "rounds"),
        ({"size": "8M", "rounds": "3"}, "rounds"),
        ({"size": "8M", "free_fraction": 0.6}, "free_fraction"),
        ({"size": "8M", "free_fraction": -0.1}, "free_fraction"),
        ({"size": "8M", "free_fraction": float("nan")}, "free_fraction"),
        ({"size": "8M", "free_fraction": "0.2"}, "free_fraction"),
        ({"size": "2M", "free_fraction": 0.25}, "free_fraction"),  # 2 MiB a round is all of it
        ({"size": "8M", "read_fraction": 1.5}, "read_fraction"),
        ({"size": "8M", "read_fraction": True}, "read_fraction"),
        ({"size": "8M", "seed": -1}, "seed"),
        ({"size": "8M", "fill": {"x": 1}}, "fill"),
    ],
)
def test_churn_bad_arguments(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name) as info:
        churn(**kwargs)
    if kwargs.get("size") == "2M":
        assert "at least 4 MiB" in str(info.value)


# --------------------------------------------------------------------------- Workload, validate


def test_workload_repr_eq_and_make_workload():
    w = make_workload(
        "tiny",
        {"note": "hand-made"},
        ("a", "b"),
        [
            [(K_MMAP, 0, 10), (K_PHASE, "a"), (K_TOUCH, 0, 10, F_WRITE), (K_BARRIER, 0), (K_PHASE, "b"), (K_EXIT,)],
            [(K_BARRIER, 0), (K_TOUCH_RANDOM, 0, 10, 0, 5), (K_UNMAP, 0, 10), (K_EXIT,)],
        ],
        task_mm=[0, 0],
    )
    assert isinstance(w, Workload)
    assert (w.ntasks, w.nmm, w.nevents, w.page_events, w.total_pages) == (2, 1, 10, 15, 10)
    assert w.task_start.tolist() == [0, 6, 10]
    assert len(repr(w)) < 200 and "tiny" in repr(w)
    assert w == dataclasses.replace(w, events=w.events.copy())
    assert w != dataclasses.replace(w, task_cpu=np.array([0, -1], dtype=np.int64))
    assert w != dataclasses.replace(w, params={})
    assert w != dataclasses.replace(w, fill=np.array([0.5, 0.5, 0.0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.name = "other"


def corrupt(w, **changes):
    return dataclasses.replace(w, **changes)


def test_validate_catches_corruption():
    w = usemem("1M", nr_tasks=3, sync_rw=True)
    ev = w.events

    def with_events(f):
        e = ev.copy()
        f(e)
        return corrupt(w, events=e)

    def swap_rows_0_3(e):
        e[[0, 3]] = e[[3, 0]]

    cases = [
        (with_events(lambda e: e.__setitem__((0, EV_TASK), 1)), "grouped by task"),  # unsorted tasks
        (corrupt(w, events=np.concatenate([ev[7:14], ev[:7], ev[14:]])), "grouped by task"),
        (with_events(lambda e: e.__setitem__((3, EV_A), 200)), "not inside one VMA"),  # touch past the VMA
        (with_events(lambda e: e.__setitem__((3, EV_KIND), 9)), "unknown kind"),
        (with_events(lambda e: e.__setitem__((3, EV_C), 4)), "flag"),
        (with_events(lambda e: e.__setitem__((1, EV_A), 1)), "barrier"),
        (with_events(lambda e: e.__setitem__((2, EV_A), 5)), "phase"),
        (with_events(lambda e: e.__setitem__((6, EV_KIND), K_PHASE)), "EXIT"),
        (with_events(lambda e: e.__setitem__((5, EV_B), 0)), "length"),
        (with_events(lambda e: e.__setitem__((6, EV_A), 1)), "non-zero column a"),
        (with_events(swap_rows_0_3), "maps only later"),  # touch before its mmap
        (corrupt(w, events=ev.astype(np.int32)), "int64"),
        (corrupt(w, events=np.asfortranarray(ev)), "C-contiguous"),
        (corrupt(w, task_mm=np.array([0, 0, 1], dtype=np.int64)), "mm_pages"),
        (corrupt(w, mm_pages=w.mm_pages + 1), "mm_pages"),
        (corrupt(w, task_start=np.array([0, 7, 14], dtype=np.int64)), "task_start"),
        (corrupt(w, task_cpu=np.array([-2, 0, 0], dtype=np.int64)), "task_cpu"),
        (corrupt(w, fill=np.array([0.5, 0.4, 0.0])), "fill"),
        (corrupt(w, phases=("write",)), "phase"),
        (corrupt(w, params={"t": (1, 2)}), "params"),
        (corrupt(w, name=""), "name"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            bad.validate()


def test_validate_catches_use_after_unmap_and_overlapping_maps():
    with pytest.raises(ValueError, match="unmapped at row"):
        make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_UNMAP, 2, 2), (K_TOUCH, 3, 1), (K_EXIT,)]])
    # touching the part that is still mapped is fine
    make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_UNMAP, 2, 2), (K_TOUCH, 4, 4), (K_EXIT,)]])
    with pytest.raises(ValueError, match="overlapping"):
        make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_MMAP, 4, 8), (K_EXIT,)]])
    # two processes may map the same vpns: each has its own mm
    make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_EXIT,)], [(K_MMAP, 0, 8), (K_EXIT,)]])
    # a thread may touch what a sibling mapped
    make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_EXIT,)], [(K_TOUCH, 0, 8), (K_EXIT,)]], task_mm=[0, 0])
    with pytest.raises(ValueError, match="VMA"):
        make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_EXIT,)], [(K_TOUCH, 0, 8), (K_EXIT,)]])
    # past the end of its own mm, where another mm's pages would be (found by the reference)
    with pytest.raises(ValueError, match="VMA"):
        make_workload("x", {}, ("p",), [[(K_MMAP, 0, 4), (K_TOUCH, 9, 1), (K_EXIT,)], [(K_MMAP, 0, 8), (K_EXIT,)]])


def test_validate_names_the_first_unmap_an_access_runs_into():
    # several earlier unmaps under one access: the message names the first in row order
    tasks = [[(K_MMAP, 0, 16), (K_UNMAP, 9, 2), (K_UNMAP, 2, 2), (K_UNMAP, 5, 1), (K_TOUCH, 0, 12), (K_EXIT,)]]
    with pytest.raises(ValueError, match=r"row 4 \(TOUCH, task 0\) uses vpns \[0, 12\) that the task unmapped at row 1"):
        make_workload("x", {}, ("p",), tasks)
    # an unmap of a page already unmapped, in another VMA of the same task, and a range
    # that ends where a hole starts
    with pytest.raises(ValueError, match="row 5 .*unmapped at row 3"):
        make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_MMAP, 8, 8), (K_UNMAP, 2, 2), (K_UNMAP, 10, 3),
                                         (K_TOUCH, 0, 2), (K_UNMAP, 12, 4), (K_EXIT,)]])
    make_workload("x", {}, ("p",), [[(K_MMAP, 0, 8), (K_UNMAP, 4, 2), (K_TOUCH, 0, 4), (K_TOUCH, 6, 2), (K_EXIT,)]])


# a plain-Python validator for random small workloads


def naive_valid(tasks, task_mm, nphases):
    maps = {}  # mm -> list of (start, end, task, row)
    row = 0
    flat = []
    for t, evs in enumerate(tasks):
        for e in evs:
            flat.append((t, row) + tuple(e) + (0,) * (5 - len(e)))
            row += 1
    used = {K_MMAP: "ab", K_TOUCH: "abc", K_TOUCH_RANDOM: "abcd", K_BARRIER: "a", K_UNMAP: "ab", K_EXIT: "", K_PHASE: "a"}
    for t, evs in enumerate(tasks):
        if not evs or evs[-1][0] != K_EXIT or sum(e[0] == K_EXIT for e in evs) != 1:
            return False
        barriers = [e[1] for e in evs if e[0] == K_BARRIER]
        if barriers != list(range(len(barriers))):
            return False
    for t, r, k, a, b, c, d in flat:
        if k not in used:
            return False
        if any(v != 0 for v, n in zip((a, b, c, d), "abcd") if n not in used[k]):
            return False
        if k in (K_MMAP, K_TOUCH, K_TOUCH_RANDOM, K_UNMAP) and (a < 0 or b < 1):
            return False
        if k in (K_TOUCH, K_TOUCH_RANDOM) and c & ~F_WRITE:
            return False
        if k == K_TOUCH_RANDOM and d < 1:
            return False
        if k == K_PHASE and not 0 <= a < nphases:
            return False
        if k == K_MMAP:
            maps.setdefault(task_mm[t], []).append((a, a + b, t, r))
    for vmas in maps.values():
        for i, (s1, e1, _, _) in enumerate(vmas):
            for s2, e2, _, _ in vmas[i + 1 :]:
                if s1 < e2 and s2 < e1:
                    return False
    unmapped = {}  # task -> list of (start, end)
    for t, r, k, a, b, c, d in flat:
        if k not in (K_TOUCH, K_TOUCH_RANDOM, K_UNMAP):
            continue
        vma = [v for v in maps.get(task_mm[t], []) if v[0] <= a and a + b <= v[1]]
        if not vma:
            return False
        _, _, mt, mr = vma[0]
        if mt == t and mr > r:
            return False
        if any(s < a + b and a < e for s, e in unmapped.get(t, [])):
            return False
        if k == K_UNMAP:
            unmapped.setdefault(t, []).append((a, a + b))
    return True


@st.composite
def small_workloads(draw):
    """Mostly valid hand-shaped workloads (VMAs on a grid of 4-page slots, accesses near
    them, barriers in order), some with one field set to a random value."""
    ntasks = draw(st.integers(1, 3))
    ids = {}
    task_mm = [ids.setdefault(draw(st.integers(0, 2)), len(ids)) for _ in range(ntasks)]
    slots = [draw(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True)) for _ in range(ntasks)]
    tasks = []
    for t in range(ntasks):
        evs = [(K_MMAP, t * 32 + sl * 4, draw(st.sampled_from([4, 4, 4, 2]))) for sl in slots[t]]
        nb = 0
        for _ in range(draw(st.integers(0, 6))):
            k = draw(st.sampled_from([K_TOUCH, K_TOUCH, K_TOUCH_RANDOM, K_UNMAP, K_MMAP, K_BARRIER, K_PHASE]))
            owner = draw(st.sampled_from([t] * 5 + [(t + 1) % ntasks]))
            a = owner * 32 + draw(st.sampled_from(slots[owner])) * 4 + draw(st.sampled_from([0, 0, 1, 2]))
            b = draw(st.sampled_from([1, 1, 2, 3]))
            if k == K_MMAP:
                evs.append((k, t * 32 + 16 + draw(st.integers(0, 3)) * 4, b))
            elif k == K_TOUCH:
                evs.append((k, a, b, draw(st.integers(0, 1))))
            elif k == K_TOUCH_RANDOM:
                evs.append((k, a, b, draw(st.integers(0, 1)), draw(st.integers(1, 3))))
            elif k == K_UNMAP:
                evs.append((k, a, b))
            elif k == K_BARRIER:
                evs.append((k, nb))
                nb += 1
            else:
                evs.append((k, draw(st.integers(0, 1))))
        evs.append((K_EXIT,))
        tasks.append(evs)
    if draw(st.integers(0, 3)) == 0:
        t = draw(st.integers(0, ntasks - 1))
        i = draw(st.integers(0, len(tasks[t]) - 1))
        e = list(tasks[t][i]) + [0] * (5 - len(tasks[t][i]))
        e[draw(st.integers(0, 4))] = draw(st.integers(-1, 9))
        tasks[t][i] = tuple(e)
    return tasks, task_mm


@settings(max_examples=400, deadline=None)
@given(small_workloads())
def test_validate_agrees_with_plain_python(case):
    tasks, task_mm = case
    want = naive_valid(tasks, task_mm, 2)
    try:
        make_workload("random", {}, ("p0", "p1"), tasks, task_mm=task_mm)
        got = True
    except ValueError:
        got = False
    assert got == want, (tasks, task_mm)


# --------------------------------------------------------------------------- traces


WORKLOADS = {
    "usemem": lambda: usemem("2M", nr_tasks=3, sync_rw=True, sync_free=True, read_back=True, fill={"zero": 0.1, "sequence": 0.9}),
    "usemem_threads": lambda: usemem("1M", nr_tasks=4, threads=True, random=True, bind=2),
    "memhog": lambda: memhog("8M"),
    "kbuild": lambda: kbuild(jobs=5, files=17, ram_per_job="2M", seed=9, fill={"sequence": 1 / 3, "zero": 1 / 3, "same": 1 / 3}),
    "churn": lambda: churn("4M", rounds=2, seed=3, fill={"zero": 0.25, "sequence": 0.75}),
}


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
@pytest.mark.parametrize("which", sorted(WORKLOADS))
def test_trace_round_trip(tmp_path, which, suffix):
    w = WORKLOADS[which]()
    path = tmp_path / f"trace{suffix}"
    write_trace(w, path)
    assert path.exists()
    back = read_trace(path)
    assert back == w
    assert back.events.flags.c_contiguous and back.events.dtype == np.int64
    assert back.fill.tobytes() == w.fill.tobytes()


def test_trace_csv_is_readable_text(tmp_path):
    path = tmp_path / "m.csv"
    write_trace(memhog("4M"), path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# ") and json.loads(lines[0][2:])["format"] == "vswap_nb-trace-1"
    assert lines[1] == "task,kind,a,b,c,d"
    assert lines[2:] == ["0,1,0,1024,0,0", "0,7,0,0,0,0", "0,2,0,1024,1,0", "0,7,1,0,0,0", "0,5,0,1024,0,0", "0,6,0,0,0,0"]


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_truncated_trace_raises_naming_the_file(tmp_path, suffix):
    w = WORKLOADS["usemem"]()
    path = tmp_path / f"t{suffix}"
    write_trace(w, path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 3, 10):
        bad = tmp_path / f"cut{cut}{suffix}"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}{suffix}"):
            read_trace(bad)
    if suffix == ".csv":  # cut at a line boundary: rows missing
        text = path.read_text().splitlines(keepends=True)
        bad = tmp_path / "lines.csv"
        bad.write_text("".join(text[:-4]))
        with pytest.raises(ValueError, match="lines.csv.*truncated"):
            read_trace(bad)


def test_trace_wrong_version_and_garbage(tmp_path):
    w = memhog("4M")
    path = tmp_path / "v.csv"
    write_trace(w, path)
    text = path.read_text().replace("vswap_nb-trace-1", "vswap_nb-trace-9")
    path.write_text(text)
    with pytest.raises(ValueError, match="v.csv.*vswap_nb-trace-9"):
        read_trace(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="junk.npz"):
        read_trace(junk)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(ValueError, match="other.npz.*missing"):
        read_trace(other)
    with pytest.raises(ValueError, match=r"\.npz.*\.csv"):
        write_trace(w, tmp_path / "w.txt")
    # a valid file whose events were edited into an invalid workload
    path = tmp_path / "edited.csv"
    write_trace(w, path)
    path.write_text(path.read_text().replace("0,2,0,1024,1,0", "0,2,0,2048,1,0"))
    with pytest.raises(ValueError, match="edited.csv.*VMA"):
        read_trace(path)


def test_usemem_and_kbuild_put_tasks_in_cgroups_round_robin():
    w = v.usemem("4M", nr_tasks=5, cgroups=2)
    assert w.task_memcg.tolist() == [0, 1, 0, 1, 0] and w.nmemcg == 2 and w.params["cgroups"] == 2
    assert v.usemem("4M", nr_tasks=3).nmemcg == 1 and "cgroups" not in v.usemem("4M").params
    k = v.kbuild(jobs=3, files=6, ram_per_job="1M", cgroups=3)
    assert k.task_memcg.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="cgroups"):
        v.usemem("4M", nr_tasks=2, cgroups=3)
    with pytest.raises(ValueError, match="threads share one process"):
        v.usemem("4M", nr_tasks=2, threads=True, cgroups=2)
    with pytest.raises(ValueError, match="cgroups"):
        v.kbuild(jobs=2, files=6, cgroups=3)


def test_task_memcg_survives_a_trace_and_old_traces_mean_one_cgroup(tmp_path):
    w = v.usemem("4M", nr_tasks=2, cgroups=2)
    for name in ("t.npz", "t.csv"):
        v.write_trace(w, tmp_path / name)
        back = v.read_trace(tmp_path / name)
        assert back == w and back.task_memcg.tolist() == [0, 1]
    # a trace written before task_memcg existed: every task in cgroup 0
    with np.load(tmp_path / "t.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "task_memcg"}
    with open(tmp_path / "old.npz", "wb") as f:
        np.savez_compressed(f, **arrays)
    old = v.read_trace(tmp_path / "old.npz")
    assert old.task_memcg.tolist() == [0, 0] and old.nmemcg == 1
