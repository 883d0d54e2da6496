"""Time today's grading engine and an earlier commit's on the same course content: that commit's.

The course's content (notebooks, checks per notebook) grows between commits, so `course grade`'s time on the
benchmark class of two commits compares different work. This script compares the engines alone. From this
repository's git history it builds, in a temporary folder:
- "then": the earlier commit as it was (its engine and its content);
- "today": this repository's HEAD (engine, sandbox, framework, `course` package, nbgrader_config.py) with the earlier
  commit's content put where today's engine looks for it: its source_notebooks/, its check modules as
  autograder/checks/aNN_*.py, their imports and the notebooks' hidden tests rewritten by the list RENAMES, and its
  `course` modules wherever the old content needs a function today's `course` lacks or has changed (see
  course_modules_for);
and grades one synthetic class made from the OLD content (benchmarks/grading_throughput.py's synthetic_class, run
in the "today" tree) with each, as `course grade` runs: a new process, `python -c`, cwd = that tree.

It needs the repository's history (a clone, not an exported copy of the files; a shallow clone lacks the earlier
commit): both trees come from `git archive`.

Both engines run on this virtual environment; the script says which of the earlier commit's pinned packages it
lacks or has in another version. Each tree gets its own view of the environment, made of hard links to the same
files: the sandbox's interpreter imports `course` through the environment's editable install, which names the
folder the environment was installed from, and inside the sandbox only the running tree's `course/` is mounted.
The view names the tree instead (and nothing else differs); so the temporary folder is on the environment's file
system (beside the environment when the system's temporary folder is not). Before timing, each engine grades a
class of two, the full solution and the untouched release of every assignment, and must give full marks to the
one and 0 to the other on every hidden-test cell; a probe prints where `autograder` and `course` come from, in the
grader and inside the sandbox.

    .venv/bin/python benchmarks/engine_on_earlier_course.py [--commit 0c1a837] [--per-assignment 40] [--jobs 2]
        [--runs 3] [--without NAME[,NAME] ...] [ASSIGNMENT ...]

Prints per engine the time of each run (interleaved then/today, one round after another) and its CPU time, their
medians, the ratios today/then of the medians, and every grade cell the two engines scored differently, with
today's reason. --without per-student-inputs, --without torch-free-process (see WITHOUTS) add variants of today's
engine without that protection, timed in the same rounds: what each protection costs.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from autograder import notebooks as nbs
from grading_throughput import scores

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COMMIT = "0c1a837"  # the code when the throughput target of `course grade` was set


class Problem(Exception):
    """Something this script cannot work with; one line."""


# --- the layouts of the repository it knows --------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    name: str
    checks: str            # the folder of the check modules aNN_*.py and their framework.py
    grading: str           # the module of `course grade` (run, write_reports)
    sandbox: str           # the module of the sandbox (Sandbox)

    def files(self) -> list[str]:
        """What a commit in this layout holds."""
        return [f"{self.checks}/framework.py", self.grading.replace(".", "/") + ".py",
                self.sandbox.replace(".", "/") + ".py"]


GROUPED = Layout("autograder grouped by concern", "autograder/checks", "autograder.grading.course_grade",
                 "autograder.grading.sandbox.worker")
FLAT = Layout("autograder as one flat folder", "autograder", "autograder.grading", "autograder.sandbox.worker")
LAYOUTS = (GROUPED, FLAT)

# What the flat layout's check modules and hidden tests import, and where today's engine has it. A check module
# `autograder.aNN_name` becomes `autograder.checks.aNN_name`. Any other `autograder.` name in the old content stops
# the script: it would need a rename this list does not know.
RENAMES = {
    "autograder.framework": "autograder.checks.framework",
    "autograder.handle": "autograder.checks.handle",
    "autograder.plain": "autograder.checks.plain",
}
CHECK_MODULE = re.compile(r"a\d\d_\w+")

# `course grade` as course/cli.py runs it (benchmarks/grading_throughput.py's COURSE_GRADE), for either layout, and
# where the grader's packages came from
COURSE_GRADE = """
import importlib, json, sys
from pathlib import Path
import autograder, course
grading = importlib.import_module(sys.argv[1])
from autograder.course_dir import course_id
without = [name for name in sys.argv[4].split(",") if name]
WITHOUT_CODE
report = grading.run(Path(sys.argv[2]), sys.argv[5:], course_id(), jobs=int(sys.argv[3]), progress=False)
grading.write_reports(report, Path(sys.argv[2]) / "reports")
print(json.dumps({"graded": report.graded, "crashed": report.crashed, "work_seconds": report.work_seconds,
                  "autograder": autograder.__file__, "course": course.__file__}))
"""

# What a variant of today's engine goes without (--without), to measure what each protection costs: patched into
# the grader process before it forks its workers; the engine itself has no such switch.
WITHOUTS = {
    # every student the inputs of seed 0, as the earlier engine: each worker computes a reference once, not per student
    "per-student-inputs": "grading.student_seed_key = lambda secret, student: None",
    # every cell run, and every function called (graded by hand too), in a process with torch, as the earlier engine
    # did, instead of a process without torch (which runs the cells until one needs torch, and then gets them again)
    "torch-free-process": (
        "from autograder.grading import grader\n"
        "grader.names_torch = lambda source: True\n"
        "def call(self, name, args, kwargs, by_hand, stand_ins=None):\n"
        "    try:\n"
        "        if self.executor is None:\n"
        "            self.restart_if_dead()\n"
        "        return self.executor.call(name, args, kwargs, False, self._timeout(), stand_ins)\n"
        "    except grader.ExecutorDied as died:\n"
        "        raise grader.StudentError(f'{name}: {died}') from None\n"
        "grader.StudentSession.call = call"),
}
COURSE_GRADE = COURSE_GRADE.replace("WITHOUT_CODE", "\n".join(
    f"if {name!r} in without:\n" + "\n".join("    " + line for line in code.split("\n"))
    for name, code in WITHOUTS.items()))

# Where the student's process inside the sandbox finds `course`, and a digest of that folder's modules.
SANDBOX_PROBE = """
import importlib, json, sys
import autograder, course
Sandbox = importlib.import_module(sys.argv[1]).Sandbox
CELL = '''import course, hashlib, pathlib
folder = pathlib.Path(course.__file__).parent
print(course.__file__)
print(hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(folder.glob("*.py")))).hexdigest())'''
with Sandbox() as sandbox:
    reply = sandbox.spawn().exec_cell(CELL, "probe", 120)
print(json.dumps({"autograder": autograder.__file__, "course": course.__file__, "sandbox": reply}))
"""

# The class: grading_throughput.synthetic_class, in the tree whose source_notebooks/ and checks are the old ones;
# and what each student is (the same choice as synthetic_class makes), to explain a difference.
BUILD_CLASS = """
import json, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from grading_throughput import synthetic_class
from autograder.course_dir import check_module, nbgrader
course, size, assignments = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
kinds = {}
for assignment in assignments:
    nbgrader(course, "generate_assignment", assignment, "--force", quiet=True)
    synthetic_class(course, assignment, size)
    mistakes = [(c, m) for c in check_module(assignment).CHECKS for m in c.mistakes]
    for k in range(size):
        chk, mistake = mistakes[k % len(mistakes)]
        kinds[f"{assignment} student-{k:03d}"] = ("full solution" if k % 4 == 0 else "untouched release"
                                                  if k % 8 == 1 else f"{chk.name}: {mistake.name}")
print(json.dumps(kinds))
"""


def git(*args: str, binary: bool = False):
    done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=not binary)
    if done.returncode != 0:
        message = done.stderr if not binary else done.stderr.decode(errors="replace")
        raise Problem(f"git {' '.join(args)} failed: {message.strip().splitlines()[-1] if message.strip() else ''}"
                      " (this script needs the repository's git history)")
    return done.stdout


def layout_of(revision: str) -> Layout:
    files = set(git("ls-tree", "-r", "--name-only", revision, "--", "autograder").split())
    for layout in LAYOUTS:
        if set(layout.files()) <= files:
            return layout
    raise Problem(f"{revision}: not a layout this script knows (it would hold all of "
                  + ", or all of ".join(", ".join(layout.files()) for layout in LAYOUTS) + ")")


def extract(revision: str, folder: Path) -> None:
    """The files of revision (git archive) into folder."""
    folder.mkdir(parents=True)
    archive = git("archive", "--format=tar", revision, binary=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


# --- today's tree with the old content -------------------------------------------------------------------------------

def renames_for(layout: Layout, check_modules: list[str]) -> dict[str, str]:
    """Old module name -> today's, for the old content's references to autograder."""
    if layout is GROUPED:
        return {}
    return {**RENAMES, **{f"autograder.{m}": f"autograder.checks.{m}" for m in check_modules}}


def rewritten(text: str, renames: dict[str, str], where: str, layout: Layout) -> str:
    """text with every `autograder.X` reference renamed; a Problem for one the list does not know."""
    if layout is GROUPED:
        return text
    if re.search(r"\bfrom\s+autograder\s+import\b|\bimport\s+autograder\b(?!\.)", text):
        raise Problem(f"{where}: imports the autograder package itself, which RENAMES cannot rewrite")

    def rename(match):
        name = match.group(0)
        if name not in renames:
            raise Problem(f"{where}: refers to {name}, which RENAMES does not map to today's layout")
        return renames[name]
    return re.sub(r"\bautograder\.\w+", rename, text)


def definitions(path: Path) -> dict[str, str]:
    """name -> ast.dump of each top-level function, class and assignment of a module."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = ast.dump(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    found[target.id] = ast.dump(node)
    return found


def course_modules_for(old: Path, today: Path, content: list[Path]) -> dict[str, str]:
    """module -> 'today' or 'old', for each `course` module the old content imports.

    Today's module serves when it has every top-level definition of the old one unchanged (added ones do not
    matter); otherwise the old file replaces it, unless today's engine itself imports that module (then neither fits
    both, and the script stops).
    """
    used = set()
    for path in content:
        text = path.read_text()
        used |= set(re.findall(r"\bcourse\.(\w+)", text))
        used |= {name for names in re.findall(r"\bfrom\s+course\s+import\s+([\w, ]+)", text)
                 for name in re.split(r"\s*,\s*", names.strip())}
    engine_text = "\n".join(p.read_text() for p in (today / "autograder").rglob("*.py")
                            if not CHECK_MODULE.fullmatch(p.stem))
    choice = {}
    for module in sorted(used):
        old_file, today_file = old / "course" / f"{module}.py", today / "course" / f"{module}.py"
        if not old_file.is_file():
            continue  # not a module of the old package (an attribute such as course.__file__)
        if not today_file.is_file():
            choice[module] = "old"
            continue
        theirs, ours = definitions(old_file), definitions(today_file)
        changed = sorted(name for name, dump in theirs.items() if ours.get(name) != dump)
        if not changed:
            choice[module] = "today"
        elif re.search(rf"\bcourse\.{module}\b", engine_text):
            raise Problem(f"course/{module}.py: the old content needs its old {', '.join(changed)}, and today's "
                          "engine imports today's module")
        else:
            choice[module] = "old"
    return choice


def build_today_with_old_content(old: Path, layout: Layout, today: Path, today_revision: str) -> dict[str, str]:
    """today_revision's files in `today`, with the course content of the commit extracted in `old`; returns the
    choice of `course` modules (course_modules_for)."""
    if layout_of(today_revision) is not GROUPED:
        raise Problem(f"{today_revision}: today's tree is expected in the layout {GROUPED.name}")
    extract(today_revision, today)
    checks = sorted(p for p in (old / layout.checks).glob("a[0-9][0-9]_*.py"))
    if not checks or not (old / "source_notebooks").is_dir():
        raise Problem(f"{old.name}: no check modules in {layout.checks}/ or no source_notebooks/")
    renames = renames_for(layout, [p.stem for p in checks])
    for path in (today / GROUPED.checks).glob("a[0-9][0-9]_*.py"):
        path.unlink()
    for path in checks:
        (today / GROUPED.checks / path.name).write_text(rewritten(path.read_text(), renames, path.name, layout))
    shutil.rmtree(today / "source_notebooks")
    shutil.rmtree(today / "solutions", ignore_errors=True)  # today's content, not graded here
    notebooks = sorted((old / "source_notebooks").rglob("*.ipynb"))
    for path in notebooks:
        target = today / path.relative_to(old)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewritten(path.read_text(), renames, str(path.relative_to(old)), layout))
    choice = course_modules_for(old, today, checks + notebooks)
    for module, where in choice.items():
        if where == "old":
            shutil.copyfile(old / "course" / f"{module}.py", today / "course" / f"{module}.py")
    return choice


def pins_not_installed(tree: Path) -> list[str]:
    """The packages tree's pyproject.toml pins (its dependencies) that this environment lacks or has in another
    version."""
    from importlib import metadata

    pins = tomllib.loads((tree / "pyproject.toml").read_text())["project"]["dependencies"]
    wrong = []
    for pin in pins:
        name, _, version = pin.partition("==")
        try:
            installed = metadata.version(name.split("[")[0].strip())
        except metadata.PackageNotFoundError:
            installed = None
        if (installed or "").split("+")[0] != version.strip():  # +cpu: the build, not another version
            wrong.append(f"{pin} (installed: {installed or 'none'})")
    return wrong


# --- one view of this virtual environment per tree -------------------------------------------------------------------

def installed_root(python: str) -> Path:
    """The folder the environment's editable install maps `course` to."""
    done = subprocess.run([python, "-c", "import course; print(course.__file__)"], cwd="/", capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise Problem("this virtual environment has no install of the course's packages (make setup)")
    return Path(done.stdout.strip()).parent.parent


def environment_for(tree: Path, folder: Path) -> str:
    """A copy of this virtual environment made of hard links (the same files), whose editable install names tree;
    returns its python."""
    prefix = Path(sys.prefix)
    root = installed_root(sys.executable)
    done = subprocess.run(["cp", "-al", str(prefix), str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        raise Problem(f"cannot hard-link {prefix} into {folder.parent} (not on one file system?): "
                      f"{done.stderr.strip()}")
    site = next(folder.glob("lib/python*/site-packages"))
    rewritten_files = 0
    for path in list(site.glob("*.pth")) + list(site.glob("__editable__*.py")):
        text = path.read_text()
        if str(root) in text:
            path.unlink()  # a new file: the hard link stays the original environment's
            path.write_text(text.replace(f"{root}/", f"{tree}/").replace(f"'{root}'", f"'{tree}'"))
            for cached in site.glob(f"__pycache__/{path.stem}.*"):
                cached.unlink()
            rewritten_files += 1
    if not rewritten_files:
        raise Problem(f"{prefix}: no editable install of {root} found in {site.name} (make setup installs one)")
    return str(folder / "bin" / "python")


# --- running an engine ------------------------------------------------------------------------------------------------

@dataclass
class Engine:
    label: str       # "then", "today" or "today without ..."
    tree: Path
    layout: Layout
    python: str
    without: tuple[str, ...] = ()  # names of WITHOUTS

    def run(self, code: str, *args: str, meter: "CpuMeter | None" = None) -> dict:
        command = [self.python, "-c", code, *args]
        done = (meter.run if meter else subprocess.run)(command, cwd=self.tree, capture_output=True, text=True)
        if done.returncode != 0:
            raise Problem(f"{self.label}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}"
                          f" (exit {done.returncode})")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def inside(self, path: str) -> bool:
        return Path(path).resolve().is_relative_to(self.tree.resolve())

    def grade(self, course: Path, assignments: list[str], jobs: int) -> tuple[float, dict]:
        """(wall seconds, result) of one run; result["cpu_seconds"]: the CPU time of the run's processes."""
        meter = CpuMeter()
        started = time.perf_counter()
        result = self.run(COURSE_GRADE, self.layout.grading, str(course), str(jobs), ",".join(self.without),
                          *assignments, meter=meter)
        seconds = time.perf_counter() - started
        result["cpu_seconds"], result["cpu_measured_by"] = meter.seconds, meter.how
        if not (self.inside(result["autograder"]) and self.inside(result["course"])):
            raise Problem(f"{self.label}: graded with {result['autograder']} and {result['course']}, not {self.tree}")
        return seconds, result

    def probe(self) -> None:
        """Where the grader's and the sandbox's packages come from; a Problem when not from this tree."""
        found = self.run(SANDBOX_PROBE, self.layout.sandbox)
        lines = found["sandbox"].get("stdout", "").split()
        expected = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes()
                                           for p in sorted((self.tree / "course").glob("*.py")))).hexdigest()
        print(f"  {self.label}: grader's autograder {found['autograder']}, course {found['course']}; "
              f"in the sandbox, course {lines[0] if lines else found['sandbox']}")
        if not (self.inside(found["autograder"]) and self.inside(found["course"])):
            raise Problem(f"{self.label}: the grader imported packages from outside {self.tree}")
        if len(lines) != 2 or not self.inside(lines[0]) or lines[1] != expected:
            raise Problem(f"{self.label}: the sandbox's course is not {self.tree / 'course'}: {found['sandbox']}")


class CpuMeter:
    """The CPU time of a command and of every process it starts: on a shared machine it varies less with the load
    than the wall time. Counted by a cgroup of its own where the system lets this process make one (cgroup v1's
    cpuacct, as root); otherwise from this process's finished children and the processes they waited for, which
    misses the sandboxes' processes (bubblewrap's init does not wait for them): `how` says which."""

    CPUACCT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self):
        self.seconds, self.how = 0.0, "children's rusage"

    def run(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        group = self.CPUACCT / f"engine-on-earlier-course-{os.getpid()}-{time.monotonic_ns()}"
        try:
            group.mkdir()
        except OSError:
            before = self._children()
            done = subprocess.run(command, **kwargs)
            self.seconds = self._children() - before
            return done
        try:
            done = subprocess.run(command, preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
                                  **kwargs)
            self.seconds, self.how = int((group / "cpuacct.usage").read_text()) / 1e9, "cgroup cpuacct"
            return done
        finally:
            for _ in range(50):  # its last processes may take a moment to leave
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)

    @staticmethod
    def _children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime


def test_cells(tree: Path, assignment: str) -> dict[tuple[str, str], float]:
    """(notebook, grade id) -> points of every hidden-test cell of an assignment's source notebooks."""
    return {(path.stem, nbs.grade_id(cell)): nbs.points(cell)
            for path in nbs.assignment_notebooks(tree / "source_notebooks", assignment)
            for cell in nbs.read_notebook(path).cells if nbs.is_test(cell)}


def sound_grading(engine: Engine, course: Path, assignments: list[str]) -> list[str]:
    """What is wrong with engine's grades of the class of two (student-000: full solution, student-001: untouched
    release): every hidden-test cell must get full marks and 0 points."""
    wrong = []
    for assignment in assignments:
        found = scores(course, assignment)
        for (notebook, cell), points in test_cells(engine.tree, assignment).items():
            solution = found.get(("student-000", notebook, cell))
            release = found.get(("student-001", notebook, cell))
            if solution != points:
                wrong.append(f"{engine.label}: {assignment} {notebook} {cell}: the full solution got {solution} of "
                             f"{points}")
            if release != 0:
                wrong.append(f"{engine.label}: {assignment} {notebook} {cell}: the untouched release got {release}")
    return wrong


def reasons(course: Path) -> dict:
    """(student, notebook, grade id) -> the reason for lost points, from the run's grades.json."""
    rows = json.loads((course / "reports" / "grades.json").read_text())
    return {(r["student"], r["notebook"], r["grade_id"]): r["reason"] for r in rows}


def differences(then: dict, today: dict) -> list[tuple]:
    return [(key, then.get(key), today.get(key)) for key in sorted(set(then) | set(today))
            if then.get(key) != today.get(key)]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="of the earlier commit (default: all)")
    parser.add_argument("--commit", default=DEFAULT_COMMIT, help=f"the earlier commit (default {DEFAULT_COMMIT})")
    parser.add_argument("--today", default="HEAD", help="today's revision (default HEAD)")
    parser.add_argument("--per-assignment", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="rounds of then/today (default 3); the medians compare")
    parser.add_argument("--without", action="append", default=[], metavar="NAME[,NAME]",
                        help="also time today's engine without these protections, to see what they cost (may be "
                             f"given again for another variant): {', '.join(WITHOUTS)}")
    args = parser.parse_args()
    if args.per_assignment < 2 or args.jobs < 1 or args.runs < 1:
        parser.error("--per-assignment needs at least 2 (the solution and the release), --jobs and --runs 1")
    args.without = [tuple(name for name in variant.split(",") if name) for variant in args.without]
    unknown = sorted({name for variant in args.without for name in variant} - set(WITHOUTS))
    if unknown or any(not variant for variant in args.without):
        parser.error(f"--without takes names among {', '.join(WITHOUTS)}" + (f", not {unknown[0]}" if unknown else ""))
    try:
        return measure(args)
    except Problem as problem:
        print(f"engine_on_earlier_course: {problem}", file=sys.stderr)
        return 2


def measure(args) -> int:
    commit = git("rev-parse", "--short", f"{args.commit}^{{commit}}").strip()
    today_revision = git("rev-parse", "--short", f"{args.today}^{{commit}}").strip()
    layout = layout_of(commit)
    base = tempfile.gettempdir()
    if os.stat(base).st_dev != os.stat(sys.prefix).st_dev:
        base = str(Path(sys.prefix).parent)  # hard links need the environment's file system
    with tempfile.TemporaryDirectory(prefix="engine-on-earlier-course-", dir=base) as tmp:
        tmp = Path(tmp)
        print(f"then: {commit} ({layout.name}); today: {today_revision} with {commit}'s course content")
        extract(commit, tmp / "then")
        known = nbs.assignments(tmp / "then" / "source_notebooks")
        unknown = [a for a in args.assignments if a not in known]
        if unknown:
            raise Problem(f"unknown assignment {unknown[0]!r} at {commit} (known: {', '.join(known)})")
        names = args.assignments or known
        choice = build_today_with_old_content(tmp / "then", layout, tmp / "today", today_revision)
        missing = pins_not_installed(tmp / "then")
        print(f"packages {commit} pins that this environment lacks or has in another version: "
              + (", ".join(missing) if missing else "none"))
        print("course modules the old content imports: " + ", ".join(
            f"{m} ({'today' if w == 'today' else commit}'s)" for m, w in choice.items()))
        engines = [Engine(label, tmp / label, lay, environment_for(tmp / label, tmp / f"venv-{label}"))
                   for label, lay in (("then", layout), ("today", GROUPED))]
        variants = [Engine("today without " + ", ".join(without), engines[1].tree, GROUPED, engines[1].python,
                           without) for without in args.without]

        print("where the packages come from:")
        for engine in engines:
            engine.probe()
        # the class of two: sound grading of the old content by both engines (and every module compiled once)
        wrong, pair = [], tmp / "class-of-two"
        pair.mkdir()
        engines[1].run(BUILD_CLASS, str(pair), "2", *names)
        for engine in engines:
            course = tmp / f"check-{engine.label}"
            shutil.copytree(pair, course)
            engine.grade(course, names, args.jobs)
            wrong += sound_grading(engine, course, names)
        if wrong:
            print("\n".join(wrong))
            raise Problem(f"{len(wrong)} hidden-test cells graded wrongly on the full solution or the release")
        print(f"both engines: full marks for the full solution, 0 for the untouched release, on every hidden-test "
              f"cell of {', '.join(names)}")

        class_dir = tmp / "class"
        class_dir.mkdir()
        kinds = engines[1].run(BUILD_CLASS, str(class_dir), str(args.per_assignment), *names)
        # one seed secret for every run of today's engine, so its runs draw the same hidden-test inputs (the
        # earlier engine has none and ignores the file)
        secret = class_dir / "grading_seed_secret"
        secret.write_bytes(os.urandom(32))
        secret.chmod(0o600)
        engines += variants  # timed with the others (their soundness is not checked: each lacks a protection)
        times = {e.label: [] for e in engines}
        cpu = {e.label: [] for e in engines}
        found = {e.label: [] for e in engines}
        why = {}
        print(f"load average before: {load()}")
        for round_ in range(args.runs):
            for index, engine in enumerate(engines):
                course = tmp / f"run-{index}-{round_}"
                shutil.copytree(class_dir, course)
                seconds, result = engine.grade(course, names, args.jobs)
                times[engine.label].append(seconds)
                cpu[engine.label].append(result["cpu_seconds"])
                found[engine.label].append({(a, *key): value for a in names
                                            for key, value in scores(course, a).items()})
                why.setdefault(engine.label, reasons(course))
                if round_ == index == 0:
                    print(f"CPU time measured by {result['cpu_measured_by']}")
                print(f"  round {round_ + 1}, {engine.label}: {seconds:.1f} s ({result['cpu_seconds']:.1f} s of CPU), "
                      f"{result['graded']} submissions, "
                      f"{1000 * result['work_seconds'] / max(result['graded'], 1):.0f} ms of worker time each, "
                      f"{result['crashed']} not gradable")
                shutil.rmtree(course)
        print(f"load average after: {load()}")
    return report(args, commit, times, cpu, found, why, kinds)


def report(args, commit: str, times: dict, cpu: dict, found: dict, why: dict, kinds: dict) -> int:
    medians = {label: statistics.median(seconds) for label, seconds in times.items()}
    cpu_medians = {label: statistics.median(seconds) for label, seconds in cpu.items()}
    print(f"\ncourse grade on {commit}'s course content ({args.per_assignment} per assignment, {args.jobs} jobs, "
          "start-up included):")
    for label, seconds in times.items():
        engine = commit if label == "then" else label
        print(f"  engine of {engine}: " + ", ".join(f"{s:.1f} s" for s in seconds)
              + f" in the order run; median {medians[label]:.1f} s; CPU time "
              + ", ".join(f"{s:.1f} s" for s in cpu[label]) + f", median {cpu_medians[label]:.1f} s")
    for label in times:
        if label != "then":
            print(f"  ratio {label}/then: {medians[label] / medians['then']:.3f} (medians of the wall times), "
                  f"{cpu_medians[label] / cpu_medians['then']:.3f} (medians of the CPU times)")
    status = 0
    for label, runs in found.items():
        for k, later in enumerate(runs[1:], start=2):
            if later != runs[0]:
                changed = len(differences(runs[0], later))
                print(f"  {label}: run {k} scored {changed} grade cells differently from run 1")
                status = 1
    diff = differences(found["then"][0], found["today"][0])
    print(f"\ngrade cells scored differently (then -> today): {len(diff)} of {len(found['today'][0])}")
    for (assignment, student, notebook, cell), before, after in diff:
        reason = " ".join(why["today"].get((student, notebook, cell), "").split())
        print(f"  {assignment} {student} ({kinds.get(f'{assignment} {student}', '?')}) {notebook} {cell}: "
              f"{before} -> {after}" + (f"; today: {reason[:220]}" if reason else ""))
    return status


if __name__ == "__main__":
    sys.exit(main())
