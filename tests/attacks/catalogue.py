"""Attacks and faults, each a submission of 00_getting_started, with the points it deserves.

Cheating attacks pair a WRONG rel_error with the trick, so any point for `rel_error_tests` would be undeserved.
Fault attacks pair a correct solution with something that breaks the student's process, so only the broken cell
may fail. Every attack writes the marker below into what it starts, so a test can find processes left behind.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Callable

import nbformat

from autograder import notebooks as nbs
from autograder.course_dir import REPO_ROOT

MARKER = "ATTACK-MARKER-7f3a"
ONLY_ATTACKS = "COURSE_TEST_ONLY_ATTACKS"  # an environment variable: names, comma-separated, of the attacks to grade
WRONG = "def rel_error(a, b):\n    return 0.0\n"
FULL = {"rel_error_tests": 2.0, "numerical_gradient_tests": 3.0}
CHEATED = {"rel_error_tests": 0.0, "numerical_gradient_tests": 3.0}
NOTHING = {"rel_error_tests": 0.0, "numerical_gradient_tests": 0.0}


@dataclass(frozen=True)
class Attack:
    name: str
    make: Callable          # (solved notebook, source notebook) -> notebook, or str for raw file content
    deserved: dict          # grade id -> points
    reason: str = ""        # what the reason for its lost points must say, where that is what catches it
    files: tuple = ()       # (name, text) of further files in the submission folder


def fork_bomb(limit: int, depth: int = 7) -> str:
    """Code that forks exponentially: each process forks two, down to `depth`, then holds its place in the process
    table for 20 s, so 2 ** (depth + 1) - 1 processes, far more than `limit`, unless a limit stops it (and never
    more, so that it cannot take a machine down where none does). The first process then counts the processes it
    can see (in the sandbox: the sandbox's own) into `in_sandbox`, once the bomb has grown past twice `limit` or
    stopped growing for a second."""
    return f"""
import os, time
depth = {depth}
while depth > 0:
    depth -= 1
    children = 0
    for _ in range(2):
        try:
            if os.fork() == 0:
                children = -1
                break
            children += 1
        except OSError:  # the limit
            pass
    if children != -1:
        break
if depth < {depth} - 1 or children == -1:  # a child: hold its place in the process table, then go
    time.sleep(20)
    os._exit(0)
seen, deadline = [], time.monotonic() + 20
while time.monotonic() < deadline:
    seen.append(len([entry for entry in os.listdir('/proc') if entry.isdigit()]))
    if seen[-1] > {2 * limit} or (len(seen) > 10 and seen[-11] == seen[-1]):
        break
    time.sleep(0.1)
in_sandbox = max(seen)  # {MARKER}
"""


def answer_cell(notebook, grade_id):
    return next(c for c in notebook.cells if nbs.grade_id(c) == grade_id)


def with_rel_error(code: str):
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        answer_cell(notebook, "rel_error_answer").source = code
        return notebook
    return make


def with_extra_cell(code: str):
    """The correct solution plus a cell of the student's own, right after the rel_error answer."""
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        at = notebook.cells.index(answer_cell(notebook, "rel_error_answer")) + 1
        notebook.cells.insert(at, nbformat.v4.new_code_cell(code))
        return notebook
    return make


def edit_tests(change):
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        answer_cell(notebook, "rel_error_answer").source = WRONG
        change(notebook)
        return notebook
    return make


def _gut_test(notebook):
    cell = answer_cell(notebook, "rel_error_tests")
    cell.source = "pass"
    cell.metadata.nbgrader["points"] = 100


def _delete_test(notebook):
    notebook.cells.remove(answer_cell(notebook, "rel_error_tests"))


def _rename_test(notebook):
    cell = answer_cell(notebook, "rel_error_tests")
    cell.source = "pass"
    cell.metadata.nbgrader["grade_id"] = "my_own_tests"


def _change_cell_type(grade_id: str, cell_type: str):
    """The answer cell turned into a cell of another type (its metadata kept): the grader must not put the source's
    version of it, which holds the solution, in its place."""
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        cell = answer_cell(notebook, grade_id)
        new = (nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell)(
            "my answer is elsewhere")
        new.metadata = copy.deepcopy(cell.metadata)
        at = notebook.cells.index(cell)
        notebook.cells[at] = new
        if grade_id == "rel_error_answer":  # rel_error defined (wrong) after it, for the cells that use it
            notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(WRONG))
        return notebook
    return make


EXITS_ON_IMPORT = "numpy.f2py.__main__"  # its import runs f2py's command line, which ends with SystemExit
PLANTED = f"attack_planted_{MARKER[-4:]}"  # a module an attack tries to add to the course package


def _plants_a_module(solved, source):
    """Remount the read-only course package writable (root's capabilities in the sandbox) and plant a module with a
    correct rel_error in it: the grader, which imports course functions by name, would run the planted one."""
    notebook = copy.deepcopy(solved)
    module = "import numpy as np\n" + answer_cell(solved, "rel_error_answer").source
    answer_cell(notebook, "rel_error_answer").source = (
        "import ctypes, importlib, os\nimport course\n"
        "folder = os.path.dirname(course.__file__)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.mount(None, folder.encode(), None, 0x20 | 0x1000, None)  # MS_REMOUNT | MS_BIND: writable\n"
        f"try:\n    with open(os.path.join(folder, '{PLANTED}.py'), 'w') as f:\n"
        f"        f.write({module!r})\n"
        f"    rel_error = importlib.import_module('course.{PLANTED}').rel_error\n"
        "except OSError:\n" + "    " + WRONG.replace("\n", "\n    ") + "\n")
    return notebook


def _rigged_description(module: str):
    """The student's process describes every name as a module of the student's choosing: the grader must not import
    what it is told to (this one ends the process that imports it). Its functions then stand for nothing: no point."""
    return with_rel_error(
        WRONG + "import sys\nrunner = sys.modules['__main__']\n"
        f"runner.describe = lambda value: {{'kind': 'module', 'module': {module!r}}}\n")


def _answer_table(solved, source):
    """rel_error as a table of the answers to the hidden tests' inputs (seed 0, as feedback rounds would show them)
    and to the visible checks', and 0.0 for any other input: full marks only where every student gets the same
    inputs."""
    import numpy as np

    from autograder.checks.a00_getting_started import _rel_error_cases, reference_rel_error

    visible = [([1.0, 2.0], [1.0, 2.0]), ([1.0], [3.0]), ([3.0, 0.0], [1.0, 0.0]), ([0.0] * 3, [1.0] * 3)]
    cases = list(_rel_error_cases(np.random.default_rng(0))) + [(np.array(a), np.array(b)) for a, b in visible]
    table = {_key(a, b): float(reference_rel_error(a, b)) for a, b in cases}
    return with_rel_error(
        "import hashlib\nimport numpy as np\n"
        f"TABLE = {table!r}\n"
        "def rel_error(a, b):\n"
        "    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)\n"
        "    return TABLE.get(hashlib.sha256(a.tobytes() + b'|' + b.tobytes()).hexdigest(), 0.0)\n")(solved, source)


def _key(a, b) -> str:
    import hashlib

    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return hashlib.sha256(a.tobytes() + b"|" + b.tobytes()).hexdigest()


def appended_to_answer(text: str):
    """The correct solution with a line of the student's own at the end of the rel_error answer."""
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        answer_cell(notebook, "rel_error_answer").source += "\n" + text
        return notebook
    return make


def with_markdown_cell(text: str, raw_json: bool = False):
    """The correct solution plus a markdown cell of the student's own; raw_json: the file as JSON text with every
    character escaped (how a lone surrogate, which UTF-8 cannot encode, reaches a notebook file)."""
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        notebook.cells.append(nbformat.v4.new_markdown_cell(text))
        return json.dumps(notebook) if raw_json else notebook
    return make


def torch_rel_error(t: str) -> str:
    """The body of a correct rel_error done by torch, the module called `t`, out of the torch detector's sight."""
    return (f"    with {t}._C.DisableTorchFunction():\n"
            f"        a, b = {t}.tensor(a, dtype={t}.float64), {t}.tensor(b, dtype={t}.float64)\n"
            f"        return float({t}.max({t}.abs(a - b) / {t}.clamp(a.abs() + b.abs(), min=1e-8)))\n")


# where torch comes from, reached by paths the reading of the source does not follow
REEXPORTED_TORCH = "scipy._lib.array_api_compat.torch._aliases"  # a module of another package that imports torch


def by_hand_attacks() -> list[Attack]:
    """rel_error is graded by hand: each of these is correct, but torch does the work. A point is undeserved."""
    return [
        Attack("torch-in-a-function-bound-by-assignment", with_rel_error(
            "import torch\ndef by_torch(a, b):\n" + torch_rel_error("torch") + "rel_error = by_torch\n"),
            CHEATED, "by hand"),
        Attack("torch-by-a-renamed-import-module", with_rel_error(
            "from importlib import import_module as load\ndef rel_error(a, b):\n    t = load('torch')\n"
            + torch_rel_error("t")), CHEATED, "by hand"),
        Attack("torch-by-import-of-a-computed-name", with_rel_error(
            "def rel_error(a, b):\n    t = __import__('to' + 'rch')\n" + torch_rel_error("t")), CHEATED, "by hand"),
        Attack("torch-by-a-renamed-import-builtin", with_rel_error(
            "load = __import__\ndef rel_error(a, b):\n    t = load('to' + 'rch')\n" + torch_rel_error("t")),
            CHEATED, "by hand"),
        Attack("torch-from-the-module-table-of-an-earlier-cell", with_extra_cell_before(
            "from sys import modules as loaded",
            "def rel_error(a, b):\n    t = loaded['to' + 'rch']\n" + torch_rel_error("t")), CHEATED, "raised KeyError"),
        Attack("torch-re-exported-by-another-package", with_rel_error(
            f"from {REEXPORTED_TORCH} import torch as t\ndef rel_error(a, b):\n" + torch_rel_error("t")),
            CHEATED, "by hand"),
    ]


def with_extra_cell_before(code: str, answer: str):
    """A cell of the student's own right before the rel_error answer, which is `answer`."""
    def make(solved, source):
        notebook = with_rel_error(answer)(solved, source)
        at = notebook.cells.index(answer_cell(notebook, "rel_error_answer"))
        notebook.cells.insert(at, nbformat.v4.new_code_cell(code))
        return notebook
    return make


SCRIPT = f"<script>document.title = '{MARKER}'</script>"
HANDLER = f"<img src=x onerror=\"document.title = '{MARKER}'\">"

SOURCE_PATH = REPO_ROOT / "source_notebooks" / "00_getting_started" / "getting_started.ipynb"
CONFIG_PATH = REPO_ROOT / "nbgrader_config.py"


def attacks(course_dir, config_path=CONFIG_PATH) -> list[Attack]:
    """The catalogue against a class in course_dir; config_path is the nbgrader config the vandals append to."""
    gradebook = course_dir / "gradebook.db"
    classmate = course_dir / "submitted" / "honest-classmate"
    vandal = (f"import shutil, pathlib, sqlite3\n"
              f"shutil.rmtree('{classmate}', ignore_errors=True)\n"
              f"pathlib.Path('{config_path}').open('a').write('raise SystemExit')\n"
              f"db = sqlite3.connect('{gradebook}'); db.execute('update grade set auto_score = 99'); db.commit()\n")
    return [
        Attack("patch-numpy-comparisons", with_rel_error(
            "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, *x, **k: "
            "np.ones(np.broadcast(a, b).shape, bool)\nnp.testing.assert_allclose = lambda *a, **k: None\n"
            "np.max = lambda *a, **k: 0.0\n" + WRONG), CHEATED),
        Attack("ast-transformer-removes-asserts", with_rel_error(
            WRONG + "import ast\nclass NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n"
            "        return ast.Pass()\nget_ipython().ast_transformers.append(NoAsserts())\n"), CHEATED),
        Attack("prints-all-tests-passed", with_rel_error(
            WRONG + "print('All tests passed! 2.0')\nimport sys\nsys.stdout.write('{\"points\": 2}')\n"), CHEATED),
        Attack("exception-hooks", with_rel_error(
            WRONG + "import sys, traceback\nsys.excepthook = lambda *a: None\n"
            "traceback.print_exception = lambda *a, **k: None\nsys.stderr = open('/dev/null', 'w')\n"), CHEATED),
        Attack("fake-torch-module", with_rel_error(
            "import sys, types\nfake = types.ModuleType('torch')\nfake.allclose = lambda *a, **k: True\n"
            "sys.modules['torch'] = fake\n" + WRONG), CHEATED),
        # the rigged rel_error also passes the student's own visible check of numerical_gradient, which is correct
        Attack("ndarray-subclass-equal-to-everything", with_rel_error(
            "import numpy as np\nclass Yes(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
            "    __le__ = __ge__ = __lt__ = __gt__ = __eq__\n"
            "def rel_error(a, b):\n    return np.zeros(()).view(Yes)\n"), CHEATED),
        Attack("object-with-rigged-comparisons", with_rel_error(
            "class Anything(float):\n    def __eq__(self, other):\n        return True\n    def __sub__(self, o):\n"
            "        return 0.0\n    __rsub__ = __sub__\n    def __abs__(self):\n        return 0.0\n"
            "def rel_error(a, b):\n    return Anything(0.0)\n"), CHEATED),
        Attack("reads-and-runs-the-solutions", with_rel_error(
            "import json\ntry:\n    nb = json.load(open('" + str(SOURCE_PATH) + "'))\n"
            "    exec(''.join(nb['cells'][4]['source']))\nexcept Exception:\n" + "    " + WRONG.replace("\n", "\n    ")
            + "\n"), CHEATED),
        Attack("imports-the-checks", with_rel_error(
            "try:\n    from autograder.checks.a00_getting_started import reference_rel_error as rel_error\n"
            "except Exception:\n" + "    " + WRONG.replace("\n", "\n    ") + "\n"), CHEATED),
        Attack("torch-in-a-by-hand-exercise", with_rel_error(
            "import torch\ndef rel_error(a, b):\n"
            "    a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)\n"
            "    return float(torch.max(torch.abs(a - b) / torch.clamp(a.abs() + b.abs(), min=1e-8)))\n"), CHEATED,
            "uses torch (torch)"),
        Attack("torch-hidden-from-the-detector", with_rel_error(
            "import torch\ndef rel_error(a, b):\n    with torch._C.DisableTorchFunction():\n"
            "        a, b = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)\n"
            "        return float(torch.max(torch.abs(a - b) / torch.clamp(a.abs() + b.abs(), min=1e-8)))\n"), CHEATED,
            "uses torch (torch)"),
        Attack("torch-reached-dynamically-past-the-detector", with_rel_error(
            "import sys\ndef rel_error(a, b):\n    t = sys.modules['to' + 'rch']\n"
            "    with getattr(t._C, 'Disable' + 'TorchFunction')():\n"
            "        a, b = t.tensor(a, dtype=t.float64), t.tensor(b, dtype=t.float64)\n"
            "        return float(t.max(t.abs(a - b) / t.clamp(a.abs() + b.abs(), min=1e-8)))\n"), CHEATED,
            "uses dynamic code: .modules"),
        Attack("torch-stored-in-a-list-past-the-detector", with_rel_error(
            "import torch\nbox = []\nbox.append(torch)\ndef rel_error(a, b):\n    t = box[0]\n"
            "    with t._C.DisableTorchFunction():\n"
            "        a, b = t.tensor(a, dtype=t.float64), t.tensor(b, dtype=t.float64)\n"
            "        return float(t.max(t.abs(a - b) / t.clamp(a.abs() + b.abs(), min=1e-8)))\n"), CHEATED,
            "uses torch (box)"),
        *by_hand_attacks(),
        Attack("writes-the-gradebook-and-vandalises", with_rel_error(WRONG + vandal), CHEATED),
        Attack("background-process-outlives-the-submission", with_rel_error(
            WRONG + "import subprocess, sys\nlater = " + repr(f"import time\ntime.sleep(3)\n{vandal}# {MARKER}\n")
            + "\nsubprocess.Popen([sys.executable, '-c', later], start_new_session=True)\n"
            "import os\nif os.fork() == 0:\n    os.setsid()\n    import time\n    time.sleep(30)\n    os._exit(0)\n"),
            CHEATED),
        Attack("holds-a-lock-on-the-gradebook", with_rel_error(
            WRONG + f"import sqlite3\ndb = sqlite3.connect('{gradebook}')\ndb.execute('begin exclusive')\n"), CHEATED),
        Attack("edits-a-locked-test-cell", edit_tests(_gut_test), CHEATED),
        Attack("deletes-a-test-cell", edit_tests(_delete_test), CHEATED),
        Attack("renames-a-grade-id", edit_tests(_rename_test), CHEATED),
        Attack("remounts-the-course-package-and-plants-a-module", _plants_a_module, CHEATED),
        Attack("names-a-module-that-exits-the-grader", _rigged_description(EXITS_ON_IMPORT), NOTHING),
        Attack("answer-cell-turned-into-markdown", _change_cell_type("rel_error_answer", "markdown"), CHEATED),
        Attack("written-answer-turned-into-code", _change_cell_type("taylor_answer", "code"), FULL),
        Attack("lone-surrogate-in-an-error-message", with_extra_cell("raise ValueError('bad \\ud800 text')"), FULL),
        Attack("lone-surrogate-in-markdown", with_markdown_cell("a note \ud800 of mine", raw_json=True), FULL),
        Attack("malformed-timestamp", lambda solved, source: solved, FULL,
               files=(("timestamp.txt", "not a time \u00e9 at all 99:99"),)),
        Attack("hidden-tests-marker-in-an-answer", appended_to_answer("# ### BEGIN HIDDEN TESTS (a comment of mine)"),
               FULL),
        Attack("script-in-markdown", with_markdown_cell(f"# My notes\n\n{SCRIPT}\n\n{HANDLER}\n"), FULL),
        Attack("raises-the-output-cap-from-inside", with_extra_cell(
            "import sys\nsys.modules['__main__'].OUTPUT_CAP_BYTES = 10 ** 9\nprint('x' * 3_000_000)\n"
            "for _ in range(3):\n    print('y' * 1_000_000)"), FULL),
        Attack("error-text-of-megabytes", with_extra_cell("raise ValueError('e' * 3_000_000)"), FULL),
        Attack("reply-of-many-small-values", with_rel_error(
            "def rel_error(a, b):\n    return [0] * 6_000_000\n"), CHEATED),
        Attack("answer-table-learned-from-feedback", _answer_table, CHEATED),
        Attack("prints-and-raises-its-hidden-inputs", with_rel_error(  # to learn them for a table of answers
            "import numpy as np\ndef rel_error(a, b):\n"
            "    seen = repr((np.asarray(a).tolist(), np.asarray(b).tolist()))\n"
            "    print('inputs:', seen)\n    raise ValueError('inputs: ' + seen)\n"), CHEATED),
        Attack("os-exit", with_extra_cell("import os\nos._exit(0)"), FULL),
        Attack("sys-exit", with_extra_cell("import sys\nsys.exit(3)"), FULL),
        Attack("kills-itself-with-a-signal", with_extra_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
               FULL),
        Attack("kills-the-process-that-forked-it", with_extra_cell("import os, signal\nos.kill(os.getppid(), 9)"), FULL),
        Attack("stops-the-process-that-forked-it", with_extra_cell(
            "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nos.kill(1, signal.SIGSTOP)"), FULL),
        Attack("endless-loop-ignoring-interrupts", with_extra_cell(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.signal(signal.SIGTERM, "
            f"signal.SIG_IGN)\nmarker = '{MARKER}'\nwhile True:\n    pass"), FULL),
        Attack("memory-bomb", with_extra_cell("chunks = []\nwhile True:\n    chunks.append(bytearray(256 * 1024 ** 2))"),
               FULL),
        Attack("segfault", with_extra_cell("import ctypes\nctypes.string_at(0)"), FULL),
        Attack("100-mb-of-output", with_extra_cell("print('x' * 100_000_000)\nprint('y' * 50_000_000, end='')"), FULL),
        Attack("fork-bomb-lite", with_extra_cell(
            "import os\nfor _ in range(50):\n    if os.fork() == 0:\n        import time\n        time.sleep(60)\n"
            "        os._exit(0)"), FULL),
        Attack("invalid-json", lambda solved, source: '{"cells": [', NOTHING),
        Attack("empty-file", lambda solved, source: "", NOTHING),
        Attack("another-assignments-notebook", lambda solved, source: json.dumps(nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell("def train():\n    pass")])), NOTHING),
    ]


# --- stand-ins (03_regularization): the course's affine_sample stands in for the student's while rotate is graded ---

STAND_IN_ASSIGNMENT = "03_regularization"
STAND_IN_DESERVED = {"affine_sample_tests": 0.0, "rotate_tests": 2.0}

# affine_sample is wrong, except on inputs whose answers it has recorded; rotate is right, and while it is graded it
# asks the stand-in (the course's affine_sample) for answers and records them, for the inputs in WANTED as well
_RECORDER = '''
import numpy as np

ANSWERS = {}
WANTED = []  # (x, theta) pairs whose answers are wanted


def _key(x, theta):
    return (np.asarray(x, float).tobytes(), np.asarray(theta, float).tobytes())


def affine_sample(x, theta):
    """Replays what the stand-in answered; otherwise wrong."""
    return ANSWERS.get(_key(x, theta), np.zeros_like(np.asarray(x, float)))


def rotate(x, angle):
    N, C, H, W = x.shape
    alpha = np.deg2rad(np.broadcast_to(np.asarray(angle, dtype=float), (N,)))
    theta = np.zeros((N, 2, 3))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(alpha), -np.sin(alpha) * H / W
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(alpha) * W / H, np.cos(alpha)
    for wanted_x, wanted_theta in WANTED + [(x, theta)]:
        try:
            ANSWERS[_key(wanted_x, wanted_theta)] = np.asarray(affine_sample(wanted_x, wanted_theta))
        except Exception:
            pass
    return affine_sample(x, theta)
'''


def _check_inputs_literal() -> str:
    """The inputs check_affine_sample uses (a student can learn them by printing them in a first submission)."""
    import numpy as np

    from autograder.checks.a03_regularization import _affine_cases

    pairs = [(x.tolist(), theta.tolist()) for x, theta in _affine_cases(np.random.default_rng(0))]
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))          # and those of its visible check
    for shift in (0.0, 2 / 5, 1 / 5):
        theta = np.tile(np.array([[1.0, 0.0, shift], [0.0, 1.0, 0.0]]), (2, 1, 1))
        pairs.append((x.tolist(), theta.tolist()))
    return f"WANTED = [(np.array(x), np.array(t)) for x, t in {pairs!r}]\n"


def _recorder(wanted: bool, graded_after: bool):
    """The submission: the recorder in the affine_sample answer cell (rotate's left empty), and, when graded_after,
    the affine_sample test cell moved after the rotate test cell, so that replayed answers could count."""
    def make(solved, source):
        notebook = copy.deepcopy(solved)
        answer_cell(notebook, "affine_sample_answer").source = _RECORDER + (_check_inputs_literal() if wanted else "")
        answer_cell(notebook, "rotate_answer").source = "pass  # rotate is defined with affine_sample above"
        if graded_after:
            moved = answer_cell(notebook, "affine_sample_tests")
            notebook.cells.remove(moved)
            notebook.cells.insert(notebook.cells.index(answer_cell(notebook, "rotate_tests")) + 1, moved)
        return notebook
    return make


def stand_in_attacks() -> list[Attack]:
    """Answers of a stand-in recorded during one check, replayed to earn points in another: they earn nothing."""
    return [
        Attack("replays-stand-in-answers-of-its-own-inputs", _recorder(wanted=False, graded_after=True),
               STAND_IN_DESERVED),
        Attack("asks-the-stand-in-for-the-checks-inputs-and-replays", _recorder(wanted=True, graded_after=True),
               STAND_IN_DESERVED, reason="stood in for it"),
        Attack("asks-the-stand-in-for-the-checks-inputs-in-order", _recorder(wanted=True, graded_after=False),
               STAND_IN_DESERVED),
    ]
