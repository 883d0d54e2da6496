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
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from autograder.handle import CallLog, Handle, LocalHandle, StudentError
from autograder.plain import NotPlainData, function_name, is_course_function, to_plain


class CheckFailed(AssertionError):
    """The student's code is wrong; str() is the message the student reads."""

    def _render_traceback_(self):
        # IPython shows this instead of a traceback: the message alone, without the hidden test's lines
        return [f"CheckFailed: {line}" if i == 0 else line for i, line in enumerate(str(self).split("\n"))]


class Mismatch(Exception):
    """Raised by expect_* inside a check; turned into CheckFailed (with a diagnosis) by the check."""


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
        try:
            with warnings.catch_warnings(), _one_torch_thread():
                # a warning printed to stderr would make nbgrader fail the cell; the check reports in words instead
                warnings.simplefilter("ignore")
                self.body(*handles, rng=np.random.default_rng(seed))
        except StudentError as error:
            raise CheckFailed(f"{self.name}: {error}") from None
        except Mismatch as mismatch:
            raise CheckFailed(self._explain(str(mismatch), log)) from None
        print(f"{self.name}: passed")

    def _explain(self, message: str, log: CallLog) -> str:
        text = f"{self.name}: {message}"
        mistake = self.diagnose(log)
        if mistake is not None:
            text += f"\nLikely mistake: {mistake.message}"
        return text

    def diagnose(self, log: CallLog) -> Mistake | None:
        """The first catalogued mistake that reproduces the student's last result on the same input, if any."""
        last = log.last
        if last is None:
            return None
        for mistake in self.mistakes:
            if (mistake.replaces or self.functions[0]) != last.function:
                continue
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    theirs = to_plain(mistake.implementation(*copy.deepcopy(last.args), **copy.deepcopy(last.kwargs)))
            except Exception:  # a mutant may not run on every input; then it is not the explanation
                continue
            if same_values(theirs, last.result):
                return mistake
        return None


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
          statistical: bool = False):
    """Decorator: turn `body(*handles, rng)` into a Check. functions defaults to (name,)."""
    def wrap(body):
        return Check(name=name, functions=tuple(functions or (name,)), body=body, mistakes=list(mistakes),
                     by_hand=by_hand, statistical=statistical, description=(body.__doc__ or "").strip())
    return wrap


# --- references, computed once per process ----------------------------------------------------------------------

REFERENCE_CACHE_SIZE = 256  # results kept per reference function; a check needs a few dozen


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
    """
    cache: collections.OrderedDict = collections.OrderedDict()

    @functools.wraps(function)
    def remembered(*args, **kwargs):
        generators: list = []
        try:
            content = _content_key((args, kwargs), generators)
        except _NoContentKey:
            return function(*args, **kwargs)
        key = (content, tuple(repr(g.bit_generator.state) for g in generators))
        if key in cache:
            cache.move_to_end(key)
            result, states_after = cache[key]
            for generator, state in zip(generators, states_after):
                generator.bit_generator.state = state
            return _copy_result(result)
        result = function(*args, **kwargs)
        try:
            if _content_key((args, kwargs), []) == content:  # a reference that changed its arguments is not kept
                cache[key] = (_copy_result(result), [g.bit_generator.state for g in generators])
                if len(cache) > REFERENCE_CACHE_SIZE:
                    cache.popitem(last=False)
        except _NoContentKey:
            pass
        return result

    remembered.cache = cache  # for the tests
    return remembered


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
        digest.update(np.ascontiguousarray(array).tobytes())
    elif torch is not None and kind is torch.Tensor:
        if value.dtype not in (torch.float64, torch.float32, torch.int64, torch.int32, torch.bool, torch.uint8):
            raise _NoContentKey
        digest.update(f"tensor:{value.dtype}:{tuple(value.shape)}:{value.requires_grad};".encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
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


def _copy_result(value, depth: int = 0):
    """A copy of a reference's result that shares no memory with it; _NoContentKey for what cannot be copied so."""
    kind = type(value)
    torch = sys.modules.get("torch")
    if depth > 20:
        raise _NoContentKey
    if value is None or kind in _SCALAR_TYPES or isinstance(value, np.generic):
        return value
    if kind is np.ndarray and value.dtype.kind in "biufc":
        return value.copy()
    if torch is not None and kind is torch.Tensor and value.grad_fn is None and not value.requires_grad:
        return value.clone()
    if kind in (tuple, list):
        items = [_copy_result(item, depth + 1) for item in value]
        return items if kind is list else tuple(items)
    if kind is dict:
        return {name: _copy_result(item, depth + 1) for name, item in value.items()}
    raise _NoContentKey


# --- comparisons -----------------------------------------------------------------------------------------------

def describe_inputs(**inputs) -> str:
    """'x of shape (4, 5), p = 0.3': what a failure message says about the input (shapes and settings, no data)."""
    parts = []
    for name, value in inputs.items():
        if isinstance(value, (np.ndarray, np.generic)):
            parts.append(f"{name} of shape {np.shape(value)}")
        elif isinstance(value, float):
            parts.append(f"{name} = {value:.3g}")
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
                       f"{' of shape ' + str(expected.shape) if expected.ndim else ''}, got {_kind(got)}{where}")
    got_array = np.asarray(got, dtype=np.float64)
    if got_array.shape != expected.shape:
        raise Mismatch(f"{what} has shape {got_array.shape}, expected shape {expected.shape}{where}")
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
        raise Mismatch(f"{what} contains NaN{where} ({int(bad_nan.sum())} of {got_array.size} values)")
    error = np.abs(got_array - expected)[~ok]
    with np.errstate(divide="ignore", invalid="ignore"):  # where expected is 0 the relative error is inf
        relative = (np.abs(got_array - expected) / np.abs(expected))[~ok]
    count = f"{int((~ok).sum())} of {ok.size} values off, " if ok.size > 1 else ""
    raise Mismatch(f"{what} is wrong{where}: {count}max abs error {np.nanmax(error):.3g}, "
                   f"max rel error {np.nanmax(relative):.3g} (tolerance: abs {atol:g} + rel {rtol:g})")


def expect_true(condition: bool, message: str):
    """A property that must hold; message says what is wrong in the student's terms (never the expected values)."""
    if not bool(condition):
        raise Mismatch(message)


def same_values(a, b, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """Two plain-data values of the same structure whose numbers agree closely (used to recognise mistakes)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(same_values(a[k], b[k], rtol, atol) for k in a)
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(same_values(x, y, rtol, atol) for x, y in zip(a, b)))
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
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
