"""`course check`: grade one notebook against its source and show a table a learner can act on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, require_assignments


def check_notebook(path: Path, assignment: str | None = None, with_experiments: bool = False):
    """Grade the notebook at path; returns (printable table, NotebookGrade).

    The cells run in this process, without a sandbox (the learner's own code, as Jupyter runs it), each test cell
    as the source has it, with the checks `course grade` uses (autograder.self_study.self_check.grade_here):
    no sandbox, kernel or second torch import to start, so a check starts in about as long as importing torch takes.
    with_experiments: run every cell in a Jupyter kernel instead, experiments included, as the notebook itself would.
    In the grade returned, every written answer is graded by hand (points None), even one left untouched, to which
    nbgrader gives 0 without a person.
    """
    from autograder.self_study import self_check

    if assignment:
        require_assignments([assignment])
    submission = nbs.read_notebook(path)
    assignment, source_path = engine.find_source(submission, SOURCE_ROOT, assignment)
    source = nbs.read_notebook(source_path)
    title = f"{assignment}/{source_path.name}"
    if with_experiments:
        grade, _ = engine.grade_notebook(submission, source, skip_experiments=False, workdir=path.resolve().parent)
    else:
        grade = self_check.grade_here(submission, source, workdir=path.resolve().parent)
    grade = graded_by_hand(grade, written_answers(source))
    return format_table(title, grade), grade


def written_answers(source) -> set[str]:
    """grade ids of the cells a person grades: answer cells that carry points (a written answer, a sketch)."""
    return {nbs.grade_id(cell) for cell in source.cells if nbs.is_grade(cell) and nbs.is_solution(cell)}


def graded_by_hand(grade: engine.NotebookGrade, by_hand: set[str]) -> engine.NotebookGrade:
    """The grade with every cell in by_hand marked as graded by a person (points None)."""
    return engine.NotebookGrade([dataclasses.replace(cell, points=None) if cell.grade_id in by_hand else cell
                                 for cell in grade.cells])


def _points(amount: float) -> str:
    return f"{amount:g} point" + ("" if amount == 1 else "s")


def summary(grade: engine.NotebookGrade) -> str:
    """'autograded: 3 of 17 points; 4 more graded by hand': the two kinds of points are never added up."""
    line = f"autograded: {grade.auto_points:g} of {_points(grade.auto_max)}"
    if grade.manual_max:
        line += f"; {_points(grade.manual_max).replace(' ', ' more ', 1)} graded by hand"
    return line


def format_table(title: str, grade: engine.NotebookGrade) -> str:
    rows = [("exercise", "points", "message")]
    for cell in grade.cells:
        if cell.manual:
            shown, message = "graded by hand", ""
        else:
            shown = f"{cell.points:g}/{cell.max_points:g}"
            message = cell.message if cell.points < cell.max_points else "ok"
        rows.append((cell.grade_id, shown, message))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [title, ""]
    for r in rows:
        first, *rest = (r[2] or "").split("\n") or [""]
        lines.append(f"{r[0].ljust(width[0])}  {r[1].ljust(width[1])}  {first}".rstrip())
        lines.extend(" " * (width[0] + width[1] + 4) + line for line in rest)
    lines.append("")
    lines.append(summary(grade))
    return "\n".join(lines)
