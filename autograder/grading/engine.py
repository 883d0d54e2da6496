"""Grade one submitted notebook against its source notebook, the way nbgrader's autograde does, without a gradebook.

The steps, one function each, in the order `grade_notebook` applies them:
1. restore_locked_cells: locked and test cells get back the source's text and metadata (hidden tests included);
   test cells the student deleted come back, placed after the cell before them in the source;
2. drop_experiments: cells tagged `experiment` are removed (nothing graded depends on them);
3. execute: run the notebook in a fresh kernel, errors allowed, a time limit per cell;
4. score_cells: nbgrader's own rule per grade cell (an error or stderr output in a test cell: no points).
Used by `course check` (self-study) and by the quality gates of the test suite.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import notebooks as nbs
from autograder.course_dir import nbgrader_config

# nbgrader and nbclient are imported where they are used: importing nbgrader takes about a second, which
# `course check` (and every other user of the grade types and find_source) would otherwise wait for at start-up.

CELL_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class CellGrade:
    """The grade of one grade cell. points is None where a person must grade (written answers)."""

    grade_id: str
    points: float | None
    max_points: float
    message: str = ""

    @property
    def manual(self) -> bool:
        return self.points is None


@dataclass(frozen=True)
class NotebookGrade:
    cells: list[CellGrade]

    @property
    def auto_points(self) -> float:
        return sum(c.points for c in self.cells if not c.manual)

    @property
    def auto_max(self) -> float:
        return sum(c.max_points for c in self.cells if not c.manual)

    @property
    def manual_max(self) -> float:
        return sum(c.max_points for c in self.cells if c.manual)


def release_version(source):
    """The source notebook with its solutions replaced by the configured stubs, as nbgrader releases it."""
    from nbgrader.preprocessors import ClearSolutions

    release, _ = ClearSolutions(config=nbgrader_config()).preprocess(copy.deepcopy(source), {})
    return release


def released_checksums(source) -> dict[str, str]:
    """grade id -> nbgrader checksum of the cell as released.

    An answer cell whose checksum is unchanged was left untouched: nbgrader gives it 0 without a person.
    """
    from nbgrader.utils import compute_checksum

    return {nbs.grade_id(cell): compute_checksum(cell) for cell in release_version(source).cells
            if nbs.grade_id(cell)}


def restore_locked_cells(submission, source, checksums: dict[str, str] | None = None):
    """A copy of the submission whose locked and test cells are the source's, with missing test cells put back.

    checksums: released_checksums(source), when the caller has them already (a grader grading a whole class).
    """
    graded = copy.deepcopy(submission)
    checksums = checksums if checksums is not None else released_checksums(source)
    source_cells = {nbs.grade_id(c): c for c in source.cells if nbs.grade_id(c)}
    seen = set()
    for index, cell in enumerate(graded.cells):
        gid = nbs.grade_id(cell)
        if gid is None or gid not in source_cells or gid in seen:
            if gid is not None:  # unknown or duplicated id: the cell counts as the student's own
                cell.metadata.pop("nbgrader", None)
            continue
        seen.add(gid)
        original = source_cells[gid]
        if nbs.is_solution(original) and original.cell_type != cell.cell_type:
            # an answer cell whose type the student changed is put back as released (the source's version of it
            # is the instructor's solution); so its checksum matches and it counts as no response
            graded.cells[index] = released_cell(source, gid)
        elif nbs.is_locked(original) or nbs.is_test(original) or original.cell_type != cell.cell_type:
            graded.cells[index] = copy.deepcopy(original)
        else:  # an answer cell: the student's text under the source's metadata (points cannot be edited)
            cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
            cell.metadata["nbgrader"]["checksum"] = checksums[gid]
            cell.metadata["tags"] = list(original.metadata.get("tags", []))
    _put_back_missing(graded, source, seen)
    return graded


def released_cell(source, grade_id: str):
    """The cell of that grade id as the release has it (its solution replaced by the stub)."""
    cell = copy.deepcopy(next(c for c in source.cells if nbs.grade_id(c) == grade_id))
    single = nbformat.v4.new_notebook(cells=[cell], metadata=copy.deepcopy(source.metadata))
    return release_version(single).cells[0]


def _put_back_missing(graded, source, present: set):
    order = [nbs.grade_id(c) for c in source.cells]
    for position, cell in enumerate(source.cells):
        gid = nbs.grade_id(cell)
        if gid is None or gid in present or not (nbs.is_test(cell) or nbs.is_locked(cell)):
            continue
        previous = [g for g in order[:position] if g in present]
        at = 0
        if previous:
            at = next(i for i, c in enumerate(graded.cells) if nbs.grade_id(c) == previous[-1]) + 1
        graded.cells.insert(at, copy.deepcopy(cell))
        present.add(gid)


def drop_experiments(notebook):
    notebook.cells = [c for c in notebook.cells if not nbs.is_experiment(c)]
    return notebook


def execute(notebook, workdir: str | Path, timeout: int = CELL_TIMEOUT_SECONDS):
    """Run every code cell in a fresh python3 kernel started in workdir; errors are kept as outputs."""
    from nbclient import NotebookClient

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return notebook


def score_cells(notebook) -> NotebookGrade:
    from nbgrader.utils import determine_grade

    grades = []
    for cell in notebook.cells:
        if not nbs.is_grade(cell):
            continue
        points, max_points = determine_grade(cell)
        grades.append(CellGrade(nbs.grade_id(cell), points, max_points, _failure_message(cell)))
    return NotebookGrade(grades)


NO_RESPONSE = "No response."


def auto_comments(graded) -> dict[str, str | None]:
    """grade id -> nbgrader's automatic comment on each answer and task cell of a graded notebook.

    As nbgrader's SaveAutoGrades: "No response." on an answer cell left as released (its checksum, put back from
    the release by restore_locked_cells, still matches), else no comment; a task cell never gets one.
    """
    from nbgrader.utils import compute_checksum, is_task

    return {nbs.grade_id(cell): NO_RESPONSE if not is_task(cell)
            and nbs.nbgrader_meta(cell).get("checksum") == compute_checksum(cell) else None
            for cell in graded.cells if nbs.is_solution(cell) or is_task(cell)}


def _failure_message(cell) -> str:
    if nbs.is_solution(cell):
        return "graded by hand"
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}".strip()
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr: " + output.text.strip().splitlines()[0][:200] if output.text.strip() else ""
    return ""


def grade_notebook(submission, source, skip_experiments: bool = True, workdir: str | Path | None = None,
                   timeout: int = CELL_TIMEOUT_SECONDS) -> tuple[NotebookGrade, nbformat.NotebookNode]:
    """Grade a submission (NotebookNode) against its source notebook. Returns the grades and the executed notebook."""
    graded = restore_locked_cells(submission, source)
    if skip_experiments:
        graded = drop_experiments(graded)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as scratch:
        execute(graded, workdir or scratch, timeout)
    return score_cells(graded), graded


def find_source(submission, source_root: str | Path, assignment: str | None = None) -> tuple[str, Path]:
    """The assignment and source notebook a submission belongs to: the one whose grade ids it shares most."""
    ids = {nbs.grade_id(c) for c in submission.cells} - {None}
    best, best_overlap = None, 0
    for name in ([assignment] if assignment else nbs.assignments(source_root)):
        for path in nbs.assignment_notebooks(source_root, name):
            source_ids = {nbs.grade_id(c) for c in nbs.read_notebook(path).cells} - {None}
            overlap = len(ids & source_ids)
            if overlap > best_overlap:
                best, best_overlap = (name, path), overlap
    if best is None:
        raise nbs.NotebookError("the notebook shares no graded cell with any assignment of this course"
                                + (f" ({assignment})" if assignment else ""))
    return best
