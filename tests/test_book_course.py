"""The book as a course: every chapter has objectives, a time, key points and exercises with
solutions, and the student edition drops exactly the solutions."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from book_toc import ROOT, toc_docs
from stdpwidgets.exercises import check

CHAPTERS = [doc for doc in toc_docs() if re.match(r"book/\d\d_", doc)]


def _cells(doc):
    return json.loads((ROOT / f"{doc}.ipynb").read_text(encoding="utf-8"))["cells"]


def _source(cell):
    return "".join(cell["source"])


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _admonitions(cells, title_pattern):
    """(cell index, body) of every admonition whose title matches ``title_pattern``."""
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for match in re.finditer(r"^(:{3,}|`{3,})\{admonition\}\s*(.*)$", _source(cell), re.M):
            if re.search(title_pattern, match.group(2)):
                found.append((i, match.group(2), _source(cell)[match.end():]))
    return found


def _load_student_edition():
    spec = importlib.util.spec_from_file_location("student_edition", ROOT / "book/_ext/student_edition.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_book_has_twelve_chapters():
    assert len(CHAPTERS) == 12, CHAPTERS


@pytest.mark.parametrize("doc", CHAPTERS)
def test_objectives_time_and_key_points(doc):
    cells = _cells(doc)
    objectives = _admonitions(cells[:4], r"^Learning objectives")
    assert objectives, f"{doc}: no 'Learning objectives' admonition in its first cells"
    _, _, body = objectives[0]
    items = re.findall(r"^\s*[-*] ", body.split(":::")[0].split("```")[0], re.M)
    assert 3 <= len(items) <= 5, f"{doc}: {len(items)} objectives (want 3-5)"
    assert re.search(r"\*\*Estimated time:\*\* about \d+ minutes", body), f"{doc}: no estimated time"
    key_points = _admonitions(cells, r"^Key points")
    assert key_points and key_points[-1][0] >= len(cells) - 4, f"{doc}: no 'Key points' box at the end"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_exercises_have_hidden_solutions(doc):
    cells = _cells(doc)
    number = int(re.match(r"book/(\d\d)_", doc).group(1))
    exercises = _admonitions(cells, rf"^Exercise {number}\.\d+")
    labels = [re.match(r"Exercise (\d+\.\d+)", title).group(1) for _, title, _ in exercises]
    assert len(labels) >= 3, f"{doc}: {len(labels)} exercises (want 3 or more)"
    assert len(set(labels)) == len(labels), f"{doc}: exercise numbers repeat: {labels}"
    solutions = [_source(c) for c in cells if "solution" in _tags(c) and c["cell_type"] == "markdown"]
    for label in labels:
        assert any(re.search(rf"\{{dropdown\}}\s*Solution to exercise {re.escape(label)}\b", s) for s in solutions), (
            f"{doc}: exercise {label} has no markdown cell tagged 'solution' with a "
            f"'{{dropdown}} Solution to exercise {label}'"
        )
    for cell in cells:
        if "solution" in _tags(cell) and cell["cell_type"] == "code":
            assert {"hide-input", "hide-cell"} & set(_tags(cell)), f"{doc}: solution code shown open"
    # the automatic checks the student runs are not solutions: they survive in the student edition
    checks = [c for c in cells if c["cell_type"] == "code" and "check(" in _source(c) and "solution" not in _tags(c)]
    assert checks, f"{doc}: no automatic check cell (stdpwidgets.exercises.check) for the student"


def test_student_edition_drops_only_the_solutions(tmp_path):
    student = _load_student_edition()
    removed = student.write_student_edition(tmp_path / "student")
    assert set(removed) >= {f"{doc.split('/')[1]}.ipynb" for doc in CHAPTERS}
    for doc in CHAPTERS:
        full = _cells(doc)
        stripped = json.loads((tmp_path / "student" / f"{doc}.ipynb").read_text(encoding="utf-8"))["cells"]
        n_solutions = sum("solution" in _tags(c) for c in full)
        assert removed[f"{doc.split('/')[1]}.ipynb"] == n_solutions > 0
        assert len(stripped) == len(full) - n_solutions
        assert not any("solution" in _tags(c) for c in stripped)
        assert len(_admonitions(stripped, r"^Exercise ")) == len(_admonitions(full, r"^Exercise "))
    config = (tmp_path / "student" / "_config.yml").read_text(encoding="utf-8")
    assert "(student edition)" in config
    assert (tmp_path / "student" / "_toc.yml").read_text() == (ROOT / "_toc.yml").read_text()


def test_check_reports_without_raising(capsys):
    assert check(None, 1.0, name="area") is False
    assert "not attempted" in capsys.readouterr().out
    assert check(16.3, 16.3 + 1e-12, name="area") is True
    assert "✓ area" in capsys.readouterr().out
    assert check(16.0, 16.3, name="area") is False
    assert "expected 16.3" in capsys.readouterr().out
    assert check([1.0, 2.0], [1.0, 2.0, 3.0]) is False
    assert check(float("nan"), float("nan")) is False
    assert check("sixteen", 16.0) is False
