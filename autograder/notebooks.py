"""Reading nbgrader notebooks and the cell-level facts the course relies on.

Cell kinds follow nbgrader's metadata (`metadata.nbgrader`): a *solution* cell is where the student answers; a
*test* cell (grade, not solution) holds visible checks and, between `### BEGIN HIDDEN TESTS` and
`### END HIDDEN TESTS`, the hidden ones; a grade + solution cell is answered by hand. Cells tagged `experiment`
train or plot for understanding; nothing graded may depend on them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

EXPERIMENT_TAG = "experiment"
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class NotebookError(ValueError):
    """A file that is not a readable notebook; the message is one line naming the file and the problem."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read and validate a notebook (nbformat 4), or raise NotebookError with a one-line reason."""
    path = Path(path)
    if not path.exists():
        raise NotebookError(f"{path}: no such file")
    if not path.is_file():
        raise NotebookError(f"{path}: not a file")
    if path.suffix != ".ipynb":
        raise NotebookError(f"{path}: not a notebook (expected a .ipynb file)")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise NotebookError(f"{path}: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"{path}: invalid JSON at line {error.lineno}, column {error.colno}") from None
    if not isinstance(data, dict) or data.get("nbformat") != 4:
        raise NotebookError(f"{path}: not a notebook in nbformat 4")
    try:
        notebook = nbformat.versions[4].to_notebook_json(data)  # as nbformat.reads, which would validate twice
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        raise NotebookError(f"{path}: not a valid notebook: {str(error).splitlines()[0]}") from None
    except (AttributeError, TypeError, KeyError, ValueError):
        raise NotebookError(f"{path}: not a valid notebook") from None
    return notebook


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_grade(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_test(cell) -> bool:
    """An autograded test cell: graded, not an answer cell."""
    return is_grade(cell) and not is_solution(cell) and cell.get("cell_type") == "code"


def is_locked(cell) -> bool:
    return bool(nbgrader_meta(cell).get("locked"))


def is_experiment(cell) -> bool:
    return EXPERIMENT_TAG in cell.get("metadata", {}).get("tags", [])


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def strip_solution_markers(source: str) -> str:
    """The source without the `### BEGIN SOLUTION` / `### END SOLUTION` marker lines (the worked solution)."""
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)).strip("\n")


def _blocks(begin: str, end: str) -> re.Pattern:
    """Blocks from a `begin` marker line to an `end` marker line, both included."""
    return re.compile(rf"^[ \t]*{re.escape(begin)}.*?^[ \t]*{re.escape(end)}[^\n]*\n?", re.S | re.M)


_HIDDEN = _blocks(HIDDEN_BEGIN, HIDDEN_END)


def remove_hidden_tests(source: str) -> str:
    """The source without its hidden-test blocks (what a student sees of a test cell)."""
    return _HIDDEN.sub("", source).strip("\n")


_SOLUTION = _blocks(SOLUTION_BEGIN, SOLUTION_END)


def remove_solutions(source: str) -> str:
    """The source without its solution blocks (markers included)."""
    return _SOLUTION.sub("", source)


def hidden_tests(source: str) -> str:
    """Only the hidden-test blocks of a test cell's source."""
    return "\n".join(match.group(0).rstrip("\n") for match in _HIDDEN.finditer(source))


def assignments(source_root: str | Path) -> list[str]:
    """Names of the assignments: the folders of source_notebooks/ that hold a notebook."""
    root = Path(source_root)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if root.is_dir() else []


def assignment_notebooks(source_root: str | Path, assignment: str) -> list[Path]:
    return sorted((Path(source_root) / assignment).glob("*.ipynb"))


def worked_solution(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a source notebook as the worked solution shows it: no solution markers, no hidden tests."""
    solution = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        if is_solution(cell):
            cell.source = strip_solution_markers(cell.source)
        if is_test(cell):
            cell.source = remove_hidden_tests(cell.source)
    return solution


def graded_code(source: nbformat.NotebookNode, skip_experiments: bool = True) -> list[str]:
    """The code of a source notebook's cells with hidden tests removed: what defines the solution's functions."""
    return [remove_hidden_tests(strip_solution_markers(cell.source)) for cell in source.cells
            if cell.cell_type == "code" and not (skip_experiments and is_experiment(cell))]
