"""Players: frames are the explorers' own figures, the HTML rebuilds them exactly, files stand alone.

The reference for "frame k" is a *fresh* explorer built with the same arguments (same seed)
whose control is set to value k: its PNG must equal the player's frame k byte for byte.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from stdpwidgets import ConvExplorer, LayerExplorer, PairingExplorer, TraceExplorer, WindowExplorer
from stdpwidgets.plots import Player
from stdpwidgets.plots.player_html import KEYFRAME_INTERVAL, decode_frames, encode_frames

MB = 1_000_000


def rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def frame_data(html: str) -> dict:
    """The JSON payload a player's HTML carries (what its script draws from)."""
    match = re.search(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert match, "no frame data in the player's HTML"
    return json.loads(match.group(1).replace("<\\/", "</"))


def assert_frames_are_the_explorers(player, make, set_value):
    """Frame k == PNG of a fresh explorer after ``set_value(explorer, values[k])``."""
    for k, value in enumerate(player.values):
        reference = make()
        set_value(reference, value)
        assert reference.error is None
        assert reference.png() == player.frames[k], f"frame {k} ({player.labels[k]}) differs from the explorer's PNG"


# ---------------------------------------------------------------- frames are the explorers' figures


def test_window_player_over_tau_plus_is_the_explorers_figure_at_each_value():
    values = [5.0, 16.8, 40.0]
    explorer = WindowExplorer()
    before = explorer.png()
    player = explorer.player(control="tau_pre", values=values)
    assert player.values == tuple(values) and player.name == "tau_pre"
    assert player.labels == ("τ+ (pre, ms) = 5", "τ+ (pre, ms) = 16.8", "τ+ (pre, ms) = 40")
    assert player.start == 1  # the explorer's current value
    assert_frames_are_the_explorers(player, WindowExplorer, lambda e, v: setattr(e.controls["tau_pre"], "value", v))
    # the explorer is back where it was
    assert explorer.controls["tau_pre"].value == 16.8 and explorer.png() == before
    # different values give different pictures
    assert len({bytes(f) for f in player.frames}) == 3


def test_window_player_over_the_weight_for_soft_bounds():
    make = lambda: WindowExplorer(weight_dependence="multiplicative")  # noqa: E731
    player = make().player(control="w", values=[0.1, 0.9])
    assert_frames_are_the_explorers(player, make, lambda e, v: setattr(e.controls["w"], "value", v))
    assert not np.array_equal(player.image(0), player.image(1))


def test_pairing_player_over_delta_t_and_over_frequency():
    make = lambda: PairingExplorer(n_pairs=10)  # noqa: E731
    player = make().player(control="delta_t", values=[-20.0, 10.0])
    assert_frames_are_the_explorers(player, make, lambda e, v: setattr(e.controls["delta_t"], "value", v))
    by_frequency = make().player(control="frequency", values=[1.0, 20.0])
    assert_frames_are_the_explorers(by_frequency, make, lambda e, v: setattr(e.controls["frequency"], "value", v))


def test_trace_player_over_time_unfolds_the_run_and_matches_the_time_slider():
    make = lambda: TraceExplorer(seed=3, duration=1000.0)  # noqa: E731
    explorer = make()
    player = explorer.player(over="time", frames=6)
    assert player.name == "time" and len(player) == 6
    assert player.values == (0.0, 200.0, 400.0, 600.0, 800.0, 1000.0)
    assert player.start == 5  # opens on the whole run, like the static figure
    assert player.frames[-1] == explorer.png()
    assert_frames_are_the_explorers(player, make, lambda e, v: setattr(e.time_shown, "value", v))
    # what is drawn up to t is the run up to t: spike artists hold the spikes before t
    explorer.time_shown.value = 400.0
    shown = explorer.figure.stdp_artists["pre_spikes"].get_xdata()
    times = explorer.data["time_ms"][explorer.data["pre_spikes"] > 0]
    np.testing.assert_array_equal(shown, times[times <= 400.0])


def test_trace_player_over_the_pairing_scheme_and_a_rate():
    make = lambda: TraceExplorer(seed=1, duration=500.0)  # noqa: E731
    player = make().player(control="pairing")
    assert player.values == ("all-to-all", "nearest")
    assert player.labels == ("pairing: all-to-all", "pairing: nearest")
    assert_frames_are_the_explorers(player, make, lambda e, v: setattr(e.controls["pairing"], "value", v))
    rates = make().player(control="rate_pre", values=[5.0, 40.0])
    assert_frames_are_the_explorers(rates, make, lambda e, v: setattr(e.controls["rate_pre"], "value", v))


def test_layer_and_conv_players_over_training_are_the_snapshots():
    make_layer = lambda: LayerExplorer(n_inputs=10, n_outputs=4, duration=2000.0)  # noqa: E731
    layer_player = make_layer().player(over="time", frames=5)
    assert layer_player.values == (0, 10, 20, 30, 40)
    assert layer_player.labels[0] == "t = 0 ms" and layer_player.labels[-1] == "t = 2000 ms"
    assert_frames_are_the_explorers(layer_player, make_layer, lambda e, v: setattr(e.snapshot, "value", v))

    make_conv = lambda: ConvExplorer(n_images=20, n_kernels=4, kernel_size=3, steps_per_image=10, train=True)  # noqa: E731
    conv_player = make_conv().player(over="time", frames=3)
    assert len(conv_player) == 3
    assert conv_player.labels[0] == "after 0 images" and conv_player.labels[-1] == "after 20 images"
    assert_frames_are_the_explorers(conv_player, make_conv, lambda e, v: setattr(e.snapshot, "value", v))


def test_a_player_over_a_control_of_a_train_button_explorer_retrains_for_each_value():
    make = lambda: LayerExplorer(n_inputs=10, n_outputs=3, duration=1000.0)  # noqa: E731
    explorer = make()
    before = explorer.data["weights"].copy()
    player = explorer.player(control="weight_dependence", values=["additive", "multiplicative"])

    def set_and_train(e, value):
        e.controls["weight_dependence"].value = value
        e.refresh()

    assert_frames_are_the_explorers(player, make, set_and_train)
    np.testing.assert_array_equal(explorer.data["weights"], before)  # not retrained afterwards
    assert explorer.controls["weight_dependence"].value == "additive"


# ---------------------------------------------------------------- the HTML rebuilds every frame exactly


def test_encoded_frames_rebuild_every_frame_pixel_for_pixel():
    player = TraceExplorer(seed=0, duration=2000.0).player(over="time", frames=30)
    encoded = encode_frames(player.frames)
    assert "key" in encoded[0] and "key" in encoded[KEYFRAME_INTERVAL]
    assert sum("patches" in e for e in encoded) >= 20  # most frames are small patches
    for k, rebuilt in enumerate(decode_frames(encoded)):
        np.testing.assert_array_equal(rebuilt, player.image(k), err_msg=f"frame {k}")
    # and the page carries exactly that data
    payload = frame_data(player.to_html())
    assert payload["labels"] == list(player.labels) and payload["start"] == player.start
    for k, rebuilt in enumerate(decode_frames(payload["frames"])):
        np.testing.assert_array_equal(rebuilt, player.image(k))
    # patches make it much smaller than whole frames
    whole = sum(len(f) for f in player.frames) * 4 / 3
    assert player.html_bytes < 0.4 * whole


def test_identical_frames_cost_nothing_and_changed_frames_are_exact():
    explorer = WindowExplorer()
    same = explorer.png()
    explorer.controls["a_plus"].value = 0.02
    other = explorer.png()
    encoded = encode_frames([same, same, other, same])
    assert encoded[1] == {"patches": []}
    for k, frame in enumerate(decode_frames(encoded)):
        np.testing.assert_array_equal(frame, rgb([same, same, other, same][k]))


def test_a_saved_player_is_one_standalone_file_that_reopens(tmp_path):
    player = WindowExplorer().player(control="a_minus", values=[0.005, 0.0105, 0.02])
    path = player.save(tmp_path / "window.html")
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and "<title>WindowExplorer over A−</title>" in text
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing to fetch
    assert "http://" not in text and "https://" not in text
    for k, rebuilt in enumerate(decode_frames(frame_data(text)["frames"])):
        np.testing.assert_array_equal(rebuilt, player.image(k))
    with pytest.raises(ValueError, match=r"\.html"):
        player.save(tmp_path / "window.png")


def test_a_player_displays_in_jupyter_and_embeds_with_the_live_explorer():
    explorer = WindowExplorer()
    player = explorer.player(control="tau_post", values=[20.0, 33.7])
    bundle = player._repr_mimebundle_()
    assert bundle["text/html"].startswith('<div class="stdp-player"')
    assert bundle["image/png"]  # the start frame, for PDF
    both = explorer.with_player(player)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in both  # live in a kernel
    assert both["text/html"] == player.to_html()  # the player on a static page
    assert "image/png" in both
    with pytest.raises(TypeError, match="Player"):
        explorer.with_player("not a player")


# ---------------------------------------------------------------- budgets at default settings


def test_default_players_fit_the_two_megabyte_budget():
    players = [
        TraceExplorer(seed=0).player(over="time"),
        TraceExplorer(seed=0).player(control="rate_post"),
        WindowExplorer().player(control="tau_pre"),
        PairingExplorer().player(control="delta_t", values=[-40.0, -20.0, -10.0, 10.0, 20.0, 40.0]),
    ]
    for player in players:
        assert player.html_bytes <= 2 * MB, player
    assert len(players[0]) == TraceExplorer.default_time_frames
    assert min(players[0].size) >= 2 * 374  # at least twice the former 72-dpi pixels


# ---------------------------------------------------------------- bad requests


def test_bad_player_requests_say_what_to_do_and_leave_the_explorer_alone():
    explorer = PairingExplorer(n_pairs=5, frequency=20.0)
    before, parameters = explorer.png(), explorer.parameters
    with pytest.raises(ValueError, match="no control 'tau'.*tau_pre"):
        explorer.player(control="tau")
    with pytest.raises(ValueError, match="between -100 and 100"):
        explorer.player(control="delta_t", values=[10.0, 500.0])
    with pytest.raises(ValueError, match="no time axis"):
        explorer.player(over="time")
    with pytest.raises(ValueError, match="over must be 'time'"):
        explorer.player(over="space")
    with pytest.raises(TypeError, match="exactly one"):
        explorer.player()
    with pytest.raises(TypeError, match="exactly one"):
        explorer.player(control="delta_t", over="time")
    with pytest.raises(ValueError, match="frames must be an int from 2 to 200"):
        explorer.player(control="delta_t", frames=1)
    with pytest.raises(ValueError, match="values is empty"):
        explorer.player(control="delta_t", values=[])
    # 60 ms is longer than the 50 ms period at 20 Hz: the explorer cannot compute it
    with pytest.raises(ValueError, match="cannot compute delta_t = 60"):
        explorer.player(control="delta_t", values=[10.0, 60.0])
    assert explorer.parameters == parameters and explorer.png() == before and explorer.error is None


def test_player_data_is_validated():
    png = WindowExplorer().png()
    with pytest.raises(ValueError, match="at least one frame"):
        Player(frames=[], values=[], labels=[])
    with pytest.raises(ValueError, match="one value and one label per frame"):
        Player(frames=[png], values=[1, 2], labels=["a"])
    with pytest.raises(ValueError, match="PNG bytes"):
        Player(frames=[b"GIF89a"], values=[1], labels=["a"])
    with pytest.raises(ValueError, match="fps"):
        Player(frames=[png], values=[1], labels=["a"], fps=0)
    with pytest.raises(ValueError, match="start"):
        Player(frames=[png], values=[1], labels=["a"], start=1)
    small = TraceExplorer(seed=0).png()
    with pytest.raises(ValueError, match="same pixel size"):
        Player(frames=[png, small], values=[1, 2], labels=["a", "b"])
