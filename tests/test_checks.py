"""Every check of every assignment, called directly (no notebook): it accepts the worked solution and a second
correct implementation, rejects every mistake of its catalogue and names it, and, where the exercise is by hand,
rejects code that calls torch."""

from __future__ import annotations

import copy
import functools
import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import notebooks as nbs
from autograder.course_dir import SOURCE_ROOT, check_module
from autograder.checks.framework import CheckFailed
from tests.conftest import ASSIGNMENTS, all_checks, alternatives, per_assignment, solution_namespace

CHECKS = all_checks()
STATISTICAL_SEEDS = 200


def reference_functions(assignment, chk):
    namespace = solution_namespace(assignment)
    missing = [f for f in chk.functions if f not in namespace]
    assert not missing, f"the solution of {assignment} defines no {missing}"
    return [namespace[f] for f in chk.functions]


@pytest.mark.parametrize("assignment, chk", CHECKS)
def test_accepts_the_worked_solution(assignment, chk):
    chk(*reference_functions(assignment, chk))


@pytest.mark.parametrize("assignment, chk", CHECKS)
def test_accepts_a_differently_written_implementation(assignment, chk):
    module = alternatives(assignment)
    functions = reference_functions(assignment, chk)
    replaced = [getattr(module, name, None) for name in chk.functions]
    assert any(replaced), f"tests/alternatives/a{assignment}.py has no alternative for {chk.functions}"
    chk(*[alt or ref for alt, ref in zip(replaced, functions)])


@pytest.mark.parametrize("assignment, chk", CHECKS)
def test_catalogue_has_the_common_mistakes(assignment, chk):
    assert len(chk.mistakes) >= 3, f"{chk.name}: a catalogue needs at least the three most common mistakes"
    for mistake in chk.mistakes:
        assert (mistake.replaces or chk.functions[0]) in chk.functions


def mutant_cases():
    return [pytest.param(a, chk, m, id=f"{a}:{chk.name}:{m.name}", marks=pytest.mark.xdist_group(a))
            for a in ASSIGNMENTS for chk in check_module(a).CHECKS for m in chk.mistakes]


@pytest.mark.parametrize("assignment, chk, mistake", mutant_cases())
def test_rejects_and_names_each_mistake(assignment, chk, mistake):
    functions = reference_functions(assignment, chk)
    index = chk.functions.index(mistake.replaces or chk.functions[0])
    functions[index] = mistake.implementation
    with pytest.raises(CheckFailed) as failure:
        chk(*functions)
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


@pytest.mark.parametrize("assignment, chk", [p for p in CHECKS if p.values[1].by_hand])
def test_by_hand_checks_reject_torch(assignment, chk):
    import torch

    functions = reference_functions(assignment, chk)
    honest = functions[0]

    def uses_torch(*args, **kwargs):
        torch.zeros(1).sum()  # any torch call at all
        return honest(*args, **kwargs)

    with pytest.raises(CheckFailed, match="by hand"):
        chk(uses_torch, *functions[1:])


@pytest.mark.parametrize("assignment, chk", [p for p in CHECKS if p.values[1].statistical])
def test_statistical_checks_never_fail_a_correct_implementation(assignment, chk):
    functions = reference_functions(assignment, chk)
    for seed in range(STATISTICAL_SEEDS):
        chk(*functions, seed=seed)


def significant_digits(number: str) -> int:
    mantissa = re.split(r"[eE]", number)[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) if "." in number else len(mantissa)


@pytest.mark.parametrize("assignment, chk", CHECKS)
def test_failure_messages_show_no_full_precision_values(assignment, chk):
    """Messages report errors and tolerances to 3 significant digits; a number with more digits would be a leaked
    expected (or student) value."""
    functions = reference_functions(assignment, chk)
    for mistake in chk.mistakes:
        trial = list(functions)
        trial[chk.functions.index(mistake.replaces or chk.functions[0])] = mistake.implementation
        with pytest.raises(CheckFailed) as failure:
            chk(*trial)
        numbers = re.findall(r"-?\d+\.\d+(?:[eE][-+]?\d+)?", str(failure.value))
        long = [n for n in numbers if significant_digits(n) > 3]
        assert not long, f"{chk.name}/{mistake.name}: the message shows {long}"


@pytest.mark.parametrize("assignment", per_assignment())
def test_hidden_tests_call_exactly_the_catalogued_checks(assignment):
    """Each hidden-test block imports checks of this assignment's module, and every check is used somewhere."""
    names = {chk.name for chk in check_module(assignment).CHECKS}
    module = f"autograder.checks.a{assignment}"
    called = set()
    for path in nbs.assignment_notebooks(SOURCE_ROOT, assignment):
        for cell in nbs.read_notebook(path).cells:
            if nbs.is_test(cell) and nbs.HIDDEN_BEGIN in cell.source:
                assert f"from {module} import" in cell.source, f"{nbs.grade_id(cell)} does not use {module}"
                called |= set(re.findall(r"check_(\w+)\(", cell.source))
    exported = {name for name in dir(check_module(assignment)) if name.startswith("check_")}
    used = {f"check_{c}" for c in called}
    assert used <= exported
    unused = {n for n in exported if getattr(check_module(assignment), n).name in names} - used
    assert not unused, f"checks never called by a hidden test: {sorted(unused)}"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1000, 4000), st.integers(1000, 4000), st.floats(0, 0.2))
def test_kolmogorov_smirnov_p_value_is_scipys_up_to_its_finite_size_correction(seed, n_a, n_b, shift):
    from scipy import stats

    from autograder.checks.a02_initialization import ks_two_sample_p_value

    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n_a), rng.normal(shift, 1.0, size=n_b)
    ours, scipys = ks_two_sample_p_value(a, b), stats.ks_2samp(a, b).pvalue
    if scipys >= 1e-9:  # where the check's threshold (1e-7) decides
        assert 0.99 * scipys <= ours <= 1.15 * scipys


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 4), st.integers(1, 5000), st.floats(0.0, 5.0), st.floats(0.01, 1.0))
def test_weight_decay_reference_is_torch_optim_sgds_step(seed, layers, n, lam2, eta):
    """a03's reference for sgd_step (a gradient step on the penalized cost, by autograd) is the step
    torch.optim.SGD takes with weight_decay = lam2/n on the weights and 0 on the biases."""
    import torch

    from autograder.checks.a03_regularization import _torch_sgd_step

    rng = np.random.default_rng(seed)
    params, grads0 = {}, {}
    for layer in range(1, layers + 1):
        shape = tuple(rng.integers(1, 6, size=2))
        for name, size in ((f"W{layer}", shape), (f"b{layer}", shape[:1])):
            params[name], grads0[name] = rng.normal(size=size), rng.normal(size=size)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    for k, t in tensors.items():
        t.grad = torch.tensor(grads0[k])
    torch.optim.SGD([{"params": [t for k, t in tensors.items() if k.startswith("W")], "weight_decay": lam2 / n},
                     {"params": [t for k, t in tensors.items() if k.startswith("b")], "weight_decay": 0.0}],
                    lr=eta).step()
    ours = _torch_sgd_step(params, grads0, eta, n, lam2, 0.0)
    for k, t in tensors.items():
        np.testing.assert_allclose(ours[k].numpy(), t.detach().numpy(), rtol=1e-13, atol=1e-14)


# --- no message echoes an input ------------------------------------------------------------------------------------

NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
# numbers the framework computes from the student's output, not the input: errors, tolerances, factors
SAFE_NUMBER = re.compile(r"(?:max abs error|max rel error|tolerance: abs|\+ rel|every value is) $")


def _recording(function, calls: list, keep: int = 16):
    """function, keeping copies of the arguments of its first and its last `keep` calls in `calls` (a statistical
    check calls thousands of times; a message speaks of the call that failed, the last)."""
    count = itertools.count()

    @functools.wraps(function)
    def recorded(*args, **kwargs):
        if next(count) >= keep and len(calls) >= 2 * keep:
            del calls[keep]
        calls.append(copy.deepcopy((args, kwargs)))
        return function(*args, **kwargs)
    return recorded


def _input_numbers(calls) -> set[float]:
    """The non-integer numbers of every input a check passed (array elements and scalars)."""
    numbers = set()
    stack = [calls]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += list(value.values())
        elif isinstance(value, (list, tuple)):
            stack += list(value)
        elif isinstance(value, (float, np.floating, np.ndarray)) and not isinstance(value, bool):
            array = np.asarray(value)
            if array.dtype.kind == "f":
                flat = array.ravel()
                flat = flat[np.isfinite(flat) & (flat != np.round(flat))]
                numbers.update(float(x) for x in flat[:100_000])
    return numbers


def _formats(value: float) -> set[str]:
    """How a message could print value: Python's and numpy's usual ways, 3 to 17 significant digits."""
    shown = {repr(value), str(np.float64(value)), np.format_float_positional(value, precision=8, trim="-")}
    shown |= {f"{value:.{d}g}" for d in range(3, 18)} | {f"{value:.{d}f}" for d in range(3, 9)}
    return {s for s in shown if sum(c.isdigit() for c in s.lstrip("-0.")) >= 3}


def echoed_inputs(message: str, secret: set[float]) -> list[str]:
    """The numbers of message, other than the framework's error statistics, that print a secret input value."""
    printed = {}
    for value in secret:
        for shown in _formats(value):
            printed[shown] = value
    found = []
    for match in NUMBER.finditer(message):
        if match.group().isdigit():
            continue  # a count or a size (and an input of 1000 or more only at 4 digits)
        if not SAFE_NUMBER.search(message[max(0, match.start() - 20):match.start()]) and match.group() in printed:
            found.append(match.group())
    return found


def _stub(*args, **kwargs):
    return None  # the released notebook's function before the student writes it: `pass`


@pytest.mark.parametrize("assignment, chk", CHECKS)
def test_no_failure_message_echoes_an_input_value(assignment, chk):
    """Hidden-test inputs derive from a per-student seed; a message that printed them would let a student learn them
    and answer from a table. The rule: a failure message may show shapes, counts, settings that are the same for
    every seed, and summary statistics of the student's own output and of its error (max abs/rel error, tolerance,
    a constant factor), never a value of an input that depends on the seed (an array element or a drawn scalar,
    as Python or numpy would print it, to 3 or more significant digits). Checked for every catalogued mistake (the
    first of a statistical check) and the released stub, on seed 1; a value that the same check also passes on
    seed 2 is a constant, not secret. Integer inputs (labels, indices) are not searched: counts and sizes print the
    same way. What the student's own function prints or raises is grader.py's concern (failed_call).
    (It finds what describe_inputs printed of drawn settings before it showed only round ones: eta = 0.342.)"""
    functions = reference_functions(assignment, chk)
    # a statistical check's messages speak of statistics of the output, and each run costs seconds: one mistake
    mistakes = chk.mistakes[:1] if chk.statistical else chk.mistakes
    trials = [(m.name, m.replaces or chk.functions[0], m.implementation) for m in mistakes]
    trials += [("the released stub", name, _stub) for name in chk.functions]
    leaks = {}
    for label, replaced, implementation in trials:
        messages, inputs = [], []
        for seed in (1, 2):
            calls = []
            try:
                chk(*[_recording(implementation if name == replaced else f, calls)
                      for name, f in zip(chk.functions, functions)], seed=seed)
                messages.append("")
            except CheckFailed as failure:
                messages.append(str(failure))
            inputs.append(_input_numbers(calls))
        echoed = echoed_inputs(messages[0], inputs[0] - inputs[1])  # what seed 2 also passes is no secret
        if echoed:
            leaks[label] = (echoed, messages[0])
    assert not leaks, f"{chk.name}: messages print input values: {leaks}"
