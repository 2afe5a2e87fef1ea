"""Shared fixtures: the devices every core test runs on (CUDA skipped where absent), and one
build of the book per test session (``built_book``), shared by ``test_book_build.py`` and
``test_book_offline.py``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple, Optional

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """Each test using this fixture runs on the CPU and, where one exists, on a CUDA GPU."""
    return torch.device(request.param)


@pytest.fixture
def one_torch_thread():
    """Run a test on one intra-op thread: simulations of many tiny tensor ops gain nothing from a
    second thread and lose much to oversubscription on a shared 2-core CI box."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class BuiltBook(NamedTuple):
    html_dir: Path
    log: Optional[str]  # the build's output; None for a reused build (STDPWIDGETS_BOOK_HTML)


def _jupyter_book() -> str:
    local = Path(sys.executable).with_name("jupyter-book")
    found = str(local) if local.exists() else shutil.which("jupyter-book")
    if found is None:
        pytest.skip("jupyter-book is not installed (pip install -r requirements.txt)")
    return found


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> BuiltBook:
    """(html directory, build log) of one fresh build of a copy of the book sources.

    Built once per test session, on first use, by ``jupyter-book build -W --keep-going`` in a
    temporary directory, so the working tree's ``_build`` is left alone; every notebook is
    executed and any Sphinx warning fails the build. ``STDPWIDGETS_SKIP_BOOK_BUILD=1`` skips
    every test that needs it (where the book is built anyway, e.g. the GitHub Pages workflow).
    ``STDPWIDGETS_BOOK_HTML=<path to _build/html>`` reuses a build made beforehand instead
    (handy when working on the page checks; the build-log check is then skipped).
    """
    if os.environ.get("STDPWIDGETS_SKIP_BOOK_BUILD") == "1":
        pytest.skip("STDPWIDGETS_SKIP_BOOK_BUILD=1")
    reuse = os.environ.get("STDPWIDGETS_BOOK_HTML")
    if reuse:
        html_dir = Path(reuse).resolve()
        assert (html_dir / "index.html").is_file(), f"STDPWIDGETS_BOOK_HTML={reuse}: no index.html there"
        return BuiltBook(html_dir, None)
    work = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, work / name)
    shutil.copytree(
        ROOT / "book", work / "book", ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__")
    )
    result = subprocess.run(
        [_jupyter_book(), "build", "-W", "--keep-going", str(work)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed (exit {result.returncode}):\n{log[-6000:]}"
    return BuiltBook(work / "_build" / "html", log)
