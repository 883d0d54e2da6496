"""Noticing torch in code that must be written by hand, from inside the process that runs it.

Used by the handle of a notebook's own kernel (handle.LocalHandle). `course grade` has no need of it: it calls a
function graded by hand in a sandbox where torch is not there at all (worker.py, torch_stand_in.py).
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
    """While active, notes the first use of torch by this thread or threads it starts.

    When torch is loaded, a torch function mode (torch.overrides.TorchFunctionMode) sees every torch operation of
    this thread, creating a tensor included, at no cost to numpy code. Otherwise, and in threads started meanwhile,
    a profile hook sees every Python-level call (torch's own Python code lives in torch's folder) and every call of
    a C function (torch's C functions and tensor methods belong to modules named torch...). Neither needs
    cooperation from the code it watches.
    """

    _folder = _torch_folder()

    def __init__(self):
        self.used: str | None = None
        self._in_torch: dict[str, bool] = {}  # code file name -> inside torch's folder
        self._mode = None

    def __enter__(self):
        self._previous = sys.getprofile()
        if "torch" in sys.modules:
            self._mode = _function_mode(self)
            self._mode.__enter__()
        else:  # torch may be imported during the call: watch every call
            sys.setprofile(self._hook)
        threading.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        if self._mode is not None:
            self._mode.__exit__(None, None, None)
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


_WATCH_MODE = None


def _function_mode(detector: TorchUseDetector):
    """A torch function mode that notes the first operation in detector.used and lets it run."""
    global _WATCH_MODE
    if _WATCH_MODE is None:
        from torch.overrides import TorchFunctionMode

        class Watch(TorchFunctionMode):
            def __init__(self, detector):
                super().__init__()
                self.detector = detector

            def __torch_function__(self, func, types, args=(), kwargs=None):
                if self.detector.used is None:
                    self.detector.used = f"torch ({getattr(func, '__name__', 'an operation')})"
                return func(*args, **(kwargs or {}))

        _WATCH_MODE = Watch
    return _WATCH_MODE(detector)
