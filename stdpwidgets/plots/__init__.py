"""Figure builders for STDP: windows, traces, pairing protocols, kernels and weight matrices.

Each builder makes a ``matplotlib.figure.Figure`` (never through pyplot, so no global state)
and, given ``figure=`` a figure it made before, updates that figure's artists in place. They
work without widgets, e.g. for static book figures and slides; :class:`PNGRenderer` turns a
figure into PNG bytes quickly by redrawing only the artists that change, and :class:`Player`
plays a sequence of such PNGs on a page without a kernel.
"""

from .homeostasis import homeostasis_figure
from .kernels import kernel_figure
from .pairing import pairing_figure
from .player import Player
from .render import PNGRenderer, figure_to_png
from .traces import trace_figure
from .weights import weight_matrix_figure
from .window import BI_POO_TAU_POST_MS, BI_POO_TAU_PRE_MS, window_figure

__all__ = [
    "window_figure",
    "trace_figure",
    "pairing_figure",
    "kernel_figure",
    "weight_matrix_figure",
    "homeostasis_figure",
    "Player",
    "PNGRenderer",
    "figure_to_png",
    "BI_POO_TAU_PRE_MS",
    "BI_POO_TAU_POST_MS",
]
