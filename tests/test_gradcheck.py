"""course.gradcheck: properties over random inputs."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from course import testfunctions
from course.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

finite = st.floats(-1e3, 1e3, allow_nan=False)
arrays = hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements=finite)


@given(arrays)
def test_rel_error_of_equal_arrays_is_zero(a):
    assert rel_error(a, a.copy()) == 0.0


@given(arrays, st.data())
def test_rel_error_is_symmetric_and_bounded(a, data):
    b = data.draw(hnp.arrays(np.float64, a.shape, elements=finite))
    assert rel_error(a, b) == rel_error(b, a)
    assert 0.0 <= rel_error(a, b) <= 1.0


def test_rel_error_rejects_shape_mismatch():
    import pytest

    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10_000))
def test_numerical_gradient_of_a_quadratic_form(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    x = rng.normal(size=n)
    grad = numerical_gradient(lambda z: float(z @ A @ z), x)
    assert rel_error(grad, (A + A.T) @ x) < 1e-7 or np.abs(grad - (A + A.T) @ x).max() < 1e-7


def test_numerical_gradient_leaves_x_alone_and_keeps_its_shape():
    x = np.random.default_rng(0).normal(size=(2, 3))
    before = x.copy()
    grad = numerical_gradient(testfunctions.coupled, x)
    assert grad.shape == x.shape
    assert np.array_equal(x, before)


def test_log_sum_exp_gradient_is_softmax():
    x = np.random.default_rng(1).normal(size=6)
    softmax = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    assert rel_error(numerical_gradient(testfunctions.log_sum_exp, x), softmax) < 1e-8


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
@example(547)  # where a relative bound failed
def test_numerical_gradient_array_is_the_backward_of_tanh(seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    numerical = numerical_gradient_array(np.tanh, x, dout)
    analytic = dout * (1 - np.tanh(x) ** 2)
    # Bound by the centered difference's own error, not by a relative error, which blows up wherever tanh'(x) * dout
    # is near zero (seed 547: 2.6e-7). Truncation: h^2 / 6 * |tanh'''| * |dout|, with |tanh'''| <= 2. Rounding:
    # machine epsilon times |sum(tanh(x) * dout)| <= sum |dout|, over h, times 4 for two evaluations and their sums.
    h = 1e-5
    bound = h ** 2 / 6 * 2 * np.abs(dout) + 4 * np.finfo(np.float64).eps * np.sum(np.abs(dout)) / h
    assert np.all(np.abs(numerical - analytic) <= bound)


@settings(max_examples=20, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.integers(0, 10_000))
def test_coupled_gradient_is_the_gradient_of_coupled(shape, seed):
    import torch

    x = np.random.default_rng(seed).normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    flat = xt.reshape(-1)
    (torch.sum(flat[:-1] * flat[1:]) + torch.sum(torch.tanh(xt))).backward()
    assert np.allclose(testfunctions.coupled_gradient(x), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert np.isclose(testfunctions.coupled(x), np.sum(x.reshape(-1)[:-1] * x.reshape(-1)[1:]) + np.sum(np.tanh(x)))


def test_an_entry_not_put_back_hides_in_a_separable_function_and_shows_in_coupled():
    from autograder.checks.a00_getting_started import numerical_gradient_not_restored as not_put_back

    x = np.random.default_rng(0).normal(size=(3, 4))
    assert rel_error(not_put_back(testfunctions.square_sum, x), 2 * x) < 1e-8      # why square_sum is not enough
    assert rel_error(not_put_back(testfunctions.coupled, x), testfunctions.coupled_gradient(x)) > 1e-6
    assert rel_error(numerical_gradient(testfunctions.coupled, x), testfunctions.coupled_gradient(x)) < 1e-8
