"""Check your work inside the notebook, in a second: the hidden checks of the exercises you have defined so far.

In a cell of a course notebook (self-study, from a clone of the course)::

    from course.self_check import check; check()      # every exercise this kernel has defined
    check("batchnorm_forward")                          # one exercise: a function's name, or a test cell's id

or, where the %check magic is loaded (the kernels of `course lab`'s JupyterLab load it; elsewhere
`%load_ext course.self_check`)::

    %check
    %check batchnorm_forward

The result shows as a table (exercise, points, message) under the cell. The checks are the ones `course grade`
uses, with the same messages, run in this kernel on a copy of your names: your variables stay as they were. They
come from the course's source notebooks, so they exist only in a clone of the course with its instructor tools
(`make setup`); in a class's environment the instructor grades the notebook, and `check()` says so in one sentence.
"""

from __future__ import annotations

import html
import inspect
import json
import os
from pathlib import Path

INSTRUCTOR_GRADES = ("Your instructor grades this notebook (the hidden checks are not part of this install): "
                     "run its visible checks and Validate it before you submit.")
NOTEBOOK_HINTS = ("JPY_SESSION_NAME",)  # set by Jupyter's server for a notebook's kernel: the notebook's path
NAMESPACE_HINTS = ("__session__", "__vsc_ipynb_file__")  # ipykernel's copy of it; VS Code's


class Note:
    """One sentence shown instead of a table."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text)}</p>"


class Report:
    """A self-check's table: shows as HTML in a notebook and as text elsewhere."""

    def __init__(self, result):
        self.result = result  # autograder.self_study.self_check.SelfCheck

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """(exercise, points, message) of each graded cell that ran, then of those the kernel cannot run yet."""
        rows = [(c.grade_id, f"{c.points:g}/{c.max_points:g}", c.message or "ok") for c in self.result.grade.cells]
        rows += [(cell.grade_id, f"-/{cell.points:g}", "not run yet: define " + ", ".join(missing) + " first")
                 for cell, missing in self.result.not_defined]
        return rows

    @property
    def points(self) -> float:
        return self.result.grade.auto_points

    @property
    def max_points(self) -> float:
        return self.result.grade.auto_max

    def summary(self) -> str:
        grade, waiting = self.result.grade, self.result.not_defined
        text = f"{grade.auto_points:g} of {grade.auto_max:g} points in {len(grade.cells)} checked cell(s)"
        if waiting:
            text += f"; {len(waiting)} cell(s) ({sum(c.points for c, _ in waiting):g} points) not run yet"
        return text

    def __repr__(self) -> str:
        rows = [("exercise", "points", "message"), *self.rows]
        width = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [self.result.title, ""]
        for name, points, message in rows:
            first, *rest = message.split("\n")
            lines.append(f"{name.ljust(width[0])}  {points.ljust(width[1])}  {first}")
            lines += [" " * (width[0] + width[1] + 4) + line for line in rest]
        return "\n".join(lines + ["", self.summary()])

    def _repr_html_(self) -> str:
        colour = {True: "#1a7f37", False: "#b42318", None: "#6e7781"}
        body = []
        for (name, points, message), passed in zip(self.rows, self._passed()):
            body.append(f'<tr><td style="text-align:left"><code>{html.escape(name)}</code></td>'
                        f'<td style="text-align:right;color:{colour[passed]};font-weight:bold">{points}</td>'
                        f'<td style="text-align:left;white-space:pre-wrap">{html.escape(message)}</td></tr>')
        return (f'<div class="course-self-check"><p><b>{html.escape(self.result.title)}</b></p>'
                '<table><thead><tr><th style="text-align:left">exercise</th><th>points</th>'
                '<th style="text-align:left">message</th></tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table><p>{html.escape(self.summary())}</p></div>')

    def _passed(self) -> list[bool | None]:
        return ([c.points == c.max_points for c in self.result.grade.cells]
                + [None] * len(self.result.not_defined))


def check(exercise: str | None = None, notebook: str | Path | None = None):
    """Run the hidden checks of every exercise defined so far (or of one) in this kernel; returns a Report.

    exercise: a function's name (every test cell that checks it) or a test cell's grade id.
    notebook: the notebook this runs in, when Jupyter does not say (its graded cells tell the assignment).
    """
    namespace = inspect.currentframe().f_back.f_globals  # the notebook's names (a kernel runs cells in them)
    return report_for(namespace, exercise, notebook)


def report_for(namespace: dict, exercise: str | None = None, notebook: str | Path | None = None):
    """check() on the names of a namespace (a kernel's user namespace): a Report, or a Note saying what stops it."""
    try:
        from autograder import notebooks as nbs
        from autograder.self_study import self_check
    except ImportError:
        return Note(INSTRUCTOR_GRADES)
    try:
        path = Path(notebook) if notebook else _running_notebook(namespace)
        if path is not None:
            if not path.is_file():
                return Note(f"{path}: no such notebook")
            ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                   for c in json.loads(path.read_text(encoding="utf-8")).get("cells", [])]
            source = self_check.find_source(ids)
        else:
            source = self_check.source_for_names(namespace)
        return Report(self_check.check_namespace(namespace, source, exercise))
    except (nbs.NotebookError, ValueError, OSError) as error:
        return Note(str(error))


def _running_notebook(namespace: dict) -> Path | None:
    """The notebook file of this kernel, where Jupyter (or VS Code) says which it is."""
    candidates = [os.environ.get(k) for k in NOTEBOOK_HINTS] + [namespace.get(k) for k in NAMESPACE_HINTS]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            # a path relative to the server's root: the kernel runs in the notebook's folder
            for path in (Path(candidate), Path.cwd() / Path(candidate).name):
                if path.is_file():
                    return path
    return None


def load_ipython_extension(ipython) -> None:
    """`%load_ext course.self_check`: the line magic `%check [EXERCISE]`, which shows what check(EXERCISE) returns."""

    def percent_check(line: str) -> None:
        """%check [EXERCISE]: the hidden checks of the exercises this kernel defines (or of one: a function's name or
        a test cell's id), as course.self_check.check() runs them."""
        from IPython.display import display

        display(report_for(ipython.user_ns, line.strip() or None))

    ipython.register_magic_function(percent_check, magic_kind="line", magic_name="check")
