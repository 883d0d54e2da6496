"""Correct implementations of 04_dropout written differently from the worked solution."""

import numpy as np


def _keep_mask(rng, shape, p):
    # Bernoulli(1 - p) by the binomial sampler instead of comparing uniforms with p
    return rng.binomial(1, 1.0 - p, size=shape).astype(np.float64)


def dropout_classic_forward(x, p, mode, rng=None, mask=None):
    x = np.array(x, dtype=np.float64)
    if mode == "eval":
        return x - p * x, {"mask": None, "p": p, "mode": "eval"}
    keep = _keep_mask(rng, x.shape, p) if mask is None else np.array(mask, dtype=np.float64)
    return np.where(keep.astype(bool), x, 0.0), {"mask": keep, "p": p, "mode": "train"}


def dropout_classic_backward(dout, cache):
    dout = np.array(dout, dtype=np.float64)
    if cache["mode"] == "eval":
        return dout - cache["p"] * dout
    return np.where(np.asarray(cache["mask"]) != 0, dout, 0.0)


def dropout_forward(x, p, mode, rng=None, mask=None):
    x = np.array(x, dtype=np.float64)
    if mode != "train":
        return x, {"mask": None, "p": p, "mode": mode}
    keep = (rng.uniform(size=x.shape) < 1.0 - p).astype(np.float64) if mask is None \
        else np.array(mask, dtype=np.float64)
    scale = 1.0 / (1.0 - p)
    return x * (keep * scale), {"mask": keep, "p": p, "mode": mode}


def dropout_backward(dout, cache):
    dout = np.array(dout, dtype=np.float64)
    if cache["mode"] != "train":
        return dout
    return np.multiply(dout, np.asarray(cache["mask"]) * (1.0 / (1.0 - cache["p"])))


def gaussian_dropout(x, p, mode, rng=None):
    x = np.array(x, dtype=np.float64)
    if mode != "train" or p == 0:
        return x
    sigma = (p / (1.0 - p)) ** 0.5
    return x + x * sigma * rng.standard_normal(x.shape)


def dropconnect_forward(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = np.array(x, dtype=float), np.array(W, dtype=float), np.array(b, dtype=float)
    if mode == "train":
        keep = _keep_mask(rng, W.shape, p) if mask is None else np.array(mask, dtype=float)
        out = np.einsum("nd,md->nm", x, W * keep) / (1.0 - p) + b
        return out, {"x": x, "W": W, "mask": keep, "p": p, "mode": mode}
    return np.einsum("nd,md->nm", x, W) + b, {"x": x, "W": W, "mask": None, "p": p, "mode": mode}


def dropconnect_backward(dout, cache):
    dout = np.array(dout, dtype=float)
    x, W = cache["x"], cache["W"]
    effective = W if cache["mode"] != "train" else W * cache["mask"] / (1.0 - cache["p"])
    dx = np.einsum("nm,md->nd", dout, effective)
    dW_effective = np.einsum("nm,nd->md", dout, x)
    dW = dW_effective if cache["mode"] != "train" else dW_effective * cache["mask"] / (1.0 - cache["p"])
    return dx, dW, np.einsum("nm->m", dout)


def spatial_dropout_forward(x, p, mode, rng=None, mask=None):
    x = np.array(x, dtype=np.float64)
    if mode != "train":
        return x, {"mask": None, "p": p, "mode": mode}
    n, c = x.shape[0], x.shape[1]
    keep = _keep_mask(rng, (n, c), p).reshape(n, c, 1, 1) if mask is None else np.array(mask, dtype=float)
    out = np.empty_like(x)
    for i in range(n):
        for j in range(c):
            out[i, j] = x[i, j] * keep[i, j, 0, 0] / (1.0 - p)
    return out, {"mask": keep, "p": p, "mode": mode}


def maxpool_dropout_forward(x, p, mode, rng=None, mask=None, size=2):
    x = np.array(x, dtype=np.float64)
    n, c, h, w = x.shape
    train = mode == "train"
    if train:
        mask = _keep_mask(rng, x.shape, p) if mask is None else np.array(mask, dtype=float)
    else:
        mask = None
    out = np.empty((n, c, h // size, w // size))
    for i in range(h // size):
        for j in range(w // size):
            window = x[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size]
            if train:
                window = window * mask[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size]
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                out[:, :, i, j] = (1.0 - p) * window.max(axis=(2, 3))
    return out, {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}


def maxpool_dropout_backward(dout, cache):
    # route each window's gradient to its first maximum (argmax), as PyTorch does, then apply the chain rule
    dout = np.array(dout, dtype=np.float64)
    x, p, size = cache["x"], cache["p"], cache["size"]
    train = cache["mode"] == "train"
    units = x * cache["mask"] if train else x
    dx = np.zeros_like(x)
    n, c, h, w = x.shape
    for i in range(h // size):
        for j in range(w // size):
            window = units[:, :, i * size:(i + 1) * size, j * size:(j + 1) * size].reshape(n, c, -1)
            first = window.argmax(axis=2)
            rows, cols = i * size + first // size, j * size + first % size
            for a in range(n):
                for b in range(c):
                    dx[a, b, rows[a, b], cols[a, b]] += dout[a, b, i, j]
    return dx * cache["mask"] if train else (1.0 - p) * dx


def cutout(x, size, rng=None, centers=None):
    x = np.array(x, dtype=np.float64)
    n, _, h, w = x.shape
    if centers is None:
        centers = np.column_stack([rng.integers(0, h, n), rng.integers(0, w, n)])
    rows, cols = np.ogrid[:h, :w]
    for i in range(n):
        r0 = int(centers[i][0]) - size // 2
        c0 = int(centers[i][1]) - size // 2
        inside = (rows >= r0) & (rows < r0 + size) & (cols >= c0) & (cols < c0 + size)
        x[i][:, inside] = 0.0
    return x
