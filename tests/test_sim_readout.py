"""Baselines, diversity and the linear read-out of class for conv kernels (sim.readout)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stdpwidgets.sim import (
    conv_features,
    first_spike_winners,
    kernel_similarity,
    load_digit_images,
    noise_kernels,
    readout_accuracy,
    ridge_readout,
    shuffled_kernels,
    smoothed_kernels,
    train_test_indices,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_conv_features_equal_a_loop():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(3, 8, 8, generator=gen, dtype=torch.float64)
    kernels = torch.rand(2, 1, 5, 5, generator=gen, dtype=torch.float64)
    features = conv_features(images, kernels, pool=2)
    assert features.shape == (3, 2 * 2 * 2)
    expected = torch.zeros(3, 2, 2, 2, dtype=torch.float64)
    for n in range(3):
        for c in range(2):
            response = torch.zeros(4, 4, dtype=torch.float64)
            for i in range(4):
                for j in range(4):
                    response[i, j] = (images[n, i:i + 5, j:j + 5] * kernels[c, 0]).sum()
            for a in range(2):
                for b in range(2):
                    expected[n, c, a, b] = response[2 * a:2 * a + 2, 2 * b:2 * b + 2].max()
    assert torch.allclose(features, expected.flatten(1), atol=1e-12)
    assert conv_features(images, kernels, pool=1).shape == (3, 2 * 16)


def test_ridge_readout_is_the_closed_form():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 1.0
    labels = torch.randint(0, 3, (60,), generator=gen)
    mean, scale, beta, intercept = ridge_readout(x, labels, alpha=2.0)
    z = ((x - x.mean(0)) / x.std(0, unbiased=False)).numpy()
    y = np.eye(3)[labels.numpy()]
    expected = np.linalg.solve(z.T @ z + 2.0 * np.eye(4), z.T @ (y - y.mean(0)))
    assert np.allclose(beta.numpy(), expected, atol=1e-12)
    assert np.allclose(intercept.numpy(), y.mean(0))


def test_readout_accuracy_on_separable_and_on_random_labels():
    gen = torch.Generator().manual_seed(2)
    labels = torch.arange(300) % 3
    separable = F.one_hot(labels, 3).to(torch.float64) * 5 + 0.1 * torch.randn(300, 3, generator=gen, dtype=torch.float64)
    assert readout_accuracy(separable, labels, seed=0) == 1.0
    noise = torch.randn(300, 3, generator=gen, dtype=torch.float64)
    assert readout_accuracy(noise, labels, seed=0) < 0.55  # chance is 1/3


def test_split_is_stratified_disjoint_and_seeded():
    labels = torch.arange(100) % 4
    train, test = train_test_indices(labels, 0.25, seed=3)
    assert sorted(torch.cat([train, test]).tolist()) == list(range(100))
    assert torch.bincount(labels[test]).tolist() == [6, 6, 6, 6]  # round(0.25 * 25) per class
    again = train_test_indices(labels, 0.25, seed=3)
    assert torch.equal(again[1], test)
    assert not torch.equal(train_test_indices(labels, 0.25, seed=4)[1], test)


def test_kernel_similarity_is_the_mean_pairwise_cosine():
    kernels = noise_kernels((5, 1, 3, 3), seed=0).double()
    flat = kernels.reshape(5, -1)
    centred = flat - flat.mean(1, keepdim=True)
    cosines = [float(centred[i] @ centred[j] / (centred[i].norm() * centred[j].norm()))
               for i in range(5) for j in range(5) if i != j]
    assert kernel_similarity(kernels) == pytest.approx(sum(cosines) / len(cosines), abs=1e-12)
    raw = [float(flat[i] @ flat[j] / (flat[i].norm() * flat[j].norm())) for i in range(5) for j in range(5) if i != j]
    assert kernel_similarity(kernels, centred=False) == pytest.approx(sum(raw) / len(raw), abs=1e-12)
    same = kernels[:1].repeat(4, 1, 1, 1)
    assert kernel_similarity(same) == pytest.approx(1.0, abs=1e-12)
    assert kernel_similarity(torch.cat([kernels[:1], 1 - kernels[:1]])) == pytest.approx(-1.0, abs=1e-12)


def test_smoothing_and_shuffling():
    delta = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    delta[0, 0, 2, 2] = 1.0
    blurred = smoothed_kernels(delta)
    binomial = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    assert torch.allclose(blurred[0, 0, 1:4, 1:4], binomial[:, None] * binomial[None, :] / 16, atol=1e-15)
    assert float(blurred.sum()) == pytest.approx(1.0)
    constant = torch.full((2, 1, 5, 5), 0.3, dtype=torch.float64)
    assert torch.allclose(smoothed_kernels(constant, passes=3), constant)
    kernels = noise_kernels((4, 1, 5, 5), seed=1)
    shuffled = shuffled_kernels(kernels, seed=0)
    assert torch.equal(shuffled.reshape(4, -1).sort(1).values, kernels.reshape(4, -1).sort(1).values)
    assert not torch.equal(shuffled, kernels)
    assert torch.equal(shuffled_kernels(kernels, seed=0), shuffled)


def test_first_spike_winners():
    images = load_digit_images(n_images=30, seed=0)
    kernels = noise_kernels((3, 1, 5, 5), seed=2)
    winners = first_spike_winners(kernels, images, 0.3)
    assert winners.shape == (30,) and int(winners.min()) >= 0 and int(winners.max()) <= 2
    single = first_spike_winners(kernels[:1], images, 0.3)
    assert set(single.tolist()) <= {-1, 0}
    # a bright 3x3 corner: the kernel with its weight on that corner fires first
    image = torch.zeros(1, 8, 8)
    image[0, :3, :3] = 1.0
    corner, opposite = torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 5, 5)
    corner[0, 0, :3, :3] = 1.0
    opposite[0, 0, 2:, 2:] = 1.0
    assert first_spike_winners(torch.cat([corner, opposite]), image, 0.3).tolist() == [0]
    assert first_spike_winners(torch.cat([opposite, corner]), image, 0.3).tolist() == [1]
