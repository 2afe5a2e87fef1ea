"""Reliability of the sims: bad arguments and sizes beyond a laptop fail fast with clear errors.

Every sims case of the December 2026 reliability review (``shared/reviews/reliability-2026-12.md``,
by its ``####`` name) is one line of ``REVIEW_CASES``: the exact bad call, the error type and a
pattern the message must match (it names the argument). The other tests cover the same classes of
problem in every public sim: argument types and values, NumPy and 0-d tensor scalars, non-finite
values, the size/time guards and their escape hatch. A guard must refuse before allocating, so
each case is timed (well under a second).
"""

import math
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from stdpwidgets import STDPRule
from stdpwidgets.sim import (
    ConductanceLIF,
    conv_features,
    correlated_poisson_groups,
    critical_weight,
    first_spike_winners,
    fixed_count_spikes,
    frequency_experiment,
    generated_patterns,
    group_symmetry,
    initial_conv_kernels,
    kernel_similarity,
    kernel_structure,
    latency_encode,
    linear_poisson_drift,
    linear_poisson_output,
    linear_poisson_rate,
    linear_poisson_stdp,
    load_digit_images,
    measure_linear_poisson_drift,
    noise_kernels,
    pairing_protocol,
    pairing_spike_steps,
    pairing_sweep,
    pairing_weight_change,
    poisson_encode,
    poisson_spikes,
    readout_accuracy,
    ridge_readout,
    simulate_poisson_layer,
    simulate_synapse,
    single_pair_weight_changes,
    size_limits,
    smoothed_kernels,
    song2000,
    song2000_rule,
    times_to_train,
    train_conv_stdp,
    train_to_raster,
    train_to_times,
    window_integral,
    winner_take_all_spikes,
)

RULE = STDPRule(16.8, 33.7, 0.01, 0.0105, w_min=0.0, w_max=1.0)
UNBOUNDED = STDPRule(16.8, 33.7, 0.01, 0.0105)
FAST = 1.0  # seconds: a refusal must come before any large allocation or long loop


def _raises(call, error, pattern):
    start = time.perf_counter()
    with pytest.raises(error, match=pattern):
        call()
    assert time.perf_counter() - start < FAST


# (review case, the call, error type, pattern the message must match)
REVIEW_CASES = [
    ("layer-initial-weight-inf", lambda: simulate_poisson_layer(UNBOUNDED, 10, 3, initial_weight=float("inf"), duration_ms=200.0), ValueError, "initial_weight must be finite"),
    ("layer-n-snapshots-huge", lambda: simulate_poisson_layer(RULE, 20, 5, duration_ms=1000.0, n_snapshots=10**7), ValueError, "n_snapshots = 10000000 .* use n_snapshots <= 1000"),
    ("song-duration-1e9", lambda: song2000(duration_ms=1e9), ValueError, "duration_ms .* steps"),
    ("conv-epochs-huge", lambda: train_conv_stdp(generated_patterns(20), epochs=10**6), ValueError, "epochs"),
    ("poisson-steps-1e12", lambda: poisson_spikes(10.0, 10**12, 1.0, (1,), seed=0), ValueError, "steps = 1000000000000 .* memory"),
    ("poisson-shape-huge", lambda: poisson_spikes(10.0, 1, 1.0, (10**6, 10**6), seed=0), ValueError, r"shape = \(1000000, 1000000\) .* memory"),
    ("layer-duration-1e12", lambda: simulate_poisson_layer(RULE, 20, 5, duration_ms=1e12), ValueError, "duration_ms"),
    ("layer-duration-1e8", lambda: simulate_poisson_layer(RULE, 100, 20, duration_ms=1e8), ValueError, "duration_ms"),
    ("layer-dt-tiny", lambda: simulate_poisson_layer(RULE, 20, 5, dt=1e-6, duration_ms=1000.0), ValueError, "dt = 1e-06"),
    ("song-tau-post-zero", lambda: song2000_rule(tau_post=0.0), ValueError, "tau_post must be finite and > 0"),
    ("song-tau-string", lambda: song2000(tau_pre="20", duration_ms=100.0), TypeError, "tau_pre must be a real number.*'20'"),
    ("pairing-freq-1e-300", lambda: pairing_spike_steps(3, 10.0, 1e-300, 0.1), ValueError, "frequency_hz = 1e-300"),
    ("pairing-n-1e9", lambda: pairing_protocol(10**9, 10.0, 1.0, 1.0), ValueError, "n_pairs = 1000000000"),
    ("single-pair-lag-1e9", lambda: single_pair_weight_changes(RULE, [1e9, 1.0]), ValueError, "delta_t_ms"),
    ("conv-layer-kernel-too-big", lambda: train_conv_stdp(generated_patterns(20), layer=nn.Conv2d(1, 4, 10, bias=False)), ValueError, "kernel .*does not fit the images of 8x8"),
    ("patterns-size-huge", lambda: generated_patterns(4, size=10**5), ValueError, "size = 100000"),
]


@pytest.mark.parametrize("case, call, error, pattern", REVIEW_CASES, ids=[c[0] for c in REVIEW_CASES])
def test_review_case(case, call, error, pattern):
    _raises(call, error, pattern)


# the same classes of problem in the other public sims
OTHER_CASES = [
    # sizes and durations far beyond a laptop
    ("fixed-count-steps", lambda: fixed_count_spikes(10.0, 10**12), ValueError, "steps = 1000000000000"),
    ("times-to-train-steps", lambda: times_to_train([1.0], 10**12), ValueError, "steps = 1000000000000"),
    ("train-huge-counts", lambda: train_to_times(torch.tensor([1e12, 0.0])), ValueError, "spikes"),
    ("latency-steps", lambda: latency_encode(torch.rand(100, 8, 8), 10**9), ValueError, "steps = 1000000000"),
    ("poisson-encode-steps", lambda: poisson_encode(torch.rand(100, 8, 8), 10**9), ValueError, "steps = 1000000000"),
    ("layer-work", lambda: simulate_poisson_layer(RULE, 1000, 1000, duration_ms=1e6), ValueError, "synapse-steps"),
    ("song-dt-tiny", lambda: song2000(dt=1e-5), ValueError, "dt = 1e-05"),
    ("song-block-huge", lambda: song2000(n_inputs=10**5, block_ms=1e7, duration_ms=1e6, n_snapshots=1), ValueError, "block_ms|n_inputs"),
    ("song-snapshots", lambda: song2000(duration_ms=100.0, n_snapshots=1000), ValueError, "n_snapshots = 1000"),
    ("pairing-weight-change-long", lambda: pairing_weight_change(RULE, 10.0, 1.0, 10**6), ValueError, "n_pairs"),
    ("pairing-sweep-many-lags", lambda: pairing_sweep(RULE, torch.arange(1.0, 40_001.0) * 1e-3, 1.0, 2, 1e-3), ValueError, "lags"),
    ("pairing-tail-huge", lambda: pairing_protocol(3, 10.0, 1.0, 1.0, tail_ms=1e12), ValueError, "tail_ms"),
    ("pairing-lag-overflow", lambda: pairing_spike_steps(1, 1e300, 1.0, 1e-300), ValueError, "delta_t_ms = 1e\\+300"),
    ("pairing-start-overflow", lambda: pairing_spike_steps(1, 1.0, 1.0, 1.0, start_ms=1e300), ValueError, "start_ms"),
    ("conv-snapshots-many-ok-but-steps", lambda: train_conv_stdp(generated_patterns(20), steps_per_image=10**8), ValueError, "steps_per_image"),
    ("conv-work", lambda: train_conv_stdp(generated_patterns(1000, size=64), out_channels=64, kernel_size=16, epochs=20), ValueError, "synapse-steps"),
    ("correlated-steps", lambda: correlated_poisson_groups(10.0, 10**10, 1.0, [10, 10], 0.1), ValueError, "steps = 10000000000"),
    ("measure-drift-duration", lambda: measure_linear_poisson_drift(STDPRule(20.0, 20.0, 1e-3, 1.05e-3), torch.zeros(10), 10.0, 10.0, 1e12), ValueError, "duration_ms"),
    ("linear-stdp-duration", lambda: linear_poisson_stdp(STDPRule(20.0, 20.0, 0.02, 0.026, w_min=0.0, w_max=1.0), [10, 10], 10.0, 0.1, 1e12), ValueError, "duration_ms"),
    ("drift-covariance-huge", lambda: linear_poisson_drift(STDPRule(20.0, 20.0, 1e-3, 1.05e-3), torch.zeros(10**6), 10.0, 10.0), ValueError, "weights"),
    ("noise-kernels-huge", lambda: noise_kernels((10**6, 1, 100, 100)), ValueError, "noise_kernels"),
    ("smoothed-passes-huge", lambda: smoothed_kernels(torch.rand(2, 1, 5, 5), 10**12), ValueError, "passes"),
    ("similarity-many", lambda: kernel_similarity(torch.rand(10**6, 1, 1, 1)), ValueError, "kernels"),
    # division by zero / overflow in derived quantities
    ("song-amplitude-overflow", lambda: song2000_rule(a_plus=1e300, a_ratio=1e300), ValueError, "a_ratio"),
    ("critical-weight-no-ltp", lambda: critical_weight(STDPRule(20.0, 20.0, 0.0, 1e-3), 10.0, 10.0), ValueError, "a_plus"),
    ("measure-drift-short", lambda: measure_linear_poisson_drift(STDPRule(20.0, 20.0, 1e-3, 1.05e-3), torch.zeros(3), 10.0, 10.0, 5.0), ValueError, "n_segments"),
    ("measure-drift-dt-zero", lambda: measure_linear_poisson_drift(STDPRule(20.0, 20.0, 1e-3, 1.05e-3), torch.zeros(3), 10.0, 10.0, 100.0, 0.0), ValueError, "dt"),
    ("output-tau-zero", lambda: linear_poisson_output(torch.zeros(5, 1, 3), torch.zeros(3), 1.0, 0.0), ValueError, "tau_epsilon"),
    ("linear-stdp-snapshots", lambda: linear_poisson_stdp(STDPRule(20.0, 20.0, 0.02, 0.026, w_min=0.0, w_max=1.0), [2, 2], 10.0, 0.1, 5.0), ValueError, "n_snapshots"),
    # non-finite values
    ("pairing-w0-inf", lambda: pairing_weight_change(UNBOUNDED, 10.0, 1.0, w0=float("inf")), ValueError, "w0 must be finite"),
    ("synapse-w0-nan", lambda: simulate_synapse(RULE, torch.zeros(5), torch.zeros(5), float("nan")), ValueError, "w0"),
    ("conv-initial-weight-inf", lambda: train_conv_stdp(generated_patterns(4), initial_weight=float("inf")), ValueError, "initial_weight"),
    ("conv-images-nan", lambda: train_conv_stdp(torch.full((2, 8, 8), float("nan"))), ValueError, r"\[0, 1\]"),
    ("lif-v0-nan", lambda: ConductanceLIF().simulate(torch.zeros(5, 2), v0=float("nan")), ValueError, "v0"),
    ("lif-g0-negative", lambda: ConductanceLIF().simulate(torch.zeros(5, 2), g0=-1.0), ValueError, "g0"),
    ("drift-weights-nan", lambda: linear_poisson_rate(torch.tensor([float("nan")]), 10.0), ValueError, "weights"),
    ("window-w-inf", lambda: window_integral(STDPRule(20.0, 20.0, 1e-3, 1e-3, weight_dependence="multiplicative", w_min=0.0, w_max=1.0), w=float("inf")), ValueError, "w must be finite"),
    ("noise-low-inf", lambda: noise_kernels((2, 1, 3, 3), low=-float("inf")), ValueError, "low"),
    # wrong kinds of argument: TypeError naming the argument
    ("spikes-dtype-str", lambda: poisson_spikes(10.0, 5, dtype="float32"), TypeError, "dtype"),
    ("spikes-shape-float", lambda: poisson_spikes(10.0, 5, shape=(2.5,)), TypeError, r"shape\[0\]"),
    ("spikes-device-bad", lambda: poisson_spikes(10.0, 5, device="gpu0"), ValueError, "device"),
    ("spikes-rate-str", lambda: poisson_spikes("10", 5), TypeError, "rate_hz"),
    ("times-str", lambda: times_to_train(["a"], 5), TypeError, "times_ms"),
    ("raster-list", lambda: train_to_raster([0, 1]), TypeError, "train"),
    ("latency-threshold-str", lambda: latency_encode(torch.rand(2, 3), 5, "0.5"), TypeError, "threshold"),
    ("layer-device-int", lambda: simulate_poisson_layer(RULE, 5, 2, duration_ms=10.0, n_snapshots=1, device=3), TypeError, "device"),
    ("song-dependence-list", lambda: song2000_rule(["additive"]), TypeError, "dependence"),
    ("song-initial-weights-str", lambda: song2000(n_inputs=2, duration_ms=10.0, n_snapshots=1, initial_weights=["a", "b"]), TypeError, "initial_weights"),
    ("sweep-lags-str", lambda: pairing_sweep(RULE, "10", 1.0), TypeError, "delta_t_ms"),
    ("sweep-lags-empty", lambda: pairing_sweep(RULE, [], 1.0), ValueError, "delta_t_ms"),
    ("frequency-experiment-scalar-str", lambda: frequency_experiment(RULE, frequency_hz="10"), TypeError, "frequency_hz"),
    ("conv-spread-str", lambda: initial_conv_kernels(initial_spread="0.1"), TypeError, "initial_spread"),
    ("wta-pre-list", lambda: winner_take_all_spikes(nn.Conv2d(1, 2, 3), [1, 2], torch.ones(2)), TypeError, "pre"),
    ("wta-layer-linear", lambda: winner_take_all_spikes(nn.Linear(2, 2), torch.zeros(2, 1, 1, 4, 4), torch.ones(2)), TypeError, "layer"),
    ("structure-kernels-list", lambda: kernel_structure([1.0], torch.zeros(2, 8, 8)), TypeError, "kernels"),
    ("structure-kernel-too-big", lambda: kernel_structure(torch.rand(2, 1, 9, 9), torch.zeros(2, 8, 8)), ValueError, "larger than the images"),
    ("winners-kernel-too-big", lambda: first_spike_winners(torch.rand(2, 1, 9, 9), torch.zeros(2, 8, 8)), ValueError, "larger than the images"),
    ("features-kernel-too-big", lambda: conv_features(torch.zeros(2, 8, 8), torch.rand(2, 1, 9, 9)), ValueError, "larger than the images"),
    ("features-kernels-list", lambda: conv_features(torch.zeros(2, 8, 8), [1.0]), TypeError, "kernels"),
    ("readout-labels-float", lambda: readout_accuracy(torch.rand(10, 3), torch.rand(10)), ValueError, "labels"),
    ("ridge-features-nan", lambda: ridge_readout(torch.full((4, 2), float("nan")), torch.zeros(4, dtype=torch.long)), ValueError, "features"),
    ("digits-not-sequence", lambda: load_digit_images(digits=3), TypeError, "digits"),
    ("groups-float", lambda: correlated_poisson_groups(10.0, 5, 1.0, [2.5], 0.0), TypeError, r"group_sizes\[0\]"),
    ("groups-int", lambda: correlated_poisson_groups(10.0, 5, 1.0, 5, 0.0), TypeError, "group_sizes"),
    ("drift-rule-str", lambda: window_integral("pair"), TypeError, "rule"),
    ("symmetry-correlation", lambda: group_symmetry(STDPRule(20.0, 20.0, 0.02, 0.026, w_min=0.0, w_max=1.0), 10, 10.0, 2.0), ValueError, "correlation"),
    ("synapse-pre-list", lambda: simulate_synapse(RULE, [0, 1], [0, 1], 0.5), TypeError, "pre"),
    ("synapse-rule-str", lambda: simulate_synapse("pair", torch.zeros(3), torch.zeros(3), 0.5), TypeError, "rule"),
    ("lif-v0-str", lambda: ConductanceLIF().simulate(torch.zeros(5, 2), v0="a"), TypeError, "v0"),
    ("seed-float", lambda: poisson_spikes(10.0, 5, seed=1.5), TypeError, "seed"),
]


@pytest.mark.parametrize("case, call, error, pattern", OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_other_sims_refuse(case, call, error, pattern):
    _raises(call, error, pattern)


def test_numpy_and_tensor_scalars_are_accepted():
    a = poisson_spikes(np.float32(20.0), np.int64(50), np.float64(1.0), (np.int32(2),), seed=np.int64(3))
    b = poisson_spikes(torch.tensor(20.0), torch.tensor(50), torch.tensor(1.0), (2,), seed=3)
    c = poisson_spikes(20.0, 50, 1.0, (2,), seed=3)
    assert torch.equal(a, c) and torch.equal(b, c)
    assert pairing_weight_change(RULE, np.float32(10.0), np.float64(1.0), np.int64(5)) == pairing_weight_change(
        RULE, 10.0, 1.0, 5
    )
    rule = song2000_rule(tau_pre=np.float32(20.0), tau_post=torch.tensor(20.0))
    assert rule.tau_pre == 20.0 and rule.tau_post == 20.0
    assert generated_patterns(np.int64(3), size=np.int64(8)).shape == (3, 8, 8)


def test_size_limits_is_the_escape_hatch_and_restores():
    with pytest.raises(ValueError, match="size_limits"):
        poisson_spikes(10.0, 10**12, 1.0, (1,), seed=0)
    with size_limits(max_bytes=1000) as limits:
        assert limits["max_bytes"] == 1000
        with pytest.raises(ValueError, match="max_bytes"):
            poisson_spikes(10.0, 1000, 1.0, (10,), seed=0)
    assert poisson_spikes(10.0, 1000, 1.0, (10,), seed=0).shape == (1000, 10)  # restored
    with size_limits(max_steps=10**3):
        with pytest.raises(ValueError, match="max_steps"):
            simulate_poisson_layer(RULE, 5, 2, duration_ms=2000.0)
    with size_limits(max_steps=10**9):  # raised: 1e9 steps are now allowed past the steps guard
        with pytest.raises(ValueError, match="memory|synapse-steps"):
            simulate_poisson_layer(RULE, 100, 20, duration_ms=1e9)
    with pytest.raises(ValueError, match="max_bytes"):
        with size_limits(max_bytes=-1):
            pass


def test_guards_accept_the_books_and_explorers_sizes():
    """The largest runs of the book and the explorers pass the guards (only the checks run here)."""
    # every guard runs with the default limits; the run is stopped where it would start (its generator)
    modules = [sys.modules[f"stdpwidgets.sim.{name}"] for name in ("song2000", "poisson_layer", "conv_training",
                                                                     "linear_poisson")]
    started = []

    class _Stop(Exception):
        pass

    def stop(*args):
        started.append(args)
        raise _Stop

    originals = [module.make_generator for module in modules]
    for module in modules:
        module.make_generator = stop
    try:
        for call in (
            lambda: song2000(n_inputs=1000, a_ratio=1.05, a_plus=0.005, duration_ms=300_000.0),
            lambda: song2000(n_inputs=1000, dt=0.1, duration_ms=100_000.0),  # Brian2's example
            lambda: simulate_poisson_layer(RULE, 1000, 100, duration_ms=100_000.0, n_snapshots=40),
            lambda: train_conv_stdp(generated_patterns(1000), out_channels=32, kernel_size=8, epochs=5,
                                    steps_per_image=100, n_snapshots=40),
            lambda: linear_poisson_stdp(STDPRule(20.0, 20.0, 0.02, 0.026, weight_dependence="gutig", mu=0.2,
                                                 w_min=0.0, w_max=1.0), [50, 50], 10.0, 0.1, 200_000.0,
                                        weight_scale=0.1, n_snapshots=40),
            lambda: measure_linear_poisson_drift(STDPRule(20.0, 20.0, 1e-3, 1.05e-3), torch.zeros(100), 10.0,
                                                 10.0, 200_000.0),
        ):
            with pytest.raises(_Stop):
                call()
    finally:
        for module, original in zip(modules, originals):
            module.make_generator = original
    assert len(started) == 6
    # the explorers' and chapters' protocols run through unchanged
    assert pairing_protocol(100, 100.0, 0.1, 0.1, tail_ms=50.0, dtype=torch.float64)[0].shape[0] > 9 * 10**6
    assert math.isfinite(pairing_weight_change(RULE, 10.0, 0.1, 60, dt=0.1))


def test_refusals_leave_no_state_behind():
    """A refused call changes nothing it was given: a user's layer keeps its weights."""
    layer = nn.Conv2d(1, 2, 10, bias=False)
    before = layer.weight.detach().clone()
    with pytest.raises(ValueError):
        train_conv_stdp(generated_patterns(4), layer=layer)
    assert torch.equal(layer.weight, before)
    layer = nn.Conv2d(1, 2, 3, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.2, 0.4)
    before = layer.weight.detach().clone()
    with pytest.raises(ValueError, match="epochs"):
        train_conv_stdp(generated_patterns(20), layer=layer, epochs=10**7)
    assert torch.equal(layer.weight, before)


def test_result_helpers_check_their_arguments():
    result = simulate_poisson_layer(RULE, 4, 2, duration_ms=20.0, n_snapshots=2)
    assert result.fraction_near_bounds(0.1, -3) == result.fraction_near_bounds(0.1, 0)
    with pytest.raises(ValueError, match=r"snapshot must lie in \[-3, 2\]"):
        result.fraction_near_bounds(0.1, 3)
    with pytest.raises(TypeError, match="snapshot"):
        result.fraction_near_bounds(0.1, 1.0)
    song = song2000(n_inputs=5, duration_ms=20.0, n_snapshots=2)
    with pytest.raises(ValueError, match="snapshot"):
        song.histogram(10, snapshot=5)
    _raises(lambda: song.histogram(10**12), ValueError, "bins")
    with pytest.raises(TypeError, match="generator"):
        linear_poisson_output(torch.zeros(5, 1, 3), torch.zeros(3), 1.0, 10.0, generator=0)


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: simulate_poisson_layer(RULE, 1, 2 * 10**7, duration_ms=20.0, n_snapshots=1), ValueError, "chunk_steps"),
    (lambda: load_digit_images(seed="0"), TypeError, "seed"),
    (lambda: first_spike_winners(torch.rand(2, 1, 3, 3), torch.rand(2, 8, 8), threshold=float("nan")), ValueError, "threshold"),
    (lambda: first_spike_winners(torch.rand(2, 1, 3, 3), torch.rand(2, 8, 8), threshold="a"), TypeError, "threshold"),
    (lambda: sim_window_epsilon(dt="1"), TypeError, "dt"),
], ids=["layer-chunk-memory", "digits-seed-str", "winners-threshold-nan", "winners-threshold-str", "overlap-dt-str"])
def test_more_arguments_checked(call, error, pattern):
    _raises(call, error, pattern)


def sim_window_epsilon(**kwargs):
    from stdpwidgets.sim import window_epsilon_integral

    return window_epsilon_integral(STDPRule(20.0, 20.0, 1e-3, 1e-3), 10.0, **kwargs)
