"""Homeostasis and competition as small torch modules, to compose with any nn.Linear/nn.Conv2d.

- :class:`AdaptiveLIF`: leaky integrate-and-fire population with adaptive thresholds
  (exact exponential integration; ms and mV);
- :class:`KWinnersTakeAll` and :class:`LateralInhibition`: competition within a population;
- :func:`normalize_incoming_` and :class:`WeightNormalization`: each neuron's incoming weights
  kept at a constant sum.

State lives in buffers (batch-first, following ``.to(device)``). Depends on torch and
:mod:`stdpwidgets.core` only.
"""

from .adaptive_lif import AdaptiveLIF
from .lateral_inhibition import KWinnersTakeAll, LateralInhibition
from .weight_normalization import WeightNormalization, normalize_incoming_

__all__ = [
    "AdaptiveLIF",
    "KWinnersTakeAll",
    "LateralInhibition",
    "normalize_incoming_",
    "WeightNormalization",
]
