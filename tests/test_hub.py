"""A trial class on JupyterHub, end to end: `course hub` with users the test creates, students in headless Chromium.

The round: the instructor releases 00_getting_started to the exchange; alice and bob log in at the same time, each
in a browser of their own, and fetch it from the Assignment List; alice validates in JupyterLab, bob (a mistake in
his work) with nbgrader's command in a shell; both submit from the Assignment List, and bob, his mistake fixed,
submits again with the command (the second counts). The due date passes; carol submits late (with a mistake); dave
never submits. The instructor collects, grades (`course grade`, sandboxed), writes and releases feedback, and sees
the class in the formgrader (dave missing, carol after the due date, a submission's LaTeX typeset with the installed
MathJax); each student who submitted fetches their own feedback. No page may reach beyond the machine and no one is
asked about Jupyter news. Then bob tries to read what is not his, the sources included. Runs as root (it creates
users and the hub starts their servers as them) and is skipped with one line otherwise. Users, processes and
folders are removed even when it fails.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from autograder.course_dir import REPO_ROOT, SOURCE_ROOT, course_id

CHROMIUM = Path("/usr/bin/chromium")
ASSIGNMENT, NOTEBOOK = "00_getting_started", "getting_started.ipynb"
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"


def skip_reason() -> str | None:
    from autograder.instructor import hub

    if os.geteuid() != 0:
        return "the hub test runs as root only (it creates users; the hub starts their servers as them)"
    if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
        return "the hub test needs Debian's chromium (/usr/bin/chromium) and playwright"
    if not hub.PROXY.exists():
        return "configurable-http-proxy is not installed: make hub-proxy"
    if shutil.which("useradd") is None:
        return "useradd is missing"
    return None


pytestmark = [pytest.mark.pipeline, pytest.mark.xdist_group("hub"),
              pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))]


class Trial:
    """The running trial class: its hub folder, users, and commands run as one of them."""

    def __init__(self, folder: Path, prefix: str, port: int):
        self.folder, self.port = folder, port
        self.students = {name: f"{prefix}{name}" for name in ("alice", "bob", "carol", "dave")}
        self.instructor = f"{prefix}teach"
        self.course_id = course_id()

    @property
    def users(self) -> list[str]:
        return [*self.students.values(), self.instructor]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)

    def environment(self, user: str) -> dict[str, str]:
        """What a user's JupyterLab terminal runs with (the environment the hub gives them)."""
        entry = pwd.getpwnam(user)
        env = {"HOME": entry.pw_dir, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
               "PATH": f"{self.folder / 'env' / 'bin'}:/usr/bin:/bin",
               "JUPYTER_CONFIG_PATH": str(self.folder / "etc" / "jupyter"),
               "MPLBACKEND": "Agg",
               "OMP_NUM_THREADS": "1"}
        if user == self.instructor:
            env["PYTHONPATH"] = str(REPO_ROOT)
            env["JUPYTER_CONFIG_PATH"] = str(self.folder / "etc" / "jupyter-instructor")
        return env

    def start(self, user: str, *command: str, cwd: Path | None = None) -> subprocess.Popen:
        """A command as a user types it, left running."""
        entry = pwd.getpwnam(user)
        return subprocess.Popen(command, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                                env=self.environment(user), cwd=cwd or entry.pw_dir, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, user: str, *command: str, check: bool = True, cwd: Path | None = None):
        """A command as a user types it in their JupyterLab terminal."""
        entry = pwd.getpwnam(user)
        result = subprocess.run(command, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                                env=self.environment(user), cwd=cwd or entry.pw_dir, capture_output=True, text=True,
                                timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} as {user} failed:\n{result.stdout[-1500:]}\n"
                                 f"{result.stderr[-3000:]}")
        return result

    def python(self, user: str, code: str):
        return json.loads(self.run(user, str(self.folder / "env" / "bin" / "python"), "-c", code).stdout)


def free_port() -> int:
    from autograder.instructor.hub import free_port as port

    return port()


def end_processes_of(users) -> None:
    """End every process of the trial's users, by process id."""
    import psutil

    uids = set()
    for user in users:
        try:
            uids.add(pwd.getpwnam(user).pw_uid)
        except KeyError:
            pass
    for _ in range(3):
        # a killed server stays a zombie until JupyterHub reaps it: nothing to wait for
        left = [p for p in psutil.process_iter(["uids", "status"]) if p.info["uids"]
                and p.info["uids"].real in uids and p.info["status"] != psutil.STATUS_ZOMBIE]
        if not left:
            break
        for process in left:
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)


def remove_users(users) -> None:
    """End the users' processes, then remove the users and their homes."""
    end_processes_of(users)
    for user in users:
        subprocess.run(["userdel", "--remove", user], capture_output=True)


@pytest.fixture(scope="module")
def reachable_by_everyone():
    """The course's Python and the clone (where the trial's hub folder is), reachable by the class's users while
    the test runs (a Python installed in root's home, as pyenv does, is not, nor a clone in a folder of mktemp -d):
    folders on their paths get o+x, taken back afterwards."""
    opened = []
    for folder in {*Path(sys._base_executable).resolve().parents, *REPO_ROOT.resolve().parents}:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o001)
            opened.append((folder, mode))
    try:
        yield
    finally:
        for folder, mode in opened:
            folder.chmod(mode)


@pytest.fixture(scope="module")
def instructor_only_restored():
    """course hub gives the clone's sources, solutions and graders to the instructor's group alone: as they were
    afterwards."""
    from autograder.instructor.hub import INSTRUCTOR_ONLY

    before = {}
    for top in INSTRUCTOR_ONLY:
        for root, dirs, files in os.walk(top):
            for path in [root, *(os.path.join(root, f) for f in files)]:
                status = os.stat(path)
                before[path] = (status.st_gid, status.st_mode & 0o7777)
    try:
        yield
    finally:
        for path, (gid, mode) in before.items():
            if os.path.exists(path):
                os.chown(path, -1, gid)
                os.chmod(path, mode)


@pytest.fixture(scope="module")
def trial(reachable_by_everyone, instructor_only_restored):
    # in the clone: the users' environment is hard-linked from the course's, on the same disk
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="hub-test-", dir=REPO_ROOT / "build"))
    folder.chmod(0o755)
    trial = Trial(folder / "hub", f"c{secrets.token_hex(2)}", free_port())
    process = None
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "course.cli", "hub", "--users", ",".join(trial.students.values()),
             "--instructor", trial.instructor, "--port", str(trial.port), "--dir", str(trial.folder)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{trial.url}/hub/api/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the hub did not start:\n{process.stdout.read()[-3000:]}")
            time.sleep(0.2)
        yield trial
    finally:
        end_processes_of(trial.users)  # their servers first: the hub then has nothing to wait for
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)  # course hub stops JupyterHub, which stops the proxy and servers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        remove_users(trial.users)
        shutil.rmtree(folder, ignore_errors=True)


def solved_notebook(trial: Trial, mistake: bool) -> str:
    """The released notebook with the worked solution (and, for a mistake, a catalogued one) as JSON text."""
    import nbformat

    from autograder import notebooks as nbs
    from autograder.checks.a00_getting_started import CHECKS
    from autograder.instructor.submissions import fill_solutions, with_mistake

    released = trial.home(trial.instructor) / trial.course_id / "release" / ASSIGNMENT / NOTEBOOK
    solved = fill_solutions(nbs.read_notebook(released), nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK))
    return nbformat.writes(with_mistake(solved, CHECKS[0].mistakes[0], "rel_error") if mistake else solved)


def write_as(trial: Trial, user: str, path: Path, text: str) -> None:
    """A student's own work, written as that student (what saving in JupyterLab does)."""
    trial.run(user, str(trial.folder / "env" / "bin" / "python"), "-c",
              f"import pathlib; pathlib.Path({str(path)!r}).write_text({text!r})")


def test_a_round_through_the_hub(trial):
    from playwright.sync_api import sync_playwright

    from nbgrader.api import Gradebook

    from autograder import notebooks as nbs
    from tests.browser import lab_page
    from tests.browser.test_offline_math import MATH_JS, TYPESET_JS

    teacher, alice, bob, carol, dave = trial.instructor, *trial.students.values()
    course_dir = trial.home(teacher) / trial.course_id
    timings = {}
    started = time.monotonic()

    # the instructor: the student version, then released to the exchange
    trial.run(teacher, "course", "release", ASSIGNMENT, "--course-dir", str(course_dir))
    trial.run(teacher, "nbgrader", "release_assignment", ASSIGNMENT, cwd=course_dir)
    timings["release"] = time.monotonic() - started
    carol_fetches = trial.start(carol, "nbgrader", "fetch_assignment", ASSIGNMENT)  # while the others log in

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    off_machine = []   # every request a page made to elsewhere than the hub: none may leave the machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])

        def log_in(user):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                (trial.url + "/", "data:", "blob:")) else (off_machine.append(route.request.url), route.abort()))
            page = context.new_page()
            page.goto(f"{trial.url}/hub/login")
            page.fill("#username_input", user)
            page.fill("#password_input", read_password(trial, user))
            page.click("#login_submit")
            return page

        try:
            # alice and bob log in at once, each in a browser of their own: the hub starts both servers together
            pages = {student: log_in(student) for student in (alice, bob)}
            for student in (alice, bob):
                pages[student].locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=90_000)
            timings["alice's and bob's servers"] = time.monotonic() - started
            page = pages[alice]
            for student, mistake in ((alice, False), (bob, True)):
                lab_page.open_assignment_list(pages[student])
                lab_page.assignment_list_row(pages[student], "released", ASSIGNMENT).wait_for(timeout=30_000)
                if student == alice:
                    page.screenshot(path=str(SCREENSHOTS / "hub-assignment-list.png"))
                lab_page.assignment_list_action(pages[student], "released", ASSIGNMENT, "Fetch")
                work = trial.home(student) / ASSIGNMENT / NOTEBOOK
                assert work.exists() and work.stat().st_uid == pwd.getpwnam(student).pw_uid
                write_as(trial, student, work, solved_notebook(trial, mistake=mistake))

            # bob validates in a shell (his mistake is named), submits from his Assignment List, then fixes his
            # work and submits again with the command: the second submission is the one that counts
            validated = trial.run(bob, "nbgrader", "validate", f"{ASSIGNMENT}/{NOTEBOOK}", check=False)
            assert "rel_error" in validated.stdout + validated.stderr
            lab_page.assignment_list_action(pages[bob], "fetched", ASSIGNMENT, "Submit")
            write_as(trial, bob, trial.home(bob) / ASSIGNMENT / NOTEBOOK, solved_notebook(trial, mistake=False))
            trial.run(bob, "nbgrader", "submit", ASSIGNMENT)
            submissions_of_bob = [p for p in (trial.folder / "exchange" / trial.course_id / "inbound").iterdir()
                                  if p.name.startswith(f"{bob}+{ASSIGNMENT}+")]
            assert len(submissions_of_bob) == 2, submissions_of_bob

            # alice validates from the notebook's toolbar and submits from the Assignment List
            page.locator(".jp-DirListing-item", has_text=ASSIGNMENT).dblclick()
            page.locator(".jp-DirListing-item", has_text=NOTEBOOK).dblclick()
            page.locator(f"{lab_page.NOTEBOOK} .jp-Toolbar .validate-button").wait_for(timeout=60_000)
            validation = lab_page.validate(page)
            assert validation.outcome == "success", validation.text
            timings["alice's server and idle kernel, MiB"] = memory_of(alice) / 2**20
            lab_page.open_assignment_list(page)
            lab_page.assignment_list_action(page, "fetched", ASSIGNMENT, "Submit")

            # the due date passes (the instructor sets it to now); then carol submits her work (with a mistake),
            # late; dave never submits
            finished(carol_fetches)
            due = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            trial.run(teacher, "nbgrader", "db", "assignment", "add", ASSIGNMENT, f"--duedate={due}", cwd=course_dir)
            write_as(trial, carol, trial.home(carol) / ASSIGNMENT / NOTEBOOK, solved_notebook(trial, mistake=True))
            trial.run(carol, "nbgrader", "submit", ASSIGNMENT)
            timings["students submitted"] = time.monotonic() - started

            # the instructor: collect, grade in the sandbox, feedback, release it
            trial.run(teacher, "nbgrader", "collect", ASSIGNMENT, cwd=course_dir)
            graded = trial.run(teacher, "course", "grade", ASSIGNMENT, "--course-dir", str(course_dir), "--jobs", "1")
            assert "graded now: 3" in graded.stdout, graded.stdout
            trial.run(teacher, "course", "feedback", ASSIGNMENT, "--course-dir", str(course_dir))
            trial.run(teacher, "nbgrader", "release_feedback", ASSIGNMENT, cwd=course_dir)
            timings["graded and feedback released"] = time.monotonic() - started

            # the instructor's JupyterLab offers the formgrader, which shows the class; a student's does not
            pages[teacher] = log_in(teacher)
            pages[teacher].locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=90_000)
            formgrader_item = ".lm-Menu-item[data-command='nbgrader:open-formgrader']:not(.lm-mod-hidden)"
            pages[teacher].locator(".lm-MenuBar-item", has_text="Nbgrader").click()
            pages[teacher].locator(formgrader_item).click(timeout=30_000)
            formgrader = pages[teacher].frame_locator(".jp-MainAreaWidget:not(.lm-mod-hidden) iframe")
            row = formgrader.locator("tr", has_text=ASSIGNMENT).first
            row.wait_for(timeout=60_000)
            row.scroll_into_view_if_needed()
            pages[teacher].screenshot(path=str(SCREENSHOTS / "hub-formgrader.png"))
            page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
            page.locator(".lm-Menu-item[data-command='nbgrader:open-assignment-list']").wait_for()
            assert page.locator(formgrader_item).count() == 0
            page.keyboard.press("Escape")

            # the formgrader's view of the class: bob's second submission graded, carol's late, dave's missing
            api = f"{trial.url}/user/{teacher}/formgrader/api"
            listed = {s["id"] for s in formgrader_json(pages[teacher], f"{api}/students")}
            assert {alice, bob, carol, dave} <= listed
            by_student = {}
            for student in (alice, bob, carol, dave):
                (by_student[student],) = [s for s in formgrader_json(pages[teacher],
                                                                     f"{api}/student_submissions/{student}")
                                          if s["name"] == ASSIGNMENT]
            assert [by_student[s]["submitted"] for s in (alice, bob, carol, dave)] == [True, True, True, False]
            due_date = datetime.datetime.fromisoformat(
                formgrader_json(pages[teacher], f"{api}/assignment/{ASSIGNMENT}")["duedate"])
            submitted_at = {s: datetime.datetime.fromisoformat(by_student[s]["timestamp"]) for s in (alice, bob, carol)}
            assert submitted_at[alice] < due_date and submitted_at[bob] < due_date < submitted_at[carol]
            assert by_student[alice]["score"] == by_student[bob]["score"] > by_student[carol]["score"]

            # the instructor's view of a submission typesets its LaTeX with the MathJax the server installed
            (notebook,) = formgrader_json(pages[teacher], f"{api}/submitted_notebooks/{ASSIGNMENT}/"
                                                          f"{NOTEBOOK[:-len('.ipynb')]}")[:1]
            view = pages[teacher].context.new_page()
            pages["submission view"] = view
            console = []
            view.on("console", lambda message: console.append(message.text))
            view.on("requestfailed", lambda request: console.append(f"failed {request.url}"))
            view.goto(f"{trial.url}/user/{teacher}/formgrader/submissions/{notebook['id']}/")
            try:
                view.wait_for_function(TYPESET_JS, timeout=60_000)
            except Exception:
                scripts = view.evaluate("() => Array.from(document.scripts).map(s => s.src).filter(Boolean)")
                raise AssertionError(f"not typeset: {view.url} {view.title()!r}; scripts {scripts}; off the "
                                     f"machine {off_machine}; console {console[-10:]}") from None
            formulas, rendered, failed = view.evaluate(MATH_JS)
            assert formulas > 3 and rendered == formulas and failed == 0, (formulas, rendered, failed)
            (mathjax,) = view.evaluate("() => Array.from(document.scripts).map(s => s.src).filter(s => "
                                       "s.includes('MathJax.js'))")
            assert mathjax.startswith(f"{trial.url}/user/{teacher}/static/jupyter_server_mathjax/MathJax.js?"), mathjax

            # no one's JupyterLab asks about Jupyter news: the plugin is off, and no such prompt is on the page
            for user in (alice, teacher):
                disabled = pages[user].evaluate(
                    "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).disabledExtensions")
                assert "@jupyterlab/apputils-extension:announcements" in disabled, disabled
                assert pages[user].get_by_text("notified about").count() == 0

            # alice fetches her feedback from the Assignment List, bob and carol with the command
            page.reload()
            page.locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=60_000)
            lab_page.open_assignment_list(page)
            lab_page.assignment_list_row(page, "submitted", ASSIGNMENT).locator(
                "button", has_text="Fetch Feedback").click(timeout=30_000)
            page.locator("#submitted_assignments_list a", has_text="view feedback").first.wait_for(timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / "hub-feedback-fetched.png"))
        except BaseException:
            for student, each in locals().get("pages", {}).items():
                each.screenshot(path=str(SCREENSHOTS / f"failed-hub-{student}.png"))
            raise
        finally:
            browser.close()
    assert off_machine == []
    trial.run(bob, "nbgrader", "fetch_feedback", ASSIGNMENT)
    trial.run(carol, "nbgrader", "fetch_feedback", ASSIGNMENT)
    timings["feedback fetched"] = time.monotonic() - started

    # each got their own feedback: points and the checks' messages, never the hidden tests; dave none
    hidden = [line.strip() for cell in nbs.read_notebook(SOURCE_ROOT / ASSIGNMENT / NOTEBOOK).cells
              if "BEGIN HIDDEN TESTS" in cell.source
              for line in cell.source.split("BEGIN HIDDEN TESTS")[1].split("END HIDDEN TESTS")[0].splitlines()[1:]
              if len(line.strip()) > 8]
    assert hidden
    html = {}
    for student in (alice, bob, carol):
        (feedback,) = (trial.home(student) / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK[:-6]}.html")
        html[student] = feedback.read_text()
        assert "Score" in html[student] and not [line for line in hidden if line in html[student]]
    # carol's mistake is named in her feedback; bob's first submission, which had it, was not graded
    assert "Likely mistake" in html[carol] and "Likely mistake" not in html[bob]
    assert not (course_dir / "feedback" / dave).exists()
    assert len(list((trial.folder / "exchange" / trial.course_id / "feedback").iterdir())) == 3

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        scores = {(s.student_id, g.name): g.auto_score for s in gradebook.assignment_submissions(ASSIGNMENT)
                  for n in s.notebooks for g in n.grades}
        late = {s.student_id: s.total_seconds_late for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert [scores[s, "rel_error_tests"] for s in (alice, bob, carol)] == [2.0, 2.0, 0.0]
    assert {student for student, _ in scores} == {alice, bob, carol}
    assert late[alice] == late[bob] == 0 and late[carol] > 0

    # isolation: bob tries to read alice's work and feedback, the exchange's inbox and feedback, the gradebook
    exchange = trial.folder / "exchange" / trial.course_id
    targets = {
        "alice's home": trial.home(alice),
        "alice's notebook": trial.home(alice) / ASSIGNMENT / NOTEBOOK,
        "the exchange's submissions": exchange / "inbound",
        "the exchange's feedback": exchange / "feedback",
        "the instructor's course directory": course_dir,
        "the gradebook": course_dir / "gradebook.db",
        "the collected submissions": course_dir / "submitted" / alice / ASSIGNMENT / NOTEBOOK,
        "the source notebook": SOURCE_ROOT / ASSIGNMENT / NOTEBOOK,
        "the worked solution": REPO_ROOT / "solutions" / ASSIGNMENT / NOTEBOOK,
        "the checks and references": REPO_ROOT / "autograder" / "checks" / "a00_getting_started.py",
    }
    attempts = trial.python(bob, f"""
import json, os
outcome = {{}}
for what, path in {json.dumps({k: str(v) for k, v in targets.items()})}.items():
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)
        outcome[what] = 'read'
    except OSError as error:
        outcome[what] = type(error).__name__
print(json.dumps(outcome))""")
    assert all(result == "PermissionError" for result in attempts.values()), attempts
    print("round timings (s):", {k: round(v, 1) for k, v in timings.items()})


def formgrader_json(page, url: str):
    """A GET of the formgrader's REST API with the instructor's browser session (their hub login)."""
    answer = page.request.get(url)
    assert answer.ok, f"{url}: {answer.status} {answer.text()[:300]}"
    return answer.json()


def finished(process: subprocess.Popen) -> None:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, f"{process.args} failed:\n{out[-1500:]}\n{err[-3000:]}"


def memory_of(user: str) -> int:
    """Resident memory of a user's processes, in bytes."""
    import psutil

    uid = pwd.getpwnam(user).pw_uid
    total = 0
    for process in psutil.process_iter(["uids", "memory_info"]):
        if process.info["uids"] and process.info["uids"].real == uid and process.info["memory_info"]:
            total += process.info["memory_info"].rss
    return total


def read_password(trial: Trial, user: str) -> str:
    from autograder.instructor.hub import read_passwords

    return read_passwords(trial.folder)[user]
