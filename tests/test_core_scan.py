"""The prefix scan of clipped affine maps equals applying them one after another."""

import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule
from stdpwidgets.core import scan


def random_maps(steps, shape, seed, additive):
    gen = torch.Generator().manual_seed(seed)
    beta = torch.randn(steps, *shape, generator=gen, dtype=torch.float64) * 0.3
    alpha = torch.ones_like(beta) if additive else torch.rand(steps, *shape, generator=gen, dtype=torch.float64) * 1.2
    alpha[::7] = 0.0  # maps that forget the weight entirely
    lo = torch.full_like(beta, -0.5)
    hi = torch.full_like(beta, 0.8)
    hi[3::11] = -0.5  # a degenerate interval lo == hi
    return alpha, beta, lo, hi


@pytest.mark.parametrize("steps", [1, 2, 5, 64, 100])
@pytest.mark.parametrize("additive", [True, False])
def test_prefix_scan_equals_sequential_application(steps, additive):
    maps = random_maps(steps, (4, 3), steps, additive)
    w0 = torch.linspace(-0.6, 0.9, 12, dtype=torch.float64).reshape(4, 3)
    expected, w = [], w0
    for k in range(steps):
        w = torch.clamp(maps[0][k] * w + maps[1][k], maps[2][k], maps[3][k])
        expected.append(w)
    path = scan.apply(scan.prefix_compose(maps), w0)
    torch.testing.assert_close(path, torch.stack(expected), rtol=0, atol=1e-13)


def test_multiplicative_weights_outside_the_bounds_use_the_exact_loop():
    """Soft-bound factors are clamped at zero outside the bounds: the affine form would be wrong."""
    rule = STDPRule(10.0, 10.0, 0.05, 0.05, weight_dependence="multiplicative", w_min=0.0, w_max=1.0)
    gen = torch.Generator().manual_seed(0)
    pre = (torch.rand(40, 2, 3, generator=gen) < 0.3).double()
    post = (torch.rand(40, 2, 2, generator=gen) < 0.3).double()
    results = []
    for use_run in (True, False):
        layer = nn.Linear(3, 2, bias=False).double()
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([[1.5, -0.3, 0.5], [0.2, 2.0, -1.0]]))
        learner = STDPLearner(layer, rule)
        if use_run:
            learner.run(pre, post)
        else:
            for p, q in zip(pre, post):
                learner.step(p, q)
        results.append(layer.weight.detach().clone())
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=1e-13)
    assert results[0].min() >= 0.0 and results[0].max() <= 1.0
