"""Conductance LIF against its closed forms; the Song et al. (2000) experiment on a small scale."""

import math

import pytest
import torch

from stdpwidgets.sim import ConductanceLIF, song2000


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # many tiny tensor ops (see conftest)


def test_steady_state_under_constant_conductance():
    neuron = ConductanceLIF()
    g = 0.2  # v_inf = -61.67 mV < threshold: never fires
    run = neuron.simulate(torch.zeros(2000, 1, dtype=torch.float64), 0.1, g_tonic=g)
    v_inf = (g * 0.0 - 74.0) / (1 + g)
    assert float(run.v[-1, 0]) == pytest.approx(v_inf, abs=1e-9)
    assert float(run.spikes.sum()) == 0
    # exact exponential approach, checked at one time
    t = 5.0
    expected = v_inf + (-74.0 - v_inf) * math.exp(-(t + 0.1) * (1 + g) / 10.0)  # v0 is at time -dt
    assert float(run.v[int(round(t / 0.1)), 0]) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("g", [0.4, 0.8, 2.0])
def test_first_spike_matches_closed_form(g):
    neuron = ConductanceLIF()
    dt = 0.01
    v_inf = (g * 0.0 - 74.0) / (1 + g)
    t_star = 10.0 / (1 + g) * math.log((-60.0 - v_inf) / (-54.0 - v_inf))
    assert neuron.time_to_threshold(g) == pytest.approx(t_star, rel=1e-12)
    for shape in [(1,), (3,)]:  # the scalar fast path and the batched path
        run = neuron.simulate(torch.zeros(int(4 * t_star / dt), *shape, dtype=torch.float64), dt, g_tonic=g, v0=-60.0)
        steps = run.spikes[:, 0].nonzero().flatten()
        first = (int(steps[0]) + 1) * dt  # time since v0 (v0 sits one step before step 0)
        assert t_star <= first + 1e-9 < t_star + dt
        isi = float(steps[1] - steps[0]) * dt
        assert t_star - 1e-9 <= isi < t_star + dt


def test_conductance_decays_and_adds():
    neuron = ConductanceLIF(tau_exc=5.0)
    inputs = torch.zeros(11, 2, dtype=torch.float64)
    inputs[0] = 0.01
    run = neuron.simulate(inputs, 1.0)
    assert float(run.g[10, 0]) == pytest.approx(0.01 * math.exp(-10 / 5.0), rel=1e-12)
    assert torch.allclose(run.v[:, 0], neuron.simulate(inputs[:, :1], 1.0).v[:, 0])


def test_lif_bad_inputs():
    with pytest.raises(ValueError, match="v_reset"):
        ConductanceLIF(v_reset=-50.0)
    with pytest.raises(ValueError, match="tau_m"):
        ConductanceLIF(tau_m=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        ConductanceLIF().simulate(-torch.ones(3, 1), 0.1)
    with pytest.raises(TypeError):
        ConductanceLIF().simulate([0.0, 1.0], 0.1)


def test_song2000_defaults_bimodal_with_rate_regulation():
    seen = []
    additive = song2000(dependence="additive", n_snapshots=10, progress=seen.append)  # ~2 s
    assert seen[-1] == pytest.approx(1.0) and len(seen) == 10
    assert additive.weights.shape == (11, 200) and additive.output_rate_hz.shape == (10,)
    assert float(additive.weights.min()) >= 0.0
    assert float(additive.weights.max()) <= additive.g_max * (1 + 1e-6)  # g_max rounded to float32
    counts, _ = additive.histogram(10)
    assert counts.sum() == 200
    low, high = additive.fraction_near_bounds(0.1)
    assert low >= 0.45 and high >= 0.2  # seed 0: 0.50 and 0.25
    assert 1.0 - low - high <= 0.3  # few in between
    # rate regulation: every weight at g_max would drive the neuron at ~390 Hz
    saturated = song2000(
        duration_ms=2000.0, a_plus=0.0, initial_weights=torch.full((200,), 0.05), n_snapshots=1
    )
    assert saturated.mean_output_rate_hz > 300.0
    assert float(additive.output_rate_hz[-2:].mean()) < 25.0  # seed 0: ~16 Hz
    assert float(additive.output_rate_hz[0]) > float(additive.output_rate_hz[-1])

    multiplicative = song2000(dependence="multiplicative", n_snapshots=2)  # ~5 s
    spread = multiplicative.final_weights / multiplicative.g_max
    assert multiplicative.fraction_near_bounds(0.1) == (0.0, 0.0)
    # soft bounds: one peak near tau+/(tau+ + 1.15 tau-) = 0.47 g_max, shifted up by causal pairs
    assert float(spread.min()) > 0.35 and float(spread.max()) < 0.65 and float(spread.std()) < 0.1


def test_song2000_block_length_does_not_matter():
    """The neuron sees the weights of each block's start; shorter blocks give the same outcome."""
    common = dict(duration_ms=10_000.0, n_snapshots=2)
    coarse = song2000(block_ms=50.0, **common)
    fine = song2000(block_ms=10.0, **common)
    difference = (coarse.final_weights - fine.final_weights).abs() / coarse.g_max
    assert float(difference.mean()) < 0.05
    assert coarse.mean_output_rate_hz == pytest.approx(fine.mean_output_rate_hz, rel=0.1)


def test_song2000_bad_inputs():
    with pytest.raises(ValueError, match="dependence"):
        song2000(dependence="hebbian", duration_ms=10.0)
    with pytest.raises(ValueError, match="n_inputs"):
        song2000(n_inputs=0)
    with pytest.raises(TypeError, match="progress"):
        song2000(duration_ms=10.0, progress=3)
