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
