"""Self-study checks in the learner's own process (autograder.self_study.self_check, course.self_check)
against `course grade`.

On the demo class's notebooks (autograder.instructor.demo: the solution, the untouched release, catalogued mistakes) the
in-kernel check and `course check`'s in-process grading give every test cell the points that `course grade`'s
grader (the learner's code in the sandbox, the verdicts outside it) gives it; and that grader, which skips the
experiments, gives the solution every point (no graded cell needs an experiment), and the untouched release none.
"""

from __future__ import annotations

import contextlib
import io
import sys

import nbformat
import numpy as np
import pytest

from autograder.instructor import demo
from autograder.grading import engine, grader
from autograder import notebooks as nbs
from autograder.self_study import self_check
from autograder.course_dir import SOURCE_ROOT, check_module
from autograder.grading.sandbox.worker import Sandbox, bubblewrap_problem
from course import self_check as front
from tests.conftest import per_assignment, solution_namespace


def write_release(assignment: str, folder):
    """The student version of each notebook of an assignment, as nbgrader releases it, into folder."""
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        release = engine.release_version(nbs.read_notebook(path))
        for cell in release.cells:
            if nbs.is_test(cell):
                cell.source = nbs.remove_hidden_tests(cell.source)
        nbformat.write(release, folder / path.name)


def kernel_namespace(submission) -> dict:
    """The names a kernel has after the learner ran every cell (their test cells hold the visible checks only)."""
    namespace = {"__name__": "__main__"}
    for cell in submission.cells:
        if cell.cell_type == "code" and not nbs.is_experiment(cell):
            self_check.run_cell(cell.source, "cell", namespace)
    return namespace


def auto_points(grade: engine.NotebookGrade) -> dict[str, float]:
    return {c.grade_id: c.points for c in grade.cells if not c.manual}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a catalogued mistake may divide by zero
@pytest.mark.parametrize("assignment", per_assignment())
def test_self_check_gives_the_points_of_course_grade_on_the_demo_class(assignment, tmp_path):
    write_release(assignment, tmp_path)
    students = demo.demo_submissions(assignment, tmp_path)
    unsafe = bubblewrap_problem() is not None
    with Sandbox(unsafe=unsafe) as sandbox:
        for student, notebooks in students.items():
            for name, submission in notebooks.items():
                source_path = SOURCE_ROOT / assignment / name
                source = nbs.read_notebook(source_path)
                graded, _ = grader.grade_notebook(sandbox, submission, source)
                if student == "demo-solution":  # course grade skips experiments: no graded cell may need one
                    lost = [(c.grade_id, c.points, c.message) for c in graded.cells
                            if not c.manual and c.points != c.max_points]
                    assert not lost, f"{name}: the solution, its experiments skipped, loses points: {lost}"
                if student == "demo-untouched":  # the release as it is handed out earns nothing, and grades
                    assert graded.cells and graded.auto_max > 0, f"{name}: no autograded cells"
                    assert graded.auto_points == 0, [(c.grade_id, c.points) for c in graded.cells if c.points]
                expected = auto_points(graded)
                tested = {nbs.grade_id(c) for c in source.cells if nbs.is_test(c)}
                with contextlib.redirect_stdout(io.StringIO()):
                    here = self_check.grade_here(submission, source, workdir=tmp_path)
                    found = self_check.find_source(nbs.grade_id(c) for c in submission.cells)
                    in_kernel = self_check.check_namespace(kernel_namespace(submission), found)
                assert auto_points(here) == expected, f"{student}/{name}: course check"
                assert in_kernel.not_defined == [], f"{student}/{name}"
                tests = {gid: points for gid, points in expected.items() if gid in tested}
                assert auto_points(in_kernel.grade) == tests, f"{student}/{name}: in-kernel check"


# --- course.self_check.check in a notebook's names ------------------------------------------------------------

ASSIGNMENT = "00_getting_started"


def learner_names(**replaced) -> dict:
    """A kernel's names after the worked solution of 00_getting_started ran, some functions replaced."""
    namespace = dict(solution_namespace(ASSIGNMENT), __name__="__main__")
    namespace.update(replaced)
    return namespace


def run_check(namespace: dict, line: str = "check()"):
    exec(f"from course.self_check import check\nresult = {line}", namespace)
    return namespace.pop("result")


def test_check_gives_full_points_for_the_solution_and_leaves_the_learners_names_alone():
    namespace = learner_names()
    before, state = dict(namespace), np.random.get_state()[1].copy()
    report = run_check(namespace)
    assert report.max_points > 0 and report.points == report.max_points
    assert {row[2] for row in report.rows} == {"ok"}
    assert namespace.keys() - {"check"} == before.keys()
    assert all(namespace[k] is before[k] for k in before)
    assert (np.random.get_state()[1] == state).all()
    assert ASSIGNMENT in repr(report) and "<table>" in report._repr_html_()


def test_check_of_one_exercise_names_a_catalogued_mistake():
    mistake = check_module(ASSIGNMENT).REL_ERROR_MISTAKES[0]
    report = run_check(learner_names(rel_error=mistake.implementation), 'check("rel_error")')
    assert [row[0] for row in report.rows] == [c.grade_id for c in front_source().test_cells
                                               if "rel_error" in c.functions]
    assert report.points == 0
    assert mistake.message in report.rows[0][2]


def test_check_runs_what_the_kernel_defines_and_lists_the_rest():
    namespace = learner_names()
    del namespace["numerical_gradient"]
    report = run_check(namespace)
    waiting = [row for row in report.rows if row[2].startswith("not run yet")]
    assert waiting and all("numerical_gradient" in row[2] for row in waiting)
    assert report.points == report.max_points > 0


def test_check_finds_the_notebook_jupyter_names(tmp_path, monkeypatch):
    write_release(ASSIGNMENT, tmp_path)
    (notebook,) = tmp_path.glob("*.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    report = run_check(learner_names())
    assert report.result.title == f"{ASSIGNMENT}/{notebook.name}"
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "renamed.ipynb"))  # gone: the names tell
    assert run_check(learner_names()).result.title == f"{ASSIGNMENT}/{notebook.name}"


def test_check_of_an_unknown_exercise_lists_the_exercises():
    note = run_check(learner_names(), 'check("no_such_function")')
    assert isinstance(note, front.Note)
    assert "no exercise 'no_such_function'" in repr(note) and "rel_error" in repr(note)


def front_source():
    (path,) = nbs.assignment_notebooks(SOURCE_ROOT, ASSIGNMENT)
    return self_check.load_source(ASSIGNMENT, path)


# --- the %check magic -----------------------------------------------------------------------------------------

class Shell:
    """What load_ipython_extension uses of IPython's shell: the user's names and a place for magics."""

    def __init__(self, user_ns: dict):
        self.user_ns, self.magics = user_ns, {}

    def register_magic_function(self, function, magic_kind, magic_name):
        assert magic_kind == "line"
        self.magics[magic_name] = function


def run_magic(namespace: dict, line: str, monkeypatch) -> list:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    shell = Shell(namespace)
    front.load_ipython_extension(shell)
    assert shell.magics["check"](line) is None  # shown, not returned: it shows wherever it is in a cell
    return shown


def test_the_check_magic_does_what_check_does(monkeypatch):
    mistake = check_module(ASSIGNMENT).REL_ERROR_MISTAKES[0]
    namespace = learner_names(rel_error=mistake.implementation)
    (report,) = run_magic(namespace, " rel_error ", monkeypatch)
    expected = run_check(learner_names(rel_error=mistake.implementation), 'check("rel_error")')
    assert report.rows == expected.rows and report.points == 0 and mistake.message in report.rows[0][2]
    (whole,) = run_magic(learner_names(), "", monkeypatch)
    assert whole.rows == run_check(learner_names()).rows and whole.points == whole.max_points > 0


def test_the_check_magic_in_a_student_install_says_the_instructor_grades(monkeypatch):
    monkeypatch.setitem(sys.modules, "autograder", None)  # the student package has no hidden checks
    (note,) = run_magic(learner_names(), "rel_error", monkeypatch)
    assert isinstance(note, front.Note) and repr(note) == front.INSTRUCTOR_GRADES
    assert isinstance(run_check(learner_names()), front.Note)
