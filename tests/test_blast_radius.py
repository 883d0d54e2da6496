"""A point depends on one function: a wrong function loses points only in the cells that grade it.

Per assignment, every catalogued mistake alone in the solution notebook, and every answer cell alone replaced by its
released stub, graded by `course grade`'s cell rule (see tests/blast_radius.py for how, and why it is fast).
KNOWN_SPILLS lists the cells that still spill; it may only shrink: a new spill fails, and so does a listed cell that
no longer spills (take it off the list).
"""

from __future__ import annotations

import pytest

from tests import blast_radius
from tests.conftest import per_assignment

KNOWN_SPILLS: dict[str, set[str]] = {
    "00_getting_started": {"numerical_gradient_tests"},
    "01_backprop": {"activation_derivative_tests", "affine_backward_dx_tests", "affine_backward_dW_tests",
                    "affine_backward_db_tests", "sigmoid_binary_cross_entropy_tests", "mlp_loss_tests",
                    "mlp_gradients_tests", "minibatch_sgd_tests"},
    "02_initialization": {"rank_tests"},
    "03_regularization": {"l2_grad_tests", "augment_tests", "rotate_tests", "zoom_tests", "smoothed_loss_tests",
                          "smoothed_grad_tests"},
    "04_dropout": set(),
    "05_normalization": {"linear_batchnorm_backward_tests", "spatial_batchnorm_forward_tests",
                         "spatial_batchnorm_backward_dx_tests", "spatial_batchnorm_backward_dparams_tests"},
    "06_cnn_layers": {"avg_pool_forward_tests"},
}


@pytest.mark.parametrize("assignment", per_assignment())
def test_a_mistake_costs_only_the_cells_that_grade_its_function(assignment):
    report = blast_radius.measure(assignment)
    assert report.replacements > 0
    spilled = report.spilled_cells
    new = spilled - KNOWN_SPILLS[assignment]
    assert not new, "cells that lose points for another function's mistake:\n" + blast_radius.describe(report)
    fixed = KNOWN_SPILLS[assignment] - spilled
    assert not fixed, f"no longer spilled, take them off KNOWN_SPILLS: {sorted(fixed)}"


def test_the_gate_sees_a_spill():
    """A test cell that uses a name another test cell's visible part defined spills when that cell fails."""
    notebook = blast_radius.Notebook("06_cnn_layers")
    answer = notebook.answer_cell_of("max_pool_forward")
    failed, _ = notebook.replace({"max_pool_forward"}, answer, lambda ns: ns.__setitem__("max_pool_forward", None))
    assert "avg_pool_forward_tests" in failed and "NameError" in failed["avg_pool_forward_tests"]
