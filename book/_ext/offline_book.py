"""Local Sphinx extension: the built book loads nothing from outside its own files.

Registered in ``_config.yml`` (``sphinx: local_extensions: offline_book: book/_ext``). It

1. serves MathJax from the build itself. The copy comes from the PyPI package
   ``django-static-mathjax`` (pinned in ``requirements.txt``), which ships MathJax 3.2.2
   (the ``mathjax-full`` npm release, components in ``es5/``) and nothing else: no Django
   needed, it only installs the files. MathJax is licensed under the Apache License 2.0;
   its LICENSE file is copied next to it into ``_static/mathjax/``. The extension sets
   ``mathjax_path`` to ``mathjax/tex-chtml.js`` (Sphinx puts it under ``_static/``), and
   copies that component with everything it loads on demand: the TeX extensions that
   ``autoload`` fetches, the CHTML woff fonts, the menu and accessibility components;
2. drops the ipywidgets state that myst-nb embeds on pages executed with live widgets.
   The HTML shows each explorer's PNG (see ``nb_mime_priority_overrides``), never a live
   widget, so the state (base64 PNGs of every widget image) would only weigh the page down,
   and with ``nb_ipywidgets_js: {}`` nothing on the page could read it anyway;
3. warns (an error under ``-W``) when a page would still load a script or stylesheet from
   a URL, so a theme or extension update that adds a CDN request fails the build.

The browser test ``tests/test_book_offline.py`` checks the result page by page.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHJAX_PACKAGE = "django-static-mathjax"  # PyPI distribution; imports as ``mathjax``
MATHJAX_COMPONENT = "tex-chtml.js"  # TeX input, CommonHTML output, menu: all the book needs
STATIC_SUBDIR = "mathjax"  # -> _build/html/_static/mathjax/


def mathjax_source() -> Path:
    """The ``es5`` directory of the installed MathJax 3 copy."""
    try:
        import mathjax  # the django-static-mathjax package
    except ImportError as err:
        raise ExtensionError(
            f"offline_book: the local MathJax copy is missing; pip install -r requirements.txt "
            f"(it pins {MATHJAX_PACKAGE})"
        ) from err
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / MATHJAX_COMPONENT).is_file():
        raise ExtensionError(f"offline_book: {es5 / MATHJAX_COMPONENT} not found in {MATHJAX_PACKAGE}")
    return es5


def mathjax_version(es5: Path) -> str:
    return json.loads((es5.parent / "package.json").read_text(encoding="utf-8"))["version"]


def _ignore_unused(directory: str, names: list[str]) -> set[str]:
    """Leave out the other combined components and the SVG output (never loaded here)."""
    here = Path(directory)
    ignored = set()
    for name in names:
        path = here / name
        if here.name == "es5" and path.suffix == ".js" and name != MATHJAX_COMPONENT:
            ignored.add(name)  # tex-svg.js, mml-chtml.js, tex-chtml-full.js, ...: alternatives
        elif here.name == "output" and name.startswith("svg"):
            ignored.add(name)
    return ignored


def set_mathjax_path(app: Sphinx, config) -> None:
    es5 = mathjax_source()
    version = mathjax_version(es5)
    if not version.startswith("3."):
        raise ExtensionError(f"offline_book: expected MathJax 3.x from {MATHJAX_PACKAGE}, found {version}")
    config.mathjax_path = f"{STATIC_SUBDIR}/{MATHJAX_COMPONENT}"
    logger.info(
        "offline_book: MathJax %s from %s %s, served from _static/%s",
        version, MATHJAX_PACKAGE, metadata.version(MATHJAX_PACKAGE), STATIC_SUBDIR,
    )


def drop_widget_state(app: Sphinx, env) -> list[str]:
    """Remove myst-nb's per-page ipywidgets scripts (state JSON and any widget JS)."""
    for data in getattr(env, "nb_metadata", {}).values():
        js_files = data.get("js_files", {})
        for key in [k for k in js_files if k.startswith("ipywidgets")]:
            del js_files[key]
    return []


def check_assets_are_local(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    for kind in ("script_files", "css_files"):
        for asset in context.get(kind, []):
            name = str(getattr(asset, "filename", asset) or "")
            if "://" in name or name.startswith("//"):
                logger.warning(
                    "offline_book: page %s loads %s from outside the book", pagename, name,
                    type="offline_book", subtype="remote_asset",
                )


def copy_mathjax(app: Sphinx) -> None:
    """Copy before the pages are written, so Sphinx stamps the script with its checksum (?v=)."""
    if app.builder.format != "html":
        return
    es5 = mathjax_source()
    target = Path(app.outdir) / "_static" / STATIC_SUBDIR
    shutil.copytree(es5, target, ignore=_ignore_unused, dirs_exist_ok=True)
    shutil.copy2(es5.parent / "LICENSE", target / "LICENSE")  # Apache-2.0: ship the licence


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", set_mathjax_path)
    app.connect("env-updated", drop_widget_state)
    # after every extension has added its files (myst-nb's per-page scripts run at 500)
    app.connect("html-page-context", check_assets_are_local, priority=900)
    app.connect("builder-inited", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
