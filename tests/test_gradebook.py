"""autograder.grading.gradebook: the rows it stages are the rows nbgrader would write, and they land together
or not at all."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbgrader.api import Gradebook

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT
from autograder.grading.gradebook import GradebookWriter
from autograder.instructor.submissions import fill_solutions
from tests.conftest import per_assignment

ASSIGNMENT = "hw"
WHEN = datetime.datetime(2026, 12, 3, 12, 30)

# per notebook: how many grade cells, solution cells (ungraded), graded solution cells and task cells it has
layouts = st.lists(st.tuples(*[st.integers(0, 3)] * 4), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """A new gradebook file; nbgrader stamps a new one with the version `alembic` reports, which it runs from PATH."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        Gradebook(f"sqlite:///{path}").close()
    return path


@contextlib.contextmanager
def fresh_gradebook(empty: Path):
    """A copy of the empty gradebook, for one example."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gradebook.db"
        shutil.copy(empty, path)
        with Gradebook(f"sqlite:///{path}") as gradebook:
            yield gradebook, path


def released(gradebook: Gradebook, layout) -> None:
    """An assignment with the given cells, as `nbgrader generate_assignment` records it."""
    gradebook.add_assignment(ASSIGNMENT)
    for k, (grades, solutions, answers, tasks) in enumerate(layout):
        notebook = f"nb{k}"
        gradebook.add_notebook(notebook, ASSIGNMENT)
        for i in range(grades):
            gradebook.add_grade_cell(f"tests{i}", notebook, ASSIGNMENT, max_score=2, cell_type="code")
        for i in range(solutions):
            gradebook.add_solution_cell(f"code{i}", notebook, ASSIGNMENT)
        for i in range(answers):  # a graded solution cell: a grade cell and a solution cell at once
            gradebook.add_grade_cell(f"answer{i}", notebook, ASSIGNMENT, max_score=1, cell_type="markdown")
            gradebook.add_solution_cell(f"answer{i}", notebook, ASSIGNMENT)
        for i in range(tasks):
            gradebook.add_task_cell(f"task{i}", notebook, ASSIGNMENT, max_score=3, cell_type="markdown")


def snapshot(gradebook: Gradebook, student: str) -> list:
    """Every column of every row of a student's submission, ids replaced by what they point to, sorted."""
    def columns(row):
        return tuple((c.key, getattr(row, c.key)) for c in row.__table__.columns
                     if c.key != "id" and not c.key.endswith("_id"))

    submission = gradebook.find_submission(ASSIGNMENT, student)
    rows = [("submission", submission.assignment.name, columns(submission))]
    for notebook in submission.notebooks:
        rows.append(("notebook", notebook.name, columns(notebook)))
        rows += [("grade", notebook.name, g.cell.name, columns(g)) for g in notebook.grades]
        rows += [("comment", notebook.name, c.cell.name, columns(c)) for c in notebook.comments]
    return sorted(rows, key=repr)


def graded_cells(layout) -> list:
    return [(f"nb{k}", f"{kind}{i}") for k, (grades, _, answers, tasks) in enumerate(layout)
            for kind, count in (("tests", grades), ("answer", answers), ("task", tasks)) for i in range(count)]


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission links rows before adding
@settings(max_examples=25, deadline=None)
@given(layouts)
def test_a_new_submission_gets_the_rows_nbgrader_gives_it(empty_gradebook, layout):
    with fresh_gradebook(empty_gradebook) as (gradebook, _):
        released(gradebook, layout)
        gradebook.add_student("by-nbgrader")
        gradebook.add_submission(ASSIGNMENT, "by-nbgrader", timestamp=WHEN)
        writer = GradebookWriter(gradebook)
        writer.stage(ASSIGNMENT, "by-us", WHEN, {})
        writer.commit()
        assert snapshot(gradebook, "by-us") == snapshot(gradebook, "by-nbgrader")


@settings(max_examples=25, deadline=None)
@given(layouts, st.data())
def test_staged_scores_are_what_nbgrader_autograde_would_set(empty_gradebook, layout, data):
    cells = graded_cells(layout)
    scores = {cell: data.draw(st.none() | st.floats(0, 3), label=str(cell)) for cell in cells}
    with fresh_gradebook(empty_gradebook) as (gradebook, _):
        released(gradebook, layout)
        writer = GradebookWriter(gradebook)
        writer.stage(ASSIGNMENT, "s", WHEN, scores)
        writer.commit()
        for (notebook, cell), points in scores.items():
            grade = gradebook.find_grade(cell, notebook, ASSIGNMENT, "s")
            # SaveAutoGrades: a person must look where the autograder has no score or a person graded before
            assert (grade.auto_score, grade.needs_manual_grade) == (points, points is None)


def test_regrading_replaces_auto_scores_and_keeps_what_people_wrote(empty_gradebook):
    layout = [(1, 1, 1, 0)]
    with fresh_gradebook(empty_gradebook) as (gradebook, _):
        released(gradebook, layout)
        writer = GradebookWriter(gradebook)
        writer.stage(ASSIGNMENT, "s", WHEN, {("nb0", "tests0"): 0.0, ("nb0", "answer0"): None})
        writer.commit()
        gradebook.find_grade("answer0", "nb0", ASSIGNMENT, "s").manual_score = 1.0
        gradebook.find_comment("code0", "nb0", ASSIGNMENT, "s").manual_comment = "see me"
        gradebook.db.commit()
        later = WHEN + datetime.timedelta(hours=1)
        writer.stage(ASSIGNMENT, "s", later, {("nb0", "tests0"): 2.0, ("nb0", "answer0"): 0.0})
        writer.commit()
        tests = gradebook.find_grade("tests0", "nb0", ASSIGNMENT, "s")
        answer = gradebook.find_grade("answer0", "nb0", ASSIGNMENT, "s")
        assert (tests.auto_score, tests.needs_manual_grade) == (2.0, False)
        # a person graded it before: they should look again (SaveAutoGrades does the same)
        assert (answer.auto_score, answer.manual_score, answer.needs_manual_grade) == (0.0, 1.0, True)
        assert gradebook.find_comment("code0", "nb0", ASSIGNMENT, "s").manual_comment == "see me"
        assert gradebook.find_submission(ASSIGNMENT, "s").timestamp == later
        assert len(gradebook.find_submission(ASSIGNMENT, "s").notebooks[0].grades) == 2   # replaced, not added


def test_staged_tasks_land_together_on_commit_and_not_at_all_on_error(empty_gradebook):
    with fresh_gradebook(empty_gradebook) as (gradebook, url):
        released(gradebook, [(1, 0, 0, 0)])
        writer = GradebookWriter(gradebook)

        def committed() -> int:  # seen from another connection, as the formgrader would
            with sqlite3.connect(url) as other:
                return other.execute("select count(*) from grade where auto_score is not null").fetchone()[0]

        for student in ("a", "b"):
            writer.stage(ASSIGNMENT, student, WHEN, {("nb0", "tests0"): 1.0})
        assert committed() == 0
        writer.commit()
        assert committed() == 2
        writer.stage(ASSIGNMENT, "c", WHEN, {("nb0", "tests0"): 1.0})
        with pytest.raises(KeyError):  # a grade cell the gradebook does not know: the whole batch is dropped
            writer.stage(ASSIGNMENT, "d", WHEN, {("nb0", "no such cell"): 1.0})
        writer.rollback()
        writer.stage(ASSIGNMENT, "e", WHEN, {("nb0", "tests0"): 1.0})
        writer.commit()
        assert committed() == 3
        assert sorted(s.id for s in gradebook.students) == ["a", "b", "e"]


def test_one_batch_may_hold_a_new_student_twice_and_the_same_task_twice(empty_gradebook):
    with fresh_gradebook(empty_gradebook) as (gradebook, _):
        released(gradebook, [(1, 0, 0, 0)])
        gradebook.add_assignment("hw2")
        gradebook.add_notebook("nb0", "hw2")
        gradebook.add_grade_cell("tests0", "nb0", "hw2", max_score=2, cell_type="code")
        writer = GradebookWriter(gradebook)
        writer.stage(ASSIGNMENT, "new", WHEN, {("nb0", "tests0"): 1.0})
        writer.stage("hw2", "new", WHEN, {("nb0", "tests0"): 2.0})
        writer.stage(ASSIGNMENT, "new", WHEN, {("nb0", "tests0"): 0.5})  # graded again: the later grade stands
        writer.commit()
        assert [s.id for s in gradebook.students] == ["new"]
        assert gradebook.find_grade("tests0", "nb0", ASSIGNMENT, "new").auto_score == 0.5
        assert gradebook.find_grade("tests0", "nb0", "hw2", "new").auto_score == 2.0
        assert len(gradebook.student_submissions("new")) == 2


@pytest.mark.parametrize("assignment", per_assignment())
def test_auto_comments_say_no_response_exactly_where_an_answer_is_as_released(assignment):
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        source = nbs.read_notebook(path)
        release = engine.release_version(source)
        untouched = engine.auto_comments(engine.restore_locked_cells(release, source))
        solved = engine.auto_comments(engine.restore_locked_cells(fill_solutions(release, source), source))
        answers = {nbs.grade_id(c) for c in source.cells if nbs.is_solution(c)}
        assert untouched == {gid: engine.NO_RESPONSE for gid in answers}
        assert solved == {gid: None for gid in answers}


def test_staged_comments_are_written_and_replaced(empty_gradebook):
    with fresh_gradebook(empty_gradebook) as (gradebook, _):
        released(gradebook, [(0, 1, 1, 0)])
        writer = GradebookWriter(gradebook)
        writer.stage(ASSIGNMENT, "s", WHEN, {}, {("nb0", "code0"): engine.NO_RESPONSE, ("nb0", "answer0"): None})
        writer.commit()
        assert gradebook.find_comment("code0", "nb0", ASSIGNMENT, "s").auto_comment == engine.NO_RESPONSE
        writer.stage(ASSIGNMENT, "s", WHEN, {}, {("nb0", "code0"): None})  # answered since: regraded
        writer.commit()
        assert gradebook.find_comment("code0", "nb0", ASSIGNMENT, "s").auto_comment is None
