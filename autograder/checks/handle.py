"""The narrow handle through which a check calls student code.

A check never touches a student's function directly: it calls a Handle, which sends plain data in, gets plain data
back, and raises StudentError when the student's code fails. `LocalHandle` calls a function in this process (what a
hidden test cell in the student's kernel does under stock nbgrader). An out-of-process grader provides another Handle
with the same interface, so every check runs unchanged in both places.
"""

from __future__ import annotations

import contextlib
import types
from dataclasses import dataclass, field
from typing import Callable

from autograder.checks.plain import NotPlainData, to_plain
from autograder.grading.sandbox.detector import TorchUseDetector


class StudentError(Exception):
    """Student code raised, returned something that is not plain data, or broke a rule (torch in a by-hand exercise)."""


@dataclass
class Call:
    """One call of student code: which function, with which plain arguments, and what it returned."""

    function: str
    args: tuple
    kwargs: dict
    result: object = None


@dataclass
class CallLog:
    """The calls of one check run, newest last; the mistake diagnosis looks at the last one."""

    calls: list[Call] = field(default_factory=list)

    @property
    def last(self) -> Call | None:
        return self.calls[-1] if self.calls else None


MAX_STAND_IN_CALLS = 10_000  # per call of a student function: a loop asking the grader for ever more answers stops


def lend(reference: Callable, name: str, args, kwargs):
    """A stand-in's answer: the course's reference for `name` on plain arguments, as plain data.

    A StudentError when the arguments are not plain data or the reference cannot work with them (the student's
    function called it wrongly)."""
    try:
        args = tuple(to_plain(a, f"argument {i + 1} of {name}") for i, a in enumerate(args))
        kwargs = {k: to_plain(v, f"argument {k} of {name}") for k, v in kwargs.items()}
    except NotPlainData as error:
        raise StudentError(f"{name} (the course's version, standing in for yours) was called with {error}") from None
    try:
        result = reference(*args, **kwargs)
    except Exception as error:  # a wrong call: wrong shapes, a missing argument
        raise StudentError(f"{name} (the course's version, standing in for yours) was called wrongly: "
                           f"{type(error).__name__}: {error}") from None
    return to_plain(_untensor(result))


def _untensor(value):
    """A reference's result with torch tensors as numpy arrays (tuples, lists and dicts followed)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    if isinstance(value, (tuple, list)):
        return type(value)(_untensor(item) for item in value)
    if isinstance(value, dict):
        return {key: _untensor(item) for key, item in value.items()}
    return value


class Handle:
    """Calls one student function with plain data. Subclasses implement `_invoke`.

    stand_ins: name -> the course's reference for another graded function of the notebook (plain data in and out).
    During a call, the student's function sees those references under those names instead of the student's own
    functions, so that a check grades this function and not the others again (see framework.check).
    """

    def __init__(self, name: str, by_hand: bool = False, log: CallLog | None = None):
        self.name = name
        self.by_hand = by_hand
        self.log = log if log is not None else CallLog()
        self.stand_ins: dict[str, Callable] = {}

    def __call__(self, *args, **kwargs):
        args = tuple(to_plain(a, f"argument {i + 1}", argument=True) for i, a in enumerate(args))
        kwargs = {k: to_plain(v, f"argument {k}", argument=True) for k, v in kwargs.items()}
        call = Call(self.name, args, kwargs)
        self.log.calls.append(call)
        result = self._invoke(args, kwargs)
        call.result = result
        return result

    def _invoke(self, args, kwargs):
        raise NotImplementedError


class LocalHandle(Handle):
    """Calls a function of this process. Arguments are fresh copies; the result is validated and copied."""

    def __init__(self, function, name: str | None = None, by_hand: bool = False, log: CallLog | None = None):
        if not callable(function):
            raise StudentError(f"expected a function, got {type(function).__name__}; "
                               "did you run the cell that defines it?")
        super().__init__(name or getattr(function, "__name__", "function"), by_hand, log)
        self.function = function

    def _invoke(self, args, kwargs):
        # fresh copies, so that a function that modifies its arguments cannot change what the check logged
        args, kwargs = to_plain(args, argument=True), to_plain(kwargs, argument=True)
        detector = TorchUseDetector() if self.by_hand else None
        try:
            with _standing_in(self.function, self.stand_ins, detector):
                if detector:
                    with detector:
                        result = self.function(*args, **kwargs)
                else:
                    result = self.function(*args, **kwargs)
        except StudentError:
            raise
        except Exception as error:  # the student's exception, reported as theirs
            raise StudentError(f"{self.name} raised {type(error).__name__}: {error}") from error
        if detector and detector.used:
            raise StudentError(f"{self.name} called {detector.used}: this exercise is by hand, "
                               "use numpy only (no torch, no autograd)")
        try:
            return to_plain(result, f"what {self.name} returned")
        except NotPlainData as error:
            raise StudentError(str(error)) from None


_ABSENT = object()


@contextlib.contextmanager
def _standing_in(function, stand_ins: dict[str, Callable], detector=None):
    """For the duration of the block, the global names of `function`'s module that stand_ins names are the
    references (each called with plain data, see lend); afterwards, even on error, the student's own again.
    detector: the torch detector of a by-hand call, which must not count the reference's own torch."""
    if not stand_ins:
        yield
        return
    namespace = function.__globals__ if isinstance(function, types.FunctionType) else None
    if namespace is None:
        yield
        return
    calls = [0]

    def stand_in(name, reference):
        def standing_in(*args, **kwargs):
            calls[0] += 1
            if calls[0] > MAX_STAND_IN_CALLS:
                raise StudentError(f"{name} was called more than {MAX_STAND_IN_CALLS} times in one call")
            noticed = detector.used if detector else None
            try:
                return lend(reference, name, args, kwargs)
            finally:
                if detector:
                    detector.used = noticed
        standing_in.__name__ = standing_in.__qualname__ = name
        return standing_in

    saved = {name: namespace.get(name, _ABSENT) for name in stand_ins}
    try:
        for name, reference in stand_ins.items():
            namespace[name] = stand_in(name, reference)
        yield
    finally:
        for name, value in saved.items():
            if value is _ABSENT:
                namespace.pop(name, None)
            else:
                namespace[name] = value
