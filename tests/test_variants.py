"""The second catalogue of mistakes (tests/variants/): every variant is rejected by the checks whose catalogue holds
the mistake it varies, and the check's message names that mistake ("Likely mistake: ..."), for at least
NAMED_SHARE_TARGET of all variants; every variant not listed in NOT_YET_NAMED is named, and stays named.

This measures how well the diagnosis generalises beyond exact copies of its catalogue."""

from __future__ import annotations

import functools
import importlib

import pytest

from autograder.course_dir import check_module
from autograder.checks.framework import CheckFailed
from tests.conftest import ASSIGNMENTS, solution_namespace

NAMED_SHARE_TARGET = 0.8


def variant_functions(assignment):
    module = importlib.import_module(f"tests.variants.a{assignment}")
    return [value for value in vars(module).values() if callable(value) and hasattr(value, "variant_of")]


def variant_cases():
    """(assignment, check, mistake, variant) for every variant and every check whose catalogue holds its mistake."""
    cases = []
    for assignment in ASSIGNMENTS:
        checks = check_module(assignment).CHECKS
        for variant in variant_functions(assignment):
            found = False
            for chk in checks:
                for mistake in chk.mistakes:
                    if mistake.name in variant.variant_of:
                        cases.append((assignment, chk, mistake, variant))
                        found = True
            assert found, f"{variant.__name__} varies {variant.variant_of}, which no check of {assignment} catalogues"
    return cases


CASES = variant_cases()


def case_id(case) -> str:
    assignment, chk, mistake, variant = case
    return f"{assignment[:2]}:{chk.name}:{variant.__name__}"


@functools.lru_cache(maxsize=None)
def outcome(index: int) -> tuple[bool, str]:
    """(rejected, message) of the check on the solution with the variant in place of the mistaken function; an
    error other than CheckFailed (a traceback the student would see) counts as not rejected."""
    assignment, chk, mistake, variant = CASES[index]
    namespace = solution_namespace(assignment)
    functions = [namespace[name] for name in chk.functions]
    functions[chk.functions.index(mistake.replaces or chk.functions[0])] = variant
    try:
        chk(*functions)
    except CheckFailed as failure:
        return True, str(failure)
    except Exception as error:  # noqa: BLE001 - reported by the test
        return False, f"the check raised {type(error).__name__}: {error}"
    return False, "the check passed"


def named(index: int) -> bool:
    rejected, message = outcome(index)
    return rejected and f"Likely mistake: {CASES[index][2].message}" in message


# variants whose message does not name their mistake yet (they count against the share); all others must be named.
# Measured on the first 178 variants, written before the diagnosis changed: 132 named (74 %) by exact replay of the
# whole result, 3 of them a traceback; 163 (92 %) once the diagnosis looked at the failing part, confirmed on every call
# and recognised the same kind of error. On all 355 variants: 287 (81 %) with the earlier diagnosis and checks, 337
# (95 %) now.
NOT_YET_NAMED = {
    "00:numerical_gradient:numerical_gradient_backward_difference",  # off by O(h) the other way
    "00:numerical_gradient:numerical_gradient_left_at_plus",
    "01:activation_forward:forward_leaky_fixed_slope_point_one",  # right where the catalogued 0.01 is right
    "01:softmax:softmax_without_shift_loop",  # NaN where the catalogued mistake is finite (a 1-d input)
    "01:softmax_cross_entropy:ce_log2",
    "01:gradient_check:grad_check_signed_other_way",
    "01:holdout_splits:tt_first_part_is_test",
    "01:kfold_indices:kfold_fixed_seed",
    "01:kfold_indices:kfold_train_is_everything",
    "02:uniform_variance:uniform_variance_half_width",  # a number: no pattern of errors to compare
    "02:layer_variances:layer_variances_unbiased_by_hand",
    "02:xavier_uniform:xavier_uniform_fan_in_twice",  # statistical checks name by properties, not by replay
    "02:linear_output_variance:output_variance_std_of_sample",
    "03:augment:augment_always_eval",
    "03:augment:augment_fixed_generator",
    "04:dropconnect_dx:dropconnect_dx_fresh_mask",
    "04:gaussian_dropout:gaussian_bernoulli_binomial",
    "05:batchnorm_fold:fold_no_square_root_eps_outside",
}


@pytest.mark.parametrize("index", [pytest.param(i, id=case_id(c), marks=pytest.mark.xdist_group(c[0]))
                                   for i, c in enumerate(CASES)])
def test_variant_is_rejected(index):
    rejected, message = outcome(index)
    assert rejected, f"{case_id(CASES[index])}: not rejected with a message: {message}"
    if case_id(CASES[index]) not in NOT_YET_NAMED:
        assert named(index), f"{case_id(CASES[index])}: the message does not name the mistake:\n{outcome(index)[1]}"


def test_no_variant_is_named_as_another_mistake():
    wrong = [case_id(CASES[i]) for i in range(len(CASES))
             if "Likely mistake" in outcome(i)[1] and not named(i) and _names_another(i)]
    assert not wrong, f"named as another catalogued mistake: {wrong}"


def _names_another(index: int) -> bool:
    message = outcome(index)[1]
    return any(f"Likely mistake: {m.message}" in message for m in CASES[index][1].mistakes)


def test_every_check_has_a_variant():
    covered = {(chk.name, mistake.name) for _, chk, mistake, _ in CASES}
    bare = [chk.name for assignment in ASSIGNMENTS for chk in check_module(assignment).CHECKS
            if not any((chk.name, mistake.name) in covered for mistake in chk.mistakes)]
    assert not bare, f"checks with no variant of any of their mistakes in tests/variants/: {bare}"


def test_not_yet_named_lists_only_variants():
    ids = {case_id(c) for c in CASES}
    assert NOT_YET_NAMED <= ids, f"no such variant: {sorted(NOT_YET_NAMED - ids)}"


def test_share_of_variants_named():
    share = sum(named(i) for i in range(len(CASES))) / len(CASES)
    unnamed = [case_id(CASES[i]) for i in range(len(CASES)) if not named(i)]
    assert share >= NAMED_SHARE_TARGET, f"{share:.0%} of {len(CASES)} variants named; not named: {unnamed}"


def report() -> str:
    """Per assignment and overall: how many variants the messages name (python -m tests.test_variants)."""
    lines, total, total_named = [], 0, 0
    for assignment in ASSIGNMENTS:
        indices = [i for i, c in enumerate(CASES) if c[0] == assignment]
        count = sum(named(i) for i in indices)
        total, total_named = total + len(indices), total_named + count
        if indices:
            lines.append(f"{assignment:20} {count:3} of {len(indices):3} named ({count / len(indices):.0%})")
    lines.append(f"{'all':20} {total_named:3} of {total:3} named ({total_named / max(total, 1):.0%})")
    not_named = [case_id(CASES[i]) for i in range(len(CASES)) if not named(i)]
    not_rejected = [f"{case_id(CASES[i])} ({outcome(i)[1][:80]})" for i in range(len(CASES)) if not outcome(i)[0]]
    return "\n".join(lines + ["not rejected: " + ", ".join(not_rejected), "not named: " + ", ".join(not_named)])


if __name__ == "__main__":
    print(report())
