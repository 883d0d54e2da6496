"""Building nbgrader source notebooks from Python, with the metadata nbgrader expects (schema version 3).

Source notebooks are committed as .ipynb and may be edited in JupyterLab with nbgrader's cell toolbar; these
helpers are for writing a new notebook from a script, so that every cell kind is marked the same way:

    nb = notebook([
        markdown("# 01 Backpropagation ..."),
        answer("def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION", "f_answer"),
        tests("assert f(1) == 1\\n### BEGIN HIDDEN TESTS\\n...\\n### END HIDDEN TESTS", "f_tests", points=2),
        written("**Your answer:** ...", "why_answer", points=1),
        code("plot(...)", experiment=True, grade_id="curves"),
    ])
"""

from __future__ import annotations

import nbformat

from autograder.notebooks import EXPERIMENT_TAG


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text: str, grade_id: str | None = None):
    """Text. With a grade_id it is locked (nbgrader restores it if edited)."""
    metadata = _meta(grade_id, grade=False, solution=False, locked=True) if grade_id else {}
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=metadata)


def answer(source: str, grade_id: str):
    """An autograded answer cell: the solution between ### BEGIN SOLUTION and ### END SOLUTION."""
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, grade=False, solution=True,
                                                                          locked=False))


def tests(source: str, grade_id: str, points: float):
    """A locked test cell worth points: visible checks, then hidden ones between ### BEGIN/END HIDDEN TESTS."""
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=_meta(grade_id, grade=True, solution=False,
                                                                          locked=True, points=points))


def written(text: str, grade_id: str, points: float):
    """A manually graded answer cell (markdown) with the model answer between the solution markers."""
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=_meta(grade_id, grade=True, solution=True,
                                                                           locked=False, points=points))


def code(source: str, grade_id: str | None = None, experiment: bool = False):
    """Given code. With a grade_id it is locked; experiment=True tags it `experiment` (skipped when grading)."""
    metadata = _meta(grade_id, grade=False, solution=False, locked=True) if grade_id else {}
    if experiment:
        if not grade_id:
            raise ValueError("an experiment cell needs a grade_id, so graders can recognise and restore it")
        metadata["tags"] = [EXPERIMENT_TAG]
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=metadata)


def notebook(cells: list) -> nbformat.NotebookNode:
    """A notebook for the course's python3 kernel; validates it."""
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb
