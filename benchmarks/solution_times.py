"""Run every worked solution notebook top to bottom in a fresh kernel and report its wall time.

Target: each under 40 s on two CPU cores (the course's budget for a solution notebook). Run with `make benchmark`.
The time includes kernel start-up and imports, as a student or grader would see it.
"""

from __future__ import annotations

import sys
import time

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT

BUDGET_SECONDS = 40.0


def main(names: list[str]) -> int:
    over = 0
    print(f"{'notebook':55} {'all cells':>10} {'no experiments':>15}")
    for assignment in names or nbs.assignments(SOURCE_ROOT):
        for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
            times = []
            for skip in (False, True):
                solution = nbs.worked_solution(nbs.read_notebook(path))
                if skip:
                    solution = engine.drop_experiments(solution)
                started = time.perf_counter()
                engine.execute(solution, workdir=path.parent)
                times.append(time.perf_counter() - started)
            flag = "  OVER BUDGET" if times[0] > BUDGET_SECONDS else ""
            over += bool(flag)
            print(f"{assignment + '/' + path.name:55} {times[0]:9.1f}s {times[1]:14.1f}s{flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
