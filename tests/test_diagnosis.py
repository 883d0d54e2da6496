"""The diagnosis of a failing check (autograder.checks.framework): which catalogued mistake the message names,
the words for common kinds of error, and that no result whatsoever makes the diagnosis raise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.checks.framework import CheckFailed, Mistake, check, expect_close, same_values


def failure_of(chk, *functions) -> str:
    with pytest.raises(CheckFailed) as failure:
        chk(*functions)
    return str(failure.value)


# --- the failing part, not the whole result ----------------------------------------------------------------------

def forward_unscaled(x):
    return np.asarray(x) * 0.5, {"x": np.asarray(x)}


@check("half_forward", mistakes=[Mistake("the output is not halved", lambda x: (np.asarray(x) * 1.0, {"x": x})),
                                 Mistake("the output is negated", lambda x: (-0.5 * np.asarray(x), {"x": x}))])
def check_half_forward(f, rng):
    for shape in [(3,), (2, 4)]:
        x = rng.normal(size=shape)
        out, cache = f(x)
        expect_close("out", out, 0.5 * x)


def test_a_different_cache_does_not_hide_the_mistake():
    message = failure_of(check_half_forward, lambda x: (np.asarray(x).copy(), {"input": x, "extra": None}))
    assert "Likely mistake: the output is not halved" in message


def test_a_mistake_is_confirmed_on_every_call_the_check_made():
    calls = []

    def right_then_negated(x):
        calls.append(1)
        return (0.5 * x if len(calls) == 1 else -0.5 * x), {}

    message = failure_of(check_half_forward, right_then_negated)
    assert "Likely mistake" not in message  # "negated" would have been wrong on the first call
    assert "sign is flipped" in message


@check("twice", mistakes=[Mistake("a first way to double", lambda x: 2 * np.asarray(x)),
                          Mistake("a second way to double", lambda x: np.asarray(x) + x)])
def check_twice_is_identity(f, rng):
    x = rng.normal(size=4)
    expect_close("f(x)", f(x), x)


def test_no_name_when_two_mistakes_fit():
    assert "Likely mistake" not in failure_of(check_twice_is_identity, lambda x: 2 * x)


def leaky_fixed_slope(z):
    z = np.asarray(z)
    return np.where(z > 0, z, 0.01 * z)


@check("leaky", mistakes=[Mistake("the slope ignores alpha", leaky_fixed_slope)])
def check_leaky_with_alpha_point_two(f, rng):
    z = rng.normal(size=8)
    expect_close("f(z)", f(z), np.where(z > 0, z, 0.2 * z))


def test_the_same_mistake_with_another_constant_is_named():
    message = failure_of(check_leaky_with_alpha_point_two, lambda z: np.where(z > 0, z, 0.1 * z))
    assert "Likely mistake: the slope ignores alpha" in message
    # wrong on other elements: not the same mistake
    assert "Likely mistake" not in failure_of(check_leaky_with_alpha_point_two, lambda z: np.where(z > 0, 2 * z, z))


# --- words for common kinds of error ----------------------------------------------------------------------------

@check("copy", mistakes=[Mistake("never", lambda x: None)])
def check_copy(f, rng):
    x = rng.normal(size=(3, 4))
    expect_close("f(x)", f(x), x)


@pytest.mark.parametrize("student, words", [
    (lambda x: -x, "sign is flipped"),
    (lambda x: x / 3, "0.333 times what it should be"),
    (lambda x: x.T.copy(), "axes are in another order"),
    (lambda x: np.vstack([x, x[:1]]), "off by one"),
])
def test_common_kinds_of_error_are_put_in_words(student, words):
    message = failure_of(check_copy, student)
    assert f"What the values show: " in message and words in message
    assert "Likely mistake" not in message


@check("softplus", mistakes=[Mistake("never", lambda z: None)])
def check_softplus(f, rng):
    z = np.array([-1000.0, 0.0, 1000.0])
    expect_close("f(z)", f(z), np.logaddexp(0, z))


def test_overflow_for_large_inputs_is_put_in_words():
    with np.errstate(over="ignore"):
        message = failure_of(check_softplus, lambda z: np.log(1 + np.exp(z)))
    assert "overflows" in message


# --- the diagnosis never raises ----------------------------------------------------------------------------------

def test_dropout_that_stays_active_in_eval_with_no_mask_gets_a_message_not_a_traceback():
    from autograder.checks.a04_dropout import check_dropout_eval

    def dropout_forward(x, p, mode, rng=None, mask=None):
        x = np.asarray(x, dtype=float)
        keep = (rng.random(x.shape) >= p).astype(float) if mask is None else mask
        return x * keep / (1 - p), {"mask": keep if mode == "train" else None, "p": p, "mode": mode}

    message = failure_of(check_dropout_eval, dropout_forward)
    assert "Likely mistake: dropout is still active in eval mode" in message


leaves = (st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(max_size=3)
          | hnp.arrays(st.sampled_from([np.float64, np.int64, np.bool_]), hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                          max_side=3)))
plain = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                     | st.dictionaries(st.text(max_size=2), inner, max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(plain, plain, plain, st.integers(0, 2))
def test_the_diagnosis_never_raises_whatever_the_results(student_result, mistake_result, other_result, failing):
    """Student and mistake return arbitrary plain data; the check fails with a message or passes, never raises
    anything else (the diagnosis compares the results part by part)."""
    results = iter([other_result, student_result])

    @check("arbitrary", mistakes=[Mistake("one", lambda x: mistake_result),
                                  Mistake("two", lambda x: (mistake_result, other_result))])
    def check_arbitrary(f, rng):
        for x in (np.zeros(3), np.ones(3)):
            result = f(x)
            part = result[failing % len(result)] if isinstance(result, (tuple, list)) and result else result
            expect_close("part", part, x)

    try:
        check_arbitrary(lambda x: next(results, student_result))
    except CheckFailed:
        pass


@settings(max_examples=60, deadline=None)
@given(plain, plain)
def test_same_values_is_a_bool_for_any_plain_data(a, b):
    assert same_values(a, b) in (True, False)
    assert same_values(a, a) or _has_nonnumeric_leaf(a)


def _has_nonnumeric_leaf(value) -> bool:
    if isinstance(value, dict):
        return any(_has_nonnumeric_leaf(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return any(_has_nonnumeric_leaf(v) for v in value)
    return False


# --- types -----------------------------------------------------------------------------------------------------

def test_a_tensor_where_an_array_is_asked_says_the_type_and_how_to_convert():
    import torch

    message = failure_of(check_copy, lambda x: torch.tensor(x))
    assert "torch.Tensor" in message and "numpy array" in message and "t.detach().numpy()" in message


def test_numpy_scalars_are_accepted_where_python_numbers_are_asked():
    from autograder.checks.a03_regularization import check_early_stopping
    from autograder.checks.a06_cnn_layers import check_conv_output_size
    from tests.conftest import solution_namespace

    early_stopping = solution_namespace("03_regularization")["early_stopping"]
    conv_output_size = solution_namespace("06_cnn_layers")["conv_output_size"]
    check_early_stopping(lambda *a, **k: dict(early_stopping(*a, **k), stopped=np.bool_(early_stopping(*a, **k)[
        "stopped"])))
    check_conv_output_size(lambda *a: np.int64(conv_output_size(*a)))


def test_a_float_where_an_int_is_asked_says_both_types_and_how_to_round():
    from autograder.checks.a06_cnn_layers import check_conv_output_size
    from tests.conftest import solution_namespace

    conv_output_size = solution_namespace("06_cnn_layers")["conv_output_size"]
    message = failure_of(check_conv_output_size, lambda *a: float(conv_output_size(*a)))
    assert "should return an int, got a float" in message and "//" in message


# --- initialisers: the cause, not only the statistic ---------------------------------------------------------------

def _xavier_bound(shape, gain):
    return gain * np.sqrt(6.0 / (shape[0] + shape[1]))


@pytest.mark.parametrize("initializer, uniform, cause", [
    (lambda shape, rng, gain=1.0: rng.normal(0, _xavier_bound(shape, gain) / np.sqrt(3), size=shape), True,
     "another distribution (rng.normal?)"),
    (lambda shape, rng, gain=1.0: rng.uniform(-1, 1, size=shape) * _xavier_bound(shape, gain), False,
     "the values are uniform (rng.uniform) where a normal distribution is asked"),
    (lambda shape, rng, gain=1.0: rng.uniform(0, _xavier_bound(shape, gain), size=shape), True,
     "the interval is [0, a]"),
    (lambda shape, rng, gain=1.0: rng.uniform(-1, 1, size=shape[::-1]) * _xavier_bound(shape, gain), True,
     "the shape is transposed"),
    (lambda shape, rng, gain=1.0: rng.uniform(-1, 1, size=shape) * _xavier_bound(shape, gain) / np.sqrt(3), True,
     "U[-a, a] has variance a^2 / 3"),
])
def test_an_initializer_failure_names_its_cause(initializer, uniform, cause):
    from autograder.checks.a02_initialization import check_xavier_normal, check_xavier_uniform

    message = failure_of(check_xavier_uniform if uniform else check_xavier_normal, initializer)
    assert cause in message


# --- PyTorch errors inside a student's model builder (06) ----------------------------------------------------------

def test_a_hard_coded_linear_size_says_which_arguments_the_check_used_and_why():
    import torch
    from torch import nn

    from autograder.checks.a06_cnn_layers import check_cats_vs_dogs

    def cats_vs_dogs_description(height=180, width=180):
        layers, channels = [], 3
        for stage, filters in enumerate([32, 64, 128, 256, 256]):
            layers += [nn.Conv2d(channels, filters, kernel_size=3), nn.ReLU()]
            channels = filters
            if stage < 4:
                layers.append(nn.MaxPool2d(2))
        model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(12544, 1), nn.Sigmoid())  # right for 180 x 180 only
        rows, x = [], torch.zeros((1, 3, height, width))
        with torch.no_grad():
            for layer in model:
                x = layer(x)
                rows.append((type(layer).__name__, tuple(x.shape[1:]), sum(p.numel() for p in layer.parameters())))
        return rows

    message = failure_of(check_cats_vs_dogs, cats_vs_dogs_description)
    assert "height = 100, width = 130" in message and "(3, 100, 130)" in message
    assert "compute it from the arguments" in message


def test_a_result_right_on_some_channels_only_is_put_in_words():
    def last_row_untouched(x):
        y = x.copy()
        y[-1] = 0.0
        return y

    message = failure_of(check_copy, last_row_untouched)
    assert "What the values show: the values are right except on the last slice(s) along axis 0" in message
