"""Self-study grading in the learner's own process, with the checks and messages of `course grade`.

Two uses:
- in a notebook's kernel (`course.self_check.check()`): the hidden tests of the exercises the kernel has defined,
  taken from the source notebook, run on a copy of its names, in a second, without touching the learner's
  variables (`check_namespace`);
- `course check` and `course progress`: `grade_here` runs a notebook's cells in this process (experiments
  skipped), each test cell whole as the source has it, in order, as a kernel runs them.
The checks are the ones of `autograder` that `course grade` uses, so a cell earns its points exactly when `course
grade` gives them (tests/test_self_check.py shows it on the demo class). There is no sandbox: the code is the
learner's own, run as their notebook runs it. What a cell prints is kept out of the way; a failing cell's message
is the one `course grade` shows.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import json
import os
import random
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT

CELL_SECONDS = 120  # as engine.CELL_TIMEOUT_SECONDS: one cell of `course check` that runs longer fails


@dataclass(frozen=True)
class TestCell:
    """The hidden tests of a test cell of a source notebook, and the learner's names they check."""

    grade_id: str
    points: float
    hidden: str                 # the hidden tests' code: imports a check and calls it on the learner's functions
    functions: tuple[str, ...]  # the names it reads and does not define itself: the exercise's functions


@dataclass(frozen=True)
class Source:
    assignment: str
    path: Path
    test_cells: tuple[TestCell, ...]
    manual: tuple[tuple[str, float], ...]  # (grade id, points) of the written answers, graded by hand


@dataclass
class SelfCheck:
    """What a self-check found: the graded cells it ran, and those the kernel cannot run yet (missing names)."""

    title: str
    grade: engine.NotebookGrade
    not_defined: list[tuple[TestCell, list[str]]] = field(default_factory=list)


# --- the source notebooks -------------------------------------------------------------------------------------

def _bound_and_loaded(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds, names it reads) at any depth; a cell that does not parse binds and reads nothing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    bound, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound, loaded


def _free_names(source: str) -> tuple[str, ...]:
    bound, loaded = _bound_and_loaded(source)
    return tuple(sorted(n for n in loaded - bound if not hasattr(builtins, n)))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


@functools.lru_cache(maxsize=64)
def _load_source(path: Path, assignment: str, mtime: float) -> Source:
    tests, manual = [], []
    for cell in _read_json(path)["cells"]:
        if nbs.is_test(cell):
            text = _cell_text(cell)
            hidden = nbs.hidden_tests(text)
            tests.append(TestCell(nbs.grade_id(cell), nbs.points(cell), hidden, _free_names(hidden)))
        elif nbs.is_grade(cell):
            manual.append((nbs.grade_id(cell), nbs.points(cell)))
    return Source(assignment, path, tuple(tests), tuple(manual))


def load_source(assignment: str, path: Path) -> Source:
    """The test cells and written answers of a source notebook (read again when the file changes)."""
    return _load_source(path, assignment, path.stat().st_mtime)


@functools.lru_cache(maxsize=8)
def _grade_ids_of_sources(root: Path, stamp: tuple) -> list[tuple[str, Path, frozenset]]:
    return [(name, path, frozenset(nbs.grade_id(c) for c in _read_json(path)["cells"]) - {None})
            for name in nbs.assignments(root) for path in nbs.assignment_notebooks(root, name)]


def find_source(grade_ids, assignment: str | None = None, root: Path = SOURCE_ROOT) -> Source:
    """The source notebook whose grade ids a notebook shares most (as engine.find_source, from a cached index)."""
    paths = sorted(root.glob("*/*.ipynb"))
    index = _grade_ids_of_sources(root, tuple((p, p.stat().st_mtime) for p in paths))
    ids = set(grade_ids) - {None}
    best, best_overlap = None, 0
    for name, path, source_ids in index:
        if assignment and name != assignment:
            continue
        if len(ids & source_ids) > best_overlap:
            best, best_overlap = (name, path), len(ids & source_ids)
    if best is None:
        raise nbs.NotebookError("the notebook shares no graded cell with any assignment of this course"
                                + (f" ({assignment})" if assignment else ""))
    return load_source(*best)


def source_for_names(namespace: dict, root: Path = SOURCE_ROOT) -> Source:
    """The source notebook whose exercises' functions the namespace defines most: where no notebook file is known."""
    defined = {name for name, value in namespace.items() if callable(value)}
    best, best_overlap = None, 0
    for path in sorted(root.glob("*/*.ipynb")):
        source = load_source(path.parent.name, path)
        overlap = len(defined & {f for cell in source.test_cells for f in cell.functions})
        if overlap > best_overlap:
            best, best_overlap = source, overlap
    if best is None:
        raise nbs.NotebookError("this kernel defines none of the functions of the course's exercises yet")
    return best


# --- running a test cell --------------------------------------------------------------------------------------

class CellTimedOut(Exception):
    """A cell ran longer than its time."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the cell after seconds (SIGALRM, main thread of a POSIX process only; elsewhere no limit)."""
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise CellTimedOut(f"the cell ran out of time ({seconds:g} s)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _quiet():
    """What a cell prints goes nowhere (a kernel's display of new figures included)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    figures = set(pyplot.get_fignums()) if pyplot else set()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    for number in set(pyplot.get_fignums()) - figures if pyplot else ():
        pyplot.close(number)


def failure_message(error: BaseException) -> str:
    """The message of a failed cell, as the grader words it: the exception's type and text."""
    return f"{type(error).__name__}: {error}".rstrip(": ")


def run_cell(source: str, name: str, namespace: dict, seconds: float | None = CELL_SECONDS) -> str | None:
    """Run a cell's source in namespace, its output discarded; the failure message, or None when it passed."""
    try:
        code = compile(source, name, "exec")
        with _quiet(), _time_limit(seconds):
            exec(code, namespace)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: a cell that exits fails, the others still run
        return failure_message(error)
    return None


@contextlib.contextmanager
def _random_state_kept():
    """The global random generators as they were: a check must not change what the learner's next cell draws."""
    numpy, torch = sys.modules.get("numpy"), sys.modules.get("torch")
    states = (random.getstate(), numpy.random.get_state() if numpy else None,
              torch.get_rng_state() if torch else None)
    try:
        yield
    finally:
        random.setstate(states[0])
        if numpy:
            numpy.random.set_state(states[1])
        if torch and states[2] is not None:
            torch.set_rng_state(states[2])


def missing_names(cell: TestCell, namespace: dict) -> list[str]:
    return [n for n in cell.functions if n not in namespace]


def check_namespace(namespace: dict, source: Source, exercise: str | None = None) -> SelfCheck:
    """Run the hidden tests (of one exercise, when given) whose functions the namespace defines, on a copy of it.

    Only the hidden tests: they depend on the functions they check alone, while a visible check may use what
    cells before it left in the kernel (and the learner runs those in the notebook). So a cell whose hidden tests
    pass here but whose visible check fails gets its points here and none from `course grade`.

    exercise: a function name (every test cell whose hidden tests check it) or a test cell's grade id.
    A ValueError names the exercises when there is no such exercise.
    """
    cells = list(source.test_cells)
    if exercise is not None:
        cells = [c for c in cells if exercise == c.grade_id or exercise in c.functions]
        if not cells:
            known = sorted({f for c in source.test_cells for f in c.functions})
            raise ValueError(f"{source.assignment} has no exercise {exercise!r}; its exercises: {', '.join(known)}")
    grades, not_defined = [], []
    with _random_state_kept():
        for cell in cells:
            missing = missing_names(cell, namespace)
            if missing:
                not_defined.append((cell, missing))
                continue
            message = run_cell(cell.hidden, cell.grade_id, dict(namespace))
            grades.append(engine.CellGrade(cell.grade_id, 0.0 if message else cell.points, cell.points,
                                           message or ""))
    return SelfCheck(f"{source.assignment}/{source.path.name}", engine.NotebookGrade(grades), not_defined)


# --- a whole notebook in this process ---------------------------------------------------------------------------

def grade_here(submission, source, workdir: Path | None = None,
               seconds: float | None = CELL_SECONDS) -> engine.NotebookGrade:
    """Grade a notebook against its source notebook (NotebookNodes) by running its cells here, in order.

    The cells are the submission's with its locked and test cells as the source has them (deleted test cells put
    back, engine.restore_locked_cells); cells tagged experiment are skipped. A test cell passes when it raises
    nothing; written answers are left to a person. workdir: the folder the cells run in (the notebook's own).
    """
    # A written answer left as released gets 0 without a person, as under nbgrader: the checksum of its release
    # tells (engine.auto_comments). Computing it imports nbgrader (a second), so only where an answer may be
    # untouched: where it still holds the text that stands in for a solution.
    maybe_untouched = any(nbs.is_grade(c) and nbs.is_solution(c) and any(s in c.get("source", "") for s in _stubs())
                          for c in submission.cells)
    checksums = engine.released_checksums(source) if maybe_untouched else {nbs.grade_id(c): "" for c in source.cells}
    graded = engine.restore_locked_cells(submission, source, checksums)
    untouched = {gid for gid, comment in engine.auto_comments(graded).items() if comment} if maybe_untouched else set()
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    os.environ.setdefault("MPLBACKEND", "Agg")  # plots of the learner's cells are drawn nowhere
    grades = []
    with _chdir(workdir):
        for index, cell in enumerate(graded.cells):
            runs = cell.cell_type == "code" and not nbs.is_experiment(cell) and cell.source.strip()
            message = run_cell(cell.source, nbs.grade_id(cell) or f"cell-{index}", namespace, seconds) if runs else None
            if nbs.is_test(cell):
                grades.append(engine.CellGrade(nbs.grade_id(cell), 0.0 if message else nbs.points(cell),
                                               nbs.points(cell), message or ""))
            elif nbs.is_grade(cell) and nbs.grade_id(cell) in untouched:
                grades.append(engine.CellGrade(nbs.grade_id(cell), 0.0, nbs.points(cell), engine.NO_RESPONSE))
            elif nbs.is_grade(cell):  # a written answer or a task
                grades.append(engine.CellGrade(nbs.grade_id(cell), None, nbs.points(cell), "graded by hand"))
    return engine.NotebookGrade(grades)


@functools.lru_cache(maxsize=1)
def _stubs() -> tuple[str, ...]:
    """The texts the release puts in place of a solution (nbgrader_config.py's ClearSolutions stubs)."""
    clear = engine.nbgrader_config().ClearSolutions
    code = clear.code_stub.get("python", "") if "code_stub" in clear else ""
    text = clear.text_stub if "text_stub" in clear else ""
    return tuple(line for stub in (code, text) for line in stub.split("\n")[:1] if line.strip())


@contextlib.contextmanager
def _chdir(folder: Path | None):
    if folder is None:
        yield
        return
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
