"""The explorers in the front ends people use: JupyterLab 4 and Notebook 7, driven by headless Chromium.

JupyterLab: a notebook with a WindowExplorer, a TraceExplorer, an HBox of a WindowExplorer and a
PairingExplorer, and a bare ``ipywidgets.FloatSlider`` is run in the browser ("run all cells");
every explorer must render its figure without error output, a slider moved with the keyboard
must redraw the figure, and explorers side by side in an HBox must not overlap or clip.

Notebook 7: arrow keys on a focused slider handle do nothing there, for any ipywidgets slider,
not only ours. Notebook 7 starts its (Lumino) application with keydown handled in the *capture*
phase (JupyterLab 4 passes ``bubblingKeydown: true``), so the notebook's command-mode shortcuts
(ArrowUp/Down: move to the cell above/below, ArrowLeft/Right: collapse/expand headings; selector
``.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus``, which a focused noUiSlider
handle matches, since it is not ``:read-write``) take the key and stop it before the slider sees
it. The tests show that cause, and that the user-settings override in :data:`SLIDER_SHORTCUTS`
(the same four shortcuts, except on a slider handle) makes the arrow keys move the explorers'
sliders while cell navigation keeps working.

Optional: skipped unless jupyterlab (and notebook 7 for the Notebook tests), playwright (the
Python package; it drives the system Chromium, no browser download) and a chromium executable
are installed, e.g. ``pip install jupyterlab notebook playwright && apt-get install chromium``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

pytest.importorskip("jupyterlab")
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: Notebook 7 user setting (Settings > Settings Editor > Keyboard Shortcuts, JSON; or the file
#: ``~/.jupyter/lab/user-settings/@jupyterlab/shortcuts-extension/shortcuts.jupyterlab-settings``)
#: that keeps the notebook's arrow-key shortcuts off a focused slider handle.
_COMMAND_MODE = ".jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus"
_ARROW_COMMANDS = {
    "ArrowUp": "notebook:move-cursor-up",
    "ArrowDown": "notebook:move-cursor-down",
    "ArrowLeft": "notebook:move-cursor-heading-above-or-collapse",
    "ArrowRight": "notebook:move-cursor-heading-below-or-expand",
}
SLIDER_SHORTCUTS = {"shortcuts": [
    entry
    for key, command in _ARROW_COMMANDS.items()
    for entry in (
        {"command": command, "keys": [key], "selector": _COMMAND_MODE, "disabled": True},
        {"command": command, "keys": [key], "selector": _COMMAND_MODE + ":not(.noUi-handle)"},
    )
]}

APP = "window.jupyterapp"
PANEL = f"{APP}.shell.currentWidget"
KERNEL = f"{PANEL}.sessionContext.session.kernel"
TIMEOUT_MS = 90_000


# ---------------------------------------------------------------------------- server and page

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_notebook(path, sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


class JupyterServer:
    """``python -m jupyterlab`` or ``python -m notebook`` on 127.0.0.1, no token, its own
    config/data/settings/workspace/runtime folders under ``home`` (nothing of the user's)."""

    def __init__(self, app, home, shortcuts=None):
        self.port = free_port()
        root = home / "root"
        root.mkdir()
        settings = home / "settings"
        if shortcuts is not None:
            folder = settings / "@jupyterlab" / "shortcuts-extension"
            folder.mkdir(parents=True)
            (folder / "shortcuts.jupyterlab-settings").write_text(json.dumps(shortcuts))
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        )
        app_class = "LabApp" if app == "jupyterlab" else "JupyterNotebookApp"
        self.root = root
        self.log = home / "server.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", app, "--no-browser", "--allow-root", f"--port={self.port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", "--ServerApp.open_browser=False",
             "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
             "--ServerApp.terminals_enabled=False", f"--{app_class}.expose_app_in_browser=True"]
            + (["--LabApp.news_url=None"] if app == "jupyterlab" else []),
            env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{app} exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=5):
                    break
            except OSError:
                if time.time() > deadline:
                    self.close()
                    raise RuntimeError(f"{app} did not answer in 60 s:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.5)

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def open_and_run_all(page, url):
    """Open the notebook at ``url``, run all cells, wait until all have run and the kernel is idle."""
    page.goto(url, timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"() => {{ try {{ const w = {PANEL}; return w.context.isReady && w.sessionContext.isReady"
        f" && {KERNEL}.status === 'idle'; }} catch (e) {{ return false; }} }}",
        timeout=TIMEOUT_MS,
    )
    all_ran = (  # or stopped at an error ("run all" stops there)
        f"() => ({PANEL}.content.widgets.every(c => c.model.type !== 'code' || c.model.executionCount !== null)"
        f" || document.querySelector('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]'))"
        f" && {KERNEL}.status === 'idle'"
    )
    for attempt in range(2):  # a command issued before the notebook is the tracker's current one is a no-op
        page.evaluate(f"() => {{ {APP}.shell.activateById({PANEL}.id);"
                      f" return {APP}.commands.execute('notebook:run-all-cells'); }}")
        try:
            page.wait_for_function(all_ran, timeout=15_000 if attempt == 0 else TIMEOUT_MS)
            break
        except sync_api.TimeoutError:
            started = page.evaluate(f"() => {PANEL}.content.widgets.some(c => c.model.executionCount !== null)"
                                    f" || {KERNEL}.status !== 'idle'")
            if started:
                page.wait_for_function(all_ran, timeout=TIMEOUT_MS)
                break
    else:
        raise AssertionError("'run all cells' did not run the notebook")


def cell(page, index):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def kernel_print(page, expression):
    """``print(expression)`` in the notebook's kernel, read back through the front end's kernel connection."""
    return page.evaluate(
        f"""async (code) => {{ let out = ''; const future = {KERNEL}.requestExecute({{code, store_history: false}});
        future.onIOPub = (msg) => {{ if (msg.header.msg_type === 'stream') out += msg.content.text; }};
        await future.done; return out.trim(); }}""",
        f"print({expression})",
    )


def error_outputs(page):
    """Text of every stderr/error output and widget-rendering error in the page."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
        + ' .jp-OutputArea-output [data-mime-type="application/vnd.jupyter.stderr"],'
        + ' .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')]
        .map(e => e.innerText)
        .concat([...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.innerText)
                 .filter(t => t.includes('Traceback') || t.includes('Error displaying widget')))""")


def press(page, handle, key, times):
    handle.scroll_into_view_if_needed()
    handle.focus()
    assert page.evaluate("() => document.activeElement.classList.contains('noUi-handle')")
    for _ in range(times):
        page.keyboard.press(key)


def wait_for_new_src(image, before):
    image.page.wait_for_function("([img, src]) => img.getAttribute('src') !== src",
                                 arg=[image.element_handle(), before], timeout=60_000)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# ---------------------------------------------------------------------------- JupyterLab 4

LAB_CELLS = [
    "from stdpwidgets import PairingExplorer, TraceExplorer, WindowExplorer\nimport ipywidgets\nWindowExplorer()",
    "TraceExplorer(seed=1)",
    "ipywidgets.HBox([WindowExplorer(), PairingExplorer()])",
    "slider = ipywidgets.FloatSlider()\nslider",
]


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    home = tmp_path_factory.mktemp("jupyterlab")
    server = JupyterServer("jupyterlab", home)
    write_notebook(server.root / "explorers.ipynb", LAB_CELLS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors = []
    page.on("pageerror", lambda err: page_errors.append(str(err)))
    try:
        started = time.perf_counter()
        open_and_run_all(page, f"{server.url}/lab/tree/explorers.ipynb")
        assert error_outputs(page) == []
        page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
                               ".filter(i => i.getAttribute('src')).length >= 4", timeout=TIMEOUT_MS)
        page.run_seconds = time.perf_counter() - started
        page.page_errors = page_errors
        yield page
    finally:
        page.close()
        server.close()


def test_explorers_render_without_errors_in_jupyterlab(lab):
    images = [cell(lab, i).locator(".jp-OutputArea-output img") for i in range(3)]
    assert [i.count() for i in images] == [1, 1, 2]  # one figure per explorer; two in the HBox
    for locator in images:
        for k in range(locator.count()):
            box = locator.nth(k).bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100, box
    assert error_outputs(lab) == []
    assert "⚠" not in cell(lab, 0).inner_text() + cell(lab, 1).inner_text() + cell(lab, 2).inner_text()
    assert lab.page_errors == []


def test_keyboard_slider_redraws_in_jupyterlab(lab):
    explorer = cell(lab, 0).locator(".jp-OutputArea-output")
    image = explorer.locator("img").first
    readout = explorer.locator(".widget-slider .widget-readout").first  # tau+ (pre, ms)
    before, value = image.get_attribute("src"), float(readout.inner_text())
    press(lab, explorer.locator(".widget-slider .noUi-handle").first, "ArrowRight", 5)
    wait_for_new_src(image, before)
    assert float(readout.inner_text()) == pytest.approx(value + 0.5)
    assert error_outputs(lab) == []
    assert lab.page_errors == []


def test_arrow_keys_move_a_bare_slider_in_jupyterlab(lab):
    output = cell(lab, 3).locator(".jp-OutputArea-output")
    press(lab, output.locator(".noUi-handle").first, "ArrowRight", 3)
    lab.wait_for_function("(r) => r.innerText.trim() === '0.30'",
                          arg=output.locator(".widget-readout").first.element_handle(), timeout=10_000)
    deadline = time.time() + 10  # the front end sends a model's changes one message at a time
    while float(kernel_print(lab, "slider.value")) != pytest.approx(0.3) and time.time() < deadline:
        time.sleep(0.2)
    assert float(kernel_print(lab, "slider.value")) == pytest.approx(0.3)


def test_hbox_of_explorers_does_not_clip_in_jupyterlab(lab):
    """At a 1400 px wide window, two explorers side by side fit: no control of an explorer's grid
    (the controls themselves, not the grid box: a flex item shrinks while fixed grid columns
    overflow it) and no figure runs past its explorer, the explorers do not overlap, and both
    stay inside the output area."""
    output = cell(lab, 2).locator(".jp-OutputArea-output").first
    output.scroll_into_view_if_needed()
    boxes = output.evaluate("""(out) => {
        const rect = (e) => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right}; };
        const span = (nodes) => ({left: Math.min(...nodes.map(n => rect(n).left)),
                                  right: Math.max(...nodes.map(n => rect(n).right))});
        const hbox = out.querySelector('.widget-hbox');
        return {output: rect(out), explorers: [...hbox.children].map(e => ({
            explorer: rect(e), controls: span([...e.querySelector('.widget-gridbox').children]),
            figure: rect(e.querySelector('img'))}))};
    }""")
    left, right = boxes["explorers"]
    margin = 2.5  # ipywidgets' 2 px widget margin: an Image with max-width 100% sticks out by it
    for name, item in (("WindowExplorer", left), ("PairingExplorer", right)):
        assert item["controls"]["right"] <= item["explorer"]["right"] + 0.5, (
            f"{name}'s controls ({item['controls']}) run past its right edge ({item['explorer']})")
        assert item["figure"]["right"] <= item["explorer"]["right"] + margin, (
            f"{name}'s figure ({item['figure']}) runs past its right edge ({item['explorer']})")
    assert left["explorer"]["right"] <= right["explorer"]["left"] + 0.5, (
        f"the explorers overlap: {left['explorer']} and {right['explorer']}")
    assert max(right["explorer"]["right"], right["controls"]["right"]) <= boxes["output"]["right"] + 0.5, (
        f"the HBox runs past the output area: {right} vs {boxes['output']}")


# ---------------------------------------------------------------------------- Notebook 7

NOTEBOOK_CELLS = [
    "from stdpwidgets import WindowExplorer\nimport ipywidgets\nWindowExplorer()",
    "slider = ipywidgets.FloatSlider()\nslider",
]


@pytest.fixture
def notebook7(browser, tmp_path, request):
    notebook = pytest.importorskip("notebook")
    if int(notebook.__version__.split(".")[0]) < 7:
        pytest.skip(f"notebook {notebook.__version__} is not Notebook 7")
    server = JupyterServer("notebook", tmp_path, shortcuts=request.param)
    write_notebook(server.root / "explorers.ipynb", NOTEBOOK_CELLS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_and_run_all(page, f"{server.url}/notebooks/explorers.ipynb")
        assert error_outputs(page) == []
        page.wait_for_function("() => document.querySelectorAll('.jp-Cell')[1]"
                               ".querySelector('.widget-slider .noUi-handle')", timeout=TIMEOUT_MS)
        yield page
    finally:
        page.close()
        server.close()


@pytest.mark.parametrize("notebook7", [None], indirect=True)
def test_notebook7_arrow_keys_go_to_the_notebook_shortcuts(notebook7):
    """Default Notebook 7: the command-mode shortcuts, listening in the capture phase, take the
    arrow keys before a focused slider handle sees them; the same keys reach the slider once that
    listener is moved to the bubbling phase (what JupyterLab 4 does)."""
    page = notebook7
    output = cell(page, 1).locator(".jp-OutputArea-output")
    handle, readout = output.locator(".noUi-handle").first, output.locator(".widget-readout").first
    handle.evaluate("(h) => { window.seenKeys = []; h.addEventListener('keydown', (e) => window.seenKeys.push(e.key)); }")
    press(page, handle, "ArrowRight", 2)
    page.wait_for_timeout(300)
    if readout.inner_text().strip() != "0.00":  # Notebook fixed it: the README note can go
        return
    assert page.evaluate("() => window.seenKeys") == []
    assert page.evaluate(f"() => {APP}._bubblingKeydown") is not True  # Lumino's private flag; JupyterLab's is true
    page.evaluate(f"() => {{ document.removeEventListener('keydown', {APP}, true);"
                  f" document.addEventListener('keydown', {APP}, false); }}")
    press(page, handle, "ArrowRight", 2)
    page.wait_for_function("(r) => r.innerText.trim() === '0.20'", arg=readout.element_handle(), timeout=10_000)
    assert page.evaluate("() => window.seenKeys") == ["ArrowRight", "ArrowRight"]


@pytest.mark.parametrize("notebook7", [SLIDER_SHORTCUTS], indirect=True)
def test_notebook7_arrow_keys_move_explorer_sliders_with_the_shortcut_setting(notebook7):
    page = notebook7
    explorer = cell(page, 0).locator(".jp-OutputArea-output")
    image = explorer.locator("img").first
    readout = explorer.locator(".widget-slider .widget-readout").first
    before, value = image.get_attribute("src"), float(readout.inner_text())
    press(page, explorer.locator(".widget-slider .noUi-handle").first, "ArrowRight", 5)
    wait_for_new_src(image, before)
    assert float(readout.inner_text()) == pytest.approx(value + 0.5)
    assert error_outputs(page) == []
    # cell navigation with the arrow keys still works outside the sliders
    page.evaluate(f"() => {{ const nb = {PANEL}.content; nb.activeCellIndex = 1; nb.mode = 'command';"
                  " nb.activeCell.node.focus(); }")
    page.keyboard.press("ArrowUp")
    page.wait_for_function(f"() => {PANEL}.content.activeCellIndex === 0", timeout=10_000)
