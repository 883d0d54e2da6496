"""The demo: a whole course cycle on a made-up class, in build/demo (a course directory of its own).

Releases every assignment, submits for a demo class (the full solution, the untouched release, three students
who each make one typical mistake from the checks' catalogues, a student who wrote every answer their own way, from
tests/alternatives/, and one who copied that student's work and renamed the variables), grades with `course grade`
(sandboxed where bubblewrap is available), generates feedback, exports grades to CSV, writes the class reports
(`course report`) and the similarity listings (`course similar`), prints a summary table and plots the score
distribution. The directory is rebuilt from scratch on every run.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import shutil
from collections import defaultdict
from pathlib import Path

import nbformat

from autograder import notebooks as nbs
from autograder.grading import course_grade as grading
from autograder.instructor import submissions
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, check_module, course_id, nbgrader, require_assignments
from autograder.instructor import report as class_report
from autograder.instructor import similarity
from autograder.grading.sandbox.worker import bubblewrap_problem

DEMO_DIR = REPO_ROOT / "build" / "demo"
MISTAKE_STUDENTS = 3
ALTERNATIVES = REPO_ROOT / "tests" / "alternatives"  # correct answers written differently from the worked solution
OWN_WAY, COPIER = "demo-own-way", "demo-copier"
COPYING_PAIR = (COPIER, OWN_WAY)  # as `course similar` lists a pair: in name order


def demo_submissions(assignment: str, release_dir: Path) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """student id -> {notebook file name: notebook} for one assignment."""
    checks = check_module(assignment).CHECKS
    students: dict[str, dict] = defaultdict(dict)
    for source_path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        source = nbs.read_notebook(source_path)
        release = nbs.read_notebook(release_dir / source_path.name)
        solved = submissions.fill_solutions(release, source)
        students["demo-solution"][source_path.name] = solved
        students["demo-untouched"][source_path.name] = release
        for k, (chk, mistake) in enumerate(_mistakes_to_show(checks)):
            try:
                students[f"demo-mistakes-{k + 1}"][source_path.name] = submissions.with_mistake(
                    solved, mistake, mistake.replaces or chk.functions[0])
            except ValueError:
                students[f"demo-mistakes-{k + 1}"][source_path.name] = solved  # that function is in another notebook
        alternatives = _alternatives(assignment)
        if alternatives is not None:
            own_way = copy.deepcopy(solved)
            for cell in own_way.cells:
                if cell.cell_type == "code" and nbs.is_solution(cell):
                    cell.source = submissions.rewritten_with(cell.source, alternatives)
            copied = copy.deepcopy(own_way)
            for cell in copied.cells:
                if cell.cell_type == "code" and nbs.is_solution(cell):
                    cell.source = submissions.renamed_variables(cell.source)
            students[OWN_WAY][source_path.name], students[COPIER][source_path.name] = own_way, copied
    return students


def _alternatives(assignment: str):
    """The module of tests/alternatives/ for the assignment (aNN_name.py), or None where a clone has none."""
    path = ALTERNATIVES / f"a{assignment}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"demo_alternatives_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mistakes_to_show(checks) -> list:
    """(check, mistake) for each mistake student: student k makes one mistake, in check k mod (number of checks)."""
    with_catalogue = [c for c in checks if c.mistakes]
    picks = []
    for k in range(MISTAKE_STUDENTS if with_catalogue else 0):
        chk = with_catalogue[k % len(with_catalogue)]
        picks.append((chk, chk.mistakes[(k // len(with_catalogue)) % len(chk.mistakes)]))
    return picks


def run(out: Path = DEMO_DIR, assignments: list[str] | None = None) -> Path:
    """Run the whole demo into out (replaced as a whole); returns the path of the CSV of grades."""
    assignments = require_assignments(assignments or [])
    building = out.with_name(out.name + ".partial")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        rows = _run_in(building, assignments)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)  # nothing half-built is left behind
        raise
    shutil.rmtree(out, ignore_errors=True)
    building.rename(out)
    print()
    print(summary_table(rows))
    print(f"\nDemo course directory: {out}\n  grades: {out / 'grades.csv'}\n  plot: {out / 'scores.png'}\n"
          f"  feedback: {out / 'feedback'}\n  class reports and similarity listings: {out / 'reports'}/<assignment>/"
          f"report.html and similar.html\n  ({COPIER} copied {OWN_WAY} and renamed the variables; the other demo "
          "students are all made from the worked solution, so they are listed as alike too)")
    return out / "grades.csv"


def _run_in(building: Path, assignments: list[str]) -> list[dict]:
    for assignment in assignments:
        print(f"== {assignment}: release and submit")
        nbgrader(building, "generate_assignment", assignment, "--force", quiet=True)
        for student, notebooks in demo_submissions(assignment, building / "release" / assignment).items():
            folder = building / "submitted" / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            for name, notebook in notebooks.items():
                nbformat.write(notebook, folder / name)
    unsafe = bubblewrap_problem() is not None  # the demo's submissions are our own: safe to run without it
    print(f"== grade ({'without a sandbox: ' + bubblewrap_problem() if unsafe else 'sandboxed'})")
    report = grading.run(building, assignments, course_id(), unsafe=unsafe)
    grading.write_reports(report, building / "reports")
    for assignment in assignments:
        print(f"== {assignment}: feedback")
        nbgrader(building, "generate_feedback", assignment, "--force", quiet=True)
    print("== class reports and similar submissions")
    for written in class_report.write(building, assignments):
        print(written.summary)
    for assignment in assignments:
        print(similarity.write(building, assignment).summary.split("\n  side by side")[0])
    grades_csv = building / "grades.csv"
    nbgrader(building, "export", f"--to={grades_csv}", quiet=True)
    rows = read_grades(grades_csv)
    plot_scores(rows, building / "scores.png")
    return rows


def read_grades(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary_table(rows: list[dict]) -> str:
    """A fixed-width table: one row per student, one column per assignment, 'points/max (auto)'."""
    assignments = sorted({r["assignment"] for r in rows})
    students = sorted({r["student_id"] for r in rows})
    cell = {(r["student_id"], r["assignment"]): f"{float(r['raw_score']):g}/{float(r['max_score']):g}" for r in rows}
    width = max([len(s) for s in students] + [7])
    columns = [max(len(a), 9) for a in assignments]
    lines = ["student".ljust(width) + "  " + "  ".join(a.ljust(w) for a, w in zip(assignments, columns))]
    for student in students:
        lines.append(student.ljust(width) + "  " + "  ".join(
            cell.get((student, a), "-").ljust(w) for a, w in zip(assignments, columns)))
    return "\n".join(lines)


def plot_scores(rows: list[dict], path: Path) -> None:
    """Bar chart of each student's score as a share of the assignment's points, one group per assignment."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    assignments = sorted({r["assignment"] for r in rows})
    students = sorted({r["student_id"] for r in rows})
    share = {(r["student_id"], r["assignment"]): float(r["raw_score"]) / max(float(r["max_score"]), 1e-9)
             for r in rows}
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(assignments)), 4))
    width = 0.8 / len(students)
    x = np.arange(len(assignments))
    for i, student in enumerate(students):
        ax.bar(x + i * width, [100 * share.get((student, a), 0) for a in assignments], width, label=student)
    ax.set_xticks(x + 0.4 - width / 2, assignments)
    ax.set(title="Demo class: score per assignment", xlabel="assignment", ylabel="score (% of points)",
           ylim=(0, 105))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
