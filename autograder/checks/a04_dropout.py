"""Checks of 04_dropout: classic and inverted dropout (forward, backward, train and eval mode, the student's own masks),
Gaussian dropout, DropConnect, spatial dropout, max-pooling dropout and Cutout.

Convention (PyTorch's, and lecture 003's): p is the probability of DROPPING a unit; a unit is kept with probability
1 - p. Masks are 0/1 float arrays, 1 = kept. Every function takes its randomness from an explicit numpy Generator
`rng`; G checks inject a mask (or a Cutout centre) and compare exactly with the formula in torch (F.dropout,
F.dropout2d, F.linear, F.max_pool2d with the same mask), gradients by autograd; S checks look at the student's own
masks and noise: drop rate, mean, variance, structure, reproducibility with the same generator, independence.

A layer's cache is a dict: {"mask": mask or None, "p": p, "mode": "train" | "eval"} (plus "x", "W", "size" where the
backward pass needs them). Backward checks build that cache themselves, so a backward pass is graded on its own.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtr

from autograder.checks.framework import (Mismatch, Mistake, cached_reference, check, describe_inputs, expect_close,
                                         expect_true)

EXACT = dict(atol=1e-12, rtol=1e-10)


def _t(a, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def _seed(rng) -> int:
    return int(rng.integers(2 ** 31 - 1))


def _mask(rng, shape, p) -> np.ndarray:
    """A 0/1 keep mask drawn by the check itself (Bernoulli(1 - p)), with at least one kept and one dropped entry
    whenever 0 < p < 1 and it has two entries or more: a mask that keeps everything would make "not masked" and
    "not rescaled" the same constant factor, and one that drops everything would hide the scaling, at some seeds."""
    mask = (rng.random(shape) >= p).astype(np.float64)
    flat = mask.reshape(-1)
    if 0 < p < 1 and flat.size >= 2:
        if flat.all():
            flat[0] = 0.0
        elif not flat.any():
            flat[0] = 1.0
    return mask


@cached_reference
def _torch_masks(fn, shape, p, seed):
    """The keep mask that torch's fn (F.dropout or F.dropout2d) draws with this seed, as a 0/1 numpy array.

    torch draws the same mask again when reseeded, so fn(x) with the same seed uses exactly this mask."""
    with torch.random.fork_rng():
        torch.default_generator.manual_seed(seed)  # the CPU generator dropout draws from (torch.manual_seed: 100x slower)
        kept = fn(torch.ones(shape, dtype=torch.float64), p, training=True) != 0
    return kept.to(torch.float64).numpy()


@cached_reference
def _torch_apply(fn, x, p, seed, dout=None):
    """fn(x, p, training=True) with this seed, and d(sum dout * out)/dx by autograd when dout is given."""
    with torch.random.fork_rng():
        torch.default_generator.manual_seed(seed)
        xt = _t(x, grad=dout is not None)
        out = fn(xt, p, training=True)
        if dout is None:
            return out.detach()
        out.backward(_t(dout))
    return out.detach(), xt.grad


def _unpack_forward(result, fname: str, inputs: str):
    """A forward function returns (out, cache) with cache a dict; say so in words when it does not."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mismatch(f"{fname} should return a pair (out, cache), got {_kind(result)} for {inputs}")
    out, cache = result
    if not isinstance(cache, dict):
        raise Mismatch(f"{fname}: the cache should be a dict such as {{'mask': mask, 'p': p, 'mode': mode}}, "
                       f"got {_kind(cache)} for {inputs}")
    return out, cache


def _expect_cache(cache, fname: str, inputs: str, p, mode, mask=None, mask_shape=None):
    """The cache holds what the backward pass needs: the mask (train mode), p and the mode."""
    missing = [key for key in ("mask", "p", "mode") if key not in cache]
    expect_true(not missing, f"{fname}: the cache has no key {missing} for {inputs}; "
                             "it must hold 'mask', 'p' and 'mode' for the backward pass")
    expect_true(cache["mode"] == mode, f"{fname}: cache['mode'] should be the mode you were given for {inputs}")
    expect_true(isinstance(cache["p"], (int, float)) and math.isclose(cache["p"], p, abs_tol=1e-15),
                f"{fname}: cache['p'] should be the p you were given for {inputs}")
    if mask is not None:
        expect_true(cache["mask"] is not None, f"{fname}: cache['mask'] is None in train mode for {inputs}; "
                                               "store the mask you used")
        expect_close(f"{fname}: cache['mask']", cache["mask"], mask, inputs=inputs, **EXACT)
    if mask_shape is not None:
        got = np.shape(cache["mask"]) if cache["mask"] is not None else None
        expect_true(got == tuple(mask_shape), f"{fname}: cache['mask'] has shape {got}, expected shape "
                                              f"{tuple(mask_shape)} for {inputs}")


def _kind(value) -> str:
    if value is None:
        return "None (did you forget to return?)"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _named(message: str, mistake: Mistake) -> str:
    """A property failure that identifies a mistake by itself (one whose output cannot be replayed, such as a mask
    drawn from numpy's global generator)."""
    return f"{message}\nLikely mistake: {mistake.message}"


# ================================================================================================================
# Classic dropout (lecture 003, left column): train m * h, test (1 - p) h
# ================================================================================================================

def classic_train_inverted_scale(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return (1 - p) * x, {"mask": None, "p": p, "mode": mode}


def classic_mask_as_drop(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) < p).astype(float)
        return x * (1 - mask), {"mask": mask, "p": p, "mode": mode}
    return (1 - p) * x, {"mask": None, "p": p, "mode": mode}


def classic_scaled_in_train_too(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return (1 - p) * x * mask, {"mask": mask, "p": p, "mode": mode}
    return (1 - p) * x, {"mask": None, "p": p, "mode": mode}


def classic_ignores_given_mask(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask, {"mask": mask, "p": p, "mode": mode}
    return (1 - p) * x, {"mask": None, "p": p, "mode": mode}


def classic_eval_unscaled(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask, {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def classic_eval_keep_probability_swapped(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask, {"mask": mask, "p": p, "mode": mode}
    return p * x, {"mask": None, "p": p, "mode": mode}


def classic_active_in_eval(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mask is None:
        mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask, {"mask": mask, "p": p, "mode": mode}


CLASSIC_TRAIN_MISTAKES = [
    Mistake("the kept units are divided by (1 - p) in training: that is inverted dropout; classic dropout "
            "multiplies by the mask only", classic_train_inverted_scale, replaces="dropout_classic_forward"),
    Mistake("the mask is read as 'dropped' (x * (1 - mask)): in this course mask = 1 means the unit is kept",
            classic_mask_as_drop, replaces="dropout_classic_forward"),
    Mistake("the training output is multiplied by (1 - p) too: classic dropout scales only at test time",
            classic_scaled_in_train_too, replaces="dropout_classic_forward"),
    Mistake("the mask passed as an argument is ignored and a new one is drawn from rng: use the given mask",
            classic_ignores_given_mask, replaces="dropout_classic_forward"),
]

CLASSIC_EVAL_MISTAKES = [
    Mistake("in eval mode the output is not multiplied by (1 - p): the expected value of a unit then differs "
            "between training and test", classic_eval_unscaled, replaces="dropout_classic_forward"),
    Mistake("in eval mode the output is multiplied by p instead of (1 - p): p is the DROP probability here "
            "(lecture 004's p is the keep probability)", classic_eval_keep_probability_swapped,
            replaces="dropout_classic_forward"),
    Mistake("dropout is still active in eval mode: at test time no unit is dropped", classic_active_in_eval,
            replaces="dropout_classic_forward"),
]


def _train_cases(rng):
    """(x, p): several shapes, p from 0 (nothing dropped) to 0.8; p = 0.5 never first (it hides p / 1 - p swaps)."""
    yield rng.normal(size=(4, 6)), 0.3
    yield rng.normal(size=(7,)), 0.5
    yield rng.normal(size=(2, 3, 4, 5)), 0.8
    yield rng.normal(size=(3, 5)), 0.0
    yield rng.normal(size=(1, 1)), 0.25


@check("dropout_classic_train", functions=("dropout_classic_forward",), mistakes=CLASSIC_TRAIN_MISTAKES,
       by_hand=True)
def check_dropout_classic_train(dropout_classic_forward, rng):
    """Train mode with a given mask: out = mask * x, and the cache holds the mask, p and the mode."""
    for x, p in _train_cases(rng):
        mask = _mask(rng, x.shape, p)
        inputs = describe_inputs(x=x, p=p, mode="train", mask=mask)
        got = dropout_classic_forward(x, p, "train", rng=np.random.default_rng(_seed(rng)), mask=mask)
        out, cache = _unpack_forward(got, "dropout_classic_forward", inputs)
        expect_close("dropout_classic_forward(x, p, 'train', mask=mask) output", out, _t(mask) * _t(x),
                     inputs=inputs, **EXACT)
        _expect_cache(cache, "dropout_classic_forward", inputs, p, "train", mask=mask)


@check("dropout_classic_eval", functions=("dropout_classic_forward",), mistakes=CLASSIC_EVAL_MISTAKES,
       by_hand=True)
def check_dropout_classic_eval(dropout_classic_forward, rng):
    """Eval mode: out = (1 - p) x, deterministic, whatever rng is passed."""
    for x, p in _train_cases(rng):
        inputs = describe_inputs(x=x, p=p, mode="eval")
        got = dropout_classic_forward(x, p, "eval", rng=np.random.default_rng(_seed(rng)))
        out, cache = _unpack_forward(got, "dropout_classic_forward", inputs)
        expect_close("dropout_classic_forward(x, p, 'eval') output", out, (1 - p) * _t(x), inputs=inputs, **EXACT)
        _expect_cache(cache, "dropout_classic_forward", inputs, p, "eval")


def classic_backward_ignores_mask(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        return dout.copy()
    return (1 - cache["p"]) * dout


def classic_backward_inverted_scale(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        return dout * cache["mask"] / (1 - cache["p"])
    return (1 - cache["p"]) * dout


def classic_backward_eval_unscaled(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        return dout * cache["mask"]
    return dout.copy()


def classic_backward_new_mask(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        mask = (np.random.default_rng(0).random(dout.shape) >= cache["p"]).astype(float)
        return dout * mask
    return (1 - cache["p"]) * dout


NEW_MASK_MESSAGE = ("the backward pass draws a new random mask instead of reusing the forward pass's mask from the "
                    "cache: the gradient must flow through exactly the units that were kept")

CLASSIC_BACKWARD_MISTAKES = [
    Mistake("in train mode the gradient ignores the mask: dropped units passed nothing forward, so they get no "
            "gradient (dx = mask * dout)", classic_backward_ignores_mask),
    Mistake("in train mode the gradient is divided by (1 - p): that is inverted dropout; classic dropout's "
            "train-time gradient is mask * dout", classic_backward_inverted_scale),
    Mistake("in eval mode the gradient is not multiplied by (1 - p): the forward pass scaled x by (1 - p), so the "
            "gradient is scaled too", classic_backward_eval_unscaled),
    Mistake(NEW_MASK_MESSAGE, classic_backward_new_mask),
]


def _backward_cases(rng, mask_for):
    """(x, p, mode, mask, dout) for train then eval mode (mask None); mask_for(shape, p) gives the train mask."""
    for x, p in _train_cases(rng):
        yield x, p, "train", mask_for(x.shape, p), rng.normal(size=x.shape)
    for x, p in _train_cases(rng):
        yield x, p, "eval", None, rng.normal(size=x.shape)


def _expect_mask_pattern(got, mask, dout, fname: str, inputs: str, new_mask: Mistake):
    """Train mode: a dropped unit gets no gradient and a kept one gets its share of dout. A gradient that is zero for
    some kept units and non-zero for some dropped ones flowed through another mask, whatever its scale."""
    try:
        gradient = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return
    if gradient.shape != np.shape(mask):
        return
    kept = np.asarray(mask) != 0
    leaks = np.any((gradient != 0) & ~kept)
    starves = np.any((gradient == 0) & kept & (np.asarray(dout) != 0))
    expect_true(not (leaks and starves), _named(f"{fname}(dout, cache) is zero for units the mask kept and non-zero "
                                                f"for units it dropped, for {inputs}", new_mask))


def _kept_scale_cause(out: np.ndarray, x: np.ndarray, p: float, mistakes) -> str:
    """When the kept outputs are all x times one factor, the catalogued mistake that factor reveals (1: not
    rescaled; 1/p: keep and drop probabilities swapped), as a 'Likely mistake' line; else ''."""
    with np.errstate(all="ignore"):
        ratios = (out / x)[(out != 0) & (x != 0)]
    if ratios.size == 0 or not np.allclose(ratios, ratios[0], rtol=1e-9):
        return ""
    by_name = {m.name: m for m in mistakes}
    for factor, name in ((1.0, "no_rescale"), (1.0 / p if p > 0 else math.inf, "keep_probability_swapped")):
        found = [m for key, m in by_name.items() if key.endswith(name)]
        if found and math.isclose(ratios[0], factor, rel_tol=1e-9):
            return f"\nLikely mistake: {found[0].message}"
    return ""


def _expect_repeatable(backward, fname, dout, cache, inputs):
    """The same dout and cache must give the same gradient twice: no new random mask in the backward pass."""
    first = backward(dout, cache)
    second = backward(dout, cache)
    same = first is not None and second is not None and np.shape(first) == np.shape(second) and \
        bool(np.all(np.asarray(first, dtype=float) == np.asarray(second, dtype=float)))
    message = (f"{fname} returns different gradients for the same dout and cache ({inputs}): it must reuse the "
               "mask stored in the cache, not draw a new one")
    expect_true(same, message)


@check("dropout_classic_backward", functions=("dropout_classic_backward",), mistakes=CLASSIC_BACKWARD_MISTAKES,
       by_hand=True)
def check_dropout_classic_backward(dropout_classic_backward, rng):
    """dx of classic dropout by autograd: mask * dout in train mode, (1 - p) dout in eval mode."""
    for k, (x, p, mode, mask, dout) in enumerate(_backward_cases(rng, lambda shape, p: _mask(rng, shape, p))):
        cache = {"mask": mask, "p": p, "mode": mode}
        inputs = describe_inputs(dout=dout, p=p, mode=mode)
        if k == 0:
            _expect_repeatable(dropout_classic_backward, "dropout_classic_backward", dout, cache, inputs)
        xt = _t(x, grad=True)
        out = _t(mask) * xt if mode == "train" else (1 - p) * xt
        out.backward(_t(dout))
        got = dropout_classic_backward(dout, cache)
        if mode == "train":
            _expect_mask_pattern(got, mask, dout, "dropout_classic_backward", inputs, CLASSIC_BACKWARD_MISTAKES[3])
        expect_close(f"dropout_classic_backward(dout, cache) in {mode} mode", got, xt.grad, inputs=inputs, **EXACT)


# ================================================================================================================
# Inverted dropout (lecture 003, right column; PyTorch's F.dropout): train m * h / (1 - p), test h
# ================================================================================================================

def dropout_no_rescale(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask, {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_times_keep(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask * (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_keep_probability_swapped(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) < p).astype(float)
        return x * mask / p, {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_mask_as_drop(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) < p).astype(float)
        return x * (1 - mask) / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_ignores_given_mask(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_active_in_eval(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mask is None:
        mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}


def dropout_eval_scaled(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return (1 - p) * x, {"mask": None, "p": p, "mode": mode}


def dropout_eval_divided(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x / (1 - p), {"mask": None, "p": p, "mode": mode}


DROPOUT_TRAIN_MISTAKES = [
    Mistake("the kept units are not rescaled by 1 / (1 - p): the mean of a unit shrinks by (1 - p) in training",
            dropout_no_rescale, replaces="dropout_forward"),
    Mistake("the kept units are multiplied by (1 - p) instead of divided by it", dropout_times_keep,
            replaces="dropout_forward"),
    Mistake("keep and drop probabilities are swapped: dividing by p treats p as the keep probability (lecture 004's "
            "convention); here p is the drop probability, so divide by (1 - p)", dropout_keep_probability_swapped,
            replaces="dropout_forward"),
    Mistake("the mask is read as 'dropped' (x * (1 - mask)): in this course mask = 1 means the unit is kept",
            dropout_mask_as_drop, replaces="dropout_forward"),
    Mistake("the mask passed as an argument is ignored and a new one is drawn from rng: use the given mask",
            dropout_ignores_given_mask, replaces="dropout_forward"),
]

DROPOUT_EVAL_MISTAKES = [
    Mistake("dropout is still active in eval mode: at test time no unit is dropped and out = x",
            dropout_active_in_eval, replaces="dropout_forward"),
    Mistake("in eval mode the output is multiplied by (1 - p): that is classic dropout's test rule; inverted dropout "
            "already rescaled in training, so out = x", dropout_eval_scaled, replaces="dropout_forward"),
    Mistake("in eval mode the output is divided by (1 - p): the rescaling belongs to training only",
            dropout_eval_divided, replaces="dropout_forward"),
]


@check("dropout_train", functions=("dropout_forward",), mistakes=DROPOUT_TRAIN_MISTAKES, by_hand=True)
def check_dropout_train(dropout_forward, rng):
    """Train mode with the mask F.dropout draws: the output equals F.dropout(x, p) with that mask, and the cache
    holds the mask, p and the mode. Also a mask that drops everything."""
    cases = list(_train_cases(rng))
    for x, p in cases:
        seed = _seed(rng)
        mask = _torch_masks(F.dropout, x.shape, p, seed)
        inputs = describe_inputs(x=x, p=p, mode="train", mask=mask)
        got = dropout_forward(x, p, "train", rng=np.random.default_rng(seed), mask=mask)
        out, cache = _unpack_forward(got, "dropout_forward", inputs)
        expect_close("dropout_forward(x, p, 'train', mask=mask) output", out, _torch_apply(F.dropout, x, p, seed),
                     inputs=inputs, **EXACT)
        _expect_cache(cache, "dropout_forward", inputs, p, "train", mask=mask)
    x, p = rng.normal(size=(3, 4)), 0.6
    mask = np.zeros(x.shape)
    inputs = describe_inputs(x=x, p=p, mode="train", mask=mask) + " (every unit dropped)"
    out, cache = _unpack_forward(dropout_forward(x, p, "train", rng=np.random.default_rng(1), mask=mask),
                                 "dropout_forward", inputs)
    expect_close("dropout_forward(x, p, 'train', mask=zeros) output", out, _t(mask) * _t(x) / (1 - p),
                 inputs=inputs, **EXACT)


@check("dropout_eval", functions=("dropout_forward",), mistakes=DROPOUT_EVAL_MISTAKES, by_hand=True)
def check_dropout_eval(dropout_forward, rng):
    """Eval mode: out = x (F.dropout with training=False), deterministic, whatever rng is passed."""
    for x, p in _train_cases(rng):
        inputs = describe_inputs(x=x, p=p, mode="eval")
        got = dropout_forward(x, p, "eval", rng=np.random.default_rng(_seed(rng)))
        out, cache = _unpack_forward(got, "dropout_forward", inputs)
        expect_close("dropout_forward(x, p, 'eval') output", out, F.dropout(_t(x), p, training=False),
                     inputs=inputs, **EXACT)
        _expect_cache(cache, "dropout_forward", inputs, p, "eval")


def dropout_backward_ignores_mask(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        return dout / (1 - cache["p"])
    return dout.copy()


def dropout_backward_ignores_scale(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        return dout * cache["mask"]
    return dout.copy()


def dropout_backward_new_mask(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        mask = (np.random.default_rng(0).random(dout.shape) >= cache["p"]).astype(float)
        return dout * mask / (1 - cache["p"])
    return dout.copy()


def dropout_backward_eval_scaled(dout, cache):
    dout = np.asarray(dout, dtype=float)
    if cache["mode"] == "train":
        return dout * cache["mask"] / (1 - cache["p"])
    return (1 - cache["p"]) * dout


DROPOUT_BACKWARD_MISTAKES = [
    Mistake("in train mode the gradient ignores the mask: dropped units passed nothing forward, so they get no "
            "gradient", dropout_backward_ignores_mask),
    Mistake("in train mode the gradient is not divided by (1 - p): the forward pass scaled the kept units, so "
            "dx = mask * dout / (1 - p)", dropout_backward_ignores_scale),
    Mistake(NEW_MASK_MESSAGE, dropout_backward_new_mask),
    Mistake("in eval mode the gradient is multiplied by (1 - p): inverted dropout is the identity at test time, "
            "so dx = dout", dropout_backward_eval_scaled),
]


@check("dropout_backward", mistakes=DROPOUT_BACKWARD_MISTAKES, by_hand=True)
def check_dropout_backward(dropout_backward, rng):
    """dx by autograd through F.dropout with the same mask (train mode) and F.dropout(training=False) (eval)."""
    for k, (x, p, mode, seed, dout) in enumerate(_backward_cases(rng, lambda shape, p: _seed(rng))):
        mask = _torch_masks(F.dropout, x.shape, p, seed) if mode == "train" else None
        cache = {"mask": mask, "p": p, "mode": mode}
        inputs = describe_inputs(dout=dout, p=p, mode=mode)
        if k == 0:
            _expect_repeatable(dropout_backward, "dropout_backward", dout, cache, inputs)
        if mode == "train":
            _, expected = _torch_apply(F.dropout, x, p, seed, dout)
        else:
            xt = _t(x, grad=True)
            F.dropout(xt, p, training=False).backward(_t(dout))
            expected = xt.grad
        got = dropout_backward(dout, cache)
        if mode == "train":
            _expect_mask_pattern(got, mask, dout, "dropout_backward", inputs, DROPOUT_BACKWARD_MISTAKES[2])
        expect_close(f"dropout_backward(dout, cache) in {mode} mode", got, expected, inputs=inputs, **EXACT)


# --- the student's own masks (S) --------------------------------------------------------------------------------

def dropout_global_random(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (np.random.random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_fixed_seed(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (np.random.default_rng(0).random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def dropout_one_mask_per_batch(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = np.broadcast_to((rng.random(x.shape[1:]) >= p).astype(float), x.shape).copy()
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


GLOBAL_RANDOM = Mistake("the mask is drawn from numpy's global generator (np.random...) instead of the rng argument: "
                        "results cannot be reproduced from a seed", dropout_global_random, replaces="dropout_forward")

DROPOUT_MASK_MISTAKES = [
    Mistake("keep and drop probabilities are swapped: units are kept with probability p and divided by p; here p "
            "is the drop probability", dropout_keep_probability_swapped, replaces="dropout_forward"),
    Mistake("the kept units are not rescaled by 1 / (1 - p)", dropout_no_rescale, replaces="dropout_forward"),
    Mistake("one mask is drawn for a single example and reused for the whole batch: draw one entry per element of x "
            "(mask shape = x.shape)", dropout_one_mask_per_batch, replaces="dropout_forward"),
    Mistake("the mask comes from a generator with a fixed seed inside the function, so every call drops the same "
            "units: draw from the rng argument", dropout_fixed_seed, replaces="dropout_forward"),
    GLOBAL_RANDOM,
]


def _n_se(value, expected, se, k=6.0) -> bool:
    return abs(value - expected) <= k * se


def _expect_reproducible(first, second, fname, inputs, mistake=None):
    same = np.shape(first) == np.shape(second) and bool(np.array_equal(np.asarray(first), np.asarray(second)))
    message = (f"{fname}: two calls with generators in the same state gave different results ({inputs}); "
               "draw every random number from the rng argument")
    expect_true(same, _named(message, mistake) if (mistake is not None and not same) else message)


@check("dropout_mask", functions=("dropout_forward",), mistakes=DROPOUT_MASK_MISTAKES, by_hand=True,
       statistical=True)
def check_dropout_mask(dropout_forward, rng):
    """The student's own mask (mask=None, drawn from rng): every output is 0 or x / (1 - p); the drop rate is p and the
    mean is preserved (within 6 standard errors); examples get different masks; the same generator state gives the
    same mask, another state another mask; p = 0 keeps everything."""
    p = 0.3
    seed = _seed(rng)
    x = rng.uniform(0.5, 1.5, size=(100, 200))
    n = x.size
    inputs = describe_inputs(x=x, p=p, mode="train")
    out, cache = _unpack_forward(dropout_forward(x, p, "train", rng=np.random.default_rng(seed)),
                                 "dropout_forward", inputs)
    expect_true(np.shape(out) == x.shape, f"dropout_forward output has shape {np.shape(out)}, expected {x.shape}")
    out = np.asarray(out, dtype=float)
    dropped = out == 0
    kept = np.isclose(out, x / (1 - p), rtol=1e-12, atol=0)
    expect_true(np.all(dropped | kept), f"dropout_forward with its own mask ({inputs}): every output must be 0 "
                                        "(dropped) or x / (1 - p) (kept)"
                                        + _kept_scale_cause(out, x, p, DROPOUT_MASK_MISTAKES))
    rate = dropped.mean()
    expect_true(_n_se(rate, p, math.sqrt(p * (1 - p) / n)),
                f"dropout_forward drops a fraction {rate:.3g} of the units for {inputs}; it should drop each unit "
                "with probability p")
    expect_true(_n_se(out.mean(), x.mean(), math.sqrt(np.sum(x ** 2) * p / (1 - p)) / n),
                f"dropout_forward changes the mean of the units ({inputs}): E[out] must equal x")
    expect_true(cache.get("mask") is not None and np.shape(cache["mask"]) == x.shape,
                f"dropout_forward: cache['mask'] should be the 0/1 mask of shape {x.shape} you drew ({inputs})")
    expect_close("dropout_forward: cache['mask'] * x / (1 - p) (the mask you stored against the output)",
                 np.asarray(cache["mask"], dtype=float) * x / (1 - p), out, inputs=inputs, **EXACT)
    expect_true(not np.all(dropped == dropped[0]),
                f"dropout_forward drops the same units in every row of x ({inputs}): each example of the batch "
                "needs its own mask")
    again, _ = _unpack_forward(dropout_forward(x, p, "train", rng=np.random.default_rng(seed)), "dropout_forward",
                               inputs)
    _expect_reproducible(out, again, "dropout_forward", inputs, GLOBAL_RANDOM)
    other, _ = _unpack_forward(dropout_forward(x, p, "train", rng=np.random.default_rng(seed + 1)),
                               "dropout_forward", inputs)
    expect_true(not np.array_equal(np.asarray(other) == 0, dropped),
                f"dropout_forward drops the same units for two different generators ({inputs}): the mask must "
                "come from the rng argument, so that every training step gets a new mask")
    x0 = rng.normal(size=(20, 30))
    out0, _ = _unpack_forward(dropout_forward(x0, 0.0, "train", rng=np.random.default_rng(seed + 2)),
                              "dropout_forward", describe_inputs(x=x0, p=0.0))
    expect_close("dropout_forward(x, p=0, 'train') output (nothing may be dropped)", out0, x0,
                 inputs=describe_inputs(x=x0, p=0.0, mode="train"), **EXACT)


# ================================================================================================================
# Gaussian dropout (lecture 000; Srivastava et al. 2014, Keras GaussianDropout): out = x * m, m ~ N(1, p / (1 - p))
# ================================================================================================================

def gaussian_variance_p_one_minus_p(x, p, mode, rng=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        return x * rng.normal(1.0, np.sqrt(p * (1 - p)), size=x.shape)
    return x.copy()


def gaussian_std_is_ratio(x, p, mode, rng=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        return x * rng.normal(1.0, p / (1 - p), size=x.shape)
    return x.copy()


def gaussian_additive(x, p, mode, rng=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        return x + rng.normal(0.0, np.sqrt(p / (1 - p)), size=x.shape)
    return x.copy()


def gaussian_bernoulli(x, p, mode, rng=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        return x * (rng.random(x.shape) >= p) / (1 - p)
    return x.copy()


def gaussian_active_in_eval(x, p, mode, rng=None):
    x = np.asarray(x, dtype=float)
    return x * rng.normal(1.0, np.sqrt(p / (1 - p)), size=x.shape)


def gaussian_mean_zero(x, p, mode, rng=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        return x * rng.normal(0.0, np.sqrt(p / (1 - p)), size=x.shape)
    return x.copy()


GAUSSIAN_MISTAKES = [
    Mistake("the noise variance is p(1 - p) (lecture 000's slide): with p the drop rate, Gaussian dropout matches "
            "inverted dropout's variance p / (1 - p) (Srivastava et al., Keras)", gaussian_variance_p_one_minus_p),
    Mistake("p / (1 - p) is used as the standard deviation of the noise; it is the variance (take its square root "
            "for rng.normal's scale)", gaussian_std_is_ratio),
    Mistake("the noise has mean 0: Gaussian dropout multiplies by noise of mean 1, so E[out] = x", gaussian_mean_zero),
    Mistake("the noise is added to x instead of multiplying it", gaussian_additive),
    Mistake("a Bernoulli mask (inverted dropout) is used instead of Gaussian noise", gaussian_bernoulli),
    Mistake("the noise is still applied in eval mode: at test time out = x", gaussian_active_in_eval),
]


@check("gaussian_dropout", mistakes=GAUSSIAN_MISTAKES, by_hand=True, statistical=True)
def check_gaussian_dropout(gaussian_dropout, rng):
    """Train mode: the noise out / x has mean 1 and variance p / (1 - p) (within 6 standard errors) and is normal
    (Kolmogorov-Smirnov distance below 0.025 for 20000 values); the same generator state gives the same output.
    Eval mode: out = x."""
    for p in (0.3, 0.6):
        x = rng.uniform(1.0, 3.0, size=(100, 200))
        n = x.size
        seed = _seed(rng)
        inputs = describe_inputs(x=x, p=p, mode="train")
        out = gaussian_dropout(x, p, "train", rng=np.random.default_rng(seed))
        expect_true(isinstance(out, np.ndarray) and out.shape == x.shape,
                    f"gaussian_dropout should return an array of shape {x.shape}, got {_kind(out)} for {inputs}")
        noise = np.asarray(out, dtype=float) / x
        expect_true(np.all(np.isfinite(noise)), f"gaussian_dropout returns inf or nan for {inputs}")
        variance = p / (1 - p)
        expect_true(_n_se(noise.mean(), 1.0, math.sqrt(variance / n)),
                    f"gaussian_dropout: the noise out / x has mean {noise.mean():.3g} for {inputs}; it must be 1 "
                    "(E[out] = x)")
        expect_true(_n_se(noise.var(ddof=1), variance, variance * math.sqrt(2 / (n - 1))),
                    f"gaussian_dropout: the noise out / x has variance {noise.var(ddof=1):.3g} for {inputs}; "
                    "it must be p / (1 - p)")
        ordered = np.sort(noise.ravel())
        cdf = ndtr((ordered - 1.0) / math.sqrt(variance))
        distance = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
        expect_true(distance < 0.025, f"gaussian_dropout: the noise out / x is not normally distributed for {inputs} "
                                      f"(Kolmogorov-Smirnov distance {distance:.3g}); draw it with rng.normal")
        again = gaussian_dropout(x, p, "train", rng=np.random.default_rng(seed))
        _expect_reproducible(out, again, "gaussian_dropout", inputs)
    for x, p in _train_cases(rng):
        inputs = describe_inputs(x=x, p=p, mode="eval")
        got = gaussian_dropout(x, p, "eval", rng=np.random.default_rng(_seed(rng)))
        expect_close("gaussian_dropout(x, p, 'eval')", got, _t(x), inputs=inputs, **EXACT)


# ================================================================================================================
# DropConnect (lecture 000; Wan et al. 2013): a Bernoulli mask on the weights of a fully connected layer
# ================================================================================================================

def _dropconnect_reference(x, W, b, p, mode, mask, dout=None):
    """F.linear(x, W * mask / (1 - p), b) in train mode, F.linear(x, W, b) in eval mode; gradients by autograd."""
    xt, Wt, bt = _t(x, grad=True), _t(W, grad=True), _t(b, grad=True)
    weight = Wt * _t(mask) / (1 - p) if mode == "train" else Wt
    out = F.linear(xt, weight, bt)
    if dout is None:
        return out.detach()
    out.backward(_t(dout))
    return xt.grad, Wt.grad, bt.grad


def dropconnect_no_rescale(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = (np.asarray(a, dtype=float) for a in (x, W, b))
    if mode == "train":
        if mask is None:
            mask = (rng.random(W.shape) >= p).astype(float)
        return x @ (W * mask).T + b, {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}
    return x @ W.T + b, {"x": x, "W": W, "mask": None, "p": p, "mode": mode}


def dropconnect_mask_as_drop(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = (np.asarray(a, dtype=float) for a in (x, W, b))
    if mode == "train":
        if mask is None:
            mask = (rng.random(W.shape) < p).astype(float)
        return x @ (W * (1 - mask) / (1 - p)).T + b, {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}
    return x @ W.T + b, {"x": x, "W": W, "mask": None, "p": p, "mode": mode}


def dropconnect_bias_scaled(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = (np.asarray(a, dtype=float) for a in (x, W, b))
    if mode == "train":
        if mask is None:
            mask = (rng.random(W.shape) >= p).astype(float)
        return (x @ (W * mask).T + b) / (1 - p), {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}
    return x @ W.T + b, {"x": x, "W": W, "mask": None, "p": p, "mode": mode}


def dropconnect_active_in_eval(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = (np.asarray(a, dtype=float) for a in (x, W, b))
    if mask is None:
        mask = (rng.random(W.shape) >= p).astype(float)
    return x @ (W * mask / (1 - p)).T + b, {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}


def dropconnect_eval_scaled(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = (np.asarray(a, dtype=float) for a in (x, W, b))
    if mode == "train":
        if mask is None:
            mask = (rng.random(W.shape) >= p).astype(float)
        return x @ (W * mask / (1 - p)).T + b, {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}
    return x @ ((1 - p) * W).T + b, {"x": x, "W": W, "mask": None, "p": p, "mode": mode}


DROPCONNECT_FORWARD_MISTAKES = [
    Mistake("the masked weights are not rescaled by 1 / (1 - p)", dropconnect_no_rescale,
            replaces="dropconnect_forward"),
    Mistake("the mask is read as 'dropped' (W * (1 - mask)): mask = 1 means the weight is kept",
            dropconnect_mask_as_drop, replaces="dropconnect_forward"),
    Mistake("the bias is rescaled by 1 / (1 - p) too: only the weights are masked and rescaled",
            dropconnect_bias_scaled, replaces="dropconnect_forward"),
    Mistake("the weights are still masked in eval mode: at test time the layer uses all of W",
            dropconnect_active_in_eval, replaces="dropconnect_forward"),
    Mistake("in eval mode the weights are multiplied by (1 - p): with the 1 / (1 - p) rescaling in training, the "
            "test-time layer is x W^T + b", dropconnect_eval_scaled, replaces="dropconnect_forward"),
]


def _dropconnect_cases(rng):
    """(x, W, b, p) with x (N, D), W (M, D), b (M,): several sizes, a single example, p = 0."""
    for (n, d, m), p in [((4, 5, 3), 0.3), ((1, 6, 2), 0.5), ((8, 3, 7), 0.7), ((5, 4, 4), 0.0), ((2, 1, 1), 0.2)]:
        yield rng.normal(size=(n, d)), rng.normal(size=(m, d)), rng.normal(size=m), p


@check("dropconnect_forward", mistakes=DROPCONNECT_FORWARD_MISTAKES, by_hand=True)
def check_dropconnect_forward(dropconnect_forward, rng):
    """Train mode with a given mask: F.linear(x, W * mask / (1 - p), b) and the cache holds the mask; then eval mode:
    F.linear(x, W, b)."""
    for mode in ("train", "eval"):
        for x, W, b, p in _dropconnect_cases(rng):
            mask = _mask(rng, W.shape, p) if mode == "train" else None
            inputs = describe_inputs(x=x, W=W, b=b, p=p, mode=mode)
            got = dropconnect_forward(x, W, b, p, mode, rng=np.random.default_rng(_seed(rng)), mask=mask)
            out, cache = _unpack_forward(got, "dropconnect_forward", inputs)
            expect_close(f"dropconnect_forward output in {mode} mode", out,
                         _dropconnect_reference(x, W, b, p, mode, mask), inputs=inputs, atol=1e-12, rtol=1e-9)
            _expect_cache(cache, "dropconnect_forward", inputs, p, mode, mask=mask)


def _dropconnect_cache(x, W, p, mode, mask):
    return {"x": x, "W": W, "mask": mask, "p": p, "mode": mode}


def dropconnect_dx_unmasked(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        return dout @ W, (dout.T @ x) * mask / (1 - p), dout.sum(axis=0)
    return dout @ W, dout.T @ x, dout.sum(axis=0)


def dropconnect_dx_unscaled(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        return dout @ (W * mask), (dout.T @ x) * mask / (1 - p), dout.sum(axis=0)
    return dout @ W, dout.T @ x, dout.sum(axis=0)


def dropconnect_dx_new_mask(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        fresh = (np.random.default_rng(0).random(W.shape) >= p).astype(float)
        return dout @ (W * fresh / (1 - p)), (dout.T @ x) * mask / (1 - p), dout.sum(axis=0)
    return dout @ W, dout.T @ x, dout.sum(axis=0)


DROPCONNECT_DX_MISTAKES = [
    Mistake("dx uses the full weights W: the forward pass used W * mask / (1 - p), so dx = dout (W * mask) / (1 - p)",
            dropconnect_dx_unmasked, replaces="dropconnect_backward"),
    Mistake("dx uses the masked weights without the 1 / (1 - p) factor", dropconnect_dx_unscaled,
            replaces="dropconnect_backward"),
    Mistake("the backward pass draws a new random mask for dx instead of reusing the mask from the cache",
            dropconnect_dx_new_mask, replaces="dropconnect_backward"),
]


def dropconnect_dW_unmasked(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        return dout @ (W * mask / (1 - p)), dout.T @ x, dout.sum(axis=0)
    return dout @ W, dout.T @ x, dout.sum(axis=0)


def dropconnect_dW_unscaled(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        return dout @ (W * mask / (1 - p)), (dout.T @ x) * mask, dout.sum(axis=0)
    return dout @ W, dout.T @ x, dout.sum(axis=0)


def dropconnect_db_mean(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        return dout @ (W * mask / (1 - p)), (dout.T @ x) * mask / (1 - p), dout.mean(axis=0)
    return dout @ W, dout.T @ x, dout.mean(axis=0)


def dropconnect_db_scaled(dout, cache):
    dout, x, W = (np.asarray(a, dtype=float) for a in (dout, cache["x"], cache["W"]))
    if cache["mode"] == "train":
        mask, p = cache["mask"], cache["p"]
        return dout @ (W * mask / (1 - p)), (dout.T @ x) * mask / (1 - p), dout.sum(axis=0) / (1 - p)
    return dout @ W, dout.T @ x, dout.sum(axis=0)


DROPCONNECT_DPARAMS_MISTAKES = [
    Mistake("dW is the plain linear-layer gradient dout^T x: the forward pass used W * mask / (1 - p), so multiply "
            "it by mask / (1 - p) (a dropped weight gets no gradient)", dropconnect_dW_unmasked,
            replaces="dropconnect_backward"),
    Mistake("dW is masked but not divided by (1 - p)", dropconnect_dW_unscaled, replaces="dropconnect_backward"),
    Mistake("db averages dout over the batch instead of summing it", dropconnect_db_mean,
            replaces="dropconnect_backward"),
    Mistake("db is divided by (1 - p): the bias is neither masked nor rescaled, so db = sum of dout over the batch",
            dropconnect_db_scaled, replaces="dropconnect_backward"),
]


def _dropconnect_backward_cases(rng):
    for mode in ("train", "eval"):
        for x, W, b, p in _dropconnect_cases(rng):
            mask = _mask(rng, W.shape, p) if mode == "train" else None
            yield x, W, b, p, mode, mask, rng.normal(size=(x.shape[0], W.shape[0]))


def _unpack_grads(result, fname, inputs):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise Mismatch(f"{fname} should return a triple (dx, dW, db), got {_kind(result)} for {inputs}")
    return result


@check("dropconnect_dx", functions=("dropconnect_backward",), mistakes=DROPCONNECT_DX_MISTAKES, by_hand=True)
def check_dropconnect_dx(dropconnect_backward, rng):
    """dx of DropConnect by autograd through F.linear(x, W * mask / (1 - p), b) (train) and F.linear(x, W, b) (eval)."""
    for k, (x, W, b, p, mode, mask, dout) in enumerate(_dropconnect_backward_cases(rng)):
        cache = _dropconnect_cache(x, W, p, mode, mask)
        inputs = describe_inputs(dout=dout, x=x, W=W, p=p, mode=mode)
        if k == 0:
            _expect_repeatable(lambda d, c: _unpack_grads(dropconnect_backward(d, c), "dropconnect_backward",
                                                          inputs)[0], "dropconnect_backward", dout, cache, inputs)
        dx, _, _ = _dropconnect_reference(x, W, b, p, mode, mask, dout)
        got = _unpack_grads(dropconnect_backward(dout, cache), "dropconnect_backward", inputs)
        expect_close(f"dx of dropconnect_backward(dout, cache) in {mode} mode", got[0], dx, inputs=inputs,
                     atol=1e-12, rtol=1e-9)


@check("dropconnect_dparams", functions=("dropconnect_backward",), mistakes=DROPCONNECT_DPARAMS_MISTAKES,
       by_hand=True)
def check_dropconnect_dparams(dropconnect_backward, rng):
    """dW and db of DropConnect by autograd (train and eval mode)."""
    for x, W, b, p, mode, mask, dout in _dropconnect_backward_cases(rng):
        cache = _dropconnect_cache(x, W, p, mode, mask)
        inputs = describe_inputs(dout=dout, x=x, W=W, p=p, mode=mode)
        _, dW, db = _dropconnect_reference(x, W, b, p, mode, mask, dout)
        got = _unpack_grads(dropconnect_backward(dout, cache), "dropconnect_backward", inputs)
        expect_close(f"dW of dropconnect_backward(dout, cache) in {mode} mode", got[1], dW, inputs=inputs,
                     atol=1e-12, rtol=1e-9)
        expect_close(f"db of dropconnect_backward(dout, cache) in {mode} mode", got[2], db, inputs=inputs,
                     atol=1e-12, rtol=1e-9)


# ================================================================================================================
# Spatial dropout (lecture 000; Tompson et al. 2015, F.dropout2d): whole channels of (N, C, H, W)
# ================================================================================================================

def spatial_no_rescale(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random((x.shape[0], x.shape[1], 1, 1)) >= p).astype(float)
        return x * mask, {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def spatial_mask_as_drop(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random((x.shape[0], x.shape[1], 1, 1)) < p).astype(float)
        return x * (1 - mask) / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def spatial_active_in_eval(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mask is None:
        mask = (rng.random((x.shape[0], x.shape[1], 1, 1)) >= p).astype(float)
    return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}


def spatial_eval_scaled(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random((x.shape[0], x.shape[1], 1, 1)) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return (1 - p) * x, {"mask": None, "p": p, "mode": mode}


def spatial_per_pixel(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def spatial_one_mask_per_batch(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = np.repeat((rng.random((1, x.shape[1], 1, 1)) >= p).astype(float), x.shape[0], axis=0)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def spatial_whole_examples(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = np.repeat((rng.random((x.shape[0], 1, 1, 1)) >= p).astype(float), x.shape[1], axis=1)
        return x * mask / (1 - p), {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


def spatial_keep_probability_swapped(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, dtype=float)
    if mode == "train":
        if mask is None:
            mask = (rng.random((x.shape[0], x.shape[1], 1, 1)) < p).astype(float)
        return x * mask / p, {"mask": mask, "p": p, "mode": mode}
    return x.copy(), {"mask": None, "p": p, "mode": mode}


SPATIAL_MISTAKES = [
    Mistake("the kept channels are not rescaled by 1 / (1 - p)", spatial_no_rescale,
            replaces="spatial_dropout_forward"),
    Mistake("the mask is read as 'dropped' (x * (1 - mask)): mask = 1 means the channel is kept",
            spatial_mask_as_drop, replaces="spatial_dropout_forward"),
    Mistake("spatial dropout is still active in eval mode: at test time out = x", spatial_active_in_eval,
            replaces="spatial_dropout_forward"),
    Mistake("in eval mode the output is multiplied by (1 - p): with the 1 / (1 - p) rescaling in training, out = x "
            "at test time", spatial_eval_scaled, replaces="spatial_dropout_forward"),
]

SPATIAL_MASK_MISTAKES = [
    Mistake("single pixels are dropped (a mask of x's full shape): spatial dropout drops whole feature maps, one "
            "mask entry per (example, channel)", spatial_per_pixel, replaces="spatial_dropout_forward"),
    Mistake("one channel mask is drawn and reused for every example of the batch: draw a mask of shape "
            "(N, C, 1, 1)", spatial_one_mask_per_batch, replaces="spatial_dropout_forward"),
    Mistake("whole examples are dropped (one mask entry per example): draw one entry per channel of each example, "
            "shape (N, C, 1, 1)", spatial_whole_examples, replaces="spatial_dropout_forward"),
    Mistake("keep and drop probabilities are swapped: channels are kept with probability p; here p is the drop "
            "probability", spatial_keep_probability_swapped, replaces="spatial_dropout_forward"),
    Mistake("the kept channels are not rescaled by 1 / (1 - p)", spatial_no_rescale,
            replaces="spatial_dropout_forward"),
]


def _spatial_cases(rng):
    for shape, p in [((2, 3, 4, 5), 0.3), ((1, 4, 3, 3), 0.5), ((4, 2, 1, 6), 0.8), ((3, 5, 2, 2), 0.0),
                     ((2, 1, 5, 4), 0.25)]:
        yield rng.normal(size=shape), p


@check("spatial_dropout", functions=("spatial_dropout_forward",), mistakes=SPATIAL_MISTAKES, by_hand=True)
def check_spatial_dropout(spatial_dropout_forward, rng):
    """Train mode with the channel mask F.dropout2d draws, shape (N, C, 1, 1): the output equals F.dropout2d(x, p)
    with that mask and the cache holds the mask; then eval mode: out = x."""
    for x, p in _spatial_cases(rng):
        seed = _seed(rng)
        mask = _torch_masks(F.dropout2d, x.shape, p, seed)[:, :, :1, :1].copy()
        inputs = describe_inputs(x=x, p=p, mode="train", mask=mask)
        got = spatial_dropout_forward(x, p, "train", rng=np.random.default_rng(seed), mask=mask)
        out, cache = _unpack_forward(got, "spatial_dropout_forward", inputs)
        expect_close("spatial_dropout_forward(x, p, 'train', mask=mask) output", out,
                     _torch_apply(F.dropout2d, x, p, seed), inputs=inputs, **EXACT)
        _expect_cache(cache, "spatial_dropout_forward", inputs, p, "train", mask=mask)
    for x, p in _spatial_cases(rng):
        inputs = describe_inputs(x=x, p=p, mode="eval")
        got = spatial_dropout_forward(x, p, "eval", rng=np.random.default_rng(_seed(rng)))
        out, cache = _unpack_forward(got, "spatial_dropout_forward", inputs)
        expect_close("spatial_dropout_forward(x, p, 'eval') output", out, F.dropout2d(_t(x), p, training=False),
                     inputs=inputs, **EXACT)
        _expect_cache(cache, "spatial_dropout_forward", inputs, p, "eval")


@check("spatial_dropout_mask", functions=("spatial_dropout_forward",), mistakes=SPATIAL_MASK_MISTAKES,
       by_hand=True, statistical=True)
def check_spatial_dropout_mask(spatial_dropout_forward, rng):
    """The student's own channel mask, compared with the structure of F.dropout2d's masks: each (example, channel)
    map is dropped whole or kept whole (and rescaled by 1 / (1 - p)); maps are dropped with probability p (6 standard
    errors); examples and channels get different masks; the cache mask has shape (N, C, 1, 1); the same generator
    state gives the same mask, another state another mask."""
    p = 0.4
    x = rng.uniform(0.5, 1.5, size=(40, 50, 3, 4))
    seed = _seed(rng)
    inputs = describe_inputs(x=x, p=p, mode="train")
    out, cache = _unpack_forward(spatial_dropout_forward(x, p, "train", rng=np.random.default_rng(seed)),
                                 "spatial_dropout_forward", inputs)
    expect_true(np.shape(out) == x.shape, f"spatial_dropout_forward output has shape {np.shape(out)}, "
                                          f"expected {x.shape}")
    out = np.asarray(out, dtype=float)
    dropped = out == 0
    kept = np.isclose(out, x / (1 - p), rtol=1e-12, atol=0)
    expect_true(np.all(dropped | kept), f"spatial_dropout_forward with its own mask ({inputs}): every output must be "
                                        "0 (dropped) or x / (1 - p) (kept)"
                                        + _kept_scale_cause(out, x, p, SPATIAL_MASK_MISTAKES))
    whole = np.all(dropped, axis=(2, 3)) | np.all(kept, axis=(2, 3))
    expect_true(np.all(whole), f"spatial_dropout_forward drops single pixels ({inputs}): "
                               f"{int((~whole).sum())} feature maps are partly dropped; F.dropout2d drops or keeps "
                               "each (example, channel) map as a whole")
    maps = np.all(dropped, axis=(2, 3))
    rate = maps.mean()
    expect_true(_n_se(rate, p, math.sqrt(p * (1 - p) / maps.size)),
                f"spatial_dropout_forward drops a fraction {rate:.3g} of the feature maps for {inputs}; it should "
                "drop each map with probability p")
    expect_true(not np.all(maps == maps[0]), f"spatial_dropout_forward drops the same channels in every example "
                                             f"({inputs}): each example needs its own channel mask")
    expect_true(not np.all(maps == maps[:, :1]), f"spatial_dropout_forward drops all channels of an example or none "
                                                 f"({inputs}): each channel needs its own mask entry")
    expect_true(cache.get("mask") is not None and np.shape(cache["mask"]) == (x.shape[0], x.shape[1], 1, 1),
                f"spatial_dropout_forward: cache['mask'] should have shape {(x.shape[0], x.shape[1], 1, 1)}, one "
                f"entry per feature map ({inputs})")
    expect_close("spatial_dropout_forward: cache['mask'] * x / (1 - p) (the mask you stored against the output)",
                 np.asarray(cache["mask"], dtype=float) * x / (1 - p), out, inputs=inputs, **EXACT)
    again, _ = _unpack_forward(spatial_dropout_forward(x, p, "train", rng=np.random.default_rng(seed)),
                               "spatial_dropout_forward", inputs)
    _expect_reproducible(out, again, "spatial_dropout_forward", inputs)
    other, _ = _unpack_forward(spatial_dropout_forward(x, p, "train", rng=np.random.default_rng(seed + 1)),
                               "spatial_dropout_forward", inputs)
    expect_true(not np.array_equal(np.asarray(other) == 0, dropped),
                f"spatial_dropout_forward drops the same maps for two different generators ({inputs}): the mask "
                "must come from the rng argument")


# ================================================================================================================
# Max-pooling dropout (lecture 000; Wu & Gu 2015): train max(Pool(x) * M), test (1 - p) max(Pool(x))
# ================================================================================================================

def _maxpool_reference(x, p, mode, mask, size, dout=None):
    """F.max_pool2d(x * mask, size) in train mode, (1 - p) F.max_pool2d(x, size) in eval mode; dx by autograd."""
    xt = _t(x, grad=dout is not None)
    if mode == "train":
        out = F.max_pool2d(xt * _t(mask), size)
    else:
        out = (1 - p) * F.max_pool2d(xt, size)
    if dout is None:
        return out.detach()
    out.backward(_t(dout))
    return xt.grad


def maxpool_after_pooling(x, p, mode, rng=None, mask=None, size=2):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    pooled = x.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        out = pooled * mask[:, :, ::size, ::size]
        return out, {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}
    return (1 - p) * pooled, {"x": x, "mask": None, "p": p, "mode": mode, "size": size}


def maxpool_inverted_scale(x, p, mode, rng=None, mask=None, size=2):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        xm = x * mask
        out = xm.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5)) / (1 - p)
        return out, {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}
    out = (1 - p) * x.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
    return out, {"x": x, "mask": None, "p": p, "mode": mode, "size": size}


def maxpool_eval_unscaled(x, p, mode, rng=None, mask=None, size=2):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) >= p).astype(float)
        xm = x * mask
        out = xm.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
        return out, {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}
    out = x.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
    return out, {"x": x, "mask": None, "p": p, "mode": mode, "size": size}


def maxpool_active_in_eval(x, p, mode, rng=None, mask=None, size=2):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if mask is None:
        mask = (rng.random(x.shape) >= p).astype(float)
    xm = x * mask
    out = xm.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
    return out, {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}


def maxpool_mask_as_drop(x, p, mode, rng=None, mask=None, size=2):
    x = np.asarray(x, dtype=float)
    n, c, h, w = x.shape
    if mode == "train":
        if mask is None:
            mask = (rng.random(x.shape) < p).astype(float)
        xm = x * (1 - mask)
        out = xm.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
        return out, {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}
    out = (1 - p) * x.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))
    return out, {"x": x, "mask": None, "p": p, "mode": mode, "size": size}


MAXPOOL_FORWARD_MISTAKES = [
    Mistake("the mask is applied after pooling: max-pooling dropout masks the units inside each window, then takes "
            "the maximum of the kept ones", maxpool_after_pooling, replaces="maxpool_dropout_forward"),
    Mistake("the training output is divided by (1 - p): max-pooling dropout as in lecture 000 does not rescale in "
            "training, it multiplies by (1 - p) at test time", maxpool_inverted_scale,
            replaces="maxpool_dropout_forward"),
    Mistake("the mask is read as 'dropped' (x * (1 - mask)): mask = 1 means the unit is kept",
            maxpool_mask_as_drop, replaces="maxpool_dropout_forward"),
    Mistake("in eval mode the pooled output is not multiplied by (1 - p)", maxpool_eval_unscaled,
            replaces="maxpool_dropout_forward"),
    Mistake("dropout is still active in eval mode: at test time no unit is dropped", maxpool_active_in_eval,
            replaces="maxpool_dropout_forward"),
]


def _maxpool_cases(rng):
    """(x, p, size): positive inputs (after a ReLU) of several shapes and window sizes, then inputs with negative
    values (a dropped unit's 0 can then win its window)."""
    for shape, p, size in [((2, 3, 4, 6), 0.3, 2), ((1, 2, 6, 6), 0.5, 3), ((3, 1, 2, 2), 0.6, 2),
                           ((2, 2, 4, 4), 0.0, 2), ((1, 1, 6, 4), 0.25, 2)]:
        yield rng.uniform(0.1, 2.0, size=shape), p, size
    yield rng.normal(size=(2, 3, 4, 4)), 0.4, 2


@check("maxpool_dropout_forward", mistakes=MAXPOOL_FORWARD_MISTAKES, by_hand=True)
def check_maxpool_dropout_forward(maxpool_dropout_forward, rng):
    """Train mode with a given mask: F.max_pool2d(x * mask, size) and the cache holds the mask; eval mode:
    (1 - p) F.max_pool2d(x, size)."""
    for mode in ("train", "eval"):
        for x, p, size in _maxpool_cases(rng):
            mask = _mask(rng, x.shape, p) if mode == "train" else None
            inputs = describe_inputs(x=x, p=p, mode=mode, size=size)
            got = maxpool_dropout_forward(x, p, mode, rng=np.random.default_rng(_seed(rng)), mask=mask, size=size)
            out, cache = _unpack_forward(got, "maxpool_dropout_forward", inputs)
            expect_close(f"maxpool_dropout_forward output in {mode} mode", out,
                         _maxpool_reference(x, p, mode, mask, size), inputs=inputs, **EXACT)
            _expect_cache(cache, "maxpool_dropout_forward", inputs, p, mode, mask=mask)


def maxpool_backward_ignores_mask(dout, cache):
    x, dout = np.asarray(cache["x"], dtype=float), np.asarray(dout, dtype=float)
    p, size = cache["p"], cache["size"]
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // size, size, w // size, size)
    top = windows.max(axis=(3, 5), keepdims=True)
    winners = (windows == top).astype(float)
    scale = 1.0 if cache["mode"] == "train" else 1 - p
    dx = winners * scale * dout[:, :, :, None, :, None]
    return dx.reshape(n, c, h, w)


def maxpool_backward_mask_not_applied(dout, cache):
    x, dout = np.asarray(cache["x"], dtype=float), np.asarray(dout, dtype=float)
    p, size = cache["p"], cache["size"]
    n, c, h, w = x.shape
    xm = x * cache["mask"] if cache["mode"] == "train" else x
    flat = xm.reshape(n, c, h // size, size, w // size, size).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // size, w // size, size * size)
    first = np.argmax(flat, axis=-1)
    onehot = (np.arange(size * size) == first[..., None]).astype(float)
    scale = 1.0 if cache["mode"] == "train" else 1 - p
    dflat = onehot * scale * dout[..., None]
    return dflat.reshape(n, c, h // size, w // size, size, size).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def maxpool_backward_eval_unscaled(dout, cache):
    x, dout = np.asarray(cache["x"], dtype=float), np.asarray(dout, dtype=float)
    size = cache["size"]
    n, c, h, w = x.shape
    mask = cache["mask"] if cache["mode"] == "train" else np.ones_like(x)
    windows = (x * mask).reshape(n, c, h // size, size, w // size, size)
    top = windows.max(axis=(3, 5), keepdims=True)
    winners = (windows == top).astype(float)
    dx = winners * dout[:, :, :, None, :, None]
    return dx.reshape(n, c, h, w) * mask


def maxpool_backward_average(dout, cache):
    x, dout = np.asarray(cache["x"], dtype=float), np.asarray(dout, dtype=float)
    p, size = cache["p"], cache["size"]
    n, c, h, w = x.shape
    mask = cache["mask"] if cache["mode"] == "train" else np.ones_like(x)
    scale = 1.0 if cache["mode"] == "train" else 1 - p
    spread = np.repeat(np.repeat(dout, size, axis=2), size, axis=3) / (size * size)
    return spread * mask * scale


MAXPOOL_BACKWARD_MISTAKES = [
    Mistake("the gradient goes to the maximum of x in each window instead of the maximum of x * mask (the unit "
            "that won the forward pass)", maxpool_backward_ignores_mask),
    Mistake("the gradient is not multiplied by the mask: when a dropped unit's 0 wins a window (all kept units "
            "negative, or all units dropped), that unit must get no gradient", maxpool_backward_mask_not_applied),
    Mistake("in eval mode the gradient is not multiplied by (1 - p)", maxpool_backward_eval_unscaled),
    Mistake("the gradient is spread evenly over the window (average-pooling backward): max pooling sends it to "
            "the winner only", maxpool_backward_average),
]


@check("maxpool_dropout_backward", mistakes=MAXPOOL_BACKWARD_MISTAKES, by_hand=True)
def check_maxpool_dropout_backward(maxpool_dropout_backward, rng):
    """dx by autograd through F.max_pool2d(x * mask, size) (train) and (1 - p) F.max_pool2d(x, size) (eval)."""
    for mode in ("train", "eval"):
        for k, (x, p, size) in enumerate(_maxpool_cases(rng)):
            mask = _mask(rng, x.shape, p) if mode == "train" else None
            n, c, h, w = x.shape
            dout = rng.normal(size=(n, c, h // size, w // size))
            cache = {"x": x, "mask": mask, "p": p, "mode": mode, "size": size}
            inputs = describe_inputs(dout=dout, x=x, p=p, mode=mode, size=size)
            if mode == "train" and k == 0:
                _expect_repeatable(maxpool_dropout_backward, "maxpool_dropout_backward", dout, cache, inputs)
            got = maxpool_dropout_backward(dout, cache)
            expect_close(f"maxpool_dropout_backward(dout, cache) in {mode} mode", got,
                         _maxpool_reference(x, p, mode, mask, size, dout), inputs=inputs, **EXACT)


# ================================================================================================================
# Cutout (lecture 000; DeVries & Taylor 2017): a size x size square, centred at a given pixel, zeroed
# ================================================================================================================

def _cutout_reference(x, size, centers) -> torch.Tensor:
    """x with rows [r - size//2, r - size//2 + size) and columns likewise set to 0 (inside the image), per image."""
    xt = _t(x)
    n, _, h, w = xt.shape
    centers = torch.as_tensor(np.asarray(centers), dtype=torch.int64)
    top = (centers[:, 0] - size // 2).view(n, 1, 1)
    left = (centers[:, 1] - size // 2).view(n, 1, 1)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return xt * (~inside).unsqueeze(1).to(torch.float64)


def cutout_unclipped(x, size, rng=None, centers=None):
    x = np.array(x, dtype=float)
    n, _, h, w = x.shape
    if centers is None:
        centers = np.stack([rng.integers(0, h, n), rng.integers(0, w, n)], axis=1)
    for i in range(n):
        top, left = int(centers[i][0]) - size // 2, int(centers[i][1]) - size // 2
        x[i, :, top:top + size, left:left + size] = 0
    return x


def cutout_rows_columns_swapped(x, size, rng=None, centers=None):
    x = np.array(x, dtype=float)
    n, _, h, w = x.shape
    if centers is None:
        centers = np.stack([rng.integers(0, h, n), rng.integers(0, w, n)], axis=1)
    for i in range(n):
        col, row = int(centers[i][0]), int(centers[i][1])
        top, left = max(row - size // 2, 0), max(col - size // 2, 0)
        x[i, :, top:max(row - size // 2 + size, 0), left:max(col - size // 2 + size, 0)] = 0
    return x


def cutout_corner_at_center(x, size, rng=None, centers=None):
    x = np.array(x, dtype=float)
    n, _, h, w = x.shape
    if centers is None:
        centers = np.stack([rng.integers(0, h, n), rng.integers(0, w, n)], axis=1)
    for i in range(n):
        row, col = int(centers[i][0]), int(centers[i][1])
        x[i, :, row:row + size, col:col + size] = 0
    return x


def cutout_same_patch(x, size, rng=None, centers=None):
    x = np.array(x, dtype=float)
    n, _, h, w = x.shape
    if centers is None:
        centers = np.stack([rng.integers(0, h, n), rng.integers(0, w, n)], axis=1)
    row, col = int(centers[0][0]), int(centers[0][1])
    top, left = max(row - size // 2, 0), max(col - size // 2, 0)
    x[:, :, top:max(row - size // 2 + size, 0), left:max(col - size // 2 + size, 0)] = 0
    return x


CUTOUT_MISTAKES = [
    Mistake("the square is not clipped at the image border: a negative start index counts from the end in numpy "
            "slicing (x[-1:3] is empty), so patches near the top or left edge vanish", cutout_unclipped),
    Mistake("rows and columns are swapped: centers[i] is (row, column), i.e. (y, x)", cutout_rows_columns_swapped),
    Mistake("the square starts at the centre (its top-left corner is the centre) instead of being centred on it",
            cutout_corner_at_center),
    Mistake("the same square is cut out of every image: each image has its own centre", cutout_same_patch),
]


@check("cutout", mistakes=CUTOUT_MISTAKES, by_hand=True)
def check_cutout(cutout, rng):
    """Given centres: exactly x with the (clipped) square zeroed in every channel, per image; odd and even sizes,
    non-square images, centres at the borders and corners, a square larger than the image, size 0."""
    cases = []
    for shape, size in [((3, 2, 8, 8), 4), ((2, 3, 7, 9), 3), ((4, 1, 6, 10), 2), ((2, 2, 5, 5), 1)]:
        n, _, h, w = shape
        centers = np.stack([rng.integers(size, h - size + 1, n), rng.integers(size, w - size + 1, n)], axis=1)
        cases.append((rng.normal(size=shape), size, centers))
    x = rng.normal(size=(4, 3, 8, 12))
    cases.append((x, 4, np.array([[0, 0], [7, 11], [0, 11], [3, 1]])))     # corners and an edge: clipped
    cases.append((rng.normal(size=(2, 1, 6, 6)), 10, np.array([[3, 3], [0, 5]])))  # larger than the image
    cases.append((rng.normal(size=(2, 2, 4, 4)), 0, np.array([[1, 1], [2, 3]])))  # nothing cut
    for x, size, centers in cases:
        inputs = describe_inputs(x=x, size=size, centers=centers)
        got = cutout(x, size, rng=np.random.default_rng(_seed(rng)), centers=centers)
        expect_close("cutout(x, size, centers=centers)", got, _cutout_reference(x, size, centers), inputs=inputs,
                     **EXACT)


CHECKS = [
    check_dropout_classic_train, check_dropout_classic_eval, check_dropout_classic_backward,
    check_dropout_train, check_dropout_eval, check_dropout_backward, check_dropout_mask,
    check_gaussian_dropout,
    check_dropconnect_forward, check_dropconnect_dx, check_dropconnect_dparams,
    check_spatial_dropout, check_spatial_dropout_mask,
    check_maxpool_dropout_forward, check_maxpool_dropout_backward,
    check_cutout,
]
