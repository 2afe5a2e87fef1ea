"""Explorer: the common base of the stdpwidgets explorers (an ``ipywidgets.VBox``).

An explorer owns its control widgets, a message line, and an ``ipywidgets.Image`` that shows
its matplotlib figure as PNG (no front-end extension needed). A control change recomputes the
data with the core, updates the figure's artists in place and re-renders the PNG. For pages
without a kernel, :meth:`Explorer.player` records the figure over one control or over time as
a :class:`~stdpwidgets.plots.Player` (self-contained HTML/JS).
"""

from __future__ import annotations

import base64
import contextlib
import html
import numbers
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..plots import Player, PNGRenderer
from ..plots._figure import add_footer
from .controls import describe_value, invalid_control, player_values

__all__ = ["Explorer", "ExplorerWithPlayer", "TrainedSnapshots", "check_device", "torch_threads"]


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
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device ('cpu', 'cuda' or 'cuda:N'), "
                        f"got {type(device).__name__} {device!r}")
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
        The control widgets by parameter name; set ``.value`` to change a parameter. A value
        of the wrong kind (text for a slider, a number for a checkbox) raises a ``TypeError``
        and one that is not an option of a dropdown, or NaN/inf for a whole-number slider, a
        ``ValueError``, each naming the control; a slider clamps a number outside its range
        to it, and NaN in a float slider is refused in the message line (nothing is computed).
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
    #: Pixels per inch of the figure's PNG: twice matplotlib's 72, so 9-10 pt labels stay sharp.
    dpi: float = 144.0
    #: CSS pixels per inch the figure is shown at (the browser's 96): 1.5 image pixels per CSS
    #: pixel, sharp on high-density screens without blowing up the PNG.
    display_dpi: float = 96.0
    #: Frames of a player over time when ``frames`` is not given (about 1-1.5 MB as HTML).
    default_time_frames: int = 40
    #: Values of a player over a slider when ``values`` is not given.
    default_control_frames: int = 15

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
        self.message = widgets.HTML(value="", layout={"max_width": "100%"})
        self.image = widgets.Image(format="png", layout={"max_width": "100%", "height": "auto"})
        self.figure: Optional[Figure] = None
        self.data: Dict[str, Any] = {}
        self.last_redraw_ms = float("nan")
        self._renderer: Optional[PNGRenderer] = None
        self._auto_update = auto_update
        self._suspended = False
        # Columns of at least 290 px, as many as fit: two or three beside each other on a wide
        # page, one on a phone or in one half of an HBox, never wider than the space given.
        grid = widgets.GridBox(
            list(self.controls.values()),
            layout=widgets.Layout(
                grid_template_columns=f"repeat(auto-fill, minmax(min(100%, 290px), 1fr))",
                grid_gap="2px 12px", width="100%", max_width=f"{columns * 400}px",
            ),
        )
        super().__init__(
            children=[grid, *extra, self.message, self.image],
            layout=widgets.Layout(width="100%", min_width="0", flex="1 1 0%"),
        )
        for name, control in self.controls.items():
            control.stdp_label = f"{type(self).__name__}: controls[{name!r}]"  # named in value errors
            control.observe(self._on_control_change, names="value")

    # ------------------------------------------------------------------ parameters

    @property
    def parameters(self) -> Dict[str, Any]:
        """Current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_control_change(self, change) -> None:
        if self._suspended:
            return
        if self._auto_update:
            self.refresh()
        else:
            problem = invalid_control(self.controls, type(self).__name__)
            if problem is not None:  # say so now, not only when train is pressed
                self.show_error(ValueError(problem))
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

    def _caption(self, data: Dict[str, Any]) -> str:
        """The line printed under the figure (part of the PNG, so static pages show it too).

        Default: the status line. Explorers whose status holds wall-clock timings override it,
        so the figure is a function of the parameters alone.
        """
        return self._status(data)

    def refresh(self) -> bool:
        """Recompute with the current control values and redraw.

        Returns
        -------
        bool
            True on success. On failure the message line says what went wrong and the figure
            keeps showing the last good state.
        """
        start = time.perf_counter()
        # Sliders clamp values set from Python but let NaN through: refuse it here, naming the
        # control and its range, before it becomes a NaN figure or a raw error in the sim.
        problem = invalid_control(self.controls, type(self).__name__)
        if problem is not None:
            self.show_error(ValueError(problem))
            return False
        try:
            with torch_threads(self.compute_threads):
                data = self._compute(self.parameters)
        except Exception as err:  # a control value that cannot work: say so, do not raise
            self.show_error(err)
            return False
        self.data = data
        self.redraw()
        self.last_redraw_ms = (time.perf_counter() - start) * 1e3
        status = self._status(data)
        # the figure's footer already shows the caption; the message line adds only what differs
        self.show_message(status if status != self.figure.stdp_artists["footer"].get_text() else "")
        return True

    def redraw(self) -> None:
        """Update the figure's artists from :attr:`data` and re-render the PNG."""
        figure = self._draw(self.data, self.figure)
        if figure is not self.figure:
            self.figure = figure
            add_footer(figure)
            self._renderer = PNGRenderer(figure)
            width_in = figure.get_size_inches()[0]
            self.image.layout.width = f"{round(width_in * self.display_dpi)}px"
        caption = self._caption(self.data) if self.data else ""
        figure.stdp_artists["footer"].set_text(caption)
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

    # ------------------------------------------------------------------ players

    def _time_axis(self) -> Optional[Tuple[widgets.Widget, Callable[[Any], str]]]:
        """The view control that moves through the simulated time, and how to label its values.

        None for explorers without a time axis. Explorers with one (a trace unfolding, weights
        saved during training) return their slider and a label function.
        """
        return None

    def _snapshot_axis(self, slider: widgets.IntSlider, field: str, describe: Callable[[float], str]):
        """A time axis over training snapshots: ``slider`` indexes ``data[field]``, labelled by ``describe``."""
        def label(index) -> str:
            marks = self.data.get(field, [0]) if self.data else [0]
            return describe(marks[min(int(index), len(marks) - 1)])

        return slider, label

    def player(
        self,
        control: Optional[str] = None,
        values: Optional[Sequence[Any]] = None,
        *,
        over: Optional[str] = None,
        frames: Optional[int] = None,
        fps: Optional[float] = None,
        loop: bool = True,
    ) -> Player:
        """Record this explorer's figure over one control, or over time, as a playable :class:`Player`.

        Each frame is the PNG this explorer shows after that control is set to that value (or
        its time slider to that time), so a static page shows exactly what the live explorer
        draws. Afterwards the explorer is back where it was (controls, data, figure).

        Parameters
        ----------
        control : str, optional
            Name of a control (a key of :attr:`controls`) to vary.
        values : sequence, optional
            The values of ``control`` to record, each within the control's range. Default:
            ``frames`` values evenly spread over a slider's range, or every option of a
            dropdown or checkbox.
        over : {"time"}, optional
            Instead of a control: the simulation unfolding in time (explorers with a time axis:
            :class:`TraceExplorer`, :class:`LayerExplorer`, :class:`ConvExplorer`).
        frames : int, optional
            Number of frames (2 to 200): of a player over time (default
            :attr:`default_time_frames`), or of the default values of a slider.
        fps : float, optional
            Frames per second when played (default: 8 over time, 3 over a control).
        loop : bool
            Start again after the last frame when playing.

        Returns
        -------
        Player
            Displays itself in Jupyter, ``.save("file.html")`` writes a standalone page, and
            ``.frames`` / ``.values`` / ``.labels`` hold the data.

        Raises
        ------
        ValueError
            For an unknown control, a value outside its range, a value the explorer cannot
            compute (the explorer's own message says why), or ``over`` other than ``"time"``
            on an explorer without a time axis. The explorer is left as it was.

        Examples
        --------
        >>> explorer = WindowExplorer()                                         # doctest: +SKIP
        >>> explorer.player(control="tau_pre", values=[10, 16.8, 30, 50])     # doctest: +SKIP
        >>> TraceExplorer(seed=0).player(over="time", frames=40).save("traces.html")  # doctest: +SKIP
        """
        name = type(self).__name__
        if (control is None) == (over is None):
            raise TypeError(f"{name}.player needs exactly one of control=... (one of {', '.join(self.controls)}) "
                            f"or over='time'")
        # checked before any control moves (and before minutes of recording for a heavy explorer)
        if frames is not None:
            if isinstance(frames, (bool, np.bool_)) or not isinstance(frames, numbers.Integral):
                raise TypeError(f"frames must be an int from 2 to 200, got {type(frames).__name__} {frames!r}")
            if not 2 <= frames <= 200:
                raise ValueError(f"frames must be an int from 2 to 200, got {frames!r}")
            frames = int(frames)
        if fps is not None:
            if isinstance(fps, (bool, np.bool_)) or not isinstance(fps, numbers.Real):
                raise TypeError(f"fps must be a number from 0.5 to 60 frames per second, got {type(fps).__name__} {fps!r}")
            if not 0.5 <= fps <= 60:  # also refuses NaN
                raise ValueError(f"fps must be a number from 0.5 to 60 frames per second, got {fps!r}")
            fps = float(fps)
        if not isinstance(loop, (bool, np.bool_)):
            raise TypeError(f"loop must be True or False, got {type(loop).__name__} {loop!r}")
        loop = bool(loop)
        if over is not None:
            if over != "time":
                raise ValueError(f"over must be 'time', got {over!r}; to vary a parameter use control=...")
            axis = self._time_axis()
            if axis is None:
                raise ValueError(f"{name} has no time axis; make a player over one of its controls instead: "
                                 f"player(control=..., values=...) with control one of {', '.join(self.controls)}")
            if values is not None:
                raise TypeError("values go with control=...; over='time' takes frames=N")
            slider, label = axis
            return self._record(slider, player_values(slider, frames or self.default_time_frames), label,
                                name="time", title=f"{name} over time", fps=8.0 if fps is None else fps,
                                loop=loop, start_at_end=True, recompute=False)
        if not isinstance(control, str):
            raise TypeError(f"control must be the name of a control (one of {', '.join(self.controls)}), "
                            f"got {type(control).__name__} {control!r}")
        if control not in self.controls:
            raise ValueError(f"{name} has no control {control!r}; its controls are: {', '.join(self.controls)}")
        widget = self.controls[control]
        if values is None:
            values = player_values(widget, frames or self.default_control_frames)
        else:
            if frames is not None:
                raise TypeError("give values=... or frames=..., not both")
            values = player_values(widget, values=values, owner=f"{name}.player: {control}")
        return self._record(widget, values, lambda v: describe_value(widget, v), name=control,
                            title=f"{name} over {widget.description or control}",
                            fps=3.0 if fps is None else fps, loop=loop, start_at_end=False,
                            recompute=not self._auto_update)

    def _record(self, widget, values, label, *, name, title, fps, loop, start_at_end, recompute) -> Player:
        """Set ``widget`` to each value, capture the PNG, then put everything back."""
        saved_value, saved_data, saved_message = widget.value, self.data, self.message.value
        pngs = []
        try:
            for value in values:
                widget.value = value  # redraws through the explorer's own observers
                if (recompute and not self.refresh()) or self.error:
                    raise ValueError(f"{type(self).__name__} cannot compute {name} = {value!r}: {self.error}")
                pngs.append(self.png())
        finally:
            self._suspended = True
            try:
                widget.value = saved_value
            finally:
                self._suspended = False
            self.data = saved_data
            if saved_data:
                self.redraw()
            self.message.value = saved_message
        current = len(values) - 1 if start_at_end else self._nearest(values, saved_value)
        width_in = self.figure.get_size_inches()[0]
        return Player(
            frames=pngs, values=list(values), labels=[label(v) for v in values], name=name, title=title,
            start=current, fps=float(fps), loop=loop, display_width=round(width_in * self.display_dpi),
        )

    @staticmethod
    def _nearest(values: Sequence[Any], value: Any) -> int:
        if value in list(values):
            return list(values).index(value)
        try:
            return int(min(range(len(values)), key=lambda k: abs(values[k] - value)))
        except TypeError:
            return 0

    def with_player(self, player: Player) -> "ExplorerWithPlayer":
        """Display this explorer live in a kernel and ``player`` on a page without one.

        The returned object's display bundle holds the widget view (Jupyter front ends with a
        kernel show the live explorer), the player's HTML (a static HTML build shows it when
        configured to prefer ``text/html`` over the widget view, as this book is) and the PNG
        of the current figure (PDF and other static outputs).
        """
        if not isinstance(player, Player):
            raise TypeError(f"player must be a Player (from explorer.player(...)), got {type(player).__name__}")
        return ExplorerWithPlayer(self, player)


class TrainedSnapshots:
    """Mixin for an :class:`Explorer` that trains on demand and keeps snapshots of it: a
    ``self.snapshot`` slider picks ``data["snapshot"]`` among ``len(data["times_ms"])`` of them.

    After a training refresh the slider spans the new snapshots and shows the last; its
    observer is detached meanwhile, so setting ``max`` and ``value`` does not redraw on the way.
    """

    def _watch_snapshot(self) -> None:
        self.snapshot.observe(lambda change: self._show_snapshot(), names="value")

    def refresh(self) -> bool:
        ok = super().refresh()
        if ok:
            self.snapshot.unobserve_all()
            self.snapshot.max = len(self.data["times_ms"]) - 1
            self.snapshot.value = self.snapshot.max
            self._watch_snapshot()
        return ok

    def _show_snapshot(self) -> None:
        if self.data:
            self.data["snapshot"] = int(self.snapshot.value)
            self.redraw()


class ExplorerWithPlayer:
    """An explorer and a player of it, displayed as whichever the front end can show.

    Attributes
    ----------
    explorer : Explorer
    player : Player
    """

    def __init__(self, explorer: Explorer, player: Player) -> None:
        self.explorer = explorer
        self.player = player

    def _repr_mimebundle_(self, include=None, exclude=None) -> Dict[str, Any]:
        bundle = dict(self.explorer._repr_mimebundle_(include=include, exclude=exclude))
        bundle["text/html"] = self.player.to_html()
        return bundle

    def __repr__(self) -> str:
        return f"<{type(self.explorer).__name__} with {self.player!r}>"
