"""A JupyterLab server for the browser test: started on 127.0.0.1 with a token, isolated in a folder of its own.

Every Jupyter and IPython directory points into that folder, so a test run reads no user settings and leaves
nothing in the home directory. The server is stopped gently (kernels idle first, then the shutdown API) and killed
by process id when it does not stop in time: shutting down while a kernel still imports can hang it.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from course import workspace

START_TIMEOUT_SECONDS = 90
IDLE_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15

# JupyterLab settings the test owns. The "get notified about Jupyter news" popup would cover the page; a terminal
# draws its text on a canvas, and its screen-reader mode also writes the text into the page, where a test reads it.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/terminal-extension/plugin.jupyterlab-settings": {"screenReaderMode": True},
}


class ServerError(RuntimeError):
    """The server did not start or answer; the message ends with the tail of its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def isolated_environment(home: Path, base: dict[str, str]) -> dict[str, str]:
    """base with every Jupyter/IPython directory in home, and the lab settings the test owns written there."""
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
        "MPLCONFIGDIR": home / "matplotlib",
    }
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    for relative, values in LAB_SETTINGS.items():
        target = dirs["JUPYTERLAB_SETTINGS_DIR"] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = dict(base, **{name: str(path) for name, path in dirs.items()})
    env.pop("MPLBACKEND", None)  # the test suite sets Agg; notebooks in JupyterLab draw inline
    return env


class JupyterLab:
    """`jupyter lab` serving root (also its working directory, where nbgrader reads nbgrader_config.py)."""

    def __init__(self, root: Path, home: Path, config_dirs: list[Path] = ()):
        self.root = root
        self.home = home
        self.config_dirs = list(config_dirs)  # first on JUPYTER_CONFIG_PATH (workspace.write_learner_config's)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> JupyterLab:
        # the learner's command (`course lab`), bound to loopback with a token of this run
        command = [*workspace.lab_command(self.root, self.port, open_browser=False), "--ip=127.0.0.1",
                   f"--IdentityProvider.token={self.token}", "--ServerApp.port_retries=0"]
        if "--allow-root" not in command:  # the setting: a test run as root or not, the same server
            command.append("--allow-root")
        env = isolated_environment(self.home, workspace.lab_environment(self.config_dirs))
        with open(self.log_path, "wb") as log:
            # a session of its own: Ctrl+C on the test run reaches the test's teardown, which stops it in order
            self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._wait_until_answering()
        return self

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def lab_url(self, reset: bool = False) -> str:
        """JupyterLab's address with the token; reset: with the default layout (no tabs restored)."""
        return f"{self.url}/lab?{'reset&' if reset else ''}token={self.token}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def _wait_until_answering(self):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise ServerError(f"jupyter lab did not answer within {START_TIMEOUT_SECONDS} s:\n{self.log_tail()}")

    def wait_for_idle_kernels(self, timeout: float = IDLE_TIMEOUT_SECONDS) -> bool:
        """True once no kernel is busy or starting (False after timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = [k.get("execution_state") for k in self.api("kernels")]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False
            if all(state in ("idle", "dead") for state in states):
                return True
            time.sleep(0.25)
        return False

    def stop(self):
        """Wait for idle kernels, ask the server to shut down, and kill by process id whatever is left."""
        if self.process is None or self.process.poll() is not None:
            return
        # kernels run in sessions of their own: note them now, while the server still knows its children
        descendants = psutil.Process(self.process.pid).children(recursive=True)
        try:
            if self.wait_for_idle_kernels():
                self.api("shutdown", method="POST")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not answering: it is killed below
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_SECONDS)
        for child in descendants:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(descendants, timeout=STOP_TIMEOUT_SECONDS)
