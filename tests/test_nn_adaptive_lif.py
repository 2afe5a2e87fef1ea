"""AdaptiveLIF against a naive per-step reference and the closed-form time to threshold."""

import math

import pytest
import torch

from stdpwidgets.nn import AdaptiveLIF, KWinnersTakeAll


def reference_lif(currents, jumps, *, tau_mem, v_rest, v_reset, v_threshold, refractory_steps,
                  theta_plus, tau_theta, dt, adapt=True):
    """One neuron at a time, one step at a time, in plain Python floats; theta shared by the batch."""
    steps, batch, n = len(currents), len(currents[0]), len(currents[0][0])
    v = [[v_rest] * n for _ in range(batch)]
    left = [[0] * n for _ in range(batch)]
    theta = [0.0] * n
    out = []
    for t in range(steps):
        if adapt:
            theta = [th * math.exp(-dt / tau_theta) for th in theta]
        spikes = [[0.0] * n for _ in range(batch)]
        for b in range(batch):
            for j in range(n):
                if left[b][j] > 0:
                    left[b][j] -= 1
                    v[b][j] = v_reset
                    continue
                v_inf = v_rest + currents[t][b][j]
                v[b][j] = v_inf + (v[b][j] - v_inf) * math.exp(-dt / tau_mem) + jumps[t][b][j]
                if v[b][j] >= v_threshold + theta[j]:
                    spikes[b][j] = 1.0
                    v[b][j] = v_reset
                    left[b][j] = refractory_steps
        if adapt:
            for j in range(n):
                theta[j] += theta_plus * sum(spikes[b][j] for b in range(batch))
        out.append(spikes)
    return out, v, theta


PARAMS = dict(tau_mem=20.0, v_rest=-65.0, v_reset=-70.0, v_threshold=-52.0, theta_plus=0.7, tau_theta=150.0, dt=0.5)


def test_matches_naive_loop_with_random_drive(device):
    gen = torch.Generator().manual_seed(3)
    steps, batch, n = 120, 3, 5
    currents = torch.rand(steps, batch, n, generator=gen, dtype=torch.float64) * 30
    jumps = (torch.rand(steps, batch, n, generator=gen, dtype=torch.float64) < 0.1) * 4.0
    neurons = AdaptiveLIF(n, refractory=2.0, dtype=torch.float64, device=device, **PARAMS)
    got = torch.stack([neurons(currents[t].to(device), jumps[t].to(device)) for t in range(steps)]).cpu()
    ref, v, theta = reference_lif(currents.tolist(), jumps.tolist(), refractory_steps=4, **PARAMS)
    assert got.sum() > 20  # the test means something: the neurons fire
    assert got.tolist() == ref
    assert torch.allclose(neurons.v.cpu(), torch.tensor(v, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(neurons.theta.cpu(), torch.tensor(theta, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("refractory", [0.0, 3.0])
def test_constant_current_fires_at_the_analytic_period(refractory):
    tau, v_rest, v_reset, v_th, current, dt = 10.0, -65.0, -65.0, -50.0, 21.3, 0.25
    neurons = AdaptiveLIF(1, tau_mem=tau, v_rest=v_rest, v_reset=v_reset, v_threshold=v_th,
                          refractory=refractory, theta_plus=0.0, dt=dt, dtype=torch.float64)
    drive = torch.full((1, 1), current, dtype=torch.float64)
    spike_steps = [t for t in range(2000) if neurons(drive).item() == 1.0]
    v_inf = v_rest + current
    t_star = tau * math.log((v_inf - v_reset) / (v_inf - v_th))  # 12.41 ms
    expected_first = math.ceil(t_star / dt) - 1  # step index t has integrated t + 1 steps
    period = math.ceil(refractory / dt) + math.ceil(t_star / dt)
    assert spike_steps[0] == expected_first
    assert all(b - a == period for a, b in zip(spike_steps, spike_steps[1:]))
    assert len(spike_steps) == 1 + (1999 - expected_first) // period


def test_theta_is_the_sum_of_decayed_increments_and_freezes_in_eval():
    theta_plus, tau_theta, dt = 0.5, 40.0, 1.0
    neurons = AdaptiveLIF(2, tau_mem=5.0, refractory=0.0, theta_plus=theta_plus, tau_theta=tau_theta, dt=dt)
    jumps = torch.zeros(60, 1, 2)
    fire_at = [3, 10, 11, 30]
    jumps[fire_at, 0, 0] = 100.0  # far above any threshold: a spike in exactly these steps
    spikes = torch.stack([neurons(jump=jumps[t]) for t in range(60)])
    assert torch.nonzero(spikes[:, 0, 0]).flatten().tolist() == fire_at
    expected = sum(theta_plus * math.exp(-(59 - s) * dt / tau_theta) for s in fire_at)
    assert neurons.theta[0].item() == pytest.approx(expected, rel=1e-5)
    assert neurons.theta[1].item() == 0.0
    neurons.eval()
    frozen = neurons.theta.clone()
    for _ in range(5):
        neurons(jump=torch.full((1, 2), 100.0))
    assert torch.equal(neurons.theta, frozen)
    neurons.train()
    neurons.adapt = False
    neurons(jump=torch.full((1, 2), 100.0))
    assert torch.equal(neurons.theta, frozen)


def test_theta_counts_spikes_of_the_whole_batch_and_raises_the_threshold():
    neurons = AdaptiveLIF(1, refractory=0.0, theta_plus=2.0, tau_theta=math.inf)
    neurons(jump=torch.full((3, 1), 50.0))
    assert neurons.theta.item() == 6.0  # three samples spiked
    neurons.reset_state()
    # v_rest + jump = -65 + 14 = -51: above the base threshold -52 but below -52 + 6
    assert neurons(jump=torch.full((1, 1), 14.0)).item() == 0.0
    neurons.reset_theta()
    neurons.reset_state()
    assert neurons(jump=torch.full((1, 1), 14.0)).item() == 1.0


def test_competition_vetoes_spikes_before_reset_and_adaptation():
    neurons = AdaptiveLIF(3, refractory=0.0, theta_plus=1.0, tau_theta=math.inf)
    spikes = neurons(jump=torch.tensor([[20.0, 30.0, 25.0]]), competition=KWinnersTakeAll(1))
    assert spikes.tolist() == [[0.0, 1.0, 0.0]]
    assert neurons.theta.tolist() == [0.0, 1.0, 0.0]
    assert neurons.v.tolist() == [[-45.0, -65.0, -40.0]]  # the losers keep their potential


def test_state_follows_to_and_state_dict_holds_theta(device):
    neurons = AdaptiveLIF((2, 3), theta_plus=1.0).to(device)
    out = neurons(jump=torch.full((4, 2, 3), 40.0, device=device))
    assert out.shape == (4, 2, 3) and out.device.type == device.type and out.dtype == torch.float32
    assert neurons.v.device.type == device.type and neurons.theta.tolist() == [[4.0] * 3] * 2
    assert set(neurons.state_dict()) == {"theta"}
    other = AdaptiveLIF((2, 3))
    other.load_state_dict({k: v.cpu() for k, v in neurons.state_dict().items()})
    assert other.theta.tolist() == [[4.0] * 3] * 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape=0), "shape"), (dict(shape=(3, 0)), r"shape\[1\]"), (dict(shape=2.0), "shape"),
    (dict(shape=2, tau_mem=0), "tau_mem"), (dict(shape=2, dt=-1), "dt"),
    (dict(shape=2, refractory=-1), "refractory"), (dict(shape=2, theta_plus=-0.1), "theta_plus"),
    (dict(shape=2, tau_theta=0), "tau_theta"), (dict(shape=2, v_threshold=-70), "v_threshold"),
    (dict(shape=2, v_rest=float("nan")), "v_rest"), (dict(shape=2, adapt=1), "adapt"),
    (dict(shape=2, dtype=torch.int32), "dtype"),
])
def test_bad_construction_names_the_argument(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        AdaptiveLIF(**kwargs)


def test_bad_inputs_leave_the_state_untouched():
    neurons = AdaptiveLIF(3, theta_plus=1.0, tau_theta=50.0)
    neurons(jump=torch.tensor([[20.0, 1.0, 1.0]] * 2))
    v, theta = neurons.v.clone(), neurons.theta.clone()
    assert theta[0] == 2.0
    with pytest.raises(ValueError, match="current or jump"):
        neurons()
    with pytest.raises(ValueError, match=r"shaped \(batch, \*\(3,\)\)"):
        neurons(jump=torch.ones(2, 4))
    with pytest.raises(TypeError, match="floating point"):
        neurons(jump=torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN"):
        neurons(current=torch.tensor([[0.0, float("nan"), 0.0]] * 2))
    with pytest.raises(ValueError, match="reset_state"):
        neurons(jump=torch.ones(5, 3))
    with pytest.raises(TypeError, match="competition"):
        neurons(jump=torch.ones(2, 3), competition=lambda s, m: s.float())
    assert torch.equal(neurons.v, v) and torch.equal(neurons.theta, theta)
