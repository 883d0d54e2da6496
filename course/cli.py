"""The `course` command: release, grade, feedback, export (instructors), check, progress and lab (self-study), and demo.

Every subcommand has --help. A problem with the input (unknown assignment, a missing or broken notebook) prints one
line to stderr and exits with status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input; the message is printed as one line."""


def _instructor_tools():
    try:
        import autograder  # noqa: F401
    except ImportError:
        raise UsageError("this command needs the instructor tools (the autograder package), which a student "
                         "install does not have; run it from a clone of the course (make setup)") from None


def one_torch_thread():
    """Grading in this process: torch on one thread, as the grader's workers run it. The checks' tensors are small,
    and on a busy machine threads spinning for work cost several times the CPU they save."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when torch is imported


def cmd_release(args):
    _instructor_tools()
    from autograder.course_dir import REPO_ROOT, nbgrader, require_assignments

    for name in require_assignments(args.assignments):
        nbgrader(args.course_dir or REPO_ROOT, "generate_assignment", name, "--force")
        print(f"released {name}")


def shard_option(text: str) -> tuple[int, int]:
    """--shard I/N: part I of N, 1 <= I <= N."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(f"{text!r}: give part I of N as I/N with 1 <= I <= N, e.g. 1/4")
    return int(index), int(count)


def cmd_grade(args):
    _instructor_tools()
    from autograder.grading import course_grade as grading
    from autograder.course_dir import REPO_ROOT, course_id, require_assignments

    assignments = require_assignments(args.assignments)
    course_dir = Path(args.course_dir or REPO_ROOT).resolve()
    if not (course_dir / "submitted").is_dir():
        raise UsageError(f"{course_dir}: no submitted/ folder to grade")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    report = grading.run(course_dir, assignments, course_id(), jobs=args.jobs, force=args.force, unsafe=args.unsafe,
                         students=[args.student] if args.student else None, shard=args.shard)
    csv_path, json_path = grading.write_reports(report, course_dir / "reports")
    print(grading.summary(report))
    print(f"report: {csv_path} and {json_path}")


def _submitted_assignments(course_dir: Path, named: list[str]) -> list[str]:
    """The assignments named, or else every assignment someone submitted."""
    from autograder.course_dir import require_assignments

    if named:
        return require_assignments(named)
    found = [a for a in require_assignments([]) if any((course_dir / "submitted").glob(f"*/{a}"))]
    if not found:
        raise UsageError(f"{course_dir}: no submissions in submitted/ (an empty class)")
    return found


def cmd_report(args):
    _instructor_tools()
    from autograder.course_dir import REPO_ROOT
    from autograder.instructor import report

    course_dir = Path(args.course_dir or REPO_ROOT).resolve()
    written = report.write(course_dir, _submitted_assignments(course_dir, args.assignments))
    for one in written:
        print(one.summary)
        print(f"  report: {one.page}\n  per student and exercise: {one.csv}")
    return _left_out("report", "could not be graded", [f"{one.assignment}/{key}: {why}" for one in written
                                                        for key, why in sorted(one.not_gradable.items())])


def _left_out(command: str, why: str, notebooks: list[str]) -> int:
    """Exit status 1 and one line on stderr when notebooks were left out of what the command wrote, else 0."""
    if not notebooks:
        return 0
    print(f"course {command}: {len(notebooks)} notebook(s) {why} and are left out (first: "
          f"{notebooks[0].splitlines()[0]})", file=sys.stderr)
    return 1


def cmd_similar(args):
    _instructor_tools()
    from autograder.course_dir import REPO_ROOT, require_assignments
    from autograder.instructor import similarity

    course_dir = Path(args.course_dir or REPO_ROOT).resolve()
    if not 0 < args.threshold <= 1:
        raise UsageError("--threshold must be above 0 and at most 1")
    found = similarity.write(course_dir, require_assignments([args.assignment])[0], threshold=args.threshold,
                             min_tokens=args.min_tokens)
    print(found.summary)
    return _left_out("similar", "could not be read", [f"{key}: {why}" for key, why in sorted(found.unreadable.items())])


def cmd_feedback(args):
    _instructor_tools()
    from autograder.course_dir import REPO_ROOT, nbgrader, require_assignments

    extra = [f"--student={args.student}"] if args.student else []
    for name in require_assignments(args.assignments):
        nbgrader(args.course_dir or REPO_ROOT, "generate_feedback", name, "--force", *extra)


def cmd_export(args):
    _instructor_tools()
    from autograder.course_dir import REPO_ROOT, nbgrader

    target = Path(args.to).resolve()
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such folder")
    partial = target.with_name(target.name + ".partial")
    nbgrader(args.course_dir or REPO_ROOT, "export", f"--to={partial}")
    partial.replace(target)
    print(f"grades written to {target}")


def cmd_check(args):
    if not args.with_experiments and not args.no_server:
        from course import check_server

        answer = check_server.ask_server(Path(args.notebook), args.assignment)
        if answer is not None:  # the workspace's warm server graded it, as the lines below would
            if answer["status"] == EXIT_BAD_INPUT:
                raise UsageError(answer["stderr"])
            print(answer["stdout"], end="")
            return answer["status"]
    _instructor_tools()
    from course.warm import long_lived_imports

    with long_lived_imports():
        one_torch_thread()
        from autograder import notebooks as nbs
        from autograder.self_study.check_report import check_notebook

    try:
        table, grade = check_notebook(Path(args.notebook), assignment=args.assignment,
                                      with_experiments=args.with_experiments)
    except nbs.NotebookError as error:
        raise UsageError(str(error)) from None
    print(table)
    return 0 if grade.auto_points == grade.auto_max else 1


def cmd_check_server(args):
    _instructor_tools()
    from course import check_server, workspace

    folder = Path(args.workspace) if args.workspace else workspace.DEFAULT_WORKSPACE
    return check_server.main(["--workspace", str(folder)])


def cmd_progress(args):
    from course import progress, workspace

    one_torch_thread()

    try:
        found = progress.collect(Path(args.workspace) if args.workspace else workspace.DEFAULT_WORKSPACE,
                                 jobs=args.jobs)
    except progress.ProgressError as error:
        raise UsageError(str(error)) from None
    if args.json:
        print(progress.as_json(found))
        return 0
    print(progress.format_progress(found, every_exercise=args.exercises))
    if args.chart:
        chart = Path(args.chart).resolve()
        if not chart.parent.is_dir():
            raise UsageError(f"{chart.parent}: no such folder")
        partial = chart.with_name(chart.name + ".partial.png")
        progress.draw_chart(found, partial)
        partial.replace(chart)
        print(f"chart: {chart}")
    return 0


def cmd_lab(args):
    from course import workspace

    try:
        prepared = workspace.prepare(Path(args.workspace) if args.workspace else workspace.DEFAULT_WORKSPACE)
        print(prepared.summary())
        return workspace.start_lab(prepared.folder, port=args.port, open_browser=not args.no_browser)
    except workspace.WorkspaceError as error:
        raise UsageError(str(error)) from None


def cmd_demo(args):
    _instructor_tools()
    from autograder.instructor import demo

    demo.run(Path(args.out).resolve() if args.out else demo.DEMO_DIR, args.assignments or None)


def cmd_hub(args):
    _instructor_tools()
    import signal
    import tempfile

    from autograder.instructor import student_wheel
    from autograder.instructor import hub as trial

    students = trial.parse_users(args.users)
    with tempfile.TemporaryDirectory(prefix="student-wheel-") as wheels:
        the_hub = trial.set_up(Path(args.dir) if args.dir else trial.DEFAULT_HUB_DIR, students, args.instructor,
                               args.port, student_wheel.build(Path(wheels)))
    process = trial.start(the_hub)
    print(f"JupyterHub for {the_hub.course_id}: {the_hub.url} (students {', '.join(students)}; instructor "
          f"{args.instructor}, course directory {the_hub.course_dir()})", flush=True)
    print(f"passwords: {the_hub.passwords}; log: {the_hub.folder / 'jupyterhub.log'}; stop with Ctrl-C", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, function, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=function)
        return sub

    def course_dir_option(sub):
        sub.add_argument("--course-dir", help="nbgrader course directory (default: the repository root)")

    sub = add("release", cmd_release, "Generate the student version of assignments into release/ (nbgrader).")
    sub.add_argument("assignments", nargs="*", help="assignment names, e.g. 00_getting_started (default: all)")
    course_dir_option(sub)

    sub = add("grade", cmd_grade, "Autograde the submissions in submitted/ into nbgrader's gradebook: in parallel, "
                                  "student code sandboxed, verdicts computed outside it, experiments skipped. "
                                  "Resumes where a stopped run left off; --force regrades.")
    sub.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    sub.add_argument("--student", help="grade only this student")
    sub.add_argument("--jobs", type=int, help="parallel workers (default: all cores)")
    sub.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    sub.add_argument("--shard", type=shard_option, metavar="I/N",
                     help="grade only part I of N of the class (split by student), so N machines can grade one "
                          "class into one shared gradebook at once")
    sub.add_argument("--unsafe", action="store_true",
                     help="run student code without the sandbox (only for trusted work, where bubblewrap is missing)")
    course_dir_option(sub)

    sub = add("report", cmd_report, "After course grade: a class report per assignment (HTML page with plots, "
                                    "CSV, a terminal summary): score distribution, what each exercise cost the "
                                    "class, its most frequent named mistakes. Exits 1 when a notebook could not "
                                    "be graded (it is left out).")
    sub.add_argument("assignments", nargs="*", help="assignment names (default: every assignment submitted)")
    course_dir_option(sub)

    sub = add("similar", cmd_similar, "Compare every pair of submissions of an assignment, answer cell by answer "
                                      "cell (copydetect, the released stubs and given code left out), and list the "
                                      "pairs above a threshold with their matching parts side by side (HTML).")
    sub.add_argument("assignment", help="assignment name")
    sub.add_argument("--threshold", type=float, default=0.5,
                     help="list pairs whose answers match at least this share, weighted by length (default 0.5)")
    sub.add_argument("--min-tokens", type=int, default=150,
                     help="and share at least this many tokens of code (default 150), so that short answers "
                          "everyone writes alike never list a pair")
    course_dir_option(sub)

    sub = add("feedback", cmd_feedback, "Write HTML feedback for graded submissions into feedback/ (nbgrader).")
    sub.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    sub.add_argument("--student", help="only this student")
    course_dir_option(sub)

    sub = add("export", cmd_export, "Export all grades from the gradebook to a CSV file (nbgrader).")
    sub.add_argument("--to", default="grades.csv", help="CSV file to write (default: grades.csv)")
    course_dir_option(sub)

    sub = add("hub", cmd_hub, "Start a trial class on this machine's JupyterHub (as root): local users, nbgrader's "
                              "exchange, the student package, the instructor's formgrader and course command.")
    sub.add_argument("--users", required=True, help="the students' user names, e.g. alice,bob,carol")
    sub.add_argument("--instructor", default="instructor", help="the instructor's user name (default: instructor)")
    sub.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (default: 8000)")
    sub.add_argument("--dir", help="the hub's folder (default: build/hub)")

    sub = add("check", cmd_check, "Grade one notebook locally (self-study): print exercises, points and messages. "
                                  "Exits 0 when every autograded point is earned, 1 otherwise, 2 on bad input.")
    sub.add_argument("notebook", help="your notebook (.ipynb)")
    sub.add_argument("--assignment", help="the assignment it belongs to (default: recognised from its cells)")
    sub.add_argument("--with-experiments", action="store_true", help="also run the cells tagged experiment")
    sub.add_argument("--no-server", action="store_true",
                     help="grade in this process even where the workspace's check server runs")

    sub = add("check-server", cmd_check_server,
              "Self-study: keep a process with the checks imported for your workspace, so that `course check` on "
              "its notebooks answers in a second (course lab starts one; this keeps one in a terminal).")
    sub.add_argument("--workspace", help="your workspace folder (default: workspace/ in the clone)")

    sub = add("progress", cmd_progress, "Self-study: your points per assignment and exercise across the course, "
                                        "from your workspace's notebooks as saved, and what is still missing.")
    sub.add_argument("--workspace", help="your workspace folder (default: workspace/ in the clone)")
    sub.add_argument("--exercises", action="store_true", help="list every exercise, not only those short of points")
    sub.add_argument("--chart", help="also draw the bar chart into this PNG file")
    sub.add_argument("--json", action="store_true", help="print the progress as JSON instead")
    sub.add_argument("--jobs", type=int, help="notebooks graded at a time (default: all cores)")

    sub = add("lab", cmd_lab, "Self-study: put the student version of every assignment into your workspace "
                              "(your work is kept) and open JupyterLab there.")
    sub.add_argument("--workspace", help="your workspace folder (default: workspace/ in the clone)")
    sub.add_argument("--port", type=int, help="JupyterLab's port (default: 8888, or the next free one)")
    sub.add_argument("--no-browser", action="store_true", help="start JupyterLab without opening a web browser")

    sub = add("demo", cmd_demo, "Run a whole course cycle on a demo class in build/demo: release, submit, grade, "
                                "feedback, export, summary table and score plot.")
    sub.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    sub.add_argument("--out", help="demo course directory (default: build/demo)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.run(args)
    except UsageError as error:
        print(f"course {args.command}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"course {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from autograder.course_dir import CourseError  # only instructor commands raise it

        if isinstance(error, CourseError):
            print(f"course {args.command}: {str(error).splitlines()[0]}", file=sys.stderr)
            return EXIT_BAD_INPUT if "unknown assignment" in str(error) else 1
        raise
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
