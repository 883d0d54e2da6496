"""The attack and fault catalogue (tests/attacks/catalogue.py) through `course grade`, in one class.

Each attack gets exactly the points it deserves and a reason for what it lost; an honest classmate graded in the
same run keeps full marks; the course files, the gradebook and every other submission are intact afterwards; and
no process an attack started is left running.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import sqlite3
import subprocess
import time

import nbformat
import numpy as np
import pytest
from nbgrader.api import Gradebook

from autograder.grading import engine, course_grade as grading
from course import cli
from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, course_id, nbgrader
from autograder.grading.grader import Timeouts
from autograder.grading.sandbox.worker import OWNER_LABEL, Limits, bubblewrap_problem
from autograder.instructor.submissions import fill_solutions
from tests.attacks.catalogue import CONFIG_PATH, MARKER, ONLY_ATTACKS, PLANTED, attacks

ASSIGNMENT = "00_getting_started"
NOTEBOOK = "getting_started.ipynb"
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("attacks"),
              pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox: {bubblewrap_problem()}")]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(folder):
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def attacked_class(tmp_path_factory):
    course = tmp_path_factory.mktemp("attacked")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    solved = fill_solutions(nbs.read_notebook(course / "release" / ASSIGNMENT / NOTEBOOK), source)
    catalogue = attacks(course)
    if os.environ.get(ONLY_ATTACKS):  # a subset (the run as an unprivileged user, see tests/test_sandbox_isolation.py)
        catalogue = [a for a in catalogue if a.name in os.environ[ONLY_ATTACKS].split(",")]
    for student, notebook in [("honest-classmate", solved)] + [(a.name, a.make(solved, source)) for a in catalogue]:
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        path = folder / NOTEBOOK
        path.write_text(notebook) if isinstance(notebook, str) else nbformat.write(notebook, path)
    for attack in catalogue:
        for name, text in attack.files:
            (course / "submitted" / attack.name / ASSIGNMENT / name).write_text(text)
    before = {"config": digest(CONFIG_PATH), "sources": tree_digest(SOURCE_ROOT / ASSIGNMENT),
              "classmate": tree_digest(course / "submitted" / "honest-classmate")}
    planted = REPO_ROOT / "course" / f"{PLANTED}.py"
    try:
        report = grading.run(course, [ASSIGNMENT], course_id(), jobs=2, progress=False,
                             timeouts=Timeouts(cell_seconds=5, notebook_seconds=60),
                             limits=Limits(memory_bytes=1024 ** 3))
    finally:
        before["planted"] = planted.exists()
        planted.unlink(missing_ok=True)
    yield course, catalogue, report, before


def scores(course, student):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {g.name: g.auto_score for g in
                gradebook.find_submission_notebook(NOTEBOOK[:-6], ASSIGNMENT, student).grades if g.auto_score is not None
                or g.cell.__class__.__name__ == "GradeCell"}


def test_every_attack_gets_exactly_what_it_deserves(attacked_class):
    course, catalogue, report, _ = attacked_class
    wrong = {}
    for attack in catalogue:
        got = {k: v for k, v in scores(course, attack.name).items() if k in attack.deserved}
        if got != attack.deserved:
            wrong[attack.name] = got
    assert not wrong, f"undeserved or lost points: {wrong}"


def test_every_lost_point_has_a_reason(attacked_class):
    _, _, report, _ = attacked_class
    for row in report.rows:
        if row.points is not None and row.points < row.max_points:
            assert row.reason.strip(), f"{row.student}:{row.grade_id} lost points without a reason"


def test_attacks_lose_their_points_to_what_is_meant_to_catch_them(attacked_class):
    """The torch attacks are correct code otherwise: only the process without torch in which functions graded by
    hand are called, or the reading of the source for torch, can fail them."""
    _, catalogue, report, _ = attacked_class
    for attack in (a for a in catalogue if a.reason):
        reasons = [r.reason for r in report.rows if r.student == attack.name and r.points is not None
                   and r.points < r.max_points]
        assert reasons and all(attack.reason in reason for reason in reasons), (attack.name, reasons)


def test_the_honest_classmate_keeps_full_marks(attacked_class):
    course, _, _, before = attacked_class
    assert {k: v for k, v in scores(course, "honest-classmate").items() if k.endswith("_tests")} == \
        {"rel_error_tests": 2.0, "numerical_gradient_tests": 3.0}
    assert tree_digest(course / "submitted" / "honest-classmate") == before["classmate"]


def test_course_files_and_gradebook_are_intact(attacked_class):
    course, _, _, before = attacked_class
    assert not before["planted"], "a submission planted a module in the course package"
    assert digest(CONFIG_PATH) == before["config"]
    assert tree_digest(SOURCE_ROOT / ASSIGNMENT) == before["sources"]
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute("select count(*) from grade where auto_score > 10").fetchone()[0] == 0


def test_no_process_is_left_behind(attacked_class):
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()
    left = [line for line in listing if MARKER in line or OWNER_LABEL in line]  # ours: this process graded
    assert not left, f"still running after grading: {left}"


def test_every_graded_notebook_is_a_valid_notebook(attacked_class):
    course, catalogue, _, _ = attacked_class
    graded = sorted((course / "autograded").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}"))
    assert len(graded) == len(catalogue) + 1
    for path in graded:
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))  # raises ValidationError


def test_output_and_error_text_are_capped_in_bytes(attacked_class):
    """Also when the student's process raises its own cap: the grader caps what it receives."""
    course, _, report, _ = attacked_class
    for student in ("100-mb-of-output", "raises-the-output-cap-from-inside", "error-text-of-megabytes"):
        assert (course / "autograded" / student / ASSIGNMENT / NOTEBOOK).stat().st_size < 1024 ** 2, student
    assert max(len(row.reason) for row in report.rows) <= grading.REASON_CHARACTERS
    assert [r for r in report.rows if r.student == "reply-of-many-small-values" and "over the limit" in r.reason]
    csv_path, _ = grading.write_reports(report, course / "reports")
    with open(csv_path, newline="") as f:
        assert len(list(csv.DictReader(f))) == len(report.rows)  # Python's csv reader takes every reason field


def test_unsafe_mode_is_refused_without_a_sandbox(monkeypatch, tmp_path):
    import autograder.grading.sandbox.worker as worker
    from autograder.course_dir import CourseError

    monkeypatch.setattr(worker, "bubblewrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    (tmp_path / "submitted").mkdir()
    with pytest.raises(CourseError, match="--unsafe"):
        grading.run(tmp_path, [ASSIGNMENT], course_id(), progress=False)


def solution_lines(source) -> set[str]:
    """Every line of every solution and model-answer block of the source notebook (long enough to be telling)."""
    lines = set()
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker.startswith("### BEGIN SOLUTION"):
                inside = True
            elif marker.startswith("### END SOLUTION"):
                inside = False
            elif inside and len(marker) >= 12:
                lines.add(marker)
    return lines


def page_text(path) -> str:
    """The text a feedback page shows (tags removed, entities decoded), for searching it."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_no_solution_reaches_a_graded_notebook_or_a_feedback_page(attacked_class, feedback):
    """A solution line in a graded notebook or a feedback page is a leak unless the student submitted it (the honest
    classmate did)."""
    course, catalogue, _, _ = attacked_class
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    released = "\n".join(c.source for c in engine.release_version(source).cells)
    solutions = {line for line in solution_lines(source) if line not in released}  # not a line the stub has too
    assert solutions
    leaks = {}
    for student in [a.name for a in catalogue] + ["honest-classmate"]:
        submitted = (course / "submitted" / student / ASSIGNMENT / NOTEBOOK).read_text()
        try:
            submitted = json.dumps(json.loads(submitted))  # escaped as the graded notebook will be below
        except ValueError:
            pass
        for path in (course / "autograded" / student / ASSIGNMENT / NOTEBOOK, feedback_page(course, student)):
            shown = json.dumps(json.loads(path.read_text())) if path.suffix == ".ipynb" else page_text(path)
            found = [line for line in solutions if (json.dumps(line)[1:-1] if path.suffix == ".ipynb" else line)
                     in shown and json.dumps(line)[1:-1] not in submitted]
            if found:
                leaks[f"{student}: {path.name}"] = found
    assert not leaks


def feedback_page(course, student):
    return course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")


@pytest.fixture(scope="module")
def feedback(attacked_class):
    """`course feedback` for the whole attacked class: its exit status."""
    return cli.main(["feedback", ASSIGNMENT, "--course-dir", str(attacked_class[0])])


def test_every_student_gets_feedback(attacked_class, feedback):
    course, catalogue, _, _ = attacked_class
    missing = [s for s in [a.name for a in catalogue] + ["honest-classmate"] if not feedback_page(course, s).is_file()]
    assert not missing and feedback == 0


def test_feedback_pages_run_no_script_of_a_student(attacked_class, feedback):
    course = attacked_class[0]
    page = feedback_page(course, "script-in-markdown").read_text()
    assert MARKER in page  # the student's text is shown, as text
    assert not re.search(r"<script[^>]*>\s*document\.title", page)
    assert not re.search(r"<img[^>]*onerror", page, re.IGNORECASE)


def test_a_malformed_timestamp_is_that_students_problem_reported(attacked_class):
    _, _, report, _ = attacked_class
    assert [p for p in report.problems if "malformed-timestamp" in p and "timestamp.txt" in p]
    assert all("malformed-timestamp" in p for p in report.problems)


def test_a_run_that_cannot_finish_says_why_and_fails(attacked_class, monkeypatch):
    """A worker that dies (as no submission can make it do) stops the run with a reason; the CLI exits non-zero."""
    import os

    from autograder.course_dir import CourseError

    course = attacked_class[0]
    monkeypatch.setattr(grading, "grade_task", lambda task: os._exit(3))  # the forked workers inherit it
    with pytest.raises(CourseError, match="a worker failed"):
        grading.run(course, [ASSIGNMENT], course_id(), jobs=1, force=True, progress=False,
                    students=["honest-classmate"], limits=Limits(memory_bytes=1024 ** 3))


def test_hidden_test_seeds_are_the_students_own_and_stable(attacked_class):
    """Each student's hidden tests draw other inputs, from the course's secret (kept in the course directory, for
    its owner only): the same in every regrading, unknown to anyone without the secret."""
    import stat

    from autograder.checks.framework import grading_seeds
    from autograder.checks.a00_getting_started import check_rel_error

    course = attacked_class[0]
    secret = grading.seed_secret(course)
    assert secret == grading.seed_secret(course) and len(secret) == 32
    assert stat.S_IMODE((course / grading.SEED_SECRET_FILE).stat().st_mode) == 0o600
    seeds = {}
    for student in ("ada", "bob"):
        with grading_seeds(grading.student_seed_key(secret, student)):
            seeds[student] = _inputs_seen(check_rel_error)
    assert seeds["ada"] != seeds["bob"]
    with grading_seeds(grading.student_seed_key(secret, "ada")):
        assert _inputs_seen(check_rel_error) == seeds["ada"]
    assert _inputs_seen(check_rel_error) not in (seeds["ada"], seeds["bob"])  # outside grading: seed 0


def test_no_hidden_input_reaches_a_graded_notebook_or_a_feedback_page(attacked_class, feedback):
    """Hidden-test inputs are the student's own and stable: printed back to the student (by the student's function,
    in its output or in the text of its exception) they would make a table of answers possible. No value of them
    may appear in what the student gets back."""
    from autograder.checks.a00_getting_started import check_rel_error
    from autograder.checks.framework import grading_seeds

    course = attacked_class[0]
    student = "prints-and-raises-its-hidden-inputs"
    with grading_seeds(grading.student_seed_key(grading.seed_secret(course), student)):
        inputs = _arrays_seen(check_rel_error)
    values = {repr(float(v)) for array in inputs for v in np.ravel(array) if v != round(v)}
    assert values
    for path in (course / "autograded" / student / ASSIGNMENT / NOTEBOOK, feedback_page(course, student)):
        text = path.read_text()
        assert "inputs:" in text  # the visible checks' inputs, which the student knows, are shown
        shown = sorted(v for v in values if v in text)
        assert not shown, f"{path.name} shows {len(shown)} values of the hidden inputs"


def _arrays_seen(chk) -> list:
    """The arrays a check passes to rel_error until its first failure (a rel_error that fails at once)."""
    from autograder.checks.framework import CheckFailed

    seen = []

    def rel_error(a, b):
        seen.extend([np.asarray(a), np.asarray(b)])
        raise ValueError("no")

    try:
        chk(rel_error)
    except CheckFailed:
        pass
    return seen


def _inputs_seen(chk) -> list[bytes]:
    from autograder.checks.framework import CheckFailed

    seen = []

    def rel_error(a, b):
        seen.append(np.asarray(a).tobytes() + np.asarray(b).tobytes())
        return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))

    try:
        chk(rel_error)
    except CheckFailed:
        pass
    return seen


def test_a_fork_bomb_fails_its_notebook_and_spares_the_class_when_root_has_no_pids_cgroup(tmp_path, monkeypatch):
    """root where no pids cgroup can be made: the sandbox's process limit holds all the same (worker.as_sandbox_owner),
    the bomb's notebook fails, and the classmates graded before and after it in the same sandbox keep full marks."""
    from autograder.grading.sandbox import worker
    from tests.attacks.catalogue import FULL, fork_bomb, with_extra_cell

    if os.geteuid() != 0:
        pytest.skip("not root: RLIMIT_NPROC binds this user already (the unprivileged run shows it)")
    monkeypatch.setattr(worker, "pids_cgroup", lambda limit: None)  # the forked workers inherit it
    limit = 48
    course = tmp_path / "class"
    course.mkdir()
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    solved = fill_solutions(nbs.read_notebook(course / "release" / ASSIGNMENT / NOTEBOOK), source)
    bomb = fork_bomb(limit) + "print(f'{in_sandbox} processes')\nraise RuntimeError('the bomb went off')\n"
    class_ = {"a-classmate": solved, "b-fork-bomb": with_extra_cell(bomb)(solved, source), "c-classmate": solved}
    for student, notebook in class_.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / NOTEBOOK)
    report = grading.run(course, [ASSIGNMENT], course_id(), jobs=1, progress=False,
                         timeouts=Timeouts(cell_seconds=30, notebook_seconds=90),
                         limits=Limits(memory_bytes=1024 ** 3, processes=limit))
    for student in class_:
        assert {k: v for k, v in scores(course, student).items() if k in FULL} == FULL, student
    graded = nbs.read_notebook(course / "autograded" / "b-fork-bomb" / ASSIGNMENT / NOTEBOOK)
    outputs = [o for c in graded.cells if c.cell_type == "code" and "fork" in c.source for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("ename") == "RuntimeError"], outputs  # its notebook failed
    counted = [int(m) for o in outputs for m in re.findall(r"(\d+) processes", o.get("text", ""))]
    assert counted and counted[0] <= limit, f"{counted} processes in a sandbox limited to {limit}"
    assert not report.problems
    deadline = time.monotonic() + 10  # the sandbox is closed: its processes, all of its owner's uid, go
    while _processes_of(worker.SANDBOX_OWNER_UID) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_of(worker.SANDBOX_OWNER_UID)


def _processes_of(uid: int) -> list[int]:
    from pathlib import Path

    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]


def _owner(proc) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None
