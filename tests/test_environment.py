"""The pip set-up (pyproject.toml) and the conda environment (environment.yml) list the same pinned packages."""

from __future__ import annotations

import re
import tomllib

from autograder.course_dir import REPO_ROOT


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return set(requirements)


def conda_pip_requirements() -> set[str]:
    text = (REPO_ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    return {m.group(1) for m in re.finditer(r"^\s+-\s+([A-Za-z0-9_.\-]+==[^\s#]+)", pip_block, re.M)}


def test_every_package_is_pinned():
    for requirement in pyproject_requirements():
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][0-9A-Za-z.+]*", requirement), requirement


def test_conda_environment_lists_the_same_packages():
    assert conda_pip_requirements() == pyproject_requirements()


def test_conda_environment_installs_the_course_itself():
    assert re.search(r"^\s+-\s+-e \.\s*$", (REPO_ROOT / "environment.yml").read_text(), re.M)


def test_torch_is_the_pinned_cpu_release():
    assert "torch==2.13.0" in pyproject_requirements()


def test_every_subpackage_is_installed():
    """A wheel holds every folder of course/ and autograder/ that is a package (a missing one fails on import)."""
    from setuptools import find_namespace_packages, find_packages

    include = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"][
        "include"]
    installed = set(find_packages(where=REPO_ROOT, include=include))
    on_disk = {p for p in find_namespace_packages(where=REPO_ROOT, include=["course*", "autograder*"])
               if (REPO_ROOT / p.replace(".", "/") / "__init__.py").is_file()}
    assert "autograder.grading.sandbox" in installed
    assert on_disk <= installed
