"""How a check is written: seeded inputs, a PyTorch reference, comparisons, and a catalogue of typical mistakes.

A check is a plain function decorated with `@check`; it receives one Handle per student function and a seeded
numpy Generator, calls the student through the handles, and compares with `expect_close` / `expect_true`::

    @check("rel_error", mistakes=[Mistake("the |a - b| is missing", rel_error_without_abs)])
    def check_rel_error(rel_error, rng):
        a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
        expect_close("rel_error(a, b)", rel_error(a, b), reference(a, b), rtol=1e-10)

Calling the decorated check with the student's function(s) runs it; a failure raises CheckFailed (an
AssertionError, so nbgrader counts the cell as failed) whose message names the wrong output, the input shapes,
the max absolute and relative error and the tolerance, never the expected values; when the student's output
equals one of the catalogued mistakes on the same input, the message says which.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import functools
import hashlib
import itertools
import math
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from autograder.checks.handle import CallLog, Handle, LocalHandle, StudentError
from autograder.checks.plain import NotPlainData, function_name, is_course_function, to_plain


class CheckFailed(AssertionError):
    """The student's code is wrong; str() is the message the student reads."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the message alone, without the hidden test's lines
        return [f"CheckFailed: {line}" if i == 0 else line for i, line in enumerate(str(self).split("\n"))]


class Mismatch(Exception):
    """Raised by expect_* inside a check; turned into CheckFailed (with a diagnosis) by the check.

    got: the value that failed, as the student's function returned it (so the diagnosis can find which part of the
    result failed); expected: the reference for it, as a float array (None when the comparison had no reference).
    """

    def __init__(self, message: str, got=None, expected=None):
        super().__init__(message)
        self.got = got
        self.expected = expected


@dataclass(frozen=True)
class Mistake:
    """A typical wrong implementation, and the words that tell the student what it does wrong.

    implementation: has the signature of the student function it replaces (`replaces`, by default the check's only
    function). It is used twice: to recognise the mistake in a failing submission, and in the test suite, which
    proves the check rejects it.
    """

    message: str
    implementation: Callable
    replaces: str | None = None

    @property
    def name(self) -> str:
        return self.implementation.__name__


@dataclass
class Check:
    """A graded aspect of one or more student functions (named in `functions`, in the order the check takes them)."""

    name: str
    functions: tuple[str, ...]
    body: Callable
    mistakes: list[Mistake] = field(default_factory=list)
    by_hand: bool = False
    statistical: bool = False  # an S check: properties or statistics of random output, tested over many seeds
    description: str = ""
    # name -> the course's reference for another graded function of the notebook, taking and returning plain data:
    # while the check calls the student's function, it calls these instead of the student's own versions, so the
    # composition is graded and the parts are not graded again. Under `course grade` the student's process gets a
    # stub that asks the grader (the reference never enters it).
    stand_ins: dict[str, Callable] = field(default_factory=dict)

    def __call__(self, *student_functions, seed: int | None = None):
        """Run the check on the student's functions (or Handles). Returns None, or raises CheckFailed.

        seed: of the check's inputs; by default the one grading_seeds gives this check, else 0.
        """
        if seed is None:
            seed = _seed_of_check(self.name) if _seed_of_check is not None else 0
        if len(student_functions) != len(self.functions):
            raise TypeError(f"{self.name} takes {len(self.functions)} function(s): {', '.join(self.functions)}")
        log = CallLog()
        handles = []
        for name, function in zip(self.functions, student_functions):
            if is_course_function(function):
                raise CheckFailed(f"{self.name}: {name} is {function_name(function)}, the course's own function; "
                                  "the exercise is to write it yourself")
            if isinstance(function, Handle):
                function.log = log
                function.by_hand = self.by_hand
                handles.append(function)
            else:
                try:
                    handles.append(LocalHandle(function, name=name, by_hand=self.by_hand, log=log))
                except StudentError as error:
                    raise CheckFailed(f"{self.name}: {name}: {error}") from None
            handles[-1].stand_ins = dict(self.stand_ins)
        try:
            with warnings.catch_warnings(), _one_torch_thread():
                # a warning printed to stderr would make nbgrader fail the cell; the check reports in words instead
                warnings.simplefilter("ignore")
                self.body(*handles, rng=np.random.default_rng(seed))
        except StudentError as error:
            raise CheckFailed(f"{self.name}: {error}") from None
        except Mismatch as mismatch:
            raise CheckFailed(self._explain(str(mismatch), log, mismatch)) from None
        print(f"{self.name}: passed")

    def _explain(self, message: str, log: CallLog, mismatch: Mismatch | None = None) -> str:
        text = f"{self.name}: {message}"
        if "\nLikely mistake: " in text:  # the check named it already, from a property of the result
            return text
        try:
            mistake = self.diagnose(log, mismatch)
            if mistake is not None:
                text += f"\nLikely mistake: {mistake.message}"
            else:
                family = describe_family(mismatch, log)
                text += f"\nWhat the values show: {family}" if family else ""
        except Exception:  # noqa: BLE001 - a diagnosis never hides the plain message behind a traceback
            pass
        return text

    def diagnose(self, log: CallLog, mismatch: Mismatch | None = None) -> Mistake | None:
        """The one catalogued mistake that explains the student's results, or None; never raises.

        The comparison looks at the part of the last result that failed (mismatch.got, found in the result), so a
        different cache or auxiliary output does not hide the mistake, and a candidate must agree with the student's
        result on that part for every call of the function the check made (up to MAX_CONFIRMING_CALLS), not only the
        failing one. A mistake is named only when exactly one fits: first by equal values; failing that, by the same
        kind of error (see _same_kind_of_error): wrong on the same elements, in proportion, such as another constant
        for the same mistake.
        """
        try:
            return self._diagnose(log, mismatch)
        except Exception:  # noqa: BLE001 - e.g. a result whose structure the mistake's does not share
            return None

    def _diagnose(self, log: CallLog, mismatch: Mismatch | None) -> Mistake | None:
        last = log.last
        if last is None:
            return None
        candidates = [m for m in self.mistakes if (m.replaces or self.functions[0]) == last.function]
        if not candidates:
            return None
        paths = _paths_to(last.result, mismatch.got) if mismatch is not None and mismatch.got is not None else []
        paths = paths or [()]
        calls = [c for c in log.calls if c.function == last.function and c is not last][-MAX_CONFIRMING_CALLS + 1:]
        replays = {id(m): _replay(m, last) for m in candidates}
        candidates = [m for m in candidates if replays[id(m)] is not _FAILED]

        def agrees_before(mistake, parts) -> bool:
            for call in calls:
                theirs = _replay(mistake, call)
                if theirs is _FAILED or not all(_same_at(theirs, call.result, path) for path in parts):
                    return False
            return True

        # the whole result first (it tells apart mistakes that agree on the failing part), then the failing part
        for parts in ([()], paths):
            exact = [m for m in candidates if all(_same_at(replays[id(m)], last.result, path) for path in parts)]
            exact = [m for m in exact if agrees_before(m, parts)]
            if len({m.message for m in exact}) > 1:  # a tie: the one that also returns the same types, if only one
                exact = [m for m in exact if _same_types(_part(replays[id(m)], parts[0]), _part(last.result,
                                                                                                  parts[0]))]
            if exact:
                return exact[0] if len({m.message for m in exact}) == 1 else None
        if mismatch is None or mismatch.expected is None or len(paths) != 1:
            return None
        similar = [m for m in candidates
                   if _same_kind_of_error(mismatch.got, _part(replays[id(m)], paths[0]), mismatch.expected)]
        similar = [m for m in similar if agrees_before(m, paths)]
        if len({m.message for m in similar}) == 1:
            return similar[0]
        return None


MAX_CONFIRMING_CALLS = 32  # a statistical check may call a function thousands of times; the latest calls suffice
_FAILED = object()
_MISSING = object()


def _replay(mistake: Mistake, call) -> object:
    """The mistake's plain result on the call's arguments, or _FAILED (a mutant may not run on every input)."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return to_plain(mistake.implementation(*copy.deepcopy(call.args), **copy.deepcopy(call.kwargs)))
    except Exception:  # noqa: BLE001
        return _FAILED


def _leaves(value, path=()):
    """(path, leaf) of a plain value; a path is a tuple of keys and indices."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from _leaves(item, path + (index,))
    else:
        yield path, value


def _paths_to(result, got) -> list[tuple]:
    """The paths in result of the part that failed: the object itself, or else the leaves equal to it."""
    if got is result:
        return [()]
    found = [path for path, leaf in _leaves(result) if leaf is got and not isinstance(got, (bool, int, float))]
    if not found:
        found = [path for path, leaf in _leaves(result) if same_values(leaf, got, rtol=0, atol=0)]
    return found if len(found) <= 4 else []


def _part(value, path: tuple):
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, (tuple, list)) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return _MISSING
    return value


def _same_at(a, b, path: tuple) -> bool:
    a, b = _part(a, path), _part(b, path)
    return a is not _MISSING and b is not _MISSING and same_values(a, b)


def _same_types(a, b) -> bool:
    """The same structure with leaves of the same types (an int is not a float here)."""
    leaves_a, leaves_b = list(_leaves(a)), list(_leaves(b))
    return len(leaves_a) == len(leaves_b) and all(
        pa == pb and type(x) is type(y) for (pa, x), (pb, y) in zip(leaves_a, leaves_b))


def _float_array(value):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.dtype == np.float64 else None


def _same_kind_of_error(got, mistaken, expected) -> bool:
    """got and the mistake's value are wrong on exactly the same elements, and by proportional amounts
    (got - expected = k (mistaken - expected), k > 0), with at least two different errors to make the proportion
    mean something: the same mistake with another constant (0.1 for 0.01, 1/p for 1/(1 - p) ...). Or both are
    inf or NaN on the same elements and agree elsewhere: the same overflow, written another way."""
    got, mistaken, expected = _float_array(got), _float_array(mistaken), _float_array(expected)
    if got is None or mistaken is None or expected is None or not (got.shape == mistaken.shape == expected.shape):
        return False
    with np.errstate(all="ignore"):
        if not np.isfinite(expected).all():
            return False
        if not (np.isfinite(got).all() and np.isfinite(mistaken).all()):
            # overflow: inf or NaN on the same elements as the mistake (not necessarily the same one of the two),
            # and the same values elsewhere
            bad = ~np.isfinite(got)
            return bool(np.array_equal(bad, ~np.isfinite(mistaken))
                        and np.allclose(got[~bad], mistaken[~bad], rtol=1e-7, atol=1e-10))
        scale = 1e-9 * (1.0 + np.abs(expected))
        theirs, ours = got - expected, mistaken - expected
        wrong_theirs, wrong_ours = np.abs(theirs) > scale, np.abs(ours) > scale
        if not wrong_theirs.any() or not np.array_equal(wrong_theirs, wrong_ours):
            return False
        if _scale_of(got, expected) is not None and _scale_of(mistaken, expected) is not None:
            return False  # both a constant multiple of the answer, by different factors: not the same mistake
        theirs, ours = theirs[wrong_theirs], ours[wrong_theirs]
        if np.unique(np.round(ours / np.abs(ours).max(), 9)).size < 2:
            return False
        k = float(theirs @ ours / (ours @ ours))
        return k > 0 and bool(np.allclose(theirs, k * ours, rtol=1e-6, atol=1e-9 * np.abs(theirs).max()))


def _scale_of(value: np.ndarray, expected: np.ndarray) -> float | None:
    """k when value = k * expected for all elements (k != 1), else None."""
    if value.size < 2 or np.allclose(expected, 0.0):
        return None
    k = float(value.ravel() @ expected.ravel() / (expected.ravel() @ expected.ravel()))
    if math.isclose(k, 1.0, rel_tol=1e-6) or not np.allclose(value, k * expected, rtol=1e-6, atol=1e-10):
        return None
    return k


def describe_family(mismatch: Mismatch | None, log: CallLog | None = None) -> str | None:
    """Words for a common kind of error that no catalogued mistake explains, from the failing value and its reference:
    a flipped sign, a constant factor, transposed axes, overflow; None when none fits."""
    if mismatch is None or mismatch.expected is None or mismatch.got is None:
        return None
    got, expected = _float_array(mismatch.got), _float_array(mismatch.expected)
    if got is None or expected is None:
        return None
    with np.errstate(all="ignore"):
        if got.shape == expected.shape and not np.isfinite(got).all() and np.isfinite(expected).all():
            if log is not None and log.last is not None and _has_large_inputs(log.last.args):
                return ("the result is inf or NaN where it should be finite, for inputs with large values: an "
                        "exp-based formula overflows (shift by the maximum first, or use np.logaddexp / "
                        "np.log1p(np.exp(-|z|)))")
            return None
        if not np.isfinite(got).all() or not np.isfinite(expected).all():
            return None
        if got.shape != expected.shape:
            return _shape_family(got, expected)
        if got.size >= 2 and not np.allclose(expected, 0.0):
            if np.allclose(got, -expected, rtol=1e-6, atol=1e-10):
                return "the sign is flipped: every value is the negative of what it should be"
            k = _scale_of(got, expected)
            if k is not None and k != 0:
                return (f"every value is {k:.3g} times what it should be: a constant factor is off (a sum instead "
                        "of a mean, a missing or extra 1/N, a factor 2, (1 - p) or 1/(1 - p) where none belongs)")
        if got.ndim >= 2 and got.size == expected.size:
            for order in itertools.permutations(range(expected.ndim)):
                if order != tuple(range(expected.ndim)) and np.transpose(expected, order).shape == got.shape \
                        and np.allclose(got, np.transpose(expected, order), rtol=1e-6, atol=1e-10):
                    return (f"the values are right but the axes are in another order (axes {order} of the "
                            "expected layout): a transpose, or a layout such as (N, H, W, C) for (N, C, H, W)")
        if got.shape == expected.shape and got.ndim >= 2:
            return _partly_right(got, expected)
    return None


def _partly_right(got: np.ndarray, expected: np.ndarray) -> str | None:
    """Words for a result that is right on some slices along an axis and wrong on the others (an operation applied
    to only some channels or rows, a loop that stops early)."""
    right = np.isclose(got, expected, rtol=1e-6, atol=1e-10)
    for axis in range(got.ndim):
        if got.shape[axis] < 2:
            continue
        per_slice = right.all(axis=tuple(a for a in range(got.ndim) if a != axis))
        if per_slice.sum() > (~per_slice).sum() and not per_slice.all():  # most slices right, a few wholly wrong
            wrong = np.flatnonzero(~per_slice)
            if right[tuple(slice(None) if a != axis else wrong for a in range(got.ndim))].any():
                continue  # the wrong slices are not wholly wrong: no clean pattern along this axis
            where = "the last" if wrong.tolist() == [got.shape[axis] - 1] else f"{wrong.size} of {got.shape[axis]}"
            return (f"the values are right except on {where} slice(s) along axis {axis}: an operation applied to "
                    "only some channels or rows, or a loop that stops one step early?")
    return None


def _shape_family(got: np.ndarray, expected: np.ndarray) -> str | None:
    if got.ndim == expected.ndim and sorted(got.shape) == sorted(expected.shape):
        return ("the axes are in another order than expected: a transpose, or a layout such as (N, H, W, C) for "
                "(N, C, H, W)")
    if got.ndim == expected.ndim:
        off = [g - e for g, e in zip(got.shape, expected.shape)]
        if all(abs(d) <= 1 for d in off) and any(off):
            return ("the size is off by one along an axis: check the + 1 of (H - size) // stride + 1 and whether "
                    "the last window fits")
    return None


def _has_large_inputs(args, limit: float = 50.0) -> bool:
    for _, leaf in _leaves(args):
        array = _float_array(leaf) if not isinstance(leaf, str) else None
        if array is not None and array.size and np.nanmax(np.abs(array)) > limit:
            return True
    return False


@contextlib.contextmanager
def _one_torch_thread():
    """References on small float64 tensors: one thread is faster than a pool on a shared machine."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check(name: str, functions: Sequence[str] | None = None, mistakes: Sequence[Mistake] = (), by_hand: bool = False,
          statistical: bool = False, stand_ins: dict[str, Callable] | None = None):
    """Decorator: turn `body(*handles, rng)` into a Check. functions defaults to (name,).

    stand_ins: {"affine_sample": reference_affine_sample_plain}: while the check runs the student's function, the
    course's reference stands in for the student's own affine_sample (see Check.stand_ins)."""
    def wrap(body):
        return Check(name=name, functions=tuple(functions or (name,)), body=body, mistakes=list(mistakes),
                     by_hand=by_hand, statistical=statistical, description=(body.__doc__ or "").strip(),
                     stand_ins=dict(stand_ins or {}))
    return wrap


# --- references, computed once per process ----------------------------------------------------------------------

REFERENCE_CACHE_SIZE = 256  # results kept per reference function; a check needs a few dozen
# Under a student's seeds (grading_seeds), a reference that has computed this many results without being asked for
# one of them again is no longer cached in this process: each student's inputs are new to it, and keying and
# copying (20-70 us a call) would only add to the computation
UNCACHED_AFTER_MISSES = 64


_SCALAR_TYPES = (bool, int, float, complex, str)


class _NoContentKey(Exception):
    """A value whose content cannot be keyed or copied (a module, a student's function, a torch Generator)."""


def cached_reference(function):
    """Decorator for a reference computation: a call with arguments of the same content as an earlier call returns a
    copy of that call's result instead of computing it again.

    A check called again on the same inputs (the inputs of seed 0 in `course check` and the tests; under `course
    grade` each student's own, see grading_seeds, and the fixed inputs checks share) computes each reference once.
    Arguments are keyed by content: arrays and tensors by dtype, shape and
    bytes; numbers and strings by type and value; torch, numpy, course and grader functions by name; numpy
    Generators by their state, and a repeated call advances a Generator exactly as the call did the first time. A
    call with any other argument (a module, a function of the student's) is computed afresh, and so is one that
    changed its arguments (other than Generators) or returned something that cannot be copied (a module). The cache
    holds its own copy of each result, so a caller that changes what it got changes nothing for the next student.
    Tensors come back detached from autograd's graph, on the first call as on later ones: references computed with
    requires_grad (most of 01's) are kept too, which the SGD check's 120 calls of the same few networks need.
    Under a student's seeds a reference never asked the same twice stops being cached (UNCACHED_AFTER_MISSES); its
    results are then computed each time, the same values, detached as before.
    """
    cache: collections.OrderedDict = collections.OrderedDict()
    asked = {"hits": 0, "misses": 0}  # in this process

    @functools.wraps(function)
    def remembered(*args, **kwargs):
        if _seed_of_check is not None and not asked["hits"] and asked["misses"] >= UNCACHED_AFTER_MISSES:
            return _detached(function(*args, **kwargs))
        generators: list = []
        try:
            content = _content_key((args, kwargs), generators)
        except _NoContentKey:
            return function(*args, **kwargs)
        key = (content, tuple(repr(g.bit_generator.state) for g in generators))
        if key in cache:
            asked["hits"] += 1
            cache.move_to_end(key)
            result, states_after = cache[key]
            for generator, state in zip(generators, states_after):
                generator.bit_generator.state = state
            return _copy_result(result)
        asked["misses"] += 1
        result = function(*args, **kwargs)
        try:
            if _content_key((args, kwargs), []) == content:  # a reference that changed its arguments is not kept
                kept = _copy_result(result)
                cache[key] = (kept, [g.bit_generator.state for g in generators])
                if len(cache) > REFERENCE_CACHE_SIZE:
                    cache.popitem(last=False)
                # the same values, and of the same kind, as every later call's; not copied again: the caller of the
                # call that computed it shares it with no one
                return _copy_result(result, share_data=True)
        except _NoContentKey:
            pass
        return result

    remembered.cache = cache  # for the tests
    return remembered


def _detached(result):
    """result as a cached call returns it (tensors detached, containers new), without copying its data."""
    try:
        return _copy_result(result, share_data=True)
    except _NoContentKey:
        return result


_KEYED_FUNCTION_MODULES = ("torch", "numpy", "course", "autograder", "math")


def _content_key(value, generators: list) -> bytes:
    """A digest of value's content (see cached_reference); numpy Generators found are appended to generators and
    stand in the digest by their position only."""
    digest = hashlib.blake2b(digest_size=16)
    _feed(value, digest, generators, 0)
    return digest.digest()


def _feed(value, digest, generators: list, depth: int) -> None:
    kind = type(value)
    torch = sys.modules.get("torch")
    if depth > 20:
        raise _NoContentKey
    if value is None or kind in _SCALAR_TYPES:
        digest.update(f"{kind.__name__}:{value!r};".encode())
    elif kind is np.ndarray or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise _NoContentKey
        digest.update(f"{kind.__name__}:{array.dtype.str}:{array.shape};".encode())
        digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8))  # its bytes, not copied
    elif torch is not None and kind is torch.Tensor:
        if value.dtype not in (torch.float64, torch.float32, torch.int64, torch.int32, torch.bool, torch.uint8):
            raise _NoContentKey
        digest.update(f"tensor:{value.dtype}:{tuple(value.shape)}:{value.requires_grad};".encode())
        digest.update(value.detach().contiguous().numpy().reshape(-1).view(np.uint8))
    elif kind in (tuple, list):
        digest.update(f"{kind.__name__}:{len(value)}(".encode())
        for item in value:
            _feed(item, digest, generators, depth + 1)
        digest.update(b")")
    elif kind is dict:
        digest.update(f"dict:{len(value)}(".encode())
        for name, item in value.items():
            _feed(name, digest, generators, depth + 1)
            _feed(item, digest, generators, depth + 1)
        digest.update(b")")
    elif kind is np.random.Generator:
        digest.update(f"generator:{len(generators)};".encode())
        generators.append(value)
    elif _is_named_function(value):
        digest.update(f"function:{value.__module__}:{value.__qualname__};".encode())
    else:
        raise _NoContentKey


def _is_named_function(value) -> bool:
    """A module-level function or class of torch, numpy, the course or the grader: its name says what it does.
    Not a bound method (its object is part of what it does), a closure or a lambda."""
    if isinstance(value, types.BuiltinFunctionType):
        if not (value.__self__ is None or isinstance(value.__self__, types.ModuleType)):
            return False
    elif not isinstance(value, (types.FunctionType, type)):
        return False
    module, name = str(getattr(value, "__module__", None)), str(getattr(value, "__qualname__", "<"))
    return module.split(".")[0] in _KEYED_FUNCTION_MODULES and "<" not in name


def _copy_result(value, depth: int = 0, share_data: bool = False):
    """A copy of a reference's result that shares no memory with it; _NoContentKey for what cannot be copied so.
    share_data: its arrays and (detached) tensors are the result's own, only the structure is new."""
    kind = type(value)
    torch = sys.modules.get("torch")
    if depth > 20:
        raise _NoContentKey
    if value is None or kind in _SCALAR_TYPES or isinstance(value, np.generic):
        return value
    if kind is np.ndarray and value.dtype.kind in "biufc":
        return value if share_data else value.copy()
    if torch is not None and kind is torch.Tensor:
        # a tensor of torch's autograd graph (a reference computed with requires_grad) is kept as its values: the
        # checks compare values, and no check differentiates a reference's result again
        return value.detach() if share_data else value.detach().clone()
    if kind in (tuple, list):
        items = [_copy_result(item, depth + 1, share_data) for item in value]
        return items if kind is list else tuple(items)
    if kind is dict:
        return {name: _copy_result(item, depth + 1, share_data) for name, item in value.items()}
    raise _NoContentKey


# --- comparisons -----------------------------------------------------------------------------------------------

def describe_inputs(**inputs) -> str:
    """'x of shape (4, 5), p = 0.3': what a failure message says about the input (shapes and settings, no data).

    A number is shown only when it is a round setting (two significant digits at most, such as 0.3 or 1e-05): one
    with more digits was drawn for this student's test, and printing it would give the student the hidden input."""
    parts = []
    for name, value in inputs.items():
        if isinstance(value, (np.ndarray, np.generic)):
            parts.append(f"{name} of shape {np.shape(value)}")
        elif isinstance(value, float):
            parts.append(f"{name} = {value:.2g}" if math.isfinite(value) and float(f"{value:.2g}") == value
                         else f"{name} (a number drawn for the test)")
        elif isinstance(value, (int, str, bool)) or value is None:
            parts.append(f"{name} = {value!r}")
        else:
            parts.append(f"{name} ({type(value).__name__})")
    return ", ".join(parts)


def expect_close(what: str, got, expected, *, inputs: str = "", atol: float = 1e-8, rtol: float = 1e-6):
    """got must match expected elementwise within atol + rtol * |expected| (numbers or arrays of the same shape).

    expected may be a torch tensor or numpy array; got is what the student returned (plain data).
    """
    expected = _as_float_array(expected)
    where = f" for {inputs}" if inputs else ""
    if isinstance(got, (tuple, list, dict)) or got is None or isinstance(got, str):
        raise Mismatch(f"{what} should be {'a number' if expected.ndim == 0 else 'an array'}"
                       f"{' of shape ' + str(expected.shape) if expected.ndim else ''}, got {_kind(got)}{where}", got)
    got_array = np.asarray(got, dtype=np.float64)
    if got_array.shape != expected.shape:
        raise Mismatch(f"{what} has shape {got_array.shape}, expected shape {expected.shape}{where}", got, expected)
    with np.errstate(all="ignore"):
        # np.isclose(got, expected, atol, rtol, equal_nan=True), without its overhead (checks call this often):
        # finite values within the tolerance, equal infinities, and NaN where NaN is expected
        ok = (np.abs(got_array - expected) <= atol + rtol * np.abs(expected)) & np.isfinite(expected)
        if not ok.all():
            ok |= (got_array == expected) | (np.isnan(got_array) & np.isnan(expected))
    if ok.all():
        return
    bad_nan = np.isnan(got_array) & ~np.isnan(expected)
    if bad_nan.any():
        raise Mismatch(f"{what} contains NaN{where} ({int(bad_nan.sum())} of {got_array.size} values)", got, expected)
    error = np.abs(got_array - expected)[~ok]
    with np.errstate(divide="ignore", invalid="ignore"):  # where expected is 0 the relative error is inf
        relative = (np.abs(got_array - expected) / np.abs(expected))[~ok]
    count = f"{int((~ok).sum())} of {ok.size} values off, " if ok.size > 1 else ""
    raise Mismatch(f"{what} is wrong{where}: {count}max abs error {np.nanmax(error):.3g}, "
                   f"max rel error {np.nanmax(relative):.3g} (tolerance: abs {atol:g} + rel {rtol:g})", got, expected)


def expect_true(condition: bool, message: str):
    """A property that must hold; message says what is wrong in the student's terms (never the expected values)."""
    if not bool(condition):
        raise Mismatch(message)


def same_values(a, b, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """Two plain-data values of the same structure whose numbers agree closely (used to recognise mistakes).
    Never raises: values that cannot be compared are not the same."""
    try:
        return _same_values(a, b, rtol, atol)
    except Exception:  # noqa: BLE001 - e.g. an object with its own comparison
        return False


def _same_values(a, b, rtol: float, atol: float) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(_same_values(a[k], b[k], rtol, atol) for k in a)
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same_values(x, y, rtol, atol) for x, y in zip(a, b)))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _as_float_array(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor from a reference computation
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _kind(value) -> str:
    if value is None:
        return "None (did you forget to return?)"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


# --- the seeds of hidden tests under `course grade` -----------------------------------------------------------------

_seed_of_check = None  # check name -> seed, while grading_seeds is active (a grader runs one test cell at a time)


@contextlib.contextmanager
def grading_seeds(key: bytes | None):
    """Within the block, a check called without a seed draws its inputs from a seed of its own, derived from key
    (one per course and student, see grading.student_seed_key) and its name: every student gets other hidden-test
    inputs, the same in every regrading. key None: seed 0, as everywhere else."""
    global _seed_of_check
    if key is None:
        yield
        return
    previous = _seed_of_check
    _seed_of_check = lambda name: int.from_bytes(hashlib.sha256(key + b"/" + name.encode()).digest()[:8], "little")
    try:
        yield
    finally:
        _seed_of_check = previous


__all__ = ["Check", "CheckFailed", "Mismatch", "Mistake", "check", "describe_inputs", "expect_close", "expect_true",
           "same_values", "NotPlainData"]
