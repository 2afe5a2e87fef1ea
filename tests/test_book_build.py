"""Build the whole book once, as a new user would, and check every chapter page.

The build (the session fixture ``built_book`` of ``conftest.py``, shared with
``test_book_offline.py``) runs ``jupyter-book build -W --keep-going`` on a copy of the book
sources in a temporary directory (so the working tree's ``_build`` is left alone). ``-W``
turns every Sphinx warning into an error, and every notebook is executed during the build,
so a chapter cell that raises fails this test. The pages are then checked for what a reader
must see: a cover page, one HTML page per entry of ``_toc.yml``, chapters numbered 1-12 by
Sphinx with equations and figures numbered per chapter ((4.3), "Fig. 4.2"), references to
equations that show the chapter they point into, figures, the bibliography, and no
traceback anywhere.

This is the slowest test of the suite (it executes every chapter): about a minute on two
cores. Set ``STDPWIDGETS_SKIP_BOOK_BUILD=1`` to skip it where the book is built anyway
(the GitHub Pages workflow).
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
from pathlib import Path

import pytest
from book_toc import toc_docs

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    os.environ.get("STDPWIDGETS_SKIP_BOOK_BUILD") == "1", reason="STDPWIDGETS_SKIP_BOOK_BUILD=1"
)


def _numbered_chapters() -> dict[str, int]:
    """Chapter number of each document in a ``numbered: true`` part, counted across parts."""
    numbers, number, numbered = {}, 0, False
    for line in (ROOT / "_toc.yml").read_text().splitlines():
        if re.match(r"\s*- caption:", line):
            numbered = False
        elif re.match(r"\s*numbered:\s*true", line):
            numbered = True
        elif numbered and (m := re.match(r"\s*- file:\s*(\S+)", line)):
            number += 1
            numbers[m.group(1)] = number
    return numbers


CHAPTERS = _numbered_chapters()


def _title(html: str) -> str:
    """The page's own H1 (the one with a permalink; the header repeats the title without one)."""
    return re.search(r'<h1>((?:(?!</h1>).)*?)<a class="headerlink"', html, re.S).group(1)


def _source(doc: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / (doc + suffix)).exists():
            return ROOT / (doc + suffix)
    raise AssertionError(f"{doc} is in _toc.yml but neither {doc}.ipynb nor {doc}.md exists")


def test_book_builds_without_warnings(built_book):
    _, log = built_book
    if log is None:
        pytest.skip("STDPWIDGETS_BOOK_HTML: a build made beforehand, no log to check")
    sphinx_warnings = [
        line for line in log.splitlines()
        if re.search(r"\b(WARNING|ERROR)\b", line) and "[IPKernelApp]" not in line  # kernel chatter, not Sphinx
    ]
    assert sphinx_warnings == []


def test_toc_numbers_chapters_one_to_twelve():
    """The chapters (not the cover, not the Reference part) are numbered 1-12 in toc order."""
    assert sorted(CHAPTERS.values()) == list(range(1, 13))
    assert CHAPTERS["book/06_triplets_and_frequency"] == 6
    assert CHAPTERS["book/01_introduction"] == 1
    assert CHAPTERS["book/10_stability_and_homeostasis"] == 10
    assert CHAPTERS["book/11_reward_modulated_stdp"] == 11
    assert CHAPTERS["book/12_learning_digits_without_labels"] == 12
    assert all(_source(doc).suffix == ".ipynb" for doc in CHAPTERS)


def test_cover_page_is_the_root_and_lists_every_chapter(built_book):
    html_dir, _ = built_book
    # Jupyter Book writes the top-level index.html as a redirect to the root document
    redirect = (html_dir / "index.html").read_text(encoding="utf-8")
    assert 'url=book/index.html' in redirect
    cover = (html_dir / "book" / "index.html").read_text(encoding="utf-8")
    for doc, number in CHAPTERS.items():
        link = re.search(rf'<a class="reference internal" href="{Path(doc).name}.html">([^<]*)</a>', cover)
        assert link, f"the cover page does not link {doc}"
        assert link.group(1).startswith(f"{number}. "), f"{doc} is listed as {link.group(1)!r}"
    # the sidebar of every page starts with the cover, then lists the chapters from 1
    page = (html_dir / "book" / "02_experimental_window.html").read_text(encoding="utf-8")
    sidebar = page[page.index('class="bd-links bd-docs-nav"'):]
    sidebar = sidebar[:sidebar.index("</nav>")]
    assert re.search(r'bd-sidenav__home-link">\s*<li[^>]*>\s*<a class="reference internal" href="index.html">', sidebar)
    assert re.search(r'href="01_introduction.html">1\. ', sidebar), "chapter 1 is not in the sidebar as 1."


@pytest.mark.parametrize("doc", toc_docs())
def test_every_toc_page_renders(built_book, doc):
    html_dir, _ = built_book
    page = html_dir / (doc + ".html")
    assert page.exists(), f"no page for {doc}"
    html = page.read_text(encoding="utf-8")
    assert "Traceback" not in html, f"{doc}: a traceback is shown on the page"
    assert 'class="output traceback' not in html
    source = _source(doc)
    if doc in CHAPTERS:
        # a chapter: rendered math, numbered equations, figures (static explorer images included)
        number = CHAPTERS[doc]
        title = _title(html)
        assert title.startswith(f'<span class="section-number">{number}. </span>'), f"{doc}: title {title!r}"
        # the number comes from Sphinx only: the notebook's H1 carries none ("4. 4. ..." otherwise)
        assert not re.match(r"\s*\d+\.", title.split("</span>", 1)[1]), f"{doc}: numbered twice: {title!r}"
        assert 'class="math' in html, f"{doc}: no math"
        equations = re.findall(r'class="eqno">\((\d+)\.(\d+)\)', html)
        assert equations, f"{doc}: no numbered equation"
        assert equations == [(str(number), str(k)) for k in range(1, len(equations) + 1)], (
            f"{doc}: equations are not numbered ({number}.1), ({number}.2), ...: {equations}"
        )
        figures = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html)
        assert figures, f"{doc}: no figure"
        captions = re.findall(r'<span class="caption-number">Fig\. (\d+)\.(\d+) ', html)
        assert all(c == str(number) for c, _ in captions), f"{doc}: figure numbers {captions}"
        assert 'href="bibliography.html#' in html, f"{doc}: no citation links to the references page"
    elif source.suffix == ".ipynb":
        raise AssertionError(f"{doc} is a chapter notebook outside the numbered parts of _toc.yml")
    else:
        assert '<span class="section-number">' not in _title(html), f"{doc} got a chapter number"
    if doc.endswith("bibliography"):
        assert html.count('class="citation') + html.count("<dt ") >= 5 or "doi.org" in html


def test_equation_references_show_the_chapter_they_point_into(built_book):
    """``{eq}`label``` renders as "(N.k)" with N the chapter of the equation, also across chapters,
    and the number is the one the equation carries on its own page."""
    html_dir, _ = built_book
    numbers = {}  # (page, label) -> "N.k"
    for doc in CHAPTERS:
        html = (html_dir / (doc + ".html")).read_text(encoding="utf-8")
        for label, number in re.findall(r'id="equation-([^"]+)">\s*<span class="eqno">\(([\d.]+)\)', html):
            numbers[(Path(doc).name + ".html", label)] = number
    across, checked = 0, 0
    for doc in CHAPTERS:
        page = Path(doc).name + ".html"
        html = (html_dir / (doc + ".html")).read_text(encoding="utf-8")
        for target, label, text in re.findall(
            r'<a class="reference internal" href="([^"#]*)#equation-([^"]+)">([^<]*)</a>', html
        ):
            shown = html_lib.unescape(text)
            assert (target or page, label) in numbers, f"{doc}: reference to an unknown equation {target}#{label}"
            assert shown == f"({numbers[(target or page, label)]})", f"{doc}: {shown} for {target}#{label}"
            checked += 1
            across += bool(target) and target != page
    assert checked > 20 and across >= 1, (checked, across)


def test_explorers_show_static_figures(built_book):
    """A chapter shows at least one PNG per cell that displays an explorer (readers without a kernel)."""
    html_dir, _ = built_book
    for doc in toc_docs():
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
