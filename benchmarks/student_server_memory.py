"""Memory of one student's server on the hub: JupyterLab's server idle, and a kernel that ran a worked solution.

Starts JupyterLab (as the hub starts it, without the hub) and, separately, a kernel that executes a solution
notebook top to bottom (the course's packages loaded, the exercises and experiments run); prints the resident memory
(RSS) of each. Their sum is what a student's server holds while the student works, the figure to size a machine
or a Kubernetes pod guarantee with (docs/deployment.md).

    .venv/bin/python benchmarks/student_server_memory.py [ASSIGNMENT ...]   (default: 00_getting_started 05_normalization)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
MIB = 2**20


def lab_server_rss() -> int:
    """RSS of an idle JupyterLab server (with nbgrader's extensions), after it has served the lab page once."""
    from autograder.instructor.hub import free_port

    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home, JUPYTER_CONFIG_DIR=f"{home}/config", JUPYTER_RUNTIME_DIR=f"{home}/rt")
        server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
                                   "--IdentityProvider.token=", "--allow-root", f"--ServerApp.root_dir={home}"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.2)
            time.sleep(2)
            return psutil.Process(server.pid).memory_info().rss
        finally:
            server.terminate()
            server.wait()


def kernel_rss_after(assignment: str) -> int:
    """RSS of the kernel after it ran the assignment's worked solution notebooks, top to bottom."""
    worst = 0
    for path in sorted((REPO / "solutions" / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            pid = client.km.provisioner.process.pid
            worst = max(worst, psutil.Process(pid).memory_info().rss)
    return worst


def main(assignments: list[str]) -> None:
    print(f"JupyterLab server, idle: {lab_server_rss() / MIB:.0f} MiB")
    for assignment in assignments:
        print(f"kernel after the worked solution of {assignment}: {kernel_rss_after(assignment) / MIB:.0f} MiB")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    main(sys.argv[1:] or ["00_getting_started", "05_normalization"])
