"""The attack and fault catalogue (tests/attacks/catalogue.py) under stock `nbgrader autograde` and `course grade`.

Each grader gets its own copy of the class. The vandals aim at a decoy copy of nbgrader_config.py inside the
temporary folder, never at the course's own. Two attacks are not run under stock nbgrader because they would take
the machine down with it (it has no memory or process limits): the memory bomb and the fork bomb.
Prints one row per attack: the points it deserves, the points each grader gave, and the damage each run left.

    .venv/bin/python benchmarks/attacks_stock_vs_course.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder import grading
from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, course_id, nbgrader
from autograder.grader import Timeouts
from autograder.submissions import fill_solutions

sys.path.insert(0, str(REPO_ROOT))
from tests.attacks.catalogue import attacks  # noqa: E402

ASSIGNMENT, NOTEBOOK = "00_getting_started", "getting_started.ipynb"
NOT_UNDER_STOCK = {"memory-bomb", "fork-bomb-lite"}


def build_class(course: Path, decoy: Path, skip=()):
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    solved = fill_solutions(nbs.read_notebook(course / "release" / ASSIGNMENT / NOTEBOOK), source)
    catalogue = [a for a in attacks(course, decoy) if a.name not in skip]
    for student, notebook in [("honest-classmate", solved)] + [(a.name, a.make(solved, source)) for a in catalogue]:
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        path = folder / NOTEBOOK
        path.write_text(notebook) if isinstance(notebook, str) else nbformat.write(notebook, path)
    return catalogue


def points(course: Path) -> dict:
    found = {}
    try:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for submission in gradebook.assignment_submissions(ASSIGNMENT):
                for notebook in submission.notebooks:
                    found[submission.student_id] = {g.name: g.auto_score for g in notebook.grades
                                                    if g.name.endswith("_tests")}
    except Exception as error:  # a vandal may have broken the gradebook itself
        found["<gradebook>"] = str(error)
    return found


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="attacks-") as tmp:
        tmp = Path(tmp)
        results = {}
        for grader_name in ("stock", "course"):
            course, decoy = tmp / grader_name, tmp / f"{grader_name}-nbgrader_config.py"
            course.mkdir()
            shutil.copy2(REPO_ROOT / "nbgrader_config.py", decoy)
            build_class(course, decoy, NOT_UNDER_STOCK if grader_name == "stock" else ())
            started = time.perf_counter()
            try:
                if grader_name == "stock":
                    nbgrader(course, "autograde", ASSIGNMENT, "--force", "--ExecutePreprocessor.timeout=10",
                             quiet=True)
                else:
                    grading.run(course, [ASSIGNMENT], course_id(), jobs=2, progress=False,
                                timeouts=Timeouts(cell_seconds=10, notebook_seconds=120))
                status = "finished"
            except Exception as error:
                status = f"stopped: {str(error).splitlines()[0]}"
            seconds = time.perf_counter() - started
            damage = []
            if not (course / "submitted" / "honest-classmate").exists():
                damage.append("classmate's submission deleted")
            if "raise SystemExit" in decoy.read_text():
                damage.append("nbgrader_config.py appended to")
            results[grader_name] = (points(course), status, seconds, damage)
        deserved = {a.name: a.deserved for a in attacks(tmp, tmp)}
        print(f"{'attack':42} {'deserved':>9} {'stock':>9} {'course':>9}")
        for name, want in deserved.items():
            cells = []
            for grader_name in ("stock", "course"):
                got = results[grader_name][0].get(name)
                if name in NOT_UNDER_STOCK and grader_name == "stock":
                    cells.append("not run")
                elif not isinstance(got, dict):
                    cells.append("no grade")
                else:
                    total = sum(v or 0 for v in got.values())
                    flag = "!" if total > sum(want.values()) else ("-" if total < sum(want.values()) else "")
                    cells.append(f"{total:g}{flag}")
            print(f"{name:42} {sum(want.values()):9g} {cells[0]:>9} {cells[1]:>9}")
        for grader_name in ("stock", "course"):
            got, status, seconds, damage = results[grader_name]
            honest = got.get("honest-classmate")
            print(f"{grader_name}: {status} in {seconds:.0f} s; honest classmate: "
                  f"{sum(v or 0 for v in honest.values()) if isinstance(honest, dict) else 'no grade'}/5; "
                  f"damage: {', '.join(damage) or 'none'}")
        print("! = more points than deserved, - = fewer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
