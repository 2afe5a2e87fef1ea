"""Player: a sequence of figure frames and the values they stand for, playable without a kernel.

A player is data first: PNG frames (each one exactly a figure an explorer drew) and, for each,
the value of the control or time it shows. :meth:`Player.to_html` turns it into a
self-contained HTML/JS control (slider, play/pause, the current value) that needs no kernel and
no network, for static book pages, slides and course sites.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["Player"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(png: bytes) -> Tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@dataclass(frozen=True)
class Player:
    """Frames of a figure over one control or over time, with the values they show.

    Parameters
    ----------
    frames : sequence of bytes
        PNG images, one per value, all the same pixel size.
    values : sequence
        What each frame stands for (a control value, or a time in ms), same length as ``frames``.
    labels : sequence of str
        The text shown beside the slider for each frame, e.g. ``"τ+ = 16.8 ms"``.
    name : str
        What is varied: a control name of the explorer, or ``"time"``.
    title : str
        Accessible name of the player (read by screen readers, shown in a saved file's title).
    start : int
        Index of the frame shown first.
    fps : float
        Frames per second when playing (0.5 to 60).
    loop : bool
        Start again at the first frame after the last one when playing.
    display_width : int or None
        Width the frames are shown at, CSS pixels (the frames have more pixels than that, for
        sharp pictures on high-density screens); None shows them at their pixel width.

    Examples
    --------
    >>> player = WindowExplorer().player(control="tau_pre", values=[10, 20, 30])  # doctest: +SKIP
    >>> player.save("window.html")          # one standalone file, no network needed  # doctest: +SKIP
    >>> player.frames[1]                     # the explorer's PNG at tau_pre = 20     # doctest: +SKIP
    """

    frames: Tuple[bytes, ...]
    values: Tuple[Any, ...]
    labels: Tuple[str, ...]
    name: str = "value"
    title: str = "figure player"
    start: int = 0
    fps: float = 6.0
    loop: bool = True
    display_width: Optional[int] = None
    _html_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        frames = tuple(bytes(f) for f in self.frames)
        values, labels = tuple(self.values), tuple(str(t) for t in self.labels)
        if not frames:
            raise ValueError("a player needs at least one frame")
        bad = [k for k, f in enumerate(frames) if not f.startswith(_PNG_MAGIC)]
        if bad:
            raise ValueError(f"frames must be PNG bytes; frame {bad[0]} is not")
        if len(values) != len(frames) or len(labels) != len(frames):
            raise ValueError(
                f"need one value and one label per frame: {len(frames)} frames, {len(values)} values, "
                f"{len(labels)} labels"
            )
        sizes = {_png_size(f) for f in frames}
        if len(sizes) != 1:
            raise ValueError(f"all frames must have the same pixel size, got {sorted(sizes)}")
        if isinstance(self.start, bool) or not isinstance(self.start, int) or not 0 <= self.start < len(frames):
            raise ValueError(f"start must be a frame index from 0 to {len(frames) - 1}, got {self.start!r}")
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not 0.5 <= self.fps <= 60:
            raise ValueError(f"fps must be a number from 0.5 to 60 frames per second, got {self.fps!r}")
        if self.display_width is not None and (
            isinstance(self.display_width, bool) or not isinstance(self.display_width, int) or self.display_width < 1
        ):
            raise ValueError(f"display_width must be a positive int (CSS pixels) or None, got {self.display_width!r}")
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "labels", labels)

    # ------------------------------------------------------------------ data

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of every frame, pixels."""
        return _png_size(self.frames[0])

    def image(self, index: int) -> np.ndarray:
        """Frame ``index`` decoded to an ``(height, width, 3)`` uint8 RGB array."""
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(self.frames[index])).convert("RGB"))

    # ------------------------------------------------------------------ HTML

    def to_html(self, standalone: bool = False) -> str:
        """The player as HTML: a ``<div class="stdp-player">`` with its data and script inline.

        Parameters
        ----------
        standalone : bool
            A whole HTML document (for :meth:`save`) instead of a fragment to embed in a page.
        """
        from .player_html import player_document, player_fragment

        key = "document" if standalone else "fragment"
        if key not in self._html_cache:
            self._html_cache[key] = player_document(self) if standalone else player_fragment(self)
        return self._html_cache[key]

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The HTML player, a PNG of the start frame (for PDF and other static outputs) and text."""
        import base64

        return {
            "text/html": self.to_html(),
            "image/png": base64.b64encode(self.frames[self.start]).decode("ascii"),
            "text/plain": repr(self),
        }

    def save(self, path: Union[str, os.PathLike]) -> str:
        """Write the player as one standalone HTML file (opens from disk, no network); returns the path."""
        path = os.fspath(path)
        if not path.lower().endswith((".html", ".htm")):
            raise ValueError(f"save the player as an .html file, got {path!r}")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.to_html(standalone=True))
        return path

    @property
    def html_bytes(self) -> int:
        """Size of the embeddable HTML fragment, bytes (what a book page carries for it)."""
        return len(self.to_html().encode("utf-8"))

    def __repr__(self) -> str:
        width, height = self.size
        return (f"<Player over {self.name}: {len(self)} frames of {width}x{height} px, "
                f"{self.html_bytes / 1e6:.2f} MB as HTML>")
