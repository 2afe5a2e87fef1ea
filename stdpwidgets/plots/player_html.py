"""A :class:`~stdpwidgets.plots.Player` as self-contained HTML/JS: slider, play/pause, value.

Frames are stored like a video: every ``KEYFRAME_INTERVAL``-th frame whole (its own PNG), the
others as the rectangles of pixels that differ from the frame before, each a small PNG of only
the colours it uses. Drawn onto a ``<canvas>`` in order, they rebuild every frame exactly
(tested pixel for pixel), at a fraction of the size: a trace unfolding over time changes a
thin strip per frame, a slider over a parameter changes the curves but not the axes.

No library, font or file is loaded from anywhere: the page works offline and from disk.
"""

from __future__ import annotations

import base64
import html
import io
import json
import uuid
from typing import Dict, List, Tuple

import numpy as np

__all__ = ["encode_frames", "decode_frames", "player_fragment", "player_document", "KEYFRAME_INTERVAL"]

#: A whole frame every this many frames bounds the work of a jump (at most this many patches).
KEYFRAME_INTERVAL = 12
#: Changed pixels are collected in tiles of this many pixels square before merging into rectangles.
TILE = 24


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _patch_png(rgb: np.ndarray) -> bytes:
    """PNG of an RGB block with an exact palette of its own colours (RGB when it has over 256)."""
    from PIL import Image

    flat = rgb.reshape(-1, 3)
    packed = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, index = np.unique(packed, return_inverse=True)
    buffer = io.BytesIO()
    if colours.size <= 256:
        image = Image.fromarray(index.reshape(rgb.shape[:2]).astype(np.uint8), mode="P")
        palette = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
        image.putpalette(palette.astype(np.uint8).ravel().tolist())
        bits = next(b for b in (1, 2, 4, 8) if colours.size <= (1 << b))
        image.save(buffer, format="png", optimize=True, bits=bits)
    else:
        Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def _changed_rectangles(before: np.ndarray, after: np.ndarray) -> List[Tuple[int, int, int, int]]:
    """(x, y, width, height) rectangles covering every pixel that differs between two frames.

    Changed tiles are merged into horizontal runs per tile row, then runs with the same columns
    in consecutive rows into one rectangle (fewer, larger patches compress better).
    """
    height, width = after.shape[:2]
    differs = np.any(before != after, axis=2)
    rows, cols = -(-height // TILE), -(-width // TILE)
    padded = np.zeros((rows * TILE, cols * TILE), dtype=bool)
    padded[:height, :width] = differs
    tiles = padded.reshape(rows, TILE, cols, TILE).any(axis=(1, 3))
    open_runs: Dict[Tuple[int, int], List[int]] = {}  # (first col, last col) -> [first row, last row]
    done: List[Tuple[int, int, int, int]] = []
    for r in range(rows):
        runs, c = [], 0
        while c < cols:
            if tiles[r, c]:
                start = c
                while c + 1 < cols and tiles[r, c + 1]:
                    c += 1
                runs.append((start, c))
            c += 1
        for key in list(open_runs):
            if key not in runs:
                done.append((*key, *open_runs.pop(key)))
        for key in runs:
            if key in open_runs:
                open_runs[key][1] = r
            else:
                open_runs[key] = [r, r]
    done.extend((*key, *span) for key, span in open_runs.items())
    rectangles = []
    for c0, c1, r0, r1 in done:
        x, y = c0 * TILE, r0 * TILE
        rectangles.append((x, y, min((c1 + 1) * TILE, width) - x, min((r1 + 1) * TILE, height) - y))
    return rectangles


def encode_frames(frames) -> List[dict]:
    """Frames as keyframes (``{"key": base64 PNG}``) and patches (``{"patches": [[x, y, png], ...]}``).

    A patch frame is the previous frame with its rectangles drawn over it; a frame equal to
    the previous one has no patches. A patch frame that would be larger than the whole PNG is
    stored whole instead.
    """
    encoded, previous = [], None
    for k, png in enumerate(frames):
        current = _decode(png)
        if previous is None or k % KEYFRAME_INTERVAL == 0 or previous.shape != current.shape:
            encoded.append({"key": _b64(png)})
        else:
            patches = [
                [x, y, _patch_png(current[y:y + h, x:x + w])]
                for x, y, w, h in _changed_rectangles(previous, current)
            ]
            if sum(len(p[2]) + 16 for p in patches) >= len(png):
                encoded.append({"key": _b64(png)})
            else:
                encoded.append({"patches": [[x, y, _b64(data)] for x, y, data in patches]})
        previous = current
    return encoded


def decode_frames(encoded: List[dict]) -> List[np.ndarray]:
    """The RGB frames that :func:`encode_frames` data rebuild (what the page's script draws)."""
    frames, canvas = [], None
    for entry in encoded:
        if "key" in entry:
            canvas = _decode(base64.b64decode(entry["key"])).copy()
        else:
            canvas = canvas.copy()
            for x, y, data in entry["patches"]:
                patch = _decode(base64.b64decode(data))
                canvas[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
        frames.append(canvas)
    return frames


_CSS = """
.stdp-player{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:.5em 0 1em;max-width:100%}
.stdp-player canvas{display:block;max-width:100%;height:auto;border:1px solid #e3e3e3;background:#fff}
.stdp-player .stdp-bar{display:flex;flex-wrap:wrap;align-items:center;gap:.25em .75em;margin-top:.35em}
.stdp-player button{font:inherit;min-width:5.5em;padding:.2em .7em;border:1px solid #888;border-radius:4px;
 background:#f6f6f6;color:#222;cursor:pointer}
.stdp-player button:focus-visible,.stdp-player input:focus-visible{outline:2px solid #1a73e8;outline-offset:2px}
.stdp-player input[type=range]{flex:1 1 14em;min-width:10em;accent-color:#1a73e8}
.stdp-player output{font-variant-numeric:tabular-nums;min-width:12em}
""".strip()

# The script finds its player by id, decodes every image once, then draws frame k as the
# nearest keyframe at or before k plus the patches after it (or only the patches after the
# frame on screen when playing forward). Keys: arrows/Home/End/PageUp/PageDown on the slider
# (native), Space or Enter on the button, and "k" or Space anywhere in the player to play/pause.
_SCRIPT = r"""
(function(){
var root=document.getElementById(%(id)s);if(!root||root.dataset.ready)return;root.dataset.ready="1";
var data=JSON.parse(root.querySelector("script[type='application/json']").textContent);
var canvas=root.querySelector("canvas"),ctx=canvas.getContext("2d"),slider=root.querySelector("input"),
 button=root.querySelector("button"),out=root.querySelector("output"),frames=data.frames,n=frames.length,
 shown=-1,timer=null,pending=0;
function load(b64){pending++;var im=new Image();im.onload=function(){if(--pending===0)ready();};
 im.onerror=function(){out.textContent="could not decode a frame";};im.src="data:image/png;base64,"+b64;return im;}
var images=frames.map(function(f){return f.key?{key:load(f.key)}:{patches:f.patches.map(function(p){return [p[0],p[1],load(p[2])];})};});
function draw(k){if(k===shown)return;var key=k;while(!images[key].key)key--;
 var from=(shown>=key&&shown<k)?shown+1:key;
 for(var i=from;i<=k;i++){var f=images[i];if(f.key){ctx.drawImage(f.key,0,0);}else{f.patches.forEach(function(p){ctx.drawImage(p[2],p[0],p[1]);});}}
 shown=k;slider.value=k;out.textContent=data.labels[k];canvas.setAttribute("aria-label",data.title+": "+data.labels[k]);
 root.dataset.frame=k;}
function stop(){if(timer){clearInterval(timer);timer=null;}button.textContent="\u25B6 Play";button.setAttribute("aria-pressed","false");}
function play(){if(timer){stop();return;}if(shown>=n-1)draw(0);button.textContent="\u275A\u275A Pause";
 button.setAttribute("aria-pressed","true");timer=setInterval(function(){if(shown<n-1){draw(shown+1);}
 else if(data.loop){draw(0);}else{stop();}},1000/data.fps);}
function ready(){draw(data.start);slider.disabled=false;button.disabled=false;}
slider.addEventListener("input",function(){stop();draw(+slider.value);});
button.addEventListener("click",play);
root.addEventListener("keydown",function(e){if((e.key==="k"||(e.key===" "&&e.target!==button))&&e.target.tagName!=="TEXTAREA"){e.preventDefault();play();}});
})();
"""


def player_fragment(player) -> str:
    """The player as an HTML fragment: styles, canvas, controls, frame data and script, all inline."""
    pid = "stdp-player-" + uuid.uuid4().hex[:12]
    width, height = player.size
    shown_width = player.display_width or width  # CSS pixels; the canvas scales down on narrow pages
    payload = {
        "title": player.title,
        "labels": list(player.labels),
        "start": player.start,
        "fps": float(player.fps),
        "loop": bool(player.loop),
        "frames": encode_frames(player.frames),
    }
    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    title = html.escape(player.title)
    return (
        f'<div class="stdp-player" id="{pid}" role="group" aria-label="{title}" style="max-width:{shown_width}px">'
        f"<style>{_CSS}</style>"
        f'<canvas width="{width}" height="{height}" style="width:100%" role="img" aria-label="{title}"></canvas>'
        f'<div class="stdp-bar"><button type="button" aria-pressed="false" disabled>&#9654; Play</button>'
        f'<input type="range" min="0" max="{len(player) - 1}" step="1" value="{player.start}" '
        f'aria-label="{html.escape(player.name)}" disabled>'
        f'<output aria-live="polite">{html.escape(player.labels[player.start])}</output></div>'
        f"<noscript>This player needs JavaScript; the figure shows {html.escape(player.labels[player.start])}."
        f"</noscript>"
        f'<script type="application/json">{data}</script>'
        f"<script>{_SCRIPT % {'id': json.dumps(pid)}}</script></div>"
    )


def player_document(player) -> str:
    """A whole standalone HTML page holding the player (opens from disk, no network)."""
    title = html.escape(player.title)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{margin:1.5em;color:#222;background:#fff}</style></head>"
        f"<body>{player_fragment(player)}</body></html>\n"
    )
