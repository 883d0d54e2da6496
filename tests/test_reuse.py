import numpy as np
from hypothesis import given, strategies as st

from course.reuse import reused_functions_work


def test_every_failing_reused_function_is_named(capsys):
    assert reused_functions_work(good=lambda: True)
    assert capsys.readouterr().out == ""
    assert not reused_functions_work(good=lambda: True, wrong=lambda: False, raises=lambda: 1 / 0)
    out = capsys.readouterr().out
    assert "your wrong fails its own check" in out and "your raises fails its own check" in out
    assert "good" not in out


@given(st.lists(st.booleans(), max_size=5))
def test_true_exactly_when_all_quick_checks_pass(results):
    checks = {f"f{i}": (lambda r=r: np.bool_(r)) for i, r in enumerate(results)}
    assert reused_functions_work(**checks) == all(results)
