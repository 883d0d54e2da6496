"""Checks of 06_cnn_layers: sizes and parameter counts, the lecture's cats-vs-dogs model, convolution, pooling and
maxout by hand, the flatten + dense + softmax head, tensor layouts, and the CNN template as a PyTorch builder.

Layers by hand follow the course's layer API: `forward(...) -> (out, cache)` with a documented cache, and
`backward(dout, cache) -> gradients`; the backward checks call the student's own forward for the cache. Models built
in PyTorch cross the check boundary as data: a list of (layer kind, output shape, number of parameters) rows.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checks.framework import Mistake, cached_reference, check, describe_inputs, expect_close, expect_true
from autograder.checks.handle import StudentError

TIGHT = dict(atol=1e-10, rtol=1e-8)


def _t(a) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _not_an_int(what: str, value, inputs: str) -> str:
    """The message for a count or size that is not an int (numpy integers arrive as int and are accepted)."""
    hint = "; use // for whole-number division, or int(...)" if isinstance(value, float) else ""
    return f"{what} should return an int, got {_type_name(value)}{hint} for {inputs}"


def _type_name(value) -> str:
    return "None (did you forget to return?)" if value is None else f"a {type(value).__name__}"


def _expect_pair(what: str, result, inputs: str):
    expect_true(isinstance(result, (tuple, list)) and len(result) == 2,
                f"{what} should return a pair (out, cache), got {type(result).__name__}"
                f"{' of ' + str(len(result)) + ' items' if isinstance(result, (tuple, list)) else ''} for {inputs}")


def _expect_triple(what: str, result, inputs: str):
    expect_true(isinstance(result, (tuple, list)) and len(result) == 3,
                f"{what} should return three gradients (dx, dw, db), got {type(result).__name__}"
                f"{' of ' + str(len(result)) + ' items' if isinstance(result, (tuple, list)) else ''} for {inputs}")


# --- conv_output_size ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)  # the same sizes come back in every submission
def reference_output_size(n: int, f: int, p: int, s: int) -> int:
    """Spatial output size of nn.Conv2d(kernel_size=f, padding=p, stride=s) on an n x n input."""
    conv = nn.Conv2d(1, 1, f, stride=s, padding=p, bias=False)
    with torch.no_grad():
        return int(conv(torch.zeros(1, 1, n, n)).shape[-1])


def conv_output_size_ceil(H, size, P=0, S=1):
    return math.ceil((H - size + 2 * P) / S) + 1


def conv_output_size_true_division(H, size, P=0, S=1):
    return (H - size + 2 * P) / S + 1


def conv_output_size_one_side(H, size, P=0, S=1):
    return (H - size + P) // S + 1


def conv_output_size_no_plus_one(H, size, P=0, S=1):
    return (H - size + 2 * P) // S


CONV_OUTPUT_SIZE_MISTAKES = [
    Mistake("true division /: the result is not rounded down to a whole number of positions (use //)",
            conv_output_size_true_division),
    Mistake("the division is rounded up (ceil); a window that does not fit entirely is dropped, so round down "
            "(floor, //)", conv_output_size_ceil),
    Mistake("the padding is counted once (H - F + P); it is added on both sides: H - F + 2P",
            conv_output_size_one_side),
    Mistake("the + 1 is missing: (H - F + 2P) / S counts the steps, not the positions of the window",
            conv_output_size_no_plus_one),
]


def _output_size_cases(rng):
    yield from [(7, 3, 0, 1), (32, 5, 2, 1), (7, 3, 0, 2), (7, 3, 0, 3), (227, 11, 0, 4), (180, 3, 0, 1),
                (178, 2, 0, 2), (87, 2, 0, 2), (5, 3, 1, 2), (8, 5, 2, 3), (4, 1, 0, 1), (3, 5, 1, 1)]
    for _ in range(12):
        p = int(rng.integers(0, 4))
        f = int(rng.integers(1, 8))
        n = int(rng.integers(max(1, f - 2 * p), 50))
        yield n, f, p, int(rng.integers(1, 5))


@check("conv_output_size", mistakes=CONV_OUTPUT_SIZE_MISTAKES, by_hand=True)
def check_conv_output_size(conv_output_size, rng):
    """conv_output_size(H, size, P, S) is the output size of nn.Conv2d, an int, for many sizes (floor included)."""
    for n, f, p, s in _output_size_cases(rng):
        got = conv_output_size(n, f, p, s)
        inputs = describe_inputs(H=n, size=f, P=p, S=s)
        expect_true(_is_int(got), _not_an_int("conv_output_size", got, inputs))
        expect_close("conv_output_size(H, size, P, S)", got, reference_output_size(n, f, p, s), inputs=inputs,
                     atol=0, rtol=0)


# --- parameter counts ------------------------------------------------------------------------------------------


def reference_param_count(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def conv_params_no_bias(C_in, C_out, size, bias=True):
    return size * size * C_in * C_out


def conv_params_no_input_channels(C_in, C_out, size, bias=True):
    return size * size * C_out + (C_out if bias else 0)


def conv_params_bias_per_input(C_in, C_out, size, bias=True):
    return size * size * C_in * C_out + (C_in if bias else 0)


def dense_params_no_bias(n_in, n_out, bias=True):
    return n_in * n_out


def dense_params_bias_per_input(n_in, n_out, bias=True):
    return n_in * n_out + (n_in if bias else 0)


PARAM_COUNT_MISTAKES = [
    Mistake("conv_params forgets the biases: each of the C_out filters has one bias", conv_params_no_bias,
            replaces="conv_params"),
    Mistake("conv_params counts F*F weights per filter: a filter spans all C_in input channels (F*F*C_in weights)",
            conv_params_no_input_channels, replaces="conv_params"),
    Mistake("conv_params counts one bias per input channel; there is one bias per filter, i.e. per output channel",
            conv_params_bias_per_input, replaces="conv_params"),
    Mistake("dense_params forgets the biases: each of the n_out units has one bias", dense_params_no_bias,
            replaces="dense_params"),
    Mistake("dense_params counts one bias per input; there is one bias per output unit",
            dense_params_bias_per_input, replaces="dense_params"),
]


@check("param_counts", functions=("conv_params", "dense_params"), mistakes=PARAM_COUNT_MISTAKES, by_hand=True)
def check_param_counts(conv_params, dense_params, rng):
    """conv_params and dense_params equal sum(p.numel()) of nn.Conv2d and nn.Linear, with and without bias."""
    conv_cases = [(3, 32, 3, True), (32, 64, 3, True), (256, 256, 3, True), (1, 16, 5, True), (16, 8, 1, True),
                  (64, 128, 3, False), (3, 96, 11, True)]
    conv_cases += [(int(rng.integers(1, 65)), int(rng.integers(1, 65)), int(rng.integers(1, 8)), bool(rng.random() < 0.7))
                   for _ in range(4)]
    for c_in, c_out, f, bias in conv_cases:
        got = conv_params(c_in, c_out, f, bias)
        inputs = describe_inputs(C_in=c_in, C_out=c_out, size=f, bias=bias)
        expect_true(_is_int(got), _not_an_int("conv_params", got, inputs))
        expected = reference_param_count(nn.Conv2d(c_in, c_out, f, bias=bias, device="meta"))
        expect_close("conv_params(C_in, C_out, size, bias)", got, expected, inputs=inputs, atol=0, rtol=0)
    dense_cases = [(12544, 1, True), (784, 30, True), (30, 10, True), (4096, 4096, True), (100, 10, False)]
    dense_cases += [(int(rng.integers(1, 500)), int(rng.integers(1, 100)), bool(rng.random() < 0.7)) for _ in range(4)]
    for n_in, n_out, bias in dense_cases:
        got = dense_params(n_in, n_out, bias)
        inputs = describe_inputs(n_in=n_in, n_out=n_out, bias=bias)
        expect_true(_is_int(got), _not_an_int("dense_params", got, inputs))
        expected = reference_param_count(nn.Linear(n_in, n_out, bias=bias, device="meta"))
        expect_close("dense_params(n_in, n_out, bias)", got, expected, inputs=inputs, atol=0, rtol=0)


# --- model descriptions (cats vs dogs, the template) -------------------------------------------------------------


def reference_description(model: nn.Sequential, input_shape) -> list:
    """[(kind, output shape without the batch axis, number of parameters)] of each layer, for one input."""
    rows = []
    x = torch.zeros((1, *input_shape))
    model = model.eval()
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            rows.append((type(layer).__name__, tuple(int(d) for d in x.shape[1:]), reference_param_count(layer)))
    return rows


@functools.lru_cache(maxsize=None)
def reference_rows(build, arguments: tuple, input_shape: tuple) -> tuple:
    """reference_description of the model build(*arguments) makes. The rows depend on the settings alone (not on the
    random weights), and the same settings come back in every submission: computed once per grader process."""
    return tuple(reference_description(build(*arguments), input_shape))


def _expect_description(what: str, got, expected, inputs: str):
    """Compare a student's model description with the reference's, row by row, without showing the reference."""
    expect_true(isinstance(got, (list, tuple)),
                f"{what} should return a list of (kind, output shape, number of parameters) rows, "
                f"got {type(got).__name__} for {inputs}")
    for i, row in enumerate(got):
        expect_true(isinstance(row, (list, tuple)) and len(row) == 3 and isinstance(row[0], str)
                    and isinstance(row[1], (list, tuple)) and all(_is_int(d) for d in row[1]) and _is_int(row[2]),
                    f"{what}: row {i} is not a (kind, output shape, number of parameters) triple of a string, "
                    f"a tuple of ints and an int")
    kinds = [row[0] for row in got]
    for i, (row, want) in enumerate(zip(got, expected)):
        expect_true(row[0] == want[0], f"{what} for {inputs}: layer {i} is {row[0]}, which is not the layer the "
                                       f"architecture has there (layers so far: {' -> '.join(kinds[:i + 1])})")
    expect_true(len(got) >= len(expected), f"{what} for {inputs}: the model stops after {len(got)} layers "
                                           f"({' -> '.join(kinds)}); layers are missing at the end")
    expect_true(len(got) <= len(expected), f"{what} for {inputs}: the model has {len(got) - len(expected)} "
                                           f"layer(s) too many at the end ({' -> '.join(kinds)})")
    for i, (row, want) in enumerate(zip(got, expected)):
        expect_true(tuple(row[1]) == tuple(want[1]),
                    f"{what} for {inputs}: the output shape {tuple(row[1])} of layer {i} ({row[0]}) is wrong")
    for i, (row, want) in enumerate(zip(got, expected)):
        expect_true(row[2] == want[2],
                    f"{what} for {inputs}: layer {i} ({row[0]}) has {row[2]} parameters, which is wrong")
    expect_close(f"{what}: the total number of parameters", sum(row[2] for row in got),
                 sum(row[2] for row in expected), inputs=inputs, atol=0, rtol=0)


_SIZE_MISMATCH_SIGNS = ("cannot be multiplied", "size mismatch", "shape mismatch", "expected input", "mat1 and mat2")
_TOO_SMALL_SIGNS = ("kernel size can't be greater", "output size is too small", "input size per channel")


def _build(function, what: str, inputs: str, *arguments):
    """Call a student's model builder; when PyTorch (or anything else) fails inside it, say with which arguments the
    check called it and what usually causes the error, not only PyTorch's words."""
    try:
        return function(*arguments)
    except StudentError as error:
        text = str(error)
        lowered = text.lower()
        if any(sign in lowered for sign in _SIZE_MISMATCH_SIGNS):
            cause = ("a layer's size is usually computed for one input size and written as a number (such as "
                     "nn.Linear(12544, 1) for 180 x 180 images): compute it from the arguments (the spatial size "
                     "after each convolution and pooling) so the model works for every input size")
        elif any(sign in lowered for sign in _TOO_SMALL_SIGNS):
            cause = ("the feature maps became smaller than a kernel or pooling window: check the padding and the "
                     "number of pooling layers for this input size")
        else:
            cause = "the model must build and run for any arguments, not only the notebook's"
        raise StudentError(f"{text}\n{what} was called with {inputs}; {cause}") from None


def reference_cats_vs_dogs(height: int, width: int) -> nn.Sequential:
    """The lecture's Keras model (Conv2D default padding 'valid', MaxPooling2D(2), Dense(1, sigmoid)) in PyTorch."""
    layers, c_in, h, w = [], 3, height, width
    for i, c_out in enumerate([32, 64, 128, 256, 256]):
        layers += [nn.Conv2d(c_in, c_out, 3), nn.ReLU()]
        h, w, c_in = h - 2, w - 2, c_out
        if i < 4:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c_in * h * w, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def cats_vs_dogs_same_padding(height=180, width=180):
    rows, c, h, w = [], 3, height, width
    for i, out in enumerate([32, 64, 128, 256, 256]):
        rows.append(("Conv2d", (out, h, w), 9 * c * out + out))
        c = out
        rows.append(("ReLU", (c, h, w), 0))
        if i < 4:
            h, w = h // 2, w // 2
            rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    return rows + [("Flatten", (n,), 0), ("Linear", (1,), n + 1), ("Sigmoid", (1,), 0)]


def cats_vs_dogs_no_relu(height=180, width=180):
    rows, c, h, w = [], 3, height, width
    for i, out in enumerate([32, 64, 128, 256, 256]):
        h, w = h - 2, w - 2
        rows.append(("Conv2d", (out, h, w), 9 * c * out + out))
        c = out
        if i < 4:
            h, w = h // 2, w // 2
            rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    return rows + [("Flatten", (n,), 0), ("Linear", (1,), n + 1), ("Sigmoid", (1,), 0)]


def cats_vs_dogs_no_sigmoid(height=180, width=180):
    rows, c, h, w = [], 3, height, width
    for i, out in enumerate([32, 64, 128, 256, 256]):
        h, w = h - 2, w - 2
        rows.append(("Conv2d", (out, h, w), 9 * c * out + out))
        c = out
        rows.append(("ReLU", (c, h, w), 0))
        if i < 4:
            h, w = h // 2, w // 2
            rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    return rows + [("Flatten", (n,), 0), ("Linear", (1,), n + 1)]


def cats_vs_dogs_fifth_pool(height=180, width=180):
    rows, c, h, w = [], 3, height, width
    for out in [32, 64, 128, 256, 256]:
        h, w = h - 2, w - 2
        rows.append(("Conv2d", (out, h, w), 9 * c * out + out))
        c = out
        rows.append(("ReLU", (c, h, w), 0))
        h, w = h // 2, w // 2
        rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    return rows + [("Flatten", (n,), 0), ("Linear", (1,), n + 1), ("Sigmoid", (1,), 0)]


CATS_VS_DOGS_MISTAKES = [
    Mistake("the convolutions are padded (padding=1, Keras' 'same'); Keras' Conv2D pads nothing by default "
            "('valid'), so each 3x3 convolution shrinks the map by 2 pixels", cats_vs_dogs_same_padding),
    Mistake("the ReLUs are missing: Keras' Conv2D(..., activation='relu') is an nn.Conv2d followed by an nn.ReLU "
            "in PyTorch", cats_vs_dogs_no_relu),
    Mistake("the Sigmoid is missing: Keras' Dense(1, activation='sigmoid') is an nn.Linear followed by an "
            "nn.Sigmoid", cats_vs_dogs_no_sigmoid),
    Mistake("there is a MaxPool2d after the fifth convolution too; the lecture's model flattens right after it",
            cats_vs_dogs_fifth_pool),
]


@check("cats_vs_dogs", functions=("cats_vs_dogs_description",), mistakes=CATS_VS_DOGS_MISTAKES)
def check_cats_vs_dogs(cats_vs_dogs_description, rng):
    """The lecture's model in PyTorch: layer kinds, output shapes and parameter counts (991,041 for 180x180x3)."""
    for height, width in [(180, 180), (100, 130)]:
        inputs = describe_inputs(height=height, width=width) + f" (input shape (3, {height}, {width}))"
        got = _build(cats_vs_dogs_description, "cats_vs_dogs_description(height, width)", inputs, height, width)
        expected = reference_rows(reference_cats_vs_dogs, (height, width), (3, height, width))
        _expect_description("cats_vs_dogs_description(height, width)", got, expected, inputs)


def reference_template(input_shape, n_classes, conv_channels, convs_per_stage, pool, fc_sizes) -> nn.Sequential:
    """INPUT -> [[CONV(3x3, padding 1) -> RELU]*n_conv -> POOL(2x2, stride 2)?]*n_stage -> [FC -> RELU]*n_fc -> FC -> Softmax."""
    c, h, w = input_shape
    layers = []
    for channels in conv_channels:
        for _ in range(convs_per_stage):
            layers += [nn.Conv2d(c, channels, 3, padding=1), nn.ReLU()]
            c = channels
        if pool:
            layers.append(nn.MaxPool2d(2, 2))
            h, w = h // 2, w // 2
    layers.append(nn.Flatten())
    n = c * h * w
    for size in fc_sizes:
        layers += [nn.Linear(n, size), nn.ReLU()]
        n = size
    layers += [nn.Linear(n, n_classes), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def template_cnn_no_padding(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True, fc_sizes=()):
    c, h, w = input_shape
    rows = []
    for channels in conv_channels:
        for _ in range(convs_per_stage):
            h, w = h - 2, w - 2
            rows.append(("Conv2d", (channels, h, w), 9 * c * channels + channels))
            rows.append(("ReLU", (channels, h, w), 0))
            c = channels
        if pool:
            h, w = h // 2, w // 2
            rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    rows.append(("Flatten", (n,), 0))
    for size in fc_sizes:
        rows += [("Linear", (size,), n * size + size), ("ReLU", (size,), 0)]
        n = size
    return rows + [("Linear", (n_classes,), n * n_classes + n_classes), ("Softmax", (n_classes,), 0)]


def template_cnn_pool_every_conv(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True, fc_sizes=()):
    c, h, w = input_shape
    rows = []
    for channels in conv_channels:
        for _ in range(convs_per_stage):
            rows.append(("Conv2d", (channels, h, w), 9 * c * channels + channels))
            rows.append(("ReLU", (channels, h, w), 0))
            c = channels
            if pool:
                h, w = h // 2, w // 2
                rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    rows.append(("Flatten", (n,), 0))
    for size in fc_sizes:
        rows += [("Linear", (size,), n * size + size), ("ReLU", (size,), 0)]
        n = size
    return rows + [("Linear", (n_classes,), n * n_classes + n_classes), ("Softmax", (n_classes,), 0)]


def template_cnn_relu_before_softmax(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True,
                                     fc_sizes=()):
    c, h, w = input_shape
    rows = []
    for channels in conv_channels:
        for _ in range(convs_per_stage):
            rows.append(("Conv2d", (channels, h, w), 9 * c * channels + channels))
            rows.append(("ReLU", (channels, h, w), 0))
            c = channels
        if pool:
            h, w = h // 2, w // 2
            rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    rows.append(("Flatten", (n,), 0))
    for size in list(fc_sizes) + [n_classes]:
        rows += [("Linear", (size,), n * size + size), ("ReLU", (size,), 0)]
        n = size
    return rows + [("Softmax", (n_classes,), 0)]


def template_cnn_no_softmax(input_shape, n_classes, conv_channels, convs_per_stage=1, pool=True, fc_sizes=()):
    c, h, w = input_shape
    rows = []
    for channels in conv_channels:
        for _ in range(convs_per_stage):
            rows.append(("Conv2d", (channels, h, w), 9 * c * channels + channels))
            rows.append(("ReLU", (channels, h, w), 0))
            c = channels
        if pool:
            h, w = h // 2, w // 2
            rows.append(("MaxPool2d", (c, h, w), 0))
    n = c * h * w
    rows.append(("Flatten", (n,), 0))
    for size in fc_sizes:
        rows += [("Linear", (size,), n * size + size), ("ReLU", (size,), 0)]
        n = size
    return rows + [("Linear", (n_classes,), n * n_classes + n_classes)]


TEMPLATE_MISTAKES = [
    Mistake("the 3x3 convolutions have no padding, so each one shrinks the map by 2 pixels; the template's CONV "
            "keeps H and W (padding=1) and only POOL halves them", template_cnn_no_padding),
    Mistake("a MaxPool2d follows every convolution; the template pools once per stage, after its n_conv CONV -> RELU "
            "pairs", template_cnn_pool_every_conv),
    Mistake("a ReLU follows the last nn.Linear too: the class scores go straight into the Softmax (a ReLU there "
            "would zero every negative score)", template_cnn_relu_before_softmax),
    Mistake("the model ends with the last nn.Linear: the Softmax that turns the scores into probabilities is "
            "missing", template_cnn_no_softmax),
]

TEMPLATE_CASES = [
    ((3, 32, 32), 10, [8, 16], 2, True, [32, 16]),
    ((1, 8, 8), 10, [8, 16], 1, True, [32]),
    ((3, 15, 20), 4, [6], 3, False, []),
    ((2, 9, 11), 5, [4, 8, 6], 1, True, [16]),
]


@check("template_cnn", functions=("template_cnn_description",), mistakes=TEMPLATE_MISTAKES)
def check_template_cnn(template_cnn_description, rng):
    """The CNN template as nn.Sequential: layer kinds, output shapes and parameter counts for several settings."""
    for input_shape, n_classes, channels, n_conv, pool, fc_sizes in TEMPLATE_CASES:
        inputs = (f"input_shape = {input_shape}, n_classes = {n_classes}, conv_channels = {channels}, "
                  f"convs_per_stage = {n_conv}, pool = {pool}, fc_sizes = {fc_sizes}")
        got = _build(template_cnn_description, "template_cnn_description(...)", inputs, input_shape, n_classes,
                     list(channels), n_conv, pool, list(fc_sizes))
        expected = reference_rows(reference_template, (input_shape, n_classes, tuple(channels), n_conv, pool,
                                                       tuple(fc_sizes)), input_shape)
        _expect_description("template_cnn_description(...)", got, expected, inputs)


# --- conv2d_forward ------------------------------------------------------------------------------------------


@cached_reference
def reference_conv2d(x, w, b, stride, pad) -> torch.Tensor:
    return F.conv2d(_t(x), _t(w), _t(b), stride=stride, padding=pad)


def conv2d_forward_one_side_padding(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    K, _, FH, FW = w.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, :H, :W] = x
    Ho, Wo = (H + 2 * pad - FH) // stride + 1, (W + 2 * pad - FW) // stride + 1
    out = np.zeros((N, K, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride:i * stride + FH, j * stride:j * stride + FW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def conv2d_forward_no_bias(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    K, _, FH, FW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (H + 2 * pad - FH) // stride + 1, (W + 2 * pad - FW) // stride + 1
    out = np.zeros((N, K, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride:i * stride + FH, j * stride:j * stride + FW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def conv2d_forward_flipped(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    K, _, FH, FW = w.shape
    w = w[:, :, ::-1, ::-1]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (H + 2 * pad - FH) // stride + 1, (W + 2 * pad - FW) // stride + 1
    out = np.zeros((N, K, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride:i * stride + FH, j * stride:j * stride + FW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def conv2d_forward_step_one(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    K, _, FH, FW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = (H + 2 * pad - FH) // stride + 1, (W + 2 * pad - FW) // stride + 1
    out = np.zeros((N, K, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i:i + FH, j:j + FW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


CONV2D_MISTAKES = [
    Mistake("the padding is applied on one side only: the input sits in the top-left corner of the padded array "
            "instead of P pixels in from every border", conv2d_forward_one_side_padding),
    Mistake("the bias b is not added", conv2d_forward_no_bias),
    Mistake("the filter is flipped (mathematical convolution); CNN layers, F.conv2d included, compute the "
            "cross-correlation sum w[u, v] x[i*S + u, j*S + v] without flipping", conv2d_forward_flipped),
    Mistake("the window moves by one pixel instead of S pixels: output (i, j) must start at row i*S, column j*S",
            conv2d_forward_step_one),
]


def _conv_cases(rng):
    # (x shape, w shape, stride, pad)
    for xs, ws, stride, pad in [((2, 3, 7, 7), (4, 3, 3, 3), 1, 1), ((1, 1, 5, 5), (1, 1, 3, 3), 2, 1),
                                ((2, 2, 6, 9), (3, 2, 3, 3), 2, 0), ((1, 3, 8, 8), (2, 3, 5, 5), 3, 2),
                                ((2, 3, 4, 4), (5, 3, 1, 1), 1, 0), ((1, 2, 3, 3), (2, 2, 5, 5), 1, 1),
                                ((2, 1, 6, 5), (2, 1, 3, 3), 1, 2)]:
        yield rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0]), stride, pad


@check("conv2d_forward", mistakes=CONV2D_MISTAKES, by_hand=True)
def check_conv2d_forward(conv2d_forward, rng):
    """conv2d_forward(x, w, b, stride, pad) equals F.conv2d for several shapes, strides, paddings and kernels."""
    for x, w, b, stride, pad in _conv_cases(rng):
        got = conv2d_forward(x, w, b, stride, pad)
        expect_close("conv2d_forward(x, w, b, stride, pad)", got, reference_conv2d(x, w, b, stride, pad),
                     inputs=describe_inputs(x=x, w=w, b=b, stride=stride, pad=pad), **TIGHT)


# --- conv1x1 ---------------------------------------------------------------------------------------------------


def conv1x1_plain_reshape(x, w, b):
    N, C, H, W = x.shape
    out = x.reshape(-1, C) @ w.T + b
    return out.reshape(N, H, W, -1).transpose(0, 3, 1, 2)


def conv1x1_untransposed(x, w, b):
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    return (rows @ w + b).reshape(N, H, W, -1).transpose(0, 3, 1, 2)


def conv1x1_no_bias(x, w, b):
    return np.einsum("nchw,kc->nkhw", x, w)


def conv1x1_channels_last(x, w, b):
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    return (rows @ w.T + b).reshape(N, H, W, -1)


CONV1X1_MISTAKES = [
    Mistake("x.reshape(-1, C) on an (N, C, H, W) array does not give one row per pixel: it cuts the memory into "
            "runs of C numbers along W. Move the channels last first (transpose(0, 2, 3, 1)), then reshape",
            conv1x1_plain_reshape),
    Mistake("the pixel rows are multiplied by w instead of w.T: out[k] = sum_c w[k, c] x[c]",
            conv1x1_untransposed),
    Mistake("the bias b is not added", conv1x1_no_bias),
    Mistake("the result is left channels-last (N, H, W, C_out); return it as (N, C_out, H, W)",
            conv1x1_channels_last),
]


@check("conv1x1", mistakes=CONV1X1_MISTAKES, by_hand=True)
def check_conv1x1(conv1x1, rng):
    """conv1x1(x, w, b) equals F.conv2d with a 1x1 kernel w[:, :, None, None]."""
    for xs, c_out in [((2, 4, 3, 5), 4), ((1, 3, 4, 4), 6), ((3, 5, 2, 3), 2), ((2, 1, 3, 3), 3), ((1, 6, 1, 1), 6)]:
        x, w, b = rng.normal(size=xs), rng.normal(size=(c_out, xs[1])), rng.normal(size=c_out)
        got = conv1x1(x, w, b)
        expect_close("conv1x1(x, w, b)", got, F.conv2d(_t(x), _t(w)[:, :, None, None], _t(b)),
                     inputs=describe_inputs(x=x, w=w, b=b), **TIGHT)


# --- pooling ---------------------------------------------------------------------------------------------------

LECTURE_POOL_EXAMPLE = np.array([[1., 3, 2, 9], [7, 4, 1, 5], [8, 5, 2, 3], [4, 2, 1, 4]])


def _pool_cases(rng):
    """(x, size, stride): the lecture's 4x4 example, overlapping and odd windows, ReLU outputs with ties."""
    yield LECTURE_POOL_EXAMPLE.reshape(1, 1, 4, 4), 2, 2
    yield rng.normal(size=(2, 3, 6, 6)), 2, 2
    yield rng.normal(size=(2, 2, 7, 9)), 3, 2
    yield rng.normal(size=(1, 3, 5, 5)), 2, 1
    yield rng.normal(size=(1, 2, 8, 8)), 3, 2
    yield rng.normal(size=(2, 1, 4, 6)), 4, 1
    yield np.maximum(0.0, rng.normal(size=(2, 2, 6, 6)) - 0.5), 2, 2       # after a ReLU: windows of zeros tie
    yield np.maximum(0.0, rng.normal(size=(1, 2, 7, 7)) - 0.5), 3, 2


@cached_reference
def reference_max_pool(x, size, stride) -> torch.Tensor:
    return F.max_pool2d(_t(x), size, stride)


@cached_reference
def reference_avg_pool(x, size, stride) -> torch.Tensor:
    return F.avg_pool2d(_t(x), size, stride)


@cached_reference
def reference_pool_grad(pool, x, size, stride, dout) -> torch.Tensor:
    xt = _t(x).requires_grad_(True)
    (grad,) = torch.autograd.grad((pool(xt, size, stride) * _t(dout)).sum(), xt)
    return grad


def max_pool_forward_step_one(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i:i + size, j:j + size].max(axis=(2, 3))
    return out, (x, size, stride)


def max_pool_forward_size_over_stride(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = H // stride, W // stride
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max(axis=(2, 3))
    return out, (x, size, stride)


def max_pool_forward_mean(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].mean(axis=(2, 3))
    return out, (x, size, stride)


def max_pool_forward_no_axis(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].max()
    return out, (x, size, stride)


MAX_POOL_FORWARD_MISTAKES = [
    Mistake("the window moves by one pixel instead of `stride` pixels: output (i, j) starts at row i*stride, "
            "column j*stride", max_pool_forward_step_one),
    Mistake("the output size is H // stride; it is (H - size) // stride + 1 (the formula of a convolution with "
            "F = size, P = 0, S = stride)", max_pool_forward_size_over_stride),
    Mistake("the windows are averaged (mean pooling) instead of taking their maximum", max_pool_forward_mean),
    Mistake(".max() without an axis takes the maximum over all images and channels too; reduce over the window's "
            "two spatial axes only (axis=(2, 3))", max_pool_forward_no_axis),
]


@check("max_pool_forward", mistakes=MAX_POOL_FORWARD_MISTAKES, by_hand=True)
def check_max_pool_forward(max_pool_forward, rng):
    """max_pool_forward(x, size, stride)[0] equals F.max_pool2d, including the lecture's 4x4 example."""
    for x, size, stride in _pool_cases(rng):
        inputs = describe_inputs(x=x, size=size, stride=stride)
        result = max_pool_forward(x, size, stride)
        _expect_pair("max_pool_forward", result, inputs)
        expect_close("max_pool_forward(x, size, stride): out", result[0], reference_max_pool(x, size, stride),
                     inputs=inputs, **TIGHT)


def max_pool_backward_to_all(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def max_pool_backward_all_ties(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx


def max_pool_backward_overwrite(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    N, C = x.shape[:2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
            flat = window.reshape(N, C, -1)
            best = flat.argmax(axis=2)
            grad = np.zeros_like(flat)
            for n in range(N):
                for c in range(C):
                    grad[n, c, best[n, c]] = dout[n, c, i, j]
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] = grad.reshape(window.shape)
    return dx


def max_pool_backward_split(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += \
                dout[:, :, i:i + 1, j:j + 1] / (size * size)
    return dx


MAX_POOL_BACKWARD_MISTAKES = [
    Mistake("the gradient goes to every element of the window; only the arg-max (the element that was the "
            "output) receives it, the others get 0", max_pool_backward_to_all),
    Mistake("the gradient goes to every element equal to the window's maximum; when several tie (zeros after a "
            "ReLU), only the first arg-max (np.argmax order) receives it, as in PyTorch",
            max_pool_backward_all_ties),
    Mistake("with overlapping windows (stride < size) the gradients are assigned (=) instead of added (+=): an "
            "element that is the maximum of several windows must collect all their gradients",
            max_pool_backward_overwrite),
    Mistake("the gradient is shared equally among the window (that is average pooling's backward)",
            max_pool_backward_split),
]


@check("max_pool_backward", mistakes=MAX_POOL_BACKWARD_MISTAKES, by_hand=True)
def check_max_pool_backward(max_pool_backward, rng):
    """max_pool_backward(dout, cache) equals autograd through F.max_pool2d (arg-max only, first on ties), given the
    cache (x, size, stride) that max_pool_forward documents (built here, so the student's forward is not graded
    again)."""
    for x, size, stride in _pool_cases(rng):
        inputs = describe_inputs(x=x, size=size, stride=stride)
        dout = rng.normal(size=reference_max_pool(x, size, stride).shape)
        got = max_pool_backward(dout, (x, size, stride))
        expect_close("max_pool_backward(dout, cache): dx", got, reference_pool_grad(F.max_pool2d, x, size, stride,
                                                                                    dout), inputs=inputs, **TIGHT)


def avg_pool_forward_sum(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].sum(axis=(2, 3))
    return out, (x, size, stride)


def avg_pool_forward_over_size(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].sum(axis=(2, 3)) / size
    return out, (x, size, stride)


def avg_pool_forward_step_one(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i:i + size, j:j + size].mean(axis=(2, 3))
    return out, (x, size, stride)


def avg_pool_forward_size_over_stride(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = H // stride, W // stride
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].mean(axis=(2, 3))
    return out, (x, size, stride)


AVG_POOL_FORWARD_MISTAKES = [
    Mistake("the window is summed, not averaged: divide by the size*size elements", avg_pool_forward_sum),
    Mistake("the sum is divided by size; a window holds size*size elements", avg_pool_forward_over_size),
    Mistake("the window moves by one pixel instead of `stride` pixels", avg_pool_forward_step_one),
    Mistake("the output size is H // stride; it is (H - size) // stride + 1", avg_pool_forward_size_over_stride),
]


@check("avg_pool_forward", mistakes=AVG_POOL_FORWARD_MISTAKES, by_hand=True)
def check_avg_pool_forward(avg_pool_forward, rng):
    """avg_pool_forward(x, size, stride)[0] equals F.avg_pool2d."""
    for x, size, stride in _pool_cases(rng):
        inputs = describe_inputs(x=x, size=size, stride=stride)
        result = avg_pool_forward(x, size, stride)
        _expect_pair("avg_pool_forward", result, inputs)
        expect_close("avg_pool_forward(x, size, stride): out", result[0], reference_avg_pool(x, size, stride),
                     inputs=inputs, **TIGHT)


def avg_pool_backward_copy(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def avg_pool_backward_over_size(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += dout[:, :, i:i + 1, j:j + 1] / size
    return dx


def avg_pool_backward_overwrite(dout, cache):
    x, size, stride = cache[0], cache[1], cache[2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] = \
                dout[:, :, i:i + 1, j:j + 1] / (size * size)
    return dx


AVG_POOL_BACKWARD_MISTAKES = [
    Mistake("the upstream gradient is copied to every element of the window without dividing by size*size: each "
            "element contributes 1/(size*size) of the mean", avg_pool_backward_copy),
    Mistake("the upstream gradient is divided by size; a window holds size*size elements",
            avg_pool_backward_over_size),
    Mistake("with overlapping windows (stride < size) the gradients are assigned (=) instead of added (+=): an "
            "element in several windows collects a share from each", avg_pool_backward_overwrite),
]


@check("avg_pool_backward", mistakes=AVG_POOL_BACKWARD_MISTAKES, by_hand=True)
def check_avg_pool_backward(avg_pool_backward, rng):
    """avg_pool_backward(dout, cache) equals autograd through F.avg_pool2d, given the documented cache
    (x, size, stride), built here."""
    for x, size, stride in _pool_cases(rng):
        inputs = describe_inputs(x=x, size=size, stride=stride)
        dout = rng.normal(size=reference_avg_pool(x, size, stride).shape)
        got = avg_pool_backward(dout, (x, size, stride))
        expect_close("avg_pool_backward(dout, cache): dx", got, reference_pool_grad(F.avg_pool2d, x, size, stride,
                                                                                    dout), inputs=inputs, **TIGHT)


# --- maxout ----------------------------------------------------------------------------------------------------


def _maxout_cases(rng):
    """(x, w, b): x (N, D), w (R, M, D) (out, in), b (R, M); a square case first, ReLU as maxout, and tied pieces
    that win some units on purpose (at every seed, the tie decides part of the gradient)."""
    for n, d, m, r in [(4, 5, 5, 3), (6, 3, 4, 2), (1, 7, 2, 4), (5, 4, 6, 5)]:
        yield rng.normal(size=(n, d)), rng.normal(size=(r, m, d)), rng.normal(size=(r, m))
    w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3))
    w[1], b[1] = 0.0, 0.0                                               # max(x w_1^T + b_1, 0): ReLU as a maxout unit
    yield rng.normal(size=(6, 4)), w, b
    w, b = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 2))
    w[2], b[2] = w[0], b[0]                                             # pieces 0 and 2 tie everywhere
    w[1, 0], b[1, 0] = w[0, 0], b[0, 0] - 1.0                           # and win unit 0 for every x, at every seed
    yield rng.normal(size=(5, 3)), w, b


@cached_reference
def reference_maxout(x, w, b, dout=None):
    xt, wt, bt = (_t(a).requires_grad_(True) for a in (x, w, b))
    out = torch.max(torch.einsum("nd,rmd->nrm", xt, wt) + bt, dim=1).values
    if dout is None:
        return out
    return torch.autograd.grad((out * _t(dout)).sum(), (xt, wt, bt))


def maxout_forward_wrong_axis(x, w, b):
    z = np.einsum("nd,rmd->nrm", x, w) + b
    return z.max(axis=2), (x, w, b)


def maxout_forward_no_bias(x, w, b):
    z = np.einsum("nd,rmd->nrm", x, w)
    return z.max(axis=1), (x, w, b)


def maxout_forward_relu(x, w, b):
    z = np.einsum("nd,rmd->nrm", x, w) + b
    return np.maximum(0.0, z.max(axis=1)), (x, w, b)


MAXOUT_FORWARD_MISTAKES = [
    Mistake("the maximum is taken over the M units instead of over the R pieces of each unit",
            maxout_forward_wrong_axis),
    Mistake("the biases b_r are not added to the pieces x w_r^T", maxout_forward_no_bias),
    Mistake("a ReLU is applied after the max; maxout is itself the nonlinearity (ReLU is the special case with "
            "one piece fixed at 0)", maxout_forward_relu),
]


@check("maxout_forward", mistakes=MAXOUT_FORWARD_MISTAKES, by_hand=True)
def check_maxout_forward(maxout_forward, rng):
    """maxout_forward(x, w, b)[0] equals torch.max over the pieces x w_r^T + b_r."""
    for x, w, b in _maxout_cases(rng):
        inputs = describe_inputs(x=x, w=w, b=b)
        result = maxout_forward(x, w, b)
        _expect_pair("maxout_forward", result, inputs)
        expect_close("maxout_forward(x, w, b): out", result[0], reference_maxout(x, w, b), inputs=inputs, **TIGHT)


def maxout_backward_all_pieces(dout, cache):
    x, w, b = cache[0], cache[1], cache[2]
    dz = np.repeat(dout[:, None, :], w.shape[0], axis=1)
    return np.einsum("nrm,rmd->nd", dz, w), np.einsum("nrm,nd->rmd", dz, x), dz.sum(axis=0)


def maxout_backward_all_ties(dout, cache):
    x, w, b = cache[0], cache[1], cache[2]
    z = np.einsum("nd,rmd->nrm", x, w) + b
    dz = (z == z.max(axis=1, keepdims=True)) * dout[:, None, :]
    return np.einsum("nrm,rmd->nd", dz, w), np.einsum("nrm,nd->rmd", dz, x), dz.sum(axis=0)


def maxout_backward_untransposed_w(dout, cache):
    x, w, b = cache[0], cache[1], cache[2]
    z = np.einsum("nd,rmd->nrm", x, w) + b
    best = z.argmax(axis=1)
    dz = np.zeros_like(z)
    for r in range(w.shape[0]):
        dz[:, r, :] = (best == r) * dout
    dx = sum(dz[:, r, :] @ w[r].T for r in range(w.shape[0]))
    return dx, np.einsum("nrm,nd->rmd", dz, x), dz.sum(axis=0)


def maxout_backward_transposed_dw(dout, cache):
    x, w, b = cache[0], cache[1], cache[2]
    z = np.einsum("nd,rmd->nrm", x, w) + b
    best = z.argmax(axis=1)
    dz = np.zeros_like(z)
    for r in range(w.shape[0]):
        dz[:, r, :] = (best == r) * dout
    dw = np.stack([x.T @ dz[:, r, :] for r in range(w.shape[0])])
    return np.einsum("nrm,rmd->nd", dz, w), dw, dz.sum(axis=0)


def maxout_backward_mean(dout, cache):
    x, w, b = cache[0], cache[1], cache[2]
    z = np.einsum("nd,rmd->nrm", x, w) + b
    best = z.argmax(axis=1)
    dz = np.zeros_like(z)
    for r in range(w.shape[0]):
        dz[:, r, :] = (best == r) * dout
    n = x.shape[0]
    return np.einsum("nrm,rmd->nd", dz, w), np.einsum("nrm,nd->rmd", dz, x) / n, dz.sum(axis=0) / n


def maxout_backward_db_over_pieces(dout, cache):
    x, w, b = cache[0], cache[1], cache[2]
    z = np.einsum("nd,rmd->nrm", x, w) + b
    best = z.argmax(axis=1)
    dz = np.zeros_like(z)
    for r in range(w.shape[0]):
        dz[:, r, :] = (best == r) * dout
    return np.einsum("nrm,rmd->nd", dz, w), np.einsum("nrm,nd->rmd", dz, x), np.tile(dout.sum(axis=0), (w.shape[0], 1))


ALL_PIECES = "the gradient goes to every piece; only the piece that won the max (the arg-max) receives it"
ALL_TIES = ("the gradient goes to every piece equal to the maximum; when pieces tie, only the first arg-max "
            "(np.argmax order) receives it, as in PyTorch")


def _maxout_backward_check(name, index, label, mistakes):
    @check(name, functions=("maxout_backward",), mistakes=mistakes, by_hand=True)
    def body(maxout_backward, rng):
        for x, w, b in _maxout_cases(rng):
            inputs = describe_inputs(x=x, w=w, b=b)
            dout = rng.normal(size=(x.shape[0], w.shape[1]))
            grads = maxout_backward(dout, (x, w, b))   # the cache maxout_forward documents, built here
            _expect_triple("maxout_backward", grads, inputs)
            expect_close(f"maxout_backward(dout, cache): {label}", grads[index], reference_maxout(x, w, b, dout)[index],
                         inputs=inputs, **TIGHT)
    body.description = (f"maxout_backward's {label} equals torch autograd through torch.max over the pieces, given "
                        "the documented cache (x, w, b), built here.")
    return body


check_maxout_dx = _maxout_backward_check("maxout_dx", 0, "dx", [
    Mistake(ALL_PIECES, maxout_backward_all_pieces),
    Mistake(ALL_TIES, maxout_backward_all_ties),
    Mistake("dx uses w_r^T instead of w_r: dx = sum_r dz_r w_r, with dz_r (N, M) and w_r (M, D)",
            maxout_backward_untransposed_w),
])
check_maxout_dw = _maxout_backward_check("maxout_dw", 1, "dw", [
    Mistake(ALL_PIECES, maxout_backward_all_pieces),
    Mistake(ALL_TIES, maxout_backward_all_ties),
    Mistake("dw_r is transposed: dw_r = dz_r^T x has the shape (M, D) of w_r (out, in)", maxout_backward_transposed_dw),
    Mistake("dw is averaged over the batch; the gradient of a sum over the batch is the sum",
            maxout_backward_mean),
])
check_maxout_db = _maxout_backward_check("maxout_db", 2, "db", [
    Mistake(ALL_PIECES, maxout_backward_all_pieces),
    Mistake(ALL_TIES, maxout_backward_all_ties),
    Mistake("db is averaged over the batch; the gradient of a sum over the batch is the sum",
            maxout_backward_mean),
    Mistake("every piece's db gets the whole upstream gradient; db_r collects dout only where piece r won",
            maxout_backward_db_over_pieces),
])


# --- flatten + dense + softmax ---------------------------------------------------------------------------------


@cached_reference
def reference_dense_softmax(x, A, b) -> torch.Tensor:
    return torch.softmax(F.linear(torch.flatten(_t(x), 1), _t(A), _t(b)), dim=1)


def dense_softmax_channels_last(x, A, b):
    flat = x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)
    scores = flat @ A.T + b
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def dense_softmax_wrong_axis(x, A, b):
    scores = x.reshape(x.shape[0], -1) @ A.T + b
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def dense_softmax_no_shift(x, A, b):
    scores = x.reshape(x.shape[0], -1) @ A.T + b
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


def dense_softmax_no_bias(x, A, b):
    scores = x.reshape(x.shape[0], -1) @ A.T
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


DENSE_SOFTMAX_MISTAKES = [
    Mistake("the feature maps are flattened channels-last (H, A, C order); nn.Flatten and A expect the (C, H, A) "
            "order of x[n]: x.reshape(N, -1)", dense_softmax_channels_last),
    Mistake("the softmax normalises over the batch axis (axis=0) instead of over the classes of each example",
            dense_softmax_wrong_axis),
    Mistake("the largest score is not subtracted before exp: large scores overflow to inf and give nan",
            dense_softmax_no_shift),
    Mistake("the bias b is not added to the scores", dense_softmax_no_bias),
]


@check("dense_softmax", mistakes=DENSE_SOFTMAX_MISTAKES, by_hand=True)
def check_dense_softmax(dense_softmax, rng):
    """dense_softmax(x, A, b) equals softmax(linear(flatten(x, 1), A, b), dim=1), also for huge scores."""
    for xs, n_classes, scale in [((2, 3, 4, 4), 5, 1.0), ((1, 2, 3, 5), 3, 1.0), ((4, 1, 8, 8), 10, 1.0),
                         ((3, 4, 2, 2), 1, 1.0), ((2, 3, 2, 3), 4, 300.0)]:
        x = scale * rng.normal(size=xs)
        A = rng.normal(size=(n_classes, int(np.prod(xs[1:]))))
        b = rng.normal(size=n_classes)
        if scale > 1.0:  # the first example's largest score is 1000 on purpose: exp of it overflows, at every seed
            b += 1000.0 - (x.reshape(xs[0], -1) @ A.T + b)[0].max()
        got = dense_softmax(x, A, b)
        expect_close("dense_softmax(x, A, b)", got, reference_dense_softmax(x, A, b),
                     inputs=describe_inputs(x=x, A=A, b=b), atol=1e-12, rtol=1e-8)


# --- tensor layouts --------------------------------------------------------------------------------------------


def nchw_to_nhwc_reshape(x):
    N, C, H, W = x.shape
    return x.reshape(N, H, W, C)


def nchw_to_nhwc_swapped(x):
    return x.transpose(0, 3, 2, 1)


def nhwc_to_nchw_same_permutation(x):
    return x.transpose(0, 2, 3, 1)


def nhwc_to_nchw_reshape(x):
    N, H, W, C = x.shape
    return x.reshape(N, C, H, W)


NHWC_MISTAKES = [
    Mistake("reshape only relabels the axes: the numbers stay in (N, C, H, W) memory order. Move axes with "
            "transpose(0, 2, 3, 1)", nchw_to_nhwc_reshape, replaces="nchw_to_nhwc"),
    Mistake("transpose(0, 3, 2, 1) also swaps H and W: the images come out transposed",
            nchw_to_nhwc_swapped, replaces="nchw_to_nhwc"),
    Mistake("nhwc_to_nchw reuses the permutation (0, 2, 3, 1); the way back is its inverse, (0, 3, 1, 2)",
            nhwc_to_nchw_same_permutation, replaces="nhwc_to_nchw"),
    Mistake("reshape only relabels the axes: the numbers stay in (N, H, W, C) memory order. Move axes with "
            "transpose(0, 3, 1, 2)", nhwc_to_nchw_reshape, replaces="nhwc_to_nchw"),
]


@check("nhwc", functions=("nchw_to_nhwc", "nhwc_to_nchw"), mistakes=NHWC_MISTAKES, by_hand=True)
def check_nhwc(nchw_to_nhwc, nhwc_to_nchw, rng):
    """nchw_to_nhwc and nhwc_to_nchw equal torch's permute(0, 2, 3, 1) and permute(0, 3, 1, 2)."""
    for shape in [(2, 3, 4, 5), (1, 3, 2, 2), (3, 2, 5, 4), (2, 1, 3, 3)]:
        x = rng.normal(size=shape)
        got = nchw_to_nhwc(x)
        expected = _t(x).permute(0, 2, 3, 1)
        expect_close("nchw_to_nhwc(x)", got, expected, inputs=describe_inputs(x=x), atol=0, rtol=0)
        y = expected.numpy().copy()
        got = nhwc_to_nchw(y)
        expect_close("nhwc_to_nchw(x)", got, _t(y).permute(0, 3, 1, 2), inputs=describe_inputs(x=y), atol=0, rtol=0)


def video_to_frames_time_major(x):
    N, T, C, H, W = x.shape
    return x.transpose(1, 0, 2, 3, 4).reshape(N * T, C, H, W)


def video_to_frames_into_channels(x):
    N, T, C, H, W = x.shape
    return x.reshape(N, T * C, H, W)


def frames_to_video_time_major(frames, T):
    NT, C, H, W = frames.shape
    return frames.reshape(T, NT // T, C, H, W).transpose(1, 0, 2, 3, 4)


VIDEO_MISTAKES = [
    Mistake("the frames are ordered time-major (all first frames, then all second frames, ...); merging (N, T) "
            "keeps each video's T frames together: frame n*T + t", video_to_frames_time_major,
            replaces="video_to_frames"),
    Mistake("the frames are stacked as channels (N, T*C, H, W); a per-frame 2D CNN needs a batch of N*T single "
            "frames (N*T, C, H, W)", video_to_frames_into_channels, replaces="video_to_frames"),
    Mistake("frames_to_video reads the batch as time-major; frame n*T + t belongs to video n, time t",
            frames_to_video_time_major, replaces="frames_to_video"),
]


@check("video_frames", functions=("video_to_frames", "frames_to_video"), mistakes=VIDEO_MISTAKES, by_hand=True)
def check_video_frames(video_to_frames, frames_to_video, rng):
    """video_to_frames / frames_to_video equal torch's flatten(0, 1) and unflatten(0, (N, T))."""
    for shape in [(2, 3, 1, 4, 4), (3, 2, 3, 2, 5), (1, 4, 2, 3, 3), (4, 1, 2, 2, 2)]:
        x = rng.normal(size=shape)
        got = video_to_frames(x)
        frames = torch.flatten(_t(x), 0, 1)
        expect_close("video_to_frames(x)", got, frames, inputs=describe_inputs(x=x), atol=0, rtol=0)
        f = frames.numpy().copy()
        got = frames_to_video(f, shape[1])
        expect_close("frames_to_video(frames, T)", got, _t(f).unflatten(0, (shape[0], shape[1])),
                     inputs=describe_inputs(frames=f, T=shape[1]), atol=0, rtol=0)


CHECKS = [check_conv_output_size, check_param_counts, check_cats_vs_dogs, check_conv2d_forward, check_conv1x1,
          check_max_pool_forward, check_max_pool_backward, check_avg_pool_forward, check_avg_pool_backward,
          check_maxout_forward, check_maxout_dx, check_maxout_dw, check_maxout_db, check_dense_softmax,
          check_nhwc, check_video_frames, check_template_cnn]


# --- conv2d_backward (appended after CHECKS so that the list above stays as it was; added to it at the end) -------
# The cache is the tuple (x, w, b, stride, pad) of the forward pass's inputs, built here by the check: the backward
# pass is graded on its own, never through the student's conv2d_forward.


@cached_reference
def reference_conv2d_grads(x, w, b, stride, pad, dout) -> tuple:
    """(dx, dw, db) of sum(dout * F.conv2d(x, w, b, stride, pad)) by autograd, in float64."""
    x_t, w_t, b_t = (_t(a).requires_grad_() for a in (x, w, b))
    out = F.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    out.backward(_t(dout))
    return x_t.grad, w_t.grad, b_t.grad


def _conv_backward_loops(dout, cache, *, flip=False, step_one=False, assign=False, corner_crop=False):
    """The naive backward pass, with switches for the typical mistakes (all False: correct)."""
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    K, _, size, _ = w.shape
    if flip:
        w = w[:, :, ::-1, ::-1]
    step = 1 if step_one else stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * step, i * step + size), slice(j * step, j * step + size)
            window = x_pad[:, :, rows, cols]
            if window.shape[2:] != (size, size):
                continue
            dw += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
            contribution = np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
            if assign:
                dx_pad[:, :, rows, cols] = contribution
            else:
                dx_pad[:, :, rows, cols] += contribution
    dx = dx_pad[:, :, :H, :W] if corner_crop else dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv2d_backward_flipped(dout, cache):
    return _conv_backward_loops(dout, cache, flip=True)


def conv2d_backward_step_one(dout, cache):
    return _conv_backward_loops(dout, cache, step_one=True)


def conv2d_backward_assigned(dout, cache):
    return _conv_backward_loops(dout, cache, assign=True)


def conv2d_backward_corner_crop(dout, cache):
    return _conv_backward_loops(dout, cache, corner_crop=True)


def conv2d_backward_dw_flipped(dout, cache):
    dx, dw, db = _conv_backward_loops(dout, cache)
    return dx, dw[:, :, ::-1, ::-1], db


def conv2d_backward_dw_mean(dout, cache):
    dx, dw, db = _conv_backward_loops(dout, cache)
    return dx, dw / dout.shape[0], db


def conv2d_backward_db_mean(dout, cache):
    dx, dw, _ = _conv_backward_loops(dout, cache)
    return dx, dw, dout.mean(axis=(0, 2, 3))


def conv2d_backward_db_batch_mean(dout, cache):
    dx, dw, _ = _conv_backward_loops(dout, cache)
    return dx, dw, dout.sum(axis=(0, 2, 3)) / dout.shape[0]


def conv2d_backward_db_one_position(dout, cache):
    dx, dw, _ = _conv_backward_loops(dout, cache)
    return dx, dw, dout[:, :, 0, 0].sum(axis=0)


FLIPPED = ("the filter is flipped in the backward pass: the forward pass is a cross-correlation, so output (i, j) "
           "used w[k, c, u, v] x_pad[n, c, i*S + u, j*S + v], and that same pair carries the gradient back")
STEP_ONE = ("the windows move by one pixel instead of S: the gradient of output (i, j) belongs to the window that "
            "starts at row i*S, column j*S of the padded input")
ASSIGNED = ("overlapping windows overwrite each other's gradient (= instead of +=): an input pixel inside several "
            "windows collects the sum of their gradients")
CORNER_CROP = ("dx is cut from the top-left corner of the padded gradient; the padding lies on every border, so dx is "
               "dx_pad[:, :, P:P + H, P:P + W]")


def _conv2d_backward_check(name, index, label, mistakes):
    @check(name, functions=("conv2d_backward",), mistakes=mistakes, by_hand=True)
    def body(conv2d_backward, rng):
        for x, w, b, stride, pad in _conv_cases(rng):
            inputs = describe_inputs(x=x, w=w, b=b, stride=stride, pad=pad)
            dout = rng.normal(size=reference_conv2d(x, w, b, stride, pad).shape)
            grads = conv2d_backward(dout, (x, w, b, stride, pad))
            _expect_triple("conv2d_backward", grads, inputs)
            expect_close(f"conv2d_backward(dout, cache): {label}", grads[index],
                         reference_conv2d_grads(x, w, b, stride, pad, dout)[index], inputs=inputs, **TIGHT)
    body.description = f"conv2d_backward's {label} equals torch autograd through F.conv2d (float64)."
    return body


check_conv2d_dx = _conv2d_backward_check("conv2d_dx", 0, "dx", [
    Mistake(FLIPPED, conv2d_backward_flipped),
    Mistake(STEP_ONE, conv2d_backward_step_one),
    Mistake(ASSIGNED, conv2d_backward_assigned),
    Mistake(CORNER_CROP, conv2d_backward_corner_crop),
])
check_conv2d_dw = _conv2d_backward_check("conv2d_dw", 1, "dw", [
    Mistake(FLIPPED, conv2d_backward_dw_flipped),
    Mistake(STEP_ONE, conv2d_backward_step_one),
    Mistake("dw is averaged over the batch; the gradient of a sum over the batch is the sum",
            conv2d_backward_dw_mean),
])
check_conv2d_db = _conv2d_backward_check("conv2d_db", 2, "db", [
    Mistake("db is a mean over the batch and the positions; every output of filter k adds b_k once, so db_k is "
            "the SUM of dout[:, k, :, :]", conv2d_backward_db_mean),
    Mistake("db is divided by the batch size; the gradient of a sum over the batch is the sum",
            conv2d_backward_db_batch_mean),
    Mistake("db takes only one output position; b_k is added at every position (i, j) of every image, so db_k sums "
            "dout[:, k, :, :] over the batch and both spatial axes", conv2d_backward_db_one_position),
])

CHECKS += [check_conv2d_dx, check_conv2d_dw, check_conv2d_db]
