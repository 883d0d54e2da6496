"""Checks of 00_getting_started: the relative error and a centered-difference numerical gradient."""

from __future__ import annotations

import numpy as np
import torch

from autograder.checks.framework import Mistake, cached_reference, check, describe_inputs, expect_close
from course import testfunctions

# --- rel_error -------------------------------------------------------------------------------------------------


@cached_reference
def reference_rel_error(a, b) -> torch.Tensor:
    """max |a - b| / max(1e-8, |a| + |b|), in torch."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return torch.max(torch.abs(a - b) / torch.clamp(torch.abs(a) + torch.abs(b), min=1e-8))


def rel_error_signed(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max((a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def rel_error_mean(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.mean(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def rel_error_abs_of_sum(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a + b))))


def rel_error_no_floor(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))


REL_ERROR_MISTAKES = [
    Mistake("the difference a - b is not taken in absolute value, so a negative difference counts as no error",
            rel_error_signed),
    Mistake("the mean is taken where the maximum over all elements is asked for", rel_error_mean),
    Mistake("the denominator is |a + b| instead of |a| + |b|: a and b of opposite signs give a huge error",
            rel_error_abs_of_sum),
    Mistake("the denominator has no floor max(1e-8, ...): two zeros give 0/0 = nan", rel_error_no_floor),
]


def _rel_error_cases(rng):
    """Pairs (a, b): several shapes, opposite signs, equal arrays, zeros, large and tiny magnitudes."""
    for shape in [(), (7,), (3, 4), (2, 3, 5)]:
        a = rng.normal(size=shape)
        yield a, a + 1e-3 * rng.normal(size=shape)
    yield rng.normal(size=6), rng.normal(size=6)                      # unrelated: errors near 1
    a = rng.normal(size=5)
    yield a, -a                                                         # opposite signs: error exactly 1
    yield a, a.copy()                                                   # identical: 0
    yield np.zeros(4), np.zeros(4)                                      # 0 / max(1e-8, 0) = 0
    yield 1e6 * rng.normal(size=(2, 2)), 1e6 * rng.normal(size=(2, 2))
    yield 1e-9 * rng.normal(size=3), 1e-9 * rng.normal(size=3)         # below the floor
    a = rng.normal(size=8)
    b = a.copy()
    b[5] += 0.5                                                         # one element off: a - b < 0 there
    yield a, b


@check("rel_error", mistakes=REL_ERROR_MISTAKES, by_hand=True)
def check_rel_error(rel_error, rng):
    """rel_error(a, b) equals max |a - b| / max(1e-8, |a| + |b|) on many inputs."""
    for a, b in _rel_error_cases(rng):
        got = rel_error(a, b)
        expect_close("rel_error(a, b)", got, reference_rel_error(a, b), inputs=describe_inputs(a=a, b=b),
                     atol=1e-12, rtol=1e-9)


# --- numerical_gradient ----------------------------------------------------------------------------------------

TORCH_TWINS = {
    testfunctions.square_sum: lambda x: torch.sum(x ** 2),
    testfunctions.wave: lambda x: torch.sum(torch.sin(3 * x) * x ** 2),
    testfunctions.log_sum_exp: lambda x: torch.logsumexp(x.reshape(-1), dim=0),
    testfunctions.coupled: lambda x: torch.sum(x.reshape(-1)[:-1] * x.reshape(-1)[1:]) + torch.sum(torch.tanh(x)),
}


@cached_reference
def reference_gradient(f, x) -> torch.Tensor:
    """d f(x) / dx by torch autograd, for a function of course.testfunctions."""
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(TORCH_TWINS[f](x), x)
    return grad


def numerical_gradient_forward(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (f(x) - fx) / h
        x[i] = old
    return grad


def numerical_gradient_over_h(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / h
    return grad


def numerical_gradient_not_restored(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        grad[i] = (plus - minus) / (2 * h)   # x[i] is left at old - h
    return grad


def numerical_gradient_flat(f, x, h=1e-5):
    x = np.array(x, dtype=float).ravel()
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


NUMERICAL_GRADIENT_MISTAKES = [
    Mistake("a forward difference (f(x + h) - f(x)) / h: its error is O(h), not O(h^2)", numerical_gradient_forward),
    Mistake("the centered difference is divided by h instead of 2h: every entry is twice too large",
            numerical_gradient_over_h),
    Mistake("x[i] is not put back after the two evaluations, so later entries are computed at a shifted point",
            numerical_gradient_not_restored),
    Mistake("the gradient is returned flattened; it must have the shape of x", numerical_gradient_flat),
]


@check("numerical_gradient", mistakes=NUMERICAL_GRADIENT_MISTAKES, by_hand=True)
def check_numerical_gradient(numerical_gradient, rng):
    """numerical_gradient(f, x, h) matches torch autograd to O(h^2) for smooth functions of vectors and matrices."""
    for f in TORCH_TWINS:
        for shape in [(1,), (5,), (3, 4)]:
            x = rng.normal(size=shape)
            got = numerical_gradient(f, x, 1e-5)
            expect_close(f"numerical_gradient({f.__name__}, x)", got, reference_gradient(f, x),
                         inputs=describe_inputs(x=x), atol=1e-6, rtol=1e-6)


CHECKS = [check_rel_error, check_numerical_gradient]
