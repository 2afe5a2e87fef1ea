"""Execute chapters in place and store them lean, so nbval compares against fresh outputs.

Usage, from the repository root::

    python book/_ext/store_outputs.py book/05_weight_dependence.ipynb [more.ipynb ...]

Runs ``jupyter execute --inplace`` on each notebook, then drops what the book never shows
from the stored file: the notebook's ipywidgets state (``metadata.widgets``, 100-200 kB a
chapter, rebuilt at build time anyway) and the player HTML / widget-view outputs of cells
that call ``with_player`` (the build re-creates them; nbval ignores those cells' output).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip(path: Path) -> None:
    """Remove widget state and player outputs from the stored notebook at ``path``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is None:
                continue
            data.pop(WIDGET_VIEW, None)
            if "with_player" in "".join(cell["source"]):
                data.pop("text/html", None)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(paths) -> int:
    for name in paths:
        path = Path(name)
        subprocess.run(["jupyter", "execute", "--inplace", str(path)], check=True)
        strip(path)
        print(f"stored {path} ({path.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
