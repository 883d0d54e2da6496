"""Plain data: the only values that cross between a check and student code.

Numbers, strings, None, numpy arrays of numbers or booleans, and tuples, lists and dicts (string keys) of those.
A numpy scalar becomes the Python number of its kind (numpy.bool_ a bool, numpy.int64 an int, numpy.float64 a float),
so every exercise that asks for a bool, an int or a float accepts numpy's scalars as well.
Exact types only: an ndarray subclass or an object with its own comparison methods could lie to a check, so it is
refused rather than converted. Values are copied on the way in and out, so neither side can change the other's data.
Two more kinds may be passed *to* student code as arguments, never returned: module-level functions of the `course`
package (a grader in another process sends their names, never code), and numpy random Generators (sent as their
bit generator's state, a dict of numbers; locally a copy, so the check can replay the very same draws).
"""

from __future__ import annotations

import types

import numpy as np

_SCALARS = (bool, int, float, str, type(None))
_NUMPY_SCALARS = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                  np.float16, np.float32, np.float64)
_ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float
MAX_DEPTH = 20


class NotPlainData(TypeError):
    """A value that may not cross the boundary; the message says where it was found and what it was."""


def to_plain(value, where: str = "the result", argument: bool = False, depth: int = 0):
    """A validated deep copy of value made of plain data only; raises NotPlainData naming `where` otherwise.

    argument: value is sent to student code, so course functions and numpy Generators may pass too.
    """
    if depth > MAX_DEPTH:
        raise NotPlainData(f"{where} is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if kind in _SCALARS or (argument and is_course_function(value)):
        return value
    if argument and kind is np.random.Generator:
        return copy_generator(value)
    if kind in _NUMPY_SCALARS:
        return value.item()
    if kind is np.ndarray:
        if value.dtype.kind not in _ARRAY_KINDS:
            raise NotPlainData(f"{where} is an array of dtype {value.dtype}; use numbers (float64 or int)")
        return np.array(value, copy=True, order="C")
    if kind in (tuple, list):
        items = [to_plain(item, f"{where}[{i}]", argument, depth + 1) for i, item in enumerate(value)]
        return items if kind is list else tuple(items)
    if kind is dict:
        plain = {}
        for key, item in value.items():
            if type(key) is not str:
                raise NotPlainData(f"{where} has a key of type {type(key).__name__}; use strings as keys")
            plain[key] = to_plain(item, f"{where}[{key!r}]", argument, depth + 1)
        return plain
    raise NotPlainData(f"{where} is {_describe_type(value)}; {_advice(value)}")


def copy_generator(generator: np.random.Generator) -> np.random.Generator:
    """A Generator that draws what `generator` would draw next: its bit generator's state, which is all the wire
    carries too (4x faster than copy.deepcopy, which pickles it)."""
    bits = type(generator.bit_generator)(0)
    bits.state = generator.bit_generator.state
    return np.random.Generator(bits)


def is_course_function(value) -> bool:
    """True for a module-level function of the `course` package, which may be passed to student code by name."""
    return (type(value) is types.FunctionType and value.__module__.split(".")[0] == "course"
            and "." not in value.__qualname__ and "<" not in value.__qualname__)


def function_name(value) -> str:
    """'module:name' of a course function (what an out-of-process grader sends instead of code)."""
    return f"{value.__module__}:{value.__qualname__}"


def _describe_type(value) -> str:
    kind = type(value)
    module = kind.__module__
    name = kind.__qualname__ if module in ("builtins", None) else f"{module}.{kind.__qualname__}"
    return f"of type {name}"


def _advice(value) -> str:
    module = type(value).__module__ or ""
    if module.startswith("torch"):
        return "expected a numpy array: convert a tensor t with t.detach().numpy()"
    if isinstance(value, np.ndarray):
        return "return a plain numpy array (np.asarray(x))"
    return "return numbers, numpy arrays, or tuples/lists/dicts of those"
