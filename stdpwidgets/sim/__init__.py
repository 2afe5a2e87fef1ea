"""Simulations on top of the STDP core: spike sources, protocols, neuron models, classic experiments.

Depends on PyTorch and numpy (scikit-learn only inside :func:`load_digit_images`); nothing here
imports matplotlib or ipywidgets. Time in ms, rates in Hz.
"""

from .protocols import (
    PairingCurve,
    pairing_protocol,
    pairing_spike_steps,
    pairing_sweep,
    pairing_weight_change,
)
from .spikes import poisson_spikes, times_to_train, train_to_raster, train_to_times

__all__ = [
    "poisson_spikes",
    "times_to_train",
    "train_to_times",
    "train_to_raster",
    "pairing_protocol",
    "pairing_spike_steps",
    "pairing_weight_change",
    "pairing_sweep",
    "PairingCurve",
]
