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


def test_song2000_small_run_bimodal_vs_unimodal():
    common = dict(n_inputs=100, duration_ms=8000.0, dt=1.0, a_plus=0.05, seed=0, n_snapshots=4)
    seen = []
    additive = song2000(dependence="additive", progress=seen.append, **common)
    multiplicative = song2000(dependence="multiplicative", **common)
    assert seen[-1] == pytest.approx(1.0) and len(seen) == 4
    for result in (additive, multiplicative):
        assert result.weights.shape == (5, 100)
        assert float(result.weights.min()) >= 0.0 and float(result.weights.max()) <= result.g_max * (1 + 1e-6)
        assert result.output_rate_hz.shape == (4,)
        assert result.histogram(10)[0].sum() == 100
    near_additive = sum(additive.fraction_near_bounds(0.1))
    near_multiplicative = sum(multiplicative.fraction_near_bounds(0.1))
    assert near_additive > near_multiplicative + 0.1
    # soft bounds: weights gather near the fixed point tau+/(tau+ + 1.05 tau-) = 0.488 g_max and above
    spread = multiplicative.final_weights / multiplicative.g_max
    assert float(spread.std()) < 0.15 and 0.35 < float(spread.mean()) < 0.8


def test_song2000_bad_inputs():
    with pytest.raises(ValueError, match="dependence"):
        song2000(dependence="hebbian", duration_ms=10.0)
    with pytest.raises(ValueError, match="n_inputs"):
        song2000(n_inputs=0)
    with pytest.raises(TypeError, match="progress"):
        song2000(duration_ms=10.0, progress=3)
