"""ipywidgets explorers of STDP: each is an ``ipywidgets.VBox`` that drops into any notebook.

Numbers come from :mod:`stdpwidgets.core` / :mod:`stdpwidgets.sim`, figures from
:mod:`stdpwidgets.plots`; an explorer only wires controls to them.
"""

from .base import Explorer
from .conv import ConvExplorer
from .homeostasis import HomeostasisExplorer
from .layer import LayerExplorer
from .pairing import PairingExplorer
from .reward import RewardExplorer
from .trace import TraceExplorer
from .window import WindowExplorer

__all__ = ["Explorer", "WindowExplorer", "TraceExplorer", "PairingExplorer", "ConvExplorer", "LayerExplorer",
           "HomeostasisExplorer", "RewardExplorer"]
