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

import contextlib
import copy
import sys
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

    def __call__(self, *student_functions, seed: int = 0):
        """Run the check on the student's functions (or Handles). Returns None, or raises CheckFailed."""
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


__all__ = ["Check", "CheckFailed", "Mismatch", "Mistake", "check", "describe_inputs", "expect_close", "expect_true",
           "same_values", "NotPlainData"]
