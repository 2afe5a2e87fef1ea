"""How close one ``STDPLearner.step`` on a large ``nn.Linear`` comes to the device's roofline.

Issue 10's GPU goal: on an H200, ``Linear(4096, 4096)`` at batch 256 in float32, the two GEMMs
of a step at >= 50 % of the device's FP32 peak and the step's elementwise weight-sized passes
at >= 50 % of its HBM bandwidth. This script times the step and, separately, its two parts on
tensors of the same sizes, and turns the times into FLOP/s and bytes/s.

    python benchmarks/roofline.py [--device cuda] [--json FILE] [--quick] [--reps N]
                                  [--peak-flops F] [--peak-bandwidth B] [--spikes float|bool|both]

What is timed (median over ``--reps`` repetitions, each of ``inner`` back-to-back calls between
two ``torch.cuda.synchronize()``; the first calls are warm-up):

step         ``STDPLearner.step(pre, post)`` (additive rule, hard bounds [0, 1], in place), the
             spikes cycling through a pool of 8 drawn steps. Before timing, 3 steps from the
             same weight and zero traces are checked against a plain float64 reference
             (``rtol=1e-5, atol=1e-6``: the weight and the returned ``dw``).
GEMM pair    the step's two GEMMs alone, as ``WeightUpdate`` issues them for an additive rule:
             ``w.addmm_(post.T, x, alpha=a+)`` then ``w.addmm_(y.T, pre, alpha=-a-)``, in full
             float32 (``stdpwidgets.core.correlate.full_precision``: TF32 off, as in the learner).
elementwise  the step's weight-sized passes alone, the same torch ops on tensors of the
             weight's size: ``old.copy_(w)`` (the copy to restore from on failure), ``w.sum()``
             (the finiteness test; its ``.item()`` is a host sync and is left out here),
             ``w.clamp_(0, 1)``, ``torch.sub(w, old, out=old)`` (the copy becomes the dw handed
             out); also each pass alone.

Accounting (``N = n_out * n_in`` weights, ``B`` the batch, 4 bytes per float32):

GEMM FLOPs   ``2 * 2 * B * n_in * n_out`` (two GEMMs of ``2 B n_in n_out`` multiply-adds
             counted as 2 FLOPs). Their least traffic is ``2 * (4 B n_out + 4 B n_in + 2 * 4 N)``
             bytes (read both operands, read and write ``w``), from which the roofline bound
             ``min(peak FLOP/s, FLOPs / bytes * bandwidth)`` is also reported.
elementwise  bytes moved, counting every read and write once: copy 2 (read w, write old), sum 1
             (read w), clamp 2 (read and write w), sub 3 (read w and old, write dw): 8 passes
             of ``4 N`` bytes, ``32 N`` bytes per step (537 MB for 4096 x 4096).

Not counted in either part (so it shows up as overhead, step - GEMM pair - elementwise): the
trace-sized work (decay, spikes entering, the spike checks, the sparse-path test; each pass
``4 B n`` bytes, 1/16 of a weight pass at 4096 x 4096, batch 256), Python and launch latency,
and the host syncs, which are counted per step: on CUDA with
``torch.cuda.set_sync_debug_mode("warn")``, on every device as the host reads of a device
tensor (``item``, ``tolist``, ``bool``, ``float``, ``int``), each a sync on a GPU.

Peaks: FP32 without tensor cores (the learner disables TF32) and HBM bandwidth from NVIDIA's
datasheets, by device name (``PEAKS``); ``--peak-flops`` / ``--peak-bandwidth`` override them,
and on a device not in the table (the CPU) the fractions are "n/a" without them. The achievable
bandwidth of a plain large ``copy_`` is measured too and every elementwise fraction is given
against both.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core.correlate import full_precision
from stdpwidgets.core.sparse_linear import SPARSE_MAX_FRACTION

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers_speed import machine, print_table, sync, write_result  # noqa: E402 - the sibling benchmark's helpers

TAU_PRE, TAU_POST = 4.0, 8.0  # ms, dt = 1 ms (peers_speed.py's rule)
A_PLUS, A_MINUS = 1e-4, 1.2e-4
W_MIN, W_MAX = 0.0, 1.0
DT = 1.0
POOL = 8  # drawn steps of spikes the timed steps cycle through
CHECK_STEPS = 3
RTOL, ATOL = 1e-5, 1e-6
GOAL_FRACTION = 0.5
FLOAT_BYTES = 4

# (name parts, all required in torch.cuda.get_device_name(), case-insensitive; first match wins)
# -> FP32 FLOP/s without tensor cores, memory bandwidth in bytes/s, source.
PEAKS = [
    (("H200", "NVL"), 60e12, 4.8e12, "NVIDIA H200 datasheet, H200 NVL: FP32 60 TFLOPS, 4.8 TB/s"),
    (("H200",), 67e12, 4.8e12, "NVIDIA H200 datasheet, H200 SXM: FP32 67 TFLOPS, 4.8 TB/s"),
    (("H100", "NVL"), 60e12, 3.9e12, "NVIDIA H100 datasheet, H100 NVL: FP32 60 TFLOPS, 3.9 TB/s"),
    (("H100", "PCIe"), 51e12, 2.0e12, "NVIDIA H100 datasheet, H100 PCIe: FP32 51 TFLOPS, 2 TB/s"),
    (("H100",), 67e12, 3.35e12, "NVIDIA H100 datasheet, H100 SXM: FP32 67 TFLOPS, 3.35 TB/s"),
    (("A100", "80GB", "PCIe"), 19.5e12, 1.935e12, "NVIDIA A100 datasheet, 80GB PCIe: FP32 19.5 TFLOPS, 1.935 TB/s"),
    (("A100", "80GB"), 19.5e12, 2.039e12, "NVIDIA A100 datasheet, 80GB SXM: FP32 19.5 TFLOPS, 2.039 TB/s"),
    (("A100",), 19.5e12, 1.555e12, "NVIDIA A100 datasheet, 40GB: FP32 19.5 TFLOPS, 1.555 TB/s"),
]

# the elementwise passes of one in-place additive step: (name, weight-sized reads + writes)
PASSES = [("copy", 2), ("sum", 1), ("clamp", 2), ("sub", 3)]


@dataclass(frozen=True)
class Case:
    n_in: int
    n_out: int
    batch: int
    density: float
    spikes: str  # "float" or "bool"
    goal: bool  # the shape issue 10's goal is stated for

    @property
    def name(self) -> str:
        return f"Linear {self.n_in}x{self.n_out} b{self.batch} {self.density:.0%} {self.spikes}"

    @property
    def weights(self) -> int:
        return self.n_in * self.n_out

    @property
    def gemm_flops(self) -> int:
        return 2 * 2 * self.batch * self.n_in * self.n_out

    @property
    def gemm_min_bytes(self) -> int:
        per_gemm = FLOAT_BYTES * (self.batch * self.n_out + self.batch * self.n_in + 2 * self.weights)
        return 2 * per_gemm

    def pass_bytes(self, accesses: int) -> int:
        return accesses * FLOAT_BYTES * self.weights

    @property
    def elementwise_bytes(self) -> int:
        return sum(self.pass_bytes(a) for _, a in PASSES)


def cases_of(args) -> List[Case]:
    shapes = [(512, 512, 32, False)] if args.quick else [(4096, 4096, 256, True), (1024, 1024, 32, False)]
    kinds = ["float", "bool"] if args.spikes == "both" else [args.spikes]
    return [Case(n_in, n_out, batch, density, kind, goal)
            for n_in, n_out, batch, goal in shapes for density in (0.05, 0.20) for kind in kinds]


def peaks_of(device: torch.device, args) -> dict:
    flops = bandwidth = None
    sources = []
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device).lower()
        for parts, f, b, src in PEAKS:
            if all(p.lower() in name for p in parts):
                flops, bandwidth = f, b
                sources.append(src)
                break
    if args.peak_flops is not None:
        flops = args.peak_flops
        sources.append("FP32 peak from --peak-flops")
    if args.peak_bandwidth is not None:
        bandwidth = args.peak_bandwidth
        sources.append("bandwidth from --peak-bandwidth")
    source = "; ".join(sources) or "unknown device: pass --peak-flops / --peak-bandwidth"
    return {"fp32_flops": flops, "bandwidth": bandwidth, "source": source}


# ----------------------------------------------------------------------------- timing


def timed(fn: Callable[[], object], device, reps: int, inner: int, warmup: int = 3) -> dict:
    """Seconds per call of ``fn``: median (min, max) over ``reps`` repetitions of ``inner``
    calls, each repetition between two device synchronisations."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        sync(device)
        samples.append((time.perf_counter() - start) / inner)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
            "reps": reps, "inner": inner}


HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__")


def host_reads_per_step(step: Callable[[], object], device, steps: int) -> float:
    """Host reads of a tensor on ``device`` per call of ``step`` (each a sync on a GPU), counted
    by wrapping the Tensor methods that read a value back."""
    count = [0]
    originals = {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def counting(original):
        def read(self, *args, **kwargs):
            if self.device.type == device.type:
                count[0] += 1
            return original(self, *args, **kwargs)
        return read

    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, counting(original))
        for _ in range(steps):
            step()
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
    return count[0] / steps


def cuda_syncs_per_step(step: Callable[[], object], device, steps: int) -> Optional[float]:
    """Synchronising CUDA calls per call of ``step``, as ``set_sync_debug_mode("warn")`` reports
    them (None off CUDA). ``steps`` >= 128 includes the learner's batched silence check."""
    if device.type != "cuda":
        return None
    sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(steps):
                step()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return sum("synchroniz" in str(w.message) for w in caught) / steps


def copy_bandwidth(device, mib: int, reps: int) -> dict:
    """Achievable bandwidth of a plain ``dst.copy_(src)`` of ``mib`` MiB (read + write)."""
    n = mib * 2**20 // FLOAT_BYTES
    src, dst = torch.rand(n, device=device), torch.empty(n, device=device)
    t = timed(lambda: dst.copy_(src), device, reps, inner=5 if device.type == "cuda" else 1)
    bytes_moved = 2 * n * FLOAT_BYTES
    del src, dst
    return {"bytes": bytes_moved, "time": t, "bytes_per_s": bytes_moved / t["median_s"]}


# ----------------------------------------------------------------------------- one case


def draw(case: Case, device, seed: int):
    """The start weight (float32) and POOL steps of spikes (the case's dtype), from a seed."""
    gen = torch.Generator().manual_seed(seed)
    w0 = 0.25 + 0.5 * torch.rand(case.n_out, case.n_in, generator=gen)
    pre = torch.rand(POOL, case.batch, case.n_in, generator=gen) < case.density
    post = torch.rand(POOL, case.batch, case.n_out, generator=gen) < case.density
    if case.spikes == "float":
        pre, post = pre.float(), post.float()
    return w0.to(device), pre.to(device), post.to(device)


def dense_path(case: Case, pre, post) -> bool:
    """Whether every pool step is too dense for the learner's sparse path (so the accounting
    above is the step's): rows with a post spike and columns with a pre spike in the batch."""
    rows = (post.float().amax(1) > 0).sum(1)
    cols = (pre.float().amax(1) > 0).sum(1)
    touched = (rows * case.n_in + cols * case.n_out).float() / case.weights
    return bool((touched > SPARSE_MAX_FRACTION).all())


def check_against_reference(learner, layer, w0, pre, post) -> dict:
    """CHECK_STEPS steps of the learner against a plain float64 step: Euler traces with the
    spikes entering first, ``w <- clip(w + a+ post^T x - a- y^T pre)``; AssertionError if not."""
    fx, fy = 1.0 - DT / TAU_PRE, 1.0 - DT / TAU_POST
    w = w0.double()
    x = torch.zeros(pre.shape[1:], dtype=torch.float64, device=w.device)
    y = torch.zeros(post.shape[1:], dtype=torch.float64, device=w.device)
    worst = {"weight": 0.0, "dw": 0.0}
    for t in range(CHECK_STEPS):
        s_pre, s_post = pre[t].double(), post[t].double()
        x = x * fx + s_pre
        y = y * fy + s_post
        new = (w + A_PLUS * s_post.t() @ x - A_MINUS * y.t() @ s_pre).clamp(W_MIN, W_MAX)
        dw = learner.step(pre[t], post[t])
        for what, got, want in (("weight", layer.weight.detach(), new), ("dw", dw, new - w)):
            worst[what] = max(worst[what], (got.double() - want).abs().max().item())
            if not torch.allclose(got.double(), want, rtol=RTOL, atol=ATOL):
                raise AssertionError(f"STDPLearner.step differs from the plain reference in the {what} at step "
                                     f"{t + 1} by up to {worst[what]:.3g}")
        w = new
    return worst


def measure_case(case: Case, device, args, inner: int) -> dict:
    w0, pre, post = draw(case, device, seed=0)
    layer = nn.Linear(case.n_in, case.n_out, bias=False).to(device)
    with torch.no_grad():
        layer.weight.copy_(w0)
    rule = STDPRule(TAU_PRE, TAU_POST, A_PLUS, A_MINUS, w_min=W_MIN, w_max=W_MAX)
    learner = STDPLearner(layer, rule, DT, decay="euler", traces_first=True)
    difference = check_against_reference(learner, layer, w0, pre, post)
    dense = dense_path(case, pre, post)

    pool = itertools.cycle(range(POOL))

    def step():
        t = next(pool)
        return learner.step(pre[t], post[t])

    reps = args.reps
    t_step = timed(step, device, reps, inner)
    reads = host_reads_per_step(step, device, steps=128 if device.type == "cuda" else 8)
    syncs = cuda_syncs_per_step(step, device, steps=128)

    # the GEMM pair on the step's operand shapes and layouts (post^T: a transposed view)
    w = layer.weight.detach().clone()
    x = torch.rand(case.batch, case.n_in, device=device)
    y = torch.rand(case.batch, case.n_out, device=device)
    s_pre, s_post = pre[0].float(), post[0].float()

    def gemm_pair():
        with full_precision(w):
            w.addmm_(s_post.t(), x, alpha=A_PLUS)
            w.addmm_(y.t(), s_pre, alpha=-A_MINUS)

    t_gemm = timed(gemm_pair, device, reps, inner)

    # the elementwise passes, on weight-sized tensors
    w = layer.weight.detach().clone()
    old = torch.empty_like(w)  # the step's copy, which becomes its dw in place
    passes = {"copy": lambda: old.copy_(w), "sum": lambda: w.sum(),
              "clamp": lambda: w.clamp_(W_MIN, W_MAX), "sub": lambda: torch.sub(w, old, out=old)}

    def elementwise():
        for fn in passes.values():
            fn()

    t_elem = timed(elementwise, device, reps, inner)
    per_pass = {}
    for name, accesses in PASSES:
        t = timed(passes[name], device, reps, inner)
        per_pass[name] = {"bytes": case.pass_bytes(accesses), "time": t,
                          "bytes_per_s": case.pass_bytes(accesses) / t["median_s"]}
    del w, old, x, y, learner, layer

    step_s, gemm_s, elem_s = t_step["median_s"], t_gemm["median_s"], t_elem["median_s"]
    return {"case": case.name, "config": case.__dict__, "dense_path": dense, "max_abs_difference": difference,
            "step": t_step, "gemm_pair": t_gemm, "elementwise": t_elem, "passes": per_pass,
            "gemm_flops": case.gemm_flops, "gemm_min_bytes": case.gemm_min_bytes,
            "elementwise_bytes": case.elementwise_bytes,
            "gemm_flops_per_s": case.gemm_flops / gemm_s, "elementwise_bytes_per_s": case.elementwise_bytes / elem_s,
            "overhead_s": step_s - gemm_s - elem_s, "host_reads_per_step": reads, "cuda_syncs_per_step": syncs}


def fractions(row: dict, peaks: dict, copy_bw: float) -> dict:
    flops, bandwidth = peaks["fp32_flops"], peaks["bandwidth"]
    gemm, elem = row["gemm_flops_per_s"], row["elementwise_bytes_per_s"]
    bound = None
    if flops and bandwidth:
        bound = min(flops, row["gemm_flops"] / row["gemm_min_bytes"] * bandwidth)
    return {"gemm_of_fp32_peak": gemm / flops if flops else None,
            "gemm_roofline_bound_flops_per_s": bound, "gemm_of_roofline_bound": gemm / bound if bound else None,
            "elementwise_of_datasheet_bandwidth": elem / bandwidth if bandwidth else None,
            "elementwise_of_measured_copy": elem / copy_bw}


def goals_of(rows) -> List[dict]:
    out = []
    for label, key in (("GEMM pair >= 50 % of FP32 peak", "gemm_of_fp32_peak"),
                       ("elementwise >= 50 % of HBM bandwidth (datasheet)", "elementwise_of_datasheet_bandwidth")):
        values = {r["case"]: r["fractions"][key] for r in rows if r["config"]["goal"]}
        known = {c: v for c, v in values.items() if v is not None}
        verdict = None if not known or len(known) < len(values) else all(v >= GOAL_FRACTION for v in known.values())
        worst = min(known, key=known.get) if known else None
        out.append({"goal": label, "pass": verdict, "rows": len(values), "worst_case": worst,
                    "worst_fraction": known.get(worst)})
    return out


# ----------------------------------------------------------------------------- output


def pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.0f} %"


def num(value, scale=1.0, digits=3) -> str:
    return "n/a" if value is None else f"{value * scale:.{digits}g}"


def report(rows, goals, copy, peaks, where):
    print(f"\n{where}; peaks: {peaks['source']}; measured copy_ bandwidth "
          f"{copy['bytes_per_s'] / 1e9:.4g} GB/s ({copy['bytes'] / 2**20:.0f} MiB moved)\n")
    print_table(
        ["case", "path", "step ms", "GEMM pair ms", "elementwise ms", "step - parts ms", "GEMM TFLOP/s",
         "of FP32 peak", "of roofline bound", "elementwise GB/s", "of datasheet BW", "of measured copy",
         "host reads / step", "CUDA syncs / step"],
        [[r["case"], "dense" if r["dense_path"] else "SPARSE", num(r["step"]["median_s"], 1e3),
          num(r["gemm_pair"]["median_s"], 1e3), num(r["elementwise"]["median_s"], 1e3), num(r["overhead_s"], 1e3),
          num(r["gemm_flops_per_s"], 1e-12), pct(r["fractions"]["gemm_of_fp32_peak"]),
          pct(r["fractions"]["gemm_of_roofline_bound"]), num(r["elementwise_bytes_per_s"], 1e-9, 4),
          pct(r["fractions"]["elementwise_of_datasheet_bandwidth"]),
          pct(r["fractions"]["elementwise_of_measured_copy"]),
          num(r["host_reads_per_step"]), num(r["cuda_syncs_per_step"])] for r in rows])
    print("\nelementwise passes alone (GB/s; bytes = reads + writes)\n")
    print_table(["case"] + [f"{name} ({a} x 4N B)" for name, a in PASSES],
                [[r["case"]] + [num(r["passes"][name]["bytes_per_s"], 1e-9, 4) for name, _ in PASSES] for r in rows])
    print("\ngoals of issue 10 (rows at Linear 4096x4096, batch 256)\n")
    print_table(["goal", "result", "worst case", "worst fraction"],
                [[g["goal"], {True: "PASS", False: "FAIL", None: "n/a"}[g["pass"]], g["worst_case"] or "—",
                  pct(g["worst_fraction"])] for g in goals])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", help="results file (default benchmarks/results/roofline_<device>.json)")
    parser.add_argument("--quick", action="store_true", help="Linear 512x512 batch 32 only, 5 repetitions: a smoke run")
    parser.add_argument("--reps", type=int, help="timed repetitions per measurement (default 30, --quick 5)")
    parser.add_argument("--spikes", choices=["float", "bool", "both"], default="both",
                        help="spike dtype: float32 counts (checked for NaN/negatives, one more host sync) or bool")
    parser.add_argument("--peak-flops", type=float, help="FP32 peak in FLOP/s (overrides the datasheet table)")
    parser.add_argument("--peak-bandwidth", type=float, help="memory bandwidth in bytes/s (overrides the table)")
    parser.add_argument("--copy-mib", type=int,
                        help="size of the copy_ bandwidth probe (default 1024 MiB on CUDA, 64 on CPU)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    args.reps = args.reps or (5 if args.quick else 30)
    for name in ("reps", "copy_mib", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("peak_flops", "peak_bandwidth"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0 (e.g. 6.7e13 or 4.8e12)")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device here; use --device cpu")
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # as the learner computes
    torch.manual_seed(0)
    inner = 10 if device.type == "cuda" else (1 if args.quick else 2)
    peaks = peaks_of(device, args)
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")

    copy = copy_bandwidth(device, args.copy_mib or (1024 if device.type == "cuda" else 64), args.reps)
    rows = []
    for case in cases_of(args):
        row = measure_case(case, device, args, inner)
        row["fractions"] = fractions(row, peaks, copy["bytes_per_s"])
        print(f"{case.name}: matches the plain reference (max |difference| weight "
              f"{row['max_abs_difference']['weight']:.2g}, dw {row['max_abs_difference']['dw']:.2g}); "
              f"step {row['step']['median_s'] * 1e3:.3g} ms", flush=True)
        rows.append(row)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    goals = goals_of(rows)
    report(rows, goals, copy, peaks, where)

    result = {
        **machine("benchmarks/roofline.py", device),
        "settings": {"quick": args.quick, "reps": args.reps, "inner": inner, "spikes": args.spikes, "pool": POOL,
                     "tau_pre": TAU_PRE, "tau_post": TAU_POST, "a_plus": A_PLUS, "a_minus": A_MINUS,
                     "w_min": W_MIN, "w_max": W_MAX, "dt": DT, "check_steps": CHECK_STEPS, "rtol": RTOL,
                     "atol": ATOL, "tf32": False, "passes": dict(PASSES)},
        "peaks": peaks, "copy_bandwidth": copy, "rows": rows, "goals": goals,
    }
    write_result(result, "roofline", device, args.json)


if __name__ == "__main__":
    main()
