"""The PyTorch STDP core: rules, traces, layer correlations, the learner and closed forms.

Depends on PyTorch only (no plotting, no widgets, no I/O).
"""

from .correlate import LAYER_KINDS, LayerKind, register_layer_kind
from .dependence import DEPENDENCE_NAMES, WeightDependence, power_law
from .learner import STDPHistory, STDPLearner
from .recording import SpikeRecorder
from .rule import PAIRINGS, Rule, STDPRule, TraceSpec
from .triplet import TRIPLET_PRESETS, TripletRule
from .triplet_closed_forms import triplet_bcm_threshold, triplet_poisson_drift, triplet_protocol_change
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
    "Rule",
    "TraceSpec",
    "STDPRule",
    "TripletRule",
    "TRIPLET_PRESETS",
    "STDPLearner",
    "STDPHistory",
    "SpikeRecorder",
    "WeightDependence",
    "power_law",
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
    "triplet_protocol_change",
    "triplet_poisson_drift",
    "triplet_bcm_threshold",
]
