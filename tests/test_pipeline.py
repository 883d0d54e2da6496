"""The pipeline end to end on the demo class: stock nbgrader releases, `course grade` grades into the gradebook,
stock nbgrader writes feedback and exports; stock `nbgrader autograde` on the same submissions, and the course's
notebook engine, agree with `course grade` cell by cell."""

from __future__ import annotations

import csv
import re
import shutil

import pytest
from nbgrader.api import Gradebook

from autograder.instructor import demo
from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, nbgrader

ASSIGNMENT = "00_getting_started"
pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("demo")]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "course"
    demo.run(out, [ASSIGNMENT])
    return out


def test_demo_grades_range_from_nothing_to_everything(demo_dir):
    with open(demo_dir / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    source = nbs.read_notebook(next((SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb")))
    auto_max = sum(nbs.points(c) for c in source.cells if nbs.is_test(c))
    assert float(rows["demo-solution"]["raw_score"]) == auto_max
    assert float(rows["demo-untouched"]["raw_score"]) == 0
    for k in range(1, demo.MISTAKE_STUDENTS + 1):
        assert 0 < float(rows[f"demo-mistakes-{k}"]["raw_score"]) < auto_max
    assert (demo_dir / "scores.png").stat().st_size > 1000


def test_demo_writes_the_class_report_and_lists_the_copy(demo_dir):
    folder = demo_dir / "reports" / ASSIGNMENT
    assert "of the class:" in (folder / "report.html").read_text()
    with open(folder / "similar.csv", newline="") as f:
        assert demo.COPYING_PAIR in {(r["student_a"], r["student_b"]) for r in csv.DictReader(f)}


def test_feedback_names_the_mistakes_and_hides_the_tests(demo_dir):
    for k in range(1, demo.MISTAKE_STUDENTS + 1):
        (page,) = (demo_dir / "feedback" / f"demo-mistakes-{k}" / ASSIGNMENT).glob("*.html")
        text = page.read_text()
        assert "Likely mistake:" in text
        for secret in (nbs.HIDDEN_BEGIN, "from autograder", "framework.py"):
            assert secret not in text, f"feedback of demo-mistakes-{k} shows {secret!r}"


def test_course_grade_agrees_with_stock_nbgrader_autograde(demo_dir, tmp_path):
    stock = tmp_path / "stock"
    stock.mkdir()
    for part in ("submitted", "release", "gradebook.db"):
        copy = shutil.copytree if (demo_dir / part).is_dir() else shutil.copy2
        copy(demo_dir / part, stock / part)
    nbgrader(stock, "autograde", ASSIGNMENT, "--force", quiet=True)
    source_path = next((SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))
    cells = [nbs.grade_id(c) for c in nbs.read_notebook(source_path).cells if nbs.is_grade(c)]
    answers = [nbs.grade_id(c) for c in nbs.read_notebook(source_path).cells if nbs.is_solution(c)]
    with Gradebook(f"sqlite:///{demo_dir / 'gradebook.db'}") as ours, \
            Gradebook(f"sqlite:///{stock / 'gradebook.db'}") as theirs:
        students = [s.id for s in ours.students]
        assert len(students) == 2 + demo.MISTAKE_STUDENTS + len(demo.COPYING_PAIR)
        for student in students:
            for cell in cells:
                mine = ours.find_grade(cell, source_path.stem, ASSIGNMENT, student)
                stock_grade = theirs.find_grade(cell, source_path.stem, ASSIGNMENT, student)
                assert (mine.auto_score, mine.needs_manual_grade) == \
                    (stock_grade.auto_score, stock_grade.needs_manual_grade), f"{student}:{cell}"
            for cell in answers:  # "No response." on an answer left as released, as in the formgrader after stock
                mine = ours.find_comment(cell, source_path.stem, ASSIGNMENT, student).auto_comment
                stock_comment = theirs.find_comment(cell, source_path.stem, ASSIGNMENT, student).auto_comment
                assert mine == stock_comment, f"{student}:{cell}"


def test_notebook_engine_agrees_with_course_grade_cell_by_cell(demo_dir):
    source_path = next((SOURCE_ROOT / ASSIGNMENT).glob("*.ipynb"))
    source = nbs.read_notebook(source_path)
    with Gradebook(f"sqlite:///{demo_dir / 'gradebook.db'}") as gradebook:
        for submitted in sorted((demo_dir / "submitted").glob(f"*/{ASSIGNMENT}/{source_path.name}")):
            student = submitted.parts[-3]
            ours, _ = engine.grade_notebook(nbs.read_notebook(submitted), source)
            for cell in ours.cells:
                theirs = gradebook.find_grade(cell.grade_id, source_path.stem, ASSIGNMENT, student)
                assert theirs.auto_score == cell.points, f"{student}:{cell.grade_id}"


def test_stock_release_hides_solutions(demo_dir):
    text = next((demo_dir / "release" / ASSIGNMENT).glob("*.ipynb")).read_text()
    assert "NotImplementedError" in text
    assert not re.search("BEGIN (SOLUTION|HIDDEN)", text)
