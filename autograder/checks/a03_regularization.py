"""Checks of 03_regularization: L2 and L1 penalties, weight decay, early stopping, augmentation, mixup, smoothing,
an L1 penalty on activations, separate kernel and bias regularizers (Keras' form) and the orthogonal penalty.

Conventions (the notebook states them to the student):
- parameters are a dict of arrays; names starting with "W" are weights (penalized), names starting with "b" are
  biases (never penalized); n is the number of training examples (lecture 000/001: C = C0 + lambda/(2n) sum w^2);
- images are (N, C, H, W); an affine resampling follows F.affine_grid + F.grid_sample with align_corners=False,
  bilinear interpolation and zeros padding; theta (N, 2, 3) maps output coordinates to input coordinates;
- rotate(x, angle): angle in degrees, counter-clockwise on screen, a true rotation in pixel space (aspect corrected);
- zoom(x, factor): factor > 1 zooms in (central crop of 1/factor of each side, resized back), theta = diag(1/factor).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.framework import (Mismatch, Mistake, cached_reference, check, describe_inputs, expect_close,
                                         expect_true, same_values)

TOL = dict(atol=1e-10, rtol=1e-8)


# --- shared helpers of the checks (never used by mistakes) -----------------------------------------------------

def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def _describe_params(params: dict, **settings) -> str:
    shapes = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in params.items())
    rest = describe_inputs(**settings)
    return f"params with {shapes}" + (f", {rest}" if rest else "")


def _kind(value) -> str:
    if value is None:
        return "None (did you forget to return?)"
    return type(value).__name__


def _expect_params(what: str, got, expected: dict, inputs: str, atol=1e-10, rtol=1e-8):
    """got must be a dict with the keys of expected, each entry close to expected's."""
    if not isinstance(got, dict):
        raise Mismatch(f"{what} should be a dict with one array per parameter, got {_kind(got)} for {inputs}")
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        raise Mismatch(f"{what} should have exactly the keys of params; missing {missing}, unexpected {extra}, "
                       f"for {inputs}")
    for key, value in expected.items():
        expect_close(f"{what}[{key!r}]", got[key], value, inputs=inputs, atol=atol, rtol=rtol)


def _param_cases(rng):
    """(params, lam, n): an MLP, a conv-like net, one layer; big biases (so penalizing them shows); exact zeros."""
    mlp = {"W1": rng.normal(size=(30, 64)), "b1": 2.0 + rng.normal(size=30),
           "W2": rng.normal(size=(10, 30)), "b2": -1.5 + rng.normal(size=10)}
    yield mlp, 5.0, 1000
    conv = {"W1": rng.normal(size=(4, 3, 3, 3)), "b1": rng.normal(size=4) + 3.0,
            "W2": rng.normal(size=(10, 36)), "b2": rng.normal(size=10)}
    conv["W1"][rng.random(conv["W1"].shape) < 0.3] = 0.0        # pruned weights: sgn(0) = 0
    yield conv, 0.3, 37
    single = {"W": rng.normal(size=(3, 5)), "b": rng.normal(size=3) + 1.0}
    single["W"][0, :] = 0.0
    yield single, 12.0, 7
    deep = {f"W{i}": rng.normal(size=(6, 6)) for i in range(1, 4)}
    deep.update({f"b{i}": rng.normal(size=6) for i in range(1, 4)})
    yield deep, 1.0, 1
    yield {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=2)}, 0.0, 10


@cached_reference
def _torch_penalty(params: dict, kind: str, lam: float, n: int):
    """The penalty (torch scalar) and its gradient dict by autograd (biases: zeros)."""
    tensors = {k: _t(v).requires_grad_(True) for k, v in params.items()}
    weights = [t for k, t in tensors.items() if k.startswith("W")]
    if kind == "l2":
        penalty = lam / (2 * n) * sum(torch.sum(w ** 2) for w in weights)
    else:
        penalty = lam / n * sum(torch.sum(torch.abs(w)) for w in weights)
    grads = torch.autograd.grad(penalty, list(tensors.values()), allow_unused=True, materialize_grads=True)
    return penalty.detach(), dict(zip(tensors, grads))


# --- L2 penalty ------------------------------------------------------------------------------------------------

def l2_penalty_with_biases(params, lam, n):
    return float(lam / (2 * n) * sum(np.sum(np.asarray(v) ** 2) for v in params.values()))


def l2_penalty_lam_over_n(params, lam, n):
    return float(lam / n * sum(np.sum(np.asarray(v) ** 2) for k, v in params.items() if k.startswith("W")))


def l2_penalty_no_n(params, lam, n):
    return float(lam / 2 * sum(np.sum(np.asarray(v) ** 2) for k, v in params.items() if k.startswith("W")))


def l2_penalty_norm_not_squared(params, lam, n):
    return float(lam / (2 * n) * sum(np.sqrt(np.sum(np.asarray(v) ** 2)) for k, v in params.items()
                                     if k.startswith("W")))


L2_PENALTY_MISTAKES = [
    Mistake("the biases are penalized too: the penalty sums only over weights (names starting with 'W')",
            l2_penalty_with_biases),
    Mistake("lambda/n instead of lambda/(2n): the 1/2 that cancels the 2 of the derivative is missing",
            l2_penalty_lam_over_n),
    Mistake("the 1/n is missing (lambda/2 sum w^2): in the lecture's form the penalty is divided by n, the number "
            "of training examples", l2_penalty_no_n),
    Mistake("the norm ||w|| is used instead of the squared norm sum w^2", l2_penalty_norm_not_squared),
]


@check("l2_penalty", mistakes=L2_PENALTY_MISTAKES, by_hand=True)
def check_l2_penalty(l2_penalty, rng):
    """l2_penalty(params, lam, n) = lam/(2n) sum over weights of w^2, biases excluded."""
    for params, lam, n in _param_cases(rng):
        got = l2_penalty(params, lam, n)
        expected, _ = _torch_penalty(params, "l2", lam, n)
        expect_close("l2_penalty(params, lam, n)", got, expected, inputs=_describe_params(params, lam=lam, n=n), **TOL)


# --- L2 gradient -----------------------------------------------------------------------------------------------

def l2_grad_with_biases(params, lam, n):
    return {k: lam / n * np.asarray(v, dtype=float) for k, v in params.items()}


def l2_grad_halved(params, lam, n):
    return {k: (lam / (2 * n) * np.asarray(v, dtype=float) if k.startswith("W") else np.zeros(np.shape(v)))
            for k, v in params.items()}


def l2_grad_no_n(params, lam, n):
    return {k: (lam * np.asarray(v, dtype=float) if k.startswith("W") else np.zeros(np.shape(v)))
            for k, v in params.items()}


def l2_grad_weights_only(params, lam, n):
    return {k: lam / n * np.asarray(v, dtype=float) for k, v in params.items() if k.startswith("W")}


L2_GRAD_MISTAKES = [
    Mistake("the biases get a gradient lambda/n b too: biases are not penalized, their penalty gradient is 0",
            l2_grad_with_biases),
    Mistake("lambda/(2n) w: the derivative of lambda/(2n) w^2 is lambda/n w (the 2 of the square cancels the 1/2), "
            "so the gradient does not match the penalty", l2_grad_halved),
    Mistake("the 1/n is missing: the gradient is lambda/n w", l2_grad_no_n),
    Mistake("the biases are left out of the result: return a zero array for every bias, so the dict has the same "
            "keys as params", l2_grad_weights_only),
]


@check("l2_grad", mistakes=L2_GRAD_MISTAKES, by_hand=True)
def check_l2_grad(l2_grad, rng):
    """l2_grad(params, lam, n): dict of d(penalty)/d(param), lam/n w for weights and 0 for biases (autograd)."""
    for params, lam, n in _param_cases(rng):
        got = l2_grad(params, lam, n)
        _, expected = _torch_penalty(params, "l2", lam, n)
        _expect_params("l2_grad(params, lam, n)", got, expected, _describe_params(params, lam=lam, n=n), **TOL)


# --- L1 penalty ------------------------------------------------------------------------------------------------

def l1_penalty_with_biases(params, lam, n):
    return float(lam / n * sum(np.sum(np.abs(v)) for v in params.values()))


def l1_penalty_half(params, lam, n):
    return float(lam / (2 * n) * sum(np.sum(np.abs(v)) for k, v in params.items() if k.startswith("W")))


def l1_penalty_no_abs(params, lam, n):
    return float(lam / n * sum(np.sum(v) for k, v in params.items() if k.startswith("W")))


def l1_penalty_squared(params, lam, n):
    return float(lam / n * sum(np.sum(np.asarray(v) ** 2) for k, v in params.items() if k.startswith("W")))


L1_PENALTY_MISTAKES = [
    Mistake("the biases are penalized too: the penalty sums only over weights (names starting with 'W')",
            l1_penalty_with_biases),
    Mistake("lambda/(2n) copied from L2: the L1 penalty is lambda/n sum |w|", l1_penalty_half),
    Mistake("the absolute value is missing: negative weights lower the penalty", l1_penalty_no_abs),
    Mistake("w^2 instead of |w|: that is the L2 penalty", l1_penalty_squared),
]


@check("l1_penalty", mistakes=L1_PENALTY_MISTAKES, by_hand=True)
def check_l1_penalty(l1_penalty, rng):
    """l1_penalty(params, lam, n) = lam/n sum over weights of |w|, biases excluded."""
    for params, lam, n in _param_cases(rng):
        got = l1_penalty(params, lam, n)
        expected, _ = _torch_penalty(params, "l1", lam, n)
        expect_close("l1_penalty(params, lam, n)", got, expected, inputs=_describe_params(params, lam=lam, n=n), **TOL)


# --- L1 gradient -----------------------------------------------------------------------------------------------

def l1_grad_sign_zero_is_one(params, lam, n):
    return {k: (lam / n * np.where(np.asarray(v) >= 0, 1.0, -1.0) if k.startswith("W") else np.zeros(np.shape(v)))
            for k, v in params.items()}


def l1_grad_w_over_abs(params, lam, n):
    out = {}
    for k, v in params.items():
        v = np.asarray(v, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k] = lam / n * v / np.abs(v) if k.startswith("W") else np.zeros(v.shape)
    return out


def l1_grad_with_biases(params, lam, n):
    return {k: lam / n * np.sign(v) for k, v in params.items()}


def l1_grad_half(params, lam, n):
    return {k: (lam / (2 * n) * np.sign(v) if k.startswith("W") else np.zeros(np.shape(v)))
            for k, v in params.items()}


def l1_grad_proportional(params, lam, n):
    return {k: (lam / n * np.asarray(v, dtype=float) if k.startswith("W") else np.zeros(np.shape(v)))
            for k, v in params.items()}


L1_GRAD_MISTAKES = [
    Mistake("sgn(0) is taken as +1 (w >= 0): a weight that is exactly 0 must get gradient 0, sgn(0) = 0",
            l1_grad_sign_zero_is_one),
    Mistake("w / |w| is 0/0 = nan at w = 0: use np.sign, for which sgn(0) = 0", l1_grad_w_over_abs),
    Mistake("the biases get lambda/n sgn(b) too: biases are not penalized, their penalty gradient is 0",
            l1_grad_with_biases),
    Mistake("lambda/(2n) sgn(w): the derivative of lambda/n |w| is lambda/n sgn(w)", l1_grad_half),
    Mistake("lambda/n w is the L2 gradient; L1 gives lambda/n sgn(w), a step of fixed size", l1_grad_proportional),
]


@check("l1_grad", mistakes=L1_GRAD_MISTAKES, by_hand=True)
def check_l1_grad(l1_grad, rng):
    """l1_grad(params, lam, n): lam/n sgn(w) for weights (0 where w = 0, as autograd of |w|), 0 for biases."""
    for params, lam, n in _param_cases(rng):
        got = l1_grad(params, lam, n)
        _, expected = _torch_penalty(params, "l1", lam, n)
        _expect_params("l1_grad(params, lam, n)", got, expected, _describe_params(params, lam=lam, n=n), **TOL)


# --- one SGD step with weight decay (and L1) -------------------------------------------------------------------

@cached_reference
def _torch_sgd_step(params: dict, grads0: dict, eta: float, n: int, lam2: float, lam1: float) -> dict:
    """One gradient step on C = C0 + lam2/(2n) sum w^2 + lam1/n sum |w| (weights only), dC/dparam by autograd.

    C0 enters through its given gradients: sum(grads0 * param) has exactly grads0 as its gradient. With lam1 = 0 this
    is the step torch.optim.SGD takes with weight_decay = lam2/n on the weights and 0 on the biases
    (tests/test_checks.py compares the two); the grader builds no optimizer, whose first use imports torch._dynamo
    (1.7 s of the grader's start-up).
    """
    tensors = {k: _t(v).requires_grad_(True) for k, v in params.items()}
    weights = [t for k, t in tensors.items() if k.startswith("W")]
    cost = sum(torch.sum(_t(grads0[k]) * t) for k, t in tensors.items())
    cost = cost + lam2 / (2 * n) * sum(torch.sum(w * w) for w in weights)
    cost = cost + lam1 / n * sum(torch.sum(torch.abs(w)) for w in weights)  # d|w|/dw = sgn(w), 0 at w = 0
    grads = torch.autograd.grad(cost, list(tensors.values()))
    return {k: (t - eta * g).detach() for (k, t), g in zip(tensors.items(), grads)}


def _step_cases(rng, with_l1: bool):
    for params, lam, n in _param_cases(rng):
        if lam == 0.0:
            continue
        grads0 = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
        eta = float(rng.uniform(0.05, 0.5))
        if with_l1:
            yield params, grads0, eta, n, float(rng.uniform(0.5, 2.0)) * lam, lam   # L1 + L2 together
            yield params, grads0, eta, n, 0.0, lam                                  # L1 only
        else:
            yield params, grads0, eta, n, lam, 0.0


def sgd_step_decays_biases(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: (1 - eta * lam2 / n) * v - (eta * lam1 / n * np.sign(v) if k.startswith("W") else 0.0)
            - eta * grads0[k] for k, v in params.items()}


def sgd_step_decay_after(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = {}
    for k, v in params.items():
        if k.startswith("W"):
            stepped = v - eta * lam1 / n * np.sign(v) - eta * grads0[k]
            new[k] = (1 - eta * lam2 / n) * stepped
        else:
            new[k] = v - eta * grads0[k]
    return new


def sgd_step_decay_without_eta(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - lam2 / n) * v - eta * lam1 / n * np.sign(v) - eta * grads0[k]) if k.startswith("W")
            else v - eta * grads0[k] for k, v in params.items()}


def sgd_step_decay_half(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - eta * lam2 / (2 * n)) * v - eta * lam1 / n * np.sign(v) - eta * grads0[k]) if k.startswith("W")
            else v - eta * grads0[k] for k, v in params.items()}


WEIGHT_DECAY_MISTAKES = [
    Mistake("the biases are decayed too: b <- b - eta dC0/db, only weights shrink by (1 - eta lambda/n)",
            sgd_step_decays_biases),
    Mistake("the decay is applied after the gradient step, (1 - eta lambda/n)(w - eta dC0/dw); the weight is "
            "scaled before the correction: (1 - eta lambda/n) w - eta dC0/dw", sgd_step_decay_after),
    Mistake("the learning rate is missing from the decay factor (1 - lambda/n): it is (1 - eta lambda/n)",
            sgd_step_decay_without_eta),
    Mistake("the decay factor uses lambda/(2n), (1 - eta lambda/(2n)): the gradient of lambda/(2n) w^2 is lambda/n w",
            sgd_step_decay_half),
]


@check("weight_decay_step", functions=("sgd_step",), mistakes=WEIGHT_DECAY_MISTAKES, by_hand=True)
def check_weight_decay_step(sgd_step, rng):
    """sgd_step with lam2 only equals one torch.optim.SGD step with weight_decay = lam2/n on the weights (that step,
    computed as one gradient step on the L2-penalized cost by autograd: see _torch_sgd_step)."""
    for params, grads0, eta, n, lam2, lam1 in _step_cases(rng, with_l1=False):
        got = sgd_step(params, grads0, eta, n, lam2=lam2, lam1=lam1)
        expected = _torch_sgd_step(params, grads0, eta, n, lam2, lam1)
        _expect_params("sgd_step(params, grads0, eta, n, lam2=lam2)", got, expected,
                       _describe_params(params, eta=round(eta, 3), n=n, lam2=lam2), atol=1e-12, rtol=1e-10)


def sgd_step_sign_zero_is_one(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - eta * lam2 / n) * v - eta * lam1 / n * np.where(v >= 0, 1.0, -1.0) - eta * grads0[k])
            if k.startswith("W") else v - eta * grads0[k] for k, v in params.items()}


def sgd_step_l1_on_biases(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - eta * lam2 / n) * v - eta * lam1 / n * np.sign(v) - eta * grads0[k]) if k.startswith("W")
            else v - eta * lam1 / n * np.sign(v) - eta * grads0[k] for k, v in params.items()}


def sgd_step_l1_without_eta(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - eta * lam2 / n) * v - lam1 / n * np.sign(v) - eta * grads0[k]) if k.startswith("W")
            else v - eta * grads0[k] for k, v in params.items()}


def sgd_step_l1_proportional(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - eta * (lam1 + lam2) / n) * v - eta * grads0[k]) if k.startswith("W")
            else v - eta * grads0[k] for k, v in params.items()}


def sgd_step_ignores_l1(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return {k: ((1 - eta * lam2 / n) * v - eta * grads0[k]) if k.startswith("W")
            else v - eta * grads0[k] for k, v in params.items()}


L1_L2_STEP_MISTAKES = [
    Mistake("sgn(0) is taken as +1 (w >= 0): a weight that is exactly 0 must not move by the L1 term, sgn(0) = 0",
            sgd_step_sign_zero_is_one),
    Mistake("the L1 term shrinks the biases too: only weights are penalized", sgd_step_l1_on_biases),
    Mistake("the learning rate is missing from the L1 step: it is w - eta lambda1/n sgn(w) - ...",
            sgd_step_l1_without_eta),
    Mistake("L1 is applied like L2, proportionally to w: the L1 update shrinks every weight by the fixed amount "
            "eta lambda1/n sgn(w)", sgd_step_l1_proportional),
    Mistake("lam1 is ignored: with both penalties the step has the decay (1 - eta lambda2/n) and the shift "
            "- eta lambda1/n sgn(w)", sgd_step_ignores_l1),
]


@check("l1_l2_step", functions=("sgd_step",), mistakes=L1_L2_STEP_MISTAKES, by_hand=True)
def check_l1_l2_step(sgd_step, rng):
    """sgd_step with L1 (and L2): torch SGD with weight_decay = lam2/n after adding the autograd L1 gradient."""
    for params, grads0, eta, n, lam2, lam1 in _step_cases(rng, with_l1=True):
        got = sgd_step(params, grads0, eta, n, lam2=lam2, lam1=lam1)
        expected = _torch_sgd_step(params, grads0, eta, n, lam2, lam1)
        _expect_params("sgd_step(params, grads0, eta, n, lam2=lam2, lam1=lam1)", got, expected,
                       _describe_params(params, eta=round(eta, 3), n=n, lam2=round(lam2, 3), lam1=lam1),
                       atol=1e-12, rtol=1e-10)


# --- early stopping --------------------------------------------------------------------------------------------

@cached_reference
def reference_early_stopping(val_losses, weights, patience, min_delta=0.0) -> dict:
    """The rule of the notebook, written plainly: improvement = loss < best - min_delta (NaN never improves)."""
    best, best_epoch, wait = math.inf, 0, 0
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, t, 0
        else:
            wait += 1
            if wait >= patience:
                return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                        "weights": np.array(weights[best_epoch])}
    return {"best_epoch": best_epoch, "stop_epoch": len(val_losses) - 1, "stopped": False,
            "weights": np.array(weights[best_epoch])}


SCRIPTED_LOSSES = [
    # (what the case is, losses, patience, min_delta)
    ("rises after a minimum", [1.0, 0.8, 0.7, 0.75, 0.9, 1.0, 1.1, 0.5, 0.4], 3, 0.0),
    ("ties with the best loss", [1.0, 0.8, 0.8, 0.8, 0.7, 0.6, 0.5], 2, 0.0),
    ("ties, then a late improvement", [0.9, 0.5, 0.6, 0.5, 0.5, 0.45, 0.4, 0.3], 3, 0.0),
    ("no improvement after the first epoch", [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], 2, 0.0),
    ("NaN losses (diverged)", [1.0, 0.9, float("nan"), float("nan"), 0.95, 0.8, 0.7], 3, 0.0),
    ("NaN right after the best epoch", [2.0, 1.5, 1.2, float("nan"), 1.3, 1.4, 1.5, 1.1], 5, 0.0),
    ("an infinite loss", [1.0, 0.7, float("inf"), 0.8, 0.9, 0.6], 3, 0.0),
    ("improvements between single bad epochs", [1.0, 0.9, 0.95, 0.8, 0.85, 0.7, 0.75, 0.6, 0.65, 0.5], 2, 0.0),
    ("patience 1", [1.0, 0.9, 0.85, 0.86, 0.5], 1, 0.0),
    ("small improvements below min_delta", [1.0, 0.98, 0.97, 0.9, 0.89, 0.885, 0.88, 0.878, 0.87], 3, 0.05),
    ("min_delta with a clear improvement", [1.0, 0.8, 0.79, 0.6, 0.58, 0.57, 0.56, 0.2], 4, 0.03),
    ("stops exactly at the last epoch", [0.6, 0.5, 0.55, 0.56, 0.57], 3, 0.0),
    ("never stops", [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], 3, 0.0),
]


def _random_losses(rng):
    """A noisy decreasing-then-rising curve, rounded so that ties happen, with NaNs sprinkled in."""
    length = int(rng.integers(6, 30))
    t = np.arange(length)
    turn = rng.uniform(0.2, 1.0) * length
    curve = 1.0 / (1 + t) + 0.02 * np.maximum(t - turn, 0) + rng.normal(scale=0.04, size=length)
    losses = np.round(curve, 2)
    if rng.random() < 0.5:
        losses[1 + rng.integers(0, length - 1, size=int(rng.integers(1, 3)))] = np.nan
    return losses


def early_stopping_ties_improve(val_losses, weights, patience, min_delta=0.0):
    best, best_epoch, wait = math.inf, 0, 0
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if loss <= best - min_delta:
            best, best_epoch, wait = loss, t, 0
        else:
            wait += 1
            if wait >= patience:
                return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                        "weights": np.array(weights[best_epoch])}
    return {"best_epoch": best_epoch, "stop_epoch": len(val_losses) - 1, "stopped": False,
            "weights": np.array(weights[best_epoch])}


def early_stopping_nan_improves(val_losses, weights, patience, min_delta=0.0):
    best, best_epoch, wait = math.inf, 0, 0
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if not (loss >= best - min_delta):
            best, best_epoch, wait = loss, t, 0
        else:
            wait += 1
            if wait >= patience:
                return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                        "weights": np.array(weights[best_epoch])}
    return {"best_epoch": best_epoch, "stop_epoch": len(val_losses) - 1, "stopped": False,
            "weights": np.array(weights[best_epoch])}


def early_stopping_argmin(val_losses, weights, patience, min_delta=0.0):
    losses = np.asarray(val_losses, dtype=float)
    best, wait, stop, stopped = math.inf, 0, len(losses) - 1, False
    for t, loss in enumerate(losses.tolist()):
        if loss < best - min_delta:
            best, wait = loss, 0
        else:
            wait += 1
            if wait >= patience:
                stop, stopped = t, True
                break
    best_epoch = int(np.argmin(losses[:stop + 1]))
    return {"best_epoch": best_epoch, "stop_epoch": stop, "stopped": stopped, "weights": np.array(weights[best_epoch])}


def early_stopping_no_reset(val_losses, weights, patience, min_delta=0.0):
    best, best_epoch, wait = math.inf, 0, 0
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if loss < best - min_delta:
            best, best_epoch = loss, t
        else:
            wait += 1
            if wait >= patience:
                return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                        "weights": np.array(weights[best_epoch])}
    return {"best_epoch": best_epoch, "stop_epoch": len(val_losses) - 1, "stopped": False,
            "weights": np.array(weights[best_epoch])}


def early_stopping_one_late(val_losses, weights, patience, min_delta=0.0):
    best, best_epoch, wait = math.inf, 0, 0
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, t, 0
        else:
            wait += 1
            if wait > patience:
                return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                        "weights": np.array(weights[best_epoch])}
    return {"best_epoch": best_epoch, "stop_epoch": len(val_losses) - 1, "stopped": False,
            "weights": np.array(weights[best_epoch])}


def early_stopping_last_weights(val_losses, weights, patience, min_delta=0.0):
    best, best_epoch, wait = math.inf, 0, 0
    stop, stopped = len(val_losses) - 1, False
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if loss < best - min_delta:
            best, best_epoch, wait = loss, t, 0
        else:
            wait += 1
            if wait >= patience:
                stop, stopped = t, True
                break
    return {"best_epoch": best_epoch, "stop_epoch": stop, "stopped": stopped, "weights": np.array(weights[stop])}


def early_stopping_ignores_min_delta(val_losses, weights, patience, min_delta=0.0):
    best, best_epoch, wait = math.inf, 0, 0
    for t, loss in enumerate(np.asarray(val_losses, dtype=float).tolist()):
        if loss < best:
            best, best_epoch, wait = loss, t, 0
        else:
            wait += 1
            if wait >= patience:
                return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                        "weights": np.array(weights[best_epoch])}
    return {"best_epoch": best_epoch, "stop_epoch": len(val_losses) - 1, "stopped": False,
            "weights": np.array(weights[best_epoch])}


EARLY_STOPPING_MISTAKES = [
    Mistake("a tie with the best loss counts as an improvement (<=): only a strictly lower loss (by more than "
            "min_delta) improves", early_stopping_ties_improve),
    Mistake("a NaN loss counts as an improvement (a test like `not loss >= best` is true for NaN): NaN never "
            "improves", early_stopping_nan_improves),
    Mistake("the best epoch is found with np.argmin, which returns the position of a NaN: a NaN loss is never the "
            "best", early_stopping_argmin),
    Mistake("the patience counter is not reset to 0 after an improvement: patience counts epochs without "
            "improvement *in a row*", early_stopping_no_reset),
    Mistake("training stops one epoch late (counter > patience): stop as soon as `patience` epochs in a row brought "
            "no improvement", early_stopping_one_late),
    Mistake("the weights of the last epoch are returned: early stopping restores the weights of the best epoch",
            early_stopping_last_weights),
    Mistake("min_delta is ignored: an improvement must lower the best loss by more than min_delta",
            early_stopping_ignores_min_delta),
]


def _expect_stopping(got, losses, weights, patience, min_delta, case):
    inputs = describe_inputs(val_losses=losses, weights=weights, patience=patience, min_delta=min_delta)
    inputs += f" (case: {case})"
    expected = reference_early_stopping(losses, weights, patience, min_delta)
    if not isinstance(got, dict) or set(got) != set(expected):
        raise Mismatch(f"early_stopping should return a dict with the keys {sorted(expected)}, got "
                       f"{sorted(got) if isinstance(got, dict) else _kind(got)} for {inputs}")
    for key in ("best_epoch", "stop_epoch", "stopped"):
        value = got[key]
        expect_true(isinstance(value, (int, float, bool)) and not isinstance(value, str),
                    f"early_stopping(...)[{key!r}] should be {'a bool' if key == 'stopped' else 'an int'}, "
                    f"got {_kind(value)} for {inputs}")
        expect_true(value == expected[key], f"early_stopping(...)[{key!r}] is wrong for {inputs}")
    expect_close("early_stopping(...)['weights']", got["weights"], expected["weights"], inputs=inputs, atol=0, rtol=0)


@check("early_stopping", mistakes=EARLY_STOPPING_MISTAKES, by_hand=True, statistical=True)
def check_early_stopping(early_stopping, rng):
    """Scripted loss sequences (ties, no improvement, NaN, inf, min_delta) and seeded random ones."""
    cases = [(name, np.array(losses), patience, min_delta) for name, losses, patience, min_delta in SCRIPTED_LOSSES]
    for _ in range(12):
        cases.append(("random curve", _random_losses(rng), int(rng.integers(1, 6)),
                      float(rng.choice([0.0, 0.0, 0.015]))))
    for name, losses, patience, min_delta in cases:
        weights = rng.normal(size=(len(losses), 3))
        got = early_stopping(losses, weights, patience, min_delta=min_delta)
        _expect_stopping(got, losses, weights, patience, min_delta, name)


# --- horizontal flip -------------------------------------------------------------------------------------------

def hflip_vertical(x):
    return np.asarray(x)[:, :, ::-1, :].copy()


def hflip_fliplr(x):
    return np.fliplr(x).copy()


def hflip_flipud(x):
    return np.flipud(x).copy()


HFLIP_MISTAKES = [
    Mistake("the rows are reversed (axis 2, H): that is a vertical flip; a horizontal flip reverses the columns "
            "(axis 3, W)", hflip_vertical),
    Mistake("np.fliplr reverses axis 1, which is the channel axis of an (N, C, H, W) array", hflip_fliplr),
    Mistake("the batch axis (axis 0) is reversed: np.flipud reverses the first axis", hflip_flipud),
]


@cached_reference
def reference_hflip(x) -> torch.Tensor:
    return torch.flip(_t(x), dims=[3])


@check("hflip", mistakes=HFLIP_MISTAKES, by_hand=True)
def check_hflip(hflip, rng):
    """hflip(x) equals torch.flip(x, dims=[3]) for (N, C, H, W) arrays."""
    for shape in [(2, 3, 4, 5), (3, 1, 8, 8), (1, 2, 1, 6), (2, 2, 5, 1)]:
        x = rng.normal(size=shape)
        got = hflip(x)
        expect_close("hflip(x)", got, reference_hflip(x), inputs=describe_inputs(x=x), atol=0, rtol=0)


# --- affine resampling -----------------------------------------------------------------------------------------

@cached_reference
def reference_affine_sample(x, theta) -> torch.Tensor:
    """F.grid_sample(x, F.affine_grid(theta, x.shape)), bilinear, zeros padding, align_corners=False."""
    x, theta = _t(x), _t(theta)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _affine_cases(rng):
    x = rng.normal(size=(2, 3, 5, 7))
    theta = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (2, 1, 1))
    yield x, theta                                                                    # identity
    for shape in [(3, 2, 6, 6), (2, 1, 5, 9), (4, 3, 7, 4)]:
        n = shape[0]
        theta = np.tile(np.eye(2, 3), (n, 1, 1)) + 0.25 * rng.normal(size=(n, 2, 3))  # near identity
        yield rng.normal(size=shape), theta
    x = rng.normal(size=(2, 2, 6, 8))
    theta = np.tile(np.eye(2, 3), (2, 1, 1))
    theta[:, :, 2] = [[0.7, -0.4], [-1.3, 0.9]]                                       # shifted partly outside
    yield x, theta
    yield rng.normal(size=(3, 1, 4, 4)), rng.normal(size=(3, 2, 3))                   # anything goes
    yield rng.normal(size=(2, 1, 1, 5)), np.tile(np.eye(2, 3), (2, 1, 1)) + 0.2 * rng.normal(size=(2, 2, 3))


def _sample_align_corners(x, theta):
    x, theta = np.asarray(x, float), np.asarray(theta, float)
    N, C, H, W = x.shape
    gy, gx = np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W), indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = (sx + 1) * (W - 1) / 2, (sy + 1) * (H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _sample_swapped_xy(x, theta):
    x, theta = np.asarray(x, float), np.asarray(theta, float)
    N, C, H, W = x.shape
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    # theta's first row taken as the row (y) coordinate, its second as the column (x)
    sy = theta[:, 0, 0, None, None] * gy + theta[:, 0, 1, None, None] * gx + theta[:, 0, 2, None, None]
    sx = theta[:, 1, 0, None, None] * gy + theta[:, 1, 1, None, None] * gx + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _sample_border(x, theta):
    x, theta = np.asarray(x, float), np.asarray(theta, float)
    N, C, H, W = x.shape
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]   # clamped: border padding
            out += np.moveaxis(values, -1, 1) * weight[:, None]
    return out


def _sample_nearest(x, theta):
    x, theta = np.asarray(x, float), np.asarray(theta, float)
    N, C, H, W = x.shape
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    ui, vi = np.floor(u + 0.5).astype(int), np.floor(v + 0.5).astype(int)
    inside = (ui >= 0) & (ui < W) & (vi >= 0) & (vi < H)
    n = np.arange(N)[:, None, None]
    values = x[n, :, np.clip(vi, 0, H - 1), np.clip(ui, 0, W - 1)]
    return np.moveaxis(values, -1, 1) * inside[:, None]


def _sample_all_or_nothing(x, theta):
    x, theta = np.asarray(x, float), np.asarray(theta, float)
    N, C, H, W = x.shape
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    all_inside = (u0 >= 0) & (u0 + 1 < W) & (v0 >= 0) & (v0 + 1 < H)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * all_inside)[:, None]
    return out


AFFINE_SAMPLE_MISTAKES = [
    Mistake("the align_corners=True convention: pixel centres are spread over [-1, 1] from the first to the last "
            "pixel; with align_corners=False pixel j of W is at (2j + 1)/W - 1", _sample_align_corners),
    Mistake("x and y are swapped: theta's first row gives the column coordinate x (along W), its second row the "
            "row coordinate y (along H)", _sample_swapped_xy),
    Mistake("neighbours outside the image are clamped to the border (padding_mode='border'); with zeros padding "
            "a neighbour outside the image contributes 0", _sample_border),
    Mistake("nearest-neighbour sampling: bilinear interpolation weights the four neighbours by "
            "(1 - |u - j|)(1 - |v - i|)", _sample_nearest),
    Mistake("a sample point is set to 0 as a whole when one of its four neighbours is outside the image; only the "
            "missing neighbours count as 0, the others keep their weights", _sample_all_or_nothing),
]


@check("affine_sample", mistakes=AFFINE_SAMPLE_MISTAKES, by_hand=True)
def check_affine_sample(affine_sample, rng):
    """affine_sample(x, theta) equals F.grid_sample(x, F.affine_grid(theta)) (bilinear, zeros, align_corners=False)."""
    for x, theta in _affine_cases(rng):
        got = affine_sample(x, theta)
        expect_close("affine_sample(x, theta)", got, reference_affine_sample(x, theta),
                     inputs=describe_inputs(x=x, theta=theta), **TOL)


# --- rotation and zoom -----------------------------------------------------------------------------------------

@cached_reference
def reference_rotation_theta(angle_degrees, N, H, W) -> np.ndarray:
    """(N, 2, 3): output -> input coordinates of a counter-clockwise pixel-space rotation, in normalized units."""
    a = np.deg2rad(np.broadcast_to(np.asarray(angle_degrees, dtype=float), (N,)))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
    return theta


@cached_reference
def reference_zoom_theta(factor, N) -> np.ndarray:
    s = np.broadcast_to(np.asarray(factor, dtype=float), (N,))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s
    return theta


def _rotate_radians(x, angle):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    a = np.broadcast_to(np.asarray(angle, dtype=float), (N,))          # degrees used as radians
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _rotate_clockwise(x, angle):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    a = np.deg2rad(np.broadcast_to(np.asarray(angle, dtype=float), (N,)))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), np.sin(a) * H / W         # the inverse rotation
    theta[:, 1, 0], theta[:, 1, 1] = -np.sin(a) * W / H, np.cos(a)
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _rotate_no_aspect(x, angle):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    a = np.deg2rad(np.broadcast_to(np.asarray(angle, dtype=float), (N,)))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a)                # rotation of the normalized square
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(a), np.cos(a)
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _rotate_aspect_swapped(x, angle):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    a = np.deg2rad(np.broadcast_to(np.asarray(angle, dtype=float), (N,)))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * W / H
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * H / W, np.cos(a)
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


ROTATE_MISTAKES = [
    Mistake("the angle in degrees goes into cos/sin as if it were radians: convert with np.deg2rad",
            _rotate_radians),
    Mistake("the image turns clockwise: theta maps *output* to *input* coordinates, so a counter-clockwise turn of "
            "the content needs [[cos, -sin], [sin, cos]] (with the aspect factors)", _rotate_clockwise),
    Mistake("no aspect-ratio correction: on a non-square image, x and y are normalized by different lengths "
            "(W/2 and H/2), so the off-diagonal entries need the factors H/W and W/H", _rotate_no_aspect),
    Mistake("the aspect factors are swapped: theta[0, 1] = -sin(a) H/W and theta[1, 0] = sin(a) W/H",
            _rotate_aspect_swapped),
]


def reference_rotate(x, angle) -> torch.Tensor:
    """The course's rotate (plain data in, a tensor out): what stands in for the student's in later checks."""
    x = np.asarray(x, dtype=float)
    N, _, H, W = x.shape
    return reference_affine_sample(x, reference_rotation_theta(angle, N, H, W))


def reference_zoom(x, factor) -> torch.Tensor:
    """The course's zoom (plain data in, a tensor out): what stands in for the student's in later checks."""
    x = np.asarray(x, dtype=float)
    return reference_affine_sample(x, reference_zoom_theta(factor, x.shape[0]))


# a check of rotate, zoom or augment grades that function, not the student's affine_sample (or rotate, ...) again
RESAMPLING_STAND_INS = {"affine_sample": reference_affine_sample}


@check("rotate", mistakes=ROTATE_MISTAKES, by_hand=True, stand_ins=RESAMPLING_STAND_INS)
def check_rotate(rotate, rng):
    """rotate(x, angle) equals grid_sample with the reference rotation matrix, one angle or one per image."""
    cases = [((2, 3, 8, 8), 12.0), ((3, 1, 6, 10), rng.uniform(-25, 25, size=3)),
             ((2, 2, 9, 5), rng.uniform(-25, 25, size=2)), ((1, 1, 7, 7), 90.0), ((2, 1, 6, 8), 0.0)]
    for shape, angle in cases:
        x = rng.normal(size=shape)
        got = rotate(x, angle)
        expected = reference_affine_sample(x, reference_rotation_theta(angle, *shape[:1], *shape[2:]))
        expect_close("rotate(x, angle)", got, expected, inputs=describe_inputs(x=x, angle=angle), **TOL)


def _zoom_inverted(x, factor):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    s = np.broadcast_to(np.asarray(factor, dtype=float), (N,))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = s                                   # should be 1/s
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _zoom_top_left(x, factor):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    s = np.broadcast_to(np.asarray(factor, dtype=float), (N,))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / s
    theta[:, 0, 2] = theta[:, 1, 2] = 1 / s - 1                            # crop anchored at the top-left corner
    gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
    sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy + theta[:, 0, 2, None, None]
    sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy + theta[:, 1, 2, None, None]
    u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    out = np.zeros_like(x)
    n = np.arange(N)[:, None, None]
    for dv in (0, 1):
        for du in (0, 1):
            uu, vv = u0 + du, v0 + dv
            weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
            inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
            values = x[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
            out += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
    return out


def _zoom_integer_crop(x, factor):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    s = np.broadcast_to(np.asarray(factor, dtype=float), (N,))
    out = np.zeros_like(x)
    for i in range(N):
        h, w = max(1, int(round(H / s[i]))), max(1, int(round(W / s[i])))
        top, left = (H - h) // 2, (W - w) // 2
        # crop whole pixels (zero-padded when zooming out), then resize back with align_corners=False
        crop = np.zeros((C, h, w))
        for r in range(h):
            for c in range(w):
                if 0 <= top + r < H and 0 <= left + c < W:
                    crop[:, r, c] = x[i, :, top + r, left + c]
        v = np.clip((np.arange(H) + 0.5) * h / H - 0.5, 0, h - 1)
        u = np.clip((np.arange(W) + 0.5) * w / W - 0.5, 0, w - 1)
        v0, u0 = np.floor(v).astype(int), np.floor(u).astype(int)
        v1, u1 = np.minimum(v0 + 1, h - 1), np.minimum(u0 + 1, w - 1)
        b, a = (v - v0)[:, None], (u - u0)[None, :]
        out[i] = ((1 - b) * (1 - a) * crop[:, v0][:, :, u0] + (1 - b) * a * crop[:, v0][:, :, u1]
                  + b * (1 - a) * crop[:, v1][:, :, u0] + b * a * crop[:, v1][:, :, u1])
    return out


ZOOM_MISTAKES = [
    Mistake("theta = diag(factor) zooms out when asked to zoom in: the output's edge (1) must map to 1/factor in "
            "the input, so theta = diag(1/factor)", _zoom_inverted),
    Mistake("the crop is anchored at the top-left corner: the zoom keeps the centre of the image (no translation "
            "in theta)", _zoom_top_left),
    Mistake("a crop of whole pixels (rounded H/factor x W/factor) resized back: the exact crop-and-resize is the "
            "affine resampling with theta = diag(1/factor)", _zoom_integer_crop),
]


@check("zoom", mistakes=ZOOM_MISTAKES, by_hand=True, stand_ins=RESAMPLING_STAND_INS)
def check_zoom(zoom, rng):
    """zoom(x, factor) equals grid_sample with theta = diag(1/factor), one factor or one per image."""
    cases = [((2, 3, 8, 8), 1.3), ((3, 1, 6, 10), np.array([1.2, 0.8, 1.05])), ((2, 2, 9, 5), np.array([1.5, 0.9])),
             ((1, 1, 7, 7), 1.0)]
    for shape, factor in cases:
        x = rng.normal(size=shape)
        got = zoom(x, factor)
        expected = reference_affine_sample(x, reference_zoom_theta(factor, shape[0]))
        expect_close("zoom(x, factor)", got, expected, inputs=describe_inputs(x=x, factor=factor), **TOL)


# --- the random pipeline ---------------------------------------------------------------------------------------

@cached_reference
def reference_pipeline(x, flip, angle, factor) -> torch.Tensor:
    """flip (where flip is True), then rotate by angle, then zoom by factor: torch.flip and grid_sample."""
    x = _t(x)
    N, _, H, W = x.shape
    mask = torch.as_tensor(np.asarray(flip, dtype=bool))[:, None, None, None]
    x = torch.where(mask, torch.flip(x, dims=[3]), x)
    x = reference_affine_sample(x.numpy(), reference_rotation_theta(angle, N, H, W))
    return reference_affine_sample(x.numpy(), reference_zoom_theta(factor, N))


def _pipeline_params(result, N, inputs):
    if not (isinstance(result, tuple) and len(result) == 2) and not (isinstance(result, list) and len(result) == 2):
        raise Mismatch(f"augment should return a pair (images, params), got {_kind(result)} for {inputs}")
    images, params = result
    if not isinstance(params, dict) or set(params) != {"flip", "angle", "zoom"}:
        raise Mismatch(f"augment's params should be a dict with the keys 'angle', 'flip', 'zoom', got "
                       f"{sorted(params) if isinstance(params, dict) else _kind(params)} for {inputs}")
    arrays = {}
    for key in ("flip", "angle", "zoom"):
        value = np.asarray(params[key], dtype=float)
        expect_true(value.shape == (N,), f"augment's params[{key!r}] should have shape ({N},), one value per image, "
                                         f"got {value.shape} for {inputs}")
        arrays[key] = value
    expect_true(np.all((arrays["flip"] == 0) | (arrays["flip"] == 1)),
                f"augment's params['flip'] should hold booleans for {inputs}")
    return images, arrays["flip"].astype(bool), arrays["angle"], arrays["zoom"]


def augment_in_eval_mode(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    flip = rng.random(N) < flip_prob                       # the `training` flag is ignored
    angle = rng.uniform(-max_angle, max_angle, size=N)
    factor = rng.uniform(1 - max_zoom, 1 + max_zoom, size=N)
    out = np.where(flip[:, None, None, None], x[..., ::-1], x)
    a = np.deg2rad(angle)
    for theta_entries in ("rotate", "zoom"):
        theta = np.zeros((N, 2, 3))
        if theta_entries == "rotate":
            theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
            theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
        else:
            theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
        gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
        sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy
        sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy
        u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        new = np.zeros_like(out)
        n = np.arange(N)[:, None, None]
        for dv in (0, 1):
            for du in (0, 1):
                uu, vv = u0 + du, v0 + dv
                weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
                inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                values = out[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
                new += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
        out = new
    return out, {"flip": flip, "angle": angle, "zoom": factor}


def augment_own_seed(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    if not training:
        return x.copy(), {"flip": np.zeros(N, dtype=bool), "angle": np.zeros(N), "zoom": np.ones(N)}
    rng = np.random.default_rng(0)                          # the rng passed in is ignored
    flip = rng.random(N) < flip_prob
    angle = rng.uniform(-max_angle, max_angle, size=N)
    factor = rng.uniform(1 - max_zoom, 1 + max_zoom, size=N)
    out = np.where(flip[:, None, None, None], x[..., ::-1], x)
    a = np.deg2rad(angle)
    for theta_entries in ("rotate", "zoom"):
        theta = np.zeros((N, 2, 3))
        if theta_entries == "rotate":
            theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
            theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
        else:
            theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
        gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
        sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy
        sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy
        u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        new = np.zeros_like(out)
        n = np.arange(N)[:, None, None]
        for dv in (0, 1):
            for du in (0, 1):
                uu, vv = u0 + du, v0 + dv
                weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
                inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                values = out[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
                new += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
        out = new
    return out, {"flip": flip, "angle": angle, "zoom": factor}


def augment_one_draw_per_batch(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    if not training:
        return x.copy(), {"flip": np.zeros(N, dtype=bool), "angle": np.zeros(N), "zoom": np.ones(N)}
    flip = np.full(N, rng.random() < flip_prob)             # one draw for the whole batch
    angle = np.full(N, rng.uniform(-max_angle, max_angle))
    factor = np.full(N, rng.uniform(1 - max_zoom, 1 + max_zoom))
    out = np.where(flip[:, None, None, None], x[..., ::-1], x)
    a = np.deg2rad(angle)
    for theta_entries in ("rotate", "zoom"):
        theta = np.zeros((N, 2, 3))
        if theta_entries == "rotate":
            theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
            theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
        else:
            theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
        gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
        sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy
        sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy
        u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        new = np.zeros_like(out)
        n = np.arange(N)[:, None, None]
        for dv in (0, 1):
            for du in (0, 1):
                uu, vv = u0 + du, v0 + dv
                weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
                inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                values = out[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
                new += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
        out = new
    return out, {"flip": flip, "angle": angle, "zoom": factor}


def augment_flip_prob_inverted(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    if not training:
        return x.copy(), {"flip": np.zeros(N, dtype=bool), "angle": np.zeros(N), "zoom": np.ones(N)}
    flip = rng.random(N) > flip_prob                        # flips with probability 1 - flip_prob
    angle = rng.uniform(-max_angle, max_angle, size=N)
    factor = rng.uniform(1 - max_zoom, 1 + max_zoom, size=N)
    out = np.where(flip[:, None, None, None], x[..., ::-1], x)
    a = np.deg2rad(angle)
    for theta_entries in ("rotate", "zoom"):
        theta = np.zeros((N, 2, 3))
        if theta_entries == "rotate":
            theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
            theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
        else:
            theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
        gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
        sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy
        sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy
        u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        new = np.zeros_like(out)
        n = np.arange(N)[:, None, None]
        for dv in (0, 1):
            for du in (0, 1):
                uu, vv = u0 + du, v0 + dv
                weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
                inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                values = out[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
                new += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
        out = new
    return out, {"flip": flip, "angle": angle, "zoom": factor}


def augment_one_sided_angles(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    if not training:
        return x.copy(), {"flip": np.zeros(N, dtype=bool), "angle": np.zeros(N), "zoom": np.ones(N)}
    flip = rng.random(N) < flip_prob
    angle = max_angle * rng.random(N)                       # only [0, max_angle]
    factor = 1 + max_zoom * rng.random(N)                   # only [1, 1 + max_zoom]
    out = np.where(flip[:, None, None, None], x[..., ::-1], x)
    a = np.deg2rad(angle)
    for theta_entries in ("rotate", "zoom"):
        theta = np.zeros((N, 2, 3))
        if theta_entries == "rotate":
            theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
            theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
        else:
            theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
        gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
        sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy
        sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy
        u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        new = np.zeros_like(out)
        n = np.arange(N)[:, None, None]
        for dv in (0, 1):
            for du in (0, 1):
                uu, vv = u0 + du, v0 + dv
                weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
                inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                values = out[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
                new += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
        out = new
    return out, {"flip": flip, "angle": angle, "zoom": factor}


def augment_zoom_before_rotate(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    x = np.asarray(x, float)
    N, C, H, W = x.shape
    if not training:
        return x.copy(), {"flip": np.zeros(N, dtype=bool), "angle": np.zeros(N), "zoom": np.ones(N)}
    flip = rng.random(N) < flip_prob
    angle = rng.uniform(-max_angle, max_angle, size=N)
    factor = rng.uniform(1 - max_zoom, 1 + max_zoom, size=N)
    out = np.where(flip[:, None, None, None], x[..., ::-1], x)
    a = np.deg2rad(angle)
    for theta_entries in ("zoom", "rotate"):                # zoom first
        theta = np.zeros((N, 2, 3))
        if theta_entries == "rotate":
            theta[:, 0, 0], theta[:, 0, 1] = np.cos(a), -np.sin(a) * H / W
            theta[:, 1, 0], theta[:, 1, 1] = np.sin(a) * W / H, np.cos(a)
        else:
            theta[:, 0, 0] = theta[:, 1, 1] = 1 / factor
        gy, gx = np.meshgrid((2 * np.arange(H) + 1) / H - 1, (2 * np.arange(W) + 1) / W - 1, indexing="ij")
        sx = theta[:, 0, 0, None, None] * gx + theta[:, 0, 1, None, None] * gy
        sy = theta[:, 1, 0, None, None] * gx + theta[:, 1, 1, None, None] * gy
        u, v = ((sx + 1) * W - 1) / 2, ((sy + 1) * H - 1) / 2
        u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
        new = np.zeros_like(out)
        n = np.arange(N)[:, None, None]
        for dv in (0, 1):
            for du in (0, 1):
                uu, vv = u0 + du, v0 + dv
                weight = (1 - np.abs(u - uu)) * (1 - np.abs(v - vv))
                inside = (uu >= 0) & (uu < W) & (vv >= 0) & (vv < H)
                values = out[n, :, np.clip(vv, 0, H - 1), np.clip(uu, 0, W - 1)]
                new += np.moveaxis(values, -1, 1) * (weight * inside)[:, None]
        out = new
    return out, {"flip": flip, "angle": angle, "zoom": factor}


AUGMENT_MISTAKES = [
    Mistake("the images are augmented with training=False: validation and test data must never be augmented, "
            "return them unchanged", augment_in_eval_mode),
    Mistake("the rng argument is ignored (np.random or a generator with a fixed seed): draw every random number "
            "from rng, so that results are reproducible *and* differ between generators", augment_own_seed),
    Mistake("one random flip/angle/zoom is drawn for the whole batch: every image gets its own draws",
            augment_one_draw_per_batch),
    Mistake("images are flipped with probability 1 - flip_prob (rng.random() > flip_prob)",
            augment_flip_prob_inverted),
    Mistake("angles (and zoom factors) are drawn on one side only: the angle is uniform in [-max_angle, max_angle] "
            "and the factor in [1 - max_zoom, 1 + max_zoom]", augment_one_sided_angles),
    Mistake("zoom is applied before the rotation: the order is flip, then rotate, then zoom",
            augment_zoom_before_rotate),
]


@check("augment", mistakes=AUGMENT_MISTAKES, by_hand=True, statistical=True,
       stand_ins={"hflip": reference_hflip, "rotate": reference_rotate, "zoom": reference_zoom,
                  **RESAMPLING_STAND_INS})
def check_augment(augment, rng):
    """The random pipeline: identity when not training, seeded by rng, per-image draws in the stated ranges
    (flip rate, mean and spread within 6 standard errors), images consistent with the reported draws."""
    # 1. validation / test data: unchanged
    x = rng.normal(size=(5, 1, 8, 8))
    result = augment(x, np.random.default_rng(rng.integers(2 ** 32)), training=False, flip_prob=0.5,
                     max_angle=20.0, max_zoom=0.2)
    inputs = describe_inputs(x=x, training=False)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mismatch(f"augment should return a pair (images, params), got {_kind(result)} for {inputs}")
    expect_close("augment(x, rng, training=False)[0]", result[0], x, inputs=inputs, atol=0, rtol=0)

    # 2. seeded: the same generator state gives the same result, another generator another one
    x = rng.normal(size=(6, 3, 5, 7))
    settings = dict(training=True, flip_prob=0.5, max_angle=15.0, max_zoom=0.2)
    generator = np.random.default_rng(rng.integers(2 ** 32))
    first = augment(x, generator, **settings)
    again = augment(x, generator, **settings)   # the handle passes a fresh copy: the same state
    inputs = describe_inputs(x=x, **settings)
    expect_true(same_values(first, again), f"two calls with generators in the same state gave different results "
                                           f"for {inputs}: draw every random number from rng (not np.random)")
    other = augment(x, np.random.default_rng(rng.integers(2 ** 32)), **settings)
    expect_true(not same_values(first, other), f"two different generators gave the same result for {inputs}: "
                                               f"the draws must come from rng")

    # 3. one batch of identical-shape images: consistency with the draws, ranges, per-image draws, statistics
    N, p, max_angle, max_zoom = 120, 0.3, 15.0, 0.2
    x = rng.normal(size=(N, 1, 6, 6))
    settings = dict(training=True, flip_prob=p, max_angle=max_angle, max_zoom=max_zoom)
    inputs = describe_inputs(x=x, **settings)
    result = augment(x, np.random.default_rng(rng.integers(2 ** 32)), **settings)
    images, flip, angle, factor = _pipeline_params(result, N, inputs)
    expect_close("augment(...) images (compared with flip, rotate, zoom by the returned params)", images,
                 reference_pipeline(x, flip, angle, factor), inputs=inputs, **TOL)
    expect_true(np.all(np.abs(angle) <= max_angle), f"an angle lies outside [-max_angle, max_angle] for {inputs}")
    expect_true(np.all((factor >= 1 - max_zoom) & (factor <= 1 + max_zoom)),
                f"a zoom factor lies outside [1 - max_zoom, 1 + max_zoom] for {inputs}")
    expect_true(np.unique(angle).size > 1 and np.unique(factor).size > 1,
                f"every image got the same angle or zoom for {inputs}: draw per image")
    se_flip = math.sqrt(p * (1 - p) / N)
    expect_true(abs(flip.mean() - p) <= 6 * se_flip,
                f"the share of flipped images is more than 6 standard errors from flip_prob for {inputs}")
    for name, values, centre, half in (("angle", angle, 0.0, max_angle), ("zoom factor", factor, 1.0, max_zoom)):
        # uniform on [centre - half, centre + half]: mean centre, sd half/sqrt(3); E[(v-c)^2] = half^2/3 with
        # sd of (v-c)^2 = half^2 sqrt(4/45)
        expect_true(abs(values.mean() - centre) <= 6 * half / math.sqrt(3 * N),
                    f"the mean {name} is more than 6 standard errors from the middle of its range for {inputs}: "
                    f"draw uniformly over the whole range")
        spread = np.mean((values - centre) ** 2)
        expect_true(abs(spread - half ** 2 / 3) <= 6 * half ** 2 * math.sqrt(4 / 45 / N),
                    f"the spread of the {name}s does not fit a uniform draw over the whole range for {inputs}")


# --- mixup -----------------------------------------------------------------------------------------------------

@cached_reference
def reference_mixup(x, y, num_classes, lam, perm):
    x, y, perm = _t(x), torch.as_tensor(np.asarray(y)), torch.as_tensor(np.asarray(perm))
    onehot = F.one_hot(y, num_classes).to(torch.float64)
    return lam * x + (1 - lam) * x[perm], lam * onehot + (1 - lam) * onehot[perm]


def mixup_labels_not_mixed(x, y, num_classes, lam, perm):
    x = np.asarray(x, float)
    return lam * x + (1 - lam) * x[perm], np.eye(num_classes)[y]


def mixup_lam_swapped(x, y, num_classes, lam, perm):
    x = np.asarray(x, float)
    onehot = np.eye(num_classes)[y]
    return (1 - lam) * x + lam * x[perm], (1 - lam) * onehot + lam * onehot[perm]


def mixup_class_indices(x, y, num_classes, lam, perm):
    x, y = np.asarray(x, float), np.asarray(y)
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]


def mixup_labels_swapped(x, y, num_classes, lam, perm):
    x = np.asarray(x, float)
    onehot = np.eye(num_classes)[y]
    return lam * x + (1 - lam) * x[perm], (1 - lam) * onehot + lam * onehot[perm]


MIXUP_MISTAKES = [
    Mistake("the labels are not mixed: with mixed inputs the target is lam * onehot(y) + (1 - lam) * onehot(y[perm])",
            mixup_labels_not_mixed),
    Mistake("lam and 1 - lam are swapped: the example itself gets weight lam, its partner x[perm] 1 - lam",
            mixup_lam_swapped),
    Mistake("the class indices are mixed (lam * y + (1 - lam) * y[perm]): mix the one-hot vectors, shape (N, K)",
            mixup_class_indices),
    Mistake("the labels are mixed with the weights the other way round from the inputs", mixup_labels_swapped),
]


@check("mixup", mistakes=MIXUP_MISTAKES, by_hand=True)
def check_mixup(mixup, rng):
    """mixup(x, y, K, lam, perm) = (lam x + (1-lam) x[perm], lam onehot(y) + (1-lam) onehot(y[perm]))."""
    cases = [((6, 4), 3, 0.3), ((5, 1, 8, 8), 10, 0.8), ((8, 2, 3, 3), 4, 0.05), ((4, 7), 5, 1.0), ((6, 3), 3, 0.5)]
    for shape, K, lam in cases:
        x = rng.normal(size=shape)
        y = rng.integers(0, K, size=shape[0])
        perm = rng.permutation(shape[0])
        got = mixup(x, y, K, lam, perm)
        inputs = describe_inputs(x=x, y=y, num_classes=K, lam=lam, perm=perm)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Mismatch(f"mixup should return a pair (x_mixed, y_mixed), got {_kind(got)} for {inputs}")
        x_ref, y_ref = reference_mixup(x, y, K, lam, perm)
        expect_close("mixup(...)[0] (mixed inputs)", got[0], x_ref, inputs=inputs, **TOL)
        expect_close("mixup(...)[1] (mixed labels)", got[1], y_ref, inputs=inputs, **TOL)


# --- label smoothing -------------------------------------------------------------------------------------------

def smooth_labels_k_minus_1(y, num_classes, eps):
    onehot = np.eye(num_classes)[y]
    return (1 - eps) * onehot + eps / (num_classes - 1) * (1 - onehot)


def smooth_labels_true_class_short(y, num_classes, eps):
    onehot = np.eye(num_classes)[y]
    return (1 - eps) * onehot + eps / num_classes * (1 - onehot)


def smooth_labels_no_mass(y, num_classes, eps):
    return (1 - eps) * np.eye(num_classes)[y]


def smooth_labels_eps_everywhere(y, num_classes, eps):
    return np.eye(num_classes)[y] + eps / num_classes


SMOOTH_LABELS_MISTAKES = [
    Mistake("eps/(K-1) on the other classes: PyTorch's (and the lecture's) smoothing spreads eps/K over *all* K "
            "classes, the true one included", smooth_labels_k_minus_1),
    Mistake("the true class gets only 1 - eps: it also receives its share eps/K, (1 - eps) + eps/K",
            smooth_labels_true_class_short),
    Mistake("the mass eps taken from the true class is not spread: add eps/K to every class", smooth_labels_no_mass),
    Mistake("the true class keeps 1 (it is not scaled by 1 - eps): the targets no longer sum to 1",
            smooth_labels_eps_everywhere),
]


@cached_reference
def reference_smooth_labels(y, num_classes, eps) -> torch.Tensor:
    return (1 - eps) * F.one_hot(torch.as_tensor(np.asarray(y)), num_classes).to(torch.float64) + eps / num_classes


@check("smooth_labels", mistakes=SMOOTH_LABELS_MISTAKES, by_hand=True)
def check_smooth_labels(smooth_labels, rng):
    """smooth_labels(y, K, eps) = (1 - eps) onehot(y) + eps/K."""
    for N, K, eps in [(6, 4, 0.1), (10, 10, 0.2), (3, 2, 0.3), (5, 3, 0.0)]:
        y = rng.integers(0, K, size=N)
        got = smooth_labels(y, K, eps)
        expected = reference_smooth_labels(y, K, eps)
        expect_close("smooth_labels(y, num_classes, eps)", got, expected,
                     inputs=describe_inputs(y=y, num_classes=K, eps=eps), **TOL)


def _smoothing_cases(rng):
    yield rng.normal(size=(4, 5)), rng.integers(0, 5, size=4), 0.1
    yield 3 * rng.normal(size=(7, 3)), rng.integers(0, 3, size=7), 0.2
    yield 400 * rng.normal(size=(3, 10)), rng.integers(0, 10, size=3), 0.1     # overflows without max-subtraction
    yield rng.normal(size=(1, 4)), np.array([2]), 0.05
    yield rng.normal(size=(5, 6)), rng.integers(0, 6, size=5), 0.0


@cached_reference
def reference_smoothed_cross_entropy(z, y, eps):
    z = _t(z).requires_grad_(True)
    loss = F.cross_entropy(z, torch.as_tensor(np.asarray(y)), label_smoothing=eps)
    (dz,) = torch.autograd.grad(loss, z)
    return loss.detach(), dz


def _smoothing_result(got, inputs):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Mismatch(f"smoothed_cross_entropy should return a pair (loss, dz), got {_kind(got)} for {inputs}")
    return got


def sce_k_minus_1(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    onehot = np.eye(K)[y]
    q = (1 - eps) * onehot + eps / (K - 1) * (1 - onehot)
    return float(-(q * log_p).sum() / N), (np.exp(log_p) - q) / N


def sce_no_max_shift(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        q = (1 - eps) * np.eye(K)[y] + eps / K
        return float(-(q * np.log(p)).sum() / N), (p - q) / N


def sce_sum_over_batch(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = (1 - eps) * np.eye(K)[y] + eps / K
    return float(-(q * log_p).sum()), np.exp(log_p) - q


def sce_no_smoothing(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = np.eye(K)[y]
    return float(-(q * log_p).sum() / N), (np.exp(log_p) - q) / N


SMOOTHED_LOSS_MISTAKES = [
    Mistake("the targets use eps/(K-1) for the wrong classes: F.cross_entropy(label_smoothing=eps) uses "
            "(1 - eps) onehot + eps/K", sce_k_minus_1),
    Mistake("no max-subtraction before exp: large logits overflow to inf and the loss becomes nan; compute "
            "log-softmax as (z - max) - log(sum(exp(z - max)))", sce_no_max_shift),
    Mistake("the loss is summed over the batch: it is the mean over the N examples", sce_sum_over_batch),
    Mistake("eps is ignored: the loss is the plain cross-entropy with one-hot targets", sce_no_smoothing),
]


@check("smoothed_loss", functions=("smoothed_cross_entropy",), mistakes=SMOOTHED_LOSS_MISTAKES, by_hand=True,
       stand_ins={"smooth_labels": reference_smooth_labels})
def check_smoothed_loss(smoothed_cross_entropy, rng):
    """The loss of smoothed_cross_entropy(z, y, eps) equals F.cross_entropy(z, y, label_smoothing=eps)."""
    for z, y, eps in _smoothing_cases(rng):
        inputs = describe_inputs(z=z, y=y, eps=eps)
        loss, _ = _smoothing_result(smoothed_cross_entropy(z, y, eps), inputs)
        expected, _ = reference_smoothed_cross_entropy(z, y, eps)
        expect_close("smoothed_cross_entropy(z, y, eps)[0] (the loss)", loss, expected, inputs=inputs, **TOL)


def sce_grad_unsmoothed(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    onehot = np.eye(K)[y]
    q = (1 - eps) * onehot + eps / K
    return float(-(q * log_p).sum() / N), (np.exp(log_p) - onehot) / N


def sce_grad_not_averaged(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = (1 - eps) * np.eye(K)[y] + eps / K
    return float(-(q * log_p).sum() / N), np.exp(log_p) - q


def sce_grad_sign(z, y, eps):
    z = np.asarray(z, float)
    N, K = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = (1 - eps) * np.eye(K)[y] + eps / K
    return float(-(q * log_p).sum() / N), (q - np.exp(log_p)) / N


SMOOTHED_GRAD_MISTAKES = [
    Mistake("the gradient uses the one-hot target: with smoothed targets q it is (softmax(z) - q)/N",
            sce_grad_unsmoothed),
    Mistake("the gradient is not divided by N: the loss is a mean over the batch", sce_grad_not_averaged),
    Mistake("the sign is flipped: dL/dz = (softmax(z) - q)/N, not (q - softmax(z))/N", sce_grad_sign),
    Mistake("the targets use eps/(K-1) for the wrong classes: F.cross_entropy(label_smoothing=eps) uses "
            "(1 - eps) onehot + eps/K", sce_k_minus_1),
]


@check("smoothed_grad", functions=("smoothed_cross_entropy",), mistakes=SMOOTHED_GRAD_MISTAKES, by_hand=True,
       stand_ins={"smooth_labels": reference_smooth_labels})
def check_smoothed_grad(smoothed_cross_entropy, rng):
    """The gradient dz of smoothed_cross_entropy equals autograd of F.cross_entropy(label_smoothing=eps)."""
    for z, y, eps in _smoothing_cases(rng):
        inputs = describe_inputs(z=z, y=y, eps=eps)
        _, dz = _smoothing_result(smoothed_cross_entropy(z, y, eps), inputs)
        _, expected = reference_smoothed_cross_entropy(z, y, eps)
        expect_close("smoothed_cross_entropy(z, y, eps)[1] (dL/dz)", dz, expected, inputs=inputs, **TOL)


# --- regularizing activations: an L1 penalty on a layer's outputs -----------------------------------------------


def _activity_cases(rng):
    yield np.maximum(0.0, rng.normal(size=(6, 5))), 0.3             # ReLU outputs: many exact zeros
    yield np.tanh(2 * rng.normal(size=(4, 7))), 1.5                  # negative outputs, too
    yield np.maximum(0.0, rng.normal(size=(1, 8))), 0.01             # one example
    yield np.maximum(0.0, rng.normal(size=(9, 3)) + 0.5), 0.0        # no penalty


@cached_reference
def reference_activity_l1(A, lam):
    """lam * (mean over the N examples of sum_j |H_nj|), like Keras' ActivityRegularization(l1=lam) on a
    minibatch, and its gradient by autograd (which takes |a|'(0) = 0)."""
    A = _t(A).requires_grad_(True)
    penalty = lam * A.abs().sum() / A.shape[0]
    (dA,) = torch.autograd.grad(penalty, A)
    return penalty.detach(), dA


def _activity_result(got, inputs):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Mismatch(f"activity_l1 should return a pair (penalty, dA), got {_kind(got)} for {inputs}")
    return got


def _expect_activity_part(activity_l1, rng, part: int, what: str):
    """Part `part` of activity_l1's result (0: the penalty, 1: its gradient) equals PyTorch's, on every case."""
    for A, lam in _activity_cases(rng):
        inputs = describe_inputs(A=A, lam=lam)
        got = _activity_result(activity_l1(A, lam), inputs)[part]
        expected = reference_activity_l1(A, lam)[part].numpy()
        if part == 1 and np.shape(got) == expected.shape and np.any(A == 0):
            got_array, on = np.asarray(got, dtype=float), A != 0
            if (np.allclose(got_array[on], expected[on], **_ALLCLOSE)
                    and not np.allclose(got_array, expected, **_ALLCLOSE)):
                # right wherever a != 0, so the slip is the derivative at the kink, whichever value it took there
                raise Mismatch(f"activity_l1(A, lam)[1] ({what}) is wrong exactly where a = 0, for {inputs}"
                               f"\nLikely mistake: {SGN_AT_ZERO.message}", got, expected)
        expect_close(f"activity_l1(A, lam)[{part}] ({what})", got, expected, inputs=inputs, **TOL)


_ALLCLOSE = dict(atol=TOL["atol"], rtol=TOL["rtol"])


def activity_summed_over_batch(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).sum()), lam * np.sign(A)


def activity_mean_over_entries(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).mean()), lam * np.sign(A) / A.size


def activity_squares(A, lam):
    A = np.asarray(A, float)
    return float(lam * (A ** 2).sum() / len(A)), 2 * lam * A / len(A)


def activity_no_abs(A, lam):
    A = np.asarray(A, float)
    return float(lam * A.sum() / len(A)), lam * np.ones_like(A) / len(A)


ACTIVITY_PENALTY_MISTAKES = [
    Mistake("the penalty is summed over the batch; it is lam times the mean over the N examples of sum_j |a_nj|, "
            "so that it does not grow with the batch size", activity_summed_over_batch),
    Mistake("the penalty is the mean over all N * units entries; average over the N examples only and sum over "
            "the units", activity_mean_over_entries),
    Mistake("the activations are squared (an L2 penalty); the L1 penalty takes their absolute values",
            activity_squares),
    Mistake("the absolute value is missing: negative activations lower the penalty instead of raising it",
            activity_no_abs),
]


@check("activity_penalty", functions=("activity_l1",), mistakes=ACTIVITY_PENALTY_MISTAKES, by_hand=True)
def check_activity_penalty(activity_l1, rng):
    """The penalty of activity_l1(A, lam) equals lam * A.abs().sum() / N in PyTorch."""
    _expect_activity_part(activity_l1, rng, 0, "the penalty")


def activity_grad_sign_at_zero(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).sum() / len(A)), lam * np.where(A >= 0, 1.0, -1.0) / len(A)


def activity_grad_not_averaged(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).sum() / len(A)), lam * np.sign(A)


def activity_grad_of_squares(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).sum() / len(A)), lam * A / len(A)


def activity_grad_over_entries(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).sum() / len(A)), lam * np.sign(A) / A.size


SGN_AT_ZERO = Mistake("the derivative of |a| at a = 0 is taken to be 1 (or -1); a unit that is off (a = 0, as ReLU "
                      "gives often) gets the subgradient 0, what autograd and np.sign give", activity_grad_sign_at_zero)
ACTIVITY_GRAD_MISTAKES = [
    SGN_AT_ZERO,
    Mistake("the gradient is not divided by N: the penalty is a mean over the examples", activity_grad_not_averaged),
    Mistake("the gradient is lam/N * a, which belongs to a squared penalty; the derivative of |a| is sgn(a)",
            activity_grad_of_squares),
    Mistake("the gradient is divided by N * units; the penalty averages over the N examples only",
            activity_grad_over_entries),
]


@check("activity_grad", functions=("activity_l1",), mistakes=ACTIVITY_GRAD_MISTAKES, by_hand=True)
def check_activity_grad(activity_l1, rng):
    """The gradient dA of activity_l1(A, lam) equals autograd of lam * A.abs().sum() / N."""
    _expect_activity_part(activity_l1, rng, 1, "dpenalty/dA")


# --- separate kernel and bias regularizers (Keras' form, lecture 000) --------------------------------------------


def _kernel_bias_cases(rng):
    """(params, kernel_l2, bias_l2): the two strengths always differ, and each is 0 once; big biases."""
    mlp = {"W1": rng.normal(size=(5, 4)), "b1": 2.0 + rng.normal(size=5),
           "W2": rng.normal(size=(3, 5)), "b2": -1.5 + rng.normal(size=3)}
    yield mlp, 0.01, 0.3
    conv = {"W1": rng.normal(size=(2, 3, 3, 3)), "b1": rng.normal(size=2) + 3.0, "W2": rng.normal(size=(4, 18)),
            "b2": rng.normal(size=4)}
    yield conv, 0.5, 0.02
    yield {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3) + 1.0}, 0.2, 0.0
    yield {"W": rng.normal(size=(2, 6)), "b": rng.normal(size=2) - 2.0}, 0.0, 0.7


@cached_reference
def reference_kernel_bias_penalty(params: dict, kernel_l2: float, bias_l2: float):
    """kernel_l2 * sum W^2 over the weights plus bias_l2 * sum b^2 over the biases (Keras' L2 regularizer, no 1/2,
    no 1/n, given as kernel_regularizer and bias_regularizer), and its gradient dict by autograd."""
    tensors = {k: _t(v).requires_grad_(True) for k, v in params.items()}
    penalty = sum((kernel_l2 if k.startswith("W") else bias_l2) * torch.sum(t ** 2) for k, t in tensors.items())
    grads = torch.autograd.grad(penalty, list(tensors.values()))
    return penalty.detach(), dict(zip(tensors, grads))


def _pair_result(name: str, got, inputs):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Mismatch(f"{name} should return a pair (penalty, gradient), got {_kind(got)} for {inputs}")
    return got


def _kb_step(params, kernel_l2, bias_l2, kernel_factor, bias_factor, grad_scale=2.0):
    """Penalty and gradients with the given strength per kind of parameter (shared by the mistakes)."""
    penalty, grads = 0.0, {}
    for k, v in params.items():
        v = np.asarray(v, dtype=float)
        lam = kernel_factor(kernel_l2, bias_l2) if k.startswith("W") else bias_factor(kernel_l2, bias_l2)
        penalty += lam * float(np.sum(v ** 2))
        grads[k] = grad_scale * lam * v
    return float(penalty), grads


def kb_swapped(params, kernel_l2, bias_l2):
    return _kb_step(params, kernel_l2, bias_l2, lambda k, b: b, lambda k, b: k)


def kb_kernel_for_all(params, kernel_l2, bias_l2):
    return _kb_step(params, kernel_l2, bias_l2, lambda k, b: k, lambda k, b: k)


def kb_biases_free(params, kernel_l2, bias_l2):
    return _kb_step(params, kernel_l2, bias_l2, lambda k, b: k, lambda k, b: 0.0)


def kb_halved(params, kernel_l2, bias_l2):
    return _kb_step(params, kernel_l2, bias_l2, lambda k, b: k / 2, lambda k, b: b / 2)


def kb_grad_without_two(params, kernel_l2, bias_l2):
    return _kb_step(params, kernel_l2, bias_l2, lambda k, b: k, lambda k, b: b, grad_scale=1.0)


def kb_grad_biases_zero(params, kernel_l2, bias_l2):
    penalty, grads = _kb_step(params, kernel_l2, bias_l2, lambda k, b: k, lambda k, b: b)
    return penalty, {k: (g if k.startswith("W") else np.zeros_like(g)) for k, g in grads.items()}


KB_SWAPPED = Mistake("kernel_l2 and bias_l2 are swapped: kernel_l2 belongs to the weights (names starting with 'W'), "
                     "bias_l2 to the biases", kb_swapped)
KB_KERNEL_FOR_ALL = Mistake("the biases get kernel_l2 too: each kind of parameter has its own strength, bias_l2 for "
                            "the biases", kb_kernel_for_all)
KERNEL_BIAS_PENALTY_MISTAKES = [
    KB_SWAPPED, KB_KERNEL_FOR_ALL,
    Mistake("the biases are not penalized (section 1's rule): here they have a regularizer of their own, bias_l2 * "
            "sum b^2", kb_biases_free),
    Mistake("the 1/2 of section 1's lambda/(2n) is kept: Keras' L2 regularizer adds l2 * sum w^2, with neither 1/2 "
            "nor 1/n", kb_halved),
]


@check("kernel_bias_penalty", mistakes=KERNEL_BIAS_PENALTY_MISTAKES, by_hand=True)
def check_kernel_bias_penalty(kernel_bias_penalty, rng):
    """The penalty of kernel_bias_penalty(params, kernel_l2, bias_l2) equals kernel_l2 sum W^2 + bias_l2 sum b^2."""
    for params, kernel_l2, bias_l2 in _kernel_bias_cases(rng):
        inputs = _describe_params(params, kernel_l2=kernel_l2, bias_l2=bias_l2)
        got = _pair_result("kernel_bias_penalty", kernel_bias_penalty(params, kernel_l2, bias_l2), inputs)[0]
        expected, _ = reference_kernel_bias_penalty(params, kernel_l2, bias_l2)
        expect_close("kernel_bias_penalty(params, kernel_l2, bias_l2)[0] (the penalty)", got, expected,
                     inputs=inputs, **TOL)


KERNEL_BIAS_GRAD_MISTAKES = [
    Mistake("the gradient is l2 * w: the derivative of l2 * w^2 is 2 * l2 * w (Keras' penalty has no 1/2 to cancel "
            "the 2)", kb_grad_without_two),
    Mistake("the biases get a zero gradient (section 1's rule): their penalty bias_l2 * sum b^2 has the gradient "
            "2 * bias_l2 * b", kb_grad_biases_zero),
    KB_SWAPPED, KB_KERNEL_FOR_ALL,
]


@check("kernel_bias_grad", functions=("kernel_bias_penalty",), mistakes=KERNEL_BIAS_GRAD_MISTAKES, by_hand=True)
def check_kernel_bias_grad(kernel_bias_penalty, rng):
    """The gradient dict of kernel_bias_penalty: 2 kernel_l2 W for weights, 2 bias_l2 b for biases (autograd)."""
    for params, kernel_l2, bias_l2 in _kernel_bias_cases(rng):
        inputs = _describe_params(params, kernel_l2=kernel_l2, bias_l2=bias_l2)
        got = _pair_result("kernel_bias_penalty", kernel_bias_penalty(params, kernel_l2, bias_l2), inputs)[1]
        _, expected = reference_kernel_bias_penalty(params, kernel_l2, bias_l2)
        _expect_params("kernel_bias_penalty(params, kernel_l2, bias_l2)[1] (the gradients)", got, expected, inputs,
                       **TOL)


# --- orthogonal regularization: lam * ||W W^T - I||_F^2 ----------------------------------------------------------


def _orthogonal_cases(rng):
    """(W, lam) with W (out, in): wide (out < in, rows can be orthonormal), tall, square, an orthogonal W, lam = 0."""
    yield 0.4 * rng.normal(size=(3, 7)), 0.1
    yield rng.normal(size=(6, 2)), 0.02
    yield 0.8 * rng.normal(size=(4, 4)), 1.5
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    yield q[:3] + 0.05 * rng.normal(size=(3, 5)), 2.0                 # nearly orthonormal rows
    yield rng.normal(size=(2, 3)), 0.0


@cached_reference
def reference_orthogonal_penalty(W, lam):
    """lam * ||W W^T - I||_F^2 for W (out, in), I the (out, out) identity, and dW by autograd."""
    W = _t(W).requires_grad_(True)
    gram = W @ W.T
    penalty = lam * torch.sum((gram - torch.eye(W.shape[0], dtype=W.dtype)) ** 2)
    (dW,) = torch.autograd.grad(penalty, W)
    return penalty.detach(), dW


def _gram_minus_identity(W):
    W = np.asarray(W, dtype=float)
    return W, W @ W.T - np.eye(W.shape[0])


def orth_columns(W, lam):
    W = np.asarray(W, dtype=float)
    R = W.T @ W - np.eye(W.shape[1])
    return float(lam * np.sum(R ** 2)), 4 * lam * W @ R


def orth_norm_not_squared(W, lam):
    W, R = _gram_minus_identity(W)
    return float(lam * np.sqrt(np.sum(R ** 2))), 4 * lam * R @ W


def orth_no_identity(W, lam):
    W = np.asarray(W, dtype=float)
    G = W @ W.T
    return float(lam * np.sum(G ** 2)), 4 * lam * G @ W


def orth_off_diagonal(W, lam):
    W = np.asarray(W, dtype=float)
    G = W @ W.T
    off = G - np.diag(np.diag(G))
    return float(lam * np.sum(off ** 2)), 4 * lam * off @ W


def orth_grad_factor_two(W, lam):
    W, R = _gram_minus_identity(W)
    return float(lam * np.sum(R ** 2)), 2 * lam * R @ W


def orth_grad_sign(W, lam):
    W, R = _gram_minus_identity(W)
    return float(lam * np.sum(R ** 2)), -4 * lam * R @ W


ORTH_NO_IDENTITY = Mistake("the identity is missing (||W W^T||^2): that pulls every weight to zero; the penalty is "
                           "lam * ||W W^T - I||^2, zero for orthonormal rows", orth_no_identity)
ORTH_OFF_DIAGONAL = Mistake("only the off-diagonal entries of W W^T are penalized (the angles between the rows, as "
                            "Keras' OrthogonalRegularizer does); here the diagonal counts too, so each row is also "
                            "pulled to length 1", orth_off_diagonal)
ORTHOGONAL_PENALTY_MISTAKES = [
    Mistake("W^T W - I (the columns) instead of W W^T - I (the rows): for W of shape (out, in) the two penalties "
            "differ by lam * (in - out), because in - out of the in columns cannot be orthonormal", orth_columns),
    Mistake("the Frobenius norm is not squared: the penalty is lam * sum of the squared entries of W W^T - I",
            orth_norm_not_squared),
    ORTH_NO_IDENTITY, ORTH_OFF_DIAGONAL,
]


@check("orthogonal_penalty", mistakes=ORTHOGONAL_PENALTY_MISTAKES, by_hand=True)
def check_orthogonal_penalty(orthogonal_penalty, rng):
    """The penalty of orthogonal_penalty(W, lam) equals lam * ||W W^T - I||_F^2 in PyTorch."""
    for W, lam in _orthogonal_cases(rng):
        inputs = describe_inputs(W=W, lam=lam)
        got = _pair_result("orthogonal_penalty", orthogonal_penalty(W, lam), inputs)[0]
        expected, _ = reference_orthogonal_penalty(W, lam)
        expect_close("orthogonal_penalty(W, lam)[0] (the penalty)", got, expected, inputs=inputs, **TOL)


ORTHOGONAL_GRAD_MISTAKES = [
    Mistake("the gradient is 2 lam (W W^T - I) W: W appears twice in W W^T, so the derivative has two equal halves "
            "and the factor is 4", orth_grad_factor_two),
    Mistake("the sign of the gradient is flipped: it must point away from orthogonality, so that a step against it "
            "moves W W^T towards I", orth_grad_sign),
    ORTH_NO_IDENTITY, ORTH_OFF_DIAGONAL,
]


@check("orthogonal_grad", functions=("orthogonal_penalty",), mistakes=ORTHOGONAL_GRAD_MISTAKES, by_hand=True)
def check_orthogonal_grad(orthogonal_penalty, rng):
    """dW of orthogonal_penalty(W, lam) equals autograd of lam * ||W W^T - I||_F^2: 4 lam (W W^T - I) W."""
    for W, lam in _orthogonal_cases(rng):
        inputs = describe_inputs(W=W, lam=lam)
        got = _pair_result("orthogonal_penalty", orthogonal_penalty(W, lam), inputs)[1]
        _, expected = reference_orthogonal_penalty(W, lam)
        expect_close("orthogonal_penalty(W, lam)[1] (dpenalty/dW)", got, expected.numpy(), inputs=inputs, **TOL)


CHECKS = [check_l2_penalty, check_l2_grad, check_l1_penalty, check_l1_grad, check_weight_decay_step,
          check_l1_l2_step, check_early_stopping, check_hflip, check_affine_sample, check_rotate, check_zoom,
          check_augment, check_mixup, check_smooth_labels, check_smoothed_loss, check_smoothed_grad,
          check_activity_penalty, check_activity_grad, check_kernel_bias_penalty, check_kernel_bias_grad,
          check_orthogonal_penalty, check_orthogonal_grad]
