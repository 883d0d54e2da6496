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
from autograder.framework import Mistake


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
