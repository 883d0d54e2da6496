"""A graded class as `course grade` left it: per student and exercise, the points, the named mistake, no response.

Everything comes from what grading already stores: the graded notebooks in autograded/ carry their grade cells
(points and the failure message, stamped by `course grade`) and the student's answer cells under the released
checksums, so a left-alone answer is recognised as nbgrader does. A check's message names a catalogued mistake on
a line "Likely mistake: ...", which is the mistake's name here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading import engine, course_grade as grading
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, CourseError

MISTAKE_LINE = re.compile(r"^Likely mistake: (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Exercise:
    """An autograded grade cell (a test cell with points) and the answer cells it grades."""

    notebook: str
    grade_id: str
    max_points: float
    answers: tuple[str, ...]   # grade ids of the answer cells defining the functions the hidden tests call


@dataclass(frozen=True)
class Outcome:
    student: str
    exercise: Exercise
    points: float
    mistake: str | None      # the catalogued mistake the check named, if any
    no_response: bool        # every answer cell the exercise grades was left as released
    reason: str


@dataclass
class GradedClass:
    assignment: str
    exercises: list[Exercise]
    students: list[str]                            # students whose every notebook was graded
    outcomes: list[Outcome]
    not_gradable: dict[str, str] = field(default_factory=dict)   # "student/notebook" -> why it could not be graded
    manual_cells: int = 0                          # written answers, graded by hand, not part of the report

    def of(self, exercise: Exercise) -> list[Outcome]:
        return [o for o in self.outcomes if o.exercise == exercise]


def mistake_name(message: str) -> str | None:
    """The catalogued mistake a check's failure message names (its last "Likely mistake:" line), or None."""
    found = MISTAKE_LINE.findall(message or "")
    return found[-1].strip() if found else None


def exercises(assignment: str) -> list[Exercise]:
    """The autograded exercises of an assignment, in notebook order, each with the answer cells it grades."""
    found = []
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        source = nbs.read_notebook(path)
        defined: dict[str, str] = {}  # a top-level name an answer cell defines -> that cell's grade id
        last_answer = None
        for cell in source.cells:
            if cell.cell_type == "code" and nbs.is_solution(cell):
                last_answer = nbs.grade_id(cell)
                for name in re.findall(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", cell.source, re.MULTILINE):
                    defined[name[0] or name[1]] = last_answer
            elif nbs.is_test(cell):
                hidden = _hidden_part(cell.source)
                used = sorted({defined[w] for w in re.findall(r"\w+", hidden) if w in defined})
                answers = tuple(used) or ((last_answer,) if last_answer else ())
                found.append(Exercise(path.name, nbs.grade_id(cell), float(nbs.points(cell)), answers))
    return found


def _hidden_part(source: str) -> str:
    if nbs.HIDDEN_BEGIN in source:
        return source.split(nbs.HIDDEN_BEGIN, 1)[1].split(nbs.HIDDEN_END, 1)[0]
    return source


def read_graded_notebook(path: Path):
    """A graded notebook as course grade wrote it (not validated again: grading validated what it wrote)."""
    return nbformat.versions[4].to_notebook_json(json.loads(path.read_text(encoding="utf-8")))


def was_executed(notebook) -> bool:
    """Grading runs the cells; a notebook that could not be graded is stored as released, never run."""
    return any(c.cell_type == "code" and c.get("execution_count") for c in notebook.cells)


def load(course_dir: Path, assignment: str) -> GradedClass:
    """The graded class of one assignment; CourseError (one line) when there is none or it is not graded yet."""
    course_dir = Path(course_dir)
    tasks = grading.find_tasks(course_dir, [assignment])
    if not tasks:
        raise CourseError(f"{assignment}: no submissions in {course_dir / 'submitted'} (an empty class)")
    not_done = [t.student for t in tasks if not grading.is_done(course_dir, t)]
    if not_done:
        raise CourseError(f"{assignment}: {len(not_done)} of {len(tasks)} submissions are not graded yet (first: "
                          f"{not_done[0]}); run course grade {assignment} first")
    graded = GradedClass(assignment, exercises(assignment), [], [], manual_cells=sum(
        1 for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment) for cell in nbs.read_notebook(path).cells
        if nbs.is_grade(cell) and nbs.is_solution(cell)))
    by_notebook: dict[str, list[Exercise]] = {}
    for exercise in graded.exercises:
        by_notebook.setdefault(exercise.notebook, []).append(exercise)
    for task in tasks:
        outcomes, usable = [], True
        for name in task.notebooks:
            path = grading.autograded_path(course_dir, task, name)
            try:
                notebook = read_graded_notebook(path)
                cells = {c["grade_id"]: c for c in notebook.metadata[grading.STAMP]["cells"]}
            except (OSError, ValueError, KeyError) as error:
                graded.not_gradable[f"{task.student}/{name}"] = f"its graded notebook cannot be read ({error})"
                usable = False
                continue
            if not was_executed(notebook):
                reasons = [c["message"] for c in cells.values() if c["message"]]
                graded.not_gradable[f"{task.student}/{name}"] = reasons[0] if reasons else "it could not be run"
                usable = False
                continue
            left_alone = {gid for gid, comment in engine.auto_comments(notebook).items()
                          if comment == engine.NO_RESPONSE}
            for exercise in by_notebook.get(name, []):
                cell = cells.get(exercise.grade_id)
                if cell is None or cell["points"] is None:
                    continue
                outcomes.append(Outcome(task.student, exercise, float(cell["points"]), mistake_name(cell["message"]),
                                        bool(exercise.answers) and all(a in left_alone for a in exercise.answers),
                                        cell["message"]))
        if usable:  # a student with a notebook that could not be graded would count as mistakes they did not make
            graded.students.append(task.student)
            graded.outcomes += outcomes
    return graded
