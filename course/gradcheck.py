"""Numerical gradients by centered differences, and the relative error used to compare gradients.

The centered difference (f(x + h) - f(x - h)) / 2h has error O(h^2); the forward difference (f(x + h) - f(x)) / h
only O(h). With h = 1e-5 in float64 a correct analytic gradient agrees with the centered one to about 1e-8 relative
error or better, except at kinks (ReLU at 0, max), where the numerical gradient "lies" (lecture 002).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def rel_error(a, b, eps: float = 1e-8) -> float:
    """Maximum elementwise relative error max |a - b| / max(eps, |a| + |b|).

    a, b: arrays (or numbers) of the same shape. Returns a Python float; 0.0 for empty arrays.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar function f at x by centered differences.

    f: takes an array shaped like x, returns a number. x: float array of any shape (not modified).
    Returns an array of x's shape: grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h.
    """
    x = np.array(x, dtype=np.float64)  # a private copy we may perturb
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        f_plus = float(f(x))
        flat_x[i] = old - h
        f_minus = float(f(x))
        flat_x[i] = old
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-5) -> np.ndarray:
    """Gradient of sum(f(x) * dout) with respect to x: the backward pass of an array function, numerically.

    f: array -> array; x: input of any shape; dout: upstream gradient shaped like f(x). Returns an array of x's shape.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda z: float(np.sum(np.asarray(f(z)) * dout)), x, h)
