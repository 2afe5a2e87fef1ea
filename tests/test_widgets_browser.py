"""The explorers in a real browser front end: Voila serves a notebook with live widgets (the
ipywidgets 8 HTML manager, as in JupyterLab and Notebook 7), headless Chromium renders it, and a
slider moved with the keyboard must make the kernel redraw the figure. A second test renders one
WindowExplorer alone at device scale 2 and checks it fits its box; with
``STDPWIDGETS_SCREENSHOT=book/images/live_explorer.png`` it also saves that picture (cropped to
the widget, palette PNG) for chapter 1 of the book.

Optional: skipped unless voila, playwright (the Python package; it drives the system Chromium,
no browser download) and a chromium executable are installed, e.g.
``pip install voila playwright && apt-get install chromium``.
"""

import asyncio
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time

import nbformat
import pytest

pytest.importorskip("voila")
playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def voila_serving(folder, source):
    """Voila on 127.0.0.1 serving a one-cell notebook with ``source``; yields its URL."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "explorers.ipynb")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "voila", "explorers.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def voila_url(tmp_path):
    with voila_serving(tmp_path, (
        "from stdpwidgets import TraceExplorer, WindowExplorer\n"
        "import ipywidgets\n"
        "ipywidgets.VBox([WindowExplorer(), TraceExplorer(seed=1)])"
    )) as url:
        yield url


def test_explorers_render_and_redraw_in_a_browser(voila_url):
    async def drive():
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1100, "height": 1600})
            await page.goto(voila_url, timeout=120_000)
            await page.wait_for_selector("img", timeout=120_000)
            images = await page.query_selector_all("img")
            sliders = await page.query_selector_all(".widget-slider .noUi-handle")
            before = await images[0].get_attribute("src")
            await sliders[0].focus()  # the WindowExplorer's tau+ slider
            for _ in range(40):
                await page.keyboard.press("ArrowRight")
            await page.wait_for_function(
                "([src]) => document.querySelector('img').getAttribute('src') !== src", arg=[before], timeout=60_000
            )
            await browser.close()
            return len(images), len(sliders)

    n_images, n_sliders = asyncio.run(drive())
    assert n_images == 2  # one figure per explorer, as PNG in an ipywidgets.Image
    assert n_sliders >= 15


def save_palette_png(png, path):
    """``png`` (bytes) saved as an optimised 256-colour PNG (a screenshot of flat plots and
    controls loses nothing visible)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def test_live_explorer_screenshot(tmp_path):
    """One WindowExplorer in Voila at device scale 2: controls and figure render inside the
    widget's box; the picture of the widget is chapter 1's ``book/images/live_explorer.png``
    (written there only when ``STDPWIDGETS_SCREENSHOT`` names the path)."""
    async def drive(url):
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 900, "height": 1200}, device_scale_factor=2)
            await page.goto(url, timeout=120_000)
            await page.wait_for_function(
                "() => { const i = document.querySelector('.jp-OutputArea-output img');"
                " return i && i.getAttribute('src') && i.complete && i.naturalWidth > 0; }", timeout=120_000)
            await page.wait_for_timeout(500)  # fonts and layout settle
            explorer = page.locator(".jp-OutputArea-output .widget-vbox").first
            boxes = await explorer.evaluate("""(e) => {
                const rect = (n) => { const r = n.getBoundingClientRect(); return [r.left, r.right, r.bottom]; };
                return {explorer: rect(e), controls: [...e.querySelector('.widget-gridbox').children].map(rect),
                        figure: rect(e.querySelector('img'))}; }""")
            png = await explorer.screenshot(animations="disabled")
            await browser.close()
            return boxes, png

    with voila_serving(tmp_path, "from stdpwidgets import WindowExplorer\nWindowExplorer()") as url:
        boxes, png = asyncio.run(drive(url))
    left, right, bottom = boxes["explorer"]
    assert len(boxes["controls"]) >= 7
    for control in boxes["controls"] + [boxes["figure"]]:
        assert control[0] >= left - 0.5 and control[1] <= right + 2.5 and control[2] <= bottom + 2.5, (control, boxes)
    from PIL import Image

    width, height = Image.open(io.BytesIO(png)).size
    assert width == pytest.approx(2 * (right - left), abs=4) and height > width / 2
    target = os.environ.get("STDPWIDGETS_SCREENSHOT")
    save_palette_png(png, target or tmp_path / "live_explorer.png")
