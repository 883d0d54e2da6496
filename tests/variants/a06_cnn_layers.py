"""Variants of the catalogued mistakes of 06_cnn_layers."""

import numpy as np

from tests.variants import solution, variant_of

A = "06_cnn_layers"

import math

max_pool_forward = solution(A, "max_pool_forward")
avg_pool_forward = solution(A, "avg_pool_forward")
conv2d_forward = solution(A, "conv2d_forward")
maxout_forward = solution(A, "maxout_forward")
maxout_backward = solution(A, "maxout_backward")
dense_softmax = solution(A, "dense_softmax")


@variant_of("conv_output_size_true_division")
def conv_output_size_float(H, size, P=0, S=1):
    return float(H - size + 2 * P) / float(S) + 1.0


@variant_of("conv_output_size_ceil")
def conv_output_size_ceil_by_negation(H, size, P=0, S=1):
    return -((size - H - 2 * P) // S) + 1


@variant_of("conv_output_size_no_plus_one")
def conv_output_size_no_plus_one_int(H, size, P=0, S=1):
    return int((H - size + 2 * P) / S)


@variant_of("conv_output_size_one_side")
def conv_output_size_one_side_floor(H, size, P=0, S=1):
    return math.floor((H + P - size) / S) + 1


@variant_of("conv_params_no_bias")
def conv_params_no_bias_product(C_in, C_out, size, bias=True):
    return int(np.prod([size, size, C_in, C_out]))


@variant_of("conv_params_no_input_channels")
def conv_params_no_input_channels_per_filter(C_in, C_out, size, bias=True):
    per_filter = size * size + (1 if bias else 0)
    return per_filter * C_out


@variant_of("dense_params_no_bias")
def dense_params_no_bias_matrix(n_in, n_out, bias=True):
    return int(np.zeros((n_out, n_in)).size)


def _pool(x, size, stride, reduce, step=None, out_size=None):
    x = np.asarray(x, float)
    n, c, h, w = x.shape
    step = stride if step is None else step
    ho, wo = out_size or ((h - size) // stride + 1, (w - size) // stride + 1)
    out = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(x[:, :, i * step:i * step + size, j * step:j * step + size])
    return out


@variant_of("max_pool_forward_mean")
def max_pool_forward_average_with_dict_cache(x, size=2, stride=2):
    return _pool(x, size, stride, lambda win: win.sum(axis=(2, 3)) / (size * size)), {"x": np.asarray(x, float)}


@variant_of("max_pool_forward_step_one")
def max_pool_forward_step_one_other_cache(x, size=2, stride=2):
    return _pool(x, size, stride, lambda win: win.max(axis=(2, 3)), step=1), (np.asarray(x, float), size, 1)


@variant_of("max_pool_forward_size_over_stride")
def max_pool_forward_size_over_stride_ceil(x, size=2, stride=2):
    h, w = np.shape(x)[2:]
    return _pool(x, size, stride, lambda win: win.max(axis=(2, 3)), out_size=(h // stride, w // stride)), None


@variant_of("avg_pool_forward_sum")
def avg_pool_forward_sum_from_mean(x, size=2, stride=2):
    out, cache = avg_pool_forward(x, size, stride)
    return np.asarray(out) * size ** 2, cache


@variant_of("avg_pool_forward_over_size")
def avg_pool_forward_over_size_loop(x, size=2, stride=2):
    return _pool(x, size, stride, lambda win: win.sum(axis=(2, 3)) / size), {"size": size}


@variant_of("avg_pool_forward_step_one")
def avg_pool_forward_step_one_mean(x, size=2, stride=2):
    return _pool(x, size, stride, lambda win: win.mean(axis=(2, 3)), step=1), (np.asarray(x, float), size)


@variant_of("conv2d_forward_no_bias")
def conv2d_forward_no_bias_subtracted(x, w, b, stride=1, pad=0):
    out = conv2d_forward(x, w, b, stride, pad)
    out = out[0] if isinstance(out, tuple) else out
    return np.asarray(out) - np.asarray(b, float).reshape(1, -1, 1, 1)


@variant_of("conv2d_forward_flipped")
def conv2d_forward_flipped_by_rot(x, w, b, stride=1, pad=0):
    return conv2d_forward(x, np.rot90(np.asarray(w, float), 2, axes=(2, 3)).copy(), b, stride, pad)


@variant_of("conv1x1_no_bias")
def conv1x1_no_bias_tensordot(x, w, b):
    return np.tensordot(np.asarray(w, float), np.asarray(x, float), axes=([1], [1])).transpose(1, 0, 2, 3)


@variant_of("conv1x1_channels_last")
def conv1x1_channels_last_einsum(x, w, b):
    return np.einsum("nchw,kc->nhwk", np.asarray(x, float), np.asarray(w, float)) + np.asarray(b, float)


@variant_of("maxout_forward_no_bias")
def maxout_forward_no_bias_loop(x, W, b):
    x, W = np.asarray(x, float), np.asarray(W, float)
    z = np.stack([x @ W[j].T for j in range(W.shape[0])], axis=1)
    return z.max(axis=1), {"x": x, "W": W, "b": b}


@variant_of("maxout_forward_relu")
def maxout_forward_relu_clip(x, W, b):
    out, cache = maxout_forward(x, W, b)
    return np.clip(out, 0, None), cache


@variant_of("maxout_backward_mean")
def maxout_backward_mean_after(dout, cache):
    dx, dW, db = maxout_backward(dout, cache)
    n = np.shape(dout)[0]
    return dx, np.asarray(dW) / n, np.asarray(db) / n


@variant_of("dense_softmax_no_bias")
def dense_softmax_no_bias_zeros(x, W, b):
    return dense_softmax(x, W, np.zeros_like(np.asarray(b, float)))


@variant_of("dense_softmax_no_shift")
def dense_softmax_no_shift_loop(x, W, b):
    x = np.asarray(x, float).reshape(np.shape(x)[0], -1)
    with np.errstate(all="ignore"):
        scores = x @ np.asarray(W, float).T + b
        e = np.exp(scores)
        return e / e.sum(axis=1)[:, None]


@variant_of("nchw_to_nhwc_reshape")
def nchw_to_nhwc_reshape_tuple(x):
    n, c, h, w = np.shape(x)
    return np.reshape(np.asarray(x), (n, h, w, c))


@variant_of("nchw_to_nhwc_swapped")
def nchw_to_nhwc_swapaxes(x):
    return np.swapaxes(np.asarray(x), 1, 3).copy()


# --- written after the diagnosis changes (measured against the earlier diagnosis too) ---------------------------

conv1x1 = solution(A, "conv1x1")
max_pool_backward = solution(A, "max_pool_backward")
avg_pool_backward = solution(A, "avg_pool_backward")
nchw_to_nhwc = solution(A, "nchw_to_nhwc")
video_to_frames = solution(A, "video_to_frames")


@variant_of("conv_params_bias_per_input")
def conv_params_bias_per_input_sum(C_in, C_out, size, bias=True):
    return C_out * C_in * size ** 2 + C_in * int(bias)


@variant_of("dense_params_bias_per_input")
def dense_params_bias_per_input_sum(n_in, n_out, bias=True):
    return n_in * n_out + (n_in if bias else 0)


@variant_of("conv2d_forward_step_one")
def conv2d_forward_step_one_subsampled_wrong(x, w, b, stride=1, pad=0):
    out = conv2d_forward(x, w, b, 1, pad)
    out = np.asarray(out[0] if isinstance(out, tuple) else out)
    full = out
    h = (np.shape(x)[2] + 2 * pad - np.shape(w)[2]) // stride + 1
    v = (np.shape(x)[3] + 2 * pad - np.shape(w)[3]) // stride + 1
    return full[:, :, :h, :v].copy()


@variant_of("conv1x1_untransposed")
def conv1x1_untransposed_einsum(x, w, b):
    return np.einsum("nchw,ck->nkhw", np.asarray(x, float), np.asarray(w, float)) + np.asarray(b).reshape(1, -1, 1, 1)


@variant_of("conv1x1_plain_reshape")
def conv1x1_plain_reshape_rows(x, w, b):
    x = np.asarray(x, float)
    n, c, h, v = x.shape
    rows = np.reshape(x, (n * h * v, c))
    return np.transpose((rows @ np.asarray(w, float).T + b).reshape(n, h, v, -1), (0, 3, 1, 2))


@variant_of("max_pool_forward_no_axis")
def max_pool_forward_no_axis_np_max(x, size=2, stride=2):
    return _pool(x, size, stride, lambda win: np.max(win)), (np.asarray(x, float), size, stride)


@variant_of("avg_pool_forward_size_over_stride")
def avg_pool_forward_size_over_stride_loop(x, size=2, stride=2):
    h, w = np.shape(x)[2:]
    return _pool(x, size, stride, lambda win: win.mean(axis=(2, 3)), out_size=(h // stride, w // stride)), None


@variant_of("avg_pool_backward_copy")
def avg_pool_backward_copy_after(dout, cache):
    dx = avg_pool_backward(dout, cache)
    size = cache[1] if isinstance(cache, (tuple, list)) else 2
    return np.asarray(dx) * size * size


@variant_of("avg_pool_backward_over_size")
def avg_pool_backward_over_size_after(dout, cache):
    dx = avg_pool_backward(dout, cache)
    size = cache[1] if isinstance(cache, (tuple, list)) else 2
    return np.asarray(dx) * size


@variant_of("maxout_forward_wrong_axis")
def maxout_forward_wrong_axis_loop(x, W, b):
    x, W, b = np.asarray(x, float), np.asarray(W, float), np.asarray(b, float)
    z = np.stack([x @ W[j].T + b[j] for j in range(W.shape[0])], axis=1)
    return np.max(z, axis=-1), {"x": x}


@variant_of("dense_softmax_wrong_axis")
def dense_softmax_wrong_axis_loop(x, W, b):
    x = np.asarray(x, float).reshape(np.shape(x)[0], -1)
    scores = x @ np.asarray(W, float).T + b
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@variant_of("nhwc_to_nchw_same_permutation")
def nhwc_to_nchw_same_as_forward(x):
    return nchw_to_nhwc(x)


@variant_of("video_to_frames_into_channels")
def video_to_frames_into_channels_reshape(x):
    x = np.asarray(x)
    n, t, c, h, w = x.shape
    return x.reshape(n, t * c, h, w)


frames_to_video = solution(A, "frames_to_video")
nhwc_to_nchw = solution(A, "nhwc_to_nchw")
template_cnn_description = solution(A, "template_cnn_description")
cats_vs_dogs_description = solution(A, "cats_vs_dogs_description")


@variant_of("video_to_frames_time_major")
def video_to_frames_time_major_swapaxes(x):
    x = np.asarray(x)
    return np.swapaxes(x, 0, 1).reshape(-1, *x.shape[2:])


@variant_of("frames_to_video_time_major")
def frames_to_video_time_major_swapaxes(frames, T):
    frames = np.asarray(frames)
    return np.swapaxes(frames.reshape(T, -1, *frames.shape[1:]), 0, 1).copy()


@variant_of("nhwc_to_nchw_reshape")
def nhwc_to_nchw_reshape_tuple(x):
    n, h, w, c = np.shape(x)
    return np.asarray(x).reshape((n, c, h, w))


@variant_of("max_pool_backward_split")
def max_pool_backward_as_average(dout, cache):
    return avg_pool_backward(dout, cache)


@variant_of("template_cnn_no_softmax")
def template_cnn_no_softmax_drop_last(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True,
                                      fc_sizes=()):
    return list(template_cnn_description(input_shape, n_classes, conv_channels, convs_per_stage, pool, fc_sizes))[:-1]


@variant_of("cats_vs_dogs_no_sigmoid")
def cats_vs_dogs_no_sigmoid_drop_last(height=180, width=180):
    return list(cats_vs_dogs_description(height, width))[:-1]


@variant_of("maxout_backward_transposed_dw")
def maxout_backward_transposed_dw_swapaxes(dout, cache):
    dx, dW, db = maxout_backward(dout, cache)
    return dx, np.swapaxes(np.asarray(dW), 1, 2).copy(), db


@variant_of("maxout_backward_db_over_pieces")
def maxout_backward_db_broadcast(dout, cache):
    dx, dW, db = maxout_backward(dout, cache)
    return dx, dW, np.broadcast_to(np.asarray(dout, float).sum(axis=0), np.shape(db)).copy()


@variant_of("maxout_backward_all_pieces")
def maxout_backward_all_pieces_broadcast(dout, cache):
    x, W = np.asarray(cache[0], float), np.asarray(cache[1], float)
    dout = np.asarray(dout, float)
    dz = np.broadcast_to(dout[:, None, :], (dout.shape[0], W.shape[0], dout.shape[1]))
    return np.einsum("nkm,kmd->nd", dz, W), np.einsum("nkm,nd->kmd", dz, x), dz.sum(axis=0)


@variant_of("max_pool_backward_to_all")
def max_pool_backward_to_all_from_average(dout, cache):
    size = cache[1]
    return np.asarray(avg_pool_backward(dout, cache)) * size * size


@variant_of("dense_softmax_channels_last")
def dense_softmax_channels_last_transpose(x, W, b):
    x = np.asarray(x, float)
    return dense_softmax(np.transpose(x, (0, 2, 3, 1)).reshape(x.shape[0], -1), W, b)


@variant_of("template_cnn_relu_before_softmax")
def template_cnn_relu_inserted(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True, fc_sizes=()):
    rows = list(template_cnn_description(input_shape, n_classes, conv_channels, convs_per_stage, pool, fc_sizes))
    return rows[:-1] + [("ReLU", rows[-1][1], 0), rows[-1]]


@variant_of("cats_vs_dogs_no_relu")
def cats_vs_dogs_relus_removed(height=180, width=180):
    return [row for row in cats_vs_dogs_description(height, width) if row[0] != "ReLU"]


@variant_of("conv2d_forward_one_side_padding")
def conv2d_forward_padding_after(x, w, b, stride=1, pad=0):
    x = np.asarray(x, float)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))
    return conv2d_forward(padded, w, b, stride, 0)


conv2d_backward = solution(A, "conv2d_backward")


def _conv_backward_by_offsets(dout, cache, flip=False, stride_used=None, crop_at_corner=False):
    x, w, b, stride, pad = cache
    x, w, dout = (np.asarray(a, float) for a in (x, w, dout))
    if flip:
        w = w[:, :, ::-1, ::-1]
    step = stride if stride_used is None else stride_used
    size, (H_out, W_out) = w.shape[2], dout.shape[2:]
    H, W = x.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * step:i * step + size, j * step:j * step + size]
            if window.shape[2:] != (size, size):
                continue
            dw += np.einsum("nk,ncuv->kcuv", dout[:, :, i, j], window)
            dx_pad[:, :, i * step:i * step + size, j * step:j * step + size] += np.einsum("nk,kcuv->ncuv",
                                                                                          dout[:, :, i, j], w)
    dx = dx_pad[:, :, :H, :W] if crop_at_corner else dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


@variant_of("conv2d_backward_flipped")
def conv2d_backward_rot180(dout, cache):
    return _conv_backward_by_offsets(dout, cache, flip=True)


@variant_of("conv2d_backward_corner_crop")
def conv2d_backward_cropped_from_zero(dout, cache):
    return _conv_backward_by_offsets(dout, cache, crop_at_corner=True)


@variant_of("conv2d_backward_dw_mean")
def conv2d_backward_dw_over_batch(dout, cache):
    dx, dw, db = conv2d_backward(dout, cache)
    return dx, dw / np.shape(dout)[0], db


@variant_of("conv2d_backward_db_mean")
def conv2d_backward_db_averaged(dout, cache):
    dx, dw, _ = conv2d_backward(dout, cache)
    return dx, dw, np.asarray(dout, float).mean(axis=(0, 2, 3))
