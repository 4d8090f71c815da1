"""The documentation promises only what the repository holds, and every row of the bad-input table has a test."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _table_rows(path: Path) -> list[list[str]]:
    """Rows of the markdown table whose header starts with ``| input |``, as lists of cell texts."""
    rows, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("| input |"):
            inside = True
            continue
        if inside and line.startswith("|---"):
            continue
        if inside and line.startswith("|"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif inside:
            break
    return rows


def test_every_bad_input_row_names_an_existing_test():
    rows = _table_rows(REPO / "docs" / "bad_inputs.md")
    assert len(rows) >= 20
    for row in rows:
        assert len(row) == 6 and row[2] and row[3], row
        match = re.fullmatch(r"`(tests/[\w/]+\.py)::(test_\w+)`", row[5])
        assert match, row[5]
        module = importlib.import_module(match.group(1)[:-3].replace("/", "."))
        assert callable(getattr(module, match.group(2), None)), row[5]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_point_inside_the_repository(path):
    text = path.read_text()
    assert "SEMANTICS" not in text and "/work/" not in text
    for target in re.findall(r"\]\((?!https?://)([^)#]+)", text):  # relative links resolve
        assert (path.parent / target).exists(), target


def test_readme_layout_lists_existing_paths():
    text = (REPO / "README.md").read_text()
    block = text[text.index("## Layout") :].split("```")[1]
    paths = [line.split()[0] for line in block.strip().splitlines()]
    assert len(paths) >= 8
    for path in paths:
        assert (REPO / path).exists(), path
