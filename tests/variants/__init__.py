"""A second catalogue of mistakes: for catalogued mistakes, differently written variants of the same mistake (another
constant, another code path, another cache), the kind of thing a real student writes. tests/test_variants.py runs each
through the checks whose catalogue holds the mistake it varies and measures how many messages name it.

A variant is a function with the signature of the student function it replaces, marked with `@variant_of("name")`,
where name is the catalogued Mistake's implementation name (`Mistake.name`). Variants may build on the worked
solution (`solution(assignment, name)`), as a student who got most of a function right does.
"""

from __future__ import annotations


def variant_of(*mistake_names: str):
    """Mark a function as a variant of the catalogued mistakes with these names."""
    def mark(function):
        function.variant_of = mistake_names
        return function
    return mark


def solution(assignment: str, name: str):
    """The worked solution's function `name` of `assignment`, looked up when first called."""
    def call(*args, **kwargs):
        from tests.conftest import solution_namespace
        return solution_namespace(assignment)[name](*args, **kwargs)
    call.__name__ = name
    return call
