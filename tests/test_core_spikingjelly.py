"""Euler decay + traces_first + constant amplitudes reproduces SpikingJelly's STDP update.

SpikingJelly (activation_based.learning.STDPLearner, via functional.learning.stdp_*_step)
updates Euler traces first, ``x <- x - x/tau + s``, then returns
``dw = f_post(w) * sum(x_pre * s_post) - f_pre(w) * sum(s_pre * y_post)`` (tau in steps) and
writes ``-dw`` into ``.grad``. The first test restates that definition as a loop in numpy; the
second calls SpikingJelly itself where it is installed (``pip install --no-deps
spikingjelly==2.0.0 loguru`` is enough: the functional module needs torch only).
"""

import numpy as np
import pytest
import torch
from torch import nn

from stdpwidgets import STDPLearner, STDPRule

TAU_PRE, TAU_POST, A_PLUS, A_MINUS = 4.0, 6.0, 0.3, 0.2


def ours(layer, pre, post):
    rule = STDPRule(TAU_PRE, TAU_POST, A_PLUS, A_MINUS)
    learner = STDPLearner(layer, rule, dt=1.0, decay="euler", traces_first=True, update="grad")
    return [learner.step(p, q).clone() for p, q in zip(pre, post)]


def spike_data(kind, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if kind == "linear":
        layer = nn.Linear(5, 3, bias=False).double()
        pre = (torch.rand(12, 4, 5, generator=gen) < 0.4).double()
        post = (torch.rand(12, 4, 3, generator=gen) < 0.4).double()
    else:
        layer = nn.Conv2d(2, 3, 3, stride=2, bias=False).double()
        pre = (torch.rand(12, 2, 2, 7, 7, generator=gen) < 0.4).double()
        post = (torch.rand(12, 2, 3, 3, 3, generator=gen) < 0.4).double()
    return layer, pre, post


def test_linear_matches_the_spikingjelly_definition_restated():
    layer, pre, post = spike_data("linear")
    x, y = np.zeros(pre.shape[1:]), np.zeros(post.shape[1:])
    expected = []
    for s_pre, s_post in zip(pre.numpy(), post.numpy()):
        x = x - x / TAU_PRE + s_pre
        y = y - y / TAU_POST + s_post
        ltp = np.einsum("bo,bi->oi", s_post, x)
        ltd = np.einsum("bo,bi->oi", y, s_pre)
        expected.append(A_PLUS * ltp - A_MINUS * ltd)
    for got, want in zip(ours(layer, pre, post), expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_matches_spikingjelly_itself(kind):
    learning = pytest.importorskip("spikingjelly.activation_based.functional.learning")
    layer, pre, post = spike_data(kind, seed=3)
    trace = (torch.zeros_like(pre[0]), torch.zeros_like(post[0]))
    reference = []
    for s_pre, s_post in zip(pre, post):
        kwargs = dict(tau_pre=TAU_PRE, tau_post=TAU_POST, f_pre=lambda w: A_MINUS + 0 * w, f_post=lambda w: A_PLUS + 0 * w)
        if kind == "linear":
            dw, trace = learning.stdp_linear_step(s_pre, s_post, trace, layer.weight.detach(), **kwargs)
        else:
            dw, trace = learning.stdp_conv2d_step(s_pre, s_post, trace, layer.weight.detach(), stride=(2, 2), **kwargs)
        reference.append(dw)
    for got, want in zip(ours(layer, pre, post), reference):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-13)
