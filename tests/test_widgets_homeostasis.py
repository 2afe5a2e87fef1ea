"""HomeostasisExplorer, headless: construction, controls, validation, the figure, the player.

Short runs (5 s of simulated time, about a second each) keep the file fast.
"""

import numpy as np
import pytest
import torch

from stdpwidgets.plots import Player
from stdpwidgets.sim.homeostasis import homeostasis_rule, simulate_homeostasis
from stdpwidgets.widgets import HomeostasisExplorer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHORT = dict(duration=5000.0)


@pytest.fixture(scope="module")
def trained():
    return HomeostasisExplorer(adaptive_threshold=True, normalize=True, **SHORT)


def test_untrained_explorer_shows_a_figure_and_asks_for_training():
    explorer = HomeostasisExplorer(train=False)
    assert explorer.png().startswith(PNG_MAGIC)
    assert "press train" in explorer.message.value
    assert explorer.controls["theta_plus"].disabled and explorer.controls["tau_theta"].disabled


def test_data_are_the_simulation_for_the_same_parameters(trained):
    run = simulate_homeostasis(homeostasis_rule(a_ratio=1.0), n_neurons=HomeostasisExplorer.n_neurons,
                               correlation=0.2, theta_plus=0.5, tau_theta=1000.0, normalize=True,
                               duration_ms=5000.0, n_snapshots=HomeostasisExplorer.n_snapshots, seed=0)
    np.testing.assert_array_equal(trained.data["rate_hz"], run.output_rate_hz.numpy())
    np.testing.assert_array_equal(trained.data["weights"], run.weights.numpy())
    # normalisation: every neuron keeps its initial sum, 100 inputs x 0.5 mV
    np.testing.assert_allclose(trained.data["weights"].sum(axis=2), 50.0, rtol=1e-12)
    assert trained.data["theta_mv"][-1] > 0  # the threshold adapted
    art = trained.figure.stdp_artists
    assert len(art["rate"].get_xdata()) == len(trained.data["rate_hz"])
    assert int(art["counts"].sum()) == HomeostasisExplorer.n_neurons * 100
    assert "sum of weights 50.0 mV" in art["footer"].get_text()


def test_snapshot_slider_moves_the_figure(trained):
    art = trained.figure.stdp_artists
    before = trained.png()
    trained.snapshot.value = 10
    assert len(art["rate"].get_xdata()) == 10
    assert len(art["correlated"].get_xdata()) == 11
    assert trained.png() != before
    trained.snapshot.value = trained.snapshot.max
    assert trained.png() == before


def test_a_control_change_waits_for_train_then_recomputes():
    explorer = HomeostasisExplorer(**SHORT)
    rate_before = explorer.data["rate_hz"].copy()
    explorer.controls["adaptive_threshold"].value = True
    assert not explorer.controls["theta_plus"].disabled
    assert "press train" in explorer.message.value
    np.testing.assert_array_equal(explorer.data["rate_hz"], rate_before)  # nothing computed yet
    explorer.train_button.click()
    assert explorer.data["adaptive"] is True
    assert explorer.data["theta_mv"][-1] > 0
    # the same spikes (seed 0) with a threshold that rises: fewer output spikes
    assert explorer.data["rate_hz"].sum() < rate_before.sum()


def test_without_homeostasis_the_rate_runs_away():
    explorer = HomeostasisExplorer(duration=10000.0)
    rate = explorer.data["rate_hz"]
    assert rate[-5:].mean() > 2 * rate[:5].mean()
    assert explorer.data["independent_mean"][-1] > 0.5  # every group grew


@pytest.mark.parametrize("keyword, value, error, text", [
    ("theta_plus", 5.0, ValueError, "theta_plus = 5.0"),
    ("tau_theta", "long", TypeError, "tau_theta = 'long'"),
    ("normalize", 1, TypeError, "normalize = 1"),
    ("correlation", float("nan"), ValueError, "correlation = nan"),
    ("duration", 1000.0, ValueError, "duration = 1000.0"),
    ("n_inputs", 10, TypeError, "unexpected keyword 'n_inputs'"),
])
def test_bad_keywords_are_refused_by_name(keyword, value, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        HomeostasisExplorer(train=False, **{keyword: value})


def test_bad_train_flag_is_refused():
    with pytest.raises(TypeError, match="train must be True or False"):
        HomeostasisExplorer(train="yes")


def test_player_over_time_renders_and_restores_the_explorer(trained):
    before = trained.png()
    player = trained.player(over="time", frames=8)
    assert isinstance(player, Player)
    assert len(player.frames) == 8 and all(f.startswith(PNG_MAGIC) for f in player.frames)
    assert player.labels[-1] == "t = 5.0 s"
    assert "<canvas" in player.to_html()
    assert trained.png() == before


def test_player_over_a_checkbox_recomputes_each_value():
    explorer = HomeostasisExplorer(**SHORT)
    player = explorer.player("normalize")
    assert list(player.values) == [False, True]
    assert player.frames[0] != player.frames[1]
    assert explorer.controls["normalize"].value is False


def test_simulation_refuses_bad_arguments_by_name():
    with pytest.raises(ValueError, match="n_correlated = 120 is more than n_inputs = 100"):
        simulate_homeostasis(n_correlated=120)
    with pytest.raises(ValueError, match="initial_weight = 3.0 mV"):
        simulate_homeostasis(initial_weight=3.0)
    with pytest.raises(TypeError, match="normalize must be True or False"):
        simulate_homeostasis(normalize="yes")
    with pytest.raises(ValueError, match="correlation"):
        simulate_homeostasis(correlation=1.5)
    with pytest.raises(TypeError, match="rule must be an STDPRule"):
        simulate_homeostasis("additive")


def test_simulation_keeps_neurons_apart_and_weights_in_bounds():
    run = simulate_homeostasis(n_inputs=60, n_neurons=3, n_correlated=10, initial_weight=1.0, duration_ms=2000.0,
                               n_snapshots=4)
    assert run.weights.shape == (5, 3, 60)
    assert float(run.output_rate_hz.sum()) > 0
    final = run.final_weights
    assert not torch.equal(final[0], final[1])  # each neuron has inputs of its own
    assert float(final.min()) >= 0.0 and float(final.max()) <= 2.0
    assert torch.isfinite(run.group_means()).all()
    # silent inputs: no spikes, no learning, no adaptation
    quiet = simulate_homeostasis(rate_hz=0.0, theta_plus=0.5, duration_ms=500.0, n_snapshots=2)
    assert torch.all(quiet.weights == 0.5) and torch.all(quiet.output_rate_hz == 0) and torch.all(quiet.theta_mv == 0)
    assert torch.isnan(simulate_homeostasis(n_correlated=0, duration_ms=200.0, n_snapshots=1).group_means()[:, 0]).all()
