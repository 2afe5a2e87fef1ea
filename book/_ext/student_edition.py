"""Write the student edition of the book: the same chapters without the worked solutions.

Every notebook cell tagged ``solution`` (the solution dropdowns and the solution code) is
left out; the exercises, their fill-in cells and their check cells stay, so a student who
runs a chapter sees "not attempted yet" until their own code passes the check.

Usage, from the repository root::

    python book/_ext/student_edition.py _student          # writes _student/ (a book root)
    jupyter-book build -W --keep-going _student            # builds _student/_build/html

or both at once with ``--build``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTION_TAG = "solution"


def strip_solutions(notebook: dict) -> int:
    """Remove the cells tagged ``solution`` from a notebook dict in place; return how many."""
    cells = notebook.get("cells", [])
    kept = [c for c in cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
    removed = len(cells) - len(kept)
    notebook["cells"] = kept
    return removed


def write_student_edition(out: Path) -> dict:
    """Copy the book's sources to ``out`` with solutions removed; return {notebook: cells removed}."""
    out = Path(out)
    if out.resolve() == ROOT:
        raise ValueError("the student edition must go to another folder than the repository root")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(ROOT / "book", out / "book", ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    shutil.copy(ROOT / "_toc.yml", out / "_toc.yml")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    title = next(line for line in config.splitlines() if line.startswith("title:"))
    edited = title.rstrip().rstrip('"') + ' (student edition)"' if title.rstrip().endswith('"') else title
    (out / "_config.yml").write_text(config.replace(title, edited, 1), encoding="utf-8")
    removed = {}
    for path in sorted((out / "book").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        removed[path.name] = strip_solutions(notebook)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return removed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the student edition to")
    parser.add_argument("--build", action="store_true", help="also run jupyter-book build on it")
    args = parser.parse_args(argv)
    removed = write_student_edition(args.out)
    for name, count in removed.items():
        print(f"{name}: {count} solution cells removed")
    if args.build:
        return subprocess.call(["jupyter-book", "build", "-W", "--keep-going", str(args.out)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
