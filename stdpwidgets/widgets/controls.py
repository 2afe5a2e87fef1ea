"""Factories for the control widgets of the explorers, and checks of initial values (private).

All sliders use ``continuous_update=False``: a redraw happens when the slider is released,
not for every pixel of a drag.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, Optional, Sequence, Tuple

import ipywidgets as widgets
import numpy as np
import traitlets

from ..core import TRIPLET_PRESETS, Rule, STDPRule, TripletRule

__all__ = [
    "float_slider",
    "log_slider",
    "int_slider",
    "dropdown",
    "checkbox",
    "apply_initial_values",
    "check_control_value",
    "ControlTypeError",
    "ControlValueError",
    "invalid_control",
    "rule_controls",
    "rule_from_params",
    "triplet_controls",
    "link_rule_kind",
    "RULE_DEPENDENCES",
    "RULE_KINDS",
    "preset_label",
    "player_values",
    "describe_value",
]

#: Weight dependences offered by the explorers (names of :class:`~stdpwidgets.core.STDPRule`).
RULE_DEPENDENCES = ("additive", "multiplicative", "gutig", "van-rossum")

def preset_label(name: str) -> str:
    """``"visual-cortex-all-to-all-minimal"`` -> ``"visual cortex, all-to-all, minimal"``."""
    for region in ("visual-cortex", "hippocampal"):
        if name.startswith(region + "-") and name.count("-") > region.count("-") + 1:
            pairing, model = name[len(region) + 1 :].rsplit("-", 1)
            return f"{region.replace('-', ' ')}, {pairing}, {model}"
    return name


#: Rules the explorers offer: (label, value); a preset value is a key of TRIPLET_PRESETS.
RULE_KINDS = (
    ("pair rule (τ±, A± below)", "pair"),
    ("triplet rule (A± = A2±, τx, τy, A3± below)", "triplet"),
    *((f"triplet fit: {preset_label(name)}", name) for name in TRIPLET_PRESETS),
)

# Controls fill the column the explorer's grid gives them (at least 290 px), so explorers
# flow into the width they get: side by side in an HBox, one column on a phone.
_LAYOUT = {"width": "auto", "min_width": "0"}
_STYLE = {"description_width": "140px"}


class ControlTypeError(traitlets.TraitError, TypeError):
    """A control's value set from Python to something that is not a number (also a TraitError)."""


class ControlValueError(traitlets.TraitError, ValueError):
    """A whole-number control's value set from Python to NaN or infinity (also a TraitError)."""


def _label(control) -> str:
    """How a message names the control: ``"TraceExplorer: controls['w0']"`` once an explorer owns it."""
    return getattr(control, "stdp_label", None) or f"the control {control.description!r}"


def _refuse_non_numbers(control, value) -> None:
    # traitlets' CFloat/CInt would turn "0.5" into 0.5 and True into 1.0, and say only that the
    # 'value' trait of "a FloatSlider" expected a float: name the control, refuse text and bools.
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)) or not (
            isinstance(value, numbers.Real) or hasattr(value, "__float__")):
        raise ControlTypeError(f"{_label(control)}.value = {value!r} is not allowed (must be a number, got "
                               f"{type(value).__name__}); set {_use(control)}")


class _NumberValue(traitlets.CFloat):
    """The ``value`` trait of the explorers' float sliders: numbers only, named errors."""

    def validate(self, obj, value):
        _refuse_non_numbers(obj, value)
        return super().validate(obj, value)


class _WholeValue(traitlets.CInt):
    """The ``value`` trait of the explorers' int sliders: numbers only, finite, named errors."""

    def validate(self, obj, value):
        _refuse_non_numbers(obj, value)
        if not math.isfinite(float(value)):
            raise ControlValueError(f"{_label(obj)}.value = {value!r} is not allowed (is not finite); "
                                    f"set {_use(obj)}")
        return super().validate(obj, value)


class FloatSlider(widgets.FloatSlider):
    """``ipywidgets.FloatSlider`` whose value refuses non-numbers with a TypeError naming the control."""

    value = _NumberValue(0.0, help="Float value").tag(sync=True)


class FloatLogSlider(widgets.FloatLogSlider):
    """``ipywidgets.FloatLogSlider`` whose value refuses non-numbers with a TypeError naming the control."""

    value = _NumberValue(1.0, help="Float value").tag(sync=True)


class IntSlider(widgets.IntSlider):
    """``ipywidgets.IntSlider`` whose value refuses non-numbers (TypeError) and NaN/inf (ValueError)."""

    value = _WholeValue(0, help="Int value").tag(sync=True)


class _BoolValue(traitlets.Bool):
    """The ``value`` trait of the explorers' checkboxes: True or False only, named errors."""

    def validate(self, obj, value):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ControlTypeError(f"{_label(obj)}.value = {value!r} is not allowed (must be True or False, got "
                               f"{type(value).__name__})")


class Checkbox(widgets.Checkbox):
    """``ipywidgets.Checkbox`` whose value refuses anything but True/False with a TypeError naming the control."""

    value = _BoolValue(False, help="Bool value").tag(sync=True)


class Dropdown(widgets.Dropdown):
    """``ipywidgets.Dropdown`` whose refusal of an unknown value names the control and its options."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        try:
            return super()._validate_value(proposal)
        except traitlets.TraitError:
            raise ControlValueError(f"{_label(self)}.value = {proposal.value!r} is not allowed (is not one of the "
                                    f"options); set {_use(self)}") from None


def float_slider(description: str, value: float, low: float, high: float, step: float, fmt: str = ".3g"):
    """A ``FloatSlider`` limited to ``[low, high]``."""
    return FloatSlider(
        value=value, min=low, max=high, step=step, description=description, readout_format=fmt,
        continuous_update=False, layout=dict(_LAYOUT), style=dict(_STYLE),
    )


def log_slider(description: str, value: float, low: float, high: float):
    """A ``FloatLogSlider`` between ``low`` and ``high`` (both > 0), 20 steps per decade."""
    return FloatLogSlider(
        value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.05,
        description=description, readout_format=".3g", continuous_update=False,
        layout=dict(_LAYOUT), style=dict(_STYLE),
    )


def int_slider(description: str, value: int, low: int, high: int, step: int = 1):
    """An ``IntSlider`` limited to ``[low, high]``."""
    return IntSlider(
        value=value, min=low, max=high, step=step, description=description, continuous_update=False,
        layout=dict(_LAYOUT), style=dict(_STYLE),
    )


def dropdown(description: str, value: Any, options: Sequence):
    """A ``Dropdown`` over ``options`` (values, or ``(label, value)`` pairs)."""
    return Dropdown(value=value, options=list(options), description=description,
                            layout=dict(_LAYOUT), style=dict(_STYLE))


def checkbox(description: str, value: bool):
    """A ``Checkbox``."""
    return Checkbox(value=value, description=description, indent=False, layout=dict(_LAYOUT))


def _options(control) -> list:
    """The values (not labels) a dropdown or toggle offers."""
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


def _allowed(control) -> str:
    if isinstance(control, widgets.FloatLogSlider):
        return f"between {control.base ** control.min:.3g} and {control.base ** control.max:.3g}"
    if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons)):
        return "one of " + ", ".join(map(repr, _options(control)))
    if isinstance(control, widgets.Checkbox):
        return "True or False"
    return f"between {control.min:g} and {control.max:g}"


def _is_number(value) -> bool:
    """A real number (Python or numpy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _problem(control, value) -> Optional[Tuple[type, str]]:
    """Why ``control`` cannot hold ``value``: (TypeError or ValueError, what is wrong), or None if it can."""
    if isinstance(control, widgets.Checkbox):
        return None if isinstance(value, (bool, np.bool_)) else (TypeError, f"must be True or False, got {type(value).__name__}")
    if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons)):
        try:
            found = value in _options(control)
        except Exception:  # an object whose == raises (e.g. an array): not one of the options
            found = False
        return None if found else (ValueError, "is not one of the options")
    if not _is_number(value):
        return TypeError, f"must be a number, got {type(value).__name__}"
    if not math.isfinite(value):
        return ValueError, "is not finite"
    if isinstance(control, widgets.IntSlider) and int(value) != value:
        return ValueError, "is not a whole number"
    if isinstance(control, widgets.FloatLogSlider):
        low, high = control.base ** control.min, control.base ** control.max
        inside = low * (1 - 1e-9) <= value <= high * (1 + 1e-9)
    else:
        inside = control.min <= value <= control.max
    return None if inside else (ValueError, "is out of range")


def _use(control) -> str:
    """What to give instead: "a value between 1 and 100", "one of 'a', 'b'", "True or False"."""
    allowed = _allowed(control)
    return allowed if allowed.startswith("one of") or allowed == "True or False" else "a value " + allowed


def _fits(control, value) -> bool:
    return _problem(control, value) is None


def _as_control_value(control, value):
    """``value`` (already checked) in the type the control holds: numpy scalars become Python ones."""
    if isinstance(control, widgets.IntSlider):
        return int(value)
    if isinstance(control, widgets.Checkbox):
        return bool(value)
    if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons)):
        return value
    return float(value)


def check_control_value(control, value, name: str, owner: str):
    """``value`` as ``control`` holds it, or a TypeError/ValueError naming ``name`` and the allowed values.

    Raises
    ------
    TypeError
        For a value of the wrong kind (a string or None for a slider, a number for a checkbox).
    ValueError
        For NaN, infinity, a value outside the control's range, a fraction for a whole-number
        control, or a value that is not one of a dropdown's options.
    """
    problem = _problem(control, value)
    if problem is not None:
        kind, why = problem
        raise kind(f"{owner}: {name} = {value!r} is not allowed ({why}); use {_use(control)}")
    return _as_control_value(control, value)


def invalid_control(controls: Dict[str, Any], owner: str) -> Optional[str]:
    """The message for the first control whose current value cannot work (NaN set from code), or None.

    Sliders clamp values set from Python to their range but let NaN through (every comparison
    with NaN is false), so an explorer checks its controls before computing and shows this
    message instead of a NaN figure or a raw error from deep inside the simulation.
    """
    for name, control in controls.items():
        problem = _problem(control, control.value)
        if problem is not None:
            return (f"{owner}: controls[{name!r}].value = {control.value!r} is not allowed ({problem[1]}); "
                    f"set {_use(control)}")
    return None


def apply_initial_values(controls: Dict[str, Any], values: Dict[str, Any], owner: str) -> None:
    """Set controls from constructor keywords, refusing unknown names and values a control cannot hold.

    Every value is checked before any control is set. Numpy scalars are accepted and stored as
    Python numbers.

    Raises
    ------
    TypeError
        For a keyword that names no control, or a value of the wrong kind (a string for a slider).
    ValueError
        For a value the control cannot hold: NaN, infinite, out of range, not an option (the
        message names the keyword and gives the allowed range).
    """
    checked = {}
    for name, value in values.items():
        if name not in controls:
            raise TypeError(
                f"{owner} got an unexpected keyword {name!r}; its parameters are: {', '.join(controls)}"
            )
        checked[name] = check_control_value(controls[name], value, name, owner)
    for name, value in checked.items():
        controls[name].value = value


def rule_controls(
    tau_pre: float = 16.8,
    tau_post: float = 33.7,
    a_plus: float = 0.01,
    a_minus: float = 0.0105,
    pairing: str = "all-to-all",
    weight_dependence: str = "additive",
    mu: float = 0.5,
) -> Dict[str, Any]:
    """The seven controls of an :class:`~stdpwidgets.core.STDPRule`, with the explorers' ranges.

    Parameters are the initial values: time constants in ms (1 to 100), amplitudes (1e-4 to 0.1),
    the Gütig exponent ``mu`` (0 to 1; used by ``weight_dependence="gutig"`` only).
    """
    controls = {
        "tau_pre": float_slider("τ+ (pre, ms)", tau_pre, 1.0, 100.0, 0.1),
        "tau_post": float_slider("τ− (post, ms)", tau_post, 1.0, 100.0, 0.1),
        "a_plus": log_slider("A+", a_plus, 1e-4, 0.1),
        "a_minus": log_slider("A−", a_minus, 1e-4, 0.1),
        "pairing": dropdown("pairing", pairing, ("all-to-all", "nearest")),
        "weight_dependence": dropdown("weight dependence", weight_dependence, RULE_DEPENDENCES),
        "mu": float_slider("μ (Gütig)", mu, 0.0, 1.0, 0.05),
    }

    def enable_mu(change=None) -> None:  # μ only means something for the Gütig dependence
        controls["mu"].disabled = controls["weight_dependence"].value != "gutig"

    controls["weight_dependence"].observe(enable_mu, names="value")
    enable_mu()
    return controls


def triplet_controls(
    rule: str = "pair",
    tau_x: float = 101.0,
    tau_y: float = 125.0,
    a3_plus: float = 6.2e-3,
    a3_minus: float = 2.3e-4,
) -> Dict[str, Any]:
    """The rule-kind dropdown and the four extra controls of a :class:`~stdpwidgets.core.TripletRule`.

    Parameters are the initial values: ``rule`` one of the values of :data:`RULE_KINDS`; the slow
    time constants in ms (10 to 1000); the triplet amplitudes (0 to 0.06 and 0 to 0.01).
    Call :func:`link_rule_kind` on the merged controls to enable only what the kind uses.
    """
    return {
        "rule": dropdown("rule", rule, RULE_KINDS),
        "tau_x": log_slider("τx (slow pre, ms)", tau_x, 10.0, 1000.0),
        "tau_y": log_slider("τy (slow post, ms)", tau_y, 10.0, 1000.0),
        "a3_plus": float_slider("A3+ (triplet)", a3_plus, 0.0, 0.06, 1e-4, ".4f"),
        "a3_minus": float_slider("A3− (triplet)", a3_minus, 0.0, 0.01, 1e-5, ".5f"),
    }


def link_rule_kind(controls: Dict[str, Any]) -> None:
    """Enable only the controls the chosen rule kind reads: a preset fixes τ±, A±, pairing and the
    triplet parameters (they are disabled), the pair rule leaves the triplet ones unused."""

    def enable(change=None) -> None:
        kind = controls["rule"].value
        preset = kind in TRIPLET_PRESETS
        for name in ("tau_pre", "tau_post", "a_plus", "a_minus", "pairing"):
            controls[name].disabled = preset
        for name in ("tau_x", "tau_y", "a3_plus", "a3_minus"):
            controls[name].disabled = kind != "triplet"

    controls["rule"].observe(enable, names="value")
    enable()


def rule_from_params(params: Dict[str, Any]) -> Rule:
    """The rule that the values of :func:`rule_controls` (and :func:`triplet_controls`) describe.

    Weights live in [0, 1]. Without a ``"rule"`` entry, or with ``"pair"``, an :class:`STDPRule`;
    ``"triplet"`` a :class:`TripletRule` with ``A2± = A±``; a preset name that published set with
    the explorer's weight dependence and bounds.
    """
    kind = params.get("rule", "pair")
    common = dict(weight_dependence=params["weight_dependence"], mu=float(params.get("mu", 0.5)),
                  w_min=0.0, w_max=1.0)
    if kind in TRIPLET_PRESETS:
        return TripletRule.preset(kind, **common)
    if kind == "triplet":
        return TripletRule(
            tau_plus=float(params["tau_pre"]), tau_minus=float(params["tau_post"]),
            tau_x=float(params["tau_x"]), tau_y=float(params["tau_y"]),
            a2_plus=float(params["a_plus"]), a2_minus=float(params["a_minus"]),
            a3_plus=float(params["a3_plus"]), a3_minus=float(params["a3_minus"]),
            pairing=params["pairing"], **common,
        )
    return STDPRule(
        tau_pre=float(params["tau_pre"]),
        tau_post=float(params["tau_post"]),
        a_plus=float(params["a_plus"]),
        a_minus=float(params["a_minus"]),
        pairing=params["pairing"],
        **common,
    )


def player_values(control, frames: Optional[int] = None, *, values: Optional[Sequence] = None, owner: str = "") -> list:
    """Values of ``control`` for a player: ``values`` checked against its range, or ``frames`` spread over it.

    A slider gives ``frames`` values evenly spaced over its range (log-spaced for a log
    slider), rounded to its step; a dropdown every option; a checkbox False and True.

    Raises
    ------
    ValueError
        For an empty ``values``, or a value the control cannot hold (the message gives the range).
    """
    if values is not None:
        values = list(values.tolist() if hasattr(values, "tolist") else values)
        values = [v.item() if hasattr(v, "item") and not isinstance(v, bool) else v for v in values]
        if not values:
            raise ValueError(f"{owner}: values is empty; give at least one value")
        for value in values:
            problem = _problem(control, value)
            if problem is not None:
                raise problem[0](f"{owner} = {value!r} is not allowed ({problem[1]}); use values {_allowed(control)}")
        return [int(v) if isinstance(control, widgets.IntSlider) else v for v in values]
    if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons)):
        return _options(control)
    if isinstance(control, widgets.Checkbox):
        return [False, True]
    count = int(frames)
    if isinstance(control, widgets.FloatLogSlider):
        exponents = [control.min + (control.max - control.min) * k / (count - 1) for k in range(count)]
        exponents = [control.min + round((e - control.min) / control.step) * control.step for e in exponents]
        spread = [float(f"{control.base ** e:.6g}") for e in exponents]
    else:
        low, high, step = control.min, control.max, control.step
        spread = [low + round((high - low) * k / (count - 1) / step) * step for k in range(count)]
        spread = [min(max(v, low), high) for v in spread]
        spread = [int(v) for v in spread] if isinstance(control, widgets.IntSlider) else [
            float(f"{v:.10g}") for v in spread]
    unique = []
    for value in spread:
        if value not in unique:
            unique.append(value)
    return unique


def describe_value(control, value) -> str:
    """``"description = value"`` as a player shows it (a dropdown's label, a slider's readout format)."""
    name = control.description or "value"
    if isinstance(control, (widgets.Dropdown, widgets.ToggleButtons)):
        for option in control.options:
            if isinstance(option, tuple) and option[1] == value:
                return f"{name}: {option[0]}"
        return f"{name}: {value}"
    if isinstance(control, widgets.Checkbox):
        return f"{name}: {'on' if value else 'off'}"
    fmt = getattr(control, "readout_format", "") or ("d" if isinstance(control, widgets.IntSlider) else ".3g")
    try:
        text = format(value, fmt)
    except (TypeError, ValueError):
        text = str(value)
    return f"{name} = {text}"
