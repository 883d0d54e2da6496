"""Correct implementations of 01_backprop written differently from the worked solution (closed forms, einsum,
loops over examples, other random draws), to prove the checks accept more than one way of being right."""

import math

import numpy as np


def add_mul_graph(x, y, z):
    # closed forms worked out on paper instead of node by node
    return {"q": x + y, "f": x * z + y * z, "dfdx": z, "dfdy": z, "dfdz": x + y}


def gate_backward(gate, a, b, dout):
    a, b, dout = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, dout)))
    if gate == "add":
        local_a, local_b = np.ones_like(a), np.ones_like(b)
    elif gate == "mul":
        local_a, local_b = b, a
    else:
        local_a = np.select([a > b, a < b], [1.0, 0.0], default=0.5)
        local_b = 1.0 - local_a
    return local_a * dout, local_b * dout


def sigmoid_neuron(w, x):
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    z = float(np.dot(np.append(x, 1.0), w))          # the bias as a weight on a constant input 1
    out = 0.5 * (1.0 + math.tanh(0.5 * z))
    dz = 0.25 / math.cosh(0.5 * z) ** 2              # sigma'(z) = 1 / (4 cosh^2(z / 2))
    return out, dz * np.append(x, 1.0), dz * w[:-1]


def activation_forward(z, kind, alpha=None):
    z = np.asarray(z, dtype=float)
    a = {"leaky_relu": 0.01, "elu": 1.0}.get(kind, 0.0) if alpha is None else alpha
    negative = np.minimum(z, 0.0)
    table = {
        "linear": lambda: z + 0.0,
        "step": lambda: np.heaviside(z, 1.0),
        "sigmoid": lambda: np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                                    np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z)))),
        "tanh": lambda: np.tanh(z),
        "relu": lambda: z * (z > 0),
        "leaky_relu": lambda: np.maximum(z, 0.0) + a * negative,
        "elu": lambda: np.maximum(z, 0.0) + a * (np.exp(negative) - 1.0),
        "softplus": lambda: np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))),
    }
    return table[kind]()


def activation_derivative(z, kind, alpha=None):
    z = np.asarray(z, dtype=float)
    a = {"leaky_relu": 0.01, "elu": 1.0}.get(kind, 0.0) if alpha is None else alpha
    e = np.exp(-np.abs(z))
    sigma = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    table = {
        "linear": lambda: np.full(z.shape, 1.0),
        "step": lambda: np.full(z.shape, 0.0),
        "sigmoid": lambda: e / (1.0 + e) ** 2,
        "tanh": lambda: 1.0 / np.cosh(np.clip(z, -300, 300)) ** 2,
        "relu": lambda: np.heaviside(z, 0.0),
        "leaky_relu": lambda: a + (1.0 - a) * np.heaviside(z, 0.0),
        "elu": lambda: np.where(z > 0, 1.0, activation_forward(z, "elu", a) + a),   # f(z) + alpha for z <= 0
        "softplus": lambda: sigma,
    }
    return table[kind]()


def affine_forward(x, W, b):
    return np.einsum("nd,md->nm", x, W) + b[None, :], (x, W, b)


def affine_backward(dout, cache):
    x, W, _ = cache
    return np.einsum("nm,md->nd", dout, W), np.einsum("nm,nd->md", dout, x), np.einsum("nm->m", dout)


def softmax(z):
    z = np.asarray(z, dtype=float)
    m = np.max(z, axis=-1, keepdims=True)
    log_norm = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return np.exp(z - log_norm)


def softmax_cross_entropy(scores, y):
    # one example at a time
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    total, dscores = 0.0, np.zeros_like(scores)
    for i in range(n):
        s = scores[i] - scores[i].max()
        p = np.exp(s) / np.exp(s).sum()
        total += math.log(np.exp(s).sum()) - s[y[i]]
        dscores[i] = p
        dscores[i, y[i]] -= 1.0
    return total / n, dscores / n


def mse_loss(a, y):
    d = np.asarray(a, dtype=float) - np.asarray(y, dtype=float)
    n = d.shape[0]
    flat = d.reshape(n, -1)
    return float(np.einsum("nk,nk->", flat, flat)) / n, d * (2.0 / n)


def sigmoid_binary_cross_entropy(z, y):
    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    n = z.shape[0]
    log_a = -np.log1p(np.exp(-np.abs(z))) + np.minimum(z, 0.0)        # ln sigma(z), stable
    log_1_minus_a = log_a - z                                            # ln(1 - sigma(z)) = ln sigma(z) - z
    loss = -np.sum(y * log_a + (1 - y) * log_1_minus_a) / n
    return float(loss), (np.exp(log_a) - y) / n


def mlp_loss_and_grads(params, X, y, activation="relu", loss="softmax", reg=0.0):
    # backpropagation one example at a time, with column vectors exactly as in lecture 001, then averaged
    depth = len(params) // 2
    X = np.asarray(X, dtype=float)
    n = len(X)
    grads = {k: np.zeros_like(np.asarray(v, dtype=float)) for k, v in params.items()}
    data_loss = 0.0
    for i in range(n):
        a_list, z_list = [X[i][:, None]], []
        for layer in range(1, depth + 1):
            z = params[f"W{layer}"] @ a_list[-1] + params[f"b{layer}"][:, None]
            z_list.append(z)
            a_list.append(activation_forward(z, activation) if layer < depth else z)
        z_out = z_list[-1]
        if loss == "softmax":
            p = softmax(z_out[:, 0])[:, None]
            data_loss += -math.log(p[y[i], 0])
            delta = p.copy()
            delta[y[i], 0] -= 1.0
        elif loss == "bce":
            target = np.asarray(y[i], dtype=float)[:, None]
            value, dz = sigmoid_binary_cross_entropy(z_out.T, target.T)
            data_loss += value
            delta = dz.T
        else:
            target = np.asarray(y[i], dtype=float)[:, None]
            a_out = activation_forward(z_out, activation)
            data_loss += float(np.sum((a_out - target) ** 2))
            delta = 2 * (a_out - target) * activation_derivative(z_out, activation)
        for layer in range(depth, 0, -1):
            grads[f"W{layer}"] += delta @ a_list[layer - 1].T              # rule (13)
            grads[f"b{layer}"] += delta[:, 0]                               # rule (12)
            if layer > 1:
                delta = (params[f"W{layer}"].T @ delta) * activation_derivative(z_list[layer - 2], activation)
    for k in grads:
        grads[k] /= n
        if k.startswith("W"):
            grads[k] += reg * params[k]
    penalty = reg / 2 * sum(float(np.sum(np.square(params[k]))) for k in params if k.startswith("W"))
    return data_loss / n + penalty, grads


def gradient_check(f, x, analytic_grad, h=1e-5):
    x = np.asarray(x, dtype=float)
    flat = x.ravel()
    numeric = np.empty(flat.size)
    for i in range(flat.size):
        step = np.zeros(flat.size)
        step[i] = h
        numeric[i] = (f((flat + step).reshape(x.shape)) - f((flat - step).reshape(x.shape))) / (2 * h)
    a = np.ravel(np.asarray(analytic_grad, dtype=float))
    worst = 0.0
    for u, v in zip(a, numeric):
        worst = max(worst, abs(u - v) / max(1e-8, abs(u) + abs(v)))
    return worst


def minibatch_sgd(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu", loss="softmax",
                  reg=0.0):
    # rng.shuffle of an index array (not rng.permutation), and minibatches from np.array_split
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    n = len(X)
    history = []
    for _ in range(epochs):
        index = np.arange(n)
        rng.shuffle(index)
        values = []
        for batch in np.array_split(index, range(batch_size, n, batch_size)):
            value, grads = mlp_loss_and_grads(params, X[batch], y[batch], activation, loss, reg)
            values.append(value)
            for k in params:
                params[k] = params[k] - learning_rate * grads[k]
        history.append(sum(values) / len(values))
    return params, history


def train_test_indices(n, test_fraction, rng):
    n_test = math.floor(test_fraction * n + 0.5)
    test = rng.choice(n, size=n_test, replace=False)
    train = np.setdiff1d(np.arange(n), test)
    return rng.permutation(train), test


def train_val_test_indices(n, val_fraction, test_fraction, rng):
    n_val, n_test = math.floor(val_fraction * n + 0.5), math.floor(test_fraction * n + 0.5)
    val, test, train = np.split(rng.permutation(n), [n_val, n_val + n_test])
    return train, val, test


def kfold_indices(n, k, rng):
    labels = np.arange(n) % k          # fold labels, as balanced as possible, then shuffled
    rng.shuffle(labels)
    return [(np.flatnonzero(labels != i), np.flatnonzero(labels == i)) for i in range(k)]


def expected_initial_loss(loss, y, num_outputs):
    # every score is 0: softmax gives 1/K to every class, a sigmoid gives 1/2 to every output
    y = np.asarray(y, dtype=float)
    if loss == "softmax":
        return -np.log(1.0 / num_outputs)
    if loss == "bce":
        per_output = -(y * np.log(0.5) + (1 - y) * np.log(0.5))
        return float(per_output.sum(axis=-1).mean()) if y.ndim > 1 else float(per_output.mean())
    return float((y ** 2).reshape(len(y), -1).sum(axis=1).mean())
