"""Self-study waiting times: the in-notebook check, `course check` per notebook, and `course grade`'s start-up.

    .venv/bin/python benchmarks/self_check_times.py [--course PATH_TO_course] [--repeat 3] [--class-size 64]
                                                    [--skip kernel,check,warm,grade] [ASSIGNMENT ...]

- in the notebook: a real Jupyter kernel runs the learner's solved notebook (as released, answers filled in,
  experiments skipped; torch imported, as every notebook but the first does), then `check("<first exercise>")`
  twice (the first call of a kernel also imports the assignment's checks) and `check()`; timed inside the kernel;
- `course check NOTEBOOK` from a terminal, per notebook, solved and untouched, a new process each time (the median
  of --repeat runs): cold (no check server: the command grades in its own process) and warm (the learner's folder
  has a check server running, as `course lab` starts one; the time it takes to get ready is printed too).
  --course: another `course` command to time cold the same way (an older clone, for before/after);
- `course grade` on a class of --class-size submissions of one assignment (the first given, 00_getting_started by
  default): the whole run and one submission alone (`--student`), which is mostly start-up; each --course command
  in turn, --repeat rounds, the median of each.
Timings on a shared machine drift; the load average is printed with them, and the CPU seconds beside the wall
seconds of a command say what it costs on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grading_throughput import synthetic_class  # noqa: E402

from autograder import notebooks as nbs  # noqa: E402
from autograder.instructor import submissions  # noqa: E402
from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, all_assignments, nbgrader  # noqa: E402
from course import check_server  # noqa: E402

COURSE = Path(sys.executable).parent / "course"


def load() -> str:
    return "load %.1f" % os.getloadavg()[0]


def learner_notebooks(release_root: Path, out: Path, assignments: list[str]) -> list[tuple[str, Path, Path]]:
    """(assignment, solved notebook, untouched notebook) for each notebook, written under out."""
    found = []
    for assignment in assignments:
        for source_path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
            release = nbs.read_notebook(release_root / assignment / source_path.name)
            for kind, notebook in (("solved", submissions.fill_solutions(release, nbs.read_notebook(source_path))),
                                   ("untouched", release)):
                (out / kind / assignment).mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, out / kind / assignment / source_path.name)
            found.append((assignment, out / "solved" / assignment / source_path.name,
                          out / "untouched" / assignment / source_path.name))
    return found


def first_exercise(source_path: Path) -> str:
    from autograder.self_study import self_check

    return self_check.load_source(source_path.parent.name, source_path).test_cells[0].functions[0]


TIMED_CHECK = """
import time as _time
from course.self_check import check as _check
_started, _cpu = _time.perf_counter(), _time.process_time()
_report = _check({exercise!r})
print("SELF-CHECK", _time.perf_counter() - _started, _time.process_time() - _cpu, _report.points, _report.max_points,
      len(_report.rows))
"""


def time_in_kernel(notebook: Path, exercise: str) -> dict:
    """(wall, CPU seconds, points, rows) of check(exercise), twice, and check() in a kernel that ran the notebook."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(notebook.parent),
                                       env=dict(os.environ, JPY_SESSION_NAME=str(notebook)),
                                       stderr=subprocess.DEVNULL)
    try:
        client.execute_interactive("import torch", timeout=300)  # the targets hold once the kernel has torch
        for cell in nbs.read_notebook(notebook).cells:
            if cell.cell_type == "code" and not nbs.is_experiment(cell):
                client.execute_interactive(cell.source, timeout=300, output_hook=lambda message: None)
        result = {}
        # the first check of a kernel also imports the checks of its assignment
        for label, argument in (("first", exercise), ("one exercise", exercise), ("whole notebook", None)):
            printed = []

            def keep(message):
                if message["msg_type"] == "stream":
                    printed.append(message["content"]["text"])

            client.execute_interactive(TIMED_CHECK.format(exercise=argument), timeout=300, output_hook=keep)
            line = next(t for t in "".join(printed).splitlines() if t.startswith("SELF-CHECK"))
            _, seconds, cpu, points, max_points, rows = line.split()
            result[label] = (float(seconds), float(cpu), f"{float(points):g}/{float(max_points):g}", int(rows))
        return result
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(command: list[str], repeat: int, **options) -> tuple[float, float, int]:
    """(median wall seconds, median CPU seconds, exit status) of a command run repeat times.

    The CPU seconds (user + system, of the command and what it waited for) say what the wall time would be on an
    idle machine, where this shared one is busy with other work."""
    walls, cpus, status = [], [], 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), children_cpu()
        status = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options).returncode
        walls.append(time.perf_counter() - started)
        cpus.append(children_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus), status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--course", action="append", default=[],
                        help="a `course` command to time besides this environment's (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--class-size", type=int, default=64)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: kernel, check, warm, grade")
    args = parser.parse_args()
    names = args.assignments or all_assignments()
    skip = set(filter(None, args.skip.split(",")))
    commands = [str(COURSE), *args.course]
    with tempfile.TemporaryDirectory(prefix="self-check-benchmark-") as tmp:
        tmp = Path(tmp)
        (tmp / "course").mkdir()
        nbgrader(tmp / "course", "generate_assignment", "*", "--no-db", quiet=True)
        notebooks = learner_notebooks(tmp / "course" / "release", tmp / "learner", names)

        if "kernel" not in skip:
            print(f"== in the notebook: course.self_check.check() in a Jupyter kernel, wall seconds in the kernel "
                  f"(its CPU seconds) ({load()})")
            print(f"{'notebook':44s} {'exercise':26s} {'first call':>13s} {'one exercise':>13s} "
                  f"{'whole notebook':>14s}  points")
            for assignment, solved, _ in notebooks:
                exercise = first_exercise(SOURCE_ROOT / assignment / solved.name)
                timing = time_in_kernel(solved, exercise)
                first, one, whole = (timing[k] for k in ("first", "one exercise", "whole notebook"))
                print(f"{assignment + '/' + solved.name:44s} {exercise:26s} "
                      + " ".join(f"{f'{t[0]:.2f} ({t[1]:.2f})':>13s}" for t in (first, one, whole))
                      + f"   {whole[2]} ({whole[3]} cells)")

        if "check" not in skip:
            print(f"\n== course check NOTEBOOK from a terminal, median of {args.repeat}: wall seconds (CPU seconds) "
                  f"({load()})")
            for number, command in enumerate(commands, 1):
                print(f"  [{number}] {command}")
            print(f"{'notebook':44s} " + " ".join(f"{f'[{n}] solved':>16s} {f'[{n}] untouched':>16s}"
                                                  for n in range(1, len(commands) + 1)))
            for assignment, solved, untouched in notebooks:
                row = []
                for command in commands:
                    for path in (solved, untouched):
                        wall, cpu, status = time_command([command, "check", str(path)], args.repeat)
                        mark = "" if status == (0 if path == solved else 1) else "!"
                        row.append(f"{wall:.2f} ({cpu:.2f}){mark}")
                print(f"{assignment + '/' + solved.name:44s} " + " ".join(f"{cell:>16s}" for cell in row))
            print("  (! : an unexpected exit status: a solved notebook should exit 0, an untouched one 1)")

        if "warm" not in skip:
            started, cpu = time.perf_counter(), children_cpu()
            server = subprocess.Popen([sys.executable, "-m", "course.check_server", "--workspace",
                                       str(tmp / "learner")], stdout=subprocess.PIPE, text=True)
            try:
                line = server.stdout.readline()
                if "ready" not in line:
                    raise SystemExit(f"the check server did not start: {line}")
                print(f"\n== course check NOTEBOOK with the workspace's check server running, median of "
                      f"{args.repeat}: wall seconds (CPU seconds) ({load()})")
                print(f"  the server was ready after {time.perf_counter() - started:.1f} s")
                print(f"{'notebook':44s} {'solved':>16s} {'untouched':>16s}")
                for assignment, solved, untouched in notebooks:
                    row = []
                    for path in (solved, untouched):
                        wall, cpu, status = time_command([str(COURSE), "check", str(path)], args.repeat)
                        mark = "" if status == (0 if path == solved else 1) else "!"
                        served = check_server.ask_server(path)["cpu_seconds"]
                        row.append(f"{wall:.2f} ({cpu + served:.2f}){mark}")
                    print(f"{assignment + '/' + solved.name:44s} " + " ".join(f"{cell:>16s}" for cell in row))
                print("  (CPU seconds: the command's and those of the server's child that graded it)")
            finally:
                server.terminate()
                server.wait()

        if "grade" not in skip:
            assignment = names[0]
            print(f"\n== course grade on a class of {args.class_size} ({assignment}), a new process each ({load()})")
            stock = tmp / "class"
            stock.mkdir()
            nbgrader(stock, "generate_assignment", assignment, "--force", quiet=True)
            synthetic_class(stock, assignment, args.class_size)
            # each command in turn, --repeat rounds (this machine's speed drifts): the median of each
            timings = {(command, label): [] for command in commands for label in ("one", "whole")}
            for _ in range(args.repeat):
                for command in commands:
                    for label, extra in (("one", ["--student", "student-000"]), ("whole", [])):
                        copy = tmp / "class-copy"
                        shutil.rmtree(copy, ignore_errors=True)
                        shutil.copytree(stock, copy)
                        timings[command, label].append(time_command(
                            [command, "grade", assignment, "--course-dir", str(copy), *extra], 1, cwd=REPO_ROOT))
            for command in commands:
                one, whole = (sorted(timings[command, label])[len(timings[command, label]) // 2]
                              for label in ("one", "whole"))
                print(f"  {command}: one submission {one[0]:.2f} s ({one[1]:.2f} s CPU), "
                      f"{args.class_size} submissions {whole[0]:.2f} s ({whole[1]:.2f} s CPU); medians of "
                      f"{args.repeat}: one " + ", ".join(f"{t[0]:.2f}" for t in timings[command, "one"])
                      + "; whole " + ", ".join(f"{t[0]:.2f}" for t in timings[command, "whole"])
                      + ("  ! failed" if any(t[2] for t in timings[command, "one"] + timings[command, "whole"])
                         else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
