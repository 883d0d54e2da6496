"""How far one mistake reaches: which test cells of a solution notebook fail when one function in it is wrong.

For every assignment, each catalogued Mistake (its `implementation` replaces `mistake.replaces or
check.functions[0]`) is put alone into the otherwise correct source notebook, and each answer cell is replaced
alone by its released stub. The notebook is then graded with `course grade`'s cell rule: in a test cell the hidden
tests run first, and when they fail the visible part is not run; experiments are skipped. A test cell that fails
although it does not grade the wrong function has *spilled*: the student loses points in a correct exercise.

Which cells grade a function is read from the hidden tests: a cell grades the functions whose names its hidden
tests pass to a check (`check_rotate(rotate)` grades `rotate`).

Fast by construction, in one process (the student's kernel under stock nbgrader; the checks call the functions
through LocalHandles, as `grader.grade_test_cell` does in the kernel's order):
- the solution notebook runs once; the namespace before and after each cell is kept (values copied);
- for one replacement, the namespace is put back to its state before the replaced answer cell, and the cells after it
  are walked in order. A cell whose code cannot reach a *tainted* name (the replaced function, and whatever an
  affected cell defines) is not run: its effect on the namespace is replayed from the solution run, since nothing it
  reads differs. Reaching is static: the names a cell's code loads, followed through the notebook's own functions
  (the global names their code objects load), so `rotate` reaches `affine_sample` when it calls it;
- a test cell that grades the replaced function is not run either: it may lose its points. It is taken to fail in
  its hidden tests, the worst case for the cells after it, so its visible part defines nothing (a later cell that
  uses one of its names has spilled);
- every other affected cell runs, and a failure there is a spill; but the hidden tests of a cell whose checks reach
  nothing tainted (the functions a check is given are followed past the names it lends, its stand_ins) pass as in
  the solution run, so only the visible part runs.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import re
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, check_module
from autograder.checks.framework import Check


@dataclass
class Cell:
    index: int
    kind: str                 # "answer", "test" or "code"
    source: str               # what runs (solution markers removed)
    grade_id: str | None
    points: float = 0.0
    hidden: str = ""
    visible: str = ""
    hidden_first: bool = True
    defines: tuple[str, ...] = ()     # top-level names the cell assigns
    # of those, the ones whose values a wrong function can change: not functions it defines (a function's own
    # behaviour is followed through the names it loads)
    values: tuple[str, ...] = ()
    grades: frozenset = frozenset()   # functions whose names the hidden tests pass to a check


@dataclass(frozen=True)
class Spill:
    replaced: str       # the function (or answer cell) that was made wrong
    by: str             # the mistake's name, or "released stub"
    cell: str           # the grade id of the test cell that failed although it does not grade `replaced`
    points: float
    error: str


@dataclass
class Report:
    assignment: str
    replacements: int = 0
    cells_run: int = 0
    spills: list[Spill] = field(default_factory=list)

    @property
    def spilled_cells(self) -> set[str]:
        return {s.cell for s in self.spills}

    def spilled_points(self, points_of: dict[str, float]) -> float:
        return sum(points_of[c] for c in self.spilled_cells)


def _loaded_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - set(dir(builtins))


def _defined_functions(source: str) -> set[str]:
    """The names a cell binds with def or class statements at its top level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))}


def _assigned_names(source: str) -> set[str]:
    """Top-level names a cell binds (assignments, defs, imports, for targets)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names, todo = set(), list(tree.body)
    while todo:  # the module's statements, not the bodies of its functions and classes (their names are local)
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:  # except ... as name
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _bound_anywhere(source: str) -> set[str]:
    """Every name a cell binds, at any depth: assignments, imports, defs, except ... as, and parameters of functions
    and lambdas."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    bound = _assigned_names(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def borrowed_names(cells: list[Cell]) -> dict[str, dict[str, str]]:
    """{test cell: {name: the earlier test cell that defines it}} for the names a test cell uses that only another test
    cell defines (no setup, helper or answer cell before it does). Such a cell fails whenever the other cell's
    hidden tests do, since its visible part, which defines the name, then does not run."""
    by_test, by_other, found = {}, set(), {}
    for cell in cells:
        if cell.kind == "test":
            needed = _loaded_names(cell.source) - _bound_anywhere(cell.source)
            borrowed = {name: by_test[name] for name in sorted(needed) if name in by_test and name not in by_other}
            if borrowed:
                found[cell.grade_id] = borrowed
            for name in cell.defines:
                by_test.setdefault(name, cell.grade_id)
        else:
            by_other |= set(cell.defines)
    return found


def _graded_names(hidden: str) -> frozenset:
    """The names the hidden tests pass to checks."""
    try:
        tree = ast.parse(hidden)
    except SyntaxError:
        return frozenset()
    return frozenset(arg.id for call in ast.walk(tree) if isinstance(call, ast.Call)
                     for arg in call.args if isinstance(arg, ast.Name))


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _copy_value(value):
    """A copy of a data value (so that a cell that changes it in place cannot change the kept state); functions,
    modules and classes as they are."""
    if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
        return value
    if isinstance(value, (np.ndarray, np.random.Generator, list, dict, tuple, set)):
        try:
            return copy.deepcopy(value)
        except Exception:
            return value
    return value


def read_cells(assignment: str) -> tuple[list[Cell], dict[str, str]]:
    """The code cells of an assignment's source notebook that course grade runs (experiments left out), and the
    released stub of each answer cell."""
    (path,) = nbs.assignment_notebooks(SOURCE_ROOT, assignment)
    source = nbs.read_notebook(path)
    released = {nbs.grade_id(c): c.source for c in engine.release_version(source).cells if nbs.grade_id(c)}
    cells, stubs = [], {}
    for cell in source.cells:
        if cell.cell_type != "code" or nbs.is_experiment(cell) or not cell.source.strip():
            continue
        gid = nbs.grade_id(cell)
        if nbs.is_test(cell):
            hidden, visible = nbs.hidden_tests(cell.source), nbs.remove_hidden_tests(cell.source)
            item = Cell(len(cells), "test", cell.source, gid, nbs.points(cell), hidden, visible,
                        cell.source.lstrip().startswith(nbs.HIDDEN_BEGIN), grades=_graded_names(hidden))
        elif nbs.is_solution(cell):
            item = Cell(len(cells), "answer", nbs.strip_solution_markers(cell.source), gid)
            stubs[gid] = released[gid]
        else:
            item = Cell(len(cells), "code", cell.source, gid)
        item.defines = tuple(sorted(_assigned_names(item.source)))
        item.values = tuple(sorted(set(item.defines) - _defined_functions(item.source)))
        cells.append(item)
    return cells, stubs


class Notebook:
    """A source notebook run once as its worked solution, in one namespace, with the state around every cell kept."""

    def __init__(self, assignment: str):
        self.assignment = assignment
        self.cells, self.stubs = read_cells(assignment)
        self.namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.before: list[dict] = []
        self.changed: list[dict] = []   # per cell: name -> value after the cell (copied), for names it bound anew
        self.removed: list[set] = []
        self.failures: dict[str, str] = {}
        for cell in self.cells:
            state = dict(self.namespace)
            self.before.append({k: _copy_value(v) for k, v in state.items()})
            passed, error = self.run(cell)
            if cell.kind == "test" and not passed:
                self.failures[cell.grade_id] = error
            self.changed.append({k: _copy_value(v) for k, v in self.namespace.items()
                                 if k not in state or state[k] is not v})
            self.removed.append(set(state) - set(self.namespace))
        self.points = {c.grade_id: c.points for c in self.cells if c.kind == "test"}
        # computed now, from the solution's functions (a replacement must not shorten what a cell reaches)
        self.reaches = [self.reach(_loaded_names(c.source)) for c in self.cells]
        self.hidden_reaches = [self.hidden_reach(c) for c in self.cells]

    # --- running cells ------------------------------------------------------------------------------------------
    def _exec(self, source: str, name: str) -> tuple[bool, str]:
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(source, name, "exec"), self.namespace)
        except BaseException as error:  # noqa: BLE001 - a failing cell, whatever it raised
            return False, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        return True, ""

    def run(self, cell: Cell, source: str | None = None) -> tuple[bool, str]:
        """Run a cell by course grade's rule; (passed, error) for a test cell."""
        name = cell.grade_id or f"cell-{cell.index}"
        if cell.kind != "test":
            return self._exec(source if source is not None else cell.source, name)
        if not cell.hidden.strip():
            return self._exec(cell.source, name)
        if cell.hidden_first:
            passed, error = self._exec(cell.hidden, name)
            if not passed:
                return False, error
            return self._exec(cell.visible, name) if cell.visible.strip() else (True, "")
        passed, error = self._exec(cell.visible, name)
        if not passed:
            return False, error
        return self._exec(cell.hidden, name)

    # --- what reaches what --------------------------------------------------------------------------------------
    def reach(self, names: set[str], lent: frozenset = frozenset()) -> set[str]:
        """names, and every global name the notebook's own functions among them load, transitively; names in lent
        are not followed (a check lends the course's version of them, see framework.check's stand_ins)."""
        seen, todo = set(), [n for n in names if n not in lent]
        while todo:
            name = todo.pop()
            if name in seen or name in lent:
                continue
            seen.add(name)
            value = self.namespace.get(name)
            if isinstance(value, types.FunctionType) and value.__globals__ is self.namespace:
                todo.extend(_code_names(value.__code__) - seen)
        return seen

    def hidden_reach(self, cell: Cell) -> set[str]:
        """What a test cell's hidden tests reach: the functions a check is given, followed past the names it lends
        (its stand_ins), and every other name as it is."""
        if cell.kind != "test" or not cell.hidden.strip():
            return self.reaches[cell.index]
        reached, given = set(), set()
        nodes = list(ast.walk(ast.parse(cell.hidden)))
        for node in nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and isinstance(self.namespace.get(node.func.id), Check):
                lent = frozenset(self.namespace[node.func.id].stand_ins)
                arguments = [a for a in node.args if isinstance(a, ast.Name)]
                reached |= self.reach({a.id for a in arguments}, lent) | {node.func.id}
                given |= {id(a) for a in arguments} | {id(node.func)}
        for node in nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in given:
                reached |= self.reach({node.id})
        return reached

    def cell_reach(self, cell: Cell) -> set[str]:
        return self.reaches[cell.index]

    # --- one replacement ----------------------------------------------------------------------------------------
    def answer_cell_of(self, function: str) -> Cell:
        for cell in self.cells:
            if cell.kind == "answer" and function in cell.defines:
                return cell
        raise LookupError(f"{self.assignment}: no answer cell defines {function}")

    def _restore(self, index: int) -> None:
        self.namespace.clear()
        self.namespace.update({k: _copy_value(v) for k, v in self.before[index].items()})

    def _replay(self, index: int, skip: set[str] = frozenset()) -> None:
        for name in self.removed[index]:
            self.namespace.pop(name, None)
        self.namespace.update({k: _copy_value(v) for k, v in self.changed[index].items() if k not in skip})

    def replace(self, functions: set[str], answer: Cell, install) -> tuple[dict[str, str], int]:
        """Put a wrong version of `functions` in (install(namespace) after the answer cell's own effect) and walk the
        cells after it. Returns ({grade id: error} of the failing test cells that do not grade them, cells run)."""
        failed, ran = {}, 0
        self._restore(answer.index)
        try:
            self._replay(answer.index)
            install(self.namespace)
            tainted = set(functions)
            for cell in self.cells[answer.index + 1:]:
                graded_here = cell.kind == "test" and bool(cell.grades & functions)
                if not (self.cell_reach(cell) & tainted) and not graded_here:
                    self._replay(cell.index)
                    continue
                if graded_here:
                    # may lose its points; taken to fail in its hidden tests, so its visible part defines nothing
                    if not cell.hidden_first:
                        self._exec(cell.visible, cell.grade_id)
                        ran += 1
                    tainted |= set(cell.values)
                    continue
                ran += 1
                if cell.kind == "test" and cell.hidden.strip() and not (self.hidden_reaches[cell.index] & tainted):
                    # the hidden tests reach nothing that differs: they pass as in the solution; the visible part runs
                    passed, error = self._exec(cell.visible, cell.grade_id) if cell.visible.strip() else (True, "")
                else:
                    passed, error = self.run(cell)
                if cell.kind == "test" and not passed:
                    failed[cell.grade_id] = error
                tainted |= set(cell.values)
        finally:
            self._restore(len(self.cells) - 1)
            self._replay(len(self.cells) - 1)
        return failed, ran


def mistakes(assignment: str):
    """(function, mistake) for every distinct catalogued Mistake of an assignment's checks."""
    seen, found = set(), []
    for chk in check_module(assignment).CHECKS:
        for mistake in chk.mistakes:
            function = mistake.replaces or chk.functions[0]
            key = (function, id(mistake.implementation))
            if key not in seen:
                seen.add(key)
                found.append((function, mistake))
    return found


_STUB_NAME = re.compile(r"^def (\w+)", re.M)


def measure(assignment: str) -> Report:
    notebook = Notebook(assignment)
    report = Report(assignment)
    if notebook.failures:
        raise AssertionError(f"{assignment}: the solution fails {notebook.failures}")
    for function, mistake in mistakes(assignment):
        answer = notebook.answer_cell_of(function)
        failed, ran = notebook.replace({function}, answer,
                                       lambda ns, f=function, impl=mistake.implementation: ns.__setitem__(f, impl))
        report.replacements += 1
        report.cells_run += ran
        report.spills += [Spill(function, mistake.name, gid, notebook.points[gid], error)
                          for gid, error in failed.items()]
    for cell in notebook.cells:
        if cell.kind != "answer" or not _STUB_NAME.search(notebook.stubs[cell.grade_id]):
            continue
        own = set(cell.defines)

        def install(ns, cell=cell):
            exec(compile(notebook.stubs[cell.grade_id], cell.grade_id, "exec"), ns)
        failed, ran = notebook.replace(own, cell, install)
        report.replacements += 1
        report.cells_run += ran
        report.spills += [Spill(cell.grade_id, "released stub", gid, notebook.points[gid], error)
                          for gid, error in failed.items()]
    report.points_of = notebook.points
    return report


def describe(report: Report) -> str:
    lines = [f"{report.assignment}: {len(report.spilled_cells)} spilled cells, "
             f"{report.spilled_points(report.points_of):g} points ({report.replacements} replacements, "
             f"{report.cells_run} cells run)"]
    for spill in report.spills:
        lines.append(f"  {spill.replaced} ({spill.by}) -> {spill.cell} [{spill.points:g}]: {spill.error[:150]}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    import time

    from autograder.course_dir import all_assignments

    for name in sys.argv[1:] or all_assignments():
        started = time.process_time()
        result = measure(name)
        print(describe(result), f"\n  ({time.process_time() - started:.1f} s CPU)")
