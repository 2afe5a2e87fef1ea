"""The built book read offline: every page opened from disk in headless Chromium.

Each page of the session's book build (``built_book`` in ``conftest.py``) is opened from a
``file://`` URL with every request recorded and every non-``file://`` request aborted. A page
passes when it asked for nothing outside the build's html directory (a ``file://`` URL that
resolves outside it counts as outside), asked for no missing file, weighs at most 8 MB (its
HTML, every file it loaded and every image it embeds), and shows its math typeset by the
local MathJax (each ``.math`` element holds an ``mjx-container``, no TeX error, the MathJax
fonts loaded, and no raw ``\\(``, ``\\[``, ``\\frac``... left in the text outside code).
Last, the html directory is zipped, unzipped elsewhere, and read from there.

Optional: skipped unless the ``playwright`` Python package and a Chromium executable are
installed (it drives the system Chromium, never downloads a browser), e.g.
``pip install playwright && apt-get install chromium``.

Further checks of the pages (the explorers' players, ``<div class="stdp-player">``) should
use the ``open_offline`` fixture below; see the box "HELPER FOR FURTHER PAGE CHECKS".
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from book_toc import toc_docs

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next(
    (c for c in (os.environ.get("STDPWIDGETS_CHROMIUM"), shutil.which("chromium"),
                 shutil.which("chromium-browser"), "/usr/bin/chromium") if c and Path(c).exists()),
    None,
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable")

MAX_PAGE_BYTES = 8 * 1024 * 1024
# TeX that must not be left visible once MathJax has typeset a page
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "\\frac", "\\begin{", "\\end{", "$$")
INTERNAL_SCHEMES = ("data", "blob", "about")  # no request leaves the page for these


CHAPTERS = [doc for doc in toc_docs() if (ROOT / (doc + ".ipynb")).exists()]


# --------------------------------------------------------------------------------------------
# HELPER FOR FURTHER PAGE CHECKS (the players' checks go here, in this module):
#
#     def test_players_play(open_offline):
#         view = open_offline("book/04_from_pairs_to_traces")   # a page of the session's build
#         player = view.page.locator("div.stdp-player").first    # a Playwright (sync) Locator
#         player.locator("input[type=range]").first.fill("3")
#         ...
#         assert view.outside() == [] and view.missing() == []
#
# ``open_offline(path)`` opens ``path`` (relative to the html directory, ".html" optional) from
# disk in a fresh browser context, blocks and records every request that is not file://,
# waits until the page has loaded, MathJax has typeset it and its fonts are ready, and
# returns an ``OfflinePage``: ``.page`` (the Playwright Page), ``.requests`` (every URL asked
# for), ``.outside()``, ``.missing()``, ``.size()``, ``.math()``. ``open_offline(path,
# html_dir=other)`` opens a page of another copy of the book (the zip test does). Pages and
# contexts are closed at the end of the test. The browser is shared by the whole module.
# --------------------------------------------------------------------------------------------


@dataclass
class OfflinePage:
    page: "sync_api.Page"
    html_dir: Path
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, in order
    failed: list[str] = field(default_factory=list)  # file:// URLs that could not be read

    def _local(self, url: str) -> Path | None:
        """The file a file:// URL names (query and fragment dropped), else None."""
        parsed = urlparse(url)
        return Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None

    def outside(self) -> list[str]:
        """Requests that left the book: any non-file URL, or a file outside the html dir."""
        root = self.html_dir.resolve()
        found = []
        for url in self.requests:
            scheme = urlparse(url).scheme
            if scheme in INTERNAL_SCHEMES:
                continue
            path = self._local(url)
            if path is None or not path.is_relative_to(root):
                found.append(url)
        return found

    def missing(self) -> list[str]:
        """file:// requests for files that do not exist (broken links inside the book)."""
        return [u for u in dict.fromkeys(self.requests + self.failed)
                if (p := self._local(u)) is not None and not p.is_file()]

    def size(self) -> int:
        """Bytes of the page: its HTML, every local file it loaded, every image it embeds."""
        images = self.page.evaluate("() => [...document.images].map(img => img.src)")
        paths = {p for u in self.requests + images if (p := self._local(u)) is not None and p.is_file()}
        return sum(p.stat().st_size for p in paths)

    def math(self) -> dict:
        """What MathJax made of the page: counts, untypeset math, errors, fonts, visible text."""
        return self.page.evaluate(
            """() => {
                const maths = [...document.querySelectorAll('.math')];
                const main = (document.querySelector('main') || document.body).cloneNode(true);
                main.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
                    .forEach(e => e.remove());
                return {
                    maths: maths.length,
                    typeset: document.querySelectorAll('mjx-container').length,
                    untypeset: maths.filter(m => !m.querySelector('mjx-container'))
                                    .map(m => m.textContent.trim().slice(0, 80)),
                    errors: [...document.querySelectorAll('mjx-merror')]
                                .map(e => e.getAttribute('data-mjx-error') || e.textContent),
                    fonts: [...document.fonts].filter(f => f.family.startsWith('MJX'))
                                .map(f => [f.family, f.status]),
                    text: main.textContent,
                };
            }"""
        )


@pytest.fixture(scope="module")
def offline_browser():
    """One headless Chromium for the module (closed before other modules run their own)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


@pytest.fixture
def open_offline(offline_browser, built_book):
    """``open_offline(path, html_dir=None) -> OfflinePage``: see the box above."""
    contexts = []

    def _open(path: str, html_dir: Path | None = None) -> OfflinePage:
        html_dir = Path(html_dir or built_book.html_dir)
        file = html_dir / (path if path.endswith(".html") else path + ".html")
        assert file.is_file(), f"no page {file}"
        context = offline_browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        view = OfflinePage(page, html_dir)

        def route(route):
            # nothing but the book's own files may load; anything else is recorded and aborted
            if urlparse(route.request.url).scheme in ("file",) + INTERNAL_SCHEMES:
                route.continue_()
            else:
                route.abort()

        context.route("**/*", route)
        page.on("request", lambda request: view.requests.append(request.url))
        page.on("requestfailed", lambda request: view.failed.append(request.url))
        page.goto(file.as_uri(), wait_until="load", timeout=60_000)
        refresh = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', file.read_text(encoding="utf-8"))
        if refresh:  # Jupyter Book's top-level index.html redirects to the root document
            page.wait_for_url((file.parent / refresh.group(1)).resolve().as_uri(), timeout=60_000)
            page.wait_for_load_state("load")
        page.evaluate(
            """() => ((window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve())
                      .then(() => document.fonts.ready).then(() => true)"""
        )
        return view

    yield _open
    for context in contexts:
        context.close()


def offline_problems(view: OfflinePage) -> list[str]:
    """Everything that keeps a page from reading offline as it does online."""
    problems = [f"loads {url}" for url in view.outside()]
    problems += [f"asks for a missing file {url}" for url in view.missing()]
    if (size := view.size()) > MAX_PAGE_BYTES:
        problems.append(f"weighs {size / 2**20:.1f} MB (at most {MAX_PAGE_BYTES / 2**20:.0f} MB)")
    math = view.math()
    problems += [f"math not typeset: {text!r}" for text in math["untypeset"]]
    problems += [f"TeX error: {error!r}" for error in math["errors"]]
    problems += [f"raw TeX {tex!r} visible in the text" for tex in RAW_TEX if tex in math["text"]]
    if math["typeset"]:
        statuses = dict(math["fonts"])
        if "loaded" not in statuses.values() or "error" in statuses.values():
            problems.append(f"MathJax fonts did not load: {math['fonts']}")
    return problems


@pytest.mark.parametrize("doc", toc_docs())
def test_toc_page_reads_offline(open_offline, doc):
    view = open_offline(doc)
    problems = offline_problems(view)
    assert not problems, f"{doc}:\n" + "\n".join(problems)
    math = view.math()
    if doc in CHAPTERS:
        assert math["maths"] > 0 and math["typeset"] >= math["maths"], f"{doc}: {math['typeset']} of {math['maths']}"
    # the local MathJax is what typeset it
    if math["maths"]:
        assert any(urlparse(u).path.endswith("/_static/mathjax/tex-chtml.js") for u in view.requests)


def test_every_other_page_reads_offline(open_offline, built_book):
    """The pages not in the toc: the redirecting index.html, search, indices, module sources."""
    html_dir = built_book.html_dir
    toc_pages = {doc + ".html" for doc in toc_docs()}
    pages = sorted(
        p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
        if not p.relative_to(html_dir).parts[0].startswith("_static")  # template fragments, not pages
    )
    others = [p for p in pages if p not in toc_pages]
    assert {"index.html", "search.html", "genindex.html"} <= set(others)
    problems = {}
    for path in others:
        view = open_offline(path)
        if found := offline_problems(view):
            problems[path] = found
        view.page.context.close()  # keep one page open at a time
    assert problems == {}


def test_zipped_copy_reads_offline(open_offline, built_book, tmp_path):
    """What a reader gets from a zip of _build/html: unzipped anywhere, it reads the same."""
    archive = shutil.make_archive(str(tmp_path / "book"), "zip", built_book.html_dir)
    copy = tmp_path / "unzipped" / "stdp-book"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(copy)
    for path in ("index.html", "book/04_from_pairs_to_traces.html"):
        view = open_offline(path, html_dir=copy)
        assert view.page.url.startswith(copy.resolve().as_uri())
        problems = offline_problems(view)
        assert not problems, f"{path}:\n" + "\n".join(problems)
        math = view.math()
        assert math["maths"] > 0 and not math["untypeset"], path
        if path == "index.html":
            # it led to the cover page, whose list of chapters starts at chapter 1
            assert view.page.url.endswith("/book/index.html")
            chapters = view.page.locator("article a.reference.internal", has_text=re.compile(r"^1\. "))
            assert chapters.count() >= 1


# ---------------------------------------------------------------- players on the built pages

#: The chapters whose explorers are played on the static page (at least six players in five).
PLAYED = {
    "book/01_introduction": 1,
    "book/02_experimental_window": 1,
    "book/03_pair_based_stdp": 1,
    "book/04_from_pairs_to_traces": 1,
    "book/05_weight_dependence": 2,
    "book/06_triplets_and_frequency": 1,
    "book/08_convolutions": 1,
    "book/10_stability_and_homeostasis": 2,
    "book/11_reward_modulated_stdp": 1,
    "book/12_learning_digits_without_labels": 1,
}
MAX_PLAYER_BYTES = 2 * 1000 * 1000

CANVAS_DIGEST = """async (canvas) => {
  const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const digest = await crypto.subtle.digest('SHA-256', rgba);
  return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('');
}"""


def player_sizes(html: str) -> list[int]:
    """Bytes of each player block (its div, styles, data and script) in a page's HTML."""
    starts = [m.start() for m in re.finditer(r'<div class="stdp-player"', html)]
    sizes = []
    for start in starts:
        end = html.index("})();\n</script></div>", start) + len("})();\n</script></div>")
        sizes.append(end - start)
    return sizes


@pytest.mark.parametrize("doc", sorted(PLAYED))
def test_players_move_with_the_slider_and_play_offline(open_offline, built_book, doc):
    html_dir = built_book[0]
    html = (html_dir / (doc + ".html")).read_text(encoding="utf-8")
    sizes = player_sizes(html)
    assert len(sizes) == PLAYED[doc], f"{doc}: {len(sizes)} players, expected {PLAYED[doc]}"
    assert max(sizes) <= MAX_PLAYER_BYTES, f"{doc}: a player of {max(sizes) / 1e6:.2f} MB"
    view = open_offline(doc)
    page = view.page
    players = page.locator("div.stdp-player")
    assert players.count() == PLAYED[doc]
    for k in range(players.count()):
        player = players.nth(k)
        player.scroll_into_view_if_needed()
        page.wait_for_function("(el) => el.dataset.frame !== undefined", arg=player.element_handle(),
                               timeout=20_000)
        canvas = player.locator("canvas")
        slider = player.locator("input[type=range]")
        assert int(slider.get_attribute("max")) >= 5, "a player needs a handful of frames"
        start = canvas.evaluate(CANVAS_DIGEST)
        # drag the slider (keyboard, as a reader without a mouse would)
        slider.focus()
        page.keyboard.press("Home")
        assert player.get_attribute("data-frame") == "0"
        first = canvas.evaluate(CANVAS_DIGEST)
        assert first != start or player.get_attribute("data-frame") == str(slider.get_attribute("value"))
        page.keyboard.press("ArrowRight")
        moved = canvas.evaluate(CANVAS_DIGEST)
        assert player.get_attribute("data-frame") == "1" and moved != first, f"{doc}: the slider did not redraw"
        label = player.locator("output").inner_text()
        assert label, "the value of the frame is shown"
        # play: the frames advance on their own, and the picture changes
        player.locator("button").click()
        page.wait_for_function("(el) => +el.dataset.frame >= 3", arg=player.element_handle(), timeout=20_000)
        assert player.locator("button").get_attribute("aria-pressed") == "true"
        player.locator("button").click()
        assert canvas.evaluate(CANVAS_DIGEST) not in (first, moved)
        assert player.locator("output").inner_text() != label
    assert view.outside() == [] and view.missing() == []
