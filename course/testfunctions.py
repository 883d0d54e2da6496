"""Smooth scalar functions R^n -> R that visible checks and graders hand to numerical-gradient exercises.

They are module-level functions so that a grader can name them (``course.testfunctions:wave``) instead of sending code.
"""

import numpy as np


def square_sum(x):
    """sum(x^2); gradient 2x."""
    return float(np.sum(np.asarray(x) ** 2))


def wave(x):
    """sum(sin(3x) x^2)."""
    x = np.asarray(x)
    return float(np.sum(np.sin(3 * x) * x ** 2))


def log_sum_exp(x):
    """log(sum(exp(x))), the smooth maximum; its gradient is softmax(x)."""
    x = np.asarray(x)
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


def coupled(x):
    """sum over neighbours x_i x_{i+1} plus sum tanh(x): its gradient mixes coordinates."""
    x = np.asarray(x).reshape(-1)
    return float(np.sum(x[:-1] * x[1:]) + np.sum(np.tanh(x)))


def coupled_gradient(x):
    """The exact gradient of coupled(x), shaped like x: entry i is x_{i-1} + x_{i+1} + 1 - tanh(x_i)^2 (flattened).

    Every entry depends on its neighbours, so a numerical gradient that leaves an entry shifted shows it in the next.
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1)
    grad = 1.0 - np.tanh(flat) ** 2
    grad[:-1] += flat[1:]
    grad[1:] += flat[:-1]
    return grad.reshape(x.shape)


ALL = [square_sum, wave, log_sum_exp, coupled]
