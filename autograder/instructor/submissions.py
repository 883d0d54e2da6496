"""Making submissions from a released notebook: the full solution, or the solution with catalogued mistakes.

Used by the demo class and by the tests of the pipeline. A mistake's implementation is spliced into the answer
cell that defines the function it replaces, under the student's function name, so the hidden tests meet it exactly
as they would meet a student's code.
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap

from autograder import notebooks as nbs
from autograder.checks.framework import Mistake


def fill_solutions(release, source):
    """A copy of the released notebook with every answer cell (code or written) holding the worked solution."""
    answers = {nbs.grade_id(c): nbs.strip_solution_markers(c.source) for c in source.cells if nbs.is_solution(c)}
    filled = copy.deepcopy(release)
    for cell in filled.cells:
        if nbs.is_solution(cell) and nbs.grade_id(cell) in answers:
            cell.source = answers[nbs.grade_id(cell)]
    return filled


def function_source(function, name: str) -> str:
    """The source of a module-level function, renamed to name."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef):
        raise ValueError(f"{function!r} is not a plain function")
    definition.name = name
    definition.decorator_list = []
    return ast.unparse(definition)


def replace_function(cell_source: str, name: str, new_source: str) -> str:
    """cell_source with the top-level `def name(...)` replaced by new_source; ValueError if there is none."""
    tree = ast.parse(cell_source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = cell_source.split("\n")
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            return "\n".join(lines[:start] + new_source.split("\n") + lines[node.end_lineno:])
    raise ValueError(f"no function {name!r} in the cell")


def with_mistake(notebook, mistake: Mistake, function_name: str):
    """A copy of notebook whose answer cell defining function_name holds the mistake's implementation instead."""
    changed = copy.deepcopy(notebook)
    for cell in changed.cells:
        if cell.cell_type == "code" and nbs.is_solution(cell):
            try:
                cell.source = replace_function(cell.source, function_name, function_source(
                    mistake.implementation, function_name))
                return changed
            except (ValueError, SyntaxError):
                continue
    raise ValueError(f"no answer cell defines {function_name!r}")


def rewritten_with(cell_source: str, module) -> str:
    """cell_source with each top-level function replaced by the module's function of that name, after the module's
    imports and the private helpers (functions and constants whose names start with _) they use; unchanged where
    the module lacks one of the cell's functions. Makes a student who wrote every answer their own way from, for
    example, tests/alternatives/."""
    tree = ast.parse(cell_source)
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    if not names or not all(inspect.isfunction(getattr(module, name, None)) for name in names):
        return cell_source
    module_source = inspect.getsource(module)
    module_tree = ast.parse(module_source)
    parts = [ast.unparse(node) for node in module_tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
             and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    private = {}  # name -> its definition, for the module's private functions and constants
    for node in module_tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
            private[node.name] = function_source(getattr(module, node.name), node.name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id.startswith("_"):
            private[node.targets[0].id] = ast.get_source_segment(module_source, node)
    bodies = [function_source(getattr(module, name), name) for name in names]
    needed, todo = [], list(bodies)
    while todo:  # the helpers the functions use, and the helpers those use
        used = {n.id for n in ast.walk(ast.parse(todo.pop())) if isinstance(n, ast.Name)}
        for helper in sorted(used & set(private) - set(needed)):
            needed.append(helper)
            todo.append(private[helper])
    return "\n\n".join(parts + [private[h] for h in reversed(needed)] + bodies)


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node):
        node.id = self.mapping.get(node.id, node.id)
        return node


def renamed_variables(cell_source: str) -> str:
    """The code with every variable it assigns renamed (parameters and functions keep their names, which the checks
    call): what a student does to hide a copy. Comments and layout are lost on the way (ast.unparse)."""
    tree = ast.parse(cell_source)
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    parameters = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
                  for a in n.posonlyargs + n.args + n.kwonlyargs + [n.vararg, n.kwarg] if a}
    mapping = {name: f"{name}_value" if len(name) > 2 else f"{name}_tmp" for name in stored - parameters}
    return ast.unparse(_Renamer(mapping).visit(tree))
