"""Lazy top-level access to the explorers and figure builders (PEP 562).

``import stdpwidgets`` stays free of matplotlib and ipywidgets; the first access to, say,
``stdpwidgets.TraceExplorer`` imports :mod:`stdpwidgets.widgets` (and with it matplotlib and
ipywidgets). The package's ``__init__`` hooks this in with::

    from ._lazy import LAZY_NAMES, lazy_getattr as __getattr__
"""

from __future__ import annotations

import importlib
from typing import Any, Dict

__all__ = ["LAZY_NAMES", "lazy_getattr"]

#: Public name -> submodule that defines it.
LAZY_MODULES: Dict[str, str] = {
    "WindowExplorer": "stdpwidgets.widgets",
    "TraceExplorer": "stdpwidgets.widgets",
    "PairingExplorer": "stdpwidgets.widgets",
    "ConvExplorer": "stdpwidgets.widgets",
    "LayerExplorer": "stdpwidgets.widgets",
    "HomeostasisExplorer": "stdpwidgets.widgets",
    "RewardExplorer": "stdpwidgets.widgets",
    "Explorer": "stdpwidgets.widgets",
    "window_figure": "stdpwidgets.plots",
    "trace_figure": "stdpwidgets.plots",
    "pairing_figure": "stdpwidgets.plots",
    "kernel_figure": "stdpwidgets.plots",
    "weight_matrix_figure": "stdpwidgets.plots",
    "homeostasis_figure": "stdpwidgets.plots",
    "figure_to_png": "stdpwidgets.plots",
}
LAZY_NAMES = tuple(LAZY_MODULES)


def lazy_getattr(name: str) -> Any:
    """Module-level ``__getattr__`` for :mod:`stdpwidgets`: import a lazy name on first use."""
    module = LAZY_MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'stdpwidgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    import sys

    setattr(sys.modules["stdpwidgets"], name, value)  # later lookups skip this function
    return value
