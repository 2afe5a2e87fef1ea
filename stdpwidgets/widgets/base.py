"""Explorer: the common base of the stdpwidgets explorers (an ``ipywidgets.VBox``).

An explorer owns its control widgets, a message line, and an ``ipywidgets.Image`` that shows
its matplotlib figure as PNG (no front-end extension needed, and the embedded widget state of
a static HTML page carries the picture). A control change recomputes the data with the core,
updates the figure's artists in place and re-renders the PNG.
"""

from __future__ import annotations

import base64
import contextlib
import html
import time
from typing import Any, Dict, Optional, Sequence, Union

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ..plots import PNGRenderer

__all__ = ["Explorer", "check_device", "torch_threads"]


@contextlib.contextmanager
def torch_threads(count: Optional[int]):
    """Run a block with ``torch.set_num_threads(count)``, restoring the previous count after.

    The explorers' tensors are small: on a busy 2-core machine the synchronisation of a
    second intra-op thread costs far more than it saves (measured: 150 ms vs 20 ms per
    WindowExplorer update), so they compute on one thread. ``None`` leaves the count alone.
    """
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    if previous != count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if previous != count:
            torch.set_num_threads(previous)


def check_device(device: Union[str, torch.device]) -> torch.device:
    """``device`` as a ``torch.device``, refusing CUDA when no GPU is usable."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but CUDA is not available here; use device='cpu'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"explorers run on 'cpu' or 'cuda', got {device}")
    return device


class Explorer(widgets.VBox):
    """Base class: controls -> ``_compute`` (core/sim) -> ``_draw`` (plots) -> PNG in an Image.

    Subclasses implement ``_compute(params) -> dict`` and ``_draw(data, figure) -> Figure``
    (a :mod:`stdpwidgets.plots` builder called with ``figure=`` the current figure).

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        The control widgets by parameter name; set ``.value`` to change a parameter.
    figure : matplotlib.figure.Figure
        The explorer's figure (updated in place on every change).
    data : dict
        What the last successful computation produced (numpy arrays and floats).
    message : ipywidgets.HTML
        Status line; shows an error instead of a traceback when a value cannot work.
    image : ipywidgets.Image
        The rendered figure (PNG).
    device : torch.device
        Where the simulation runs.
    last_redraw_ms : float
        Wall time of the last recompute + redraw, ms.
    """

    #: Intra-op threads torch uses while this explorer computes (None: leave as it is).
    compute_threads: Optional[int] = 1

    def __init__(
        self,
        controls: Dict[str, widgets.Widget],
        *,
        device: Union[str, torch.device] = "cpu",
        extra: Sequence[widgets.Widget] = (),
        auto_update: bool = True,
        columns: int = 2,
    ) -> None:
        self.device = check_device(device)
        self.controls: Dict[str, widgets.Widget] = dict(controls)
        self.message = widgets.HTML(value="")
        self.image = widgets.Image(format="png", layout={"max_width": "100%"})
        self.figure: Optional[Figure] = None
        self.data: Dict[str, Any] = {}
        self.last_redraw_ms = float("nan")
        self._renderer: Optional[PNGRenderer] = None
        self._auto_update = auto_update
        grid = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(grid_template_columns=" ".join(["340px"] * columns), grid_gap="2px 8px"),
        )
        super().__init__(children=[grid, *extra, self.message, self.image])
        for control in self.controls.values():
            control.observe(self._on_control_change, names="value")

    # ------------------------------------------------------------------ parameters

    @property
    def parameters(self) -> Dict[str, Any]:
        """Current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_control_change(self, change) -> None:
        if self._auto_update:
            self.refresh()
        else:
            self._stale()

    def _stale(self) -> None:
        """Called on a control change when ``auto_update`` is off (long simulations)."""

    # ------------------------------------------------------------------ compute and draw

    def _compute(self, params: Dict[str, Any]) -> Dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self, data: Dict[str, Any], figure: Optional[Figure]) -> Figure:  # pragma: no cover
        raise NotImplementedError

    def _status(self, data: Dict[str, Any]) -> str:
        """One line of text under the controls after a successful update."""
        return ""

    def refresh(self) -> bool:
        """Recompute with the current control values and redraw.

        Returns
        -------
        bool
            True on success. On failure the message line says what went wrong and the figure
            keeps showing the last good state.
        """
        start = time.perf_counter()
        try:
            with torch_threads(self.compute_threads):
                data = self._compute(self.parameters)
        except Exception as err:  # a control value that cannot work: say so, do not raise
            self.show_error(err)
            return False
        self.data = data
        self.redraw()
        self.last_redraw_ms = (time.perf_counter() - start) * 1e3
        self.show_message(self._status(data))
        return True

    def redraw(self) -> None:
        """Update the figure's artists from :attr:`data` and re-render the PNG."""
        figure = self._draw(self.data, self.figure)
        if figure is not self.figure:
            self.figure = figure
            self._renderer = PNGRenderer(figure)
        self.image.value = self._renderer.render()

    # ------------------------------------------------------------------ messages

    def show_message(self, text: str) -> None:
        """Show a status line (plain text, escaped)."""
        self.message.value = f"<span style='color:#444'>{html.escape(text)}</span>" if text else ""

    def show_error(self, err: BaseException) -> None:
        """Show an error in the widget (red), instead of raising it into the notebook."""
        text = f"{type(err).__name__}: {err}" if not isinstance(err, (ValueError, TypeError)) else str(err)
        self.message.value = f"<span style='color:#b00020'>⚠ {html.escape(text)}</span>"

    @property
    def error(self) -> Optional[str]:
        """The error shown in the message line, or None."""
        return None if "#b00020" not in self.message.value else html.unescape(
            self.message.value.split("⚠ ", 1)[1].rsplit("</span>", 1)[0]
        )

    # ------------------------------------------------------------------ display

    def png(self) -> bytes:
        """The current figure as PNG bytes (what the Image widget shows)."""
        return bytes(self.image.value)

    def _repr_png_(self) -> Optional[bytes]:
        return self.png() or None

    def _repr_mimebundle_(self, **kwargs) -> Dict[str, Any]:
        """The widget view plus a static ``image/png`` of the figure and ``text/plain``.

        Live front ends show the widget; static HTML/PDF builds that cannot run widgets fall
        back to the PNG.
        """
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = f"<{type(self).__name__}: " + ", ".join(
            f"{k}={v!r}" for k, v in self.parameters.items()
        ) + ">"
        png = self.png()
        if png:
            bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.parameters.items())})"
