"""A class graded into a PostgreSQL gradebook, by one grader or by shards on several machines at once.

Each test starts its own PostgreSQL server (tests/postgres.py) and grades a tiny class of 00_getting_started in the
sandbox; `course grade`, `course feedback` and `course export` find the database through COURSE_DB_URL, which
nbgrader_config.py turns into nbgrader's db_url.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest
import sqlalchemy
from nbgrader.api import Gradebook

from autograder import notebooks as nbs
from autograder.checks.a00_getting_started import CHECKS
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, nbgrader
from autograder.grading.course_grade import in_shard
from autograder.grading.sandbox.worker import bubblewrap_problem
from autograder.instructor.submissions import fill_solutions, with_mistake
from tests import postgres

ASSIGNMENT, NOTEBOOK = "00_getting_started", "getting_started.ipynb"
SLOW_SECONDS = 5
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("postgres"),
              pytest.mark.skipif(postgres.missing_reason() is not None, reason=str(postgres.missing_reason()))]


@pytest.fixture(scope="module")
def server():
    with postgres.server() as running:
        yield running


def environment(url: str) -> dict:
    return dict(os.environ, COURSE_DB_URL=url,
                PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))


def course(command: str, url: str, *args: str) -> subprocess.Popen:
    """`course COMMAND ARGS` as an instructor types it, with the gradebook at url."""
    if command == "grade" and bubblewrap_problem() is not None:
        args = (*args, "--unsafe")  # only where the sandbox cannot run at all
    return subprocess.Popen([sys.executable, "-m", "course.cli", command, *args], cwd=REPO_ROOT, env=environment(url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def finished(process: subprocess.Popen, timeout: float = 300) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-2000:]
    return out


def released_class(folder, url, students: dict[str, str], slow: str | None = None):
    """A course directory with 00_getting_started released into the gradebook at url and one submission per
    student: "right" (the worked solution) or "wrong" (a catalogued mistake); slow's first answer sleeps first."""
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DB_URL", url)
        nbgrader(folder, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    right = fill_solutions(nbs.read_notebook(folder / "release" / ASSIGNMENT / NOTEBOOK), source)
    wrong = with_mistake(right, CHECKS[0].mistakes[0], "rel_error")
    for student, kind in students.items():
        notebook = copy.deepcopy(right if kind == "right" else wrong)
        if student == slow:
            answer = next(c for c in notebook.cells if nbs.is_solution(c) and c.cell_type == "code")
            answer.source = f"import time\ntime.sleep({SLOW_SECONDS})\n" + answer.source
        target = folder / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        nbformat.write(notebook, target / NOTEBOOK)
        (target / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    return folder


def gradebook_contents(url: str) -> dict:
    """Every graded row by what it is about (student, notebook, cell), and the number of rows of each table."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as db:
        counts = {table: db.execute(sqlalchemy.text(f"select count(*) from {table}")).scalar()
                  for table in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")}
    engine.dispose()
    rows = []
    with Gradebook(url) as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                rows += [("grade", submission.student_id, notebook.name, g.name, g.auto_score, g.needs_manual_grade)
                         for g in notebook.grades]
                rows += [("comment", submission.student_id, notebook.name, c.name, c.auto_comment)
                         for c in notebook.comments]
            rows.append(("submission", submission.student_id, str(submission.timestamp)))
    return {"rows": sorted(rows, key=repr), "counts": counts}


def students_in_two_shards():
    """A small class with students in both halves, and the last student (in sorted order) of part 1."""
    names = [f"student{k:02d}" for k in range(6)]
    first = sorted(n for n in names if in_shard(n, (1, 2)))
    assert 2 <= len(first) <= 4, "the hash put almost everyone in one shard; choose other names"
    return {n: ("right" if k % 2 else "wrong") for k, n in enumerate(names)}, first


@pytest.fixture(scope="module")
def graded_by_one(server, tmp_path_factory):
    """The class graded by one `course grade` into its own database: (url, course directory, students)."""
    students, first_part = students_in_two_shards()
    url = server.create_database("one_grader")
    folder = released_class(tmp_path_factory.mktemp("one_grader"), url, students, slow=first_part[-1])
    finished(course("grade", url, ASSIGNMENT, "--course-dir", str(folder), "--jobs", "1"))
    return url, folder, students


def test_grade_feedback_and_export_use_the_postgresql_gradebook(graded_by_one, tmp_path):
    url, folder, students = graded_by_one
    assert not (folder / "gradebook.db").exists(), "graded into SQLite, not PostgreSQL"
    scores = {(row[1], row[3]): row[4] for row in gradebook_contents(url)["rows"] if row[0] == "grade"}
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    assert {cell for _, cell in scores} == {nbs.grade_id(c) for c in source.cells if nbs.is_grade(c)}
    assert len(scores) == len(students) * len({cell for _, cell in scores})
    for student, kind in students.items():
        assert scores[student, "rel_error_tests"] == (2.0 if kind == "right" else 0.0)
        assert scores[student, "numerical_gradient_tests"] == 3.0

    finished(course("feedback", url, ASSIGNMENT, "--course-dir", str(folder)))
    for student in students:
        html = (folder / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
        assert "rel_error" in html and "Score" in html
        # the submission's time reaches the feedback, as `nbgrader release_feedback` needs it
        assert (folder / "feedback" / student / ASSIGNMENT / "timestamp.txt").read_text().startswith("2026-12-01")
    exported = tmp_path / "grades.csv"
    finished(course("export", url, "--course-dir", str(folder), "--to", str(exported)))
    with open(exported) as f:
        by_student = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(by_student) == set(students)
    for student in students:
        total = sum(s or 0.0 for (who, _), s in scores.items() if who == student)
        assert float(by_student[student]["score"]) == total
    assert float(by_student["student01"]["score"]) > float(by_student["student00"]["score"])


def test_two_shards_on_two_machines_with_one_killed_and_resumed_grade_exactly_what_one_grader_does(
        server, graded_by_one, tmp_path):
    """Two machines, each with its own copy of the course directory, grade one half of the class each into one
    PostgreSQL gradebook at the same time; the first is killed mid-run and resumed. The instructor then gathers the
    second machine's autograded/ into their own (docs/deployment.md: `rsync -a`), and feedback is made from it."""
    single_url, single_folder, students = graded_by_one
    _, first_part = students_in_two_shards()
    slow = first_part[-1]   # graded last in part 1: the part is killed while it sleeps, the rest of it saved
    sharded_url = server.create_database("sharded")
    machine = {1: released_class(tmp_path / "instructor", sharded_url, students, slow)}
    machine[2] = tmp_path / "second-machine"
    shutil.copytree(machine[1], machine[2])   # the course directory with submitted/, as copied to another machine

    part = {i: course("grade", sharded_url, ASSIGNMENT, "--course-dir", str(machine[i]), "--jobs", "1",
                      "--shard", f"{i}/2") for i in (1, 2)}
    deadline = time.monotonic() + 300
    while (sum(len(list((machine[i] / "autograded").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}"))) for i in (1, 2))
           < len(students) - 1 and time.monotonic() < deadline):
        time.sleep(0.05)
    assert not (machine[1] / "autograded" / slow).exists() and part[1].poll() is None, \
        "part 1 ended before it could be killed"
    os.killpg(part[1].pid, signal.SIGKILL)
    part[1].wait()
    finished(part[2])
    resumed = finished(course("grade", sharded_url, ASSIGNMENT, "--course-dir", str(machine[1]), "--jobs", "1",
                              "--shard", "1/2"))
    assert f"graded now: 1, already graded: {len(first_part) - 1}" in resumed

    expected, got = gradebook_contents(single_url), gradebook_contents(sharded_url)
    assert got == expected
    assert got["counts"]["submitted_assignment"] == got["counts"]["student"] == len(students)
    grade_cells = [c for c in nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK).cells if nbs.is_grade(c)]
    assert got["counts"]["grade"] == len(grade_cells) * len(students)

    # each machine graded its own students only; gathered, the instructor's autograded/ is one grader's
    graded_on = {i: {p.name for p in (machine[i] / "autograded").iterdir()} for i in (1, 2)}
    assert graded_on[1] == set(first_part) and graded_on[2] == set(students) - set(first_part)
    shutil.copytree(machine[2] / "autograded", machine[1] / "autograded", dirs_exist_ok=True)
    assert (sorted(p.relative_to(machine[1] / "autograded") for p in (machine[1] / "autograded").rglob("*"))
            == sorted(p.relative_to(single_folder / "autograded") for p in (single_folder / "autograded").rglob("*")))
    finished(course("feedback", sharded_url, ASSIGNMENT, "--course-dir", str(machine[1])))
    for student, kind in students.items():
        html = (machine[1] / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
        assert ("Likely mistake" in html) == (kind == "wrong"), student


def test_the_formgrader_lists_the_class_graded_into_postgresql(graded_by_one, tmp_path, monkeypatch):
    """The instructor's formgrader, in a Jupyter server started with COURSE_DB_URL, reads the PostgreSQL gradebook:
    its REST API lists every graded submission with the points `course grade` stored (no SQLite file appears)."""
    import json
    import urllib.request

    from tests.browser.server import JupyterLab

    url, folder, students = graded_by_one
    (folder / "nbgrader_config.py").write_text(  # the server's course directory: this class, the course's sources
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(folder)!r}\n"
        f"c.CourseDirectory.source_directory = {str(SOURCE_ROOT)!r}\n")
    monkeypatch.setenv("COURSE_DB_URL", url)
    lab = JupyterLab(folder, tmp_path / "jupyter-home").start()
    try:
        request = urllib.request.Request(f"{lab.url}/formgrader/api/submissions/{ASSIGNMENT}",
                                         headers={"Authorization": f"token {lab.token}"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            listed = json.loads(answer.read())
    finally:
        lab.stop()
    totals = {}
    for row in gradebook_contents(url)["rows"]:
        if row[0] == "grade":
            totals[row[1]] = totals.get(row[1], 0.0) + (row[4] or 0.0)
    assert {s["student"]: (s["autograded"], s["score"]) for s in listed} == {
        student: (True, totals[student]) for student in students}
    assert len({score for _, score in totals.items()}) == 2  # right and wrong submissions differ
    assert not (folder / "gradebook.db").exists()
