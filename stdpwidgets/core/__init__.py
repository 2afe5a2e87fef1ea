"""The PyTorch STDP core: rules, traces, layer correlations, the learner and closed forms.

Depends on PyTorch only (no plotting, no widgets, no I/O).
"""

from .correlate import LAYER_KINDS, LayerKind, register_layer_kind
from .dependence import DEPENDENCE_NAMES, WeightDependence
from .learner import STDPHistory, STDPLearner
from .rule import PAIRINGS, STDPRule
from .traces import add_spikes, decay_factor, trace_sequence
from .window import (
    euler_trace_error,
    multiplicative_fixed_point,
    pair_sum_all_to_all,
    pair_sum_nearest,
    poisson_drift,
    stdp_window,
)

__all__ = [
    "STDPRule",
    "STDPLearner",
    "STDPHistory",
    "WeightDependence",
    "LayerKind",
    "LAYER_KINDS",
    "register_layer_kind",
    "PAIRINGS",
    "DEPENDENCE_NAMES",
    "decay_factor",
    "add_spikes",
    "trace_sequence",
    "stdp_window",
    "pair_sum_all_to_all",
    "pair_sum_nearest",
    "poisson_drift",
    "multiplicative_fixed_point",
    "euler_trace_error",
]
