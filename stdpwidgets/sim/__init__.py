"""Simulations on top of the STDP core: spike sources, protocols, neuron models, classic experiments.

Depends on PyTorch (scikit-learn only inside :func:`load_digit_images`); nothing here imports
matplotlib or ipywidgets. Time in ms, rates in Hz.

Every sim checks its arguments before it allocates anything (``TypeError`` for the wrong kind,
``ValueError`` for a value out of range, the message naming the argument) and refuses sizes far
beyond a laptop: more than 4 GiB up front, 1e8 time steps, or 1e11 steps x synapses. The
message names the argument to change; :func:`size_limits` raises the limits for a block of code.
"""

from ._budget import size_limits
from .conv_training import (
    ConvTrainingResult,
    default_conv_rule,
    first_spike_winners,
    initial_conv_kernels,
    kernel_structure,
    train_conv_stdp,
    winner_take_all_spikes,
)
from .correlated_inputs import correlated_poisson_groups, group_labels
from .digits import generated_patterns, load_digit_images
from .encoding import ENCODINGS, latency_encode, poisson_encode
from .linear_poisson import (
    GroupSymmetry,
    LinearPoissonRun,
    MeasuredDrift,
    critical_weight,
    group_symmetry,
    linear_poisson_drift,
    linear_poisson_output,
    linear_poisson_rate,
    linear_poisson_stdp,
    measure_linear_poisson_drift,
    regulated_rate_bound,
    window_epsilon_integral,
    window_integral,
)
from .neurons import ConductanceLIF, LIFRun
from .poisson_layer import PoissonLayerResult, simulate_poisson_layer
from .protocols import (
    PairingCurve,
    pairing_protocol,
    pairing_spike_steps,
    pairing_sweep,
    pairing_weight_change,
    single_pair_weight_changes,
)
from .readout import (
    conv_features,
    kernel_similarity,
    load_labelled_digits,
    noise_kernels,
    readout_accuracy,
    ridge_readout,
    shuffled_kernels,
    smoothed_kernels,
    train_test_indices,
)
from .sjostrom2001 import SJOSTROM_2001, FrequencyExperiment, frequency_experiment
from .song2000 import SONG2000_DEPENDENCES, Song2000Result, song2000, song2000_rule
from .synapse import simulate_synapse
from .spikes import fixed_count_spikes, poisson_spikes, times_to_train, train_to_raster, train_to_times
from .diehl_cook import DiehlCook2015

__all__ = [
    "size_limits",
    "simulate_synapse",
    "poisson_spikes",
    "fixed_count_spikes",
    "times_to_train",
    "train_to_times",
    "train_to_raster",
    "pairing_protocol",
    "pairing_spike_steps",
    "pairing_weight_change",
    "pairing_sweep",
    "PairingCurve",
    "single_pair_weight_changes",
    "frequency_experiment",
    "FrequencyExperiment",
    "SJOSTROM_2001",
    "simulate_poisson_layer",
    "PoissonLayerResult",
    "ConductanceLIF",
    "LIFRun",
    "song2000",
    "song2000_rule",
    "Song2000Result",
    "SONG2000_DEPENDENCES",
    "load_digit_images",
    "generated_patterns",
    "poisson_encode",
    "latency_encode",
    "ENCODINGS",
    "train_conv_stdp",
    "winner_take_all_spikes",
    "kernel_structure",
    "default_conv_rule",
    "initial_conv_kernels",
    "ConvTrainingResult",
    "first_spike_winners",
    "correlated_poisson_groups",
    "group_labels",
    "window_integral",
    "window_epsilon_integral",
    "linear_poisson_rate",
    "linear_poisson_drift",
    "critical_weight",
    "regulated_rate_bound",
    "linear_poisson_output",
    "measure_linear_poisson_drift",
    "MeasuredDrift",
    "linear_poisson_stdp",
    "LinearPoissonRun",
    "group_symmetry",
    "GroupSymmetry",
    "load_labelled_digits",
    "conv_features",
    "ridge_readout",
    "readout_accuracy",
    "train_test_indices",
    "kernel_similarity",
    "smoothed_kernels",
    "shuffled_kernels",
    "noise_kernels",
    "DiehlCook2015",
]
