"""The attack and fault catalogue (tests/attacks/catalogue.py) under stock `nbgrader autograde` and `course grade`.

Under stock nbgrader every attack gets a class of its own (the attack and an honest classmate), so that an attack
that stops nbgrader hides nothing else; `course grade` grades the whole catalogue in one class, in one run. The
vandals aim at a decoy copy of nbgrader_config.py inside the temporary folder, never at the course's own. Two attacks
are not run under stock nbgrader because they would take the machine down with it (it has no memory or process
limits): the memory bomb and the fork bomb. Prints one row per attack: the points it deserves, the points each grader
gave, and under stock nbgrader what became of that class (the classmate's points, the damage, whether it finished).

    .venv/bin/python benchmarks/attacks_stock_vs_course.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.grading import course_grade as grading
from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, course_id, nbgrader
from autograder.grading.grader import Timeouts
from autograder.instructor.submissions import fill_solutions

sys.path.insert(0, str(REPO_ROOT))
from tests.attacks.catalogue import MARKER, attacks  # noqa: E402

ASSIGNMENT, NOTEBOOK = "00_getting_started", "getting_started.ipynb"
NOT_UNDER_STOCK = {"memory-bomb", "fork-bomb-lite"}


def build_class(course: Path, decoy: Path, names=None):
    """A class of the honest classmate and the attacks named (all when None)."""
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", quiet=True)
    source = nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK)
    solved = fill_solutions(nbs.read_notebook(course / "release" / ASSIGNMENT / NOTEBOOK), source)
    catalogue = [a for a in attacks(course, decoy) if names is None or a.name in names]
    for student, notebook in [("honest-classmate", solved)] + [(a.name, a.make(solved, source)) for a in catalogue]:
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        path = folder / NOTEBOOK
        path.write_text(notebook) if isinstance(notebook, str) else nbformat.write(notebook, path)
    return catalogue


def kill_leftovers() -> int:
    """Kill what attacks left running (everything they start carries the marker); returns how many."""
    found = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()
    for pid in found:
        subprocess.run(["kill", "-9", pid], capture_output=True)
    return len(found)


def damage_done(course: Path, decoy: Path) -> list[str]:
    damage = []
    if not (course / "submitted" / "honest-classmate").exists():
        damage.append("classmate's submission deleted")
    if "raise SystemExit" in decoy.read_text():
        damage.append("nbgrader_config.py appended to")
    return damage


def total(got) -> str:
    return f"{sum(v or 0 for v in got.values()):g}" if isinstance(got, dict) else "no grade"


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


def grade_stock(tmp: Path, attack) -> dict:
    """One attack and the honest classmate under stock nbgrader autograde."""
    course, decoy = tmp / f"stock-{attack.name}", tmp / f"stock-{attack.name}-nbgrader_config.py"
    course.mkdir()
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", decoy)
    build_class(course, decoy, {attack.name})
    try:
        nbgrader(course, "autograde", ASSIGNMENT, "--force", "--ExecutePreprocessor.timeout=10", quiet=True)
        status = "finished"
    except Exception as error:
        status = f"stopped ({str(error).splitlines()[0].split('(')[-1].rstrip(')')})"
    time.sleep(4)  # the background vandal strikes 3 s after its cell ran
    leftovers = kill_leftovers()
    got = points(course)
    damage = damage_done(course, decoy) + ([f"{leftovers} processes left running"] if leftovers else [])
    return {"got": got.get(attack.name), "classmate": got.get("honest-classmate"), "status": status,
            "damage": damage}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="attacks-") as tmp:
        tmp = Path(tmp)
        catalogue = attacks(tmp, tmp)
        stock = {}
        started = time.perf_counter()
        for attack in catalogue:
            if attack.name not in NOT_UNDER_STOCK:
                stock[attack.name] = grade_stock(tmp, attack)
        stock_seconds = time.perf_counter() - started
        course, decoy = tmp / "course", tmp / "course-nbgrader_config.py"
        course.mkdir()
        shutil.copy2(REPO_ROOT / "nbgrader_config.py", decoy)
        build_class(course, decoy)
        started = time.perf_counter()
        try:
            grading.run(course, [ASSIGNMENT], course_id(), jobs=2, progress=False,
                        timeouts=Timeouts(cell_seconds=10, notebook_seconds=120))
            status = "finished"
        except Exception as error:
            status = f"stopped: {str(error).splitlines()[0]}"
        course_seconds = time.perf_counter() - started
        time.sleep(4)
        leftovers = kill_leftovers()
        ours = points(course)
        print(f"{'attack':44} {'deserved':>8} {'course':>7} {'stock':>7}   stock nbgrader: that class")
        for attack in catalogue:
            want = sum(attack.deserved.values())
            row = f"{attack.name:44} {want:8g} {flagged(ours.get(attack.name), want):>7} "
            if attack.name in NOT_UNDER_STOCK:
                row += f"{'not run':>7}"
            else:
                theirs = stock[attack.name]
                row += (f"{flagged(theirs['got'], want):>7}   {theirs['status']}, classmate "
                        f"{total(theirs['classmate'])}/5" + "".join(f", {d}" for d in theirs["damage"]))
            print(row)
        damage = damage_done(course, decoy) + ([f"{leftovers} processes left running"] if leftovers else [])
        print(f"course grade: {status} in {course_seconds:.0f} s, one class of all {len(catalogue)} attacks; "
              f"honest classmate: {total(ours.get('honest-classmate'))}/5; damage: {', '.join(damage) or 'none'}")
        print(f"stock nbgrader: {len(stock)} classes in {stock_seconds:.0f} s")
        print("! = more points than deserved, - = fewer; no grade = the run stopped before grading it")
    return 0


def flagged(got, want: float) -> str:
    """total(got), marked ! when more than deserved and - when less."""
    if not isinstance(got, dict):
        return total(got)
    points_got = sum(v or 0 for v in got.values())
    return total(got) + ("!" if points_got > want else "-" if points_got < want else "")


if __name__ == "__main__":
    sys.exit(main())
