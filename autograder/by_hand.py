"""Torch in a by-hand exercise, seen in the student's source by the grader.

The torch-use detector runs inside the student's process (sandbox/detector.py), where code that sabotages it can
hide what it does. This reading of the source runs in the grader and cannot be switched off from the notebook: a
function graded by hand fails when it, or any function of the notebook it calls, names torch (an import of it, a
name bound to it or to something taken from it, or `__import__` / `importlib.import_module` of it). Comments,
docstrings and local names that happen to shadow a torch alias do not count.

Code that builds what it runs at run time could reach torch without naming it, and sabotage the detector too. So a
by-hand function may not use it either: eval, exec, compile, globals(), vars(), an import of a computed name,
sys.modules, gc's object lists, or the dunder attributes that lead from any object to every module
(__subclasses__, __globals__, __builtins__, ...). A module-level name bound to such code counts as torch.
"""

from __future__ import annotations

import ast
import functools

_IMPORTERS = {"__import__", "import_module"}
DYNAMIC_CODE = "dynamic code"  # how torch_use's answer starts when the function runs code it builds at run time
_DYNAMIC_CALLS = {"eval", "exec", "compile", "globals", "vars"}
_DYNAMIC_ATTRIBUTES = {"modules", "get_objects", "get_referents", "get_referrers", "__subclasses__", "__globals__",
                       "__builtins__", "__dict__", "__bases__", "__base__", "__mro__", "__loader__", "__spec__",
                       "__code__", "__closure__", "__self__", "__func__", "__getattribute__", "__import__",
                       "f_globals", "f_locals", "f_back", "f_builtins", "gi_frame", "cr_frame", "tb_frame"}


def _is_torch_module(name: str | None) -> bool:
    return bool(name) and (name == "torch" or name.startswith("torch."))


@functools.lru_cache(maxsize=2048)
def _statements(source: str) -> tuple[ast.stmt, ...]:
    """The top-level statements of a cell; () when it does not parse. Cached: most cells of a submission are as
    released, so a grader parses them once for the whole class. The trees are only read, never changed."""
    try:
        return tuple(ast.parse(source).body)
    except (SyntaxError, ValueError):  # ValueError: a null byte in the source
        return ()


class _Notebook:
    """What the cells define at module level: functions by name, and names that stand for torch things."""

    def __init__(self, sources=()):
        self.functions: dict[str, ast.AST] = {}
        self.torch_names: set[str] = set()
        for source in sources:
            self.add(source)

    def add(self, source: str) -> None:
        """Take in the next cell that ran."""
        for statement in _statements(source):
            self._module_statement(statement)

    def _module_statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.functions[statement.name] = statement
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if _is_torch_module(alias.name):
                    self.torch_names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(statement, ast.ImportFrom):
            if _is_torch_module(statement.module):
                self.torch_names.update(alias.asname or alias.name for alias in statement.names)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if isinstance(statement.value, ast.Lambda):
                for name in names:
                    self.functions[name] = statement.value
            elif self._names_torch(statement.value, set()):
                self.torch_names.update(names)
            else:
                self.torch_names.difference_update(names)  # rebound to something else
        elif isinstance(statement, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for child in ast.iter_child_nodes(statement):
                if isinstance(child, ast.stmt):
                    self._module_statement(child)
            for handler in getattr(statement, "handlers", []):
                for child in handler.body:
                    self._module_statement(child)

    def _names_torch(self, node: ast.AST, local: set[str]) -> str | None:
        """The first way `node` reaches torch directly, if any (not through other functions)."""
        for child in ast.walk(node):
            if isinstance(child, ast.Import) and any(_is_torch_module(a.name) for a in child.names):
                return "import torch"
            if isinstance(child, ast.ImportFrom) and _is_torch_module(child.module):
                return f"from {child.module} import ..."
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load) and child.id in self.torch_names \
                    and child.id not in local:
                return child.id
            if isinstance(child, ast.Call) and _called_name(child.func) in _IMPORTERS:
                module = child.args[0] if child.args else None
                if not (isinstance(module, ast.Constant) and isinstance(module.value, str)):
                    return f"{DYNAMIC_CODE}: {_called_name(child.func)} of a computed name"
                if _is_torch_module(module.value):
                    return f"{_called_name(child.func)}({module.value!r})"
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id in _DYNAMIC_CALLS \
                    and child.func.id not in local:
                return f"{DYNAMIC_CODE}: {child.func.id}()"
            if isinstance(child, ast.Attribute) and child.attr in _DYNAMIC_ATTRIBUTES:
                return f"{DYNAMIC_CODE}: .{child.attr}"
            if isinstance(child, ast.Name) and child.id == "__builtins__":
                return f"{DYNAMIC_CODE}: __builtins__"
        return None

    def torch_use(self, name: str) -> str | None:
        """How function `name`, or a notebook function it calls, reaches torch; None when it does not."""
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in seen or current not in self.functions:
                continue
            seen.add(current)
            function = self.functions[current]
            local = _local_names(function)
            found = self._names_torch(function, local)
            if found:
                return found if current == name else f"{found} (in {current}, which {name} calls)"
            todo += [n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                     and n.id in self.functions and n.id not in local]
        return None


def _called_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _local_names(function: ast.AST) -> set[str]:
    """Parameters and names assigned inside a function (they shadow module-level names)."""
    names = set()
    arguments = getattr(function, "args", None)
    if isinstance(arguments, ast.arguments):
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs + [arguments.vararg, arguments.kwarg]:
            if arg is not None:
                names.add(arg.arg)
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


class SourceReader:
    """The cells a student's process has run, read for torch use by the functions graded by hand."""

    def __init__(self):
        self._notebook = _Notebook()
        self._unread: list[str] = []  # parsed only when a by-hand function is called, each cell once
        self._found: dict[str, str | None] = {}  # a check calls a function many times; read it once

    def ran(self, source: str) -> None:
        self._unread.append(source)

    def torch_use(self, name: str) -> str | None:
        if self._unread:
            functions, torch_names = dict(self._notebook.functions), set(self._notebook.torch_names)
            for source in self._unread:
                self._notebook.add(source)
            self._unread.clear()
            # most cells (calls, prints, tests) define nothing: then what was found still holds
            if functions != self._notebook.functions or torch_names != self._notebook.torch_names:
                self._found = {}
        if name not in self._found:
            self._found[name] = self._notebook.torch_use(name)
        return self._found[name]


def torch_in_source(sources: list[str], name: str) -> str | None:
    """How the function `name` defined in these cells (run in this order) reaches torch, or None."""
    return _Notebook(sources).torch_use(name)
