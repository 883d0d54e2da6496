"""A point depends on one function: a wrong function loses points only in the cells that grade it.

Per assignment, every catalogued mistake alone in the solution notebook, and every answer cell alone replaced by its
released stub, graded by `course grade`'s cell rule (see tests/blast_radius.py for how, and why it is fast). No test
cell may lose points for a function it does not grade.
"""

from __future__ import annotations

import pytest

from tests import blast_radius
from tests.conftest import per_assignment


@pytest.mark.parametrize("assignment", per_assignment())
def test_a_mistake_costs_only_the_cells_that_grade_its_function(assignment):
    report = blast_radius.measure(assignment)
    assert report.replacements > 0
    assert not report.spills, "cells that lose points for another function's mistake:\n" + blast_radius.describe(report)


@pytest.mark.parametrize("assignment", per_assignment())
def test_every_test_cell_defines_the_data_it_uses(assignment):
    """A test cell never uses a name only another test cell defines (its data is its own, or a locked cell's)."""
    cells, _ = blast_radius.read_cells(assignment)
    assert blast_radius.borrowed_names(cells) == {}


def test_the_gate_sees_a_spill():
    """A test cell that uses a name another test cell's visible part defined spills when that cell fails."""
    notebook = blast_radius.Notebook("06_cnn_layers")
    for cell in notebook.cells:  # as the notebook was: only the max-pool forward cell defined the lecture's example
        if cell.grade_id in ("max_pool_backward_tests", "avg_pool_forward_tests"):
            cell.visible = cell.visible.replace("lecture = np.array", "unused = np.array")
    answer = notebook.answer_cell_of("max_pool_forward")
    failed, _ = notebook.replace({"max_pool_forward"}, answer, lambda ns: ns.__setitem__("max_pool_forward", None))
    assert "avg_pool_forward_tests" in failed and "NameError" in failed["avg_pool_forward_tests"]


def test_the_gate_sees_a_check_that_runs_another_function():
    """A check without stand-ins that runs the student's other function spills; with them it does not."""
    notebook = blast_radius.Notebook("03_regularization")
    rotate_tests = next(cell for cell in notebook.cells if cell.grade_id == "rotate_tests")
    check = notebook.namespace["check_rotate"]
    answer = notebook.answer_cell_of("affine_sample")
    wrong = lambda ns: ns.__setitem__("affine_sample", lambda x, theta: 0 * x)  # noqa: E731
    lent, check.stand_ins = check.stand_ins, {}
    try:
        notebook.hidden_reaches[rotate_tests.index] = notebook.hidden_reach(rotate_tests)
        failed, _ = notebook.replace({"affine_sample"}, answer, wrong)
    finally:
        check.stand_ins = lent
    assert "rotate_tests" in failed
    notebook.hidden_reaches[rotate_tests.index] = notebook.hidden_reach(rotate_tests)
    failed, _ = notebook.replace({"affine_sample"}, answer, wrong)
    assert "rotate_tests" not in failed


def test_a_name_bound_by_except_is_the_cells_own():
    """`except RuntimeError as error` binds error in the cell: reading it borrows nothing from another test cell."""
    cells = [blast_radius.Cell(index=0, kind="test", grade_id="first", source="error = 1\n", defines=("error",)),
             blast_radius.Cell(index=1, kind="test", grade_id="second", defines=(),
                               source="try:\n    f()\nexcept RuntimeError as error:\n    print(error)\n")]
    assert blast_radius.borrowed_names(cells) == {}
    cells[1] = blast_radius.Cell(index=1, kind="test", grade_id="second", defines=(), source="print(error)\n")
    assert blast_radius.borrowed_names(cells) == {"second": {"error": "first"}}
