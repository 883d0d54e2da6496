"""Correct implementations of 03_regularization written differently from the worked solution."""

import math

import numpy as np
from scipy.special import log_softmax


def _is_weight(name):
    return name[:1] == "W"


def l2_penalty(params, lam, n):
    # one flat vector of all weights, a dot product with itself
    weights = [np.ravel(v) for k, v in sorted(params.items()) if _is_weight(k)]
    flat = np.concatenate(weights) if weights else np.zeros(0)
    return 0.5 * lam * float(flat @ flat) / n


def l2_grad(params, lam, n):
    out = {}
    for name in params:
        value = np.array(params[name], dtype=float)
        out[name] = value * (lam / n) * _is_weight(name)    # times 0 for biases
    return out


def l1_penalty(params, lam, n):
    total = 0.0
    for name, value in params.items():
        if _is_weight(name):
            total += float(np.linalg.norm(np.ravel(value), ord=1))
    return lam * total / n


def l1_grad(params, lam, n):
    out = {}
    for name, value in params.items():
        value = np.asarray(value, dtype=float)
        if _is_weight(name):
            out[name] = (lam / n) * ((value > 0).astype(float) - (value < 0).astype(float))
        else:
            out[name] = np.zeros(value.shape)
    return out


def sgd_step(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    # the gradient of the whole cost first, then the plain step w - eta dC/dw
    out = {}
    for name, value in params.items():
        value = np.asarray(value, dtype=float)
        grad = np.asarray(grads0[name], dtype=float).copy()
        if _is_weight(name):
            grad = grad + lam2 / n * value + lam1 / n * np.sign(value)
        out[name] = value - eta * grad
    return out


def early_stopping(val_losses, weights, patience, min_delta=0.0):
    losses = [float(v) for v in val_losses]
    best_epoch = 0
    last_improvement = -1
    best = math.inf
    t = 0
    while t < len(losses):
        loss = losses[t]
        if math.isfinite(loss) and loss < best - min_delta:
            best, best_epoch, last_improvement = loss, t, t
        elif t - last_improvement >= patience:
            return {"best_epoch": best_epoch, "stop_epoch": t, "stopped": True,
                    "weights": np.asarray(weights)[best_epoch].copy()}
        t += 1
    return {"best_epoch": best_epoch, "stop_epoch": len(losses) - 1, "stopped": False,
            "weights": np.asarray(weights)[best_epoch].copy()}


def hflip(x):
    return np.flip(np.asarray(x), axis=-1).copy()


def affine_sample(x, theta):
    # pixel by pixel, corner by corner, in plain Python loops
    x, theta = np.asarray(x, dtype=float), np.asarray(theta, dtype=float)
    N, C, H, W = x.shape
    out = np.zeros_like(x)
    for k in range(N):
        for i in range(H):
            for j in range(W):
                xn, yn = (2 * j + 1) / W - 1, (2 * i + 1) / H - 1
                xs = theta[k, 0, 0] * xn + theta[k, 0, 1] * yn + theta[k, 0, 2]
                ys = theta[k, 1, 0] * xn + theta[k, 1, 1] * yn + theta[k, 1, 2]
                u, v = ((xs + 1) * W - 1) / 2, ((ys + 1) * H - 1) / 2
                c0, r0 = math.floor(u), math.floor(v)
                for r in (r0, r0 + 1):
                    for c in (c0, c0 + 1):
                        if 0 <= r < H and 0 <= c < W:
                            out[k, :, i, j] += (1 - abs(u - c)) * (1 - abs(v - r)) * x[k, :, r, c]
    return out


def rotate(x, angle):
    x = np.asarray(x, dtype=float)
    N, C, H, W = x.shape
    angles = np.full(N, angle, dtype=float) if np.ndim(angle) == 0 else np.asarray(angle, dtype=float)
    thetas = []
    for a in np.radians(angles):
        # S^-1 R S with S = diag(W/2, H/2): a pixel-space rotation in normalized coordinates
        S = np.diag([W / 2, H / 2])
        R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        thetas.append(np.hstack([np.linalg.inv(S) @ R @ S, np.zeros((2, 1))]))
    return affine_sample(x, np.array(thetas))


def zoom(x, factor):
    x = np.asarray(x, dtype=float)
    N = x.shape[0]
    factors = np.full(N, factor, dtype=float) if np.ndim(factor) == 0 else np.asarray(factor, dtype=float)
    return affine_sample(x, np.einsum("k,ab->kab", 1 / factors, np.eye(2, 3)))


def augment(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    # one image at a time, its three draws interleaved
    x = np.asarray(x, dtype=float)
    N = x.shape[0]
    flips, angles, factors = np.zeros(N, dtype=bool), np.zeros(N), np.ones(N)
    if not training:
        return x.copy(), {"flip": flips, "angle": angles, "zoom": factors}
    out = np.empty_like(x)
    for i in range(N):
        flips[i] = rng.uniform() < flip_prob
        angles[i] = max_angle * (2 * rng.uniform() - 1)
        factors[i] = 1 + max_zoom * (2 * rng.uniform() - 1)
        image = x[i:i + 1]
        if flips[i]:
            image = hflip(image)
        out[i] = zoom(rotate(image, angles[i]), factors[i])[0]
    return out, {"flip": flips, "angle": angles, "zoom": factors}


def mixup(x, y, num_classes, lam, perm):
    x = np.asarray(x, dtype=float)
    N = len(y)
    x_mixed = np.empty_like(x)
    y_mixed = np.zeros((N, num_classes))
    for i in range(N):
        j = perm[i]
        x_mixed[i] = lam * x[i] + (1 - lam) * x[j]
        y_mixed[i, y[i]] += lam
        y_mixed[i, y[j]] += 1 - lam
    return x_mixed, y_mixed


def smooth_labels(y, num_classes, eps):
    q = np.full((len(y), num_classes), eps / num_classes)
    q[np.arange(len(y)), y] += 1 - eps
    return q


def smoothed_cross_entropy(z, y, eps):
    z = np.asarray(z, dtype=float)
    N, K = z.shape
    logp = log_softmax(z, axis=1)
    # (1 - eps) * plain cross-entropy + eps * mean of -log p over the classes
    nll = -logp[np.arange(N), y]
    uniform = -logp.mean(axis=1)
    loss = np.mean((1 - eps) * nll + eps * uniform)
    dz = np.exp(logp)
    dz[np.arange(N), y] -= 1 - eps
    dz -= eps / K
    return float(loss), dz / N


def activity_l1(A, lam):
    # per example first: the sum of |a| over the units, then the mean over the batch; the gradient from the
    # masks of the positive and the negative entries (zeros get neither)
    A = np.asarray(A, dtype=float)
    per_example = np.abs(A).sum(axis=1)
    dA = (lam / A.shape[0]) * ((A > 0).astype(float) - (A < 0).astype(float))
    return float(lam * per_example.mean()), dA


def kernel_bias_penalty(params, kernel_l2, bias_l2):
    # all weights and all biases each flattened into one vector, the penalty as dot products
    weights = [k for k in params if k.startswith("W")]
    biases = [k for k in params if not k.startswith("W")]
    w = np.concatenate([np.ravel(params[k]) for k in weights]) if weights else np.zeros(0)
    b = np.concatenate([np.ravel(params[k]) for k in biases]) if biases else np.zeros(0)
    grads = {k: 2.0 * (kernel_l2 if k in weights else bias_l2) * np.array(v, dtype=float) for k, v in params.items()}
    return kernel_l2 * float(w @ w) + bias_l2 * float(b @ b), grads


def orthogonal_penalty(W, lam):
    # entry by entry over the Gram matrix of the rows; the gradient as 4 lam (W W^T W - W)
    W = np.array(W, dtype=float)
    out = W.shape[0]
    penalty = 0.0
    for i in range(out):
        for j in range(out):
            penalty += (W[i] @ W[j] - (1.0 if i == j else 0.0)) ** 2
    return lam * penalty, 4 * lam * (W @ (W.T @ W) - W)
