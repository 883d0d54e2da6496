"""A student's install has `course` and not `autograder`, and nothing released to students holds check code."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from autograder.instructor import student_wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return student_wheel.build(tmp_path_factory.mktemp("wheel"))


def test_wheel_holds_course_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("course/") for n in names)
    assert not any(n.startswith("autograder") for n in names)
    for name in names:
        if name.endswith(".py"):
            text = zipfile.ZipFile(wheel).read(name).decode()
            for secret in ("BEGIN HIDDEN", "Mistake(", "def check_", "reference_"):
                assert secret not in text, f"{name} contains {secret!r}"


def test_student_install_cannot_import_autograder(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    # -S: no site-packages of this (instructor) environment; -I: ignore PYTHONPATH and the working folder
    probe = ("import sys, importlib.util; sys.path.insert(0, sys.argv[1]); "
             "print(importlib.util.find_spec('course') is not None, importlib.util.find_spec('autograder') is None)")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(target)], capture_output=True, text=True,
                            cwd=tmp_path, check=True)
    assert result.stdout.split() == ["True", "True"]


def test_student_command_explains_missing_instructor_tools(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    code = "import sys; sys.path.insert(0, sys.argv[1]); from course.cli import main; sys.exit(main(['release']))"
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(target)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert "instructor tools" in result.stderr


def test_self_check_in_a_student_install_says_the_instructor_grades(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from course.self_check import check; "
            "result = check(); print(repr(result)); print(result._repr_html_()); check('batchnorm_forward')")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(target)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text, markup = result.stdout.strip().split("\n")
    assert text.startswith("Your instructor grades this notebook") and text.count(". ") == 0, text
    assert markup == f"<p>{text}</p>"
