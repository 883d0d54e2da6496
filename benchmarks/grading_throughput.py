"""Grade the same synthetic class with stock `nbgrader autograde` and with `course grade`; compare.

For every assignment: N submissions (the full solution, the untouched release, and every catalogued mistake in
turn), in copies of one course directory. Prints per assignment the wall time of each grader, the throughput
ratio, whether every grade cell got the same score, and the floor: the time `course grade`'s workers spent in the
graded cells themselves (seconds of work per submission, summed over workers).

    .venv/bin/python benchmarks/grading_throughput.py [--per-assignment 40] [--jobs 2] [--course-runs 3] [ASSIGNMENT]

`course grade` grades its own copy of the class --course-runs times, each in a new process, interleaved with stock
nbgrader's assignments (this machine's speed drifts within the hour); the ratio is against the median of its runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbgrader.api import Gradebook

from autograder import notebooks as nbs
from autograder.instructor import submissions
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, all_assignments, check_module, nbgrader


def synthetic_class(course: Path, assignment: str, size: int) -> None:
    release_dir = course / "release" / assignment
    mistakes = [(c, m) for c in check_module(assignment).CHECKS for m in c.mistakes]
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        source = nbs.read_notebook(path)
        release = nbs.read_notebook(release_dir / path.name)
        solved = submissions.fill_solutions(release, source)
        for k in range(size):
            if k % 4 == 0:
                notebook = solved
            elif k % 4 == 1 and k % 8 == 1:
                notebook = release
            else:
                chk, mistake = mistakes[k % len(mistakes)]
                try:
                    notebook = submissions.with_mistake(solved, mistake, mistake.replaces or chk.functions[0])
                except ValueError:
                    notebook = solved
            folder = course / "submitted" / f"student-{k:03d}" / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, folder / path.name)


# What `course grade` runs (course/cli.py), with the worker time of the report printed for the floor.
COURSE_GRADE = """
import json, sys
from pathlib import Path
from autograder.grading import course_grade as grading
from autograder.course_dir import course_id
report = grading.run(Path(sys.argv[1]), sys.argv[3:], course_id(), jobs=int(sys.argv[2]), progress=False)
grading.write_reports(report, Path(sys.argv[1]) / "reports")
print(json.dumps({"graded": report.graded, "work_seconds": report.work_seconds}))
"""


def course_grade(course: Path, assignments: list[str], jobs: int) -> SimpleNamespace:
    """Grade the class as `course grade` does, in a new process each time: a process that has graded once already
    holds torch and the checks, and would skip the start-up an instructor's run pays."""
    done = subprocess.run([sys.executable, "-c", COURSE_GRADE, str(course), str(jobs), *assignments],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return SimpleNamespace(**json.loads(done.stdout.strip().splitlines()[-1]))


def cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of this machine so far; on a virtual machine the host may take a share."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def timed(work, ticks: list):
    """(wall seconds, result) of work(); adds the machine's CPU ticks meanwhile, (all, stolen), to ticks."""
    before, started = cpu_ticks(), time.perf_counter()
    result = work()
    seconds, after = time.perf_counter() - started, cpu_ticks()
    ticks[0] += after[0] - before[0]
    ticks[1] += after[1] - before[1]
    return seconds, result


def stolen_share(ticks: list) -> str:
    total, stolen = ticks
    return f"{100 * stolen / total:.0f}% of CPU time taken by the host" if total else "steal time unknown"


def scores(course: Path, assignment: str) -> dict:
    found = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    found[(submission.student_id, notebook.name, grade.name)] = grade.auto_score
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--per-assignment", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--course-runs", type=int, default=3,
                        help="how many times `course grade` grades its own copy of the class, spread over the stock "
                             "run (before it, between its assignments, after it); the ratio uses their median")
    parser.add_argument("--course-only", action="store_true",
                        help="time `course grade` alone (stock nbgrader takes about 45 minutes on the class of 280)")
    args = parser.parse_args()
    names = args.assignments or all_assignments()
    runs = max(1, args.course_runs)
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as tmp:
        stock = Path(tmp) / "stock"
        stock.mkdir()
        for assignment in names:
            nbgrader(stock, "generate_assignment", assignment, "--force", quiet=True)
            synthetic_class(stock, assignment, args.per_assignment)
        copies = [Path(tmp) / f"course-{k}" for k in range(runs)]
        for copy in copies:
            shutil.copytree(stock, copy)
        # course grade's runs, interleaved with stock nbgrader's assignments: this machine's speed drifts within
        # the hour, and so both graders are timed under the same conditions
        # run k goes before stock nbgrader's assignment number at[k]: the first before all, the last after all
        at = [round(k * len(names) / max(runs - 1, 1)) for k in range(runs)]
        stock_seconds, ours, ticks = {}, [], {"stock": [0, 0], "course": [0, 0]}

        def course_run(k):
            ours.append(timed(lambda: course_grade(copies[k], names, args.jobs), ticks["course"]))

        if args.course_only:
            for k in range(runs):
                course_run(k)
            return report_course_only(ours, args)
        for index, assignment in enumerate(names):
            for k in (k for k in range(runs) if at[k] == index):
                course_run(k)
            stock_seconds[assignment], _ = timed(
                lambda: nbgrader(stock, "autograde", assignment, "--force", quiet=True), ticks["stock"])
        for k in (k for k in range(runs) if at[k] >= len(names)):
            course_run(k)
        same = {}
        for assignment in names:
            theirs = scores(stock, assignment)
            same[assignment] = True
            for copy in copies:
                mine = scores(copy, assignment)
                for key in sorted(set(theirs) | set(mine)):
                    if theirs.get(key) != mine.get(key):
                        same[assignment] = False
                        print(f"differs: {assignment} {key}: stock {theirs.get(key)}, course grade {mine.get(key)}")
    total_stock = sum(stock_seconds.values())
    times = sorted(seconds for seconds, _ in ours)
    median = times[len(times) // 2]
    report = next(r for seconds, r in ours if seconds == median)
    print(f"{'assignment':22} {'submissions':>11} {'stock nbgrader':>15} {'per notebook':>13} {'same scores':>12}")
    for assignment in names:
        print(f"{assignment:22} {args.per_assignment:11d} {stock_seconds[assignment]:14.1f}s "
              f"{stock_seconds[assignment] / args.per_assignment:12.2f}s {'yes' if same[assignment] else 'NO':>12}")
    print(f"stock nbgrader, all: {total_stock:.1f} s for {report.graded} submissions "
          f"({stolen_share(ticks['stock'])})")
    print(f"course grade, all (each run: {args.jobs} jobs, start-up included): "
          + ", ".join(f"{seconds:.1f} s" for seconds, _ in ours) + f" in the order run; median {median:.1f} s "
          f"({stolen_share(ticks['course'])})")
    print(f"throughput ratio: {total_stock / median:.1f}x (against the median run; "
          f"{total_stock / times[-1]:.1f}x against the slowest, {total_stock / times[0]:.1f}x against the fastest)")
    print(f"floor: {1000 * report.work_seconds / max(report.graded, 1):.0f} ms of worker time per submission "
          f"(grading alone, without start-up), {report.work_seconds / args.jobs:.1f} s of the run on {args.jobs} cores")
    return 0 if all(same.values()) else 1


def report_course_only(ours: list, args) -> int:
    times = [seconds for seconds, _ in ours]
    median = sorted(times)[len(times) // 2]
    print(f"course grade, {ours[0][1].graded} submissions (each run: {args.jobs} jobs, start-up included): "
          + ", ".join(f"{seconds:.1f} s" for seconds in times) + f" in the order run; median {median:.1f} s")
    for seconds, report in ours:
        print(f"  floor: {1000 * report.work_seconds / max(report.graded, 1):.0f} ms of worker time per submission")
    return 0


if __name__ == "__main__":
    sys.exit(main())
