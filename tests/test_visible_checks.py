"""Visible checks a student can trust.

A gate over every test cell with a visible part: it ends by printing exactly `visible checks passed`, and every
assert in it carries a message. Then, per warned mistake, proof that the visible part catches it: the mistake
(from the check's catalogue where it has one) spliced into the solution's namespace makes the visible part fail;
the solution itself passes. Visible parts run in-process, no kernel.
"""

from __future__ import annotations

import ast
import contextlib
import io

import numpy as np
import pytest

from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, check_module
from tests.conftest import per_assignment, solution_namespace

LAST_LINE = 'print("visible checks passed")'

def visible_parts(assignment):
    """(grade id, visible code) of every test cell of an assignment that has a visible part."""
    parts = []
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        for cell in nbs.read_notebook(path).cells:
            if nbs.is_test(cell):
                visible = nbs.remove_hidden_tests(cell.source)
                if visible.strip():
                    parts.append((nbs.grade_id(cell), visible))
    return parts


def visible_check_problems(gid: str, visible: str) -> list[str]:
    """What a visible part breaks of the two rules: its last line, and a message on every assert."""
    problems = []
    # the last line may sit inside `if reused_functions_work(...):`, which skips the checks of a cell whose reused
    # function is wrong (course.reuse)
    lines = [line.strip() for line in visible.split("\n") if line.strip()]
    if not lines or lines[-1] != LAST_LINE:
        problems.append(f"{gid}: the last line is {lines[-1] if lines else ''!r}, not {LAST_LINE}")
    elif sum(line.strip() == LAST_LINE for line in lines) != 1:
        problems.append(f"{gid}: prints 'visible checks passed' before the end")
    for node in ast.walk(ast.parse(visible)):
        if isinstance(node, ast.Assert) and node.msg is None:
            problems.append(f"{gid}: line {node.lineno}: assert without a message: {ast.unparse(node.test)}")
    return problems


@pytest.mark.parametrize("assignment", per_assignment())
def test_every_visible_check_ends_with_the_same_line_and_every_assert_says_what_is_wrong(assignment):
    problems = [problem for gid, visible in visible_parts(assignment) for problem in visible_check_problems(gid, visible)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("visible, broken", [
    ('assert x == 1, "x should be 1"\n' + LAST_LINE, None),
    ("assert x == 1\n" + LAST_LINE, "assert without a message"),
    ('if x:\n    assert x == 1\n' + LAST_LINE, "assert without a message"),
    ('assert x == 1, "x should be 1"\nprint("error:", x)', "the last line"),
    ('assert x == 1, "x should be 1"', "the last line"),
    (LAST_LINE + '\nprint(x)\n' + LAST_LINE, "before the end"),
])
def test_the_gate_rejects_what_breaks_its_rules(visible, broken):
    problems = visible_check_problems("cell", visible)
    assert (broken is None and not problems) or (broken and any(broken in p for p in problems)), problems


# --- what the text warns about, the visible check catches ---------------------------------------------------------

def run_visible(assignment: str, gid: str, replacements: dict) -> str:
    """Run a cell's visible part in a copy of the solution's namespace with some names replaced; returns what it
    printed. Raises whatever the visible part raises."""
    namespace = dict(solution_namespace(assignment))
    namespace.update(replacements)
    code = dict(visible_parts(assignment))[gid]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), np.errstate(all="ignore"):
        exec(compile(code, f"<{gid}>", "exec"), namespace)
    return printed.getvalue()


def catalogued(assignment: str, mistake_name: str):
    """(function name it replaces, implementation) of a mistake in the assignment's catalogues."""
    for chk in check_module(assignment).CHECKS:
        for mistake in chk.mistakes:
            if mistake.name == mistake_name:
                return mistake.replaces or chk.functions[0], mistake.implementation
    raise LookupError(f"{assignment} has no catalogued mistake {mistake_name}")


# Mistakes the text warns about that no catalogue holds as such; each is a factory: solution namespace -> implementation
def numerical_gradient_in_place(ns):
    def numerical_gradient(f, x, h=1e-5):
        grad = ns["numerical_gradient"](f, x, h)
        x += 1e-3                                            # the caller's x comes back changed
        return grad
    return numerical_gradient


def gradient_check_not_restored(ns):
    from autograder.checks.a00_getting_started import numerical_gradient_not_restored
    from course.gradcheck import rel_error

    return lambda f, x, analytic_grad, h=1e-5: rel_error(analytic_grad, numerical_gradient_not_restored(f, x, h))


def _max_gate(ns, share_at_tie: float):
    """The solution's gate_backward, except that at a tie of the max each input gets share_at_tie * dout."""
    def gate_backward(gate, a, b, dout):
        da, db = ns["gate_backward"](gate, a, b, dout)
        if gate == "max":
            tie = np.asarray(a) == np.asarray(b)
            da, db = (np.where(tie, share_at_tie * np.asarray(dout, dtype=float), g) for g in (da, db))
        return da, db
    return gate_backward


def max_gate_ties_to_both(ns):
    return _max_gate(ns, 1.0)


def max_gate_ties_to_none(ns):
    return _max_gate(ns, 0.0)


def bce_unstable(ns):
    def sigmoid_binary_cross_entropy(z, y):
        z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
        a = 1 / (1 + np.exp(-z))
        return float(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / z.shape[0]), (a - y) / z.shape[0]
    return sigmoid_binary_cross_entropy


def early_stopping_tie_improves(ns):
    def early_stopping(val_losses, weights, patience, min_delta=0.0):
        best, best_epoch, waited, stop = np.inf, 0, 0, len(val_losses) - 1
        for t, loss in enumerate(val_losses):
            if loss <= best - min_delta:                      # a tie counts as an improvement
                best, best_epoch, waited = loss, t, 0
            else:
                waited += 1
                if waited == patience:
                    stop = t
                    break
        return {"best_epoch": best_epoch, "stop_epoch": stop, "stopped": stop < len(val_losses) - 1 or waited == patience,
                "weights": np.array(weights[best_epoch])}
    return early_stopping


def dropconnect_divided_by_p(ns):
    def dropconnect_forward(x, W, b, p, mode, rng=None, mask=None):
        if mode == "eval":
            return ns["dropconnect_forward"](x, W, b, p, mode, rng, mask)
        return x @ (W * mask / p).T + b, {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}
    return dropconnect_forward


def dropconnect_dx_divided_by_p(ns):
    def dropconnect_backward(dout, cache):
        dx, dW, db = ns["dropconnect_backward"](dout, cache)
        return dx * (1 - cache["p"]) / cache["p"], dW, db
    return dropconnect_backward


def spatial_divided_by_p(ns):
    def spatial_dropout_forward(x, p, mode, rng=None, mask=None):
        out, cache = ns["spatial_dropout_forward"](x, p, mode, rng, mask)
        return (out * (1 - p) / p if mode == "train" else out), cache
    return spatial_dropout_forward


def maxpool_eval_scaled_by_p(ns):
    def maxpool_dropout_forward(x, p, mode, rng=None, mask=None, size=2):
        out, cache = ns["maxpool_dropout_forward"](x, p, mode, rng, mask, size)
        return (out / (1 - p) * p if mode == "eval" else out), cache
    return maxpool_dropout_forward


def conv_size_float(ns):
    return lambda N, F, P, S: (N - F + 2 * P) / S + 1


def cats_vs_dogs_hard_coded(ns):
    """The model built for 180 x 180 whatever the size asked for (nn.Linear's input written for 180 x 180)."""
    return lambda height=180, width=180: ns["describe_model"](ns["cats_vs_dogs_model"](180, 180), (3, height, width))


def template_cnn_hard_coded(ns):
    """The model built for 3 x 32 x 32 inputs whatever input_shape says."""
    def template_cnn_description(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True, fc_sizes=()):
        model = ns["build_template_cnn"]((3, 32, 32), n_classes, conv_channels, convs_per_stage, pool, fc_sizes)
        return ns["describe_model"](model, input_shape)
    return template_cnn_description


LOCAL = {factory.__name__: (name, factory) for name, factory in [
    ("numerical_gradient", numerical_gradient_in_place), ("gradient_check", gradient_check_not_restored),
    ("gate_backward", max_gate_ties_to_both), ("gate_backward", max_gate_ties_to_none),
    ("sigmoid_binary_cross_entropy", bce_unstable), ("early_stopping", early_stopping_tie_improves),
    ("dropconnect_forward", dropconnect_divided_by_p), ("dropconnect_backward", dropconnect_dx_divided_by_p),
    ("spatial_dropout_forward", spatial_divided_by_p), ("maxpool_dropout_forward", maxpool_eval_scaled_by_p),
    ("conv_output_size", conv_size_float), ("cats_vs_dogs_description", cats_vs_dogs_hard_coded),
    ("template_cnn_description", template_cnn_hard_coded),
]}

# (assignment, test cell, mistakes its text warns about: catalogue names or LOCAL names)
WARNED = [
    ("00_getting_started", "numerical_gradient_tests", ["numerical_gradient_not_restored", "numerical_gradient_forward",
     "numerical_gradient_over_h", "numerical_gradient_flat", "numerical_gradient_in_place"]),
    ("01_backprop", "gate_backward_tests", ["gate_max_to_both", "gate_max_to_smaller", "max_gate_ties_to_both",
     "max_gate_ties_to_none"]),
    ("01_backprop", "tests_gradient_check", ["grad_check_forward_difference", "grad_check_over_h", "grad_check_mean",
     "grad_check_signed", "gradient_check_not_restored"]),
    ("01_backprop", "activation_forward_tests", ["forward_softplus_overflows", "forward_elu_without_minus_one",
     "forward_leaky_ignores_alpha", "forward_step_zero_at_zero"]),
    ("01_backprop", "softmax_tests", ["softmax_without_shift", "softmax_wrong_axis"]),
    ("01_backprop", "softmax_cross_entropy_tests", ["ce_log10", "ce_without_shift", "ce_gradient_without_mean",
     "ce_loss_summed"]),
    ("01_backprop", "holdout_tests", ["tt_not_shuffled", "tt_rng_ignored"]),
    ("01_backprop", "kfold_tests", ["kfold_contiguous", "kfold_rng_ignored"]),
    ("01_backprop", "sigmoid_binary_cross_entropy_tests", ["bce_unstable"]),
    ("02_initialization", "output_variance_tests", ["output_variance_std_as_var", "output_variance_uniform_no_sqrt3"]),
    ("02_initialization", "xavier_normal_tests", ["xavier_normal_variance_as_std", "xavier_normal_fan_in_only"]),
    ("02_initialization", "kaiming_normal_tests", ["kaiming_normal_lecture_as_variance", "kaiming_normal_variance_as_std",
     "kaiming_normal_fans_swapped", "kaiming_normal_mode_ignored"]),
    ("02_initialization", "xavier_uniform_tests", ["xavier_uniform_no_gain", "xavier_uniform_fan_in_only"]),
    ("02_initialization", "kaiming_uniform_tests", ["kaiming_uniform_no_sqrt3", "kaiming_uniform_fans_swapped",
     "kaiming_uniform_mode_ignored", "kaiming_uniform_relu_gain_always"]),
    ("03_regularization", "early_stopping_tests", ["early_stopping_tie_improves", "early_stopping_nan_improves",
     "early_stopping_no_reset", "early_stopping_ignores_min_delta"]),
    ("03_regularization", "kernel_bias_penalty_tests", ["kb_swapped", "kb_kernel_for_all", "kb_biases_free",
     "kb_halved"]),
    ("03_regularization", "kernel_bias_grad_tests", ["kb_grad_without_two", "kb_grad_biases_zero"]),
    ("03_regularization", "orthogonal_penalty_tests", ["orth_columns", "orth_norm_not_squared", "orth_no_identity",
     "orth_off_diagonal"]),
    ("03_regularization", "orthogonal_grad_tests", ["orth_grad_factor_two", "orth_grad_sign"]),
    ("04_dropout", "gaussian_dropout_tests", ["gaussian_variance_p_one_minus_p", "gaussian_std_is_ratio",
     "gaussian_mean_zero", "gaussian_bernoulli", "gaussian_active_in_eval"]),
    ("04_dropout", "dropconnect_forward_tests", ["dropconnect_no_rescale", "dropconnect_mask_as_drop",
     "dropconnect_bias_scaled", "dropconnect_eval_scaled", "dropconnect_divided_by_p"]),
    ("04_dropout", "dropconnect_dx_tests", ["dropconnect_dx_unmasked", "dropconnect_dx_unscaled", "dropconnect_dx_new_mask",
     "dropconnect_dx_divided_by_p"]),
    ("04_dropout", "dropconnect_dparams_tests", ["dropconnect_dW_unmasked", "dropconnect_dW_unscaled",
     "dropconnect_db_mean", "dropconnect_db_scaled"]),
    ("04_dropout", "spatial_dropout_tests", ["spatial_no_rescale", "spatial_mask_as_drop", "spatial_active_in_eval",
     "spatial_eval_scaled", "spatial_divided_by_p"]),
    ("04_dropout", "spatial_dropout_mask_tests", ["spatial_one_mask_per_batch", "spatial_whole_examples",
     "spatial_no_rescale"]),
    ("04_dropout", "maxpool_dropout_forward_tests", ["maxpool_after_pooling", "maxpool_inverted_scale",
     "maxpool_mask_as_drop", "maxpool_eval_unscaled", "maxpool_active_in_eval", "maxpool_eval_scaled_by_p"]),
    ("04_dropout", "maxpool_dropout_backward_tests", ["maxpool_backward_ignores_mask", "maxpool_backward_mask_not_applied",
     "maxpool_backward_eval_unscaled", "maxpool_backward_average"]),
    ("04_dropout", "cutout_tests", ["cutout_unclipped", "cutout_rows_columns_swapped"]),
    ("05_normalization", "batchnorm_backward_dx_tests", ["bnb_no_mean_var_paths", "bnb_no_variance_path",
     "bnb_no_mean_path"]),
    ("05_normalization", "batchnorm_eval_tests", ["bn_eval_eps_outside_sqrt"]),
    ("05_normalization", "batchnorm_running_tests", ["bn_alpha_momentum_confused", "bn_running_var_biased",
     "bn_running_replaced_by_batch"]),
    ("06_cnn_layers", "conv_output_size_tests", ["conv_size_float"]),
    ("06_cnn_layers", "conv2d_forward_tests", ["conv2d_forward_one_side_padding"]),
    ("06_cnn_layers", "dense_softmax_tests", ["dense_softmax_no_shift", "dense_softmax_channels_last"]),
    ("06_cnn_layers", "nhwc_tests", ["nchw_to_nhwc_reshape", "nhwc_to_nchw_reshape"]),
    ("06_cnn_layers", "cats_vs_dogs_tests", ["cats_vs_dogs_hard_coded", "cats_vs_dogs_same_padding",
     "cats_vs_dogs_no_relu"]),
    ("06_cnn_layers", "template_cnn_tests", ["template_cnn_hard_coded", "template_cnn_no_padding"]),
]


def warned_params():
    return [pytest.param(a, gid, name, id=f"{a}:{gid}:{name}", marks=pytest.mark.xdist_group(a))
            for a, gid, names in WARNED for name in names]


@pytest.mark.parametrize("assignment", per_assignment(sorted({a for a, _, _ in WARNED})))
def test_the_solution_passes_the_visible_checks_that_catch_warned_mistakes(assignment):
    for a, gid, _ in WARNED:
        if a == assignment:
            assert run_visible(assignment, gid, {}).rstrip().endswith("visible checks passed"), gid


@pytest.mark.parametrize("assignment, gid, mistake", warned_params())
def test_a_warned_mistake_fails_its_visible_check_with_a_message(assignment, gid, mistake):
    if mistake in LOCAL:
        name, factory = LOCAL[mistake]
        implementation = factory(solution_namespace(assignment))
    else:
        name, implementation = catalogued(assignment, mistake)
    with pytest.raises(AssertionError) as failure:
        run_visible(assignment, gid, {name: implementation})
    assert str(failure.value).strip(), f"{gid} fails {mistake} without a message"


def test_a_wrong_loss_with_a_right_gradient_passes_the_gradient_cell():
    """03 grades the smoothed loss and its gradient in two cells: the gradient's visible check must not use the loss."""
    ns = solution_namespace("03_regularization")

    def loss_doubled(z, y, eps):
        loss, dz = ns["smoothed_cross_entropy"](z, y, eps)
        return 2 * loss, dz

    assert run_visible("03_regularization", "smoothed_grad_tests", {"smoothed_cross_entropy": loss_doubled}) \
        .rstrip().endswith("visible checks passed")
    with pytest.raises(AssertionError, match="eps = 0"):
        run_visible("03_regularization", "smoothed_loss_tests", {"smoothed_cross_entropy": loss_doubled})


@pytest.mark.parametrize("gid, name, message", [
    ("mse_loss_tests", "mse_loss", "da differs"),
    ("sigmoid_binary_cross_entropy_tests", "sigmoid_binary_cross_entropy", "dz differs"),
    ("softmax_cross_entropy_tests", "softmax_cross_entropy", "dscores differs"),
])
def test_a_gradient_off_by_a_factor_is_named_as_the_gradient(gid, name, message):
    """01's losses return (loss, gradient) to one cell: a right loss with a wrong gradient is told so."""
    right = solution_namespace("01_backprop")[name]

    def gradient_doubled(*args):
        loss, grad = right(*args)
        return loss, 2 * grad

    with pytest.raises(AssertionError, match=message):
        run_visible("01_backprop", gid, {name: gradient_doubled})


def test_a_broken_collapse_linear_does_not_fail_the_rank_cell():
    def collapse_linear(W1, b1, W2, b2):
        raise NotImplementedError()

    assert run_visible("02_initialization", "rank_tests", {"collapse_linear": collapse_linear}) \
        .rstrip().endswith("visible checks passed")
