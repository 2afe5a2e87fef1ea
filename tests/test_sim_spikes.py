"""Spike sources and conversions: seeded Poisson rates within statistical bounds, round trips."""

import math

import pytest
import torch

from stdpwidgets.sim import fixed_count_spikes, poisson_spikes, times_to_train, train_to_raster, train_to_times
from stdpwidgets.sim.encoding import latency_encode, poisson_encode


def test_poisson_rate_within_five_sigma():
    rate, dt, steps, n = 20.0, 0.5, 20_000, 50
    spikes = poisson_spikes(rate, steps, dt, (n,), seed=1)
    assert spikes.shape == (steps, n) and spikes.dtype == torch.float32
    p = rate * dt / 1000
    count = float(spikes.sum())
    expected, sigma = steps * n * p, math.sqrt(steps * n * p * (1 - p))
    assert abs(count - expected) < 5 * sigma
    per_neuron = spikes.sum(0)
    assert float(per_neuron.std()) == pytest.approx(math.sqrt(steps * p * (1 - p)), rel=0.3)


def test_poisson_seeded_and_time_varying():
    a = poisson_spikes(50.0, 100, 1.0, (3,), seed=7)
    b = poisson_spikes(50.0, 100, 1.0, (3,), generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    rate = torch.zeros(1000, 1)
    rate[500:] = 100.0
    spikes = poisson_spikes(rate, 1000, 1.0, (40,), seed=0)
    assert float(spikes[:500].sum()) == 0.0
    assert abs(float(spikes[500:].mean()) - 0.1) < 5 * math.sqrt(0.1 * 0.9 / 20000)


def test_poisson_bad_inputs():
    with pytest.raises(ValueError, match="probability"):
        poisson_spikes(2000.0, 10, 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        poisson_spikes(-1.0, 10)
    with pytest.raises(ValueError, match="either generator or seed"):
        poisson_spikes(1.0, 10, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="broadcast"):
        poisson_spikes(torch.ones(3), 10, 1.0, (4,))
    with pytest.raises(TypeError):
        poisson_spikes(1.0, 10.0)


def test_times_train_round_trip():
    times = torch.tensor([0.0, 1.5, 1.5, 7.2, 99.9])
    train = times_to_train(times, 1000, dt=0.1)
    assert float(train.sum()) == 5 and float(train[15]) == 2
    back = train_to_times(train, dt=0.1)
    assert torch.allclose(back, times.to(torch.float64), atol=1e-9)
    with pytest.raises(ValueError, match="increase steps"):
        times_to_train([100.0], 1000, dt=0.1)
    with pytest.raises(ValueError, match="1-D"):
        train_to_times(torch.zeros(3, 2))


def test_raster_matches_naive_loop():
    spikes = poisson_spikes(100.0, 50, 1.0, (4,), seed=3)
    times, neurons = train_to_raster(spikes, dt=2.0)
    naive = [(t * 2.0, i) for t in range(50) for i in range(4) if spikes[t, i] > 0]
    assert list(zip(times.tolist(), neurons.tolist())) == naive


def test_encodings():
    images = torch.tensor([[0.0, 0.5, 1.0]])
    latency = latency_encode(images, 5)
    assert latency.shape == (5, 1, 3) and torch.equal(latency.sum(0), torch.ones(1, 3))
    assert latency[:, 0, :].argmax(0).tolist() == [4, 2, 0]
    silent = latency_encode(images, 5, threshold=0.1)
    assert float(silent[:, 0, 0].sum()) == 0
    rates = poisson_encode(torch.full((2, 2), 0.5), 4000, 1.0, 100.0, seed=0).mean()
    assert abs(float(rates) - 0.05) < 5 * math.sqrt(0.05 * 0.95 / 16000)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        latency_encode(torch.tensor([2.0]), 5)


def test_fixed_count_spikes_are_nested_in_the_rate_with_the_expected_count():
    steps, dt = 5000, 0.5  # 2.5 s
    trains = {rate: fixed_count_spikes(rate, steps, dt, seed=7) for rate in (0.0, 4.0, 10.0, 10.4, 40.0)}
    for rate, train in trains.items():
        assert train.shape == (steps,) and int(train.sum()) == round(rate * 2.5)
    rates = sorted(trains)
    for low, high in zip(rates, rates[1:]):
        assert bool((trains[high][trains[low] > 0] > 0).all())  # a higher rate keeps every spike
    assert not torch.equal(trains[10.0], trains[10.4])  # one spike more: the train changes
    # given the count, the steps are uniform: the mean step of many trains sits mid-run
    means = [float(fixed_count_spikes(20.0, steps, dt, seed=s).nonzero().float().mean()) for s in range(200)]
    assert abs(sum(means) / len(means) - (steps - 1) / 2) < 0.02 * steps


def test_fixed_count_spikes_refuse_bad_rates():
    with pytest.raises(ValueError, match="more than one spike per step"):
        fixed_count_spikes(3000.0, 10, 1.0, seed=0)
    with pytest.raises(ValueError, match="rate_hz"):
        fixed_count_spikes(-1.0, 10, 1.0, seed=0)
