"""`course report` and `course similar` after the real `course grade`, on a small class of 00_getting_started: the
worked solution, two students with the same catalogued mistake, one who copied with renamed variables, the
untouched release, and a notebook that cannot be graded (which is named in one line, and left out)."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest

from autograder import notebooks as nbs
from autograder.checks.a00_getting_started import CHECKS
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, nbgrader
from autograder.grading.sandbox.worker import bubblewrap_problem
from autograder.instructor.submissions import fill_solutions, renamed_variables, with_mistake
from course.cli import main

ASSIGNMENT, NOTEBOOK = "00_getting_started", "getting_started.ipynb"
# one xdist group: the graded class is made once, on one worker
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("instructor_pipeline")]


def course(*args):
    """`course grade` in its own process, as an instructor runs it; report and similar in this one (cheaper)."""
    if args[0] == "grade":
        return subprocess.run([sys.executable, "-m", "course.cli", *args], capture_output=True, text=True,
                              cwd=REPO_ROOT)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return SimpleNamespace(returncode=status, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course_dir = tmp_path_factory.mktemp("course")
    nbgrader(course_dir, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    release = nbs.read_notebook(course_dir / "release" / ASSIGNMENT / NOTEBOOK)
    solved = fill_solutions(release, source)
    mistake = CHECKS[1].mistakes[1]  # numerical_gradient divided by h instead of 2h
    copied = copy.deepcopy(solved)
    for cell in copied.cells:
        if nbs.is_solution(cell) and cell.cell_type == "code":
            cell.source = renamed_variables(cell.source)
    submissions = {"solution": solved, "untouched": release, "copier": copied,
                   "mistake-1": with_mistake(solved, mistake, "numerical_gradient"),
                   "mistake-2": with_mistake(solved, mistake, "numerical_gradient")}
    for student, notebook in [*submissions.items(), ("broken", None)]:
        folder = course_dir / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        if notebook is None:
            (folder / NOTEBOOK).write_text('{"cells": [')
        else:
            nbformat.write(notebook, folder / NOTEBOOK)
    before = course("report", ASSIGNMENT, "--course-dir", str(course_dir))
    flags = [] if bubblewrap_problem() is None else ["--unsafe"]
    graded = course("grade", ASSIGNMENT, "--course-dir", str(course_dir), "--jobs", "2", *flags)
    assert graded.returncode == 0, graded.stderr
    return course_dir, mistake, before


def test_report_before_grading_says_so(graded_course):
    _, _, before = graded_course
    assert before.returncode == 1
    assert before.stderr.strip().splitlines() == [
        f"course report: {ASSIGNMENT}: 6 of 6 submissions are not graded yet (first: broken); "
        f"run course grade {ASSIGNMENT} first"]


def test_report_after_course_grade(graded_course):
    course_dir, mistake, _ = graded_course
    result = course("report", ASSIGNMENT, "--course-dir", str(course_dir))
    assert result.returncode == 1  # one notebook could not be graded: named in one line, left out
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken/getting_started.ipynb" in lines[0] and "left out" in lines[0]
    assert f"40 % of the class: {mistake.message}" in result.stdout  # 2 of the 5 graded students
    folder = course_dir / "reports" / ASSIGNMENT
    page = (folder / "report.html").read_text()
    assert "5 students graded" in page and "broken/getting_started.ipynb" in page
    with open(folder / "outcomes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows} == {"solution", "untouched", "copier", "mistake-1", "mistake-2"}
    by = {(r["student"], r["exercise"]): r for r in rows}
    assert by["mistake-1", "numerical_gradient_tests"]["mistake"] == mistake.message
    assert by["mistake-1", "numerical_gradient_tests"]["points"] == "0"
    assert by["untouched", "rel_error_tests"]["no_response"] == "yes"
    assert by["copier", "rel_error_tests"]["points"] == "2" and not by["copier", "rel_error_tests"]["mistake"]


def test_similar_after_course_grade(graded_course):
    course_dir, _, _ = graded_course
    result = course("similar", ASSIGNMENT, "--course-dir", str(course_dir), "--min-tokens", "50")
    assert result.returncode == 1  # the broken notebook cannot be read: named in one line
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken/getting_started.ipynb" in lines[0]
    with open(course_dir / "reports" / ASSIGNMENT / "similar.csv", newline="") as f:
        pairs = {(r["student_a"], r["student_b"]) for r in csv.DictReader(f)}
    assert ("copier", "solution") in pairs and not any("untouched" in p for p in pairs)
