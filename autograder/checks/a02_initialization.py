"""Checks of 02_initialization: collapsing linear layers, numerical rank, the symmetry of constant initialization,
the variance argument, the old uniform scheme, Xavier / Kaiming initialization against torch.nn.init, and the
gradients' variance in the backward pass (what Kaiming's mode="fan_out" keeps) against autograd.

Weights follow PyTorch's layout: a weight of shape (out, in) maps x (n, in) to x @ W.T (n, out), so fan_in = in
= shape[1] and fan_out = out = shape[0]. Random functions take an explicit numpy Generator; the statistical checks
compare bounds, mean and variance with what torch.nn.init promises, and run a two-sample Kolmogorov-Smirnov test
against a sample drawn by torch.nn.init itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import special

from autograder.checks.framework import Mistake, cached_reference, check, describe_inputs, expect_close, expect_true

# --- 1. two linear layers are one linear layer -----------------------------------------------------------------


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


@cached_reference
def reference_collapse(W1, b1, W2, b2) -> tuple[torch.Tensor, torch.Tensor]:
    """W = W2 W1 and b = W2 b1 + b2, with torch.matmul."""
    W1, b1, W2, b2 = map(_t, (W1, b1, W2, b2))
    return torch.matmul(W2, W1), torch.matmul(W2, b1) + b2


def collapse_swapped(W1, b1, W2, b2):
    # the lecture's row-vector convention x^T W1 W2 carried over to PyTorch's (out, in) layout
    return W1 @ W2, W2 @ b1 + b2


def collapse_transposed(W1, b1, W2, b2):
    return (W2 @ W1).T, W2 @ b1 + b2


def collapse_elementwise(W1, b1, W2, b2):
    return W2 * W1, W2 @ b1 + b2


def collapse_forgets_b1(W1, b1, W2, b2):
    return W2 @ W1, np.array(b2, dtype=float)


def collapse_adds_biases(W1, b1, W2, b2):
    return W2 @ W1, b1 + b2


def collapse_bias_transposed(W1, b1, W2, b2):
    return W2 @ W1, W2.T @ b1 + b2


COLLAPSE_WEIGHT_MISTAKES = [
    Mistake("the product is taken in the wrong order (W1 @ W2): with weights of shape (out, in), x goes through W1 "
            "first, so the combined weight is W2 @ W1", collapse_swapped),
    Mistake("the combined weight is transposed: it must have shape (n, m) = (out, in), like W2 @ W1",
            collapse_transposed),
    Mistake("the weights are multiplied elementwise (W2 * W1) instead of as matrices (W2 @ W1)", collapse_elementwise),
]

COLLAPSE_BIAS_MISTAKES = [
    Mistake("the first layer's bias b1 is left out: it passes through the second layer and becomes W2 @ b1",
            collapse_forgets_b1),
    Mistake("the biases are added (b1 + b2), but b1 passes through the second layer: the bias is W2 @ b1 + b2",
            collapse_adds_biases),
    Mistake("b1 goes through the transposed second weight (W2.T @ b1); the second layer computes W2 @ h + b2",
            collapse_bias_transposed),
]


def _collapse_cases(rng):
    """(W1, b1, W2, b2) with shapes (k, m), (k,), (n, k), (n,): square first, then bottlenecks and expansions."""
    for m, k, n in [(4, 4, 4), (6, 3, 5), (1, 1, 1), (8, 2, 3), (3, 7, 2), (5, 1, 6)]:
        yield rng.normal(size=(k, m)), rng.normal(size=k), rng.normal(size=(n, k)), rng.normal(size=n)
    yield 1e3 * rng.normal(size=(3, 3)), rng.normal(size=3), 1e-3 * rng.normal(size=(3, 3)), rng.normal(size=3)


def _collapse_parts(got, inputs) -> tuple:
    expect_true(isinstance(got, (tuple, list)) and len(got) == 2,
                f"collapse_linear should return a tuple (W, b), got {type(got).__name__} for {inputs}")
    return got


@check("collapse_weight", functions=("collapse_linear",), mistakes=COLLAPSE_WEIGHT_MISTAKES, by_hand=True)
def check_collapse_weight(collapse_linear, rng):
    """The combined weight W equals W2 @ W1 (torch.matmul) for several shapes, bottlenecks included."""
    for W1, b1, W2, b2 in _collapse_cases(rng):
        inputs = describe_inputs(W1=W1, b1=b1, W2=W2, b2=b2)
        got = _collapse_parts(collapse_linear(W1, b1, W2, b2), inputs)
        W, _ = reference_collapse(W1, b1, W2, b2)
        expect_close("the combined weight W", got[0], W, inputs=inputs, atol=1e-10, rtol=1e-10)


@check("collapse_bias", functions=("collapse_linear",), mistakes=COLLAPSE_BIAS_MISTAKES, by_hand=True)
def check_collapse_bias(collapse_linear, rng):
    """The combined bias b equals W2 @ b1 + b2 (torch.matmul) for several shapes."""
    for W1, b1, W2, b2 in _collapse_cases(rng):
        inputs = describe_inputs(W1=W1, b1=b1, W2=W2, b2=b2)
        got = _collapse_parts(collapse_linear(W1, b1, W2, b2), inputs)
        _, b = reference_collapse(W1, b1, W2, b2)
        expect_close("the combined bias b", got[1], b, inputs=inputs, atol=1e-10, rtol=1e-10)


# --- numerical rank --------------------------------------------------------------------------------------------

@cached_reference
def reference_rank(A) -> torch.Tensor:
    return torch.linalg.matrix_rank(_t(A))


def rank_no_tolerance(A):
    A = np.asarray(A, dtype=float)
    return int(np.sum(np.linalg.svd(A, compute_uv=False) > 0))


def rank_absolute_tolerance(A):
    A = np.asarray(A, dtype=float)
    return int(np.sum(np.linalg.svd(A, compute_uv=False) > 1e-10))


def rank_smaller_dimension(A):
    return int(min(np.shape(A)))


RANK_MISTAKES = [
    Mistake("every nonzero singular value is counted; rounding leaves singular values near 1e-16 where the exact "
            "ones are 0, so a tolerance relative to the largest singular value is needed", rank_no_tolerance),
    Mistake("the tolerance is a fixed number (like 1e-10) instead of relative to the largest singular value, "
            "so the rank changes when the matrix is scaled", rank_absolute_tolerance),
    Mistake("the rank is taken to be min(m, n); a product through a k-dimensional bottleneck has rank at most k",
            rank_smaller_dimension),
]


def _rank_cases(rng):
    yield np.zeros((3, 4))
    yield np.diag(np.concatenate([rng.uniform(1, 2, size=2), np.zeros(3)]))   # exactly rank 2
    yield rng.normal(size=(8, 3)) @ rng.normal(size=(3, 10))                 # bottleneck k = 3
    yield 1e-12 * rng.normal(size=(5, 5))                                      # tiny but full rank
    yield 1e12 * (rng.normal(size=(6, 2)) @ rng.normal(size=(2, 7)))          # huge, rank 2
    yield rng.normal(size=(6, 4))                                              # tall, full rank
    yield rng.normal(size=(3, 9))                                              # wide, full rank
    yield np.outer(rng.normal(size=7), rng.normal(size=5))                     # rank 1
    yield rng.normal(size=(1, 6))
    yield np.eye(5)
    yield rng.normal(size=(20, 4)) @ rng.normal(size=(4, 30)) @ rng.normal(size=(30, 20))


@check("numerical_rank", mistakes=RANK_MISTAKES, by_hand=True)
def check_numerical_rank(numerical_rank, rng):
    """numerical_rank(A) equals torch.linalg.matrix_rank(A) (default tolerance) on low-rank products, scaled,
    zero, tall, wide and full-rank matrices."""
    for A in _rank_cases(rng):
        got = numerical_rank(A)
        expect_close("numerical_rank(A)", got, reference_rank(A), inputs=describe_inputs(A=A), atol=0, rtol=0)


# --- 2. constant initialization: training with autograd --------------------------------------------------------

PARAM_NAMES = ("W1", "b1", "W2", "b2")


@cached_reference
def reference_train_two_layer(params, X, Y, lr, steps):
    """Full-batch gradient descent with torch autograd on H = tanh(X W1^T + b1), out = H W2^T + b2, MSE (mean)."""
    P = [_t(params[k]).clone().requires_grad_() for k in PARAM_NAMES]
    X, Y = _t(X), _t(Y)
    losses = []
    for _ in range(steps):
        W1, b1, W2, b2 = P
        loss = F.mse_loss(F.linear(torch.tanh(F.linear(X, W1, b1)), W2, b2), Y)
        grads = torch.autograd.grad(loss, P)
        with torch.no_grad():
            P = [(p - lr * g).requires_grad_() for p, g in zip(P, grads)]
        losses.append(loss.item())
    return {k: p.detach() for k, p in zip(PARAM_NAMES, P)}, torch.tensor(losses, dtype=torch.float64)


def train_sum_loss(params, X, Y, lr, steps):
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    losses = []
    for _ in range(steps):
        H = np.tanh(X @ W1.T + b1)
        diff = H @ W2.T + b2 - Y
        losses.append(float(np.sum(diff ** 2)))
        d_out = 2 * diff
        dH = d_out @ W2
        dZ = dH * (1 - H ** 2)
        W2, b2 = W2 - lr * d_out.T @ H, b2 - lr * d_out.sum(axis=0)
        W1, b1 = W1 - lr * dZ.T @ X, b1 - lr * dZ.sum(axis=0)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, np.array(losses)


def train_loss_after_step(params, X, Y, lr, steps):
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    losses = []
    for _ in range(steps):
        H = np.tanh(X @ W1.T + b1)
        diff = H @ W2.T + b2 - Y
        d_out = 2 * diff / diff.size
        dH = d_out @ W2
        dZ = dH * (1 - H ** 2)
        W2, b2 = W2 - lr * d_out.T @ H, b2 - lr * d_out.sum(axis=0)
        W1, b1 = W1 - lr * dZ.T @ X, b1 - lr * dZ.sum(axis=0)
        H = np.tanh(X @ W1.T + b1)
        losses.append(float(np.mean((H @ W2.T + b2 - Y) ** 2)))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, np.array(losses)


def train_grads_accumulate(params, X, Y, lr, steps):
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    gW1, gb1, gW2, gb2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
    losses = []
    for _ in range(steps):
        H = np.tanh(X @ W1.T + b1)
        diff = H @ W2.T + b2 - Y
        losses.append(float(np.mean(diff ** 2)))
        d_out = 2 * diff / diff.size
        dH = d_out @ W2
        dZ = dH * (1 - H ** 2)
        # .grad is never zeroed: each backward() adds to the gradients of all earlier steps
        gW2, gb2 = gW2 + d_out.T @ H, gb2 + d_out.sum(axis=0)
        gW1, gb1 = gW1 + dZ.T @ X, gb1 + dZ.sum(axis=0)
        W1, b1, W2, b2 = W1 - lr * gW1, b1 - lr * gb1, W2 - lr * gW2, b2 - lr * gb2
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, np.array(losses)


def train_ascent(params, X, Y, lr, steps):
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    losses = []
    for _ in range(steps):
        H = np.tanh(X @ W1.T + b1)
        diff = H @ W2.T + b2 - Y
        losses.append(float(np.mean(diff ** 2)))
        d_out = 2 * diff / diff.size
        dH = d_out @ W2
        dZ = dH * (1 - H ** 2)
        W2, b2 = W2 + lr * d_out.T @ H, b2 + lr * d_out.sum(axis=0)
        W1, b1 = W1 + lr * dZ.T @ X, b1 + lr * dZ.sum(axis=0)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, np.array(losses)


def train_hidden_frozen(params, X, Y, lr, steps):
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    losses = []
    for _ in range(steps):
        H = np.tanh(X @ W1.T + b1)
        diff = H @ W2.T + b2 - Y
        losses.append(float(np.mean(diff ** 2)))
        d_out = 2 * diff / diff.size
        W2, b2 = W2 - lr * d_out.T @ H, b2 - lr * d_out.sum(axis=0)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, np.array(losses)


def train_biases_frozen(params, X, Y, lr, steps):
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    losses = []
    for _ in range(steps):
        H = np.tanh(X @ W1.T + b1)
        diff = H @ W2.T + b2 - Y
        losses.append(float(np.mean(diff ** 2)))
        d_out = 2 * diff / diff.size
        dH = d_out @ W2
        dZ = dH * (1 - H ** 2)
        W2, W1 = W2 - lr * d_out.T @ H, W1 - lr * dZ.T @ X
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, np.array(losses)


SUM_LOSS = Mistake("the loss is the sum of the squared errors; F.mse_loss (and this exercise) takes their mean over "
                   "all n * c entries", train_sum_loss)
ACCUMULATE = Mistake("the gradients are never zeroed between steps (loss.backward() adds to .grad), so each step "
                     "uses the sum of all gradients so far", train_grads_accumulate)

TRAIN_LOSS_MISTAKES = [
    SUM_LOSS,
    Mistake("the loss is recorded after the update; record the loss computed for the step, before the parameters "
            "change", train_loss_after_step),
    ACCUMULATE,
    Mistake("the parameters move along the gradient (p + lr * grad) instead of against it", train_ascent),
]

TRAIN_PARAMS_MISTAKES = [
    Mistake("the hidden layer (W1, b1) is not trained: are all four parameters created with requires_grad=True "
            "and updated?", train_hidden_frozen),
    ACCUMULATE,
    Mistake("the biases b1 and b2 are not updated", train_biases_frozen),
    SUM_LOSS,
]


def _train_result(got, steps, inputs):
    expect_true(isinstance(got, (tuple, list)) and len(got) == 2,
                f"train_two_layer should return a tuple (params, losses), got {type(got).__name__} for {inputs}")
    params, losses = got
    expect_true(isinstance(params, dict) and set(params) == set(PARAM_NAMES),
                f"train_two_layer should return as params a dict with keys W1, b1, W2, b2 for {inputs}")
    return params, losses


def _train_problem(rng, n=10, d=4, h=5, c=3):
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, c))
    params = {"W1": 0.5 * rng.normal(size=(h, d)), "b1": 0.1 * rng.normal(size=h),
              "W2": 0.5 * rng.normal(size=(c, h)), "b2": 0.1 * rng.normal(size=c)}
    return params, X, Y


@check("train_losses", functions=("train_two_layer",), mistakes=TRAIN_LOSS_MISTAKES)
def check_train_losses(train_two_layer, rng):
    """The losses recorded by train_two_layer equal those of the same gradient descent with torch autograd."""
    for (n, d, h, c), steps, lr in [((10, 4, 5, 3), 4, 0.1), ((7, 3, 6, 2), 1, 0.5), ((12, 5, 3, 4), 6, 0.3),
                                    ((1, 2, 2, 1), 3, 0.2), ((6, 3, 4, 2), 0, 0.1)]:
        params, X, Y = _train_problem(rng, n, d, h, c)
        inputs = describe_inputs(X=X, Y=Y, W1=params["W1"], lr=lr, steps=steps)
        _, losses = _train_result(train_two_layer(params, X, Y, lr, steps), steps, inputs)
        _, expected = reference_train_two_layer(params, X, Y, lr, steps)
        expect_close("the loss history", losses, expected, inputs=inputs, atol=1e-12, rtol=1e-9)


def _spread(array, axis) -> float:
    """How far the slices along axis are from the first one (0 when all are identical)."""
    array = np.asarray(array, dtype=float)
    first = np.take(array, [0], axis=axis)
    return float(np.max(np.abs(array - first))) if array.size else 0.0


@check("train_symmetry", functions=("train_two_layer",), mistakes=TRAIN_PARAMS_MISTAKES, statistical=True)
def check_train_symmetry(train_two_layer, rng):
    """From a random start the trained parameters equal torch autograd's; from a constant start every hidden unit
    keeps identical incoming and outgoing weights (rows of W1, entries of b1, columns of W2), yet all of them move."""
    params, X, Y = _train_problem(rng, 9, 4, 5, 3)
    inputs = describe_inputs(X=X, Y=Y, W1=params["W1"], lr=0.2, steps=5)
    trained, _ = _train_result(train_two_layer(params, X, Y, 0.2, 5), 5, inputs)
    expected, _ = reference_train_two_layer(params, X, Y, 0.2, 5)
    for name in PARAM_NAMES:
        expect_close(f"the trained {name}", trained[name], expected[name], inputs=inputs, atol=1e-10, rtol=1e-8)

    for n, d, h, c, steps in [(12, 4, 6, 3, 12), (8, 3, 4, 2, 8)]:
        w1, w2 = rng.uniform(0.1, 0.6) * rng.choice([-1, 1]), rng.uniform(0.1, 0.6) * rng.choice([-1, 1])
        params = {"W1": np.full((h, d), w1), "b1": np.full(h, rng.uniform(-0.2, 0.2)),
                  "W2": np.full((c, h), w2), "b2": np.zeros(c)}
        X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, c))
        inputs = "a constant initialization, " + describe_inputs(X=X, Y=Y, W1=params["W1"], lr=0.2, steps=steps)
        trained, _ = _train_result(train_two_layer(params, X, Y, 0.2, steps), steps, inputs)
        scale = 1e-10 * (1 + max(float(np.max(np.abs(np.asarray(trained[k], dtype=float)))) for k in PARAM_NAMES))
        expect_true(_spread(trained["W1"], 0) <= scale and _spread(trained["b1"], 0) <= scale
                    and _spread(trained["W2"], 1) <= scale,
                    f"train_two_layer: after training from {inputs}, the hidden units differ; gradient descent "
                    "gives identical units identical updates, so their weights must stay identical")
        for name in PARAM_NAMES:
            moved = np.max(np.abs(np.asarray(trained[name], dtype=float) - params[name]))
            expect_true(moved > 1e-8, f"train_two_layer: {name} did not change during training from {inputs}; "
                                      "every parameter should get a gradient step")
        expected, _ = reference_train_two_layer(params, X, Y, 0.2, steps)
        for name in PARAM_NAMES:
            expect_close(f"the trained {name}", trained[name], expected[name], inputs=inputs, atol=1e-10, rtol=1e-8)


# --- 3. the variance of a linear layer's output ----------------------------------------------------------------

def output_variance_std_as_var(n_in, n_out, var_w, var_x, batch, rng):
    x = rng.normal(0.0, var_x, size=(batch, n_in))
    W = rng.normal(0.0, var_w, size=(n_out, n_in))
    return float(np.var(x @ W.T))


def output_variance_returns_std(n_in, n_out, var_w, var_x, batch, rng):
    x = rng.normal(0.0, np.sqrt(var_x), size=(batch, n_in))
    W = rng.normal(0.0, np.sqrt(var_w), size=(n_out, n_in))
    return float(np.std(x @ W.T))


def output_variance_formula(n_in, n_out, var_w, var_x, batch, rng):
    return float(n_in * var_w * var_x)


def output_variance_uniform_no_sqrt3(n_in, n_out, var_w, var_x, batch, rng):
    x = rng.normal(0.0, np.sqrt(var_x), size=(batch, n_in))
    W = rng.uniform(-np.sqrt(var_w), np.sqrt(var_w), size=(n_out, n_in))
    return float(np.var(x @ W.T))


OUTPUT_VARIANCE_MISTAKES = [
    Mistake("the variances are passed to rng.normal as its scale, but scale is the standard deviation: use "
            "np.sqrt(var)", output_variance_std_as_var),
    Mistake("the standard deviation of y is returned instead of its variance", output_variance_returns_std),
    Mistake("the formula n_in * var_w * var_x is returned instead of being measured on a sample drawn from rng",
            output_variance_formula),
    Mistake("the weights are drawn from U[-sqrt(var_w), sqrt(var_w)], whose variance is var_w / 3: the bound of a "
            "uniform distribution with variance v is sqrt(3 v)", output_variance_uniform_no_sqrt3),
]


def _relative_standard_error(n, m, batch) -> float:
    """Standard error of mean(y^2) / E[y^2] for y = x W^T with Gaussian x (batch, n) and W (m, n).

    Var(y^2) = (2 n^2 + 6 n) s^2 and entries sharing a row of x or a row of W have covariance 2 n s^2, where
    s = var_w var_x; entries sharing neither are independent.
    """
    total = (2 * n * n + 6 * n) + 2 * n * (m - 1) + 2 * n * (batch - 1)
    return math.sqrt(total / (batch * m * n * n))


@check("linear_output_variance", mistakes=OUTPUT_VARIANCE_MISTAKES, by_hand=True, statistical=True)
def check_linear_output_variance(linear_output_variance, rng):
    """The measured Var(y) agrees with n_in Var(w) Var(x) within 6 standard errors, uses rng for every draw
    (same state, same result) and changes when rng does."""
    for n_in, n_out, var_w, var_x, batch in [(64, 32, 0.25, 2.0, 400), (100, 40, 0.004, 1.0, 300),
                                             (16, 16, 0.125, 0.5, 600)]:
        inputs = describe_inputs(n_in=n_in, n_out=n_out, var_w=var_w, var_x=var_x, batch=batch)
        got = linear_output_variance(n_in, n_out, var_w, var_x, batch, rng)
        expect_true(isinstance(got, (int, float)) and math.isfinite(got),
                    f"linear_output_variance should return a finite number for {inputs}")
        predicted = n_in * var_w * var_x
        tolerance = 6 * _relative_standard_error(n_in, n_out, batch) + 1e-3
        ratio = got / predicted
        expect_true(abs(ratio - 1) <= tolerance,
                    f"for {inputs} the measured variance is {ratio:.3g} times "
                    f"n_in * var_w * var_x; sampling noise explains at most a factor 1 +- {tolerance:.2g}")
    inputs = describe_inputs(n_in=8, n_out=8, var_w=0.5, var_x=1.0, batch=20)
    first = linear_output_variance(8, 8, 0.5, 1.0, 20, rng)
    again = linear_output_variance(8, 8, 0.5, 1.0, 20, rng)
    expect_true(first == again, f"two calls with the same state of rng gave different "
                                f"results for {inputs}; draw every random number from rng (not np.random)")
    rng.random()
    other = linear_output_variance(8, 8, 0.5, 1.0, 20, rng)
    expect_true(other != first, f"the result does not change when rng does ({inputs}); "
                                "measure the variance on a sample drawn from rng")


# --- 4. the old uniform scheme ---------------------------------------------------------------------------------

@cached_reference
def reference_uniform_variance(low, high) -> torch.Tensor:
    return torch.distributions.Uniform(_t(low), _t(high)).variance


def uniform_variance_sum(low, high):
    return (np.asarray(high, dtype=float) + np.asarray(low, dtype=float)) ** 2 / 12


def uniform_variance_not_squared(low, high):
    return (np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) / 12


def uniform_variance_std(low, high):
    return (np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) / np.sqrt(12)


def uniform_variance_over_3(low, high):
    return (np.asarray(high, dtype=float) - np.asarray(low, dtype=float)) ** 2 / 3


UNIFORM_VARIANCE_MISTAKES = [
    Mistake("the bounds are added, (high + low)^2 / 12; lecture 003's (1/sqrt(n) + 1/sqrt(n))^2 is the width "
            "high - low, since low = -1/sqrt(n)", uniform_variance_sum),
    Mistake("the width is not squared: the variance is (high - low)^2 / 12", uniform_variance_not_squared),
    Mistake("the standard deviation (high - low) / sqrt(12) is returned instead of the variance", uniform_variance_std),
    Mistake("the width squared is divided by 3; a^2 / 3 holds for the half-width a of U[-a, a], the full width "
            "needs 12", uniform_variance_over_3),
]


@check("uniform_variance", mistakes=UNIFORM_VARIANCE_MISTAKES, by_hand=True)
def check_uniform_variance(uniform_variance, rng):
    """uniform_variance(low, high) equals torch.distributions.Uniform(low, high).variance for numbers and arrays."""
    n = np.array([1.0, 3.0, 64.0, 256.0, 1000.0])
    low = rng.normal(size=(3, 4))
    cases = [(-1.0, 1.0), (0.0, 1.0), (2.0, 5.0), (-1 / np.sqrt(n), 1 / np.sqrt(n)),
             (low, low + rng.uniform(0.1, 3.0, size=(3, 4))), (np.array([-1e-4]), np.array([3e-4]))]
    for low, high in cases:
        got = uniform_variance(low, high)
        expect_close("uniform_variance(low, high)", got, reference_uniform_variance(low, high),
                     inputs=describe_inputs(low=low, high=high), atol=1e-14, rtol=1e-10)


@cached_reference
def reference_layer_variances(X, weights) -> torch.Tensor:
    h = _t(X)
    variances = []
    for W in weights:
        h = F.linear(h, _t(W))
        variances.append(torch.var(h, correction=0))
    return torch.stack(variances)


def layer_variances_unbiased(X, weights):
    h = np.asarray(X, dtype=float)
    out = []
    for W in weights:
        h = h @ W.T
        out.append(np.var(h, ddof=1))
    return np.array(out)


def layer_variances_per_feature(X, weights):
    h = np.asarray(X, dtype=float)
    out = []
    for W in weights:
        h = h @ W.T
        out.append(np.mean(np.var(h, axis=0)))
    return np.array(out)


def layer_variances_not_transposed(X, weights):
    h = np.asarray(X, dtype=float)
    out = []
    for W in weights:
        h = h @ W
        out.append(np.var(h))
    return np.array(out)


def layer_variances_of_inputs(X, weights):
    h = np.asarray(X, dtype=float)
    out = []
    for W in weights:
        out.append(np.var(h))
        h = h @ W.T
    return np.array(out)


LAYER_VARIANCES_MISTAKES = [
    Mistake("the unbiased variance (ddof=1) is used; the exercise asks for np.var's population variance over all "
            "entries", layer_variances_unbiased),
    Mistake("the variance is taken per feature (axis 0) and averaged; take it over all entries of h_l, which also "
            "counts how the feature means differ", layer_variances_per_feature),
    Mistake("the layer computes h @ W instead of h @ W.T; a weight of shape (out, in) maps h to h @ W.T",
            layer_variances_not_transposed),
    Mistake("the variance of each layer's input is recorded instead of its output (the first entry must be "
            "Var(h_1), not Var(X))", layer_variances_of_inputs),
]


@check("layer_variances", mistakes=LAYER_VARIANCES_MISTAKES, by_hand=True)
def check_layer_variances(layer_variances, rng):
    """layer_variances(X, weights) equals torch.var(correction=0) of each output of a chain of F.linear layers."""
    cases = [(rng.normal(size=(20, 6)), [rng.normal(size=(6, 6)) for _ in range(3)])]
    sizes = [10, 8, 12, 3]
    cases.append((1.0 + rng.normal(size=(50, 10)),
                  [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]))
    n = 32
    cases.append((rng.normal(size=(40, n)),
                  [rng.uniform(-1 / np.sqrt(n), 1 / np.sqrt(n), size=(n, n)) for _ in range(6)]))
    cases.append((rng.normal(size=(1, 5)), [rng.normal(size=(4, 5))]))
    cases.append((rng.normal(size=(30, 2)), [rng.normal(size=(1, 2)), rng.normal(size=(5, 1))]))
    for X, weights in cases:
        got = layer_variances(X, weights)
        shapes = " -> ".join(str(W.shape) for W in weights)
        expect_close("layer_variances(X, weights)", got, reference_layer_variances(X, weights),
                     inputs=describe_inputs(X=X) + f", weights of shapes {shapes}", atol=1e-300, rtol=1e-9)


# --- 5. Xavier and Kaiming initialization ----------------------------------------------------------------------

KS_THRESHOLD = 1e-7     # p-value below which a sample is declared not to follow torch's distribution
STATS_MIN_SIZE = 1000   # the statistical comparisons need a large tensor


def _torch_generator(rng) -> torch.Generator:
    return torch.Generator().manual_seed(int(rng.integers(2 ** 31)))


@cached_reference
def reference_xavier(shape, gain, rng, uniform: bool):
    """torch.nn.init.xavier_*_ on a float64 tensor of the shape: (sample, std) where std is what PyTorch uses."""
    tensor = torch.empty(shape, dtype=torch.float64)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    init = torch.nn.init.xavier_uniform_ if uniform else torch.nn.init.xavier_normal_
    return init(tensor, gain=gain, generator=_torch_generator(rng)).numpy(), std


@cached_reference
def reference_kaiming(shape, mode, nonlinearity, rng, uniform: bool):
    """torch.nn.init.kaiming_*_ on a float64 tensor of the shape: (sample, std) where std is what PyTorch uses."""
    tensor = torch.empty(shape, dtype=torch.float64)
    fan = torch.nn.init._calculate_correct_fan(tensor, mode)
    std = torch.nn.init.calculate_gain(nonlinearity) / math.sqrt(fan)
    init = torch.nn.init.kaiming_uniform_ if uniform else torch.nn.init.kaiming_normal_
    return init(tensor, mode=mode, nonlinearity=nonlinearity, generator=_torch_generator(rng)).numpy(), std


def expect_sample_like(name, got, shape, std, uniform, torch_sample, inputs):
    """got has the shape; uniform: within [-sqrt(3) std, sqrt(3) std] and reaching near it; for large tensors: mean
    0 and variance std^2 within 6 standard errors, and a two-sample KS test against torch_sample does not reject.
    Each failure names its likely cause: a transposed shape, another distribution family with the right variance,
    an interval not centred on 0, a variance off by a factor that has a name."""
    transposed = isinstance(got, np.ndarray) and got.shape == tuple(shape)[::-1] and shape[0] != shape[1]
    expect_true(isinstance(got, np.ndarray) and got.shape == tuple(shape),
                f"{name} should return a numpy array of shape {tuple(shape)}, got "
                f"{getattr(got, 'shape', type(got).__name__)} for {inputs}"
                + ("; the shape is transposed: a weight has shape (out, in) = shape, as in torch.nn.Linear"
                   if transposed else ""))
    w = np.asarray(got, dtype=float).ravel()
    expect_true(np.all(np.isfinite(w)), f"{name} returned values that are not finite for {inputs}")
    size = w.size
    ratio = w.var() / std ** 2
    variance_tolerance = 6 * math.sqrt((0.8 if uniform else 2.0) / size)
    variance_fits = abs(ratio - 1) <= variance_tolerance
    if uniform:
        bound = math.sqrt(3.0) * std
        expect_true(np.max(np.abs(w)) <= bound * (1 + 1e-9),
                    f"values beyond the bound of the distribution for {inputs} (largest |w| is "
                    f"{np.max(np.abs(w)) / bound:.3g} times the bound): the range is too wide"
                    + (_OTHER_FAMILY_UNIFORM if size >= STATS_MIN_SIZE and variance_fits else ""))
        if size >= STATS_MIN_SIZE:
            expect_true(np.max(np.abs(w)) >= bound * (1 - 30.0 / size),
                        f"for {inputs} no value comes near the bound (largest |w| is "
                        f"{np.max(np.abs(w)) / bound:.3g} times the bound): the range is too narrow"
                        + _named_variance_factor(ratio, std, variance_tolerance))
    if size < STATS_MIN_SIZE:
        return
    mean_tolerance = 6 * std / math.sqrt(size)
    expect_true(abs(w.mean()) <= mean_tolerance,
                f"the mean of the values is {abs(w.mean()) / std:.3g} standard deviations away from 0 for "
                f"{inputs}; the weights should be centred at 0" + _off_centre_cause(w, uniform))
    # relative standard error of the sample variance: sqrt(2 / N) for a normal, sqrt(4 / (5 N)) for a uniform
    expect_true(variance_fits,
                f"for {inputs} the sample variance is {ratio:.3g} times the variance PyTorch's "
                f"initializer gives (sampling noise explains 1 +- {variance_tolerance:.2g})"
                + _named_variance_factor(ratio, std, variance_tolerance))
    p_value = ks_two_sample_p_value(w, torch_sample.ravel())
    bounded = np.max(np.abs(w)) <= math.sqrt(3.0) * std * (1 + 5.0 / math.sqrt(size))
    expect_true(p_value >= KS_THRESHOLD,
                f"for {inputs} a Kolmogorov-Smirnov test rejects that the values come from the distribution "
                f"torch.nn.init samples from (p = {p_value:.2g})"
                + ("" if uniform else _OTHER_FAMILY_NORMAL if bounded else
                   "; the variance is right, so the shape of the distribution is not: draw from rng.normal"))


_OTHER_FAMILY_UNIFORM = ("; the variance is right, so the values come from another distribution (rng.normal?): "
                         "a uniform initializer draws from rng.uniform(-a, a) with a = sqrt(3) std")
_OTHER_FAMILY_NORMAL = ("; the variance is right but every value lies within sqrt(3) standard deviations: the values "
                        "are uniform (rng.uniform) where a normal distribution is asked, use rng.normal(0, std)")

# variance ratios (sample / PyTorch's) that a known slip produces, and the slip
_VARIANCE_FACTORS = [
    (1 / 3, "the bound was set to the standard deviation: U[-a, a] has variance a^2 / 3, so a = sqrt(3) std"),
    (3.0, "sqrt(3) std (the uniform bound) was used as the standard deviation"),
    (0.5, "a factor 2 is missing from the variance (the gain sqrt(2) of ReLU, or the 2 of 2 / (n_in + n_out))"),
    (2.0, "the variance has an extra factor 2 (a gain sqrt(2) where none belongs, or 2 / n for 1 / n)"),
]


def _named_variance_factor(ratio: float, std: float, tolerance: float) -> str:
    """The slip that explains a variance `ratio` times PyTorch's, if one does."""
    for factor, slip in _VARIANCE_FACTORS:
        if abs(ratio / factor - 1) <= tolerance:
            return f"; a variance {factor:.3g} times the right one: {slip}"
    if std < 0.9 and abs(ratio / std ** 2 - 1) <= tolerance:
        return "; the variance was passed where the standard deviation belongs (rng.normal's scale is the std)"
    if std < 0.9 and abs(ratio * std - 1) <= tolerance:
        return "; the standard deviation was passed where the variance belongs, or sqrt was taken twice"
    return ""


def _off_centre_cause(w: np.ndarray, uniform: bool) -> str:
    if w.min() >= 0:
        return ("; every value is >= 0: the interval is [0, a] (rng.random() or rng.uniform(0, a)), "
                "use rng.uniform(-a, a)" if uniform else "; every value is >= 0: take no absolute value")
    return "; the interval (or the distribution) is not centred on 0: use loc 0, rng.uniform(-a, a)"


def ks_two_sample_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided two-sample Kolmogorov-Smirnov test of 1-d samples a and b: the p-value of D = max |F_a - F_b|.

    D as scipy.stats.ks_2samp computes it; the p-value from Kolmogorov's limiting distribution at sqrt(n_eff) D,
    n_eff = n_a n_b / (n_a + n_b). ks_2samp's exact finite-n distribution costs ~4 ms on 30,000 values, twelve
    times per submission. Where p is between 1e-9 and 1, for 1,000 values or more, the limit's p is within -1% and
    +15% of ks_2samp's (tests/test_checks.py): the test is a hair more lenient at KS_THRESHOLD. (scipy.special, not
    scipy.stats: importing scipy.stats took 0.8 s of the grader's start-up.)
    """
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    d = np.max(np.abs(np.searchsorted(a, both, side="right") / a.size
                      - np.searchsorted(b, both, side="right") / b.size))
    n_eff = a.size * b.size / (a.size + b.size)
    return float(special.kolmogorov(math.sqrt(n_eff) * d))  # kstwobign's survival function


def expect_uses_rng(name, call, inputs):
    """Two calls with the same state of rng give the same array; advancing rng changes it."""
    rng = np.random.default_rng(12345)
    first, again = call(rng), call(rng)
    expect_true(np.array_equal(np.asarray(first), np.asarray(again)),
                f"two calls with the same state of rng gave different arrays for {inputs}; draw every "
                "random number from the rng argument (not np.random or torch)")
    rng.random()
    expect_true(not np.array_equal(np.asarray(call(rng)), np.asarray(first)),
                f"the array does not change when rng does, for {inputs}")


def xavier_uniform_fan_in_only(shape, rng, gain=1.0):
    fan_in = shape[1]
    bound = gain * np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape)


def xavier_uniform_fan_out_only(shape, rng, gain=1.0):
    fan_out = shape[0]
    bound = gain * np.sqrt(6.0 / fan_out)
    return rng.uniform(-bound, bound, size=shape)


def xavier_uniform_no_sqrt3(shape, rng, gain=1.0):
    fan_out, fan_in = shape
    bound = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def xavier_uniform_no_gain(shape, rng, gain=1.0):
    fan_out, fan_in = shape
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def xavier_uniform_no_sqrt(shape, rng, gain=1.0):
    fan_out, fan_in = shape
    bound = gain * 6.0 / (fan_in + fan_out)
    return rng.uniform(-bound, bound, size=shape)


XAVIER_UNIFORM_MISTAKES = [
    Mistake("only fan_in is used (sqrt(6 / n_in)); Xavier averages both fans: sqrt(6 / (n_in + n_out))",
            xavier_uniform_fan_in_only),
    Mistake("only fan_out is used (sqrt(6 / n_out)); Xavier averages both fans: sqrt(6 / (n_in + n_out))",
            xavier_uniform_fan_out_only),
    Mistake("the bound is the standard deviation sqrt(2 / (n_in + n_out)); U[-a, a] has variance a^2 / 3, so the "
            "bound needs the factor sqrt(3)", xavier_uniform_no_sqrt3),
    Mistake("the gain is ignored: the bound is gain * sqrt(6 / (n_in + n_out))", xavier_uniform_no_gain),
    Mistake("the square root is missing: the bound is sqrt(6 / (n_in + n_out)), not 6 / (n_in + n_out)",
            xavier_uniform_no_sqrt),
]


def xavier_normal_fan_in_only(shape, rng, gain=1.0):
    fan_in = shape[1]
    return rng.normal(0.0, gain * np.sqrt(2.0 / fan_in), size=shape)


def xavier_normal_fan_out_only(shape, rng, gain=1.0):
    fan_out = shape[0]
    return rng.normal(0.0, gain * np.sqrt(2.0 / fan_out), size=shape)


def xavier_normal_variance_as_std(shape, rng, gain=1.0):
    fan_out, fan_in = shape
    return rng.normal(0.0, gain ** 2 * 2.0 / (fan_in + fan_out), size=shape)


def xavier_normal_bound_as_std(shape, rng, gain=1.0):
    fan_out, fan_in = shape
    return rng.normal(0.0, gain * np.sqrt(6.0 / (fan_in + fan_out)), size=shape)


def xavier_normal_no_gain(shape, rng, gain=1.0):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


XAVIER_NORMAL_MISTAKES = [
    Mistake("only fan_in is used (variance 2 / n_in); Xavier's variance is 2 / (n_in + n_out)",
            xavier_normal_fan_in_only),
    Mistake("only fan_out is used (variance 2 / n_out); Xavier's variance is 2 / (n_in + n_out)",
            xavier_normal_fan_out_only),
    Mistake("the variance 2 / (n_in + n_out) is passed to rng.normal as its scale, which is the standard "
            "deviation: use its square root", xavier_normal_variance_as_std),
    Mistake("the uniform bound sqrt(6 / (n_in + n_out)) is used as the standard deviation; the normal version has "
            "std sqrt(2 / (n_in + n_out))", xavier_normal_bound_as_std),
    Mistake("the gain is ignored: the standard deviation is gain * sqrt(2 / (n_in + n_out))", xavier_normal_no_gain),
]

XAVIER_CASES = [((300, 100), 1.0), ((160, 200), 2.0)]
SMALL_SHAPES = [(1, 1), (3, 5), (5, 2)]


def _check_xavier(init, rng, uniform):
    name = "xavier_uniform" if uniform else "xavier_normal"
    for shape, gain in XAVIER_CASES + [(s, 1.0) for s in SMALL_SHAPES]:
        inputs = f"shape = {shape}, gain = {gain}"
        got = init(shape, rng, gain=gain)
        sample, std = reference_xavier(shape, gain, rng, uniform)
        expect_sample_like(name, got, shape, std, uniform, sample, inputs)
    expect_uses_rng(name, lambda r: init((4, 6), r, gain=1.0), "shape = (4, 6), gain = 1.0")


@check("xavier_uniform", mistakes=XAVIER_UNIFORM_MISTAKES, by_hand=True, statistical=True)
def check_xavier_uniform(xavier_uniform, rng):
    """xavier_uniform(shape, rng, gain) samples what torch.nn.init.xavier_uniform_ samples: bound, mean, variance,
    and a KS test against torch's own sample; shapes (out, in), gains, small shapes; uses rng."""
    _check_xavier(xavier_uniform, rng, uniform=True)


@check("xavier_normal", mistakes=XAVIER_NORMAL_MISTAKES, by_hand=True, statistical=True)
def check_xavier_normal(xavier_normal, rng):
    """xavier_normal(shape, rng, gain) samples what torch.nn.init.xavier_normal_ samples: mean, variance and a KS
    test against torch's own sample; shapes (out, in), gains, small shapes; uses rng."""
    _check_xavier(xavier_normal, rng, uniform=False)


_GAINS_NOTE = "{'linear': 1, 'relu': sqrt(2), 'tanh': 5/3}"


def kaiming_normal_no_factor_2(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": 1.0, "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.normal(0.0, gain / np.sqrt(fan), size=shape)


def kaiming_normal_fans_swapped(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_in, fan_out = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.normal(0.0, gain / np.sqrt(fan), size=shape)


def kaiming_normal_variance_as_std(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.normal(0.0, gain ** 2 / fan, size=shape)


def kaiming_normal_lecture_as_variance(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.normal(0.0, np.sqrt(gain / np.sqrt(fan)), size=shape)


def kaiming_normal_mode_ignored(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.normal(0.0, gain / np.sqrt(fan_in), size=shape)


def kaiming_normal_relu_gain_always(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    return rng.normal(0.0, np.sqrt(2.0 / fan), size=shape)


KAIMING_NORMAL_MISTAKES = [
    Mistake("the factor 2 of ReLU is missing: Kaiming's variance is 2 / n_in (gain sqrt(2)), not 1 / n_in",
            kaiming_normal_no_factor_2),
    # before the swapped fans: on mode='fan_out' the two give the same numbers
    Mistake("mode is ignored: with mode='fan_out' the fan is fan_out = shape[0]", kaiming_normal_mode_ignored),
    Mistake("fan_in and fan_out are swapped: a weight of shape (out, in) has fan_in = shape[1] and "
            "fan_out = shape[0]", kaiming_normal_fans_swapped),
    Mistake("the variance gain^2 / fan is passed to rng.normal as its scale, which is the standard deviation: use "
            "gain / sqrt(fan)", kaiming_normal_variance_as_std),
    Mistake("lecture 003's N(0, sqrt(2 / n_in)) is read as having the variance sqrt(2 / n_in); its second argument "
            "is the standard deviation, the variance is 2 / n_in", kaiming_normal_lecture_as_variance),
    Mistake("the ReLU gain sqrt(2) is used for every nonlinearity; the gains are " + _GAINS_NOTE,
            kaiming_normal_relu_gain_always),
]


def kaiming_uniform_no_sqrt3(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    bound = gain / np.sqrt(fan)
    return rng.uniform(-bound, bound, size=shape)


def kaiming_uniform_no_factor_2(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": 1.0, "tanh": 5.0 / 3.0}[nonlinearity]
    bound = gain * np.sqrt(3.0 / fan)
    return rng.uniform(-bound, bound, size=shape)


def kaiming_uniform_fans_swapped(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_in, fan_out = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    bound = gain * np.sqrt(3.0 / fan)
    return rng.uniform(-bound, bound, size=shape)


def kaiming_uniform_mode_ignored(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    bound = gain * np.sqrt(3.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape)


def kaiming_uniform_relu_gain_always(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_out, fan_in = shape
    fan = fan_in if mode == "fan_in" else fan_out
    bound = np.sqrt(6.0 / fan)
    return rng.uniform(-bound, bound, size=shape)


KAIMING_UNIFORM_MISTAKES = [
    Mistake("the bound is the standard deviation gain / sqrt(fan); U[-a, a] has variance a^2 / 3, so the bound is "
            "gain * sqrt(3 / fan)", kaiming_uniform_no_sqrt3),
    Mistake("the factor 2 of ReLU is missing: for ReLU the bound is sqrt(6 / fan) (gain sqrt(2)), not sqrt(3 / fan)",
            kaiming_uniform_no_factor_2),
    # before the swapped fans: on mode='fan_out' the two give the same numbers
    Mistake("mode is ignored: with mode='fan_out' the fan is fan_out = shape[0]", kaiming_uniform_mode_ignored),
    Mistake("fan_in and fan_out are swapped: a weight of shape (out, in) has fan_in = shape[1] and "
            "fan_out = shape[0]", kaiming_uniform_fans_swapped),
    Mistake("the ReLU gain sqrt(2) is used for every nonlinearity; the gains are " + _GAINS_NOTE,
            kaiming_uniform_relu_gain_always),
]

KAIMING_CASES = [((250, 100), "fan_in", "relu"), ((100, 160), "fan_out", "relu"), ((150, 200), "fan_in", "linear"),
                 ((200, 120), "fan_out", "tanh")]


def _check_kaiming(init, rng, uniform):
    name = "kaiming_uniform" if uniform else "kaiming_normal"
    cases = KAIMING_CASES + [(s, "fan_in", "relu") for s in SMALL_SHAPES] + [((3, 5), "fan_out", "linear")]
    for shape, mode, nonlinearity in cases:
        inputs = f"shape = {shape}, mode = {mode!r}, nonlinearity = {nonlinearity!r}"
        got = init(shape, rng, mode=mode, nonlinearity=nonlinearity)
        sample, std = reference_kaiming(shape, mode, nonlinearity, rng, uniform)
        expect_sample_like(name, got, shape, std, uniform, sample, inputs)
    expect_uses_rng(name, lambda r: init((4, 6), r, mode="fan_in", nonlinearity="relu"),
                    "shape = (4, 6), mode = 'fan_in', nonlinearity = 'relu'")


@check("kaiming_normal", mistakes=KAIMING_NORMAL_MISTAKES, by_hand=True, statistical=True)
def check_kaiming_normal(kaiming_normal, rng):
    """kaiming_normal(shape, rng, mode, nonlinearity) samples what torch.nn.init.kaiming_normal_ samples: mean,
    variance and a KS test against torch's own sample, for fan_in and fan_out and three gains; uses rng."""
    _check_kaiming(kaiming_normal, rng, uniform=False)


@check("kaiming_uniform", mistakes=KAIMING_UNIFORM_MISTAKES, by_hand=True, statistical=True)
def check_kaiming_uniform(kaiming_uniform, rng):
    """kaiming_uniform(shape, rng, mode, nonlinearity) samples what torch.nn.init.kaiming_uniform_ samples: bound,
    mean, variance and a KS test against torch's own sample, for fan_in and fan_out and three gains; uses rng."""
    _check_kaiming(kaiming_uniform, rng, uniform=True)


# --- 7b. the backward pass: what mode="fan_out" keeps ------------------------------------------------------------


@cached_reference
def reference_gradient_variances(G, weights) -> torch.Tensor:
    """torch.var(correction=0) of dL/dh_l, l = 0..L-1, by autograd through a chain of F.linear layers with
    L = sum(h_L * G) (so dL/dh_L = G). The layers are linear, so the inputs' values do not matter."""
    first = _t(weights[0])
    h = torch.zeros(_t(G).shape[0], first.shape[1], dtype=torch.float64, requires_grad=True)
    inputs = []
    for W in weights:
        h.retain_grad()
        inputs.append(h)
        h = F.linear(h, _t(W))
    torch.sum(h * _t(G)).backward()
    return torch.stack([torch.var(x.grad, correction=0) for x in inputs])


def gradient_variances_forward_transpose(G, weights):
    g = np.asarray(G, dtype=float)
    out = []
    for W in reversed(weights):
        g = g @ W.T
        out.append(np.var(g))
    return np.array(out[::-1])


def gradient_variances_forward_order(G, weights):
    g = np.asarray(G, dtype=float)
    out = []
    for W in weights:
        g = g @ W
        out.append(np.var(g))
    return np.array(out)


def gradient_variances_not_reversed(G, weights):
    g = np.asarray(G, dtype=float)
    out = []
    for W in reversed(weights):
        g = g @ W
        out.append(np.var(g))
    return np.array(out)


def gradient_variances_of_outputs(G, weights):
    g = np.asarray(G, dtype=float)
    out = []
    for W in reversed(weights):
        out.append(np.var(g))
        g = g @ W
    return np.array(out[::-1])


def gradient_variances_unbiased(G, weights):
    g = np.asarray(G, dtype=float)
    out = []
    for W in reversed(weights):
        g = g @ W
        out.append(np.var(g, ddof=1))
    return np.array(out[::-1])


GRADIENT_VARIANCES_MISTAKES = [
    Mistake("the gradient goes back through W.T (g @ W.T, the forward direction); the backward pass of "
            "h_l = h_(l-1) @ W_l.T is dL/dh_(l-1) = dL/dh_l @ W_l", gradient_variances_forward_transpose),
    Mistake("the layers are taken first to last; the gradient starts at the output and meets W_L first, W_1 last",
            gradient_variances_forward_order),
    Mistake("the variances are returned in the order they were computed (last layer first); entry l is "
            "Var(dL/dh_l), from l = 0 (the network's input) to L - 1: reverse the list", gradient_variances_not_reversed),
    Mistake("the variance of each layer's upstream gradient dL/dh_l, l = 1..L, is recorded (the first is Var(G)); "
            "record what reaches each layer's input, dL/dh_(l-1) = dL/dh_l @ W_l", gradient_variances_of_outputs),
    Mistake("the unbiased variance (ddof=1) is used; the exercise asks for np.var's population variance over all "
            "entries", gradient_variances_unbiased),
]


@check("gradient_variances", mistakes=GRADIENT_VARIANCES_MISTAKES, by_hand=True)
def check_gradient_variances(gradient_variances, rng):
    """gradient_variances(G, weights) equals torch.var(correction=0) of the gradient autograd sends back to the
    input of each layer of a chain of F.linear layers, first layer first; square, widening, narrowing and
    one-unit stacks."""
    cases = [(rng.normal(size=(20, 6)), [rng.normal(size=(6, 6)) for _ in range(3)])]
    widening = [4, 8, 16, 32]
    cases.append((1.0 + rng.normal(size=(30, 32)),
                  [rng.normal(size=(o, i)) / np.sqrt(o) for i, o in zip(widening[:-1], widening[1:])]))
    narrowing = [12, 9, 5, 3]
    cases.append((rng.normal(size=(25, 3)),
                  [rng.uniform(-1, 1, size=(o, i)) for i, o in zip(narrowing[:-1], narrowing[1:])]))
    cases.append((rng.normal(size=(1, 4)), [rng.normal(size=(4, 5))]))
    cases.append((rng.normal(size=(15, 5)), [rng.normal(size=(1, 2)), rng.normal(size=(5, 1))]))
    for G, weights in cases:
        got = gradient_variances(G, weights)
        shapes = " -> ".join(str(W.shape) for W in weights)
        expect_close("gradient_variances(G, weights)", got, reference_gradient_variances(G, weights),
                     inputs=describe_inputs(G=G) + f", weights of shapes {shapes}", atol=1e-300, rtol=1e-9)


CHECKS = [check_collapse_weight, check_collapse_bias, check_numerical_rank, check_train_losses, check_train_symmetry,
          check_linear_output_variance, check_uniform_variance, check_layer_variances, check_xavier_uniform,
          check_xavier_normal, check_kaiming_normal, check_kaiming_uniform, check_gradient_variances]
