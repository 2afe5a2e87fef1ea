"""The book's table of contents as the tests read it (shared by the build and offline checks)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def toc_docs() -> list[str]:
    """Document paths listed in _toc.yml (root first), without extension."""
    text = (ROOT / "_toc.yml").read_text()
    root = re.search(r"^root:\s*(\S+)", text, re.M).group(1)
    return [root] + re.findall(r"-\s*file:\s*(\S+)", text)
