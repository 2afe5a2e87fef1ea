"""Build the whole book once, as a new user would, and check every chapter page.

The build runs ``jupyter-book build -W --keep-going`` on a copy of the book sources in a
temporary directory (so the working tree's ``_build`` is left alone). ``-W`` turns every
Sphinx warning into an error, and every notebook is executed during the build, so a chapter
cell that raises fails this test. The pages are then checked for what a reader must see:
one HTML page per entry of ``_toc.yml``, rendered math with numbered equations, figures, the
bibliography, and no traceback anywhere.

This is the slowest test of the suite (it executes every chapter): about a minute on two
cores. Set ``STDPWIDGETS_SKIP_BOOK_BUILD=1`` to skip it where the book is built anyway
(the GitHub Pages workflow).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    os.environ.get("STDPWIDGETS_SKIP_BOOK_BUILD") == "1", reason="STDPWIDGETS_SKIP_BOOK_BUILD=1"
)


def _jupyter_book() -> str:
    local = Path(sys.executable).with_name("jupyter-book")
    found = str(local) if local.exists() else shutil.which("jupyter-book")
    if found is None:
        pytest.skip("jupyter-book is not installed (pip install -r requirements.txt)")
    return found


def _toc_files() -> list[str]:
    """Document paths listed in _toc.yml (root first), without extension."""
    text = (ROOT / "_toc.yml").read_text()
    root = re.search(r"^root:\s*(\S+)", text, re.M).group(1)
    return [root] + re.findall(r"-\s*file:\s*(\S+)", text)


def _source(doc: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / (doc + suffix)).exists():
            return ROOT / (doc + suffix)
    raise AssertionError(f"{doc} is in _toc.yml but neither {doc}.ipynb nor {doc}.md exists")


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """(html directory, build log) of a fresh build of a copy of the book sources."""
    work = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(ROOT / "book", work / "book", ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    result = subprocess.run(
        [_jupyter_book(), "build", "-W", "--keep-going", str(work)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed (exit {result.returncode}):\n{log[-6000:]}"
    return work / "_build" / "html", log


def test_book_builds_without_warnings(built_book):
    _, log = built_book
    sphinx_warnings = [
        line for line in log.splitlines()
        if re.search(r"\b(WARNING|ERROR)\b", line) and "[IPKernelApp]" not in line  # kernel chatter, not Sphinx
    ]
    assert sphinx_warnings == []


@pytest.mark.parametrize("doc", _toc_files())
def test_every_toc_page_renders(built_book, doc):
    html_dir, _ = built_book
    page = html_dir / (doc + ".html")
    assert page.exists(), f"no page for {doc}"
    html = page.read_text(encoding="utf-8")
    assert "Traceback" not in html, f"{doc}: a traceback is shown on the page"
    assert 'class="output traceback' not in html
    source = _source(doc)
    if source.suffix == ".ipynb":
        # a chapter: rendered math, numbered equations, figures (static explorer images included)
        assert 'class="math' in html, f"{doc}: no math"
        assert re.search(r'class="eqno">\(\d+\)', html), f"{doc}: no numbered equation"
        figures = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html)
        assert figures, f"{doc}: no figure"
        assert 'href="bibliography.html#' in html, f"{doc}: no citation links to the references page"
    elif doc.endswith("bibliography"):
        assert html.count('class="citation') + html.count("<dt ") >= 5 or "doi.org" in html


def test_explorers_show_static_figures(built_book):
    """A chapter shows at least one PNG per cell that displays an explorer (readers without a kernel)."""
    html_dir, _ = built_book
    for doc in _toc_files():
        source = _source(doc)
        if source.suffix != ".ipynb":
            continue
        cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
        explorer_cells = [
            c for c in cells
            if c["cell_type"] == "code" and re.search(r"Explorer\(", "".join(c["source"]))
        ]
        html = (html_dir / (doc + ".html")).read_text(encoding="utf-8")
        images = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html)
        assert len(images) >= len(explorer_cells), f"{doc}: {len(explorer_cells)} explorers, {len(images)} images"
