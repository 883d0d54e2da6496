"""Build the student package: a wheel of `course` alone, with the course's pinned dependencies.

This is what a class's JupyterHub image installs. It holds no `autograder` (checks, references, mistake
catalogues), so a student can neither import nor read the hidden tests' machinery.
Usage: python -m autograder.instructor.student_wheel OUT_DIR
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from autograder.course_dir import REPO_ROOT

STUDENT_DISTRIBUTION = "dnn-course-student"


def student_pyproject(project: dict) -> str:
    """The pyproject.toml of the student distribution, derived from the course's own."""
    dependencies = ",\n".join(f'    "{d}"' for d in project["dependencies"])
    scripts = "\n".join(f'{name} = "{target}"' for name, target in project.get("scripts", {}).items())
    return (f'[build-system]\nrequires = ["setuptools>=65"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{STUDENT_DISTRIBUTION}"\nversion = "{project["version"]}"\n'
            f'description = "Student toolkit of the course (no graders)"\n'
            f'requires-python = "{project["requires-python"]}"\ndependencies = [\n{dependencies},\n]\n\n'
            f'[project.scripts]\n{scripts}\n\n[tool.setuptools]\npackages = ["course"]\n')


def build(out_dir: Path) -> Path:
    """Build the wheel into out_dir; returns its path."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="student-wheel-") as tmp:
        staging = Path(tmp)
        shutil.copytree(REPO_ROOT / "course", staging / "course",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (staging / "pyproject.toml").write_text(student_pyproject(project))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--wheel-dir", str(staging / "dist"), str(staging)], check=True)
        (wheel,) = (staging / "dist").glob("*.whl")
        target = out_dir / wheel.name
        shutil.copy2(wheel, target)
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "dist").resolve()))
