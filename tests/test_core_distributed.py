"""Data-parallel STDP: the collectives of ``stdpwidgets.core.distributed``, on a one-process gloo
group and across two spawned processes, and a batch split 4 + 2 across two ranks learning
exactly as one process on the whole batch of 6.

The spawned worker is a module-level function (``torch.multiprocessing.spawn`` pickles it by
name); the ranks meet through a file store in a temporary folder and hand their results back as
files. A spawn costs seconds of start-up, so one spawn (the module-scoped ``two_ranks``
fixture) runs everything the two-rank tests check: the functions, 50 learner configurations,
and runs cut into small chunks.
"""

from __future__ import annotations

import datetime
import inspect
import itertools

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from stdpwidgets import STDPLearner, STDPRule, TripletRule
from stdpwidgets.core import distributed
from stdpwidgets.core.distributed import all_reduce_sum, any_over_ranks, global_count, resolve_process_group

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed with gloo"
)

TIMEOUT = datetime.timedelta(seconds=60)  # a rank that misses a collective fails, not hangs
SPLIT = (4, 2)  # the batch of 6, unequally across the two ranks


@pytest.fixture
def one_process_group(tmp_path):
    """A gloo default group of one process (world size 1), torn down after the test."""
    if dist.is_initialized():
        pytest.skip("a default process group is already initialised in this process")
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1, timeout=TIMEOUT
    )
    try:
        yield dist.group.WORLD
    finally:
        dist.destroy_process_group()


def _join(rank, store):
    torch.set_num_threads(1)  # two ranks on a shared 2-core box
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2, timeout=TIMEOUT)


# ---------------------------------------------------------------- resolve_process_group


def test_resolve_none_and_false_mean_no_group():
    assert resolve_process_group(None) is None
    assert resolve_process_group(False) is None


def test_resolve_true_is_the_default_group(one_process_group):
    group = resolve_process_group(True)
    assert isinstance(group, dist.ProcessGroup)
    assert group is dist.group.WORLD
    assert resolve_process_group(dist.group.WORLD) is dist.group.WORLD


def test_resolve_passes_a_group_through(one_process_group):
    sub = dist.new_group([0])
    assert resolve_process_group(sub) is sub


def test_resolve_true_without_init_says_how():
    if dist.is_initialized():
        pytest.skip("a default process group is already initialised in this process")
    with pytest.raises(ValueError, match=r"init_process_group.*torchrun"):
        resolve_process_group(True)


@pytest.mark.parametrize("bad", [1, 0, "world", 1.0, [0, 1], object()])
def test_resolve_refuses_other_types(bad):
    with pytest.raises(TypeError, match="process_group"):
        resolve_process_group(bad)


def test_resolve_refuses_a_group_this_rank_is_not_in():
    with pytest.raises(ValueError, match="not a member"):
        resolve_process_group(dist.GroupMember.NON_GROUP_MEMBER)


# ---------------------------------------------------------------- one process


def test_all_reduce_sum_of_one_rank_is_a_copy(one_process_group):
    p = torch.arange(12.0).reshape(3, 4)
    d = torch.arange(6.0).reshape(2, 3).T  # not contiguous
    p0, d0 = p.clone(), d.clone()
    out = all_reduce_sum([p, d], one_process_group)
    assert [o.shape for o in out] == [p.shape, d.shape]
    assert torch.equal(out[0], p0) and torch.equal(out[1], d0)
    assert torch.equal(p, p0) and torch.equal(d, d0)  # inputs untouched
    out[0].add_(1.0)  # new memory: changing the result leaves the input alone
    assert torch.equal(p, p0)


def test_all_reduce_sum_is_one_collective(one_process_group, monkeypatch):
    calls = []
    real = dist.all_reduce

    def counting(tensor, *args, **kwargs):
        calls.append(tensor.numel())
        return real(tensor, *args, **kwargs)

    monkeypatch.setattr(dist, "all_reduce", counting)
    tensors = [torch.ones(3, 4), torch.ones(5), torch.ones(2, 2, 2), torch.ones(0)]
    out = all_reduce_sum(tensors, one_process_group)
    assert calls == [12 + 5 + 8 + 0]
    assert [tuple(o.shape) for o in out] == [(3, 4), (5,), (2, 2, 2), (0,)]


def test_all_reduce_sum_without_group_returns_the_tensors():
    p, d = torch.ones(2), torch.zeros(3)
    out = all_reduce_sum([p, d], None)
    assert out[0] is p and out[1] is d


def test_all_reduce_sum_refuses_bad_tensors(one_process_group):
    with pytest.raises(ValueError, match="dtype and device"):
        all_reduce_sum([torch.ones(2), torch.ones(2, dtype=torch.float64)], one_process_group)
    with pytest.raises(ValueError, match="at least one"):
        all_reduce_sum([], one_process_group)
    with pytest.raises(TypeError, match="list of tensors"):
        all_reduce_sum(torch.ones(2), one_process_group)
    with pytest.raises(TypeError, match=r"tensors\[1\]"):
        all_reduce_sum([torch.ones(2), 3.0], one_process_group)


def test_global_count_of_one_rank(one_process_group):
    assert global_count(6, one_process_group, "cpu") == 6
    assert global_count(0, one_process_group, torch.device("cpu")) == 0
    assert global_count(5, None, "cpu") == 5


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2.0, TypeError), (True, TypeError), ("6", TypeError)])
def test_global_count_refuses_bad_counts(bad, error):
    with pytest.raises(error, match="n_local"):
        global_count(bad, None, "cpu")


def test_any_over_ranks_of_one_rank(one_process_group):
    mask = torch.tensor([True, False, True, False])
    out = any_over_ranks(mask, one_process_group)
    assert out.dtype == torch.bool and torch.equal(out, mask)
    assert any_over_ranks(mask, None) is mask


def test_any_over_ranks_refuses_other_dtypes():
    with pytest.raises(TypeError, match="bool tensor"):
        any_over_ranks(torch.tensor([1, 0]), None)
    with pytest.raises(TypeError, match="bool tensor"):
        any_over_ranks([True], None)


def test_module_imports_torch_only():
    source = inspect.getsource(distributed)
    imports = [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert set(imports) <= {"__future__", "numbers", "typing", "torch"}, imports


# ---------------------------------------------------------------- two processes


def _check_functions(rank):
    """The four functions on this rank: what they return, for the parent to compare."""
    group = resolve_process_group(True)
    g = torch.Generator().manual_seed(100 + rank)
    p = torch.randn(3, 4, generator=g)
    d = torch.randn(5, generator=g, dtype=torch.float64)
    q = torch.randn(2, 3, generator=g)
    p_before = p.clone()
    sums32 = all_reduce_sum([p, q], group)
    sums64 = all_reduce_sum([d], group)
    count = global_count(SPLIT[rank], group, "cpu")
    mask = torch.tensor([[True, False, False], [False, False, True]]) if rank == 0 else \
        torch.tensor([[False, False, True], [False, False, False]])
    union = any_over_ranks(mask, group)
    try:
        any_over_ranks(torch.zeros(3 + rank, dtype=torch.bool), group)
        mismatch = None
    except ValueError as err:
        mismatch = str(err)
    return {"inputs": (p_before, q, d), "p_after": p, "sums": sums32 + sums64, "count": count,
            "union": union, "mismatch": mismatch}


def test_the_four_functions_on_two_ranks(two_ranks):
    results = [rank["functions"] for rank in two_ranks]
    (p0, q0, d0), (p1, q1, d1) = results[0]["inputs"], results[1]["inputs"]
    expected = [p0 + p1, q0 + q1, d0 + d1]
    for rank, result in enumerate(results):
        assert torch.equal(result["p_after"], result["inputs"][0])  # inputs untouched
        for got, want in zip(result["sums"], expected):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert torch.equal(got, want)  # two summands: exact, whatever the order
        assert result["count"] == 6
        assert torch.equal(result["union"], torch.tensor([[True, False, True], [False, False, True]]))
        assert result["mismatch"] is not None and "between 3 and 4" in result["mismatch"]


# ---------------------------------------------------------------- the learner end to end

T_STEPS = 20


def _rule(name):
    if name == "additive":
        return STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.02, a_minus=0.021, w_min=0.0, w_max=1.0)
    if name == "multiplicative":
        return STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.02, a_minus=0.021,
                        weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
    return TripletRule.preset("visual-cortex-all-to-all-minimal", weight_dependence="additive",
                              w_min=0.0, w_max=1.0)


def _case_data(layer_name, dtype):
    """The layer (seeded weight in [0, 1]) and 20 steps of spikes of the whole batch of 6.

    Some steps are silent on one rank's samples only, so the ranks' event steps differ and
    run() must process their union.
    """
    torch.manual_seed(7)
    if layer_name == "linear":
        layer = nn.Linear(16, 8, bias=False)
        pre_shape, post_shape, rate = (16,), (8,), 0.25
    else:  # a weight sees 16 output positions: a lower rate for changes of the same size
        layer = nn.Conv2d(2, 3, 3, bias=False)
        pre_shape, post_shape, rate = (2, 6, 6), (3, 4, 4), 0.1
    layer = layer.to(dtype)
    with torch.no_grad():
        layer.weight.uniform_(0.0, 1.0)
    g = torch.Generator().manual_seed(8)
    batch = sum(SPLIT)
    pre = torch.rand(T_STEPS, batch, *pre_shape, generator=g) < rate
    post = torch.rand(T_STEPS, batch, *post_shape, generator=g) < rate
    for t in (2, 6, 11):  # silent on rank 1's samples
        pre[t, SPLIT[0]:] = False
        post[t, SPLIT[0]:] = False
    for t in (4, 9):  # silent on rank 0's samples
        pre[t, : SPLIT[0]] = False
        post[t, : SPLIT[0]] = False
    pre[15], post[15] = False, False  # silent everywhere
    return layer, pre.to(dtype), post.to(dtype)


CASES = [
    dict(layer=layer, rule=rule, reduction=reduction, update=update, method=method, dtype=torch.float32)
    for layer, rule, reduction, update, method in itertools.product(
        ("linear", "conv"), ("additive", "multiplicative", "triplet"), ("sum", "mean"),
        ("in-place", "grad"), ("step", "run"))
] + [
    dict(layer="linear", rule="multiplicative", reduction="mean", update="in-place", method=method,
         dtype=torch.float64)
    for method in ("step", "run")
]


def _learn(case, samples, process_group):
    """The learner's weight (in place) or .grad after 20 steps of ``samples`` of the batch, and
    its postsynaptic trace."""
    layer, pre, post = _case_data(case["layer"], case["dtype"])
    kwargs = {} if process_group is None else {"process_group": process_group}
    learner = STDPLearner(layer, _rule(case["rule"]), dt=1.0, reduction=case["reduction"],
                          update=case["update"], **kwargs)
    pre, post = pre[:, samples], post[:, samples]
    if case["method"] == "step":
        for t in range(T_STEPS):
            learner.step(pre[t], post[t])
    else:
        learner.run(pre, post)
    result = layer.weight.grad if case["update"] == "grad" else layer.weight
    return result.detach().clone(), learner.post_trace.clone()


def test_a_split_batch_learns_as_one_process(two_ranks, one_torch_thread):
    ranks = _outcome(two_ranks, "learner")
    for i, case in enumerate(CASES):
        whole, whole_trace = _learn(case, slice(None), None)
        start = _case_data(case["layer"], case["dtype"])[0].weight.detach()
        moved = whole if case["update"] == "grad" else whole - start
        assert moved.abs().max() > 5e-2, (case, "the case learns too little to test anything")
        (w0, trace0), (w1, trace1) = ranks[0][i], ranks[1][i]
        assert torch.equal(w0, w1), case  # the ranks hold the same weight, bit for bit
        tolerance = 1e-12 if case["dtype"] == torch.float64 else 1e-6
        error = (w0 - whole).abs().max().item()
        assert error <= tolerance, (case, error)
        # traces stay local: each rank's are its own samples' traces of the whole batch
        assert torch.equal(trace0, whole_trace[: SPLIT[0]]) and torch.equal(trace1, whole_trace[SPLIT[0]:]), case


# A run() splits its events into chunks by a memory budget per chunk; with a small budget the
# ranks' unequal batches would give them different chunks, and so different numbers of
# collectives, unless the chunking is made the same on every rank.
CHUNK_BUDGET = 3300  # elements: 2 events per chunk for 4 samples of Linear(16, 8), 3 for 2 samples
CHUNKED_CASES = [c for c in CASES if c["method"] == "run" and c["layer"] == "linear"
                 and c["dtype"] == torch.float32 and c["rule"] in ("additive", "multiplicative")]


def _small_chunks() -> bool:
    """Shrink run()'s chunk budget (elements per chunk of events)."""
    from stdpwidgets.core import event_run

    event_run.CHUNK_ELEMENTS = CHUNK_BUDGET
    return True


def test_a_split_batch_learns_as_one_process_in_small_chunks(two_ranks, one_torch_thread):
    ranks = _outcome(two_ranks, "chunked")
    for i, case in enumerate(CHUNKED_CASES):
        whole, _ = _learn(case, slice(None), None)
        (w0, _), (w1, _) = ranks[0][i], ranks[1][i]
        assert torch.equal(w0, w1), case
        assert (w0 - whole).abs().max().item() <= 1e-6, case


def test_the_cases_cover_every_combination():
    assert len(CASES) == 2 * 3 * 2 * 2 * 2 + 2


# ---------------------------------------------------------------- the one spawn


def _attempt(work):
    """``work()``, or the traceback of its exception: a failing learner part (no glue yet) must
    not cost the results of the other parts."""
    import traceback

    try:
        return {"result": work(), "error": None}
    except Exception:  # noqa: BLE001 - reported to the parent, which fails the test with it
        return {"result": None, "error": traceback.format_exc()}


def _worker(rank, store, out_dir):
    """Everything the two-rank tests need, in one spawn (start-up costs seconds)."""
    _join(rank, store)
    try:
        samples = slice(0, SPLIT[0]) if rank == 0 else slice(SPLIT[0], None)
        results = {"functions": _check_functions(rank)}
        results["learner"] = _attempt(lambda: [_learn(case, samples, True) for case in CASES])
        # last: it shrinks the chunk budget for the rest of this process
        results["chunked"] = _attempt(
            lambda: [_learn(case, samples, True) for case in CHUNKED_CASES] if _small_chunks() else None)
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Each rank's results: the functions' checks and the learner's runs on its 4 or 2 samples."""
    folder = tmp_path_factory.mktemp("two_ranks")
    mp.spawn(_worker, args=(str(folder / "store"), str(folder)), nprocs=2, join=True)
    return [torch.load(folder / f"rank{rank}.pt") for rank in range(2)]


def _outcome(two_ranks, part):
    """Both ranks' results of one part; the rank's traceback as the failure if it raised."""
    for rank, results in enumerate(two_ranks):
        if results[part]["error"] is not None:
            pytest.fail(f"rank {rank} raised:\n{results[part]['error']}", pytrace=False)
    return [results[part]["result"] for results in two_ranks]
