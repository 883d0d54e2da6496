"""`course grade` survives being killed: run again, it finishes what is left with no grade lost or duplicated;
regrading one student replaces their grades as a whole; the report and the progress are there."""

from __future__ import annotations

import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, nbgrader
from autograder.grading.sandbox.worker import bubblewrap_problem
from autograder.instructor.submissions import fill_solutions, with_mistake
from autograder.checks.a00_getting_started import CHECKS

ASSIGNMENT, NOTEBOOK = "00_getting_started", "getting_started.ipynb"
STUDENTS = 16
SLOW_SECONDS = 5
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("resume")]


def course_grade(course, *extra):
    flags = [] if bubblewrap_problem() is None else ["--unsafe"]
    temporary = course / "tmp"  # its own temporary folder, to see what a killed run leaves there
    temporary.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "course.cli", "grade", ASSIGNMENT, "--course-dir", str(course),
                             "--jobs", "2", *flags, *extra], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, TMPDIR=str(temporary)))


@pytest.fixture
def small_class(tmp_path):
    nbgrader(tmp_path, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    solved = fill_solutions(nbs.read_notebook(tmp_path / "release" / ASSIGNMENT / NOTEBOOK), source)
    mistake = with_mistake(solved, CHECKS[0].mistakes[0], "rel_error")
    # the first student's notebook takes a few seconds: a run killed once the others are saved is killed mid-way
    slow = copy.deepcopy(mistake)
    first_answer = next(c for c in slow.cells if nbs.is_solution(c) and c.cell_type == "code")
    first_answer.source = f"import time\ntime.sleep({SLOW_SECONDS})\n" + first_answer.source
    for k in range(STUDENTS):
        folder = tmp_path / "submitted" / f"s{k:02d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(slow if k == 0 else solved if k % 2 else mistake, folder / NOTEBOOK)
    return tmp_path


def gradebook_rows(course):
    """(student, grade cell, auto score) for every grade in the gradebook."""
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                rows += [(submission.student_id, g.name, g.auto_score) for g in notebook.grades]
    with sqlite3.connect(course / "gradebook.db") as db:  # and no stray rows behind the API's back
        assert db.execute("select count(*) from grade").fetchone()[0] == len(rows)
    return sorted(rows)


def graded_count(course):
    return len(list((course / "autograded").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}")))


def test_killed_run_resumes_without_losing_or_duplicating_grades(small_class):
    first = course_grade(small_class)
    deadline = time.monotonic() + 300
    while graded_count(small_class) < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert graded_count(small_class) < STUDENTS, "the run finished before it could be killed; grow the class"
    if bubblewrap_problem() is None:  # the sandbox's files are bound, not copied: a killed run leaves nothing behind
        assert list((small_class / "tmp").glob("course-sandbox-*")) == []
    second = course_grade(small_class)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert "already graded:" in out and graded_count(small_class) == STUDENTS
    rows = gradebook_rows(small_class)
    keys = [(student, cell) for student, cell, _ in rows]
    assert len(keys) == len(set(keys)) == STUDENTS * 3   # three grade cells each, none twice
    for student, cell, score in rows:
        number = int(student[1:])
        if cell == "rel_error_tests":
            assert score == (2.0 if number % 2 else 0.0), student
        if cell == "numerical_gradient_tests":
            assert score == 3.0, student
    report = json.loads((small_class / "reports" / "grades.json").read_text())
    assert len(report) == STUDENTS * 3


def test_regrading_one_student_replaces_their_grades(small_class):
    assert course_grade(small_class).wait(timeout=600) == 0
    before = gradebook_rows(small_class)
    fixed = small_class / "submitted" / "s00" / ASSIGNMENT / NOTEBOOK
    fixed.write_text((small_class / "submitted" / "s01" / ASSIGNMENT / NOTEBOOK).read_text())
    rerun = course_grade(small_class, "--student", "s00")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    after = gradebook_rows(small_class)
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    assert changed == [(("s00", "rel_error_tests", 0.0), ("s00", "rel_error_tests", 2.0))]
    assert "graded now: 1" in out
    assert "grading" in err  # the progress bar (done/total, failures, ETA) goes to stderr


@pytest.mark.parametrize("gradebook", ["none", "without the assignment"])
def test_an_assignment_not_released_stops_the_run_before_anything_is_written(tmp_path, gradebook):
    """The sandboxes start before the gradebook opens: a course folder with no gradebook, or one that does not know
    the assignment, still ends the run with one line, a non-zero exit, and nothing written."""
    folder = tmp_path / "submitted" / "s00" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK), folder / NOTEBOOK)
    says = "there is no gradebook in"
    if gradebook != "none":
        nbgrader(tmp_path, "db", "assignment", "add", "another_assignment", quiet=True)
        says = f"assignment {ASSIGNMENT} is not in the gradebook: release it first"
    run = course_grade(tmp_path)
    out, err = run.communicate(timeout=300)
    assert run.returncode != 0
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert graded_count(tmp_path) == 0 and not (tmp_path / "autograded").exists()
    assert (tmp_path / "gradebook.db").exists() == (gradebook != "none")
    if gradebook != "none":
        with sqlite3.connect(tmp_path / "gradebook.db") as db:
            assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == 0
