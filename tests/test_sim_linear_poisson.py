"""The linear Poisson neuron, its STDP drift with correlations (Kempter et al. 1999), Gütig's
symmetry breaking, and correlated input groups: closed forms against loops and simulations."""

import math

import pytest
import torch

from stdpwidgets import STDPRule
from stdpwidgets.sim import (
    correlated_poisson_groups,
    critical_weight,
    group_labels,
    group_symmetry,
    linear_poisson_drift,
    linear_poisson_output,
    linear_poisson_rate,
    linear_poisson_stdp,
    measure_linear_poisson_drift,
    regulated_rate_bound,
    window_epsilon_integral,
    window_integral,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RULE = STDPRule(20.0, 20.0, 1e-3, 1.05e-3)


def test_window_integrals_against_sums_and_quadrature():
    rule = STDPRule(16.8, 33.7, 0.01, 0.006)
    assert window_integral(rule) == pytest.approx(0.01 * 16.8 - 0.006 * 33.7, rel=1e-12)
    dt = 0.5
    grid = sum(0.01 * math.exp(-k * dt / 16.8) - 0.006 * math.exp(-k * dt / 33.7) for k in range(1, 20_000)) * dt
    assert window_integral(rule, dt=dt) == pytest.approx(grid, rel=1e-12)
    # continuous overlap with eps(s) = exp(-s/tau_e)/tau_e by the trapezoid rule
    tau_e, h = 7.0, 1e-3
    s = torch.arange(0, 400, h, dtype=torch.float64)
    integrand = 0.01 * torch.exp(-s / 16.8) * torch.exp(-s / tau_e) / tau_e
    assert window_epsilon_integral(rule, tau_e) == pytest.approx(float(torch.trapezoid(integrand, dx=h)), rel=1e-6)
    assert window_epsilon_integral(rule, tau_e) == pytest.approx(0.01 * 16.8 / (16.8 + tau_e), rel=1e-12)
    # on the grid: sum over m >= 1 of A+ q^m eps_m dt with eps_m = (1 - r) r^(m-1) / dt
    r, q = math.exp(-dt / tau_e), math.exp(-dt / 16.8)
    grid = sum(0.01 * q**m * (1 - r) * r ** (m - 1) for m in range(1, 20_000))
    assert window_epsilon_integral(rule, tau_e, dt=dt) == pytest.approx(grid, rel=1e-12)
    with pytest.raises(ValueError, match="depends on the weight"):
        window_integral(STDPRule(20, 20, 0.01, 0.01, weight_dependence="multiplicative", w_min=0, w_max=1))


def test_drift_formula_by_hand():
    w = torch.tensor([0.01, 0.03, 0.05], dtype=torch.float64)
    nu, nu_post = 0.010, 0.010 * float(w.sum()) + 0.002  # per ms
    drift = linear_poisson_drift(RULE, w, 10.0, 10.0, rate0_hz=2.0)
    w_bar, c_hat = 1e-3 * 20 - 1.05e-3 * 20, 1e-3 * 20 / 30
    assert torch.allclose(drift, (nu * nu_post * w_bar + c_hat * nu * w) * 1e3, rtol=1e-12)
    # correlated groups: the group's other weights enter with c * nu
    grouped = linear_poisson_drift(RULE, w, 10.0, 10.0, group_sizes=[2, 1], correlation=0.2)
    nu_post = nu * float(w.sum())
    expected = nu * nu_post * w_bar + c_hat * nu * (w + 0.2 * torch.tensor([w[1], w[0], 0.0], dtype=torch.float64))
    assert torch.allclose(grouped, expected * 1e3, rtol=1e-12)
    assert linear_poisson_rate(w, 10.0, 2.0) == pytest.approx(10.0 * 0.09 + 2.0)


def test_critical_weight_and_rate_bound():
    rate = 30.0
    w_c = critical_weight(RULE, rate, 10.0)
    assert w_c == pytest.approx(0.030 * (1.05e-3 - 1e-3) * 20 / (1e-3 * 20 / 30), rel=1e-12)
    # one synapse at w_c, the output rate held at 30 Hz by the spontaneous rate: no drift
    drift = linear_poisson_drift(RULE, torch.tensor([w_c], dtype=torch.float64), 10.0, 10.0, rate0_hz=rate - 10.0 * w_c)
    assert abs(float(drift[0])) < 1e-15
    bound = regulated_rate_bound(RULE, 0.1, 10.0)
    assert bound == pytest.approx(0.1 * (1e-3 * 20 / 30) / (0.05e-3 * 20) * 1e3, rel=1e-12)
    assert critical_weight(RULE, bound, 10.0) == pytest.approx(0.1, rel=1e-12)


def test_output_equals_a_loop_with_the_same_draws():
    pre = correlated_poisson_groups(40.0, 300, 1.0, [6], 0.0, batch=2, seed=0, dtype=torch.float64)
    w = torch.linspace(0.05, 0.3, 6, dtype=torch.float64)
    post, state = linear_poisson_output(pre, w, 1.0, 8.0, 5.0, generator=torch.Generator().manual_seed(7))
    r = math.exp(-1.0 / 8.0)
    u = torch.zeros(2, dtype=torch.float64)
    probability = torch.zeros(300, 2, dtype=torch.float64)
    for k in range(300):
        probability[k] = (5e-3 + (1 - r) * u).clamp(0, 1)
        u = r * u + pre[k] @ w
    draws = torch.rand(300, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    assert torch.equal(post[..., 0], (draws < probability).double())
    assert torch.allclose(state, u)
    # carrying the state across two calls equals one call
    first, mid = linear_poisson_output(pre[:120], w, 1.0, 8.0, 5.0, generator=torch.Generator().manual_seed(1))
    again, _ = linear_poisson_output(pre[120:], w, 1.0, 8.0, 5.0, mid, torch.Generator().manual_seed(2))
    r_draws = torch.cat([torch.rand(120, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64),
                         torch.rand(180, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)])
    assert torch.equal(torch.cat([first, again])[..., 0], (r_draws < probability).double())


@pytest.mark.parametrize("groups, correlation", [(None, 0.0), ([10, 10], 0.3)])
def test_measured_drift_matches_the_grid_closed_form(groups, correlation):
    w = torch.linspace(0.0, 0.1, 20, dtype=torch.float64)
    measured = measure_linear_poisson_drift(RULE, w, 10.0, 10.0, 100_000.0, 1.0, group_sizes=groups,
                                            correlation=correlation, n_segments=20, seed=0)
    expected = linear_poisson_drift(RULE, w, 10.0, 10.0, group_sizes=groups, correlation=correlation, dt=1.0)
    z = (measured.mean - expected) / measured.sem
    assert float(z.abs().max()) < 4.0 and abs(float(z.mean())) < 1.0
    assert measured.output_rate_hz == pytest.approx(linear_poisson_rate(w, 10.0), rel=0.05)
    assert measured.samples.shape == (20, 20)


def test_correlated_groups_rates_and_correlations():
    p, c = 0.02, 0.25
    spikes = correlated_poisson_groups(20.0, 100_000, 1.0, [3, 2], c, seed=1, dtype=torch.float64)[:, 0]
    assert spikes.shape == (100_000, 5)
    rates = spikes.mean(0)
    assert torch.allclose(rates, torch.full((5,), p, dtype=torch.float64), atol=4 * math.sqrt(p / 100_000))
    coefficient = torch.corrcoef(spikes.t())
    exact = (c - p) / (1 - p)
    assert coefficient[0, 1].item() == pytest.approx(exact, abs=0.02)
    assert coefficient[3, 4].item() == pytest.approx(exact, abs=0.02)
    assert abs(coefficient[0, 3].item()) < 0.02
    assert group_labels([3, 2]).tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="below the spike probability"):
        correlated_poisson_groups(20.0, 10, 1.0, [2], 0.01)
    with pytest.raises(ValueError, match="correlation"):
        correlated_poisson_groups(20.0, 10, 1.0, [2], 1.5)


def test_group_symmetry_fixed_point_and_eigenvalue():
    rule = STDPRule(20.0, 20.0, 1e-3, 1.3e-3, weight_dependence="gutig", mu=0.5, w_min=0.0, w_max=0.05)
    n, c = 20, 0.1
    sym = group_symmetry(rule, n, 10.0, c, 10.0)
    w = torch.full((2 * n,), sym.weight, dtype=torch.float64)
    drift = linear_poisson_drift(rule, w, 10.0, 10.0, group_sizes=[n, n], correlation=c)
    scale = float(linear_poisson_drift(rule, w * 0.5, 10.0, 10.0, group_sizes=[n, n], correlation=c).abs().max())
    # the mean field drops the self term's difference (K_ii = nu, not c nu): O(1/n) apart
    assert float(drift.abs().max()) < 1e-9 * scale + 1e-12
    h = 1e-7
    plus = torch.cat([torch.full((n,), sym.weight + h, dtype=torch.float64), torch.full((n,), sym.weight - h, dtype=torch.float64)])
    minus = torch.cat([torch.full((n,), sym.weight - h, dtype=torch.float64), torch.full((n,), sym.weight + h, dtype=torch.float64)])
    d_plus = linear_poisson_drift(rule, plus, 10.0, 10.0, group_sizes=[n, n], correlation=c)[0]
    d_minus = linear_poisson_drift(rule, minus, 10.0, 10.0, group_sizes=[n, n], correlation=c)[0]
    assert float((d_plus - d_minus) / (2 * h)) == pytest.approx(sym.antisymmetric, rel=1e-5)
    assert sym.rate_hz == pytest.approx(linear_poisson_rate(w, 10.0))
    # the chapter's setting: the symmetry breaks for small mu and holds for mu = 1
    def breaking(mu):
        gutig = STDPRule(20.0, 20.0, 0.02, 0.026, weight_dependence="gutig", mu=mu, w_min=0.0, w_max=1.0)
        return group_symmetry(gutig, 50, 10.0, 0.1, 10.0, weight_scale=0.1).antisymmetric
    assert breaking(0.05) > 0 > breaking(1.0)


def test_linear_poisson_stdp_run():
    rule = STDPRule(20.0, 20.0, 0.02, 0.026, weight_dependence="gutig", mu=1.0, w_min=0.0, w_max=1.0)
    run = linear_poisson_stdp(rule, [10, 10], 10.0, 0.1, 5_000.0, weight_scale=0.1, n_snapshots=5, seed=0)
    assert run.weights.shape == (6, 20) and run.output_rate_hz.shape == (5,)
    assert float(run.weights.min()) >= 0.0 and float(run.weights.max()) <= 1.0
    assert run.group_means().shape == (6, 2)
    again = linear_poisson_stdp(rule, [10, 10], 10.0, 0.1, 5_000.0, weight_scale=0.1, n_snapshots=5, seed=0)
    assert torch.equal(run.weights, again.weights)
    with pytest.raises(ValueError, match="finite bounds"):
        linear_poisson_stdp(RULE, [2], 10.0, 0.0, 100.0)
