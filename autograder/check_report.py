"""`course check`: grade one notebook against its source and show a table a learner can act on."""

from __future__ import annotations

from pathlib import Path

from autograder import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, require_assignments


def check_notebook(path: Path, assignment: str | None = None, with_experiments: bool = False):
    """Grade the notebook at path; returns (printable table, NotebookGrade).

    The cells run in this process, without a sandbox (the learner's own code, as Jupyter runs it), each test cell
    as the source has it, with the checks `course grade` uses (autograder.self_check.grade_here): no sandbox, kernel
    or second torch import to start, so a check starts in about as long as importing torch takes.
    with_experiments: run every cell in a Jupyter kernel instead, experiments included, as the notebook itself would.
    """
    from autograder import self_check

    if assignment:
        require_assignments([assignment])
    submission = nbs.read_notebook(path)
    assignment, source_path = engine.find_source(submission, SOURCE_ROOT, assignment)
    source = nbs.read_notebook(source_path)
    title = f"{assignment}/{source_path.name}"
    if with_experiments:
        grade, _ = engine.grade_notebook(submission, source, skip_experiments=False, workdir=path.resolve().parent)
        return format_table(title, grade), grade
    grade = self_check.grade_here(submission, source, workdir=path.resolve().parent)
    return format_table(title, grade), grade


def format_table(title: str, grade: engine.NotebookGrade) -> str:
    rows = [("exercise", "points", "message")]
    for cell in grade.cells:
        shown = "manual" if cell.manual else f"{cell.points:g}/{cell.max_points:g}"
        message = cell.message if cell.manual or cell.points < cell.max_points else "ok"
        rows.append((cell.grade_id, shown, message))
    width = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [title, ""]
    for r in rows:
        first, *rest = (r[2] or "").split("\n") or [""]
        lines.append(f"{r[0].ljust(width[0])}  {r[1].ljust(width[1])}  {first}")
        lines.extend(" " * (width[0] + width[1] + 4) + line for line in rest)
    lines.append("")
    lines.append(f"autograded: {grade.auto_points:g} of {grade.auto_max:g} points"
                 + (f"; {grade.manual_max:g} more points are graded by hand" if grade.manual_max else ""))
    return "\n".join(lines)
