"""The nbgrader pipeline end to end on the demo class: stock nbgrader releases, grades, writes feedback and
exports; the course's own engine (`course check`) agrees with it cell by cell."""

from __future__ import annotations

import csv
import re

import pytest
from nbgrader.api import Gradebook

from autograder import demo, engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT

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


def test_feedback_names_the_mistakes_and_hides_the_tests(demo_dir):
    for k in range(1, demo.MISTAKE_STUDENTS + 1):
        (page,) = (demo_dir / "feedback" / f"demo-mistakes-{k}" / ASSIGNMENT).glob("*.html")
        text = page.read_text()
        assert "Likely mistake:" in text
        for secret in (nbs.HIDDEN_BEGIN, "from autograder", "framework.py"):
            assert secret not in text, f"feedback of demo-mistakes-{k} shows {secret!r}"


def test_course_engine_agrees_with_stock_nbgrader_cell_by_cell(demo_dir):
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
