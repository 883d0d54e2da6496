"""Grade one notebook with the student's code in the sandbox and every verdict computed here.

The student's cells run, in order, in an executor process inside the sandbox (cells tagged `experiment` are kept
but not run). The hidden tests of a test cell run here, in the grader, in a namespace whose names stand for the
student's: functions become RemoteHandles (plain data in, plain data out), modules are imported here by name, plain
values are copied over. Its visible part runs in the student's process, where it can only make the cell fail: a
cell passes only when its hidden tests raise nothing here. Nothing the student's process prints or returns can make
a cell pass.

When the student's process dies or overruns its time (crash, os._exit, an endless loop), that cell fails, a new
process is started and the cells that ran before are replayed, and grading goes on with the next cell.

A function graded by hand is called in a student process without torch, in the sandbox's twin (Sandbox.by_hand),
so torch cannot do the work by any path, whatever the code names; the reading of the source (by_hand.py) stays as a
second line, and names what it finds. A notebook whose cells do not name torch beyond their imports is run and
graded in that process alone, unless a cell (or a call) uses torch's stand-in as it runs, which moves it to a
process with torch (StudentSession). A notebook that names torch runs its cells with torch from the first, and a
function graded by hand is called in a second process, without torch: before its first call, and before each later
one, the cells that ran since are replayed there (all but test cells, whose visible checks may use torch).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import importlib
import io
import pkgutil
import sys
import time
import types

import nbformat
from dataclasses import dataclass

import course

from autograder.grading import by_hand, engine
from autograder.checks import framework
from autograder import notebooks as nbs
from autograder.checks.handle import Handle, StudentError, lend
from autograder.checks.plain import NotPlainData, to_plain
from autograder.grading.sandbox.worker import ExecutorDied, ExecutorTimedOut, Sandbox, SandboxDied

IMPORTABLE_IN_GRADER = ("numpy", "math", "torch", "scipy", "course", "matplotlib", "sklearn", "random",
                        "itertools", "functools", "collections")

# the course package's modules, listed before any student code runs
COURSE_MODULES = frozenset(f"course.{m.name}" for m in pkgutil.iter_modules(course.__path__))


@dataclass(frozen=True)
class Timeouts:
    cell_seconds: float = 60.0          # one cell, or one call of a student function
    notebook_seconds: float = 300.0     # everything of one notebook


# the exceptions a student's function may raise whose name the grader repeats (a class of the student's own could be
# named after the inputs it saw)
KNOWN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                             if isinstance(value, type) and issubclass(value, BaseException)) | {"LinAlgError"}


def failed_call(name: str, error) -> str:
    """What the student reads when their function failed in a hidden test: the kind of exception (a known one), never
    its message. error: the executor's 'ValueError: <message>'."""
    kind = str(error or "").split(":", 1)[0].strip()
    if kind == "the result is not plain data":  # the executor's words, not the student's
        return f"{name} returned something that is not plain data (numbers, strings, lists, dicts, numpy arrays)"
    kind = kind if kind in KNOWN_EXCEPTIONS else "an exception"
    return (f"{name} raised {kind} on a hidden test's input (its message is not shown, as it could show that input; "
            "the visible checks show it)")


class RemoteHandle(Handle):
    """Calls a function that lives in the student's process."""

    def __init__(self, session: "StudentSession", name: str):
        super().__init__(name)
        self.session = session

    def _invoke(self, args, kwargs):
        if self.by_hand:
            found = self.session.source.torch_use(self.name)
            if found and found.startswith(by_hand.DYNAMIC_CODE):
                raise StudentError(f"{self.name} uses {found}: in an exercise by hand the grader must be able to "
                                   "read what runs, so no eval, exec, computed imports or sys.modules; use numpy "
                                   "only")
            if found:
                raise StudentError(f"{self.name} uses torch ({found}): this exercise is by hand, "
                                   "use numpy only (no torch, no autograd)")
        if self.name in self.session.lent:
            raise StudentError(f"{self.name} is graded after the course's {self.name} stood in for it in an earlier "
                               "cell: keep the test cells in the notebook's order")
        reply = self.session.call(self.name, args, kwargs, self.by_hand, self._stand_ins())
        # What the student's function prints or raises while a hidden test calls it could show that test's inputs
        # (the student's own, the same in every regrading: enough for a table of answers), so neither is passed on
        # in words; the visible checks, on inputs the student knows, show both.
        # said once: a check may call thousands of times
        if reply.get("stdout") and not getattr(self, "_said_printed", False):
            self._said_printed = True
            print(f"[what {self.name} prints while a hidden test calls it is not shown, as it could show that test's "
                  "inputs]")
        if reply.get("torch"):
            raise StudentError(f"{self.name} called {reply['torch']}: this exercise is by hand, "
                               "use numpy only (no torch, no autograd)")
        if not reply.get("ok"):
            cause = self.session.torch_in_cells if self.by_hand else None
            raise StudentError(failed_call(self.name, reply.get("error")) + (
                f" (functions graded by hand run without torch, and the notebook's use of {cause} failed there)"
                if cause else ""))
        try:
            return to_plain(reply.get("result"), f"what {self.name} returned")
        except NotPlainData as error:
            raise StudentError(str(error)) from None


    def _stand_ins(self) -> dict:
        """name -> answer(name, args, kwargs): the course's version of `name`, computed here, for this call only."""
        def answer(reference):
            def computed(name, args, kwargs):
                self.session.lent.add(name)  # from now on, an answer replayed could earn points: see _invoke
                return lend(reference, name, args, kwargs)
            return computed
        return {name: answer(reference) for name, reference in self.stand_ins.items()}


class Unavailable:
    """Stands for a student's object that cannot cross to the grader (a class instance, a generator, ...)."""

    def __init__(self, name: str, kind: str):
        self._message = f"{name} is a {kind}, which the grader cannot use; the graded functions work on plain data"

    def __getattr__(self, attribute):
        raise StudentError(self._message)

    def __call__(self, *args, **kwargs):
        raise StudentError(self._message)


def names_torch(source: str) -> bool:
    """Whether a cell's text names torch outside its import lines (a use, a comment): it runs in the process with
    torch. An import alone binds a stand-in that works as long as nothing uses it; a use the text does not show (of
    a name an import bound, a course function's, a computed import's) is caught by the stand-in as it happens."""
    return any("torch" in line for line in source.splitlines()
               if not line.lstrip().startswith(("import ", "from ")))


def shows_torch(notebook) -> bool:
    """Whether a cell the grader runs in the student's process names torch (see names_torch)."""
    return any(names_torch(nbs.remove_hidden_tests(cell.source) if nbs.is_test(cell) else cell.source)
               for cell in notebook.cells if cell.cell_type == "code" and not nbs.is_experiment(cell))


class StudentSession:
    """The student's processes for one notebook.

    Unless with_torch, the cells run in the process without torch (the sandbox's twin) until one needs torch: its
    text names torch beyond an import, or it uses torch's stand-in as it runs; so does a function not graded by
    hand that uses the stand-in when a hidden test calls it. Then the notebook moves for good to a process with
    torch, into which the cells that ran so far are replayed, and the cell (or call) runs again there: its result is
    the one that counts.
    After the move, functions graded by hand are called in a process without torch of its own: the one the cells
    ran in, where it ran exactly the cells before (a move before a cell ran; a test cell's, whose visible checks
    the grader need not keep out of it; a call's), else one started at their first call, into which the cells are
    replayed (see the module's docstring). Either process is restarted, with the earlier cells replayed, when it
    dies.
    """

    MAX_SANDBOX_RESTARTS = 3

    def __init__(self, sandbox: Sandbox, timeouts: Timeouts, seed_key: bytes | None = None,
                 with_torch: bool = False):
        """with_torch: the cells run with torch from the first (a notebook whose text shows it needs torch: its
        cells that ran without torch would run again with it when it moved, visible checks and all)."""
        self.sandbox, self.timeouts = sandbox, timeouts
        self.seed_key = seed_key  # of the hidden tests' inputs (framework.grading_seeds)
        self.deadline = time.monotonic() + timeouts.notebook_seconds
        self.replay: list[tuple[str, str]] = []
        self.source = by_hand.SourceReader()  # every cell sent to the student's process, read here for torch use
        self.sandbox_restarts = 0
        self.lent: set[str] = set()  # functions whose reference stood in for them during a call (Handle.stand_ins)
        self.torch_free = not with_torch  # the cells run in the process without torch, until one needs torch
        self.executor = None    # the process that runs the cells, started by the first one
        # once the cells run with torch: the process without torch for functions graded by hand, started at their
        # first call
        self.by_hand_executor = None
        self.by_hand_cells: list[tuple[str, str]] = []  # the cells it runs, in order ...
        self.by_hand_ran = 0                            # ... of which it has run this many
        self.torch_in_cells: str | None = None          # the first use of torch's stand-in by those cells

    def _spawn(self, sandbox: Sandbox):
        try:
            return sandbox.spawn()
        except SandboxDied:
            self._restart_sandbox(sandbox)
            return sandbox.spawn()

    def _restart_sandbox(self, sandbox: Sandbox) -> None:
        self.sandbox_restarts += 1
        if self.sandbox_restarts > self.MAX_SANDBOX_RESTARTS:
            raise ExecutorDied("the student's code keeps killing the sandbox")
        sandbox.restart()

    def _timeout(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ExecutorDied(f"the notebook's time limit of {self.timeouts.notebook_seconds:g} s is used up")
        return min(self.timeouts.cell_seconds, remaining)

    def _cells_sandbox(self) -> Sandbox:
        return self.sandbox.by_hand if self.torch_free else self.sandbox

    def restart_if_dead(self) -> None:
        """A process for the cells, with the cells that ran so far replayed, if there is none or it died."""
        if self.executor is not None and not self.executor.dead:
            return
        self.executor = self._spawn(self._cells_sandbox())
        for source, name in self.replay:
            try:
                self.executor.exec_cell(source, name, self._timeout())
            except ExecutorDied:
                self.executor = self._spawn(self._cells_sandbox())

    def _move_to_torch(self, keep_for_by_hand: bool) -> None:
        """From now on the cells run in a process with torch, started here, with the cells that ran so far.
        keep_for_by_hand: the process without torch has run those cells and nothing of another (see the class's
        docstring), and goes on as the one for functions graded by hand."""
        without_torch = self.executor
        self.torch_free, self.executor = False, None
        if without_torch is not None and not without_torch.dead:
            if keep_for_by_hand:
                self.by_hand_executor, self.by_hand_ran = without_torch, len(self.by_hand_cells)
            else:
                without_torch.kill()
        self.restart_if_dead()

    def run_cell(self, source: str, name: str, keep: bool = True, by_hand_too: bool = True) -> dict:
        """Execute a cell; a cell that ran without error is replayed after a restart (when keep). by_hand_too: the
        process for functions graded by hand runs it as well, unless it stopped the student's process here.

        A cell after which the sandbox no longer answers killed it: the cell fails, the sandbox is started anew
        and the earlier cells are replayed. So it is after a MemoryError, which may leave the memory taken.
        """
        if self.torch_free and names_torch(source):
            self._move_to_torch(keep_for_by_hand=True)  # before the cell ran there
        self.restart_if_dead()
        self.source.ran(source)
        if by_hand_too:  # taken back below if it stops the process
            self.by_hand_cells.append((source, name))
        reply = self._execute(source, name)
        if self.torch_free and reply.get("torch"):  # it used torch's stand-in: what it does with torch counts
            # a cell that defines functions stopped at the use; the process for those graded by hand gets it whole
            self._move_to_torch(keep_for_by_hand=not by_hand_too)
            reply = self._execute(source, name)
        if by_hand_too and (self.executor.dead or str(reply.get("error", "")).startswith("MemoryError")):
            self.by_hand_cells.pop()
        sandbox = self.executor.sandbox
        # a cell that ran to its end did not kill the sandbox: the fork server is the init of the sandbox's processes,
        # and its end ends them all, the student's process before it answers (so no round trip to it per cell)
        if not reply.get("ok") and not sandbox.alive():
            self.executor.kill()
            self._restart_sandbox(sandbox)
            return {"ok": False, "error": "StudentError: the grader's sandbox was killed during this cell, by this "
                                          "cell or by something an earlier cell started", "stdout": ""}
        if str(reply.get("error", "")).startswith("MemoryError"):
            # what the cell allocated may still be held: start afresh (earlier cells replayed), so only it fails
            self.executor.kill()
        if reply.get("ok") and keep:
            self.replay.append((source, name))
        return reply

    def _execute(self, source: str, name: str) -> dict:
        """The cell's reply from the process that runs the cells; a process that died or overran fails the cell."""
        try:
            return self.executor.exec_cell(source, name, self._timeout())
        except ExecutorTimedOut as died:
            return {"ok": False, "error": f"StudentError: the cell ran out of time: {died}", "stdout": ""}
        except ExecutorDied as died:
            # the running cell is blamed; a delayed kill (from a thread or process an earlier cell started) lands
            # on whichever cell runs when it strikes, and the message says so
            return {"ok": False, "error": f"StudentError: the student process stopped during this cell ({died}), "
                                          "stopped by this cell or by something an earlier cell started",
                    "stdout": ""}

    def describe(self, names: list[str]) -> dict:
        self.restart_if_dead()
        return self.executor.describe(names, self._timeout())

    def call(self, name, args, kwargs, by_hand, stand_ins: dict | None = None) -> dict:
        try:
            if by_hand:
                return self._by_hand_executor().call(name, args, kwargs, True, self._timeout(), stand_ins)
            if self.executor is None:
                self.restart_if_dead()
            reply = self.executor.call(name, args, kwargs, False, self._timeout(), stand_ins)
            if self.torch_free and (reply.get("torch") or reply.get("torch_look")):
                # it uses torch, and is not graded by hand: called again with torch
                self._move_to_torch(keep_for_by_hand=True)
                reply = self.executor.call(name, args, kwargs, False, self._timeout(), stand_ins)
            return reply
        except ExecutorDied as died:
            raise StudentError(f"{name}: {died}") from None

    def _by_hand_executor(self):
        """A process without torch in which every cell that ran so far ran too: the one that runs the cells, while
        they run without torch; after the move to torch, the one kept or started for these calls, into which the
        cells that ran since are replayed (within the notebook's time left: each ran within the cell limit in the
        other process)."""
        if self.torch_free:
            self.restart_if_dead()
            return self.executor
        if self.by_hand_executor is None or self.by_hand_executor.dead:
            self.by_hand_executor = self._spawn(self.sandbox.by_hand)
            self.by_hand_ran, self.torch_in_cells = 0, None
        if self.by_hand_ran < len(self.by_hand_cells):
            self._timeout()  # ExecutorDied when the notebook's time is used up
            reply = self.by_hand_executor.replay(self.by_hand_cells[self.by_hand_ran:],
                                                 self.deadline - time.monotonic())
            self.by_hand_ran = len(self.by_hand_cells)
            self.torch_in_cells = self.torch_in_cells or reply.get("torch")
        return self.by_hand_executor

    def close(self) -> None:
        for executor in (self.executor, self.by_hand_executor):
            if executor is not None:
                executor.kill()


@functools.lru_cache(maxsize=1024)  # test cells are the course's own: the same in every submission
def loaded_names(source: str) -> tuple[str, ...]:
    """Names a cell reads that are not Python builtins."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return tuple(sorted(n for n in names if not hasattr(builtins, n)))


@functools.lru_cache(maxsize=1024)
def _compiled(source: str, name: str):
    return compile(source, name, "exec")


def trusted_module(name):
    """The module of that name if the grader trusts it, else None.

    The name comes from the student's process, and importing a module runs its code here: so only the packages
    the grader trusts and the course's own modules, as they were when the grader started, may be imported; any
    other module must have been imported by the grader already (numpy.linalg, torch.nn.functional, ...).
    """
    if type(name) is not str or name.split(".")[0] not in IMPORTABLE_IN_GRADER:
        return None
    module = sys.modules.get(name)
    if module is None and (name in IMPORTABLE_IN_GRADER or name in COURSE_MODULES):
        try:
            module = importlib.import_module(name)
        except Exception:
            return None
    return module if isinstance(module, types.ModuleType) else None


def trusted_function(name):
    """'course.module:function' -> that function of a course module the grader has imported, else None."""
    if type(name) is not str or not name.startswith("course."):
        return None
    module_name, _, function = name.partition(":")
    module = trusted_module(module_name)
    found = getattr(module, function, None) if function.isidentifier() else None
    return found if isinstance(found, types.FunctionType) else None


def grader_namespace(session: StudentSession, source: str) -> dict:
    """The namespace a test cell runs in, here: the student's names as handles, modules and copied values."""
    namespace = {"__builtins__": builtins, "__name__": "__main__"}
    for name, description in session.describe(list(loaded_names(source))).items():
        kind = description.get("kind")
        if kind == "function":
            namespace[name] = RemoteHandle(session, name)
        elif kind == "course_function" and trusted_function(description.get("name")) is not None:
            namespace[name] = trusted_function(description["name"])  # the course's own code: run it here
        elif kind == "module" and trusted_module(description.get("module")) is not None:
            namespace[name] = trusted_module(description["module"])
        elif kind == "value":
            try:
                namespace[name] = to_plain(description.get("value"))
            except NotPlainData:
                namespace[name] = Unavailable(name, "value that is not plain data")
        else:
            namespace[name] = Unavailable(name, str(description.get("type", "object")))
    return namespace


def run_test_cell(session: StudentSession, source: str, name: str) -> tuple[bool, str, str]:
    """Run a test cell here. Returns (passed, printed text, failure message)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), framework.grading_seeds(session.seed_key):
        try:
            namespace = grader_namespace(session, source)
            exec(_compiled(source, name), namespace)
        except AssertionError as failure:  # CheckFailed is one
            return False, printed.getvalue(), f"{type(failure).__name__}: {failure}".rstrip(": ")
        except StudentError as failure:
            return False, printed.getvalue(), f"StudentError: {failure}"
        except ExecutorDied as died:
            return False, printed.getvalue(), f"StudentError: {died}"
        except BaseException as error:  # SystemExit and all: this cell fails, grading goes on
            return False, printed.getvalue(), f"{type(error).__name__}: {error}"
    return True, printed.getvalue(), ""


def grade_test_cell(session: StudentSession, source: str, name: str) -> tuple[bool, str, str]:
    """A test cell: its hidden tests run here, its visible part in the student's process, in the kernel's order.

    The cell passes when both raise nothing, as in a notebook. The student's process can make a cell fail (the
    visible part is the student's own sanity check), never pass: that takes the hidden tests, which run here. A cell
    without hidden tests is run whole here as well. Hidden tests that come first and fail stop the cell, so the
    visible part is not run (names it defines stay undefined, as under nbgrader).
    """
    hidden, visible = nbs.hidden_tests(source), nbs.remove_hidden_tests(source)
    if not hidden.strip():
        reply = session.run_cell(visible, name, keep=True, by_hand_too=False)
        passed, printed, message = run_test_cell(session, source, name)
        return passed, reply.get("stdout", "") + printed, message
    hidden_first = source.lstrip().startswith(nbs.HIDDEN_BEGIN)
    printed = ""
    if hidden_first:
        passed, printed, message = run_test_cell(session, hidden, name)
        if not passed:
            return False, printed, message
    if visible.strip():
        reply = session.run_cell(visible, name, keep=True, by_hand_too=False)
        printed += reply.get("stdout", "")
        if not reply.get("ok"):
            return False, printed, reply.get("error", "Error: the cell failed")
    if hidden_first:
        return True, printed, ""
    passed, more, message = run_test_cell(session, hidden, name)
    return passed, printed + more, message


def _stream(text: str) -> list:
    return [{"output_type": "stream", "name": "stdout", "text": text}] if text else []


def _error(message: str) -> dict:
    ename, _, evalue = message.partition(": ")
    return {"output_type": "error", "ename": ename or "Error", "evalue": evalue, "traceback": message.split("\n")}


def grade_notebook(sandbox: Sandbox, submission, source, timeouts: Timeouts = Timeouts(), checksums=None,
                   seed_key: bytes | None = None):
    """Grade a submitted notebook against its source. Returns (engine.NotebookGrade, graded notebook).

    checksums: engine.released_checksums(source), when the caller has them already.
    seed_key: the student's key for the hidden tests' inputs (framework.grading_seeds); None: seed 0.
    """
    graded = engine.restore_locked_cells(submission, source, checksums)
    session = StudentSession(sandbox, timeouts, seed_key, with_torch=shows_torch(graded))
    try:
        for index, cell in enumerate(graded.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs, cell.execution_count = [], None
            if nbs.is_experiment(cell) or not cell.source.strip():
                continue
            name = nbs.grade_id(cell) or f"cell-{index}"
            if nbs.is_test(cell):
                passed, printed, message = grade_test_cell(session, cell.source, name)
                outputs = _stream(printed)
                if not passed:
                    outputs.append(_error(message))
            else:
                reply = session.run_cell(cell.source, name)
                outputs = _stream(reply.get("stdout", ""))
                if not reply.get("ok"):
                    outputs.append(_error(reply.get("error", "Error: the cell failed")))
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            cell.execution_count = index + 1
    finally:
        session.close()
    return engine.score_cells(graded), graded
