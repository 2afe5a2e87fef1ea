"""Convolutional STDP on digits / bars: winner-take-all rules and structured kernels."""

import pytest
import torch
from torch import nn

from stdpwidgets.sim import (
    generated_patterns,
    kernel_structure,
    latency_encode,
    load_digit_images,
    train_conv_stdp,
    winner_take_all_spikes,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # many tiny tensor ops (see conftest)


def test_digits_loader():
    images = load_digit_images(n_images=50, seed=0)
    assert images.shape == (50, 8, 8) and images.dtype == torch.float32
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    ones = load_digit_images(digits=[1])
    assert 150 < ones.shape[0] < 200
    with pytest.raises(ValueError, match="digits"):
        load_digit_images(digits=[12])


def test_generated_bars():
    bars = generated_patterns(20, size=8, n_orientations=2, seed=1)
    assert bars.shape == (20, 8, 8) and 0 <= float(bars.min()) and float(bars.max()) <= 1
    assert torch.equal(bars, generated_patterns(20, size=8, n_orientations=2, seed=1))
    assert (bars.sum(dim=(1, 2)) > 3).all()  # every image holds a bar


def test_winner_take_all_one_spike_per_channel_and_position():
    layer = nn.Conv2d(1, 6, 3, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.2, 0.8, generator=torch.Generator().manual_seed(0))
    images = load_digit_images(n_images=4, seed=1).unsqueeze(1)
    pre = latency_encode(images, 10)
    post = winner_take_all_spikes(layer, pre, torch.full((6,), 1.0))
    assert post.shape == (10, 4, 6, 6, 6)
    assert post.sum(dim=(0, 3, 4)).max() <= 1  # each channel once per image
    assert post.sum(dim=(0, 2)).max() <= 1  # each position once per image
    assert post.sum() > 0


def test_train_conv_stdp_learns_structure():
    images = load_digit_images(n_images=200, seed=0)
    seen = []
    result = train_conv_stdp(images, out_channels=4, kernel_size=5, seed=0, progress=seen.append, n_snapshots=3)
    assert result.kernels.shape == (4, 4, 1, 5, 5)
    assert seen[-1] == pytest.approx(1.0)
    assert result.images_seen.tolist()[-1] == 200
    k0, k1 = result.kernels[0], result.kernels[-1]
    assert float(k1.min()) >= 0 and float(k1.max()) <= 1
    assert float(k1.var(dim=(1, 2, 3)).mean()) > 5 * float(k0.var(dim=(1, 2, 3)).mean())
    assert float(kernel_structure(k1, images).mean()) > float(kernel_structure(k0, images).mean()) + 0.1
    again = train_conv_stdp(images, out_channels=4, kernel_size=5, seed=0, n_snapshots=3)
    assert torch.equal(again.kernels, result.kernels)


def test_train_conv_stdp_bad_inputs():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_conv_stdp(torch.full((2, 8, 8), 3.0))
    with pytest.raises(ValueError, match="encoding"):
        train_conv_stdp(torch.zeros(2, 8, 8), encoding="rank")
    with pytest.raises(ValueError, match="kernel_size"):
        train_conv_stdp(torch.zeros(2, 8, 8), kernel_size=9)
