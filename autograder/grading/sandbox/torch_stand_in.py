"""torch in the process that calls functions graded by hand: a stand-in whose every use fails.

That process runs in a sandbox that does not mount torch's files (worker.py), so no path leads to torch there: not
an import under any name, not another package that imports it, not its files by path or its libraries by ctypes.
This stand-in answers `import torch` and every `import torch.<anything>`, so that the notebook's own import lines
still run and the names they bind exist; any other use (an attribute, a call) raises TorchUnavailable, and the first
one is kept in `first_use` for the grader's message. Student code can change this module; it cannot reach torch.

Standalone (standard library only): it is mounted into the sandbox, where `autograder` is not importable.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types

STOOD_IN_FOR = ("torch", "functorch", "torchgen")  # the packages of torch's distribution

first_use: str | None = None
# a look at one of the stand-in's missing dunders (torch.__version__): not a use of torch by a function graded by hand
# (the import system and inspect look for such names), but a sign that torch is wanted (grader.StudentSession)
first_look: str | None = None


class TorchUnavailable(AttributeError):
    """A use of the stand-in. An AttributeError, so that hasattr() is False and `from torch import nn` imports the
    submodule (another stand-in) instead of failing the line."""


def _used(what: str):
    global first_use
    if first_use is None:
        first_use = what
    raise TorchUnavailable(f"{what}: torch is not available to a function graded by hand")


class StandIn(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):  # what the import system and inspect look for
            global first_look
            first_look = first_look or f"{self.__name__}.{name}"
            raise AttributeError(name)
        _used(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        _used(self.__name__)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in STOOD_IN_FOR:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = StandIn(spec.name)
        module.__path__ = []  # before the import system looks for it: a look is a sign that torch is wanted
        return module

    def exec_module(self, module):
        pass


def install() -> None:
    """From now on, importing torch (or a part of it) gives a stand-in."""
    sys.meta_path.insert(0, _Finder())
