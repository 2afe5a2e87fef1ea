"""Simulations on top of the STDP core: spike sources, protocols, neuron models, classic experiments.

Depends on PyTorch (scikit-learn only inside :func:`load_digit_images`); nothing here imports
matplotlib or ipywidgets. Time in ms, rates in Hz.
"""

from .conv_training import (
    ConvTrainingResult,
    default_conv_rule,
    initial_conv_kernels,
    kernel_structure,
    train_conv_stdp,
    winner_take_all_spikes,
)
from .digits import generated_patterns, load_digit_images
from .encoding import ENCODINGS, latency_encode, poisson_encode
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
from .song2000 import SONG2000_DEPENDENCES, Song2000Result, song2000, song2000_rule
from .synapse import simulate_synapse
from .spikes import fixed_count_spikes, poisson_spikes, times_to_train, train_to_raster, train_to_times

__all__ = [
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
]
