"""Variants of the catalogued mistakes of 00_getting_started."""

import numpy as np

from tests.variants import variant_of


@variant_of("rel_error_signed")
def rel_error_signed_other_way(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    denominator = np.abs(a) + np.abs(b)
    return float(((a - b) / np.where(denominator > 1e-8, denominator, 1e-8)).max())


@variant_of("rel_error_mean")
def rel_error_mean_by_sum(a, b):
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    errors = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    return float(errors.sum() / errors.size)


@variant_of("rel_error_abs_of_sum")
def rel_error_abs_of_sum_loop(a, b):
    a, b = np.atleast_1d(np.asarray(a, float)).ravel(), np.atleast_1d(np.asarray(b, float)).ravel()
    return max(abs(x - y) / max(1e-8, abs(x + y)) for x, y in zip(a, b))


@variant_of("rel_error_no_floor")
def rel_error_no_floor_divide(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(all="ignore"):
        return float(np.max(np.divide(np.abs(a - b), np.abs(a) + np.abs(b))))


@variant_of("numerical_gradient_forward")
def numerical_gradient_backward_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    fx = f(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old - h
        grad[i] = (fx - f(x)) / h
        x[i] = old
    return grad


@variant_of("numerical_gradient_over_h")
def numerical_gradient_twice(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = 2 * (f(x + step) - f(x - step)) / (2 * h)
    return grad


@variant_of("numerical_gradient_not_restored")
def numerical_gradient_left_at_plus(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old - h
        minus = f(x)
        x[i] = old + h
        plus = f(x)
        grad[i] = (plus - minus) / (2 * h)   # x[i] is left at old + h
    return grad


@variant_of("numerical_gradient_flat")
def numerical_gradient_list(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = []
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad.append((f(x + step) - f(x - step)) / (2 * h))
    return np.array(grad)
