"""DiehlCook2015: API contract, determinism, errors, the labelling/voting logic, and learning."""

import io

import numpy as np
import pytest
import torch

from stdpwidgets.sim import DiehlCook2015, load_labelled_digits
from stdpwidgets.sim.diehl_cook import text_progress

SMALL = dict(epochs=1, steps=30, batch_size=8)


@pytest.fixture(scope="module")
def digits():
    return load_labelled_digits()


@pytest.fixture(scope="module")
def small_net(digits):
    images, labels = digits
    return DiehlCook2015(n_neurons=6, seed=0, **SMALL).fit(images[:40], progress=False)


def test_fit_transform_predict_shapes_and_types(digits, small_net):
    images, labels = digits
    net = small_net
    assert net.weights_.shape == (6, 64) and net.theta_.shape == (6,)
    assert torch.allclose(net.weights_.sum(1), torch.full((6,), net.weight_total), rtol=1e-5)
    assert float(net.weights_.min()) >= 0.0 and float(net.weights_.max()) <= net.w_max
    assert float(net.theta_.min()) >= 0 and float(net.theta_.max()) > 0  # neurons fired while learning, and adapted
    counts = net.transform(images[40:50])
    assert counts.shape == (10, 6) and counts.dtype == torch.float32
    assert float(counts.sum(1).min()) >= 1  # the retries at higher rates leave no image unanswered
    assert net.label_neurons(images[:40], labels[:40]) is net
    assert net.neuron_labels_.shape == (6,) and net.neuron_labels_.dtype == torch.int64
    predicted = net.predict(images[40:50].numpy())  # NumPy in, torch out
    assert predicted.shape == (10,) and predicted.dtype == torch.int64
    assert set(predicted.tolist()) <= set(net.neuron_labels_.tolist())
    assert "fitted" in repr(net) and net.fit_seconds_ > 0


def test_same_seed_same_network_other_seed_other_network(digits, small_net):
    images, _ = digits
    again = DiehlCook2015(n_neurons=6, seed=0, **SMALL).fit(images[:40], progress=False)
    assert torch.equal(again.weights_, small_net.weights_) and torch.equal(again.theta_, small_net.theta_)
    assert torch.equal(again.transform(images[40:60]), small_net.transform(images[40:60]))
    other = DiehlCook2015(n_neurons=6, seed=1, **SMALL).fit(images[:40], progress=False)
    assert not torch.equal(other.weights_, small_net.weights_)


def test_label_neurons_and_predict_follow_the_hand_made_counts():
    net = DiehlCook2015(n_neurons=4, seed=0)
    net.weights_, net.theta_, net.image_shape_ = torch.zeros(4, 4), torch.zeros(4), (2, 2)
    train_counts = torch.tensor([
        # neurons 0 and 1 answer class 3, neuron 2 class 5, neuron 3 never fires
        [4.0, 1.0, 0.0, 0.0],   # class 3
        [2.0, 3.0, 1.0, 0.0],   # class 3
        [0.0, 1.0, 6.0, 0.0],   # class 5
        [1.0, 0.0, 2.0, 0.0],   # class 7: neuron 0 mean 1 < 3 (class 3), neuron 2 mean 2 < 6
    ])
    labels = torch.tensor([3, 3, 5, 7])
    net.transform = lambda images: train_counts
    net.label_neurons(torch.zeros(4, 2, 2), labels)
    assert net.neuron_labels_.tolist() == [3, 3, 5, -1]
    assert net.classes_.tolist() == [3, 5, 7]
    test_counts = torch.tensor([
        [3.0, 3.0, 5.0, 9.0],  # class 3 mean 3 < class 5 mean 5; neuron 3 has no vote
        [8.0, 0.0, 3.0, 0.0],  # class 3 mean 4 > 3
        [1.0, 1.0, 1.0, 0.0],  # tie 1 = 1: the lower class
        [0.0, 0.0, 0.0, 0.0],  # silent: the first class
    ])
    net.transform = lambda images: test_counts
    assert net.predict(torch.zeros(4, 2, 2)).tolist() == [5, 3, 3, 3]
    assert net.score(torch.zeros(4, 2, 2), [5, 3, 5, 3]) == 0.75


def test_learns_three_digit_classes_far_above_chance(digits):
    images, labels = digits
    keep = torch.isin(labels, torch.tensor([0, 1, 7]))
    x, y = images[keep], labels[keep]
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(x.shape[0], generator=gen)
    train, test = order[:150], order[150:300]
    net = DiehlCook2015(n_neurons=9, seed=0, epochs=2, steps=60, batch_size=8)
    net.fit(x[train], progress=False).label_neurons(x[train], y[train])
    accuracy = net.score(x[test], y[test])
    # measured 0.967 (145 of 150) with seed 0 (three neurons per class); chance is 1/3
    assert accuracy > 0.85, accuracy


def test_latency_encoding_and_on_off_inputs_run(digits):
    images, labels = digits
    net = DiehlCook2015(n_neurons=4, seed=0, encoding="latency", on_off=True, **SMALL)
    net.fit(images[:16], progress=False)
    assert net.weights_.shape == (4, 128)  # ON and OFF input per pixel
    assert net.label_neurons(images[:16], labels[:16]).predict(images[16:20]).shape == (4,)


def test_progress_forms(digits):
    images, _ = digits
    calls = []
    DiehlCook2015(n_neurons=2, seed=0, epochs=2, steps=5, batch_size=8).fit(
        images[:12], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(8, 24), (12, 24), (20, 24), (24, 24)]

    class IntProgress:  # what an ipywidgets bar offers
        value, max = 0, 0

    bar = IntProgress()
    DiehlCook2015(n_neurons=2, seed=0, epochs=1, steps=5, batch_size=8).fit(images[:12], progress=bar)
    assert (bar.value, bar.max) == (12, 12)

    class Bar:  # what a tqdm bar offers
        n = 0

        def update(self, k):
            self.n += k

    tqdm_like = Bar()
    DiehlCook2015(n_neurons=2, seed=0, epochs=1, steps=5, batch_size=8).fit(images[:12], progress=tqdm_like)
    assert tqdm_like.n == 12
    stream = io.StringIO()
    report = text_progress(every=10, stream=stream)
    for done in (8, 12, 20, 24):
        report(done, 24)
    assert stream.getvalue().splitlines() == [
        "DiehlCook2015.fit: 12/24 images", "DiehlCook2015.fit: 20/24 images", "DiehlCook2015.fit: 24/24 images"]
    with pytest.raises(TypeError, match="progress must be"):
        DiehlCook2015(n_neurons=2, epochs=1, steps=5).fit(images[:4], progress=3)


def test_errors_name_the_argument_and_leave_the_network(digits, small_net):
    images, labels = digits
    net = DiehlCook2015(n_neurons=3)
    with pytest.raises(RuntimeError, match="call fit"):
        net.predict(images[:2])
    with pytest.raises(RuntimeError, match="call fit"):
        net.label_neurons(images[:2], labels[:2])
    for bad, error, match in [
        (images[0], ValueError, r"\(N, H, W\)"),
        (images[:0], ValueError, "N >= 1"),
        (images[:2] * 16, ValueError, r"\[0, 1\]"),
        (torch.full((2, 8, 8), float("nan")), ValueError, "finite"),
        ((images[:2] * 16).long(), TypeError, "floating point"),
        ([[0.0]], TypeError, "tensor or NumPy array"),
    ]:
        with pytest.raises(error, match=match):
            net.fit(bad, progress=False)
    assert net.weights_ is None
    weights = small_net.weights_.clone()
    with pytest.raises(ValueError, match=r"fitted on \(8, 8\)"):
        small_net.transform(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="one label per row"):
        small_net.label_neurons(images[:10], labels[:9])
    with pytest.raises(ValueError, match="labels"):
        small_net.label_neurons(images[:2], np.array([0.5, 1.0]))
    unlabelled = DiehlCook2015(n_neurons=2, seed=0, epochs=1, steps=5).fit(images[:4], progress=False)
    with pytest.raises(RuntimeError, match="label_neurons"):
        unlabelled.predict(images[:2])
    assert torch.equal(small_net.weights_, weights)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_neurons=0), ValueError, "n_neurons"),
    (dict(n_neurons=2.5), TypeError, "n_neurons"),
    (dict(seed="a"), TypeError, "seed"),
    (dict(device=3), TypeError, "device"),
    (dict(encoding="rate"), ValueError, "encoding"),
    (dict(init="zeros"), ValueError, "init"),
    (dict(steps=0), ValueError, "steps"),
    (dict(max_rate_hz=-1.0), ValueError, "max_rate_hz"),
    (dict(weight_total=0.0), ValueError, "weight_total"),
    (dict(learning_rate_decay=1.5), ValueError, "learning_rate_decay"),
    (dict(theta_plus=-0.1), ValueError, "theta_plus"),
    (dict(tau_mem=0.0), ValueError, "tau_mem"),
    (dict(v_threshold=-70.0), ValueError, "v_threshold"),
    (dict(on_off="yes"), TypeError, "on_off"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DiehlCook2015(**kwargs)


def test_cuda_unavailable_is_refused_or_cuda_matches_shapes(digits):
    images, labels = digits
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            DiehlCook2015(device="cuda")
        pytest.skip("no CUDA device")
    net = DiehlCook2015(n_neurons=6, seed=0, device="cuda", **SMALL).fit(images[:40], progress=False)
    assert net.weights_.device.type == "cuda"
    predicted = net.label_neurons(images[:40], labels[:40]).predict(images[40:50])
    assert predicted.shape == (10,) and predicted.device.type == "cpu"
