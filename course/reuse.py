"""For visible checks of a function that reuses one you wrote earlier (rotate uses your affine_sample).

A point depends on one function: when the reused function is wrong, its own cell loses the points, and the visible
check of the function that reuses it says so instead of failing too. The hidden tests grade the reusing function
with the course's version of the reused one standing in, so they do not depend on it either.
"""

from __future__ import annotations

from typing import Callable


def reused_functions_work(**quick_checks: Callable[[], bool]) -> bool:
    """True when every reused function passes its quick check; otherwise prints which to fix first, returns False.

    quick_checks: the reused function's name -> a function of no arguments that returns True when a small example
    comes out right (an exception counts as wrong).
        if reused_functions_work(affine_sample=lambda: np.allclose(affine_sample(x, identity), x)):
            ...  # the visible checks of rotate
    """
    failing = []
    for name, quick_check in quick_checks.items():
        try:
            works = bool(quick_check())
        except Exception:  # the reused function raised: it is what to fix first
            works = False
        if not works:
            failing.append(name)
    for name in failing:
        print(f"your {name} fails its own check; fix it first (this cell's visible checks run once it passes)")
    return not failing
