"""The frequency experiment of Sjöström et al. (2001) for any rule, against the closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from stdpwidgets import STDPRule, TripletRule, triplet_protocol_change
from stdpwidgets.sim import SJOSTROM_2001, frequency_experiment


@pytest.mark.parametrize("preset", sorted(TripletRule.PRESETS))
def test_triplet_fits_equal_their_closed_forms(preset):
    rule = TripletRule.preset(preset)
    result = frequency_experiment(rule)
    assert result.model.shape == (2, 5) and result.model.dtype == torch.float64
    for i, lag in enumerate(SJOSTROM_2001["delta_t_ms"]):
        for j, freq in enumerate(SJOSTROM_2001["frequency_hz"]):
            assert float(result.model[i, j]) == pytest.approx(triplet_protocol_change(rule, 60, lag, freq), rel=1e-11)


def test_pair_rule_potentiates_at_low_frequency_where_the_data_do_not():
    """Every additive pair rule gives 60 A+ exp(-10/tau+) > 0 for +10 ms at 0.1 Hz."""
    rule = STDPRule(16.8, 33.7, 0.005, 0.0071)
    result = frequency_experiment(rule)
    expected = 60 * 0.005 * math.exp(-10 / 16.8)  # the pairings are 10 s apart: no other pair counts
    assert float(result.model[0, 0]) == pytest.approx(expected, rel=1e-6)
    assert SJOSTROM_2001["mean"][0][0] <= 0 < float(result.model[0, 0])


def test_minimal_triplet_fit_follows_the_data_within_their_error_bars_mostly():
    result = frequency_experiment(TripletRule.preset("visual-cortex-all-to-all-minimal"))
    within = (result.model - result.data_mean).abs() <= 2 * result.data_error
    assert int(within.sum()) >= 8  # 8 of 10 points within two error bars; -10 ms at 40 Hz is the exception
    assert float(result.model[1, 3]) < float(result.data_mean[1, 3]) - result.data_error[1, 3]


def test_data_table_and_arguments():
    assert len(SJOSTROM_2001["frequency_hz"]) == 5 and SJOSTROM_2001["mean"][1][4] == 0.75
    result = frequency_experiment(TripletRule.preset("visual-cortex-nearest-full"), frequency_hz=[1.0, 30.0],
                                  delta_t_ms=[5.0])
    assert result.model.shape == (1, 2) and result.data_mean.shape == (2, 5)
    with pytest.raises(TypeError, match="rule must be"):
        frequency_experiment("pair")
