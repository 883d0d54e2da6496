"""Torch in a by-hand exercise, seen in the student's source by the grader.

The torch-use detector runs inside the student's process (sandbox/detector.py), where code that sabotages it can
hide what it does. This reading of the source runs in the grader and cannot be switched off from the notebook: a
function graded by hand fails when it, or any function of the notebook it calls, names torch (an import of it, a
name bound to it or to something taken from it, or `__import__` / `importlib.import_module` of it). Comments,
docstrings and local names that happen to shadow a torch alias do not count.

Code that builds what it runs at run time could reach torch without naming it, and sabotage the detector too. So a
by-hand function may not use it either: eval, exec, compile, globals(), vars(), an import of a computed name,
sys.modules, gc's object lists, or the dunder attributes that lead from any object to every module
(__subclasses__, __globals__, __builtins__, ...). A module-level name bound to such code counts as torch; and
once module-level code built at run time (or a star import) could have bound any name, so does a global the
function reads that no statement visibly binds.

Module-level code can also put torch somewhere without binding a name to it: boxes.append(torch), boxes += [torch],
setattr(box, "t", torch), `for box.t in [torch]`, a method of a notebook class or a notebook function given torch
that stores it (or declares a name global). What received it (boxes, box, or an attribute path such as sys.path)
counts as torch from then on. Calls that only read what they are given (np.testing.assert_allclose,
np.random.seed) mark nothing. This reading cannot follow every alias (p = sys.path; p.append(torch)); it backs up
the detector, it does not replace it.
"""

from __future__ import annotations

import ast
import builtins
import functools
from typing import NamedTuple

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
        self.torch_paths: set[str] = set()  # attributes such as "sys.path" that module-level code put torch into
        self.bound: set[str] = set()  # every name a module-level statement visibly binds
        self.runs_built_code = False  # module-level code built at run time (or a star import): it may bind anything
        self._methods: frozenset | None = None  # names of the notebook classes' methods, when known
        for source in sources:
            self.add(source)

    def state(self) -> tuple:
        """What torch_use's answers depend on (ASTs compare by identity)."""
        return (dict(self.functions), set(self.torch_names), set(self.torch_paths), set(self.bound),
                self.runs_built_code)

    def add(self, source: str) -> None:
        """Take in the next cell that ran."""
        for statement in _statements(source):
            self._module_statement(statement)
            self._stored_torch(statement)
            bound, runs_built_code, touched = _statement_facts(statement)
            self.bound |= bound
            if runs_built_code:
                self.runs_built_code = True
                # setattr(box, "t", __import__(name)): whatever such a statement touches may now lead to torch
                self.torch_names |= touched

    def _module_statement(self, statement: ast.stmt) -> None:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.functions[statement.name] = statement
            self._methods = None
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
                self._methods = None
            elif self._names_torch(statement.value):
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

    def _stored_torch(self, statement: ast.stmt) -> None:
        """Module-level code that puts torch where a function finds it without naming it: boxes.append(torch),
        boxes += [torch], setattr(box, "t", torch), (box := torch), `for box.t in [torch]`, or a notebook function
        called with torch that stores into a global. What received it counts as torch from then on."""
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        methods = self.methods()
        for chain, value in _stores(statement, methods):
            if self._names_torch(value):
                self._mark(chain)
        for name, arguments in _store_facts(statement).calls:
            if name in self.functions and any(self._names_torch(a) for a in arguments):
                function = self.functions[name]
                declared = _declared_global(function)
                self.torch_names |= declared  # `global box; box = m`
                local = _local_names(function) - declared
                for chain, _ in _stores(function, methods):  # generously: what it stores into may now hold torch
                    if chain and chain.split(".")[0] not in local:
                        self._mark(chain)

    def methods(self) -> frozenset:
        """The names of the methods of the notebook's classes (a call of one may store what it is given)."""
        if self._methods is None:
            self._methods = frozenset(m.name for f in self.functions.values() if isinstance(f, ast.ClassDef)
                                      for m in f.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))
        return self._methods

    def _mark(self, chain: str | None) -> None:
        """chain (from _chain) holds torch from now on: a name, or an attribute path such as "sys.path"."""
        if chain:
            (self.torch_paths if "." in chain else self.torch_names).add(chain)

    def _names_torch(self, node: ast.AST) -> str | None:
        """The first way `node` reaches torch directly, if any (not through other functions)."""
        facts = _facts(node)
        return facts.imports_torch or next((n for n in facts.reads if n in self.torch_names), None) \
            or next((c for c in facts.chains for p in self.torch_paths if c == p or c.startswith(p + ".")), None) \
            or facts.dynamic

    def torch_use(self, name: str) -> str | None:
        """How function `name`, or a notebook function it calls, reaches torch; None when it does not."""
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in seen or current not in self.functions:
                continue
            seen.add(current)
            function = self.functions[current]
            found = self._names_torch(function) or self._bound_at_run_time(function)
            if found:
                return found if current == name else f"{found} (in {current}, which {name} calls)"
            todo += [n for n in _facts(function).reads if n in self.functions]
        return None

    def _bound_at_run_time(self, function: ast.AST) -> str | None:
        """A global name the function reads that no statement visibly binds, when code built at run time could."""
        if not self.runs_built_code:
            return None
        for name in _facts(function).reads:
            if name not in self.bound and not hasattr(builtins, name):
                return f"{DYNAMIC_CODE}: {name}, which only code built at run time defines"
        return None


class _Facts(NamedTuple):
    reads: tuple[str, ...]     # global names read (not parameters or local assignments), in the order of the source
    chains: tuple[str, ...]    # attributes of those read, as dotted paths ("np.testing.assert_allclose", "np.testing")
    imports_torch: str | None  # an import of torch in it, if any
    dynamic: str | None        # code built at run time in it, if any


# The trees come from _statements' cache, shared by every submission with the same cell: what is read off a tree
# once holds for all of them (a tree is kept alive by the cache, so its identity is a safe key).
@functools.lru_cache(maxsize=8192)
def _facts(node: ast.AST) -> _Facts:
    local = _local_names(node)
    reads, chains, imports_torch = [], [], None
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load) and child.id not in local \
                and child.id not in reads:
            reads.append(child.id)
        elif isinstance(child, ast.Attribute) and isinstance(child.ctx, ast.Load):
            chain = _chain(child)
            if chain and chain.split(".")[0] not in local and chain not in chains:
                chains.append(chain)
        elif imports_torch is None and isinstance(child, ast.Import) \
                and any(_is_torch_module(a.name) for a in child.names):
            imports_torch = "import torch"
        elif imports_torch is None and isinstance(child, ast.ImportFrom) and _is_torch_module(child.module):
            imports_torch = f"from {child.module} import ..."
        elif imports_torch is None and isinstance(child, ast.Call):
            imported = _importer_call(child)
            if imported and _is_torch_module(imported[1]):
                imports_torch = f"{imported[0]}({imported[1]!r})"
    return _Facts(tuple(reads), tuple(chains), imports_torch, _first_dynamic_use(node, local))


def _chain(node: ast.AST) -> str | None:
    """`box` for box or box[0], `sys.path` for sys.path or sys.path[-1]; None for what no path names (f().x)."""
    if isinstance(node, ast.Subscript):
        return _chain(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
        inner = _chain(node.value)
        return inner and f"{inner}.{node.attr}"
    return None


# Calls that store what they are given: in their receiver (boxes.append(torch)), or in their first argument
# (setattr(box, "t", torch), operator.setitem(boxes, 0, torch), object.__setattr__(box, "t", torch)). Methods that
# merely read their arguments (np.testing.assert_allclose, np.random.seed) do not make their receiver torch.
_STORING_METHODS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft", "put",
                    "put_nowait", "push"}
_STORING_FUNCTIONS = {"setattr", "setitem", "__setattr__", "__setitem__"}


class _StoreFacts(NamedTuple):
    stores: tuple          # (method name or None, chain of where, what) in the order of the source; see _stores
    calls: tuple           # (name, arguments) of each call of a plain name: f(a, b, k=c) -> ("f", (a, b, c))


@functools.lru_cache(maxsize=8192)  # trees come from _statements' cache (see _facts)
def _store_facts(tree: ast.AST) -> _StoreFacts:
    """Every place code in the tree may store a value other than by a plain assignment, read off the tree once: the
    receiver and the call of a method call (storing only if the method is in _STORING_METHODS or is one of the
    notebook's own, which _stores decides), the first argument and the call of setattr and the like, the target and
    value of +=, := and a for loop."""
    stores, calls = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.append((node.func.id, tuple(node.args) + tuple(k.value for k in node.keywords)))
        if isinstance(node, ast.Call) and _called_name(node.func) in _STORING_FUNCTIONS and node.args:
            stores.append((None, _chain(node.args[0]), node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            stores.append((node.func.attr, _chain(node.func.value), node))
        elif isinstance(node, (ast.AugAssign, ast.NamedExpr)):
            stores.append((None, _chain(node.target), node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            stores.append((None, _chain(node.target), node.iter))
        elif isinstance(node, ast.comprehension) and not isinstance(node.target, ast.Name):
            stores.append((None, _chain(node.target), node.iter))  # [0 for box.t in [torch]]; a plain name stays inside
    return _StoreFacts(tuple(stores), tuple(calls))


def _stores(tree: ast.AST, methods: frozenset = frozenset()) -> list[tuple[str | None, ast.AST]]:
    """(chain of where, what) for each place code in the tree may store a value other than by a plain assignment
    (see _store_facts); a method call stores when the method is in _STORING_METHODS or in `methods`, the notebook's
    own."""
    return [(chain, value) for method, chain, value in _store_facts(tree).stores
            if method is None or method in _STORING_METHODS or method in methods]


@functools.lru_cache(maxsize=8192)
def _declared_global(function: ast.AST) -> frozenset:
    """The names a function declares global."""
    return frozenset(n for g in ast.walk(function) if isinstance(g, ast.Global) for n in g.names)


@functools.lru_cache(maxsize=8192)
def _statement_facts(statement: ast.stmt) -> tuple[frozenset, bool, frozenset]:
    """(names it visibly binds, whether it runs code built at run time or star-imports, the names it touches)."""
    runs_built_code = any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
                          for n in ast.walk(statement))
    if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
            and _first_dynamic_use(statement, set()):
        runs_built_code = True
    touched = frozenset(n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and not hasattr(builtins, n.id))
    return frozenset(_bound_names(statement)), runs_built_code, touched


def _first_dynamic_use(tree: ast.AST, local: set[str]) -> str | None:
    """The first way code in this tree runs code built at run time (see the module's docstring), if any."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        imported = _importer_call(node)
        if imported and imported[1] is None:
            return f"{DYNAMIC_CODE}: {imported[0]} of a computed name"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC_CALLS \
                and node.func.id not in local:
            return f"{DYNAMIC_CODE}: {node.func.id}()"
        # sys.modules[...] is, model.modules() is not: a method that is called is not the module table
        if isinstance(node, ast.Attribute) and node.attr in _DYNAMIC_ATTRIBUTES \
                and not (node.attr == "modules" and id(node) in called):
            return f"{DYNAMIC_CODE}: .{node.attr}"
        if isinstance(node, ast.Name) and node.id == "__builtins__":
            return f"{DYNAMIC_CODE}: __builtins__"
    return None


def _importer_call(node: ast.AST) -> tuple[str, str | None] | None:
    """For __import__(...) or import_module(...): (that name, the module when it is a constant string, else None)."""
    if not (isinstance(node, ast.Call) and _called_name(node.func) in _IMPORTERS):
        return None
    module = node.args[0] if node.args else None
    constant = isinstance(module, ast.Constant) and isinstance(module.value, str)
    return _called_name(node.func), (module.value if constant else None)


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a module-level statement binds where the grader can see it (generously: anywhere inside it)."""
    names = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


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
            before = self._notebook.state()
            for source in self._unread:
                self._notebook.add(source)
            self._unread.clear()
            if before != self._notebook.state():  # most cells (calls, prints, tests) change nothing read here
                self._found = {}
        if name not in self._found:
            self._found[name] = self._notebook.torch_use(name)
        return self._found[name]


def torch_in_source(sources: list[str], name: str) -> str | None:
    """How the function `name` defined in these cells (run in this order) reaches torch, or None."""
    return _Notebook(sources).torch_use(name)
