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


ALL = [square_sum, wave, log_sum_exp, coupled]
