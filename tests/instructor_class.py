"""A synthetic graded class with known ground truth, for the instructor tools' tests.

Answers come from the worked solutions, tests/alternatives/ (correct and written differently) and the checks'
mistake catalogues; copies of a student are made the ways students hide them (verbatim, renamed variables,
reordered functions, extra comments). "Grading" is cheap and real: a planted mistake's message is what its check
says about the mistake's implementation, called directly; a correct answer passes (the checks' own tests prove it).
The graded class is stored as `course grade` stores it: submitted/ and autograded/ notebooks stamped with the
submission's hash and every grade cell's points and message.
"""

from __future__ import annotations

import ast
import copy
import importlib
import itertools
import re
from pathlib import Path

import nbformat

from autograder.grading import engine, course_grade as grading
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, check_module
from autograder.checks.framework import CheckFailed
from autograder.instructor.submissions import fill_solutions, renamed_variables, rewritten_with

ASSIGNMENT, NOTEBOOK = "03_regularization", "regularization.ipynb"


def source_and_release():
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    return source, engine.release_version(source)


def answer_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    return {nbs.grade_id(c): c for c in notebook.cells if c.cell_type == "code" and nbs.is_solution(c)}


def defined_functions(text: str) -> list[str]:
    return [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]


def alternative_text(text: str) -> str:
    """An answer cell rewritten with tests/alternatives/' implementations (and the helpers they call)."""
    return rewritten_with(text, importlib.import_module(f"tests.alternatives.a{ASSIGNMENT[:2]}_{ASSIGNMENT[3:]}"))


# --- how copies are disguised -------------------------------------------------------------------------------------

def reordered(text: str) -> str:
    """The cell's top-level functions in the opposite order (imports first)."""
    tree = ast.parse(text)
    head = [n for n in tree.body if not isinstance(n, ast.FunctionDef)]
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    tree.body = head + functions[::-1]
    return ast.unparse(tree)


def commented(text: str) -> str:
    """A comment line above every def and return, and one at the end of each def line."""
    out = []
    for k, line in enumerate(text.split("\n")):
        stripped = line.lstrip()
        if stripped.startswith(("def ", "return ")):
            out.append(f"{line[: len(line) - len(stripped)]}# my own step {k}, as I understood the lecture")
        out.append(line + ("  # written by me" if stripped.startswith("def ") else ""))
    return "\n".join(out)


DISGUISES = {"verbatim": lambda t: t, "renamed": renamed_variables, "reordered": reordered, "commented": commented}


# --- grading, the cheap way ---------------------------------------------------------------------------------------

def check_of(test_cell) -> tuple:
    """The check a test cell's hidden tests call, and the student function it is given."""
    match = re.search(r"(check_\w+)\((\w+)\)", test_cell.source)
    return getattr(check_module(ASSIGNMENT), match.group(1)), match.group(2)


def failure_message(test_cell, implementation) -> str:
    """What the check says about an implementation, as nbgrader keeps it (ename: evalue)."""
    chk, _ = check_of(test_cell)
    try:
        chk(implementation)
    except CheckFailed as error:
        return f"CheckFailed: {error}"
    raise AssertionError(f"{chk.name} accepted {implementation!r}")


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


def write_graded(course: Path, student: str, submission, outcomes: dict[str, tuple[float, str]]) -> None:
    """Store one graded submission as course grade does. outcomes: test cell -> (points, message); other grade
    cells pass."""
    source, _ = source_and_release()
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(submission, folder / NOTEBOOK)
    graded = engine.restore_locked_cells(submission, source)
    for index, cell in enumerate(c for c in graded.cells if c.cell_type == "code"):
        cell.execution_count = index + 1  # as run
    cells = []
    for cell in graded.cells:
        if nbs.is_grade(cell):
            gid = nbs.grade_id(cell)
            manual = nbs.is_solution(cell)
            points, message = outcomes.get(gid, (None if manual else nbs.points(cell), "graded by hand" if manual
                                                 else ""))
            cells.append({"grade_id": gid, "points": points, "max_points": float(nbs.points(cell)),
                          "message": message})
    digest = grading.submission_hash(folder / NOTEBOOK)
    target = course / "autograded" / student / ASSIGNMENT / NOTEBOOK
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(grading.stamped(graded, digest, cells))


def with_cell(notebook, grade_id: str, text: str):
    changed = copy.deepcopy(notebook)
    answer_cells(changed)[grade_id].source = text
    return changed


def catalogue_text(notebook, mistakes_by_function) -> nbformat.NotebookNode:
    """The notebook with each answer function replaced by the first catalogued mistake made in it."""
    from autograder.instructor.submissions import with_mistake

    changed = notebook
    for name, mistake in mistakes_by_function.items():
        changed = with_mistake(changed, mistake, name)
    return changed


def first_mistakes() -> dict:
    """function name -> the first mistake of the first check that has one for it."""
    found = {}
    for chk in check_module(ASSIGNMENT).CHECKS:
        for mistake in chk.mistakes:
            found.setdefault(mistake.replaces or chk.functions[0], mistake)
    return found


def disguised(notebook, how: str):
    changed = copy.deepcopy(notebook)
    for cell in answer_cells(changed).values():
        cell.source = DISGUISES[how](cell.source)
    return changed


def similarity_class():
    """student -> submission, and the pairs that are copies (every other pair is independent).

    Independent: the worked solution (A), tests/alternatives/ (B), the catalogue's mistakes (C), and a student who
    answered only the two one-line exercises, exactly as the worked solution does (E: every correct answer to them
    looks alike). Copies: of A verbatim and with extra comments, of B renamed and reordered, of C renamed."""
    source, release = source_and_release()
    solved = fill_solutions(release, source)
    alternative = copy.deepcopy(solved)
    for cell in answer_cells(alternative).values():
        cell.source = alternative_text(cell.source)
    catalogue = catalogue_text(solved, first_mistakes())
    short_only = copy.deepcopy(release)
    for gid in ("hflip_answer", "smooth_labels_answer"):
        answer_cells(short_only)[gid].source = answer_cells(solved)[gid].source
    students = {"a": solved, "b": alternative, "c": catalogue, "e": short_only,
                "a-verbatim": disguised(solved, "verbatim"), "a-commented": disguised(solved, "commented"),
                "b-renamed": disguised(alternative, "renamed"), "b-reordered": disguised(alternative, "reordered"),
                "c-renamed": disguised(catalogue, "renamed")}
    families = [["a", "a-verbatim", "a-commented"], ["b", "b-renamed", "b-reordered"], ["c", "c-renamed"]]
    copies = {tuple(sorted(p)) for family in families for p in itertools.combinations(family, 2)}
    return students, copies
