"""Correct implementations of 05_normalization written differently from the worked solution: explicit Jacobians,
loops over features and groups, reshapes to rows instead of axis tuples."""

import numpy as np


def _column_stats(columns):
    # mean and biased variance of each column, by explicit sums
    m = columns.shape[0]
    mean = np.sum(columns, axis=0) / m
    var = np.sum((columns - mean) ** 2, axis=0) / m
    return mean, var


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    x = np.array(x, dtype=float)
    n, d = x.shape
    out = np.empty_like(x)
    if training:
        mean, var = _column_stats(x)
        x_hat = np.empty_like(x)
        for j in range(d):  # one feature at a time
            x_hat[:, j] = (x[:, j] - mean[j]) / np.sqrt(var[j] + eps)
            out[:, j] = gamma[j] * x_hat[:, j] + beta[j]
        alpha = 1.0 - momentum  # lecture 004's smoothing parameter
        unbiased = np.sum((x - mean) ** 2, axis=0) / (n - 1)
        new_mean = alpha * np.asarray(running_mean, float) + (1 - alpha) * mean
        new_var = alpha * np.asarray(running_var, float) + (1 - alpha) * unbiased
        cache = {"x": x, "x_hat": x_hat, "mu": mean, "var": var, "gamma": np.array(gamma, float), "eps": eps}
        return out, cache, new_mean, new_var
    scale = gamma / np.sqrt(running_var + eps)
    out = x * scale + (beta - running_mean * scale)  # lecture 000, step 11
    return out, None, np.array(running_mean, float), np.array(running_var, float)


def batchnorm_backward(dout, cache):
    # the full Jacobian of x_hat with respect to x, feature by feature
    x_hat, var, gamma, eps = cache["x_hat"], cache["var"], cache["gamma"], cache["eps"]
    m, d = dout.shape
    dx = np.empty_like(dout)
    for j in range(d):
        s = np.sqrt(var[j] + eps)
        jacobian = (np.eye(m) - 1.0 / m - np.outer(x_hat[:, j], x_hat[:, j]) / m) / s
        dx[:, j] = gamma[j] * jacobian.T @ dout[:, j]
    return dx, np.einsum("ij,ij->j", dout, x_hat), np.einsum("ij->j", dout)


def batchnorm_backward_alt(dout, cache):
    # the same formula with means instead of sums
    x_hat = cache["x_hat"]
    g = dout * cache["gamma"]
    dx = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) / np.sqrt(cache["var"] + cache["eps"])
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def batchnorm_fold(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = np.diag(gamma / np.sqrt(running_var + eps))
    return scale @ W, scale @ (b - running_mean) + beta


def batchnorm_identity_params(x, eps=1e-5):
    mean, var = _column_stats(np.asarray(x, float))
    return np.sqrt(var + eps), mean


def linear_batchnorm_backward(dout, x, W, b, gamma, beta, eps=1e-5):
    z = x @ W.T + b
    m = z.shape[0]
    mean, var = _column_stats(z)
    x_hat = (z - mean) / np.sqrt(var + eps)
    dz = np.empty_like(z)
    for j in range(z.shape[1]):
        jacobian = (np.eye(m) - 1.0 / m - np.outer(x_hat[:, j], x_hat[:, j]) / m) / np.sqrt(var[j] + eps)
        dz[:, j] = gamma[j] * jacobian @ dout[:, j]
    return np.einsum("nk,nj->kj", dz, x), np.ones(m) @ dz


def spatial_batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    x = np.array(x, dtype=float)
    n, c, h, w = x.shape
    g, b = gamma[None, :, None, None], beta[None, :, None, None]
    if not training:
        x_hat = (x - running_mean[None, :, None, None]) / np.sqrt(running_var[None, :, None, None] + eps)
        return g * x_hat + b, None, np.array(running_mean, float), np.array(running_var, float)
    m = n * h * w
    mean = np.einsum("nchw->c", x) / m
    centered = x - mean[None, :, None, None]
    var = np.einsum("nchw,nchw->c", centered, centered) / m
    x_hat = centered / np.sqrt(var[None, :, None, None] + eps)
    new_mean = running_mean + momentum * (mean - running_mean)
    new_var = running_var + momentum * (var * m / (m - 1) - running_var)
    cache = {"x": x, "x_hat": x_hat, "mu": mean, "var": var, "gamma": np.array(gamma, float), "eps": eps}
    return g * x_hat + b, cache, new_mean, new_var


def spatial_batchnorm_backward(dout, cache):
    n, c, h, w = dout.shape
    x_hat = cache["x_hat"]
    dbeta = np.einsum("nchw->c", dout)
    dgamma = np.einsum("nchw,nchw->c", dout, x_hat)
    scale = (cache["gamma"] / np.sqrt(cache["var"] + cache["eps"]))[None, :, None, None]
    m = n * h * w
    dx = scale * (dout - dbeta[None, :, None, None] / m - x_hat * dgamma[None, :, None, None] / m)
    return dx, dgamma, dbeta


def _rows_forward(rows, eps):
    mean = rows.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(((rows - mean) ** 2).mean(axis=1, keepdims=True) + eps)
    return (rows - mean) * inv, inv


def _rows_backward(g_rows, x_hat_rows, inv):
    # dx for rows normalized independently, given g = dL/dx_hat
    return inv * (g_rows - g_rows.mean(axis=1, keepdims=True)
                  - x_hat_rows * (g_rows * x_hat_rows).mean(axis=1, keepdims=True))


def layernorm_forward(x, gamma, beta, eps=1e-5):
    x_hat, _ = _rows_forward(x.reshape(x.shape[0], -1), eps)
    return x_hat.reshape(x.shape) * gamma + beta


def layernorm_backward(dout, x, gamma, eps=1e-5):
    n = x.shape[0]
    x_hat, inv = _rows_forward(x.reshape(n, -1), eps)
    g = (dout * gamma).reshape(n, -1)
    dx = _rows_backward(g, x_hat, inv).reshape(x.shape)
    return dx, np.einsum("n...,n...->...", dout, x_hat.reshape(x.shape)), np.einsum("n...->...", dout)


def instancenorm_forward(x, gamma, beta, eps=1e-5):
    n, c, h, w = x.shape
    x_hat, _ = _rows_forward(x.reshape(n * c, h * w), eps)
    return x_hat.reshape(n, c, h, w) * gamma[:, None, None] + beta[:, None, None]


def instancenorm_backward(dout, x, gamma, eps=1e-5):
    n, c, h, w = x.shape
    x_hat, inv = _rows_forward(x.reshape(n * c, h * w), eps)
    g = (dout * gamma[:, None, None]).reshape(n * c, h * w)
    dx = _rows_backward(g, x_hat, inv).reshape(x.shape)
    x_hat = x_hat.reshape(x.shape)
    return dx, np.einsum("nchw,nchw->c", dout, x_hat), np.einsum("nchw->c", dout)


def groupnorm_forward(x, gamma, beta, G, eps=1e-5):
    n, c, h, w = x.shape
    size = c // G
    out = np.empty_like(x, dtype=float)
    for k in range(G):  # one group of consecutive channels at a time
        block = x[:, k * size:(k + 1) * size]
        x_hat, _ = _rows_forward(block.reshape(n, -1), eps)
        out[:, k * size:(k + 1) * size] = x_hat.reshape(block.shape)
    return out * gamma[:, None, None] + beta[:, None, None]


def groupnorm_backward(dout, x, gamma, G, eps=1e-5):
    n, c, h, w = x.shape
    size = c // G
    dx = np.empty_like(x, dtype=float)
    x_hat_all = np.empty_like(x, dtype=float)
    for k in range(G):
        channels = slice(k * size, (k + 1) * size)
        block = x[:, channels]
        x_hat, inv = _rows_forward(block.reshape(n, -1), eps)
        g = (dout[:, channels] * gamma[channels, None, None]).reshape(n, -1)
        dx[:, channels] = _rows_backward(g, x_hat, inv).reshape(block.shape)
        x_hat_all[:, channels] = x_hat.reshape(block.shape)
    return dx, np.einsum("nchw,nchw->c", dout, x_hat_all), np.einsum("nchw->c", dout)


def weight_standardize(W, eps=1e-5):
    x_hat, _ = _rows_forward(np.asarray(W, float).reshape(W.shape[0], -1), eps)
    return x_hat.reshape(W.shape)


def population_statistics(batches):
    # running sums, one batch at a time, as a loop over a data loader would keep them
    total_mean, total_var = 0.0, 0.0
    for batch in batches:
        m = len(batch)
        centred = batch - batch.sum(axis=0) / m
        total_mean = total_mean + batch.sum(axis=0) / m
        total_var = total_var + (centred ** 2).sum(axis=0) / (m - 1)
    return total_mean / len(batches), total_var / len(batches)
