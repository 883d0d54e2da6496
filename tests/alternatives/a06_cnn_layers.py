"""Correct implementations of 06_cnn_layers written differently from the worked solution."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv_output_size(H, size, P=0, S=1):
    # count the window positions directly: start i*S is valid while the window fits in the padded input
    positions = 0
    while positions * S + size <= H + 2 * P:
        positions += 1
    return positions


def conv_params(C_in, C_out, size, bias=True):
    total = 0
    for _ in range(C_out):                 # one filter at a time: size x size x C_in weights and maybe a bias
        total += size * size * C_in + int(bool(bias))
    return total


def dense_params(n_in, n_out, bias=True):
    return (n_in + (1 if bias else 0)) * n_out


def _rows_of(layers, shape):
    """Walk (kind, function of shape -> shape, parameters) triples; return describe_model's rows."""
    rows = []
    for kind, step, params in layers:
        shape = step(shape)
        rows.append((kind, tuple(shape), params))
    return rows


def cats_vs_dogs_description(height=180, width=180):
    # by arithmetic alone: valid 3x3 convolutions shrink by 2, 2x2 pools halve (floor)
    layers = []
    channels = 3
    for stage, filters in enumerate((32, 64, 128, 256, 256)):
        params = 9 * channels * filters + filters
        layers.append(("Conv2d", lambda s, f=filters: (f, s[1] - 2, s[2] - 2), params))
        layers.append(("ReLU", lambda s: s, 0))
        if stage < 4:
            layers.append(("MaxPool2d", lambda s: (s[0], s[1] // 2, s[2] // 2), 0))
        channels = filters
    rows = _rows_of(layers, (3, height, width))
    flat = int(np.prod(rows[-1][1]))
    return rows + [("Flatten", (flat,), 0), ("Linear", (1,), flat + 1), ("Sigmoid", (1,), 0)]


def template_cnn_description(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True, fc_sizes=()):
    # build the model in PyTorch from an OrderedDict and describe it with forward hooks
    from collections import OrderedDict

    import torch
    import torch.nn as nn

    named = OrderedDict()
    c, h, w = input_shape
    for m, channels in enumerate(conv_channels):
        for n in range(convs_per_stage):
            named[f"conv{m}_{n}"] = nn.Conv2d(c, channels, (3, 3), stride=1, padding=(1, 1))
            named[f"relu{m}_{n}"] = nn.ReLU()
            c = channels
        if pool:
            named[f"pool{m}"] = nn.MaxPool2d((2, 2))
            h, w = h // 2, w // 2
    named["flatten"] = nn.Flatten()
    width_in = c * h * w
    for k, size in enumerate(fc_sizes):
        named[f"fc{k}"] = nn.Linear(width_in, size)
        named[f"fc_relu{k}"] = nn.ReLU()
        width_in = size
    named["scores"] = nn.Linear(width_in, n_classes)
    named["softmax"] = nn.Softmax(dim=-1)
    model = nn.Sequential(named)
    rows = []
    for layer in model:
        layer.register_forward_hook(lambda module, inputs, output: rows.append(
            (type(module).__name__, tuple(output.shape[1:]), sum(p.numel() for p in module.parameters()))))
    with torch.no_grad():
        model(torch.zeros(2, *input_shape))
    return rows


def conv2d_forward(x, w, b, stride=1, pad=0):
    # im2col with a sliding-window view, then one tensordot for all positions
    xp = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], mode="constant")
    f = w.shape[2]
    windows = sliding_window_view(xp, (f, f), axis=(2, 3))[:, :, ::stride, ::stride]   # (N, C, Ho, Wo, F, F)
    out = np.einsum("nchwuv,kcuv->nkhw", windows, w)
    return out + b.reshape(1, -1, 1, 1)


def conv1x1(x, w, b):
    return np.tensordot(w, x, axes=([1], [1])).transpose(1, 0, 2, 3) + b[None, :, None, None]


def max_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(4, 5)), (x, size, stride)


def max_pool_backward(dout, cache):
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    flat_best = windows.reshape(N, C, Ho, Wo, size * size).argmax(axis=-1)
    rows = np.arange(Ho)[None, None, :, None] * stride + flat_best // size
    cols = np.arange(Wo)[None, None, None, :] * stride + flat_best % size
    n = np.broadcast_to(np.arange(N)[:, None, None, None], rows.shape)
    c = np.broadcast_to(np.arange(C)[None, :, None, None], rows.shape)
    dx = np.zeros_like(x)
    np.add.at(dx, (n, c, rows, cols), dout)   # add.at: overlapping windows accumulate
    return dx


def avg_pool_forward(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.sum(axis=(4, 5)) / (size * size), (x, size, stride)


def avg_pool_backward(dout, cache):
    # loop over the offsets (u, v) inside the window instead of over the windows
    x, size, stride = cache
    Ho, Wo = dout.shape[2], dout.shape[3]
    dx = np.zeros_like(x)
    share = dout / (size * size)
    for u in range(size):
        for v in range(size):
            dx[:, :, u:u + stride * (Ho - 1) + 1:stride, v:v + stride * (Wo - 1) + 1:stride] += share
    return dx


def maxout_forward(x, W, b):
    pieces = [x @ W[j].T + b[j] for j in range(W.shape[0])]
    out = pieces[0]
    for piece in pieces[1:]:
        out = np.maximum(out, piece)
    return out, (x, W, b)


def maxout_backward(dout, cache):
    x, W, b = cache
    k = W.shape[0]
    pieces = np.stack([x @ W[j].T + b[j] for j in range(k)])          # (k, N, M)
    winner = np.argmax(pieces, axis=0)                                # first winner on ties
    dx = np.zeros_like(x)
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    for j in range(k):
        dz = np.where(winner == j, dout, 0.0)
        dx += dz @ W[j]
        dW[j] = dz.T @ x
        db[j] = dz.sum(axis=0)
    return dx, dW, db


def dense_softmax(x, W, b):
    scores = np.einsum("nchw,kchw->nk", x, W.reshape((W.shape[0],) + x.shape[1:])) + b
    log_norm = scores.max(axis=1, keepdims=True)
    log_norm = log_norm + np.log(np.exp(scores - log_norm).sum(axis=1, keepdims=True))
    return np.exp(scores - log_norm)


def nchw_to_nhwc(x):
    return np.moveaxis(x, 1, -1)


def nhwc_to_nchw(x):
    return np.einsum("nhwc->nchw", x)


def video_to_frames(x):
    return np.concatenate([video for video in x], axis=0)


def frames_to_video(frames, T):
    return np.stack([frames[start:start + T] for start in range(0, len(frames), T)])


def conv2d_backward(dout, cache):
    # loops over the filter offsets (u, v) instead of the output positions: each offset sees a strided view of
    # the padded input, one einsum per offset for dw and one scatter-add for dx
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    size = w.shape[2]
    H_out, W_out = dout.shape[2], dout.shape[3]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for u in range(size):
        for v in range(size):
            rows = slice(u, u + stride * (H_out - 1) + 1, stride)
            cols = slice(v, v + stride * (W_out - 1) + 1, stride)
            dw[:, :, u, v] = np.einsum("nkij,ncij->kc", dout, x_pad[:, :, rows, cols])
            dx_pad[:, :, rows, cols] += np.einsum("nkij,kc->ncij", dout, w[:, :, u, v])
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, np.einsum("nkij->k", dout)
