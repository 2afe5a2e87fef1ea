"""RewardExplorer (one pairing, a delayed reward, the eligibility trace): headless checks.

The explorer's numbers are recomputed here from the definition of three-factor STDP
(e <- e q_e + c at the pairing's later spike, w <- w + r e) written as closed forms in the test,
independently of the explorer's own closed form.
"""

import base64
import math

import ipywidgets
import numpy as np
import pytest
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure

from stdpwidgets.plots import Player
from stdpwidgets.plots.reward import reward_figure
from stdpwidgets.widgets.reward import DOPAMINE_TAU_MS, REWARD_RULE, RewardExplorer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def explorer():
    return RewardExplorer()


def expected_change(lag, delay, tau_e, reward, shape, steps_after):
    """Delta w from the definition, summed step by step (no geometric-series formula)."""
    rule = REWARD_RULE
    if lag > 0:
        c = rule.a_plus * math.exp(-lag / rule.tau_pre)
    elif lag < 0:
        c = -rule.a_minus * math.exp(lag / rule.tau_post)
    else:
        c = 0.0
    q_e = math.exp(-1.0 / tau_e)
    if shape == "pulse":
        return reward * c * q_e ** delay
    q_d = math.exp(-1.0 / DOPAMINE_TAU_MS)
    return sum(reward * (1 - q_d) * q_d ** k * c * q_e ** (delay + k) for k in range(steps_after + 1))


def check(explorer):
    params, data = explorer.parameters, explorer.data
    lag, delay = int(params["delta_t"]), int(params["delay"])
    paired = 50 + abs(lag)
    steps_after = len(data["time_ms"]) - 1 - (paired + delay)
    want = expected_change(lag, delay, params["tau_e"], params["reward"], params["reward_shape"], steps_after)
    assert data["weight_change"] == pytest.approx(want, rel=1e-9, abs=1e-15)
    assert data["closed_form_change"] == pytest.approx(want, rel=1e-9, abs=1e-15)
    # the learner's eligibility follows c exp(-(t - t_c)/tau_e) after the pairing, and is 0 before it
    np.testing.assert_allclose(data["eligibility"], data["eligibility_closed_form"], rtol=1e-9, atol=1e-15)
    assert not data["eligibility"][:paired].any()
    # the curve on the right passes through the simulated point
    k = int(np.flatnonzero(data["delays_ms"] == delay)[0])
    assert data["sweep_change"][k] == pytest.approx(data["weight_change"], rel=1e-9, abs=1e-15)
    art = explorer.figure.stdp_artists
    np.testing.assert_array_equal(art["eligibility"].get_ydata(), data["eligibility"])
    np.testing.assert_array_equal(art["current"].get_ydata(), [data["weight_change"]])
    assert float(art["pre_spikes"].get_xdata()[0]) == 50 + max(0, -lag)


def test_defaults_match_the_closed_form(explorer):
    assert isinstance(explorer, ipywidgets.VBox) and isinstance(explorer.figure, Figure)
    assert explorer.error is None
    check(explorer)
    # default: lag 10 ms, reward 1 after 500 ms, tau_e = 1 s
    assert explorer.data["weight_change"] == pytest.approx(0.05 * math.exp(-10 / 16.8) * math.exp(-0.5), rel=1e-9)
    assert explorer.png().startswith(PNG_MAGIC)
    bundle = explorer._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert bundle["text/plain"].startswith("<RewardExplorer")
    assert "closed form" in explorer.figure.stdp_artists["footer"].get_text()
    assert not _pylab_helpers.Gcf.get_all_fig_managers()


@pytest.mark.parametrize("name, value", [("delta_t", -20.0), ("delay", 1000.0), ("tau_e", 200.0),
                                         ("reward", -0.5), ("reward_shape", "dopamine"), ("delta_t", 0.0)])
def test_every_control_changes_the_run_and_matches_the_closed_form(name, value):
    explorer = RewardExplorer(delay=300)
    figure, before = explorer.figure, explorer.data["weight_change"]
    explorer.controls[name].value = value
    assert explorer.error is None and explorer.figure is figure  # updated in place
    check(explorer)
    assert explorer.data["weight_change"] != before


def test_a_delay_much_longer_than_tau_e_leaves_almost_nothing():
    explorer = RewardExplorer(delay=1000, tau_e=100)
    assert abs(explorer.data["weight_change"]) < math.exp(-10) * REWARD_RULE.a_plus  # e^(-d/tau_e)
    check(explorer)


def test_constructor_keywords_are_checked_and_named():
    with pytest.raises(TypeError, match="unexpected keyword 'tau_elig'"):
        RewardExplorer(tau_elig=100.0)
    with pytest.raises(ValueError, match="delay"):
        RewardExplorer(delay=5000.0)
    with pytest.raises(ValueError, match="reward_shape"):
        RewardExplorer(reward_shape="step")
    with pytest.raises(TypeError, match="reward"):
        RewardExplorer(reward="one")


def test_a_nan_set_from_python_is_refused_in_the_widget(explorer):
    explorer.controls["delay"].value = float("nan")
    assert "delay" in (explorer.error or "")
    explorer.controls["delay"].value = 500.0
    assert explorer.error is None


def test_the_player_records_frames_over_the_delay_and_restores_the_explorer():
    explorer = RewardExplorer()
    before = dict(explorer.parameters), explorer.data["weight_change"]
    player = explorer.player(control="delay", values=[0, 500, 1000])
    assert isinstance(player, Player) and len(player.frames) == 3
    assert all(frame.startswith(PNG_MAGIC) for frame in player.frames)
    assert len(set(player.frames)) == 3
    assert player.labels[1] == "reward delay d (ms) = 500"
    assert (dict(explorer.parameters), explorer.data["weight_change"]) == before
    assert '<div class="stdp-player"' in player.to_html()
    with pytest.raises(ValueError, match="delay"):
        explorer.player(control="delay", values=[2000])


def test_the_figure_builder_refuses_mismatched_sweeps():
    t = np.arange(5.0)
    with pytest.raises(ValueError, match="delays_ms"):
        reward_figure(t, t, t, t, t, t, t, [0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="eligibility"):
        reward_figure(t, t, t, t, t[:3], t, t, [0.0], [0.0])
