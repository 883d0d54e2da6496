"""The narrow handle through which a check calls student code.

A check never touches a student's function directly: it calls a Handle, which sends plain data in, gets plain data
back, and raises StudentError when the student's code fails. `LocalHandle` calls a function in this process (what a
hidden test cell in the student's kernel does under stock nbgrader). An out-of-process grader provides another Handle
with the same interface, so every check runs unchanged in both places.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.plain import NotPlainData, to_plain
from autograder.sandbox.detector import TorchUseDetector


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


class Handle:
    """Calls one student function with plain data. Subclasses implement `_invoke`."""

    def __init__(self, name: str, by_hand: bool = False, log: CallLog | None = None):
        self.name = name
        self.by_hand = by_hand
        self.log = log if log is not None else CallLog()

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
            if detector:
                with detector:
                    result = self.function(*args, **kwargs)
            else:
                result = self.function(*args, **kwargs)
        except Exception as error:  # the student's exception, reported as theirs
            raise StudentError(f"{self.name} raised {type(error).__name__}: {error}") from error
        if detector and detector.used:
            raise StudentError(f"{self.name} called {detector.used}: this exercise is by hand, "
                               "use numpy only (no torch, no autograd)")
        try:
            return to_plain(result, f"what {self.name} returned")
        except NotPlainData as error:
            raise StudentError(str(error)) from None
