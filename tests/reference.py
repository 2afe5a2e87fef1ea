"""Independent references for the core tests: naive loops written from the definitions.

Nothing here calls stdpwidgets or torch's convolution kernels: traces are stepped one spike at
a time and convolution correlations loop over output positions with numpy.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def naive_traces(spikes, factor, pairing, traces_first):
    """Trace each step reads, stepping naively: decay, then (before or after the read) spikes enter.

    ``spikes`` is a numpy array (T, ...); returns (reads, after) arrays of the same shape.
    """
    trace = np.zeros(spikes.shape[1:])
    reads, after = np.zeros(spikes.shape), np.zeros(spikes.shape)
    for t in range(spikes.shape[0]):
        trace = trace * factor
        entered = trace + spikes[t] if pairing == "all-to-all" else np.where(spikes[t] != 0, 1.0, trace)
        reads[t] = entered if traces_first else trace
        trace = entered
        after[t] = trace
    return reads, after


def conv_padding(kernel, dilation, padding):
    """(left, right) per dimension for int/tuple/'same'/'valid' padding, from PyTorch's docs."""
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if padding == "same":
        return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    return [(p, p) for p in padding]


def naive_conv_correlation(pre, post, weight_shape, stride, padding, dilation, groups, padding_mode):
    """sum_b sum_positions post[b, o, p] * patch(pre)[b, c, p*stride + k*dilation], by loops.

    pre: (B, Cin, *L) numpy; post: (B, Cout, *out) numpy; returns an array of weight_shape.
    """
    cout, cin_g = weight_shape[:2]
    kernel = weight_shape[2:]
    pads = conv_padding(kernel, dilation, padding)
    pre = np.pad(pre, [(0, 0), (0, 0)] + pads, mode=PAD_MODES[padding_mode])
    out_per_group = cout // groups
    grad = np.zeros(weight_shape)
    for b in range(pre.shape[0]):
        for o in range(cout):
            g = o // out_per_group
            channels = pre[b, g * cin_g : (g + 1) * cin_g]
            for pos in itertools.product(*(range(n) for n in post.shape[2:])):
                value = post[(b, o) + pos]
                if value == 0:
                    continue
                window = tuple(
                    slice(p * s, p * s + d * (k - 1) + 1, d)
                    for p, s, d, k in zip(pos, stride, dilation, kernel)
                )
                grad[o] += value * channels[(slice(None),) + window]
    return grad


def exp_window_sum(pre_steps, post_steps, dt, tau_pre, tau_post, a_plus, a_minus):
    """All-to-all pair sum on integer step indices (same-step pairs excluded), by a double loop."""
    total = 0.0
    for i in pre_steps:
        for j in post_steps:
            lag = (j - i) * dt
            if lag > 0:
                total += a_plus * math.exp(-lag / tau_pre)
            elif lag < 0:
                total -= a_minus * math.exp(lag / tau_post)
    return total


def naive_trace_reads(spikes, dt, tau, pairing):
    """The trace each step reads *before* its own spikes, from the spike times (no recursion).

    ``spikes`` is a numpy array (T, ...) of 0/1; all-to-all: the sum of exp(-(t - s) dt / tau)
    over spikes at steps s < t; nearest: the same for the latest such spike only (0 if none).
    """
    steps = spikes.shape[0]
    flat = spikes.reshape(steps, -1)
    reads = np.zeros(flat.shape)
    for unit in range(flat.shape[1]):
        times = np.flatnonzero(flat[:, unit])
        for t in range(steps):
            earlier = times[times < t]
            if earlier.size == 0:
                continue
            if pairing == "all-to-all":
                reads[t, unit] = np.exp(-(t - earlier) * dt / tau).sum()
            else:
                reads[t, unit] = math.exp(-(t - earlier[-1]) * dt / tau)
    return reads.reshape(spikes.shape)


def pair_factors(rule, w):
    """``(F+(w), F-(w))`` of one synapse of a pair rule, from the dependence's definition."""
    name = rule.dependence.name
    up, down = max(rule.w_max - w, 0.0), max(w - rule.w_min, 0.0)
    if name == "additive":
        return rule.a_plus, rule.a_minus
    if name == "multiplicative":
        return rule.a_plus * up, rule.a_minus * down
    if name == "gutig":
        return rule.a_plus * up**rule.mu, rule.a_minus * down**rule.mu
    raise AssertionError(name)


def naive_pair_synapses(rule, w0, pre, post, *, dt=1.0, update="in-place", rewards=None, tau_e=None):
    """All-to-all pair STDP on a Linear weight, synapse by synapse, traces read before this
    step's spikes (exact decay).

    Without ``rewards``: each step ``w <- clip(w + F+ P - F- D)``; returns the final weight (in
    place) or the summed bounded changes from the fixed weight (``update="grad"``). With
    ``rewards`` and ``tau_e`` (three-factor): ``e <- e exp(-dt/tau_e) + F+ P - F- D``, then
    ``w <- clip(w + r e)``; returns ``(w, e)``. Arrays are float64 numpy, spikes anything
    indexable as ``[t, b, i]``.
    """
    steps, batch, n_in = pre.shape
    n_out = post.shape[2]
    fx, fy = math.exp(-dt / rule.tau_pre), math.exp(-dt / rule.tau_post)
    fe = None if tau_e is None else math.exp(-dt / tau_e)
    x = [[0.0] * n_in for _ in range(batch)]
    y = [[0.0] * n_out for _ in range(batch)]
    w = [[float(w0[j, i]) for i in range(n_in)] for j in range(n_out)]
    total = [[0.0] * n_in for _ in range(n_out)]
    e = [[0.0] * n_in for _ in range(n_out)]
    lo, hi = rule.w_min, rule.w_max
    for t in range(steps):
        x = [[v * fx for v in row] for row in x]
        y = [[v * fy for v in row] for row in y]
        for j in range(n_out):
            for i in range(n_in):
                potentiation = sum(float(post[t, b, j]) * x[b][i] for b in range(batch))
                depression = sum(y[b][j] * float(pre[t, b, i]) for b in range(batch))
                f_plus, f_minus = pair_factors(rule, w[j][i])
                proposed = f_plus * potentiation - f_minus * depression
                if rewards is not None:
                    e[j][i] = e[j][i] * fe + proposed
                    w[j][i] = min(max(w[j][i] + rewards[t] * e[j][i], lo), hi)
                    continue
                moved = min(max(w[j][i] + proposed, lo), hi)
                if update == "grad":
                    total[j][i] += moved - w[j][i]
                else:
                    w[j][i] = moved
        x = [[x[b][i] + float(pre[t, b, i]) for i in range(n_in)] for b in range(batch)]
        y = [[y[b][j] + float(post[t, b, j]) for j in range(n_out)] for b in range(batch)]
    if rewards is not None:
        return np.array(w), np.array(e)
    return np.array(total if update == "grad" else w)
