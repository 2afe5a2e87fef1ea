"""k-winners-take-all against a sort-based reference; lateral inhibition against a naive loop."""

import pytest
import torch

from stdpwidgets.nn import KWinnersTakeAll, LateralInhibition


def reference_kwta(spikes, score, k):
    """Per sample: the spiking indices sorted by (-score, index), first k kept."""
    out = []
    for s_row, c_row in zip(spikes.tolist(), score.tolist()):
        active = [j for j, s in enumerate(s_row) if s]
        winners = set(sorted(active, key=lambda j: (-c_row[j], j))[:k])
        out.append([1.0 if j in winners else 0.0 for j in range(len(s_row))])
    return out


@pytest.mark.parametrize("k", [1, 2, 5])
def test_kwta_matches_sorted_reference_with_ties(k, device):
    gen = torch.Generator().manual_seed(k)
    spikes = (torch.rand(50, 12, generator=gen) < 0.5).float()
    score = torch.randint(0, 4, (50, 12), generator=gen).float()  # many ties
    got = KWinnersTakeAll(k)(spikes.to(device), score.to(device)).cpu()
    assert got.tolist() == reference_kwta(spikes, score, k)
    assert got.sum(1).max() <= k


def test_kwta_along_channels_of_a_conv_population_and_bool_in_bool_out():
    gen = torch.Generator().manual_seed(0)
    spikes = torch.rand(2, 4, 3, 3, generator=gen) < 0.6
    score = torch.rand(2, 4, 3, 3, generator=gen)
    got = KWinnersTakeAll(1, dim=1)(spikes, score)
    assert got.dtype == torch.bool
    for b in range(2):
        for i in range(3):
            for j in range(3):
                ref = reference_kwta(spikes[b, :, i, j][None], score[b, :, i, j][None], 1)[0]
                assert got[b, :, i, j].float().tolist() == ref


def test_kwta_over_all_neurons_and_without_score_lowest_index_wins():
    spikes = torch.zeros(1, 2, 3)
    spikes[0, 0, 2] = spikes[0, 1, 0] = spikes[0, 1, 2] = 1.0
    got = KWinnersTakeAll(2, dim=None)(spikes)
    assert torch.nonzero(got).tolist() == [[0, 0, 2], [0, 1, 0]]


def test_kwta_refuses_bad_arguments():
    with pytest.raises(ValueError, match="k must be >= 1"):
        KWinnersTakeAll(0)
    with pytest.raises(TypeError, match="k must be an int"):
        KWinnersTakeAll(1.0)
    with pytest.raises(ValueError, match="batch axis"):
        KWinnersTakeAll(1, dim=0)
    kwta = KWinnersTakeAll(1)
    with pytest.raises(ValueError, match="score must be a tensor shaped like spikes"):
        kwta(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="NaN"):
        kwta(torch.ones(1, 2), torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="batch-first"):
        kwta(torch.ones(3))
    with pytest.raises(ValueError, match="dim = 3"):
        KWinnersTakeAll(1, dim=3)(torch.ones(2, 3), torch.ones(2, 3))


def test_lateral_inhibition_subtracts_the_others_spikes(device):
    gen = torch.Generator().manual_seed(1)
    drive = torch.rand(4, 6, generator=gen, dtype=torch.float64)
    spikes = (torch.rand(4, 6, generator=gen) < 0.4).double()
    got = LateralInhibition(2.5)(drive.to(device), spikes.to(device)).cpu()
    expected = [[drive[b, j].item() - 2.5 * sum(spikes[b, i].item() for i in range(6) if i != j)
                 for j in range(6)] for b in range(4)]
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_lateral_inhibition_along_channels_and_errors():
    spikes = torch.zeros(1, 3, 2)
    spikes[0, 0, 0] = spikes[0, 2, 0] = 1.0
    got = LateralInhibition(1.0, dim=1)(torch.zeros(1, 3, 2), spikes.bool())
    assert got[0, :, 0].tolist() == [-1.0, -2.0, -1.0] and got[0, :, 1].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="strength"):
        LateralInhibition(-1.0)
    with pytest.raises(ValueError, match="shaped like drive"):
        LateralInhibition(1.0)(torch.zeros(2, 3), torch.zeros(2, 4))
