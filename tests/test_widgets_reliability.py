"""Explorers refuse bad values clearly, from the constructor and from code, and never draw NaN.

Review cases (../shared/reviews/reliability-2026-12.md): ``TraceExplorer-api-nonnumber`` (w0 = NaN
drew a NaN weight with no message; duration = NaN said "cannot convert float NaN to integer") and
``LayerExplorer-api-nonnumber`` (the message named neither the control nor its range), and the
class of problem behind them for every explorer: constructor keywords that are not numbers, NaN,
infinite, out of range or not an option raise a TypeError/ValueError naming the keyword and the
allowed values; ``controls[name].value`` set from code to NaN gives a message in the widget naming
the control and its range (no traceback, the last good figure and data stay); a non-number raises
a TypeError naming the control before anything changes. Sizes are small, so the file runs fast.
"""

import math

import ipywidgets
import numpy as np
import pytest
import torch

from stdpwidgets.widgets import ConvExplorer, LayerExplorer, PairingExplorer, TraceExplorer, WindowExplorer

NAN, INF = float("nan"), float("inf")

#: Small, fast settings of each explorer (the heavy ones do not train at construction).
SMALL = {
    WindowExplorer: {},
    TraceExplorer: dict(duration=200.0),
    PairingExplorer: dict(n_pairs=3, frequency=20.0),
    LayerExplorer: dict(train=False, n_inputs=10, n_outputs=2, duration=1000.0),
    ConvExplorer: dict(train=False, n_images=10, n_kernels=2, kernel_size=3, steps_per_image=5),
}
EXPLORERS = list(SMALL)
#: A whole-number control of each explorer (WindowExplorer has none).
INT_CONTROL = {TraceExplorer: "seed", PairingExplorer: "n_pairs", LayerExplorer: "n_inputs", ConvExplorer: "n_kernels"}


def make(cls, **extra):
    return cls(**{**SMALL[cls], **extra})


@pytest.fixture(scope="module")
def explorers():
    torch.set_num_threads(1)
    return {cls: make(cls) for cls in EXPLORERS}


def snapshot(explorer, controls=True):
    """What must not change when a bad value is refused: the controls, the data and the picture."""
    if not controls:
        return None, {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in explorer.data.items()}, explorer.png()
    data = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in explorer.data.items()}
    return explorer.parameters, data, explorer.png()


def assert_same(before, after):
    (params0, data0, png0), (params1, data1, png1) = before, after
    for name in params0 or ():  # NaN != NaN, so compare by repr
        assert repr(params1[name]) == repr(params0[name]), name
    assert data1.keys() == data0.keys()
    for key in data0:
        if isinstance(data0[key], np.ndarray):
            np.testing.assert_array_equal(data1[key], data0[key], err_msg=key)
    assert png1 == png0


def assert_refused(explorer, widget, value, error, match):
    """Setting ``widget.value = value`` raises ``error`` matching ``match`` and changes nothing."""
    before = snapshot(explorer)
    with pytest.raises(error, match=match):
        widget.value = value
    assert_same(before, snapshot(explorer))


def float_controls(explorer):
    return [n for n, c in explorer.controls.items() if isinstance(c, (ipywidgets.FloatSlider, ipywidgets.FloatLogSlider))]


# ---------------------------------------------------------------- constructor keywords

CONSTRUCTOR_CASES = [
    # (keyword, value, error, words the message must contain)
    ("tau_pre", "abc", TypeError, ["tau_pre", "must be a number", "between 1 and 100"]),
    ("tau_pre", None, TypeError, ["tau_pre", "NoneType", "between 1 and 100"]),
    ("tau_pre", True, TypeError, ["tau_pre", "bool", "between 1 and 100"]),
    ("tau_pre", [20.0], TypeError, ["tau_pre", "list", "between 1 and 100"]),
    ("tau_pre", NAN, ValueError, ["tau_pre = nan", "not finite", "between 1 and 100"]),
    ("tau_pre", INF, ValueError, ["tau_pre = inf", "not finite", "between 1 and 100"]),
    ("tau_pre", -INF, ValueError, ["tau_pre = -inf", "not finite"]),
    ("tau_pre", 500.0, ValueError, ["tau_pre = 500", "out of range", "between 1 and 100"]),
    ("tau_pre", 0.5, ValueError, ["tau_pre = 0.5", "out of range"]),
    ("a_plus", 1.0, ValueError, ["a_plus = 1.0", "out of range", "between 0.0001 and 0.1"]),
    ("a_minus", NAN, ValueError, ["a_minus = nan", "between 0.0001 and 0.1"]),
    ("mu", 2.0, ValueError, ["mu = 2.0", "between 0 and 1"]),
    ("pairing", "triplet", ValueError, ["pairing = 'triplet'", "not one of the options", "'nearest'"]),
    ("weight_dependence", None, ValueError, ["weight_dependence = None", "'multiplicative'"]),
    ("tau_plus", 3.0, TypeError, ["unexpected keyword 'tau_plus'", "tau_pre"]),
]


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("keyword, value, error, words", CONSTRUCTOR_CASES, ids=lambda v: repr(v)[:20])
def test_constructor_refuses_a_bad_keyword_naming_it_and_the_range(cls, keyword, value, error, words):
    with pytest.raises(error) as info:
        make(cls, **{keyword: value})
    message = str(info.value)
    assert message.startswith(cls.__name__)
    for word in words:
        assert word in message, (word, message)


PER_EXPLORER_CASES = [
    (WindowExplorer, dict(w=NAN), ValueError, ["w = nan", "between 0 and 1"]),
    (WindowExplorer, dict(w=1.5), ValueError, ["w = 1.5", "between 0 and 1"]),
    (TraceExplorer, dict(w0=NAN), ValueError, ["w0 = nan", "between 0 and 1"]),
    (TraceExplorer, dict(duration=NAN), ValueError, ["duration = nan", "between 100 and 5000"]),
    (TraceExplorer, dict(duration=1e9), ValueError, ["duration = 1000000000.0", "between 100 and 5000"]),
    (TraceExplorer, dict(rate_pre=-1.0), ValueError, ["rate_pre = -1.0", "between 0 and 100"]),
    (TraceExplorer, dict(dt=0.3), ValueError, ["dt = 0.3", "0.25"]),
    (TraceExplorer, dict(two_phases=1), TypeError, ["two_phases = 1", "True or False"]),
    (TraceExplorer, dict(two_phases="yes"), TypeError, ["two_phases", "True or False"]),
    (TraceExplorer, dict(seed=2.5), ValueError, ["seed = 2.5", "whole number", "between 0 and 999"]),
    (TraceExplorer, dict(seed=NAN), ValueError, ["seed = nan", "between 0 and 999"]),
    (TraceExplorer, dict(seed="1"), TypeError, ["seed = '1'", "must be a number"]),
    (TraceExplorer, dict(tau_x=INF), ValueError, ["tau_x = inf", "between 10 and 1e+03"]),
    (TraceExplorer, dict(rule="quadruplet"), ValueError, ["rule = 'quadruplet'", "'triplet'"]),
    (PairingExplorer, dict(n_pairs=0), ValueError, ["n_pairs = 0", "between 1 and 100"]),
    (PairingExplorer, dict(n_pairs=INF), ValueError, ["n_pairs = inf", "between 1 and 100"]),
    (PairingExplorer, dict(delta_t=NAN), ValueError, ["delta_t = nan", "between -100 and 100"]),
    (PairingExplorer, dict(frequency=0.0), ValueError, ["frequency = 0.0", "between 0.1 and 50"]),
    (PairingExplorer, dict(frequency="5"), TypeError, ["frequency = '5'", "must be a number"]),
    (PairingExplorer, dict(sweep="tau"), ValueError, ["sweep = 'tau'", "'frequency'"]),
    (LayerExplorer, dict(n_inputs=10 ** 9), ValueError, ["n_inputs = 1000000000", "between 10 and 1000"]),
    (LayerExplorer, dict(n_outputs=NAN), ValueError, ["n_outputs = nan", "between 1 and 100"]),
    (LayerExplorer, dict(coupling=INF), ValueError, ["coupling = inf", "between 0.001 and 0.5"]),
    (LayerExplorer, dict(duration=NAN), ValueError, ["duration = nan", "between 1000 and 100000"]),
    (LayerExplorer, dict(rate=None), TypeError, ["rate = None", "between 1 and 50"]),
    (LayerExplorer, dict(train="no"), TypeError, ["train must be True or False", "str"]),
    (ConvExplorer, dict(epochs=10 ** 6), ValueError, ["epochs = 1000000", "between 1 and 5"]),
    (ConvExplorer, dict(kernel_size=NAN), ValueError, ["kernel_size = nan", "between 2 and 8"]),
    (ConvExplorer, dict(n_images=5), ValueError, ["n_images = 5", "between 10 and 1000"]),
    (ConvExplorer, dict(images="mnist"), ValueError, ["images = 'mnist'", "'digits'"]),
    (ConvExplorer, dict(encoding=3), ValueError, ["encoding = 3", "'latency'"]),
    (ConvExplorer, dict(steps_per_image=INF), ValueError, ["steps_per_image = inf", "between 5 and 100"]),
    (ConvExplorer, dict(train=1), TypeError, ["train must be True or False", "int"]),
]


@pytest.mark.parametrize("cls, keywords, error, words", PER_EXPLORER_CASES,
                         ids=lambda v: v.__name__ if isinstance(v, type) else repr(v)[:30])
def test_constructor_refuses_each_explorers_own_bad_keywords(cls, keywords, error, words):
    with pytest.raises(error) as info:
        make(cls, **keywords)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("device, error", [(3, TypeError), (None, TypeError), ("gpu", ValueError)])
def test_constructor_refuses_a_bad_device(cls, device, error):
    with pytest.raises(error, match="device"):
        make(cls, device=device)


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
def test_numpy_scalars_are_accepted_as_python_numbers(cls):
    keywords = dict(tau_pre=np.float32(20.0), a_plus=np.float64(0.02))
    if cls in INT_CONTROL:
        keywords[INT_CONTROL[cls]] = np.int64(SMALL[cls].get(INT_CONTROL[cls], 3 if cls is not LayerExplorer else 10))
    explorer = make(cls, **keywords)
    assert explorer.error is None
    assert explorer.controls["tau_pre"].value == 20.0 and type(explorer.controls["tau_pre"].value) is float
    if cls in INT_CONTROL:
        assert type(explorer.controls[INT_CONTROL[cls]].value) is int


# ---------------------------------------------------------------- controls[...].value set from code


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
def test_nan_in_any_float_control_is_a_message_naming_it_not_a_nan_figure(explorers, cls):
    explorer = explorers[cls]
    for name in float_controls(explorer):
        control = explorer.controls[name]
        good = control.value
        before = snapshot(explorer, controls=False)
        control.value = NAN  # sliders clamp but let NaN through; the front end cannot send it
        assert explorer.error is not None, name
        assert f"controls[{name!r}].value = nan" in explorer.error and "set a value between" in explorer.error, \
            explorer.error
        assert explorer.refresh() is False  # the train button of Layer/Conv says the same
        assert f"controls[{name!r}]" in explorer.error
        assert_same(before, snapshot(explorer, controls=False))
        for value in explorer.data.values():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                assert np.isfinite(value).all(), name
        control.value = good
        assert explorer.error is None, (name, explorer.error)


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", ["abc", "0.5", None, True, [1.0], b"1"], ids=repr)
def test_a_non_number_in_a_float_control_is_a_type_error_naming_it(explorers, cls, value):
    explorer = explorers[cls]
    assert_refused(explorer, explorer.controls["tau_pre"], value, TypeError,
                   r"controls\['tau_pre'\]\.value = .*must be a number.*between 1 and 100")
    assert explorer.error is None


@pytest.mark.parametrize("cls", list(INT_CONTROL), ids=lambda c: c.__name__)
@pytest.mark.parametrize("value, error", [(NAN, ValueError), (INF, ValueError), (-INF, ValueError),
                                          ("3", TypeError), (None, TypeError), (False, TypeError)], ids=repr)
def test_a_whole_number_control_refuses_nan_and_non_numbers_naming_it(explorers, cls, value, error):
    explorer = explorers[cls]
    name = INT_CONTROL[cls]
    assert_refused(explorer, explorer.controls[name], value, error,
                   rf"controls\['{name}'\]\.value = .* is not allowed.*set a value between")


def test_trace_explorer_w0_nan_says_so_and_keeps_the_last_weights():  # TraceExplorer-api-nonnumber
    explorer = make(TraceExplorer)
    weight = explorer.data["weight"].copy()
    explorer.controls["w0"].value = NAN
    assert "controls['w0'].value = nan" in explorer.error and "between 0 and 1" in explorer.error
    np.testing.assert_array_equal(explorer.data["weight"], weight)
    assert np.isfinite(explorer.data["weight"]).all()


def test_trace_explorer_duration_nan_names_the_control_and_its_range():  # TraceExplorer-api-nonnumber
    explorer = make(TraceExplorer)
    explorer.controls["duration"].value = NAN
    assert "cannot convert" not in explorer.error
    assert "controls['duration'].value = nan" in explorer.error and "between 100 and 5000" in explorer.error


def test_layer_explorer_duration_nan_names_the_control_at_once_and_on_train():  # LayerExplorer-api-nonnumber
    explorer = make(LayerExplorer)
    before = snapshot(explorer, controls=False)
    explorer.controls["duration"].value = NAN
    assert "controls['duration'].value = nan" in explorer.error  # not "press train"
    explorer.train_button.click()
    assert "controls['duration'].value = nan" in explorer.error and "between 1000 and 100000" in explorer.error
    assert "cannot convert" not in explorer.error
    assert_same(before, snapshot(explorer, controls=False))
    explorer.controls["duration"].value = 1000.0
    assert explorer.error is None and "press train" in explorer.message.value


@pytest.mark.parametrize("cls, name, high", [(WindowExplorer, "a_plus", 0.1), (TraceExplorer, "duration", 5000.0),
                                             (PairingExplorer, "frequency", 50.0), (LayerExplorer, "coupling", 0.5),
                                             (ConvExplorer, "tau_pre", 100.0)], ids=lambda v: getattr(v, "__name__", v))
def test_infinity_from_code_is_clamped_to_the_range_and_drawn_finite(cls, name, high):
    explorer = make(cls)
    explorer.controls[name].value = INF  # ipywidgets clamps a slider's value to its range
    assert explorer.controls[name].value == pytest.approx(high)
    assert explorer.error is None
    for value in explorer.data.values():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all()


def test_trace_explorer_time_shown_nan_is_a_message_not_a_traceback():
    explorer = make(TraceExplorer)
    before = snapshot(explorer)
    explorer.time_shown.value = NAN  # used to raise ValueError from trace_figure into the notebook
    assert "time_shown.value = nan" in explorer.error and "between 0 and 200 ms" in explorer.error
    assert_same(before, snapshot(explorer))
    explorer.time_shown.value = 100.0
    assert explorer.error is None and explorer.png() != before[2]


@pytest.mark.parametrize("values, error, match", [
    ([NAN], ValueError, "nan is not allowed.*between 0 and 1"),
    ([INF], ValueError, "inf is not allowed"),
    (["0.5"], TypeError, "must be a number"),
    ([0.2, 2.0], ValueError, "2.0 is not allowed.*out of range"),
], ids=repr)
def test_player_values_are_checked_before_anything_changes(values, error, match):
    explorer = make(TraceExplorer)
    before = snapshot(explorer)
    with pytest.raises(error, match=match):
        explorer.player(control="w0", values=values)
    assert_same(before, snapshot(explorer))
    assert explorer.error is None


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", ["triplet", "", 3, NAN], ids=repr)
def test_a_dropdown_set_from_code_to_no_option_is_a_value_error_naming_it(explorers, cls, value):
    explorer = explorers[cls]
    assert_refused(explorer, explorer.controls["pairing"], value, ValueError,
                   r"controls\['pairing'\]\.value = .* not one of the options.*'nearest'")


def test_a_dropdown_set_to_none_from_code_is_a_message_naming_it():
    explorer = make(WindowExplorer)
    before = snapshot(explorer, controls=False)
    explorer.controls["weight_dependence"].value = None  # ipywidgets allows None (no selection)
    assert "controls['weight_dependence'].value = None" in explorer.error and "'gutig'" in explorer.error
    assert_same(before, snapshot(explorer, controls=False))


@pytest.mark.parametrize("value", [1, 0, "yes", None, NAN], ids=repr)
def test_a_checkbox_set_from_code_to_a_non_bool_is_a_type_error_naming_it(explorers, value):
    explorer = explorers[TraceExplorer]
    assert_refused(explorer, explorer.controls["two_phases"], value, TypeError,
                   r"controls\['two_phases'\]\.value = .*must be True or False")


@pytest.mark.parametrize("value", ["100", None, [1.0]], ids=repr)
def test_trace_explorer_time_shown_refuses_non_numbers_naming_it(explorers, value):
    explorer = explorers[TraceExplorer]
    assert_refused(explorer, explorer.time_shown, value, TypeError,
                   r"time_shown\.value = .*must be a number.*between 0 and 200")


@pytest.mark.parametrize("keywords, error, match", [
    (dict(frames=2.5), TypeError, "frames must be an int"),
    (dict(frames="10"), TypeError, "frames must be an int"),
    (dict(frames=1), ValueError, "frames must be an int from 2 to 200"),
    (dict(frames=10 ** 6), ValueError, "frames must be an int from 2 to 200"),
    (dict(fps=NAN), ValueError, "fps must be a number from 0.5 to 60"),
    (dict(fps=INF), ValueError, "fps must be a number from 0.5 to 60"),
    (dict(fps="3"), TypeError, "fps must be a number"),
    (dict(loop=1), TypeError, "loop must be True or False"),
], ids=repr)
def test_player_options_are_checked_before_recording(explorers, keywords, error, match):
    explorer = explorers[WindowExplorer]
    before = snapshot(explorer)
    with pytest.raises(error, match=match):
        explorer.player(control="w", **keywords)
    assert_same(before, snapshot(explorer))


def test_player_accepts_numpy_integers_for_frames(explorers):
    assert len(explorers[WindowExplorer].player(control="w", frames=np.int64(2)).frames) == 2


@pytest.mark.parametrize("control, error", [(3, TypeError), (None, TypeError), ("tau", ValueError)], ids=repr)
def test_player_control_must_name_a_control(explorers, control, error):
    with pytest.raises(error, match="tau_pre"):
        explorers[WindowExplorer].player(control=control)
