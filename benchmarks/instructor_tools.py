"""Time `course report` and `course similar` on a graded synthetic class (by default 40 per assignment: 280).

The class is grading_throughput.py's (the full solution, the untouched release and every catalogued mistake in
turn), graded once with `course grade`; then `course report` (every assignment, one process) and `course similar`
(one process per assignment, as an instructor runs it) are timed from the command line, start-up included.
Nearly every pair of that class shares most of its code, which is the similarity check's worst case.

    .venv/bin/python benchmarks/instructor_tools.py [--per-assignment 40] [--jobs 2] [ASSIGNMENT ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course_dir import REPO_ROOT, all_assignments, nbgrader
from autograder.grading.sandbox.worker import bubblewrap_problem

_spec = importlib.util.spec_from_file_location("grading_throughput", Path(__file__).with_name("grading_throughput.py"))
grading_throughput = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(grading_throughput)


def timed_course(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "course.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    return time.perf_counter() - started, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--per-assignment", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = args.assignments or all_assignments()
    with tempfile.TemporaryDirectory(prefix="instructor-benchmark-") as tmp:
        course = Path(tmp)
        for assignment in names:
            nbgrader(course, "generate_assignment", assignment, "--force", quiet=True)
            grading_throughput.synthetic_class(course, assignment, args.per_assignment)
        flags = ["--unsafe"] if bubblewrap_problem() else []
        seconds, done = timed_course("grade", *names, "--course-dir", str(course), "--jobs", str(args.jobs), *flags)
        if done.returncode:
            print(done.stderr)
            return 1
        total = args.per_assignment * len(names)
        print(f"course grade: {seconds:.1f} s for {total} submissions (for scale)")
        seconds, done = timed_course("report", *names, "--course-dir", str(course))
        print(done.stdout if done.returncode else done.stderr)
        print(f"course report, {len(names)} assignments in one run: {seconds:.1f} s for {total} submissions")
        times = {}
        for assignment in names:
            times[assignment], done = timed_course("similar", assignment, "--course-dir", str(course))
            print(done.stdout.splitlines()[0] if done.returncode == 0 else done.stderr)
        pairs = len(names) * args.per_assignment * (args.per_assignment - 1) // 2
        print("course similar, one run per assignment: "
              + ", ".join(f"{a} {s:.1f} s" for a, s in times.items())
              + f"; all: {sum(times.values()):.1f} s for {total} submissions ({pairs} pairs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
