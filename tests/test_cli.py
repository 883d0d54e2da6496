"""The `course` command: --help everywhere; bad input gives one line on stderr, exit 2, and writes nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course.cli import build_parser

COMMANDS = ["release", "grade", "feedback", "export", "check", "lab", "demo"]


def course(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "course.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = course(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: course " + command)


def test_parser_knows_every_command():
    help_text = build_parser().format_help()
    for command in COMMANDS:
        assert command in help_text


def one_line_error(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["release", "grade", "feedback", "demo"])
def test_unknown_assignment(command, tmp_path):
    one_line_error(course(command, "99_nothing", "--course-dir" if command != "demo" else "--out", str(tmp_path)),
                   "unknown assignment '99_nothing'", "00_getting_started")
    assert not any(tmp_path.iterdir())


def test_check_missing_file(tmp_path):
    one_line_error(course("check", str(tmp_path / "absent.ipynb")), "no such file")


def test_check_not_a_notebook(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    one_line_error(course("check", str(path)), "not a notebook")


@pytest.mark.parametrize("content, words", [
    ("{\"cells\": [", ["invalid JSON"]),
    ("", ["empty"]),
    ("[1, 2]", ["not a notebook"]),
    ("{\"nbformat\": 4, \"nbformat_minor\": 5, \"cells\": [{\"cell_type\": \"wrong\"}], \"metadata\": {}}",
     ["not a valid notebook"]),
])
def test_check_broken_notebook(tmp_path, content, words):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    one_line_error(course("check", str(path)), *words)
    assert path.read_text() == content  # untouched


def test_check_notebook_of_no_assignment(tmp_path):
    path = tmp_path / "other.ipynb"
    path.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}')
    one_line_error(course("check", str(path)), "shares no graded cell")


def test_check_unknown_assignment_option(tmp_path):
    path = tmp_path / "other.ipynb"
    path.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}')
    one_line_error(course("check", str(path), "--assignment", "nope"), "unknown assignment")


def test_export_into_missing_folder(tmp_path):
    one_line_error(course("export", "--to", str(tmp_path / "no" / "grades.csv"), "--course-dir", str(tmp_path)),
                   "no such folder")
