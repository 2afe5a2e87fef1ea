"""Weight normalisation: each output neuron's incoming weights sum to the total."""

import pytest
import torch

from stdpwidgets.nn import WeightNormalization, normalize_incoming_


def test_linear_rows_sum_to_total_and_keep_their_proportions(device):
    gen = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(30, 7, bias=False).to(device)
    with torch.no_grad():
        layer.weight.copy_(torch.rand(7, 30, generator=gen).to(device))
        layer.weight[3] = 0.0  # a zero row stays zero
    before = layer.weight.detach().clone()
    out = WeightNormalization(layer, total=4.5)()
    assert out is layer.weight
    sums = layer.weight.sum(1).cpu().double()
    for j in range(7):
        if j == 3:
            assert layer.weight[3].abs().sum().item() == 0.0
        else:
            assert abs(sums[j].item() - 4.5) < 1e-6 * 4.5 * 10  # float32 sum of 30 terms
            ratio = (layer.weight[j] / before[j]).cpu()
            assert torch.allclose(ratio, torch.full_like(ratio, 4.5 / before[j].sum().item()), rtol=1e-5)


def test_conv_out_channels_sum_to_total_in_float64():
    gen = torch.Generator().manual_seed(1)
    conv = torch.nn.Conv2d(3, 5, 4, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.rand(conv.weight.shape, generator=gen, dtype=torch.float64))
    WeightNormalization(conv, total=2.0)()
    sums = conv.weight.detach().sum(dim=(1, 2, 3))
    assert torch.allclose(sums, torch.full((5,), 2.0, dtype=torch.float64), atol=1e-12)


def test_normalize_incoming_refuses_bad_arguments_and_leaves_weight():
    w = torch.tensor([[1.0, 2.0], [-3.0, 1.0]])
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        normalize_incoming_(w, 1.0)
    assert w.tolist() == [[1.0, 2.0], [-3.0, 1.0]]
    with pytest.raises(ValueError, match="total must be > 0"):
        normalize_incoming_(torch.ones(2, 2), -1.0)
    with pytest.raises(ValueError, match="total must be > 0"):
        normalize_incoming_(torch.ones(2, 2), 0.0)
    with pytest.raises(TypeError, match="total"):
        normalize_incoming_(torch.ones(2, 2), "1")
    with pytest.raises(TypeError, match="floating point"):
        normalize_incoming_(torch.ones(2, 2, dtype=torch.int64), 1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        normalize_incoming_(torch.tensor([[1.0, float("inf")]]), 1.0)
    with pytest.raises(TypeError, match="transposed"):
        WeightNormalization(torch.nn.ConvTranspose2d(2, 3, 3), 1.0)
    with pytest.raises(TypeError, match="layer must be an nn.Module"):
        WeightNormalization(torch.ones(2, 2), 1.0)
