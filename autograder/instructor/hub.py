"""`course hub`: a trial class on one machine, on JupyterHub with nbgrader's exchange.

What it sets up, in a hub folder (build/hub by default), as root:
- local system users, one per student and the instructor, each with a home only they can read and a password that
  PAM checks (JupyterHub's default authenticator: the class logs in as the machine's own users, as on The Littlest
  JupyterHub); the passwords of the users it creates are written to passwords.txt, readable by root alone (an
  account that already existed keeps its password);
- nbgrader's exchange in a shared folder, with the permissions nbgrader documents (the exchange root writable by
  everyone, the course's folder owned by the instructor so that no student can claim it first);
- the users' Python environment, one that every user can run: the machine's Python with the course's pinned
  packages, and the student package (`make student-wheel`: `course` without the graders) installed into it;
- the clone's source notebooks, worked solutions and graders closed to everyone but the instructor's group;
- for the instructor, a course directory in their home (release/, submitted/, autograded/, feedback/, the
  gradebook, which lists the class's students from the start) with the formgrader and the `course` command pointed
  at it; the course directory's nbgrader_config.py loads the clone's, so the formgrader typesets LaTeX with the
  installed MathJax;
- in no one's JupyterLab the prompt about Jupyter news;
- jupyterhub_config.py, then JupyterHub itself, on 127.0.0.1, behind configurable-http-proxy from npm
  (`make hub-proxy` installs the pinned version into hub/node_modules).
The course id comes from nbgrader_config.py. Nothing here downloads: every package is already installed.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from autograder.course_dir import REPO_ROOT, SOLUTIONS_ROOT, SOURCE_ROOT, CourseError, course_id

DEFAULT_HUB_DIR = REPO_ROOT / "build" / "hub"
# what holds the solutions, the hidden tests and their references: the instructor's group reads it, students do not
INSTRUCTOR_ONLY = (SOURCE_ROOT, SOLUTIONS_ROOT, REPO_ROOT / "autograder")
PROXY = REPO_ROOT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,30}")
# what a student's JupyterLab shows of nbgrader: the Assignment List and Validate, not the instructor's tools
STUDENT_DISABLED_EXTENSIONS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                               "@jupyter/nbgrader:create-assignment"]
STUDENT_SERVER_EXTENSIONS = {"nbgrader.server_extensions.formgrader": False,
                             "nbgrader.server_extensions.course_list": False}
# what no one's JupyterLab on the hub shows: the "Would you like to get notified about Jupyter news?" prompt (its
# answer would make each server fetch news from the web)
EVERYONE_DISABLED_EXTENSIONS = ["@jupyterlab/apputils-extension:announcements"]


@dataclass(frozen=True)
class Hub:
    folder: Path            # everything the hub writes, except the users' homes
    students: tuple[str, ...]
    instructor: str
    port: int
    course_id: str

    @property
    def exchange(self) -> Path:
        return self.folder / "exchange"

    @property
    def env(self) -> Path:
        """The users' Python environment."""
        return self.folder / "env"

    @property
    def python(self) -> Path:
        return self.env / "bin" / "python"

    @property
    def config_dir(self) -> Path:
        """Jupyter configuration every user's server reads (JUPYTER_CONFIG_PATH)."""
        return self.folder / "etc" / "jupyter"

    @property
    def instructor_config_dir(self) -> Path:
        """The instructor's JUPYTER_CONFIG_PATH: the class's nbgrader settings without the students' limits."""
        return self.folder / "etc" / "jupyter-instructor"

    @property
    def passwords(self) -> Path:
        return self.folder / "passwords.txt"

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)

    def course_dir(self) -> Path:
        """The instructor's course directory."""
        return self.home(self.instructor) / self.course_id

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def parse_users(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise CourseError("--users: give at least one student, e.g. --users alice,bob,carol")
    for name in names:
        if not USER_NAME.fullmatch(name):
            raise CourseError(f"--users: {name!r} is not a valid user name (lower-case letters, digits, _ and -)")
    if len(set(names)) != len(names):
        raise CourseError("--users: a name is given twice")
    return names


def problems(hub: Hub) -> list[str]:
    """What stops the hub from starting here, one line each (empty when nothing does)."""
    found = []
    if os.geteuid() != 0:
        found.append("the hub must be started as root: it creates the class's users and starts their servers as them")
    if not PROXY.exists():
        found.append(f"configurable-http-proxy is not installed ({PROXY}): run make hub-proxy")
    if shutil.which("node") is None:
        found.append("node is not installed (Debian's nodejs package), which configurable-http-proxy needs")
    if shared_python() is None:
        found.append(f"the course's Python ({Path(sys._base_executable).resolve()}) is in a folder other users cannot "
                     "enter: install it where the class can run it (for example under /opt)")
    if hub.instructor in hub.students:
        found.append(f"{hub.instructor} cannot be both the instructor and a student")
    return found


def shared_python() -> Path | None:
    """The Python of this environment when every user can run it, else None: the users' environment is made from
    it. (Another Python of the same minor version is not enough: the pinned packages need this one's patch level.)"""
    python = Path(sys._base_executable).resolve()
    return python if _everyone_can_run(python) else None


def _everyone_can_run(path: Path) -> bool:
    if not os.stat(path).st_mode & 0o001:
        return False
    return all(os.stat(parent).st_mode & 0o001 for parent in path.parents)


def ensure_users(hub: Hub) -> dict[str, str]:
    """Every user of the class as a local user with a private home. A user the hub creates gets a new password,
    kept in passwords.txt (root only) for the next start; an account that already existed keeps its own."""
    known = read_passwords(hub.folder) if hub.passwords.exists() else {}
    passwords = {}
    for user in (*hub.students, hub.instructor):
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", user], check=True)
            known.pop(user, None)
            passwords[user] = secrets.token_urlsafe(12)
            subprocess.run(["chpasswd"], input=f"{user}:{passwords[user]}\n", text=True, check=True)
        else:
            if user in known:
                passwords[user] = known[user]
        Path(pwd.getpwnam(user).pw_dir).chmod(0o700)  # no one reads another's work in their home
    hub.passwords.touch(mode=0o600)
    hub.passwords.chmod(0o600)
    hub.passwords.write_text("".join(f"{user} {word}\n" for user, word in passwords.items()))
    return passwords


def read_passwords(folder: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in (folder / "passwords.txt").read_text().splitlines() if line)


def build_environment(hub: Hub, student_wheel: Path) -> None:
    """The users' environment: a venv of the shared Python holding this environment's pinned packages (hard links
    where the hub folder is on the same disk, so it is made in seconds and takes no room), without its editable
    install of the course, which holds the graders; the student package is installed into it instead.
    A copy and not a path to this environment: the grading sandbox binds the environment it runs in, and no more."""
    if hub.env.exists():
        shutil.rmtree(hub.env)
    subprocess.run([str(shared_python()), "-m", "venv", "--without-pip", str(hub.env)], check=True)
    site = Path(subprocess.run([str(hub.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    ours = Path(sysconfig.get_path("purelib"))
    same_disk = os.stat(ours).st_dev == os.stat(site).st_dev
    subprocess.run(["cp", "-al" if same_disk else "-a", f"{ours}/.", f"{site}/"], check=True)
    for shared in ("share/jupyter", "etc/jupyter"):  # JupyterLab's pages, nbconvert's templates, extensions on
        (hub.env / shared).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al" if same_disk else "-a", f"{Path(sys.prefix) / shared}", str(hub.env / shared)],
                       check=True)
    for editable in [*site.glob("__editable__*"), *site.glob("dnn_course-*.dist-info")]:
        shutil.rmtree(editable) if editable.is_dir() else editable.unlink()
    subprocess.run([sys.executable, "-m", "pip", "--python", str(hub.python), "install", "--quiet", "--no-deps",
                    "--no-index", str(student_wheel)], check=True)
    # the commands a user types in a terminal (nbgrader runs `alembic` from PATH when it makes a gradebook)
    for command, module in (("nbgrader", "nbgrader"), ("jupyter", "jupyter_core.command"), ("alembic", "alembic")):
        script = hub.env / "bin" / command
        script.write_text(f"#!{hub.python}\nimport runpy\nrunpy.run_module({module!r}, run_name='__main__')\n")
        script.chmod(0o755)


def write_config(hub: Hub) -> Path:
    """nbgrader's and JupyterLab's configuration for every user, the instructor's own, and jupyterhub_config.py."""
    import json

    hub.config_dir.mkdir(parents=True, exist_ok=True)
    (hub.config_dir / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {hub.course_id!r}\n"
        f"c.Exchange.root = {str(hub.exchange)!r}\n")
    (hub.config_dir / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": STUDENT_SERVER_EXTENSIONS}}, indent=1))
    hub.instructor_config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(hub.config_dir / "nbgrader_config.py", hub.instructor_config_dir / "nbgrader_config.py")
    # the formgrader opens in a frame of the instructor's JupyterLab: JupyterHub forbids frames unless told otherwise
    (hub.instructor_config_dir / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}}},
        indent=1))
    for folder, disabled in ((hub.config_dir, STUDENT_DISABLED_EXTENSIONS + EVERYONE_DISABLED_EXTENSIONS),
                             (hub.instructor_config_dir, EVERYONE_DISABLED_EXTENSIONS)):
        labconfig = folder / "labconfig"
        labconfig.mkdir(exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {name: True for name in disabled}}, indent=1))

    # the instructor's own nbgrader configuration (~/.jupyter): the formgrader and the exchange commands work on
    # their course directory, with the course's sources
    instructor = hub.home(hub.instructor)
    jupyter_dir = instructor / ".jupyter"
    jupyter_dir.mkdir(exist_ok=True)
    (jupyter_dir / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {hub.course_id!r}\n"
        f"c.CourseDirectory.root = {str(hub.course_dir())!r}\n"
        f"c.CourseDirectory.source_directory = {str(SOURCE_ROOT)!r}\n"
        f"c.Exchange.root = {str(hub.exchange)!r}\n")
    _give(jupyter_dir, hub.instructor)
    # the course directory's own nbgrader_config.py: the course's settings (the clone's nbgrader_config.py, with the
    # templates that typeset LaTeX with the installed MathJax). The formgrader reads this file after its built-in
    # defaults, which override what ~/.jupyter says of the templates.
    course_config = hub.course_dir() / "nbgrader_config.py"
    course_config.write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO_ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(hub.course_dir())!r}\n"
        f"c.CourseDirectory.source_directory = {str(SOURCE_ROOT)!r}\n")
    entry = pwd.getpwnam(hub.instructor)
    os.chown(course_config, entry.pw_uid, entry.pw_gid)

    config = hub.folder / "jupyterhub_config.py"
    config.touch(mode=0o600)  # for JupyterHub (root) alone: it may hold the gradebook's COURSE_DB_URL and password
    config.chmod(0o600)
    config.write_text(f'''"""JupyterHub for a trial class of the course (written by `course hub`)."""
c = get_config()  # noqa: F821

c.JupyterHub.bind_url = {hub.url + "/"!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.JupyterHub.db_url = {"sqlite:///" + str(hub.folder / "jupyterhub.sqlite")!r}
c.JupyterHub.cookie_secret_file = {str(hub.folder / "jupyterhub_cookie_secret")!r}
c.ConfigurableHTTPProxy.pid_file = {str(hub.folder / "jupyterhub-proxy.pid")!r}

# the class logs in as the machine's users, their passwords checked by PAM
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {set(hub.students) | {hub.instructor}!r}
c.Authenticator.admin_users = {{{hub.instructor!r}}}

# each user's JupyterLab runs as that user, in the users' environment, starting in their home
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{str(hub.python)!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def instructor_tools(spawner):
    """The instructor's server also imports the course's graders (the clone), so `course grade` runs there, and
    keeps the formgrader and the instructor's tools that students' servers turn off."""
    if spawner.user.name == {hub.instructor!r}:  # a new dict: the configured one may be shared by every spawner
        spawner.environment = dict(spawner.environment, **{instructor_only_environment(hub)!r})


c.Spawner.pre_spawn_hook = instructor_tools
c.Spawner.environment = {{
    "JUPYTER_CONFIG_PATH": {config_path(hub)!r},
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": "1",
}}
''')
    return config


def config_path(hub: Hub) -> str:
    """JUPYTER_CONFIG_PATH of every user's server: the class's settings, before the environment's own (which enable
    JupyterLab and nbgrader); the instructor's ~/.jupyter comes before both."""
    return str(hub.config_dir)


def _give(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def prepare_exchange(hub: Hub) -> None:
    """The exchange root writable by everyone (nbgrader's documented `chmod ugo+rw`, with the sticky bit so no
    one deletes what another made), the course's folder created for the instructor before any student can."""
    hub.exchange.mkdir(parents=True, exist_ok=True)
    hub.exchange.chmod(0o777)  # exactly what nbgrader release_assignment checks for
    course = hub.exchange / hub.course_id
    course.mkdir(exist_ok=True)
    entry = pwd.getpwnam(hub.instructor)
    os.chown(course, entry.pw_uid, entry.pw_gid)
    course.chmod(0o755)


def close_instructor_only(hub: Hub) -> None:
    """The clone's sources, worked solutions and graders: readable by the instructor's group, by no other user."""
    gid = pwd.getpwnam(hub.instructor).pw_gid
    for top in INSTRUCTOR_ONLY:
        for root, dirs, files in os.walk(top):
            for path in [root, *(os.path.join(root, f) for f in files)]:
                os.chown(path, -1, gid)
                mode = os.stat(path).st_mode
                os.chmod(path, (mode & ~0o007) | ((mode & 0o700) >> 3 & 0o050))


def prepare_course_dir(hub: Hub) -> None:
    folder = hub.course_dir()
    folder.mkdir(exist_ok=True)
    folder.chmod(0o700)
    _give(folder, hub.instructor)


def instructor_only_environment(hub: Hub) -> dict[str, str]:
    """What the instructor's server has and students' do not: the clone's graders on the path, their Jupyter
    settings, and the gradebook's database when `course hub` was started with COURSE_DB_URL (docs/deployment.md)."""
    env = {"PYTHONPATH": str(REPO_ROOT), "JUPYTER_CONFIG_PATH": str(hub.instructor_config_dir)}
    if os.environ.get("COURSE_DB_URL"):
        env["COURSE_DB_URL"] = os.environ["COURSE_DB_URL"]
    return env


def instructor_environment(hub: Hub) -> dict[str, str]:
    """What a command of the instructor runs with, as in a terminal of their JupyterLab."""
    return {"HOME": str(hub.home(hub.instructor)), "USER": hub.instructor, "LOGNAME": hub.instructor,
            "LANG": "C.UTF-8", "PATH": f"{hub.env / 'bin'}:/usr/bin:/bin", **instructor_only_environment(hub)}


def register_students(hub: Hub) -> None:
    """The class's students in the instructor's gradebook (`nbgrader db student import`, run as the instructor), so
    the formgrader lists everyone, a student who never submits as missing."""
    roster = hub.course_dir() / "roster.csv"
    roster.write_text("id\n" + "".join(f"{student}\n" for student in hub.students))
    entry = pwd.getpwnam(hub.instructor)
    os.chown(roster, entry.pw_uid, entry.pw_gid)
    imported = subprocess.run([str(hub.python), "-m", "nbgrader", "db", "student", "import", roster.name],
                              cwd=hub.course_dir(), env=instructor_environment(hub), user=entry.pw_uid,
                              group=entry.pw_gid, extra_groups=[], capture_output=True, text=True)
    if imported.returncode != 0:
        raise CourseError(f"the class's students could not be put in the gradebook: {imported.stderr.strip()[-500:]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def set_up(folder: Path, students: tuple[str, ...], instructor: str, port: int, student_wheel: Path) -> Hub:
    """Everything but starting JupyterHub; returns the hub. CourseError when this machine cannot run it."""
    hub = Hub(folder.resolve(), students, instructor, port, course_id())
    found = problems(hub)
    if found:
        raise CourseError(found[0])
    hub.folder.mkdir(parents=True, exist_ok=True)
    hub.folder.chmod(0o755)
    for path in reversed(hub.folder.parents):  # every user must reach the environment and the exchange
        if not os.stat(path).st_mode & 0o001:
            raise CourseError(f"{path} is closed to other users: choose a hub folder they can reach (--dir)")
    ensure_users(hub)
    build_environment(hub, student_wheel)
    prepare_exchange(hub)
    prepare_course_dir(hub)
    close_instructor_only(hub)
    write_config(hub)
    register_students(hub)
    return hub


def start(hub: Hub) -> subprocess.Popen:
    """JupyterHub, started in the hub folder (as root: it starts each user's server as that user)."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    log = open(hub.folder / "jupyterhub.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(hub.folder / "jupyterhub_config.py")],
                            cwd=hub.folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
