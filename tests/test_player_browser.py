"""A saved player in a real browser, offline: it draws the explorer's exact frames and plays.

Headless Debian Chromium driven by Playwright (no browser download), the file opened from disk
with every network request blocked. Skipped where playwright or chromium is absent.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil

import numpy as np
import pytest

from stdpwidgets import TraceExplorer

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# SHA-256 of the canvas's RGBA pixels, computed in the page (moving megabytes of pixels
# through the driver takes far longer than hashing them).
CANVAS_PIXELS = """async () => {
  const c = document.querySelector('.stdp-player canvas');
  const rgba = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const digest = await crypto.subtle.digest('SHA-256', rgba);
  return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('');
}"""


def rgba_digest(rgb: np.ndarray) -> str:
    """What CANVAS_PIXELS returns for a canvas showing ``rgb`` (opaque)."""
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return hashlib.sha256(np.ascontiguousarray(rgba).tobytes()).hexdigest()


def test_a_saved_player_draws_exact_frames_moves_with_the_keyboard_and_plays_offline(tmp_path):
    player = TraceExplorer(seed=5, duration=1500.0).player(over="time", frames=16)
    path = player.save(tmp_path / "traces.html")

    async def drive():
        outside, errors = [], []
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await browser.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))

            async def route(r):
                if r.request.url.startswith(("file://", "data:")):
                    await r.continue_()
                else:
                    outside.append(r.request.url)
                    await r.abort()

            await page.route("**/*", route)
            await page.goto(f"file://{path}")
            player_div = page.locator(".stdp-player")
            await page.wait_for_function("document.querySelector('.stdp-player').dataset.frame === '15'")
            last = await page.evaluate(CANVAS_PIXELS)
            # keyboard: Home goes to the first frame, three arrows on to frame 3 (patches replayed)
            await page.focus(".stdp-player input[type=range]")
            await page.keyboard.press("Home")
            for _ in range(3):
                await page.keyboard.press("ArrowRight")
            frame = await player_div.get_attribute("data-frame")
            third = await page.evaluate(CANVAS_PIXELS)
            label = await page.locator(".stdp-player output").inner_text()
            # a jump back across a keyframe boundary and forward again
            await page.keyboard.press("End")
            await page.keyboard.press("PageDown")
            jumped = await player_div.get_attribute("data-frame")
            jumped_pixels = await page.evaluate(CANVAS_PIXELS)
            # play: the frame advances by itself
            await page.keyboard.press("Home")
            await page.click(".stdp-player button")
            await page.wait_for_function("+document.querySelector('.stdp-player').dataset.frame >= 2", timeout=10_000)
            pressed = await page.locator(".stdp-player button").get_attribute("aria-pressed")
            await page.click(".stdp-player button")
            await browser.close()
            return outside, errors, last, frame, third, label, jumped, jumped_pixels, pressed

    outside, errors, last, frame, third, label, jumped, jumped_pixels, pressed = asyncio.run(drive())
    assert outside == [] and errors == []
    assert last == rgba_digest(player.image(15))
    assert frame == "3" and label == player.labels[3]
    assert third == rgba_digest(player.image(3))
    k = int(jumped)
    assert k < 15
    assert jumped_pixels == rgba_digest(player.image(k))
    assert pressed == "true"
