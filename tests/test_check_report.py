"""`course check`'s table: autograded and hand-graded points apart, written answers never shown as 0 points."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st
from nbgrader.utils import compute_checksum

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.self_study.check_report import format_table, graded_by_hand, summary, written_answers
from autograder.course_dir import SOURCE_ROOT
from tests.conftest import per_assignment


def untouched_release(assignment):
    """The released notebook as nbgrader hands it out: written answers carry the checksum of their stub."""
    source = nbs.read_notebook(nbs.assignment_notebooks(SOURCE_ROOT, assignment)[0])
    release = engine.release_version(source)
    for cell in release.cells:
        if nbs.is_grade(cell) and nbs.is_solution(cell):
            cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    return source, release


@pytest.mark.parametrize("assignment", per_assignment())
def test_an_untouched_written_answer_is_graded_by_hand_not_zero(assignment):
    source, release = untouched_release(assignment)
    raw = engine.score_cells(release)      # nbgrader gives an untouched written answer 0 points without a person
    written = written_answers(source)
    assert written, "every assignment has a written answer"
    assert all(c.points == 0 for c in raw.cells if c.grade_id in written)
    grade = graded_by_hand(raw, written)
    table = format_table("title", grade)
    for gid in written:
        row = next(line for line in table.splitlines() if line.startswith(gid + " "))
        assert "graded by hand" in row and "0/" not in row, row
    hand = sum(nbs.points(c) for c in source.cells if nbs.grade_id(c) in written)
    auto = sum(nbs.points(c) for c in source.cells if nbs.is_test(c))
    assert grade.auto_max == auto and grade.manual_max == hand
    assert table.splitlines()[-1] == f"autograded: {grade.auto_points:g} of {auto:g} points; " \
                                     f"{hand:g} more point{'' if hand == 1 else 's'} graded by hand"


def cells(auto, hand):
    return engine.NotebookGrade([engine.CellGrade(f"t{i}", got, top) for i, (got, top) in enumerate(auto)]
                                + [engine.CellGrade(f"w{i}", None, top) for i, top in enumerate(hand)])


def test_summary_words():
    assert summary(cells([(0, 10), (0, 7)], [4])) == "autograded: 0 of 17 points; 4 more points graded by hand"
    assert summary(cells([(1, 1)], [1])) == "autograded: 1 of 1 point; 1 more point graded by hand"
    assert summary(cells([(2.5, 3)], [])) == "autograded: 2.5 of 3 points"


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 5)).map(lambda t: (min(t), t[1])), max_size=6),
       st.lists(st.integers(1, 4), max_size=4))
def test_summary_never_adds_hand_graded_points_to_the_autograded_total(auto, hand):
    line = summary(cells(auto, hand))
    found = re.fullmatch(r"autograded: (\S+) of (\S+) points?(?:; (\S+) more points? graded by hand)?", line)
    assert found, line
    assert float(found[1]) == sum(got for got, _ in auto) and float(found[2]) == sum(top for _, top in auto)
    assert (float(found[3]) if found[3] else 0) == sum(hand)
    assert " 1 more points" not in line and " 1 points" not in line and " of 1 points" not in line
