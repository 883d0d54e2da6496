"""Correct implementations of 00_getting_started written differently from the worked solution."""

import numpy as np


def rel_error(a, b):
    # element by element in plain Python, over flattened arrays
    a = np.ravel(np.asarray(a, dtype=float)).tolist()
    b = np.ravel(np.asarray(b, dtype=float)).tolist()
    worst = 0.0
    for x, y in zip(a, b):
        worst = max(worst, abs(x - y) / max(1e-8, abs(x) + abs(y)))
    return worst


def numerical_gradient(f, x, h=1e-5):
    # one perturbation array per coordinate, on a flattened view; x itself is never touched
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1)
    grad = np.empty(flat.size)
    for i in range(flat.size):
        step = np.zeros(flat.size)
        step[i] = h
        grad[i] = (f((flat + step).reshape(x.shape)) - f((flat - step).reshape(x.shape))) / (2 * h)
    return grad.reshape(x.shape) if x.ndim else grad.reshape(())
