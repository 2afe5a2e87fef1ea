"""Explorers, headless: every control changes the data, and the data equal the core's numbers.

Each test recomputes the explorer's numbers independently with the core (or sim) for the same
parameters and spikes, and compares them with ``explorer.data`` and the artists' data.
"""

import base64
import subprocess
import sys

import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure
from torch import nn

from stdpwidgets.core import STDPLearner, STDPRule, stdp_window
from stdpwidgets.sim import (
    initial_conv_kernels, kernel_structure, load_digit_images, pairing_weight_change, single_pair_weight_changes,
    train_conv_stdp,
)
from stdpwidgets.widgets import ConvExplorer, LayerExplorer, PairingExplorer, TraceExplorer, WindowExplorer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rule_of(params):
    from stdpwidgets import TripletRule

    common = dict(weight_dependence=params["weight_dependence"], mu=params["mu"], w_min=0.0, w_max=1.0)
    kind = params.get("rule", "pair")
    if kind == "triplet":
        return TripletRule(params["tau_pre"], params["tau_post"], params["tau_x"], params["tau_y"], params["a_plus"],
                           params["a_minus"], params["a3_plus"], params["a3_minus"], pairing=params["pairing"], **common)
    if kind != "pair":
        return TripletRule.preset(kind, **common)
    return STDPRule(params["tau_pre"], params["tau_post"], params["a_plus"], params["a_minus"],
                    pairing=params["pairing"], **common)


def other_value(control):
    """A valid value different from the control's current one."""
    if isinstance(control, ipywidgets.Checkbox):
        return not control.value
    if isinstance(control, ipywidgets.Dropdown):
        values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return next(v for v in values if v != control.value)
    if isinstance(control, ipywidgets.FloatLogSlider):
        return control.value * 1.5 if control.value * 1.5 <= 10 ** control.max else control.value / 1.5
    step = control.step * (3 if isinstance(control, ipywidgets.IntSlider) else 7)
    value = control.value + step
    return value if value <= control.max else control.value - step


def assert_explorer_basics(explorer):
    assert isinstance(explorer, ipywidgets.VBox)
    assert isinstance(explorer.figure, Figure)
    assert explorer.png().startswith(PNG_MAGIC)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]).startswith(PNG_MAGIC)
    assert bundle["text/plain"].startswith("<" + type(explorer).__name__)
    assert not _pylab_helpers.Gcf.get_all_fig_managers()


# ---------------------------------------------------------------- WindowExplorer


def check_window(explorer):
    params = explorer.parameters
    rule = rule_of(params)
    data = explorer.data
    expected = stdp_window(data["delta_t_ms"], rule, params["w"]).numpy()
    np.testing.assert_array_equal(data["window"], expected)
    np.testing.assert_array_equal(explorer.figure.stdp_artists["window"].get_ydata(), expected)
    # the learner's single pairs lie on the core's window
    on_curve = stdp_window(data["simulated_delta_t_ms"], rule, params["w"]).numpy()
    np.testing.assert_allclose(data["simulated_change"], on_curve, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(explorer.figure.stdp_artists["simulated"].get_ydata(), on_curve, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(
        data["simulated_change"], single_pair_weight_changes(rule, data["simulated_delta_t_ms"], params["w"]).numpy()
    )
    reference = STDPRule(16.8, 33.7, rule.a_plus, rule.a_minus, weight_dependence=rule.weight_dependence,
                         mu=rule.mu, w_min=0.0, w_max=1.0)
    np.testing.assert_array_equal(data["reference"], stdp_window(data["delta_t_ms"], reference, params["w"]).numpy())


def test_window_explorer_every_control():
    explorer = WindowExplorer(weight_dependence="multiplicative", w=0.3)
    assert_explorer_basics(explorer)
    check_window(explorer)
    for name, control in explorer.controls.items():
        control.value = other_value(control)
        assert explorer.error is None, (name, explorer.error)
        check_window(explorer)
    explorer.controls["tau_pre"].value = 30.0
    check_window(explorer)


def test_window_explorer_gutig_mu():
    explorer = WindowExplorer(weight_dependence="gutig", mu=0.3, w=0.2)
    assert not explorer.controls["mu"].disabled
    check_window(explorer)
    soft = STDPRule(16.8, 33.7, 0.01, 0.0105, weight_dependence="gutig", mu=0.3, w_min=0.0, w_max=1.0)
    np.testing.assert_allclose(explorer.data["window"], stdp_window(explorer.data["delta_t_ms"], soft, 0.2).numpy())
    explorer.controls["weight_dependence"].value = "additive"
    assert explorer.controls["mu"].disabled


# ---------------------------------------------------------------- TraceExplorer


def check_trace(explorer):
    params = explorer.parameters
    data = explorer.data
    steps = data["time_ms"].size
    assert steps == round(params["duration"] / params["dt"])
    layer = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(params["w0"])
    learner = STDPLearner(layer, rule_of(params), dt=params["dt"])
    pre = torch.tensor(data["pre_spikes"], dtype=torch.float32).reshape(steps, 1, 1)
    post = torch.tensor(data["post_spikes"], dtype=torch.float32).reshape(steps, 1, 1)
    for t in range(steps):  # step by step: an independent path through the core
        learner.step(pre[t], post[t])
    assert float(layer.weight.detach()) == pytest.approx(data["weight"][-1], abs=1e-6)
    assert float(learner.pre_trace) == pytest.approx(data["pre_trace"][-1], rel=1e-5, abs=1e-7)
    assert float(learner.post_trace) == pytest.approx(data["post_trace"][-1], rel=1e-5, abs=1e-7)
    art = explorer.figure.stdp_artists
    np.testing.assert_array_equal(art["weight"].get_ydata(), data["weight"])
    np.testing.assert_array_equal(art["pre_spikes"].get_xdata(), data["time_ms"][data["pre_spikes"] > 0])
    # the spike rates follow the controls (two phases: the halves differ)
    half = steps // 2 if params["two_phases"] else steps
    expected = params["rate_pre"] * params["dt"] / 1000 * half
    assert data["pre_spikes"][:half].sum() == pytest.approx(expected, abs=5 * np.sqrt(expected) + 3)


def test_trace_explorer_every_control():
    explorer = TraceExplorer(duration=1000.0, seed=3)
    assert_explorer_basics(explorer)
    check_trace(explorer)
    for name, control in explorer.controls.items():
        if name == "duration":
            control.value = 800.0
        elif name == "dt":
            control.value = 0.5
        else:
            control.value = other_value(control)
        assert explorer.error is None, (name, explorer.error)
        check_trace(explorer)


def test_trace_explorer_same_seed_same_spikes():
    a, b = TraceExplorer(seed=7, duration=500.0), TraceExplorer(seed=7, duration=500.0)
    np.testing.assert_array_equal(a.data["pre_spikes"], b.data["pre_spikes"])
    a.controls["seed"].value = 8
    assert not np.array_equal(a.data["pre_spikes"], b.data["pre_spikes"])


# ---------------------------------------------------------------- PairingExplorer


def check_pairing(explorer):
    params = explorer.parameters
    rule = rule_of(params)
    data = explorer.data
    expected = pairing_weight_change(rule, params["delta_t"], params["frequency"], params["n_pairs"],
                                      params["dt"], params["w0"])
    assert data["weight_change"] == pytest.approx(expected, abs=1e-12)
    for index in (0, len(data["sweep_values"]) // 2, -1):
        value = data["sweep_values"][index]
        lag, freq = ((value, params["frequency"]) if data["sweep"] == "delta_t" else (params["delta_t"], value))
        reference = pairing_weight_change(rule, lag, freq, params["n_pairs"], params["dt"], params["w0"])
        assert data["sweep_change"][index] == pytest.approx(reference, abs=1e-12)
    art = explorer.figure.stdp_artists
    np.testing.assert_array_equal(art["sweep"].get_ydata(), data["sweep_change"])
    assert art["current"].get_ydata()[0] == data["weight_change"]


def test_pairing_explorer_every_control():
    explorer = PairingExplorer(n_pairs=20, frequency=10.0)
    assert_explorer_basics(explorer)
    check_pairing(explorer)
    for name, control in explorer.controls.items():
        control.value = 0.5 if name == "dt" else other_value(control)
        assert explorer.error is None, (name, explorer.error)
        check_pairing(explorer)


def test_pairing_explorer_reports_overlapping_pairs_in_the_widget():
    explorer = PairingExplorer(n_pairs=10, frequency=10.0, delta_t=10.0)
    good = dict(explorer.data)
    explorer.controls["frequency"].value = 50.0
    explorer.controls["delta_t"].value = 40.0  # period 20 ms < 40 ms: cannot work
    assert "overlap" in explorer.error
    assert explorer.data["weight_change"] == good["weight_change"] or explorer.data is not good
    explorer.controls["delta_t"].value = 5.0
    assert explorer.error is None
    check_pairing(explorer)


# ---------------------------------------------------------------- LayerExplorer


def check_layer(explorer):
    params = explorer.parameters
    data = explorer.data
    layer = nn.Linear(params["n_inputs"], params["n_outputs"], bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(data["initial_weight"]))
    STDPLearner(layer, rule_of(params), dt=1.0).run(data["pre"], data["post"])
    np.testing.assert_allclose(layer.weight.detach().numpy(), data["weights"][-1], atol=1e-5)
    shown = explorer.figure.stdp_artists["matrix"].get_array()
    np.testing.assert_array_equal(np.asarray(shown), data["weights"][explorer.snapshot.value])


def test_layer_explorer_trains_with_progress_and_matches_the_core():
    explorer = LayerExplorer(n_inputs=20, n_outputs=3, duration=2000.0, train=False)
    assert "train" in explorer.message.value
    explorer.train_button.click()
    assert explorer.error is None
    assert explorer.progress.value == explorer.progress.max == 2000
    assert_explorer_basics(explorer)
    check_layer(explorer)
    explorer.snapshot.value = 0
    np.testing.assert_array_equal(np.asarray(explorer.figure.stdp_artists["matrix"].get_array()),
                                  explorer.data["initial_weight"])
    for name in ("weight_dependence", "n_outputs", "seed", "pairing"):
        control = explorer.controls[name]
        control.value = other_value(control)
        assert "press train" in explorer.message.value
        explorer.train_button.click()
        check_layer(explorer)


# ---------------------------------------------------------------- ConvExplorer


def test_conv_explorer_learns_kernels_with_progress():
    explorer = ConvExplorer(n_images=20, n_kernels=4, kernel_size=3, steps_per_image=10)
    initial = explorer.data["kernels"][0].copy()
    params = explorer.parameters
    np.testing.assert_array_equal(initial, initial_conv_kernels(1, 4, 3, rule=rule_of(params), seed=0).double().numpy())
    explorer.train_button.click()
    assert explorer.error is None
    assert_explorer_basics(explorer)
    kernels = explorer.data["kernels"]
    assert kernels.shape[1:] == (4, 1, 3, 3)
    np.testing.assert_array_equal(kernels[0], initial)  # training starts from the kernels shown
    assert not np.array_equal(kernels[-1], kernels[0])
    assert ((kernels >= 0) & (kernels <= 1)).all()
    assert explorer.progress.value == explorer.progress.max == 20
    # the same training, run by the sim directly
    images = load_digit_images(n_images=20, seed=0)
    reference = train_conv_stdp(images, out_channels=4, kernel_size=3, rule=rule_of(params), steps_per_image=10, seed=0,
                                n_snapshots=explorer.n_snapshots)
    np.testing.assert_array_equal(kernels, reference.kernels.double().numpy())
    np.testing.assert_array_equal(explorer.data["images_seen"], reference.images_seen.numpy())
    assert explorer.data["structure"][-1] == pytest.approx(float(kernel_structure(reference.final_kernels, images).mean()))
    shown = explorer.figure.stdp_artists["kernels"][2].get_array()
    np.testing.assert_array_equal(np.asarray(shown), kernels[-1][2, 0])
    explorer.snapshot.value = 0
    np.testing.assert_array_equal(np.asarray(explorer.figure.stdp_artists["kernels"][2].get_array()), kernels[0][2, 0])
    explorer.controls["n_kernels"].value = 2
    explorer.controls["images"].value = "bars"
    explorer.controls["encoding"].value = "poisson"
    explorer.controls["epochs"].value = 2
    explorer.train_button.click()
    assert explorer.data["kernels"].shape[1] == 2 and explorer.error is None
    assert explorer.progress.value == explorer.progress.max == 40


# ---------------------------------------------------------------- common contract


@pytest.mark.parametrize("cls", [WindowExplorer, TraceExplorer, PairingExplorer])
def test_bad_constructor_arguments_raise_clear_errors(cls):
    with pytest.raises(TypeError, match="unexpected keyword"):
        cls(tau_plus=3.0)
    with pytest.raises(ValueError, match="tau_pre = 500"):
        cls(tau_pre=500.0)
    with pytest.raises(ValueError, match="pairing"):
        cls(pairing="triplet")


def test_cuda_refused_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA"):
        WindowExplorer(device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_trace_explorer_on_cuda_matches_the_core():
    explorer = TraceExplorer(device="cuda", duration=500.0)
    assert explorer.error is None
    check_trace(explorer)


def test_explorers_compose_inside_other_layouts():
    box = ipywidgets.HBox([WindowExplorer(), PairingExplorer(n_pairs=5)])
    assert len(box.children) == 2


def test_lazy_names_do_not_import_matplotlib_or_ipywidgets():
    code = (
        "import sys, stdpwidgets, stdpwidgets._lazy as lazy\n"
        "assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules, 'eager import'\n"
        "cls = lazy.lazy_getattr('TraceExplorer')\n"
        "assert cls.__name__ == 'TraceExplorer' and stdpwidgets.TraceExplorer is cls\n"
        "assert lazy.lazy_getattr('window_figure').__name__ == 'window_figure'\n"
        "try:\n    lazy.lazy_getattr('nope')\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_explorers_work_when_the_default_dtype_is_float64():
    """A notebook that called torch.set_default_dtype(torch.float64) must not break them."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        explorers = [WindowExplorer(), TraceExplorer(duration=500.0), PairingExplorer(), LayerExplorer(duration=1000.0),
                     ConvExplorer(n_images=20)]
        for explorer in explorers[3:]:
            explorer.train_button.click()
        for explorer in explorers:
            assert explorer.error is None, (type(explorer).__name__, explorer.error)
    finally:
        torch.set_default_dtype(previous)


def test_trace_explorer_a_small_rate_step_keeps_the_spikes_and_adds_some():
    explorer = TraceExplorer(seed=2, two_phases=False, rate_pre=10.0, duration=2000.0)
    before = explorer.data["pre_spikes"].copy()
    explorer.controls["rate_pre"].value = 11.0
    after = explorer.data["pre_spikes"]
    assert before.sum() == 20 and after.sum() == 22  # round(rate * 2 s) spikes, exactly
    assert (after[before > 0] > 0).all()  # every earlier spike is kept


def test_conv_explorer_says_when_it_shows_bars_because_scikit_learn_is_missing(monkeypatch):
    from stdpwidgets.widgets import conv

    monkeypatch.setattr(conv, "have_sklearn", lambda: False)
    explorer = ConvExplorer(n_images=20, n_kernels=2, kernel_size=3, steps_per_image=5)
    assert "scikit-learn is not installed" in explorer.message.value
    explorer.train_button.click()
    assert explorer.error is None
    assert "scikit-learn is not installed" in explorer.message.value
    assert "generated bars" in explorer.figure.stdp_artists["footer"].get_text()
    explorer.controls["images"].value = "bars"
    explorer.train_button.click()
    assert "scikit-learn" not in explorer.message.value


def test_pairing_explorer_runs_the_triplet_rule_and_its_presets():
    from stdpwidgets import TripletRule, triplet_protocol_change

    # small changes from w0 = 0.5, so the explorer's [0, 1] bounds never act: the closed form holds
    explorer = PairingExplorer(rule="visual-cortex-all-to-all-minimal", n_pairs=10, delta_t=-10.0, frequency=20.0,
                               sweep="frequency")
    rule = TripletRule.preset("visual-cortex-all-to-all-minimal")
    assert explorer.data["weight_change"] == pytest.approx(triplet_protocol_change(rule, 10, -10.0, 20.0), abs=1e-9)
    for value, change in zip(explorer.data["sweep_values"], explorer.data["sweep_change"]):
        on_grid = 1000.0 / round(1000.0 / float(value))  # the protocol rounds the period to whole 1 ms steps
        assert change == pytest.approx(triplet_protocol_change(rule, 10, -10.0, on_grid), abs=1e-9)
    assert explorer.controls["tau_pre"].disabled and explorer.controls["a3_plus"].disabled
    explorer.controls["rule"].value = "triplet"
    assert not explorer.controls["a3_plus"].disabled and not explorer.controls["tau_pre"].disabled
    explorer.controls["a3_plus"].value = 0.0
    explorer.controls["a3_minus"].value = 0.0
    pair = PairingExplorer(n_pairs=10, delta_t=-10.0, frequency=20.0)
    assert explorer.data["weight_change"] == pytest.approx(pair.data["weight_change"], abs=1e-12)
    explorer.controls["rule"].value = "pair"
    assert explorer.controls["a3_plus"].disabled


def test_trace_explorer_runs_the_triplet_rule():
    explorer = TraceExplorer(rule="visual-cortex-all-to-all-full", duration=1000.0, seed=3)
    assert explorer.error is None
    check_trace(explorer)  # step by step through the core with the same TripletRule
    assert "expected drift" in explorer._status(explorer.data)
    explorer.controls["rule"].value = "visual-cortex-nearest-full"
    assert explorer.error is None and "no closed form" in explorer._status(explorer.data)
