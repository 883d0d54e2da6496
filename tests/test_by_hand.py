"""The grader's reading of the student's source for torch in by-hand exercises (autograder/grading/by_hand.py)."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder import notebooks as nbs
from autograder.grading.by_hand import DYNAMIC_CODE, SourceReader, torch_in_source
from autograder.course_dir import SOURCE_ROOT, check_module
from tests.conftest import alternatives, per_assignment

NUMPY_ONLY = "import numpy as np\ndef relu(x):\n    return np.maximum(x, 0)\n"


@pytest.mark.parametrize("cells", [
    ["import torch\ndef relu(x):\n    return torch.relu(torch.tensor(x)).numpy()"],
    ["import torch as T\n", "def relu(x):\n    return T.relu(T.tensor(x)).numpy()"],
    ["import torch.nn.functional as F\ndef relu(x):\n    return F.relu(x)"],
    ["from torch import relu as r\ndef relu(x):\n    return r(x)"],
    ["def relu(x):\n    import torch\n    return torch.relu(x)"],
    ["def relu(x):\n    from torch.nn import functional\n    return functional.relu(x)"],
    ["def relu(x):\n    return __import__('torch').relu(x)"],
    ["import importlib\ndef relu(x):\n    return importlib.import_module('torch.nn.functional').relu(x)"],
    ["import torch\nhelper = torch.relu\ndef relu(x):\n    return helper(x)"],
    ["import torch\ndef helper(x):\n    return torch.relu(x)\n", "def relu(x):\n    return helper(x)"],
    ["import torch\nhelper = lambda x: torch.relu(x)\ndef relu(x):\n    return helper(x)"],
    ["import torch\nclass Layer:\n    def f(self, x):\n        return torch.relu(x)\n"
     "def relu(x):\n    return Layer().f(x)"],
    ["try:\n    import torch\nexcept ImportError:\n    pass\ndef relu(x):\n    return torch.relu(x)"],
])
def test_torch_is_found_however_it_is_reached(cells):
    assert torch_in_source(cells, "relu")


@pytest.mark.parametrize("cells", [
    ["import sys\ndef relu(x):\n    return sys.modules['to' + 'rch'].relu(x)"],
    ["def relu(x):\n    return __import__('to' + 'rch').relu(x)"],
    ["import importlib\ndef relu(x, name='torch'):\n    return importlib.import_module(name).relu(x)"],
    ["def relu(x):\n    return eval('torch.relu')(x)"],
    ["def relu(x):\n    exec('import torch')\n    return x"],
    ["def relu(x):\n    return globals()['T'].relu(x)"],
    ["def relu(x):\n    return [c for c in ().__class__.__base__.__subclasses__()][0](x)"],
    ["import numpy as np\ndef relu(x):\n    return np.__dict__['maximum'](x, 0)"],
    ["import gc\ndef relu(x):\n    return gc.get_objects()[0](x)"],
    ["def relu(x):\n    return relu.__globals__['T'].relu(x)"],
    ["def helper(x):\n    return __builtins__['__import__']('torch')\n", "def relu(x):\n    return helper(x)"],
])
def test_code_built_at_run_time_is_refused_in_a_by_hand_function(cells):
    assert torch_in_source(cells, "relu").startswith(DYNAMIC_CODE)


USES_THE_BOX = "def relu(x):\n    return box[0].relu(x) if isinstance(box, list) else box.t.relu(x)\n"


@pytest.mark.parametrize("setup", [
    "box = []\nbox.append(torch)",
    "box = []\nbox.extend([torch.nn])",
    "box = []\nbox += [torch]",
    "box = {}\nbox.update(t=torch)",
    "box = [0]\nimport operator\noperator.setitem(box, 0, torch)",
    "class B:\n    pass\nbox = B()\nsetattr(box, 't', torch)",
    "class B:\n    pass\nbox = B()\nobject.__setattr__(box, 't', torch)",
    "class B:\n    pass\nbox = B()\nfor box.t in [torch]:\n    pass",
    "[box := [torch]]",
    "class B:\n    def keep(self, m):\n        self.t = m\nbox = B()\nbox.keep(torch)",
    "box = []\ndef register(m):\n    box.append(m)\nregister(torch)",
    "def register(m):\n    global box\n    box = [m]\nregister(torch)",
    "class B:\n    pass\nbox = B()\n[0 for box.t in [torch]]",
])
def test_torch_stored_by_module_level_code_counts_as_torch(setup):
    """Without naming torch, a function can take it from where module-level code put it."""
    assert torch_in_source(["import torch\n" + setup, USES_THE_BOX], "relu")


def test_torch_stored_in_a_module_attribute_counts_as_torch():
    cells = ["import sys\nimport torch\nsys.path.append(torch)", "def relu(x):\n    return sys.path[-1].relu(x)"]
    assert torch_in_source(cells, "relu") == "sys.path"


@pytest.mark.parametrize("setup", [
    "np.testing.assert_allclose(torch.ones(2).numpy(), np.ones(2))",  # reads torch's values, keeps nothing
    "np.random.seed(torch.initial_seed() % 2 ** 32)",
    "rows = []\nrows.append(torch.ones(1))",                         # a container the function does not read
    "sizes = [x for x in torch.arange(3).tolist()]",                  # x is the comprehension's own
])
def test_code_that_only_hands_torch_values_to_numpy_is_not_flagged(setup):
    cells = ["import numpy as np\nimport torch\nx = 1.0\n" + setup,
             "def relu(z):\n    return np.maximum(z, 0) + np.random.randn(*np.shape(z)) * 0 * x"]
    assert torch_in_source(cells, "relu") is None


def test_a_name_bound_by_code_built_at_run_time_counts_as_torch():
    cells = ["import sys\nT = sys.modules['to' + 'rch']\n", "def relu(x):\n    return T.relu(x)"]
    assert torch_in_source(cells, "relu") == "T"


@pytest.mark.parametrize("setup", [
    "globals()['T'] = __import__('to' + 'rch')",
    "exec('import torch as T')",
    "class Box:\n    pass\nT = Box()\nsetattr(T, 'relu', vars(__import__('to' + 'rch'))['relu'])",
])
def test_names_only_code_built_at_run_time_binds_are_refused(setup):
    cells = [setup, "import numpy as np\ndef relu(x):\n    return np.maximum(T.relu(x), 0)"]
    assert torch_in_source(cells, "relu")


def test_names_a_star_import_may_bind_are_refused():
    cells = ["from torch import *", "import numpy as np\ndef relu(x):\n    return np.maximum(tanh(tensor(x)).numpy(), 0)"]
    assert torch_in_source(cells, "relu")


def test_torch_apis_that_merely_look_dynamic_are_not_flagged():
    cells = ["import torch\nmodel = torch.nn.Sequential(torch.nn.ReLU()).eval()\n"
             "count = sum(1 for m in model.modules())\n", NUMPY_ONLY]
    assert torch_in_source(cells, "relu") is None


@pytest.mark.parametrize("cells", [
    [NUMPY_ONLY],
    ["import torch  # for the experiments\n", NUMPY_ONLY],
    ["import numpy as np\ndef relu(x):\n    \"\"\"Like torch.relu, by hand.\"\"\"\n    # not torch.relu\n"
     "    return np.maximum(x, 0)"],
    ["import torch.nn.functional as F\nimport numpy as np\ndef relu(F):\n    return np.maximum(F, 0)"],
    ["import torch\ntorch_free = 1\nimport numpy as np\ndef relu(x):\n    torch = np\n    return torch.maximum(x, 0)"],
    ["import torch\nimport numpy as np\ndef uses_torch(x):\n    return torch.relu(x)\n" + NUMPY_ONLY],
    ["import torch as t\nt = 3\nimport numpy as np\ndef relu(x):\n    return np.maximum(x, t - 3)"],
    ["def broken(:\n", NUMPY_ONLY],
    ["import numpy as np\ndef relu(x, kind='maximum'):\n    return getattr(np, kind)(x, 0)"],
    ["def relu(x):\n    np = __import__('numpy')\n    return np.maximum(x, 0)"],
    ["import sys\nprint(sys.modules['numpy'])\n", NUMPY_ONLY],
    ["import numpy as np\ndef relu(x, vars=None):\n    return np.maximum(x, 0) if vars is None else vars(x)"],
])
def test_numpy_code_is_not_flagged(cells):
    assert torch_in_source(cells, "relu") is None


def test_the_latest_definition_counts():
    cells = ["import torch\ndef relu(x):\n    return torch.relu(x)", NUMPY_ONLY]
    assert torch_in_source(cells, "relu") is None
    assert torch_in_source(cells[::-1], "relu")


def test_the_reader_follows_the_cells_as_they_run():
    reader = SourceReader()
    reader.ran(NUMPY_ONLY)
    assert reader.torch_use("relu") is None
    reader.ran("import torch\ndef relu(x):\n    return torch.relu(x)")
    assert "torch" in reader.torch_use("relu")
    reader.ran("print(relu(1.0))")  # defines nothing: what was found still holds
    assert "torch" in reader.torch_use("relu")
    reader.ran(NUMPY_ONLY)
    assert reader.torch_use("relu") is None
    reader.ran("np = __import__('torch')")  # defines no function, yet relu now reaches torch
    assert reader.torch_use("relu") == "np"


@given(st.lists(st.sampled_from(["x", "y", "np", "helper", "relu", "F"]), min_size=1, max_size=6))
def test_names_that_never_reach_torch_are_never_flagged(names):
    body = " + ".join(names)
    cells = ["import numpy as np\nimport torch.nn.functional as G\ndef helper(v):\n    return v\n",
             f"def relu(x, y=1, F=2):\n    return {body}\n"]
    assert torch_in_source(cells, "relu") is None


@pytest.mark.parametrize("assignment", per_assignment())
def test_no_worked_solution_or_second_implementation_is_flagged(assignment):
    """What the grader reads in a by-hand function must never fail an honest student's numpy code."""
    solution = [source for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment)
                for source in nbs.graded_code(nbs.read_notebook(path))]
    alternative = [inspect.getsource(alternatives(assignment))]
    functions = [f for chk in check_module(assignment).CHECKS if chk.by_hand for f in chk.functions]
    for name in functions:
        assert torch_in_source(solution, name) is None, name
        if hasattr(alternatives(assignment), name):
            assert torch_in_source(alternative, name) is None, name
