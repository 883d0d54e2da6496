"""`course grade`: grade a class's submissions in parallel, in the sandbox, into nbgrader's gradebook.

One task is one student's submission of one assignment. The main process starts one sandbox per worker and, while
they warm up, imports the checks and makes torch's slow first calls; then it forks the workers (`--jobs`, default all
cores), warm from birth, each with its own sandbox, grading tasks with `grader.grade_notebook`. The main process alone
writes: first the gradebook (the tasks graded in the last second, in one transaction), then their graded notebooks
into autograded/ (renamed into place), stamped with a hash of what was submitted. A task whose graded notebooks
carry the hashes of the current submission is done; so a run that was killed at any moment, started again,
finishes what is left, and regrading replaces a student's grades as a whole.
nbgrader's formgrader, `nbgrader generate_feedback` and `nbgrader export` read the result as if nbgrader had graded.
"""

from __future__ import annotations

import concurrent.futures
import csv
import functools
import hashlib
import hmac
import importlib
import json
import multiprocessing
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from autograder.grading import engine
from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, CourseError
from autograder.grading.gradebook import GradebookWriter, db_url
from course.warm import long_lived_imports

STAMP = "course_grade"
# Graded tasks are written to the gradebook together, at most this often: one commit waits for the disk, and a
# run killed meanwhile grades those few tasks again.
SAVE_EVERY_SECONDS = 1.0
REASON_CHARACTERS = 2000  # of the reason for lost points, in the gradebook's comments and the reports


@dataclass(frozen=True)
class Task:
    student: str
    assignment: str
    folder: str          # submitted/<student>/<assignment>
    notebooks: tuple     # source notebook file names of the assignment


@dataclass
class CellRow:
    student: str
    assignment: str
    notebook: str
    grade_id: str
    points: float | None
    max_points: float
    reason: str


@dataclass
class RunReport:
    graded: int = 0
    already_done: int = 0
    crashed: int = 0
    work_seconds: float = 0.0   # time workers spent grading (the floor, without start-up and waiting)
    rows: list[CellRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one student's, which did not stop the run


def submission_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Whether a student's submissions are part I of N (shard=(I, N), 1 <= I <= N; None: the whole class).

    By a hash of the student id that every machine computes alike (not Python's hash(), which differs per process):
    N graders started with 1/N ... N/N grade every submission exactly once, each student's all on one machine.
    """
    if shard is None:
        return True
    index, count = shard
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % count == index - 1


def find_tasks(course_dir: Path, assignments: list[str], students: list[str] | None = None,
               shard: tuple[int, int] | None = None) -> list[Task]:
    tasks = []
    for assignment in assignments:
        names = tuple(p.name for p in nbs.assignment_notebooks(SOURCE_ROOT, assignment))
        for folder in sorted((course_dir / "submitted").glob(f"*/{assignment}")):
            student = folder.parent.name
            if folder.is_dir() and (not students or student in students) and in_shard(student, shard):
                tasks.append(Task(student, assignment, str(folder), names))
    return tasks


def autograded_path(course_dir: Path, task: Task, notebook: str) -> Path:
    return course_dir / "autograded" / task.student / task.assignment / notebook


def is_done(course_dir: Path, task: Task) -> bool:
    for name in task.notebooks:
        path = autograded_path(course_dir, task, name)
        try:
            stamp = json.loads(path.read_text()).get("metadata", {}).get(STAMP, {})
        except (OSError, ValueError):
            return False
        if stamp.get("submission_sha256") != submission_hash(Path(task.folder) / name):
            return False
    return True


# --- in a worker process ------------------------------------------------------------------------------------------

_sandbox = None
_timeouts = None
_seed_secret = None  # the course's, read by the main process before it forks the workers
SEED_SECRET_FILE = "grading_seed_secret"  # in the course directory; keep it as private as the gradebook


def seed_secret(course_dir: Path) -> bytes:
    """The course's secret for the hidden tests' seeds, made on the first run (32 random bytes, readable by the
    course's owner only) and the same in every later run, so a regrade draws the same inputs."""
    path = course_dir / SEED_SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 16:
            raise CourseError(f"{path} is not a seed secret (it should hold 32 random bytes); restore it from a "
                              "backup, or delete it to draw new hidden-test inputs for every student") from None
        return secret
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    return path.read_bytes()


def student_seed_key(secret: bytes | None, student: str) -> bytes | None:
    """A student's key for the hidden tests' inputs: the course's secret and the student id (framework.grading_seeds
    derives one seed per check from it)."""
    return None if secret is None else hmac.new(secret, student.encode(), "sha256").digest()


def _init_worker(sandboxes: list, free: "multiprocessing.SimpleQueue", timeouts) -> None:
    """Die with the main process; take one of the sandboxes the main process started (forked, it is warm already).
    A fork server this worker starts itself (a deferred one, a restarted one) ends when the worker does: its line
    to the worker closes."""
    global _sandbox, _timeouts
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles ^C
    _timeouts = timeouts
    mine = free.get()
    for index, sandbox in enumerate(sandboxes):
        if index != mine:
            sandbox.let_go()  # our copies of another worker's lines
    _sandbox = sandboxes[mine]
    _sandbox.share_cpu()  # see cpu_plan
    _sandbox.wait_ready()


def usable_cpus() -> set[int]:
    """The CPUs this process may run on (none known where the system cannot say)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()


def cpu_plan(jobs: int, usable: set[int]) -> list[int | None]:
    """The CPU each worker shares with its sandbox, or None for each when there are more workers than CPUs.

    A worker and its student process take turns (request, answer, request), so they can share one CPU; on
    different CPUs each turn must wake the other CPU, which costs a virtual machine most. On a 2-core virtual
    machine a request and its answer between two bare processes took 54 us across CPUs and 11 us on one; a call
    of a student function through the sandbox, 149 us and 104 us. A class of 280, six rounds in random order:
    median 28.9 s with each pair on its CPU, 30.5 s and 33.5 s for two copies of the code without (the spread
    is the machine's), and less system CPU time in every round.
    """
    cpus = sorted(usable)
    if jobs > len(cpus):
        return [None] * jobs
    return cpus[:jobs]


def needs_torch(assignment: str) -> bool:
    """Whether the assignment's notebooks name torch where the student's process runs them, solutions aside: a
    prediction, for the sandboxes (each submission decides for itself, grader.shows_torch). Solution blocks are cut
    out rather than the release made (engine.release_version): that imports nbgrader, ~0.8 s before the fork servers
    with torch could start, and the stubs it puts in their place name no torch."""
    from autograder.grading import grader

    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        notebook = nbs.read_notebook(path)
        for cell in notebook.cells:
            cell.source = nbs.remove_solutions(cell.source)
        if grader.shows_torch(notebook):
            return True
    return False


def _warm_up(assignments) -> None:
    """Import the checks and what they compute references with, make torch's slow first calls, and read the source
    notebooks and their released checksums (_source), once: every worker inherits them."""
    import torch

    from autograder.grading import grader  # noqa: F401
    from autograder.course_dir import check_module

    torch.set_num_threads(1)
    x = torch.ones(2, requires_grad=True)
    (x * x).sum().backward()
    torch.autograd.grad(x * x, x, torch.ones(2))  # a gradient given for a non-scalar output: loads sympy (0.4 s)
    for module in ("course.data", "course.gradcheck"):
        importlib.import_module(module)
    for assignment in assignments:
        check_module(assignment)
        for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
            _source(assignment, path.name)


def grade_task(task: Task) -> dict:
    """Grade every notebook of one submission; returns plain results for the main process to save."""
    from autograder.grading import grader

    global _sandbox
    started = time.perf_counter()
    results = []  # a sandbox the last submission killed is restarted by the first spawn that finds it gone
    for name in task.notebooks:
        source, checksums = _source(task.assignment, name)
        path = Path(task.folder) / name
        digest = submission_hash(path)
        try:
            submission = nbs.read_notebook(path)
        except Exception as error:  # NotebookError, or whatever else a hostile file makes the reader raise
            results.append(_not_gradable(source, name, digest, str(error).split(": ", 1)[-1]
                                         if isinstance(error, nbs.NotebookError) else f"unreadable: {error!r}"))
            continue
        try:
            grade, graded = grader.grade_notebook(_sandbox, submission, source, _timeouts, checksums,
                                                  student_seed_key(_seed_secret, task.student))
        except BaseException as error:  # of any kind (SystemExit too): this notebook gets no points, the run goes on
            results.append(_not_gradable(source, name, digest, f"grading failed: {type(error).__name__}: {error}"))
            _restart_sandbox()
            continue
        finally:
            try:
                _sandbox.reap()
            except Exception:
                pass
        cells = [dict(asdict(c), message=c.message[:REASON_CHARACTERS]) for c in grade.cells]
        results.append({"name": name, "sha256": digest, "cells": cells, "comments": engine.auto_comments(graded),
                        "notebook": stamped(graded, digest, cells), "crashed": False})
    return encodable({"task": asdict(task), "notebooks": results, "seconds": time.perf_counter() - started})


def encodable(value):
    """value with every string made encodable as UTF-8 (a lone surrogate, which JSON can carry, becomes '?'), so
    one student's text cannot fail the writes of the gradebook, graded notebooks and reports."""
    if type(value) is str:
        try:
            value.encode()
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode()
    if type(value) is dict:
        return {encodable(k): encodable(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(encodable(v) for v in value)
    return value


@functools.lru_cache(maxsize=None)
def _source(assignment: str, name: str):
    """The source notebook and its released checksums, read once per worker (they do not change during a run)."""
    source = nbs.read_notebook(SOURCE_ROOT / assignment / name)
    return source, engine.released_checksums(source)


def _restart_sandbox() -> None:
    global _sandbox
    from autograder.grading.sandbox.worker import Sandbox

    unsafe, limits, cpu, deferred = _sandbox.unsafe, _sandbox.limits, _sandbox.cpu, not _sandbox.started
    _sandbox.close_started_here()  # the main process stops those it started, at the end of the run
    _sandbox.let_go()
    _sandbox = Sandbox(unsafe=unsafe, limits=limits, cpu=cpu, deferred=deferred)


def _not_gradable(source, name: str, digest: str, reason: str) -> dict:
    """No points for any cell of a notebook that is missing or unreadable; the released version stands in for it
    (never the source, which holds the solutions)."""
    cells = [asdict(engine.CellGrade(nbs.grade_id(c), 0.0, nbs.points(c), reason))
             for c in source.cells if nbs.is_grade(c)]
    return {"name": name, "sha256": digest, "cells": cells, "comments": {},
            "notebook": stamped(engine.release_version(source), digest, cells), "crashed": True}


def stamped(notebook, digest: str, cells: list[dict]) -> str:
    """The graded notebook as text, carrying the hash of what was submitted and its grades (see is_done)."""
    notebook.metadata[STAMP] = {"submission_sha256": digest, "cells": cells}
    # Compact JSON, without nbformat.writes' validation, copy and line splitting (5x the cost, in pure Python): a
    # machine reads autograded notebooks (nbgrader's formgrader and feedback), and any JSON layout is a valid
    # notebook. The submission was validated when read, and tests/test_attacks.py validates what the grader made of
    # every hostile notebook in the catalogue.
    return json.dumps(notebook, sort_keys=True, ensure_ascii=False) + "\n"


# --- in the main process ------------------------------------------------------------------------------------------

def open_gradebook(course_dir: Path, course_id: str, assignments: list[str]):
    """The course's gradebook, open for the run; CourseError when an assignment has not been released."""
    from nbgrader.api import Gradebook, MissingEntry

    url = db_url(course_dir)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        # nothing was released here (nbgrader would make an empty gradebook, with `alembic` from PATH)
        raise CourseError(f"there is no gradebook in {course_dir}: release the assignments first (course release)")
    gradebook = Gradebook(url, course_id)
    for assignment in assignments:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            gradebook.close()
            raise CourseError(f"assignment {assignment} is not in the gradebook: release it first "
                              "(course release)") from None
    return gradebook


def submission_time(folder: Path, problems: list[str] | None = None):
    """When the submission was made (its timestamp.txt), or None when it has none or one that cannot be read: that
    is the student's problem alone, noted in problems."""
    from nbgrader.utils import parse_utc

    stamp_file = folder / "timestamp.txt"
    if not stamp_file.is_file():
        return None
    try:
        return parse_utc(stamp_file.read_text(errors="replace").strip())
    except Exception as error:  # dateutil raises ParserError, OverflowError, ...
        if problems is not None:
            problems.append(f"{folder}: timestamp.txt ignored, it is not a time ({type(error).__name__})")
        return None


def save(course_dir: Path, writer: GradebookWriter, results: list[dict],
         problems: list[str] | None = None) -> list[CellRow]:
    """Write graded tasks: their grades into the gradebook in one transaction, then their graded notebooks.

    A notebook is written only once its grades are committed, and is_done trusts the notebook: a run killed in
    between grades those tasks again, and nothing is lost or counted twice.
    """
    rows, tasks = [], [Task(**{**r["task"], "notebooks": tuple(r["task"]["notebooks"])}) for r in results]
    try:
        for task, result in zip(tasks, results):
            timestamp = submission_time(Path(task.folder), problems)
            scores, comments = {}, {}
            for notebook in result["notebooks"]:
                stem = Path(notebook["name"]).stem
                for cell in notebook["cells"]:
                    scores[stem, cell["grade_id"]] = cell["points"]
                    rows.append(CellRow(task.student, task.assignment, notebook["name"], cell["grade_id"],
                                        cell["points"], cell["max_points"], cell["message"]))
                comments.update({(stem, grade_id): text for grade_id, text in notebook["comments"].items()})
            writer.stage(task.assignment, task.student, timestamp, scores, comments)
    except BaseException:
        writer.rollback()
        raise
    writer.commit()
    for task, result in zip(tasks, results):
        for notebook in result["notebooks"]:
            target = autograded_path(course_dir, task, notebook["name"])
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_text(notebook["notebook"])  # serialised and stamped by the worker
            os.replace(partial, target)
        for name in ("timestamp.txt", "submission_secret.txt"):  # kept as nbgrader autograde keeps them:
            kept = Path(task.folder) / name  # generate_feedback passes them on, release_feedback needs both
            if kept.is_file():
                autograded_path(course_dir, task, name).write_text(kept.read_text())
    return rows


def rows_from_autograded(course_dir: Path, task: Task) -> list[CellRow]:
    rows = []
    for name in task.notebooks:
        stamp = json.loads(autograded_path(course_dir, task, name).read_text())["metadata"][STAMP]
        rows += [CellRow(task.student, task.assignment, name, c["grade_id"], c["points"], c["max_points"],
                         c["message"]) for c in stamp["cells"]]
    return rows


def run(course_dir: Path, assignments: list[str], course_id: str, jobs: int | None = None, force: bool = False,
        unsafe: bool = False, students: list[str] | None = None, progress: bool = True, timeouts=None,
        limits=None, shard: tuple[int, int] | None = None) -> RunReport:
    from autograder.grading.grader import Timeouts
    from autograder.grading.sandbox.worker import Limits, Sandbox, bubblewrap_problem

    if not unsafe:
        problem = bubblewrap_problem()
        if problem:
            raise CourseError(f"cannot sandbox student code: {problem}; to grade trusted work without a sandbox, "
                              "pass --unsafe")
    report = RunReport()
    tasks = find_tasks(course_dir, assignments, students, shard)
    todo = []
    for task in tasks:
        if not force and is_done(course_dir, task):
            report.already_done += 1
            report.rows += rows_from_autograded(course_dir, task)
        else:
            todo.append(task)
    if not todo:
        return report
    usable = usable_cpus()
    jobs = max(1, min(jobs or len(usable) or os.cpu_count() or 1, len(todo)))
    to_grade = sorted({t.assignment for t in todo})
    global _seed_secret
    sandboxes, gradebook = [], None
    try:
        # The sandboxes warm up in their own processes (the longest part of starting: 2 s of CPU for one with
        # torch) from the start, while this one opens the gradebook and warms up itself; the workers are forked
        # from it warm. When no notebook to grade names torch, a worker starts its fork server with torch only if a
        # submission turns out to need it.
        sandboxes = [Sandbox(unsafe=unsafe, limits=limits or Limits(), wait=False, cpu=cpu, deferred=True)
                     for cpu in cpu_plan(jobs, usable)]
        if any(needs_torch(assignment) for assignment in to_grade):
            for sandbox in sandboxes:
                sandbox.start(wait=False)
        # torch's and the checks' objects frozen, out of every later collection: the gradebook's many small objects
        # would otherwise make each full collection walk them all again (this process: 13.4 s of CPU for a class of
        # 280, 12.3 s frozen)
        with long_lived_imports():
            gradebook = open_gradebook(course_dir, course_id, to_grade)
            _seed_secret = seed_secret(course_dir)  # the forked workers inherit it
            _warm_up(to_grade)
        context = multiprocessing.get_context("fork")
        free = context.SimpleQueue()
        for index in range(jobs):
            free.put(index)
        with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                                    initargs=(sandboxes, free, timeouts or Timeouts())) as pool:
            running = {pool.submit(grade_task, task) for task in todo}
            bar = tqdm(total=len(todo), unit="submission", desc="grading", disable=not progress)
            writer, pending = GradebookWriter(gradebook), []
            next_save = time.monotonic() + SAVE_EVERY_SECONDS
            try:
                while running:
                    done, running = concurrent.futures.wait(
                        running, timeout=max(0.0, next_save - time.monotonic()),
                        return_when=concurrent.futures.FIRST_COMPLETED)
                    for future in done:
                        try:
                            result = future.result()
                        except Exception as error:  # grade_task fails a notebook, never a task: a worker died
                            raise CourseError(f"grading stopped, a worker failed ({type(error).__name__}: "
                                              f"{error}); what was graded is saved, run it again to finish") from None
                        pending.append(result)
                        report.graded += 1
                        report.work_seconds += result["seconds"]
                        report.crashed += any(n["crashed"] for n in result["notebooks"])
                        bar.update(1)
                        bar.set_postfix(failures=report.crashed)
                    if time.monotonic() >= next_save:  # also while a slow submission holds up the rest
                        batch, pending = pending, []
                        report.rows += save(course_dir, writer, batch, report.problems) if batch else []
                        next_save = time.monotonic() + SAVE_EVERY_SECONDS
            finally:
                bar.close()
                if pending:  # what was graded is kept, also when the run stops early (^C, a worker's error)
                    report.rows += save(course_dir, writer, pending, report.problems)
    finally:
        if gradebook is not None:
            gradebook.close()
        for sandbox in sandboxes:
            sandbox.close()
    return report


def write_reports(report: RunReport, folder: Path) -> tuple[Path, Path]:
    """grades.csv and grades.json: one row per grade cell with its points and the reason for lost points."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = sorted(report.rows, key=lambda r: (r.assignment, r.student, r.notebook, r.grade_id))
    csv_path, json_path = folder / "grades.csv", folder / "grades.json"
    partial = csv_path.with_name("grades.csv.partial")
    with open(partial, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(CellRow.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    os.replace(partial, csv_path)
    partial = json_path.with_name("grades.json.partial")
    partial.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    os.replace(partial, json_path)
    return csv_path, json_path


def summary(report: RunReport) -> str:
    """Per assignment: submissions, mean share of autograded points, full marks, notebooks that could not run."""
    by_student: dict = {}
    for row in report.rows:
        if row.points is None:
            continue
        key = (row.assignment, row.student)
        got, total = by_student.get(key, (0.0, 0.0))
        by_student[key] = (got + row.points, total + row.max_points)
    lines = [f"{'assignment':24} {'submissions':>11} {'mean score':>10} {'full marks':>10}"]
    for assignment in sorted({a for a, _ in by_student}):
        scores = [got / total if total else 0.0 for (a, _), (got, total) in by_student.items() if a == assignment]
        lines.append(f"{assignment:24} {len(scores):11d} {100 * sum(scores) / len(scores):9.1f}% "
                     f"{sum(s == 1.0 for s in scores):10d}")
    lines.append(f"graded now: {report.graded}, already graded: {report.already_done}, "
                 f"notebooks that could not be graded: {report.crashed}")
    lines += report.problems
    return "\n".join(lines)
