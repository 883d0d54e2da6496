"""The check framework: plain data at the boundary, the by-hand rule, comparisons and messages."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.checks.framework import (CheckFailed, Mismatch, Mistake, cached_reference, check, expect_close,
                                         same_values)
from autograder.checks.handle import LocalHandle, StudentError
from autograder.checks.plain import NotPlainData, to_plain
from course import testfunctions


class Sneaky(np.ndarray):
    def __eq__(self, other):
        return True


class AlwaysEqual:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [
    np.zeros(3).view(Sneaky), AlwaysEqual(), torch.zeros(2), np.array([object()]), {1: 2}, lambda x: x,
    np.array(["a"]), [AlwaysEqual()],
])
def test_to_plain_refuses_what_could_lie(value):
    with pytest.raises(NotPlainData):
        to_plain(value)


def test_to_plain_copies_and_converts_numpy_scalars():
    a = np.arange(3.0)
    plain = to_plain({"a": a, "s": np.float64(2.5), "t": (1, [True, None, "x"])})
    a[0] = 99
    assert plain["a"][0] == 0 and type(plain["s"]) is float and plain["t"] == (1, [True, None, "x"])


def test_course_functions_may_be_passed_to_students_but_not_returned():
    assert to_plain(testfunctions.wave, argument=True) is testfunctions.wave
    with pytest.raises(NotPlainData):
        to_plain(testfunctions.wave)
    with pytest.raises(NotPlainData):
        to_plain(np.sin, argument=True)


def test_generators_are_passed_as_copies_the_check_can_replay():
    rng = np.random.default_rng(5)
    sent = to_plain(rng, argument=True)
    assert sent is not rng and np.array_equal(sent.random(3), rng.random(3))
    with pytest.raises(NotPlainData):
        to_plain(rng)


def test_handle_gives_the_student_copies():
    def mutate(x):
        x[0] = 100.0
        return x

    handle = LocalHandle(mutate)
    x = np.zeros(2)
    assert handle(x)[0] == 100.0
    assert x[0] == 0 and handle.log.last.args[0][0] == 0


def test_handle_reports_exceptions_and_bad_results():
    with pytest.raises(StudentError, match="ZeroDivisionError"):
        LocalHandle(lambda: 1 / 0, name="f")()
    with pytest.raises(StudentError, match="torch"):
        LocalHandle(lambda: torch.ones(1), name="f")()


@pytest.mark.parametrize("cheat", [
    lambda x: torch.from_numpy(x).sum().item(),
    lambda x: float(torch.tensor(x).exp().sum()),
    lambda x: torch.autograd.functional.jacobian(lambda t: t.sum(), torch.tensor(x)).sum().item(),
    lambda x: np.asarray(torch.nn.functional.relu(torch.tensor(x))).sum(),
])
def test_by_hand_handle_sees_any_torch_use(cheat):
    with pytest.raises(StudentError, match="by hand"):
        LocalHandle(cheat, name="f", by_hand=True)(np.ones(3))


def test_by_hand_handle_lets_numpy_through():
    assert LocalHandle(lambda x: float(np.sum(np.tanh(x))), by_hand=True)(np.zeros(3)) == 0.0


def test_expect_close_messages_name_output_shape_errors_and_tolerance():
    expected = np.array([[1.23456789, 2.0], [3.0, 4.0]])
    with pytest.raises(Mismatch) as failure:
        expect_close("dx", expected + 0.5, expected, inputs="x of shape (2, 2)", atol=1e-8, rtol=1e-6)
    message = str(failure.value)
    for part in ("dx", "x of shape (2, 2)", "max abs error 0.5", "max rel error", "tolerance"):
        assert part in message
    assert "1.2345" not in message
    with pytest.raises(Mismatch, match="shape"):
        expect_close("dx", np.zeros(3), expected)
    with pytest.raises(Mismatch, match="NaN"):
        expect_close("dx", np.full((2, 2), np.nan), expected)
    with pytest.raises(Mismatch, match="forget to return"):
        expect_close("dx", None, expected)
    expect_close("dx", torch.tensor(expected).numpy() + 1e-12, torch.tensor(expected))


specials = st.sampled_from([0.0, -0.0, 1.0, 1e-9, 1e300, np.inf, -np.inf, np.nan]) | st.floats(-1e6, 1e6)


@given(hnp.arrays(np.float64, 5, elements=specials), hnp.arrays(np.float64, 5, elements=specials),
       st.sampled_from([0.0, 1e-8, 1e-3]), st.sampled_from([0.0, 1e-6, 1e-2]), st.booleans())
def test_expect_close_accepts_exactly_what_numpy_isclose_accepts(got, expected, atol, rtol, nearby):
    if nearby:
        got = expected * (1 + rtol / 2) + atol / 2  # within tolerance wherever expected is finite
    accepted = True
    try:
        expect_close("out", got, expected, atol=atol, rtol=rtol)
    except Mismatch:
        accepted = False
    with np.errstate(all="ignore"):
        assert accepted == bool(np.isclose(got, expected, atol=atol, rtol=rtol, equal_nan=True).all())


def test_same_values_needs_same_structure():
    assert same_values({"a": np.ones(2)}, {"a": np.ones(2) + 1e-12})
    assert not same_values({"a": np.ones(2)}, {"b": np.ones(2)})
    assert not same_values((1.0, 2.0), [1.0])
    assert not same_values(np.ones(2), np.ones(3))


def doubled(x):
    return 2 * x


@check("identity", mistakes=[Mistake("the input is doubled", doubled)])
def check_identity(identity, rng):
    x = rng.normal(size=4)
    expect_close("identity(x)", identity(x), x)


def test_a_check_names_the_recognised_mistake_and_passes_the_right_answer(capsys):
    check_identity(lambda x: x)
    assert "identity: passed" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="Likely mistake: the input is doubled"):
        check_identity(lambda x: 2 * x)
    with pytest.raises(CheckFailed) as failure:
        check_identity(lambda x: 3 * x)
    assert "Likely mistake" not in str(failure.value)
    with pytest.raises(CheckFailed, match="did you run the cell"):
        check_identity(None)
    with pytest.raises(CheckFailed, match="the course's own function"):
        check_identity(testfunctions.square_sum)
    assert isinstance(CheckFailed("x"), AssertionError)  # nbgrader counts it as a failed test


# --- cached_reference --------------------------------------------------------------------------------------------

def counting(function):
    """function, decorated with cached_reference, and a list that grows by one on each real computation."""
    calls = []

    def computed(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    return cached_reference(computed), calls


@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=5), elements=st.floats(-1e3, 1e3)),
       st.floats(-5, 5))
def test_cached_reference_computes_once_per_content_and_returns_fresh_copies(x, scale):
    reference, calls = counting(lambda x, scale: (torch.tensor(x) * scale, {"sum": np.sum(x) * scale}))
    first = reference(x, scale)
    first[0].add_(1.0)       # a caller that changes what it got ...
    first[1]["sum"] = None
    again = reference(x.copy(), scale)  # ... the same content, another array
    assert len(calls) == 1
    np.testing.assert_array_equal(again[0].numpy(), torch.tensor(x).numpy() * scale)  # ... changes nothing cached
    assert again[1]["sum"] == np.sum(x) * scale
    assert type(again) is tuple and type(again[1]) is dict


@pytest.mark.parametrize("one, other", [
    ((np.zeros(4),), (np.zeros((2, 2)),)),                 # same bytes, another shape
    ((np.zeros(2),), (np.zeros(2, dtype=np.float32),)),     # same values, another dtype
    ((1,), (1.0,)), ((1,), (True,)), ((0.0,), (-0.0,)),     # same value, another type or sign
    ((np.ones(2), "a"), (np.ones(2), "b")), (([1, 2],), ((1, 2),)), (({"a": 1, "b": 2},), ({"b": 2, "a": 1},)),
    ((torch.zeros(2),), (torch.zeros(2, requires_grad=True),)), ((torch.relu,), (torch.sigmoid,)),
])
def test_cached_reference_tells_apart_arguments_of_different_content(one, other):
    reference, calls = counting(lambda *args: 0)
    reference(*one)
    reference(*other)
    assert len(calls) == 2
    reference(*one)
    assert len(calls) == 2  # and knows each again


def test_cached_reference_computes_afresh_what_it_cannot_key_or_copy():
    reference, calls = counting(lambda f, x: f(x))
    reference(lambda v: v + 1, 1.0)
    reference(lambda v: v + 1, 1.0)                    # a closure or lambda is not keyed by its name
    assert len(calls) == 2
    module_maker, made = counting(lambda n: torch.nn.Linear(n, 1))
    assert module_maker(2) is not module_maker(2)      # a module cannot be copied: built again
    assert len(made) == 2


def test_cached_reference_does_not_keep_a_reference_that_changed_its_arguments():
    def scale_in_place(x):
        x *= 2
        return x.sum()

    reference, calls = counting(scale_in_place)
    x = np.ones(3)
    reference(x)
    reference(np.ones(3))
    assert len(calls) == 2 and not reference.cache


def test_under_a_students_seeds_a_reference_never_asked_twice_is_computed_without_the_cache():
    from autograder.checks.framework import UNCACHED_AFTER_MISSES, grading_seeds

    reference, calls = counting(lambda x: (torch.tensor(x, requires_grad=True) * 2, {"sum": float(np.sum(x))}))
    with grading_seeds(b"a student's key"):
        for k in range(UNCACHED_AFTER_MISSES):                 # every input new: no hit
            reference(np.full(3, float(k)))
        assert len(calls) == UNCACHED_AFTER_MISSES and len(reference.cache) == UNCACHED_AFTER_MISSES
        result = reference(np.zeros(3))                        # asked before, but no longer looked up
        assert len(calls) == UNCACHED_AFTER_MISSES + 1
        assert not result[0].requires_grad and result[1] == {"sum": 0.0}  # detached, as a cached call returns it
        np.testing.assert_array_equal(result[0].numpy(), np.zeros(3))
        assert len(reference.cache) == UNCACHED_AFTER_MISSES   # nothing more kept
    reference(np.zeros(3))                                     # seed 0 (course check): looked up again
    assert len(calls) == UNCACHED_AFTER_MISSES + 1


def test_under_a_students_seeds_a_reference_asked_twice_stays_cached():
    from autograder.checks.framework import UNCACHED_AFTER_MISSES, grading_seeds

    reference, calls = counting(lambda x: np.sum(x))
    with grading_seeds(b"a student's key"):
        reference(np.zeros(2))
        reference(np.zeros(2))                                 # a hit
        for k in range(2 * UNCACHED_AFTER_MISSES):
            reference(np.full(2, float(k + 1)))
        reference(np.full(2, 1.0))                             # still looked up: a hit
    assert len(calls) == 1 + 2 * UNCACHED_AFTER_MISSES


@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 5))
def test_a_repeated_call_advances_a_generator_as_the_call_did(seed, draws):
    reference, calls = counting(lambda rng, n: rng.normal(size=n).sum())
    rng, replay = np.random.default_rng(seed), np.random.default_rng(seed)
    first = reference(rng, draws)
    after_first = rng.normal()
    second = reference(replay, draws)                  # the same state: a hit ...
    assert len(calls) == 1 and second == first
    assert replay.normal() == after_first              # ... that leaves the generator where the call would have
    reference(replay, draws)                           # another state: computed
    assert len(calls) == 2
