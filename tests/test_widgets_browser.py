"""The explorers in a real browser front end: Voila serves a notebook with live widgets (the
ipywidgets 8 HTML manager, as in JupyterLab and Notebook 7), headless Chromium renders it, and a
slider moved with the keyboard must make the kernel redraw the figure.

Optional: skipped unless voila, playwright (the Python package; it drives the system Chromium,
no browser download) and a chromium executable are installed, e.g.
``pip install voila playwright && apt-get install chromium``.
"""

import asyncio
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


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def voila_url(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "from stdpwidgets import TraceExplorer, WindowExplorer\n"
        "import ipywidgets\n"
        "ipywidgets.VBox([WindowExplorer(), TraceExplorer(seed=1)])"
    )]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "explorers.ipynb")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "voila", "explorers.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def test_explorers_render_and_redraw_in_a_browser(voila_url):
    async def drive():
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
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
