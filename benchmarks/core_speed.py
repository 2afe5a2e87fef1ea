"""Side-by-side speed of the STDP core: conv weight-gradient vs a loop over kernel positions.

Every comparison checks first that the two methods agree, then times both in the same run and
reports the ratio (no absolute goal: machines differ, ratios on one machine do not).

    python benchmarks/core_speed.py [--device cuda] [--json results.json] [--quick]

Methods
-------
weight-gradient : ``STDPLearner.step`` (one ``torch.nn.grad.conv2d_weight`` per term).
kernel loop     : the approach of SpikingJelly's ``stdp_conv2d_step``: a Python loop over kernel
                  offsets, each slicing the input and reducing over batch and positions
                  (re-implemented here as the baseline, stride-only, no padding).
spikingjelly    : ``spikingjelly.activation_based.functional.learning.stdp_conv2d_step`` itself,
                  when installed (``pip install --no-deps spikingjelly==2.0.0 loguru``).
run vs step     : ``STDPLearner.run`` over T steps vs T calls of ``step``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule

TAU_PRE, TAU_POST, A_PLUS, A_MINUS = 4.0, 6.0, 0.01, 0.012


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn, device, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernel_loop_step(pre, post, trace, weight, stride):
    """Baseline: Euler traces first, then one slice-and-reduce per kernel offset."""
    x, y = trace
    x = x - x / TAU_PRE + pre
    y = y - y / TAU_POST + post
    dw = torch.zeros_like(weight)
    kh, kw = weight.shape[2:]
    for h in range(kh):
        for w in range(kw):
            h_end = pre.shape[2] - kh + 1 + h
            w_end = pre.shape[3] - kw + 1 + w
            s_pre = pre[:, :, h:h_end:stride, w:w_end:stride]
            x_pre = x[:, :, h:h_end:stride, w:w_end:stride]
            ltd = torch.einsum("bohw,bihw->oi", y, s_pre)
            ltp = torch.einsum("bohw,bihw->oi", post, x_pre)
            dw[:, :, h, w] = A_PLUS * ltp - A_MINUS * ltd
    return dw, (x, y)


def conv_case(cin, cout, k, size, batch, stride, device, repeats, spikingjelly):
    torch.manual_seed(0)
    layer = nn.Conv2d(cin, cout, k, stride=stride, bias=False).to(device)
    pre = (torch.rand(batch, cin, size, size, device=device) < 0.1).float()
    with torch.no_grad():
        post = (torch.rand_like(layer(pre)) < 0.1).float()
    rule = STDPRule(TAU_PRE, TAU_POST, A_PLUS, A_MINUS)
    learner = STDPLearner(layer, rule, dt=1.0, decay="euler", traces_first=True, update="grad")
    trace = (torch.zeros_like(pre), torch.zeros_like(post))

    ours = learner.step(pre, post)
    base, _ = kernel_loop_step(pre, post, trace, layer.weight.detach(), stride)
    torch.testing.assert_close(ours, base, rtol=1e-4, atol=1e-4)

    def run_ours():
        layer.weight.grad = None
        learner.reset()
        learner.step(pre, post)

    result = {
        "case": f"Conv2d {cin}->{cout} k{k} s{stride} on {size}x{size}, batch {batch}",
        "weight_gradient_ms": 1e3 * median_seconds(run_ours, device, repeats),
        "kernel_loop_ms": 1e3 * median_seconds(
            lambda: kernel_loop_step(pre, post, trace, layer.weight.detach(), stride), device, repeats
        ),
    }
    result["speedup_vs_kernel_loop"] = result["kernel_loop_ms"] / result["weight_gradient_ms"]
    if spikingjelly is not None:
        kwargs = dict(tau_pre=TAU_PRE, tau_post=TAU_POST, f_pre=lambda w: A_MINUS + 0 * w, f_post=lambda w: A_PLUS + 0 * w)
        sj = lambda: spikingjelly.stdp_conv2d_step(pre, post, trace, layer.weight.detach(), stride=(stride, stride), **kwargs)  # noqa: E731
        torch.testing.assert_close(ours, sj()[0], rtol=1e-4, atol=1e-4)
        result["spikingjelly_ms"] = 1e3 * median_seconds(sj, device, repeats)
        result["speedup_vs_spikingjelly"] = result["spikingjelly_ms"] / result["weight_gradient_ms"]
    return result


def run_vs_step_case(layer, pre, post, rule, device, repeats):
    learner = STDPLearner(layer, rule, dt=1.0)
    w0 = layer.weight.detach().clone()

    def stepped():
        with torch.no_grad():
            layer.weight.copy_(w0)
        learner.reset()
        for p, q in zip(pre, post):
            learner.step(p, q)

    def ran():
        with torch.no_grad():
            layer.weight.copy_(w0)
        learner.reset()
        learner.run(pre, post)

    stepped()
    w_step = layer.weight.detach().clone()
    ran()
    torch.testing.assert_close(layer.weight.detach(), w_step, rtol=1e-4, atol=1e-5)
    step_ms = 1e3 * median_seconds(stepped, device, repeats)
    run_ms = 1e3 * median_seconds(ran, device, repeats)
    return {
        "case": f"{type(layer).__name__} {tuple(layer.weight.shape)}, T={pre.shape[0]}, batch {pre.shape[1]}, "
        f"{rule.dependence.name}",
        "step_loop_ms": step_ms,
        "run_ms": run_ms,
        "speedup_run_vs_step": step_ms / run_ms,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller cases")
    args = parser.parse_args()
    device = torch.device(args.device)
    repeats = 3 if args.quick else 10
    try:
        from spikingjelly.activation_based.functional import learning as spikingjelly
    except Exception:  # not installed: the baseline loop still runs
        spikingjelly = None

    results = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if device.type == "cuda":
        results["gpu"] = torch.cuda.get_device_name(device)
    conv_cases = [(16, 32, 3, 32, 8, 1), (64, 64, 5, 28, 8, 1), (32, 64, 3, 32, 8, 2)]
    if device.type == "cuda" and not args.quick:
        conv_cases.append((128, 256, 3, 64, 32, 1))
    results["conv"] = [conv_case(*c, device=device, repeats=repeats, spikingjelly=spikingjelly) for c in conv_cases]

    rule = STDPRule(16.8, 33.7, 0.01, 0.012, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
    torch.manual_seed(1)
    steps = 200 if args.quick else 1000
    linear = nn.Linear(784, 100, bias=False).to(device)
    pre = (torch.rand(steps, 16, 784, device=device) < 0.02).float()
    post = (torch.rand(steps, 16, 100, device=device) < 0.02).float()
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False).to(device)
    cpre = (torch.rand(steps // 5, 4, 8, 16, 16, device=device) < 0.05).float()
    cpost = (torch.rand(steps // 5, 4, 16, 16, 16, device=device) < 0.05).float()
    results["run_vs_step"] = [
        run_vs_step_case(linear, pre, post, rule, device, max(2, repeats // 3)),
        run_vs_step_case(conv, cpre, cpost, rule, device, max(2, repeats // 3)),
    ]

    for section in ("conv", "run_vs_step"):
        where = results.get("gpu", "%d threads" % results["threads"])
        print(f"\n{section} on {results['device']} ({where})")
        for row in results[section]:
            print("  " + ", ".join(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}" for k, v in row.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
