"""Soak: many steps of one learner, checking that nothing accumulates and nothing drifts out of bounds.

For each configuration (a rule on a layer) the learner is driven twice from the same start, by
``step()`` one step at a time and by ``run()`` in chunks, with random spikes (5 % per step by
default). At intervals it prints the resident memory (RSS, from ``/proc/self/statm``; the peak
from ``resource.getrusage`` where ``/proc`` is missing) and the time per step, and at the end it
asserts the invariants of the reliability review's soak:

- memory flat: RSS after warm-up grows by less than ``--max-growth-mb`` (default 32 MB) and the
  number of Python objects by less than 1000 (no history, no graph, no cache that grows);
- no autograd graph: ``weight.grad_fn is None``, ``weight.is_leaf``, ``weight.grad is None`` (in
  place mode), every trace has no ``grad_fn`` and does not require grad, although the layer's
  weight requires grad and grad mode is on;
- weights stay inside ``[w_min, w_max]`` and everything (weights, traces) is finite;
- the learner counted every step.

Configurations: ``STDPRule`` and ``TripletRule`` (additive, weights in [0, 1]) on
``Linear(256, 256)`` (batch 4) and on ``Conv2d(2, 8, 5)`` over 16x16 inputs (batch 4).

Usage::

    python benchmarks/soak.py --steps 100000                  # every configuration 10^5 steps
    python benchmarks/soak.py --steps 100000 --others 20000   # the first 10^5, the others 2x10^4
    python benchmarks/soak.py --steps 2000 --only stdp-linear # a quick look

Results go to ``benchmarks/results/soak_<device>.txt`` (``--out`` to change); the script exits
non-zero when an invariant fails. It is not part of the test suite (it is a long run).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule, TripletRule

RESULTS = Path(__file__).resolve().parent / "results"
W_MIN, W_MAX = 0.0, 1.0
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident set size now, MB (``/proc/self/statm``); the peak RSS where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE / 1e6
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def make_rule(kind: str):
    if kind == "stdp":
        return STDPRule(16.8, 33.7, 0.01, 0.0105, w_min=W_MIN, w_max=W_MAX)
    return TripletRule(16.8, 33.7, 101.0, 125.0, 5e-3, 7e-3, 6.2e-3, 2.3e-4, w_min=W_MIN, w_max=W_MAX)


def make_layer(kind: str, device: torch.device) -> Tuple[nn.Module, Tuple[int, ...], Tuple[int, ...]]:
    """The layer, the shape of one step's pre spikes and of its post spikes (batch 4)."""
    torch.manual_seed(0)
    if kind == "linear":
        layer = nn.Linear(256, 256, bias=False)
        pre, post = (4, 256), (4, 256)
    else:
        layer = nn.Conv2d(2, 8, 5, bias=False)
        pre, post = (4, 2, 16, 16), (4, 8, 12, 12)
    with torch.no_grad():
        layer.weight.uniform_(W_MIN, W_MAX)
    return layer.to(device), pre, post


def spikes(shape, steps: int, density: float, generator: torch.Generator, device) -> torch.Tensor:
    return torch.rand((steps, *shape), generator=generator, device=device) < density


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def check(learner: STDPLearner, layer: nn.Module, expected_steps: int) -> Dict[str, bool]:
    """The invariants, by name (True = holds)."""
    weight = layer.weight
    traces = learner.traces or {}
    return {
        "weight.grad_fn is None": weight.grad_fn is None,
        "weight.is_leaf": weight.is_leaf,
        "weight.requires_grad (so no_grad is what keeps the graph away)": weight.requires_grad,
        "weight.grad is None": weight.grad is None,
        "traces have no grad_fn": all(t.grad_fn is None for t in traces.values()),
        "traces do not require grad": not any(t.requires_grad for t in traces.values()),
        "weights finite": bool(torch.isfinite(weight).all()),
        f"weights inside [{W_MIN:g}, {W_MAX:g}]": bool(((weight >= W_MIN) & (weight <= W_MAX)).all()),
        "traces finite": all(bool(torch.isfinite(t).all()) for t in traces.values()),
        "steps counted": learner.steps == expected_steps,
    }


def soak(rule_kind: str, layer_kind: str, mode: str, steps: int, chunk: int, density: float,
         device: torch.device, report_every: int, max_growth_mb: float, log: Callable[[str], None]) -> bool:
    """Drive one learner ``steps`` steps by ``mode`` ('step' or 'run'); log progress; True if all invariants hold."""
    layer, pre_shape, post_shape = make_layer(layer_kind, device)
    learner = STDPLearner(layer, make_rule(rule_kind), dt=1.0)
    generator = torch.Generator(device=device).manual_seed(1)
    step_times: List[float] = []  # seconds per step, one entry per chunk (preallocated-size list)
    first_block = last_block = float("nan")
    rss = [rss_mb()]
    warm_rss = warm_objects = None
    done = 0
    start_all = time.perf_counter()
    next_report = 0
    while done < steps:
        n = min(chunk, steps - done)
        pre = spikes(pre_shape, n, density, generator, device)
        post = spikes(post_shape, n, density, generator, device)
        sync(device)
        start = time.perf_counter()
        if mode == "step":
            for t in range(n):
                learner.step(pre[t], post[t])
        else:
            learner.run(pre, post)
        sync(device)
        per_step = (time.perf_counter() - start) / n
        step_times.append(per_step)
        done += n
        del pre, post
        if math.isnan(first_block):
            first_block = per_step
        last_block = per_step
        if warm_rss is None and done >= min(steps, 5 * chunk):  # after warm-up: allocator pools, caches
            gc.collect()
            warm_rss, warm_objects = rss_mb(), len(gc.get_objects())
        if done >= next_report or done == steps:
            rss.append(rss_mb())
            log(f"  {done:>7d} steps  RSS {rss[-1]:7.1f} MB  {per_step * 1e6:8.1f} us/step (last chunk)")
            next_report += report_every
    total = time.perf_counter() - start_all
    gc.collect()
    end_rss, end_objects = rss_mb(), len(gc.get_objects())
    if warm_rss is None:
        warm_rss, warm_objects = end_rss, end_objects
    results = check(learner, layer, steps)
    results[f"RSS growth after warm-up < {max_growth_mb:g} MB"] = end_rss - warm_rss < max_growth_mb
    results["Python objects after warm-up grow by < 1000"] = end_objects - warm_objects < 1000
    log(f"  total {total:.2f} s (spike generation included); {statistics.median(step_times) * 1e6:.1f} us/step "
        f"median over chunks, first chunk {first_block * 1e6:.1f}, last chunk {last_block * 1e6:.1f}")
    log(f"  RSS {rss[0]:.1f} MB at start, {warm_rss:.1f} MB after warm-up, {end_rss:.1f} MB at the end "
        f"(growth after warm-up {end_rss - warm_rss:+.1f} MB); Python objects {warm_objects} -> {end_objects}")
    failed = [name for name, ok in results.items() if not ok]
    log("  invariants: " + ("all hold (" + "; ".join(results) + ")" if not failed else "FAILED: " + "; ".join(failed)))
    return not failed


CONFIGS = [("stdp", "linear"), ("triplet", "linear"), ("stdp", "conv"), ("triplet", "conv")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps of the first configuration (and of all, "
                        "unless --others is given)")
    parser.add_argument("--others", type=int, default=None, help="steps of the other configurations")
    parser.add_argument("--only", choices=[f"{r}-{l}" for r, l in CONFIGS], action="append",
                        help="run only these configurations (repeatable)")
    parser.add_argument("--modes", default="step,run", help="comma-separated: step, run (default both)")
    parser.add_argument("--chunk", type=int, default=1000, help="steps per run() call and per spike batch")
    parser.add_argument("--density", type=float, default=0.05, help="spike probability per step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--max-growth-mb", type=float, default=32.0)
    parser.add_argument("--out", type=Path, default=None, help="results file (default results/soak_<device>.txt)")
    args = parser.parse_args(argv)
    if args.steps < 1 or (args.others is not None and args.others < 1) or args.chunk < 1:
        parser.error("--steps, --others and --chunk must be >= 1")
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    out = args.out or RESULTS / f"soak_{device.type}.txt"
    lines: List[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    configs = [c for c in CONFIGS if args.only is None or f"{c[0]}-{c[1]}" in args.only]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    log(f"# soak {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: torch {torch.__version__}, {device}, "
        f"{args.threads} thread(s), Python {platform.python_version()}, {os.cpu_count()} CPUs (shared machine: "
        f"times are indicative)")
    log(f"# spikes {args.density:.0%} per step, batch 4, chunks of {args.chunk} steps; layers Linear(256, 256), "
        f"Conv2d(2, 8, 5) on 16x16; additive rules, weights in [0, 1]")
    log(f"# command: python benchmarks/soak.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    if args.others is not None and len(configs) > 1:
        log(f"# note: only the first configuration ({configs[0][0]}-{configs[0][1]}) ran {args.steps} steps; the "
            f"others ran {args.others} (--others), to keep the whole soak to a few minutes on a shared machine")
    all_ok = True
    for index, (rule_kind, layer_kind) in enumerate(configs):
        steps = args.steps if index == 0 or args.others is None else args.others
        for mode in modes:
            how = "step() one at a time" if mode == "step" else f"run() in chunks of {args.chunk}"
            log(f"{rule_kind}-{layer_kind}, {how}, {steps} steps")
            all_ok &= soak(rule_kind, layer_kind, mode, steps, args.chunk, args.density, device,
                           report_every=max(steps // 10, args.chunk), max_growth_mb=args.max_growth_mb, log=log)
    log("# result: " + ("every invariant held" if all_ok else "SOME INVARIANT FAILED"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"written to {out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
