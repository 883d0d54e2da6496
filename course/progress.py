"""Your progress across the course: the points of every assignment and exercise, from your workspace's notebooks.

`course progress` prints a table per assignment with a bar for its share of points, then what is still missing
(the exercises short of their points, with the checks' messages, and the notebooks not in the workspace);
`--chart FILE` draws the bars into a PNG, `--json` prints everything for a program. In the workspace's
progress.ipynb (`make lab` puts it there), `show()` shows the same as a table and a bar chart.

Each notebook is graded as `course check` grades it (autograder.self_study.self_check.grade_here: the learner's code
in a process of its own, no sandbox, the checks of `course grade`), from the notebook as saved. Only the autograded
points count here; written answers are graded by a person and are listed as such.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

BAR_WIDTH = 24


@dataclass
class ExerciseProgress:
    grade_id: str
    points: float | None  # None: a written answer, graded by a person
    max_points: float
    message: str = ""


@dataclass
class NotebookProgress:
    assignment: str
    notebook: str
    state: str  # "graded", "missing" (not in the workspace) or "unreadable"
    exercises: list[ExerciseProgress] = field(default_factory=list)
    problem: str = ""

    @property
    def points(self) -> float:
        return sum(e.points for e in self.exercises if e.points is not None)

    @property
    def max_points(self) -> float:
        return sum(e.max_points for e in self.exercises if e.points is not None)

    @property
    def by_hand(self) -> float:
        return sum(e.max_points for e in self.exercises if e.points is None)


class ProgressError(Exception):
    """No course to measure against (a student install) or no workspace: one line."""


def collect(workspace: Path, jobs: int | None = None) -> list[NotebookProgress]:
    """The progress of every notebook of the course in workspace, in course order.

    Each notebook is graded in a process of its own (forked from this one once torch is imported), so one
    notebook's names and state never reach the next; jobs of them at a time (default: the CPUs this may use).
    """
    try:
        from autograder import notebooks as nbs
        from autograder.course_dir import SOURCE_ROOT, all_assignments
    except ImportError:
        raise ProgressError("progress needs the hidden checks, which a student install does not have: your "
                            "instructor grades your notebooks") from None
    workspace = Path(workspace).expanduser().resolve()
    if not workspace.is_dir():
        raise ProgressError(f"{workspace}: no such folder (make lab prepares your workspace)")
    work = [(name, source, workspace / name / source.name)
            for name in all_assignments() for source in nbs.assignment_notebooks(SOURCE_ROOT, name)]
    present = [item for item in work if item[2].is_file()]
    import torch  # noqa: F401  (once, before forking: every notebook's process starts with it)

    jobs = max(1, min(jobs or len(os.sched_getaffinity(0)), len(present) or 1))
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool:
        graded = dict(zip([item[2] for item in present], pool.map(_grade_one, present, chunksize=1)))
    return [graded.get(path) or NotebookProgress(name, source.name, "missing") for name, source, path in work]


def _grade_one(item) -> NotebookProgress:
    """Grade one workspace notebook against its source (in a process of its own)."""
    from autograder import notebooks as nbs
    from autograder.self_study import self_check

    assignment, source_path, path = item
    try:
        grade = self_check.grade_here(nbs.read_notebook(path), nbs.read_notebook(source_path), workdir=path.parent)
    except nbs.NotebookError as error:
        return NotebookProgress(assignment, path.name, "unreadable", problem=str(error))
    return NotebookProgress(assignment, path.name, "graded", [
        ExerciseProgress(c.grade_id, c.points, c.max_points, "" if c.manual else c.message) for c in grade.cells])


def bar(share: float, width: int = BAR_WIDTH) -> str:
    filled = round(max(0.0, min(1.0, share)) * width)
    return "#" * filled + "." * (width - filled)


def format_progress(progress: list[NotebookProgress], every_exercise: bool = False) -> str:
    """The table (one row per notebook, with its bar), the total, and what is still missing."""
    names = [f"{p.assignment}/{p.notebook}" for p in progress]
    width = max(len(n) for n in names + ["notebook"])
    lines = [f"{'notebook'.ljust(width)}  {'points':>9s}  {'':{BAR_WIDTH}s}  by hand"]
    for name, p in zip(names, progress):
        if p.state != "graded":
            lines.append(f"{name.ljust(width)}  {'-':>9s}  {'':{BAR_WIDTH}s}  {p.state} {p.problem}".rstrip())
            continue
        share = p.points / p.max_points if p.max_points else 0.0
        lines.append(f"{name.ljust(width)}  {f'{p.points:g}/{p.max_points:g}':>9s}  {bar(share)}  "
                     f"{f'{p.by_hand:g} points' if p.by_hand else ''}".rstrip())
    graded = [p for p in progress if p.state == "graded"]
    total, most = sum(p.points for p in graded), sum(p.max_points for p in graded)
    lines += ["", f"autograded: {total:g} of {most:g} points in {len(graded)} of {len(progress)} notebooks"
              + (f"; {sum(p.by_hand for p in graded):g} more points are graded by hand" if graded else "")]
    missing = [(name, p) for name, p in zip(names, progress) if p.state != "graded"
               or any(e.points is not None and e.points < e.max_points for e in p.exercises)]
    if every_exercise or missing:
        lines += ["", "every exercise:" if every_exercise else "still missing:"]
    for name, p in zip(names, progress):
        if p.state == "missing":
            lines.append(f"  {name}: not in your workspace (make lab adds it)")
        elif p.state == "unreadable":
            lines.append(f"  {name}: {p.problem}")
        for e in p.exercises:
            short = e.points is not None and e.points < e.max_points
            if every_exercise or short:
                shown = "by hand" if e.points is None else f"{e.points:g}/{e.max_points:g}"
                first, *more = e.message.split("\n") if short else [""]
                lines.append(f"  {name} {e.grade_id}: {shown}  {first}".rstrip())
                lines += [f"      {line}" for line in more]
    return "\n".join(lines)


def as_json(progress: list[NotebookProgress]) -> str:
    return json.dumps([asdict(p) for p in progress], indent=1)


def from_json(text: str) -> list[NotebookProgress]:
    return [NotebookProgress(**{**p, "exercises": [ExerciseProgress(**e) for e in p["exercises"]]})
            for p in json.loads(text)]


def draw_chart(progress: list[NotebookProgress], path: Path | None = None):
    """A horizontal bar per notebook: the share of its autograded points earned (missing notebooks at 0).

    Saved to path when given (as PNG); returns the matplotlib Figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assignments = [p.assignment for p in progress]
    labels = [p.assignment if assignments.count(p.assignment) == 1 else f"{p.assignment}/{Path(p.notebook).stem}"
              for p in progress]
    shares = [100 * p.points / p.max_points if p.state == "graded" and p.max_points else 0.0 for p in progress]
    figure, axes = plt.subplots(figsize=(7, 0.45 * len(progress) + 1.2))
    axes.barh(labels, [100] * len(labels), color="#eaeef2")
    axes.barh(labels, shares, color=["#1a7f37" if s == 100 else "#0969da" for s in shares])
    for row, (p, share) in enumerate(zip(progress, shares)):
        text = f"{p.points:g}/{p.max_points:g}" if p.state == "graded" else p.state
        axes.text(101, row, text, va="center", fontsize=9)
    axes.invert_yaxis()
    axes.set(xlim=(0, 118), xlabel="autograded points earned (%)", title="Your progress across the course")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
        plt.close(figure)
    return figure


def show(workspace: str | Path | None = None):
    """In a notebook: the progress of the workspace (this notebook's folder by default) as a table and a chart.

    The notebooks are graded by `course progress` in a process of its own, not in this kernel.
    """
    from IPython.display import HTML, display

    folder = Path(workspace) if workspace else Path.cwd()
    done = subprocess.run([sys.executable, "-m", "course.cli", "progress", "--workspace", str(folder), "--json"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        display(HTML(f"<p>{_escape(done.stderr.strip() or 'course progress failed')}</p>"))
        return
    progress = from_json(done.stdout)
    display(HTML(f"<pre>{_escape(format_progress(progress))}</pre>"))
    import matplotlib.pyplot as plt

    figure = draw_chart(progress)
    display(figure)
    plt.close(figure)  # shown once: not again by the notebook's backend at the end of the cell


def _escape(text: str) -> str:
    import html

    return html.escape(text)
