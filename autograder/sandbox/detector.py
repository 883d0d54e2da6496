"""Noticing torch in code that must be written by hand, from inside the process that runs it.

Standalone (standard library only): it is also mounted into the sandbox, where `autograder` is not importable.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading


def _torch_folder() -> str | None:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.realpath(list(spec.submodule_search_locations)[0]) + os.sep


class TorchUseDetector:
    """While active, notes the first call into torch made by this thread or threads it starts.

    A profile hook sees every Python-level call (torch's own Python code lives in torch's folder) and every call of
    a C function (torch's C functions and tensor methods belong to modules named torch...). Cheap enough for
    the numpy code of an exercise, and it needs no cooperation from the code it watches.
    """

    _folder = _torch_folder()

    def __init__(self):
        self.used: str | None = None
        self._in_torch: dict[str, bool] = {}  # code file name -> inside torch's folder

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._hook)
        threading.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)
        threading.setprofile(None)
        return False

    def _hook(self, frame, event, arg):
        if self.used is not None:
            return
        if event == "call":
            filename = frame.f_code.co_filename
            inside = self._in_torch.get(filename)
            if inside is None:
                inside = self._in_torch[filename] = bool(self._folder) and \
                    os.path.realpath(filename).startswith(self._folder)
            if inside:
                self.used = f"torch ({frame.f_code.co_name})"
        elif event == "c_call":
            module = getattr(arg, "__module__", None) or ""
            owner = getattr(arg, "__self__", None)
            owner_module = getattr(owner, "__name__", "") if type(owner).__name__ == "module" else \
                type(owner).__module__ or ""
            if module.startswith("torch") or owner_module.startswith("torch"):
                self.used = f"torch ({getattr(arg, '__name__', 'a function')})"
