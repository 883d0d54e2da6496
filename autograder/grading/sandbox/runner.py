"""The process inside the sandbox: a warm fork server, and the per-submission executors it forks.

Run as `python runner.py CONTROL_FD`. It imports numpy, torch and matplotlib once (and makes one autograd call, the
slow first one); then, for every "spawn" request that arrives on the control socket with a socket attached, it forks
an executor that serves that socket: it executes cells in its own namespace, describes names, and calls student
functions with plain data (see wire.py). "reap" kills every other process in the sandbox and empties the scratch
folder and /tmp, so nothing a submission started survives it. The fork server is non-dumpable (not_dumpable), so
no process in the sandbox can read, write or trace it or another executor. This file trusts nothing it runs and is trusted by no one:
the grader outside computes every verdict.

With COURSE_WITHOUT_TORCH=1 it is the fork server of the process without torch, where a notebook's cells run first
and functions graded by hand are called: its sandbox has no torch, and `import torch` gives a stand-in whose every use
fails (torch_stand_in.py). It warms up without torch, runs or replays the notebook's cells there ("exec", "replay"),
and reports a use of the stand-in during a cell or a call.
"""

from __future__ import annotations

import ast
import builtins
import gc
import importlib
import io
import marshal
import os
import resource
import shutil
import signal
import socket
import sys
import time
import traceback
import types

import torch_stand_in
import wire

SCRATCH = os.environ.get("COURSE_SCRATCH", "/scratch")
OUTPUT_CAP_BYTES = int(os.environ.get("COURSE_OUTPUT_CAP", str(64 * 1024)))
MEMORY_LIMIT_BYTES = int(os.environ.get("COURSE_MEMORY_LIMIT", str(4 * 1024 ** 3)))
CPU_LIMIT_SECONDS = int(os.environ.get("COURSE_CPU_LIMIT", "600"))
FILE_LIMIT_BYTES = int(os.environ.get("COURSE_FILE_LIMIT", str(64 * 1024 ** 2)))
PROCESS_LIMIT = int(os.environ.get("COURSE_PROCESS_LIMIT", "256"))
ALLOWED_FUNCTION_MODULES = ("course.",)
WITHOUT_TORCH = os.environ.get("COURSE_WITHOUT_TORCH") == "1"


# What the notebooks import; paid once here rather than in every executor (scikit-learn alone costs ~2 s).
WARM_MODULES = ("numpy", "numpy.random", "matplotlib.pyplot", "torch", "torch.nn", "torch.nn.functional",
                "PIL.Image", "threadpoolctl", "course", "course.data", "course.gradcheck", "course.plots",
                "course.reuse", "course.testfunctions", "course.train")


# Imported before all else where torch is: torch imports sympy (see warm_up), and imported after torch, sympy's
# ~90,000 objects left torch's memory more scattered, so that an executor's first autograd calls copied ~2,000 more
# pages from this process: +10 ms in each executor that trains a network (benchmarks/executor_first_use.py)
IMPORTED_FIRST = ("sympy",)


def warm_up() -> None:
    """Pay the imports once, in the fork server, so every executor starts warm."""
    for name in () if WITHOUT_TORCH else IMPORTED_FIRST:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import matplotlib

    matplotlib.use("Agg")
    for name in WARM_MODULES:
        if WITHOUT_TORCH and name.split(".")[0] in torch_stand_in.STOOD_IN_FOR:
            continue
        try:
            importlib.import_module(name)
        except ImportError:  # an executor that needs it gets the ImportError itself
            pass
    if not WITHOUT_TORCH:
        import torch

        torch.set_num_threads(1)
        x = torch.ones(2, requires_grad=True)
        (x * x).sum().backward()  # the first autograd call is the slow one
        # a gradient given for a non-scalar output, out.backward(dout) as visible checks compare with autograd, makes
        # torch import sympy the first time (0.35 s, 483 modules): once here, not in every executor of 06_cnn_layers
        try:
            torch.autograd.grad(x * x, x, torch.ones(2))
        except Exception:  # an executor that needs it pays the import itself
            pass
    warm_threadpoolctl()
    data = sys.modules.get("course.data")
    for load in ("load_digits", "load_sample_images"):  # read and decoded once; every executor inherits them
        try:
            getattr(data, load)()
        except Exception:  # missing data: the executor that loads it gets the error itself
            pass


def warm_threadpoolctl() -> None:
    """threadpoolctl's first look at the loaded libraries (ctypes, libc) is its slow one: here, not in each executor
    whose notebook calls threadpool_limits(1) (~2 ms)."""
    threadpoolctl = sys.modules.get("threadpoolctl")
    if threadpoolctl is not None:
        try:
            threadpoolctl.threadpool_info()
        except Exception:  # an executor that needs it meets the problem itself
            pass


# --- executor ----------------------------------------------------------------------------------------------------

class CappedText(io.TextIOBase):
    """sys.stdout / sys.stderr of the student: keeps the first OUTPUT_CAP_BYTES bytes, counts the rest."""

    def __init__(self):
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = OUTPUT_CAP_BYTES - self.size
        if room > 0:
            kept = text.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
            self.parts.append(kept)
            self.size += len(kept.encode())
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[output cut: {self.dropped} more characters]"
        self.parts, self.size, self.dropped = [], 0, 0
        return text


def resolve_function(name: str):
    module_name, _, attribute = name.partition(":")
    if not module_name.startswith(ALLOWED_FUNCTION_MODULES) or not attribute.isidentifier():
        raise wire.WireError(f"function {name} may not be sent")
    return getattr(importlib.import_module(module_name), attribute)


def course_function_name(value) -> str | None:
    """'course.module:name' for an unchanged function of the course package (the grader uses its own copy)."""
    module = sys.modules.get(getattr(value, "__module__", "") or "")
    name = getattr(value, "__qualname__", "")
    if module is None or not module.__name__.startswith(ALLOWED_FUNCTION_MODULES) or not name.isidentifier():
        return None
    return f"{module.__name__}:{name}" if getattr(module, name, None) is value else None


def describe(value):
    """What a name in the student's namespace is, in plain data."""
    if isinstance(value, types.ModuleType):
        return {"kind": "module", "module": value.__name__}
    if isinstance(value, types.FunctionType) and course_function_name(value):
        return {"kind": "course_function", "name": course_function_name(value)}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return {"kind": "function"}
    try:
        wire.encode(value)
        return {"kind": "value", "value": value}
    except (wire.WireError, TypeError, ValueError, OverflowError):
        return {"kind": "other", "type": type(value).__name__}


def _failed_line(error: BaseException, code: types.CodeType | None) -> int | None:
    """The line of `code`'s top level at which `error` left it, if it did."""
    tb = error.__traceback__ if code is not None else None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return tb.tb_lineno
        tb = tb.tb_next
    return None


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class Executor:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.output = CappedText()

    def serve(self) -> None:
        sys.stdout = sys.stderr = self.output
        while True:
            try:
                request = wire.receive(self.sock, resolve_function)
            except EOFError:
                return
            op = request.get("op") if type(request) is dict else None
            handler = {"exec": self.exec_cell, "describe": self.describe_names, "call": self.call,
                       "replay": self.replay}.get(op)
            if handler is None:
                reply = {"ok": False, "error": f"unknown request {op!r}"}
            else:
                try:
                    reply = handler(request)
                except BaseException as error:  # SystemExit, KeyboardInterrupt and all: the cell failed
                    reply = {"ok": False, "error": error_text(error)}
            reply["stdout"] = self.output.take()
            try:
                wire.send(self.sock, reply)
            except OSError:
                return  # the grader has gone
            except BaseException as error:  # encoding failed, so nothing was sent: the result is not plain data
                wire.send(self.sock, {"ok": False, "error": f"the result is not plain data: {error}",
                                      "stdout": ""})

    def exec_cell(self, request) -> dict:
        """Run a cell. "torch" in the answer: the first use of torch's stand-in, or look at it (WITHOUT_TORCH), after
        which the grader runs the cell again in the process with torch."""
        torch_stand_in.first_use = torch_stand_in.first_look = None
        try:
            code = cell_code(request["source"], request.get("name", "<cell>"), request.get("code"))
            exec(code, self.namespace)
            reply = {"ok": True}
        except BaseException as error:
            reply = {"ok": False, "error": error_text(error),
                     "traceback": "".join(traceback.format_exception(error)[-6:])[-4000:]}
        return _with_torch(reply, torch_stand_in.first_use or torch_stand_in.first_look)

    def replay(self, request) -> dict:
        """Run cells for the process that calls functions graded by hand, going on after a statement that fails (a
        line that uses torch fails here, and the definitions after it must still be made). Their results count for
        nothing. Reports the first use of torch's stand-in, if any."""
        torch_stand_in.first_use = None
        codes = request.get("codes") or [None] * len(request["cells"])
        for (source, name), code in zip(request["cells"], codes):
            self.run_on_past_errors(source, name, code)
        self.output.take()  # what they printed is not wanted
        return {"ok": True, "torch": torch_stand_in.first_use}

    def run_on_past_errors(self, source: str, name: str, compiled=None) -> None:
        """Run a cell whole (most run without error); where a top-level statement fails, go on with the statements
        that begin on a later line."""
        code = None
        try:
            code = cell_code(source, name, compiled)
            exec(code, self.namespace)
            return
        except BaseException as error:  # SyntaxError too: then nothing ran
            line = _failed_line(error, code)
        if line is None:
            return
        try:
            statements = ast.parse(source, name).body
        except BaseException:
            return
        while statements:
            left = [s for s in statements if s.lineno > line]
            statements = left if len(left) < len(statements) else statements[1:]  # always a step on
            if not statements:
                return
            code = None
            try:
                code = compile(ast.Module(statements, []), name, "exec", dont_inherit=True)
                exec(code, self.namespace)
                return
            except BaseException as error:
                line = _failed_line(error, code)
                if line is None:
                    return

    def describe_names(self, request) -> dict:
        found = {}
        for name in request["names"]:
            if name in self.namespace:
                found[name] = describe(self.namespace[name])
        return {"ok": True, "names": found}

    def call(self, request) -> dict:
        function = self.namespace.get(request["name"])
        if not callable(function):
            return {"ok": False, "error": f"NameError: {request['name']} is not defined as a function"}
        torch_stand_in.first_use = torch_stand_in.first_look = None
        namespace = getattr(function, "__globals__", self.namespace)
        stand_ins = [name for name in request.get("stand_ins") or () if type(name) is str and name.isidentifier()]
        saved = {name: namespace.get(name, _ABSENT) for name in stand_ins}
        try:
            for name in stand_ins:
                namespace[name] = self.stand_in(name)
            result = function(*request["args"], **request["kwargs"])
        except BaseException as error:
            return _with_torch({"ok": False, "error": error_text(error), "torch": torch_stand_in.first_use},
                               torch_stand_in.first_look, "torch_look")
        finally:
            for name, value in saved.items():
                if value is _ABSENT:
                    namespace.pop(name, None)
                else:
                    namespace[name] = value
        if torch_stand_in.first_use:  # where torch is a stand-in (WITHOUT_TORCH): a use caught by the student's code
            return {"ok": False, "torch": torch_stand_in.first_use}
        # a look at the stand-in's dunders: for a function not graded by hand, the grader calls it again with torch
        return _with_torch({"ok": True, "result": result}, torch_stand_in.first_look, "torch_look")


    def stand_in(self, name: str):
        """What the student's function calls instead of its own `name` during a call: a stub that asks the grader,
        which computes the course's version (plain data both ways; the course's code never comes here)."""
        sock = self.sock

        def ask_the_grader(*args, **kwargs):
            wire.send(sock, {"op": "stand_in", "name": name, "args": list(args), "kwargs": kwargs})
            answer = wire.receive(sock, resolve_function)
            if type(answer) is not dict or not answer.get("ok"):
                raise RuntimeError(str(answer.get("error") if type(answer) is dict else "no answer"))
            return answer.get("result")

        ask_the_grader.__name__ = ask_the_grader.__qualname__ = name
        return ask_the_grader


_ABSENT = object()


def cell_code(source: str, name: str, compiled=None) -> types.CodeType:
    """A cell's code, as a notebook's kernel compiles it (dont_inherit: without this file's __future__ imports):
    what the grader compiled (grading.sandbox.worker.compiled_cell, marshalled as bytes in a uint8 array), or else
    compiled here."""
    if compiled is not None:
        try:
            code = marshal.loads(compiled.tobytes())
            if type(code) is types.CodeType and code.co_filename == name:
                return code
        except Exception:  # not what the grader sends: compiled here instead
            pass
    return compile(source, name, "exec", dont_inherit=True)


def _with_torch(reply: dict, seen: str | None, key: str = "torch") -> dict:
    """The reply, with what was seen of torch's stand-in under key, if anything."""
    if seen:
        reply[key] = seen
    return reply


def address_space_bytes() -> int:
    """This process's virtual memory now (torch alone maps a few GB it never touches)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def run_executor(fd: int) -> None:
    os.setsid()  # its own process group, so it can be killed with everything it starts
    memory = address_space_bytes() + MEMORY_LIMIT_BYTES  # what the submission may add to the warm process
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, CPU_LIMIT_SECONDS),
                         (resource.RLIMIT_FSIZE, FILE_LIMIT_BYTES), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    if SANDBOXED:  # counted per user in the sandbox's own user namespace (outside it, the user may be the grader's)
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
    folder = os.path.join(SCRATCH, f"run-{os.getpid()}")
    os.makedirs(folder, exist_ok=True)
    os.chdir(folder)
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):  # output written straight to a file descriptor goes nowhere
        os.dup2(devnull, target)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    Executor(socket.socket(fileno=fd)).serve()


def _prctl(option: int, value: int) -> bool:
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except AttributeError:  # not Linux
        return False


def not_dumpable() -> None:
    """This process and every process it forks can no longer be read, written or traced by another process of the
    same user (its /proc/<pid>/mem, ptrace): only with a capability, which the sandbox drops. Inherited by fork, so
    an executor cannot reach the fork server, nor one executor another (a student can make its own process dumpable
    again, which exposes only itself)."""
    PR_SET_DUMPABLE = 4  # <linux/prctl.h>
    if not _prctl(PR_SET_DUMPABLE, 0) and SANDBOXED:
        raise SystemExit("the fork server could not make itself non-dumpable")


def no_new_huge_pages() -> None:
    """From now on this process, and every executor it forks, gets new memory in 4 kB pages; the warm heap keeps
    the huge pages it has, so a fork still copies one page-table entry per 2 MB of it (see FORK_FRIENDLY_MEMORY in
    worker.py). Without the call an executor's first touch of new heap memory zeroes 2 MB.
    """
    PR_SET_THP_DISABLE = 41  # <linux/prctl.h>; inherited by fork
    _prctl(PR_SET_THP_DISABLE, 1)  # not Linux: no transparent huge pages to turn off


# --- fork server -------------------------------------------------------------------------------------------------

SANDBOXED = os.environ.get("COURSE_SANDBOXED") == "1"  # in a PID namespace of our own: /proc shows only us


FEW_PROCESSES = 8  # killed by a reap, left to leave the process table by themselves (see reap)


def reap(own_pid: int, spawned: set[int]) -> int:
    """Kill what submissions left running, and empty the scratch folder.

    In the sandbox that is every process but this one and the sandbox's init (even those that left their process
    group); without it (--unsafe), only the process groups of the executors this server forked.
    """
    killed = 0
    if SANDBOXED:
        targets = [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) not in (own_pid, 1, os.getppid())]
        kill = os.kill
    else:
        targets, kill = list(spawned), os.killpg
    for pid in targets:
        try:
            kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
    spawned.clear()
    # killed processes leave the process table (and the pids limit) in a moment: after many (a fork bomb), wait for
    # them, so that the next submission finds the limit free; one or a few (the executor) are left to go by
    # themselves, since waiting for a process with torch in memory to tear down costs every notebook ~0.1 s
    wait = SANDBOXED and killed > FEW_PROCESSES
    deadline = time.monotonic() + 5
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                if not wait or time.monotonic() > deadline:  # unsandboxed, others' children may live on
                    break
                time.sleep(0.001)
        except ChildProcessError:  # none left: as the sandbox's init, every process in it was a child
            break
    for folder in (SCRATCH, "/tmp") if SANDBOXED else (SCRATCH,):  # the sandbox's /tmp is its own
        empty(folder, ON_THE_WAY_TO_BINDS)
    return killed


def bound_under_tmp() -> frozenset[str]:
    """The folders bubblewrap bound under /tmp (the course cloned into a temporary folder) and the folders on the way
    to them: emptying /tmp must not walk into the read-only Python installation at every reap."""
    found = set()
    try:
        with open("/proc/self/mountinfo") as mounts:
            for line in mounts:
                point = line.split()[4]
                while point.startswith("/tmp/"):
                    found.add(point)
                    point = os.path.dirname(point)
    except OSError:
        pass
    return frozenset(found)


ON_THE_WAY_TO_BINDS = bound_under_tmp() if SANDBOXED else frozenset()


def empty(folder: str, keep: frozenset[str]) -> None:
    """Remove everything in folder but the bound folders in keep; of a folder on the way to one, the rest."""
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        try:
            if path in keep:
                if not os.path.ismount(path):
                    empty(path, keep)
            elif os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def serve_forks(control: socket.socket) -> None:
    own_pid = os.getpid()
    spawned: set[int] = set()
    wire.send(control, {"ready": True, "pid": own_pid, "sandboxed": SANDBOXED})
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        if not message:
            return
        command = message.decode(errors="replace")
        if command == "spawn" and fds:
            try:
                pid = os.fork()
            except OSError as error:  # the process limit, held by what a submission started
                os.close(fds[0])
                wire.send(control, {"error": f"cannot start a process: {error}"})
                continue
            if pid == 0:
                control.close()
                try:
                    run_executor(fds[0])
                finally:
                    os._exit(0)
            os.close(fds[0])
            spawned.add(pid)
            wire.send(control, {"pid": pid})
        elif command.startswith("kill "):
            pid = int(command.split()[1])
            for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
            wire.send(control, {"killed": pid})
        elif command == "ping":
            wire.send(control, {"pong": True})
        elif command == "reap":
            wire.send(control, {"killed": reap(own_pid, spawned)})
        else:
            for fd in fds:
                os.close(fd)
            wire.send(control, {"error": f"unknown command {command!r}"})


if __name__ == "__main__":
    if WITHOUT_TORCH:
        torch_stand_in.install()
    not_dumpable()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.makedirs(SCRATCH, exist_ok=True)
    gc.disable()  # the imports make some 400,000 objects that all live on: collecting meanwhile finds nothing
    warm_up()     # and costs a quarter of a second
    gc.freeze()  # the warm objects stay out of every collection, so executors do not copy their pages by touching them
    gc.enable()
    no_new_huge_pages()
    serve_forks(socket.socket(fileno=int(sys.argv[1])))
