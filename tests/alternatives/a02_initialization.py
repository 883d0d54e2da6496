"""Correct implementations of 02_initialization written differently from the worked solution."""

import math

import numpy as np


def collapse_linear(W1, b1, W2, b2):
    # push the identity and the zero vector through both layers: the columns of W are the images of the unit
    # vectors minus the image of 0, and b is the image of 0
    W1, b1, W2, b2 = (np.asarray(a, dtype=float) for a in (W1, b1, W2, b2))
    m = W1.shape[1]

    def two_layers(x):
        return np.einsum("nk,...k->...n", W2, np.einsum("km,...m->...k", W1, x) + b1) + b2

    b = two_layers(np.zeros(m))
    W = (two_layers(np.eye(m)) - b).T
    return W, b


def numerical_rank(A):
    # singular values of the transpose (the same numbers), counted in a loop against torch's default tolerance
    A = np.asarray(A, dtype=float)
    singular = np.linalg.svd(A.T, compute_uv=False)
    largest = singular[0] if singular.size else 0.0
    threshold = largest * max(A.shape) * np.finfo(float).eps
    return sum(1 for s in singular if s > threshold)


def train_two_layer(params, X, Y, lr, steps):
    # backpropagation by hand in numpy (no autograd), with the chain rule written out
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    losses = np.zeros(steps)
    for step in range(steps):
        Z = X @ W1.T + b1
        H = np.tanh(Z)
        err = H @ W2.T + b2 - Y
        losses[step] = np.mean(err * err)
        g_out = 2.0 * err / err.size
        g_W2, g_b2 = g_out.T @ H, g_out.sum(axis=0)
        g_Z = (g_out @ W2) * (1.0 - H * H)
        g_W1, g_b1 = g_Z.T @ X, g_Z.sum(axis=0)
        W1, b1, W2, b2 = W1 - lr * g_W1, b1 - lr * g_b1, W2 - lr * g_W2, b2 - lr * g_b2
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, losses


def linear_output_variance(n_in, n_out, var_w, var_x, batch, rng):
    # standard normals scaled afterwards; the variance as the mean square minus the squared mean
    x = math.sqrt(var_x) * rng.standard_normal((batch, n_in))
    W = math.sqrt(var_w) * rng.standard_normal((n_out, n_in))
    y = np.einsum("bi,oi->bo", x, W)
    return float(np.mean(y ** 2) - np.mean(y) ** 2)


def uniform_variance(low, high):
    # E[w^2] - E[w]^2 for w ~ U[low, high]: (low^2 + low high + high^2) / 3 - ((low + high) / 2)^2
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    return (low * low + low * high + high * high) / 3 - ((low + high) / 2) ** 2


def layer_variances(X, weights):
    h = np.asarray(X, dtype=float)
    out = []
    for W in weights:
        h = np.einsum("bi,oi->bo", h, np.asarray(W, dtype=float))
        centred = h - h.mean()
        out.append(float(np.sum(centred ** 2) / h.size))
    return np.array(out)


def xavier_uniform(shape, rng, gain=1.0):
    # the standard deviation first, then the bound sqrt(3) * std; samples as low + width * U[0, 1)
    n_out, n_in = shape
    std = gain * math.sqrt(2.0 / (n_in + n_out))
    a = math.sqrt(3.0) * std
    return -a + 2 * a * rng.random(shape)


def xavier_normal(shape, rng, gain=1.0):
    n_out, n_in = shape
    variance = gain ** 2 * 2.0 / (n_in + n_out)
    return math.sqrt(variance) * rng.standard_normal(shape)


_GAIN = {"linear": 1.0, "tanh": 5.0 / 3.0, "relu": 2.0 ** 0.5}


def kaiming_normal(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan = {"fan_in": shape[1], "fan_out": shape[0]}[mode]
    variance = _GAIN[nonlinearity] ** 2 / fan
    return rng.standard_normal(shape) * variance ** 0.5


def kaiming_uniform(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan = {"fan_in": shape[1], "fan_out": shape[0]}[mode]
    bound = math.sqrt(3.0 * _GAIN[nonlinearity] ** 2 / fan)
    return bound * (2.0 * rng.random(shape) - 1.0)


def gradient_variances(G, weights):
    # all the gradients first, as a list built from the output back, then E[g^2] - E[g]^2 of each
    gradients = [np.asarray(G, dtype=float)]
    for W in weights[::-1]:
        gradients.insert(0, np.einsum("bo,oi->bi", gradients[0], np.asarray(W, dtype=float)))
    return np.array([np.mean(g * g) - np.mean(g) ** 2 for g in gradients[:-1]])
