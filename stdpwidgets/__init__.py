"""stdpwidgets: trace-based STDP in PyTorch, with ipywidgets explorers and a textbook.

The core (:mod:`stdpwidgets.core`) is importable without matplotlib or ipywidgets.
"""

from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all

__version__ = "0.1.0"
__all__ = list(_core_all)

# PEP 562: the explorers and figure builders load matplotlib/ipywidgets on first use only.
from ._lazy import LAZY_NAMES, lazy_getattr as __getattr__  # noqa: E402


def __dir__():
    return sorted(set(globals()) | set(LAZY_NAMES))
