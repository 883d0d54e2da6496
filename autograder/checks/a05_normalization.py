"""Checks of 05_normalization: batch normalization (training forward, running statistics, inference, backward through
the graph and by the simplified formula, folding into a linear layer, the identity solution, the zero gradient of a
bias before BN), its 4-D form, LayerNorm / InstanceNorm / GroupNorm forward and backward, weight standardization.

Conventions (those of PyTorch, stated in the notebook): `momentum` weights the new batch value,
new = (1 - momentum) * old + momentum * batch, so lecture 004's alpha is 1 - momentum; the batch is normalized with
the biased variance (1/m), the running variance stores the unbiased one (m/(m-1), lecture 000). The BN cache is the
dict {"x", "x_hat", "mu", "var", "gamma", "eps"} (mu, var: batch mean and biased variance per feature or channel);
the backward checks build it themselves, so a backward is graded independently of the student's forward.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.framework import Mistake, cached_reference, check, describe_inputs, expect_close, expect_true

CACHE_KEYS = ("x", "x_hat", "mu", "var", "gamma", "eps")


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.array(a, dtype=np.float64))


def _expect_items(got, n: int, what: str, inputs: str):
    """got must be a tuple (or list) of n items: what a function with n return values gives back."""
    if isinstance(got, (tuple, list)):
        kind = f"{len(got)} items"
    else:
        kind = "None (did you forget to return?)" if got is None else f"a {type(got).__name__}"
    expect_true(isinstance(got, (tuple, list)) and len(got) == n,
                f"{what} must return a tuple of {n} items, got {kind} for {inputs}")


def _scaled_features(rng, shape, axis=1):
    """Normal data whose features (along axis) have very different scales (0.01 .. 10) and offsets (-20 .. 20)."""
    size = shape[axis]
    view = [1] * len(shape)
    view[axis] = size
    scale = np.exp(rng.uniform(math.log(0.01), math.log(10.0), size=size)).reshape(view)
    shift = rng.uniform(-20, 20, size=size).reshape(view)
    return rng.normal(size=shape) * scale + shift


# --- references ------------------------------------------------------------------------------------------------

@cached_reference
def reference_batchnorm(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    """F.batch_norm on 2-D or 4-D input: (out, new_running_mean, new_running_var); the running buffers are copies."""
    rm, rv = _t(running_mean).clone(), _t(running_var).clone()
    out = F.batch_norm(_t(x), rm, rv, _t(gamma), _t(beta), training=training, momentum=momentum, eps=eps)
    return out, rm, rv


@cached_reference
def reference_batchnorm_grads(x, gamma, beta, eps, dout):
    """(dx, dgamma, dbeta) of sum(BN_train(x) * dout) by autograd (2-D or 4-D x)."""
    xt, gt, bt = (_t(a).requires_grad_() for a in (x, gamma, beta))
    out = F.batch_norm(xt, None, None, gt, bt, training=True, eps=eps)
    return torch.autograd.grad(out, (xt, gt, bt), _t(dout))


def bn_cache(x, gamma, eps):
    """The cache batchnorm_forward (2-D) / spatial_batchnorm_forward (4-D) return in training mode."""
    x = np.array(x, dtype=np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    mu, var = x.mean(axis=axes), x.var(axis=axes)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    x_hat = (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": np.array(gamma, dtype=np.float64),
            "eps": float(eps)}


@cached_reference
def reference_layer_norm(x, gamma, beta, eps):
    return F.layer_norm(_t(x), tuple(np.shape(x)[1:]), _t(gamma), _t(beta), eps=eps)


@cached_reference
def reference_instance_norm(x, gamma, beta, eps):
    return F.instance_norm(_t(x), weight=_t(gamma), bias=_t(beta), use_input_stats=True, eps=eps)


@cached_reference
def reference_group_norm(x, gamma, beta, G, eps):
    return F.group_norm(_t(x), G, _t(gamma), _t(beta), eps=eps)


@cached_reference
def reference_grads(forward, x, gamma, beta, dout, *args):
    """(dx, dgamma, dbeta) of sum(forward(x, gamma, beta, *args) * dout) by autograd."""
    xt, gt, bt = (_t(a).requires_grad_() for a in (x, gamma, beta))
    out = forward(xt, gt, bt, *args)
    return torch.autograd.grad(out, (xt, gt, bt), _t(dout))


@cached_reference
def reference_weight_standardize(w, eps):
    """lecture 004: w_hat^k = (w^k - mu_w^k) / sqrt(sigma_w^2k + eps), statistics over everything but the output axis."""
    wt = _t(w)
    dims = tuple(range(1, wt.dim()))
    mu = wt.mean(dim=dims, keepdim=True)
    var = wt.var(dim=dims, unbiased=False, keepdim=True)
    return (wt - mu) / torch.sqrt(var + eps)


# --- the course's batchnorm_forward and backward, standing in for the student's in the checks of later exercises ---

def standing_in_batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    """batchnorm_forward as the notebook specifies it (2-D x): (out, cache, new_running_mean, new_running_var),
    cache as bn_cache in training mode and None in eval mode."""
    out, new_mean, new_var = reference_batchnorm(np.asarray(x, dtype=np.float64), gamma, beta, running_mean,
                                                 running_var, momentum, eps, training)
    cache = bn_cache(x, gamma, eps) if training else None
    return out.numpy(), cache, new_mean.numpy(), new_var.numpy()


def standing_in_batchnorm_backward(dout, cache):
    """batchnorm_backward / batchnorm_backward_alt as the notebook specifies them: (dx, dgamma, dbeta) from the
    training-mode cache of batchnorm_forward."""
    x, gamma, eps = np.asarray(cache["x"], dtype=np.float64), np.asarray(cache["gamma"], dtype=np.float64), cache["eps"]
    grads = reference_batchnorm_grads(x, gamma, np.zeros_like(gamma), float(eps), np.asarray(dout, dtype=np.float64))
    return tuple(g.numpy() for g in grads)


# a check of a function built on batchnorm_forward / backward grades that function, not the student's BN again
BATCHNORM_STAND_INS = {"batchnorm_forward": standing_in_batchnorm_forward,
                       "batchnorm_backward": standing_in_batchnorm_backward,
                       "batchnorm_backward_alt": standing_in_batchnorm_backward}


# --- batchnorm_forward: training mode ---------------------------------------------------------------------------

def bn_unbiased_in_normalization(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    mu = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var)


def bn_eps_outside_sqrt(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    m = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mu) / (np.sqrt(var) + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / (m - 1))


def bn_per_sample_statistics(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var)


def bn_no_scale_shift(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        return (x - running_mean) / np.sqrt(running_var + eps), None, running_mean.copy(), running_var.copy()
    m = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (x_hat, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / (m - 1))


def bn_running_stats_in_training(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    m = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - running_mean) / np.sqrt(running_var + eps)
    if not training:
        return gamma * x_hat + beta, None, running_mean.copy(), running_var.copy()
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / (m - 1))


BATCHNORM_TRAIN_MISTAKES = [
    Mistake("the batch is normalized with the unbiased variance (divided by m - 1); Algorithm 1 normalizes with the "
            "biased one, 1/m sum (x_i - mu_B)^2 (only the running variance is unbiased)",
            bn_unbiased_in_normalization),
    Mistake("eps is added outside the square root: x_hat = (x - mu) / (sqrt(var) + eps) instead of "
            "(x - mu) / sqrt(var + eps)", bn_eps_outside_sqrt),
    Mistake("the statistics are taken over the features of each example (axis 1, that is LayerNorm); batch norm "
            "averages over the batch, axis 0, one mean and variance per feature", bn_per_sample_statistics),
    Mistake("gamma and beta are not applied: the output is x_hat instead of gamma * x_hat + beta", bn_no_scale_shift),
    Mistake("training mode normalizes with the running statistics; in training the batch's own mean and variance "
            "are used (the running ones are only updated)", bn_running_stats_in_training),
]


def _bn_cases(rng):
    """(x, gamma, beta, running_mean, running_var, momentum, eps) for 2-D batch norm: shapes, scales, offsets, eps."""
    for (n, d), momentum, eps in [((4, 3), 0.1, 1e-5), ((2, 5), 0.1, 1e-5), ((16, 7), 0.3, 0.1),
                                  ((64, 10), 0.01, 1e-3), ((8, 1), 0.5, 1e-5), ((5, 4), 1.0, 0.5)]:
        x = _scaled_features(rng, (n, d))
        yield (x, rng.normal(size=d), rng.normal(size=d), rng.normal(size=d), rng.uniform(0.5, 2.0, size=d),
               momentum, eps)


@check("batchnorm_train", functions=("batchnorm_forward",), mistakes=BATCHNORM_TRAIN_MISTAKES, by_hand=True)
def check_batchnorm_train(batchnorm_forward, rng):
    """Training mode: out and the cache (x_hat, mu, var) match F.batch_norm(training=True) and Algorithm 1."""
    for x, gamma, beta, rm, rv, momentum, eps in _bn_cases(rng):
        got = batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, True)
        inputs = describe_inputs(x=x, momentum=momentum, eps=eps, training=True)
        _expect_items(got, 4, "batchnorm_forward", inputs)
        expected, _, _ = reference_batchnorm(x, gamma, beta, rm, rv, momentum, eps, True)
        expect_close("out (training mode)", got[0], expected, inputs=inputs)
        cache = got[1]
        expect_true(isinstance(cache, dict) and all(key in cache for key in CACHE_KEYS),
                    f"in training mode the cache must be a dict with the keys {', '.join(CACHE_KEYS)} for {inputs}")
        reference = bn_cache(x, gamma, eps)
        for key in ("mu", "var", "x_hat"):
            expect_close(f"cache['{key}']", cache[key], reference[key], inputs=inputs)


# --- batchnorm_forward: running statistics ----------------------------------------------------------------------

def bn_alpha_momentum_confused(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    m = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, momentum * running_mean + (1 - momentum) * mu,
            momentum * running_var + (1 - momentum) * var * m / (m - 1))


def bn_running_var_biased(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var)


def bn_running_replaced_by_batch(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    m = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return gamma * x_hat + beta, cache, mu.copy(), var * m / (m - 1)


def bn_running_var_with_std(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    m = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * np.sqrt(var * m / (m - 1)))


def bn_running_not_updated(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return gamma * x_hat + beta, cache, running_mean.copy(), running_var.copy()


BATCHNORM_RUNNING_MISTAKES = [
    Mistake("alpha and momentum are confused: momentum weights the NEW batch value, new = (1 - momentum) * old + "
            "momentum * batch (lecture 004's alpha weights the old value: alpha = 1 - momentum)",
            bn_alpha_momentum_confused),
    Mistake("the running variance is averaged with the biased batch variance; PyTorch (and lecture 000's "
            "Var[x] = m/(m-1) E[sigma_B^2]) store the unbiased one, var * m / (m - 1)", bn_running_var_biased),
    Mistake("the running statistics are replaced by the batch statistics instead of being averaged with the old "
            "values", bn_running_replaced_by_batch),
    Mistake("the running variance is averaged with the batch standard deviation instead of the variance",
            bn_running_var_with_std),
    Mistake("the running statistics are not updated in training mode (returned unchanged)", bn_running_not_updated),
]


@check("batchnorm_running", functions=("batchnorm_forward",), mistakes=BATCHNORM_RUNNING_MISTAKES, by_hand=True)
def check_batchnorm_running(batchnorm_forward, rng):
    """Training mode: new_running_mean / new_running_var match the buffers F.batch_norm updates, one step at a time
    and over a sequence of batches started from lecture 004's initialization (0 and 1)."""
    for x, gamma, beta, rm, rv, momentum, eps in _bn_cases(rng):
        got = batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, True)
        inputs = describe_inputs(x=x, running_mean=rm, momentum=momentum, eps=eps, training=True)
        _expect_items(got, 4, "batchnorm_forward", inputs)
        _, expected_mean, expected_var = reference_batchnorm(x, gamma, beta, rm, rv, momentum, eps, True)
        expect_close("new_running_mean", got[2], expected_mean, inputs=inputs)
        expect_close("new_running_var", got[3], expected_var, inputs=inputs)
    d = 6
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    rm, rv = np.zeros(d), np.ones(d)
    for step in range(1, 6):
        x = 3.0 + 2.0 * rng.normal(size=(10, d))
        got = batchnorm_forward(x, gamma, beta, rm, rv, 0.1, 1e-5, True)
        inputs = describe_inputs(x=x, momentum=0.1, eps=1e-5, training=True) + f", training step {step}"
        _expect_items(got, 4, "batchnorm_forward", inputs)
        _, expected_mean, expected_var = reference_batchnorm(x, gamma, beta, rm, rv, 0.1, 1e-5, True)
        expect_close("new_running_mean", got[2], expected_mean, inputs=inputs)
        expect_close("new_running_var", got[3], expected_var, inputs=inputs)
        rm, rv = np.array(got[2], dtype=np.float64), np.array(got[3], dtype=np.float64)


# --- batchnorm_forward: inference (eval) mode -------------------------------------------------------------------

def bn_eval_uses_batch_statistics(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    m = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / max(m - 1, 1))


def bn_eval_updates_running(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    m = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    new_mean = (1 - momentum) * running_mean + momentum * mu
    new_var = (1 - momentum) * running_var + momentum * var * m / max(m - 1, 1)
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, None, new_mean, new_var
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return gamma * x_hat + beta, cache, new_mean, new_var


def bn_eval_eps_outside_sqrt(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        out = gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    m = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / (m - 1))


def bn_eval_corrects_again(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    m = x.shape[0]
    if not training:
        var = running_var * m / (m - 1)
        out = gamma * (x - running_mean) / np.sqrt(var + eps) + beta
        return out, None, running_mean.copy(), running_var.copy()
    mu, var = x.mean(axis=0), x.var(axis=0)
    x_hat = (x - mu) / np.sqrt(var + eps)
    cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (gamma * x_hat + beta, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / (m - 1))


BATCHNORM_EVAL_MISTAKES = [
    Mistake("eval mode (training=False) still normalizes with the batch statistics; at inference the running "
            "statistics are used, whatever the batch is", bn_eval_uses_batch_statistics),
    Mistake("the running statistics are updated in eval mode; at inference they must be returned unchanged",
            bn_eval_updates_running),
    Mistake("eps is added outside the square root in eval mode: use sqrt(running_var + eps)", bn_eval_eps_outside_sqrt),
    Mistake("the running variance is multiplied by m/(m-1) again at inference; it already is the unbiased estimate",
            bn_eval_corrects_again),
]


@check("batchnorm_eval", functions=("batchnorm_forward",), mistakes=BATCHNORM_EVAL_MISTAKES, by_hand=True)
def check_batchnorm_eval(batchnorm_forward, rng):
    """Eval mode: out matches F.batch_norm(training=False) and the running statistics come back unchanged; also for a
    single example (lecture 001: no minibatch at test time)."""
    cases = list(_bn_cases(rng))
    d = 4
    cases.append((_scaled_features(rng, (1, d)), rng.normal(size=d), rng.normal(size=d), rng.normal(size=d),
                  rng.uniform(0.5, 2.0, size=d), 0.1, 1e-5))
    for x, gamma, beta, rm, rv, momentum, eps in cases:
        rm = rm + x.mean(axis=0)  # running statistics in the data's range, not far off like random ones
        got = batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, False)
        inputs = describe_inputs(x=x, momentum=momentum, eps=eps, training=False)
        _expect_items(got, 4, "batchnorm_forward", inputs)
        expected, _, _ = reference_batchnorm(x, gamma, beta, rm, rv, momentum, eps, False)
        expect_close("out (eval mode)", got[0], expected, inputs=inputs)
        expect_close("new_running_mean (eval mode returns it unchanged)", got[2], rm, inputs=inputs, atol=0, rtol=0)
        expect_close("new_running_var (eval mode returns it unchanged)", got[3], rv, inputs=inputs, atol=0, rtol=0)


# --- batchnorm_backward: through the computation graph -----------------------------------------------------------

def _bn_backward_cases(rng):
    """(x, gamma, beta, eps, dout) for the 2-D backward."""
    for (n, d), eps in [((4, 3), 1e-5), ((2, 5), 1e-5), ((16, 7), 0.1), ((50, 10), 1e-3), ((3, 1), 1e-5)]:
        yield _scaled_features(rng, (n, d)), rng.normal(size=d), rng.normal(size=d), eps, rng.normal(size=(n, d))


def bnb_no_mean_var_paths(dout, cache):
    std = np.sqrt(cache["var"] + cache["eps"])
    return dout * cache["gamma"] / std, (dout * cache["x_hat"]).sum(axis=0), dout.sum(axis=0)


def bnb_no_variance_path(dout, cache):
    std = np.sqrt(cache["var"] + cache["eps"])
    dx = cache["gamma"] / std * (dout - dout.mean(axis=0))
    return dx, (dout * cache["x_hat"]).sum(axis=0), dout.sum(axis=0)


def bnb_no_mean_path(dout, cache):
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = cache["gamma"] / std * (dout - x_hat * (dout * x_hat).mean(axis=0))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def bnb_unbiased_variance_derivative(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = cache["gamma"] / std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).sum(axis=0) / (m - 1))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def bnb_gamma_forgotten(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0)) / (m * std)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


BACKWARD_DX_MISTAKES = [
    Mistake("the backward misses the paths through the mean and the variance: dx = dout * gamma / sqrt(var + eps) "
            "treats mu_B and sigma_B^2 as constants, but both depend on every x_i", bnb_no_mean_var_paths),
    Mistake("the path through the variance is missing (only the mean's path is there)", bnb_no_variance_path),
    Mistake("the path through the mean is missing (only the variance's path is there)", bnb_no_mean_path),
    Mistake("the variance's local gradient uses 2 (x_i - mu) / (m - 1), the unbiased variance; the forward uses 1/m",
            bnb_unbiased_variance_derivative),
    Mistake("gamma is missing from dx: the gradient reaching x_hat is dout * gamma, not dout", bnb_gamma_forgotten),
]


def _check_bn_backward(backward, rng, parts):
    for x, gamma, beta, eps, dout in _bn_backward_cases(rng):
        cache = bn_cache(x, gamma, eps)
        got = backward(dout, cache)
        inputs = describe_inputs(dout=dout, eps=eps)
        _expect_items(got, 3, backward.name, inputs)
        expected = reference_batchnorm_grads(x, gamma, beta, eps, dout)
        for i, name in enumerate(("dx", "dgamma", "dbeta")):
            if name in parts:
                expect_close(name, got[i], expected[i], inputs=inputs)


@check("batchnorm_backward_dx", functions=("batchnorm_backward",), mistakes=BACKWARD_DX_MISTAKES, by_hand=True)
def check_batchnorm_backward_dx(batchnorm_backward, rng):
    """dx of batchnorm_backward(dout, cache) matches autograd through F.batch_norm(training=True)."""
    _check_bn_backward(batchnorm_backward, rng, ("dx",))


def bnb_dgamma_without_xhat(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = cache["gamma"] / (m * std) * (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
    return dx, dout.sum(axis=0), dout.sum(axis=0)


def bnb_dgamma_with_x(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = cache["gamma"] / (m * std) * (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
    return dx, (dout * cache["x"]).sum(axis=0), dout.sum(axis=0)


def bnb_dparams_averaged(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = cache["gamma"] / (m * std) * (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
    return dx, (dout * x_hat).mean(axis=0), dout.mean(axis=0)


def bnb_dparams_wrong_axis(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dx = cache["gamma"] / (m * std) * (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
    return dx, (dout * x_hat).sum(axis=1), dout.sum(axis=1)


BACKWARD_DPARAMS_MISTAKES = [
    Mistake("dgamma is sum(dout); it is sum(dout * x_hat) over the batch", bnb_dgamma_without_xhat),
    Mistake("dgamma uses x instead of x_hat: y = gamma * x_hat + beta", bnb_dgamma_with_x),
    Mistake("dgamma and dbeta are averaged over the batch; every example contributes, so they are summed",
            bnb_dparams_averaged),
    Mistake("dgamma and dbeta are summed over the features (axis 1); sum over the batch (axis 0), one value per "
            "feature", bnb_dparams_wrong_axis),
]


@check("batchnorm_backward_dparams", functions=("batchnorm_backward",), mistakes=BACKWARD_DPARAMS_MISTAKES,
       by_hand=True)
def check_batchnorm_backward_dparams(batchnorm_backward, rng):
    """dgamma and dbeta of batchnorm_backward(dout, cache) match autograd."""
    _check_bn_backward(batchnorm_backward, rng, ("dgamma", "dbeta"))


# --- batchnorm_backward_alt: the simplified formula --------------------------------------------------------------

def alt_missing_one_over_m(dout, cache):
    m = dout.shape[0]
    inv_std = 1 / np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
    return cache["gamma"] * inv_std * (m * dout - dbeta - x_hat * dgamma), dgamma, dbeta


def alt_std_instead_of_inverse(dout, cache):
    m = dout.shape[0]
    std = np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
    return cache["gamma"] * std / m * (m * dout - dbeta - x_hat * dgamma), dgamma, dbeta


def alt_no_mean_var_paths(dout, cache):
    x_hat = cache["x_hat"]
    dx = cache["gamma"] * dout / np.sqrt(cache["var"] + cache["eps"])
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def alt_centered_x_in_last_term(dout, cache):
    m = dout.shape[0]
    inv_std = 1 / np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
    dx = cache["gamma"] * inv_std / m * (m * dout - dbeta - (cache["x"] - cache["mu"]) * dgamma)
    return dx, dgamma, dbeta


def alt_dgamma_without_xhat(dout, cache):
    m = dout.shape[0]
    inv_std = 1 / np.sqrt(cache["var"] + cache["eps"])
    x_hat = cache["x_hat"]
    dbeta = dout.sum(axis=0)
    dx = cache["gamma"] * inv_std / m * (m * dout - dbeta - x_hat * (dout * x_hat).sum(axis=0))
    return dx, dbeta, dbeta


BACKWARD_ALT_MISTAKES = [
    Mistake("the factor 1/m in front of the bracket is missing: dx = gamma / (m sqrt(var + eps)) * (m dout - "
            "sum dout - x_hat sum(dout x_hat))", alt_missing_one_over_m),
    Mistake("the bracket is multiplied by sqrt(var + eps) instead of divided by it", alt_std_instead_of_inverse),
    Mistake("the formula misses the terms from the mean and the variance: dx = gamma * dout / sqrt(var + eps)",
            alt_no_mean_var_paths),
    Mistake("the last term uses x - mu instead of x_hat = (x - mu) / sqrt(var + eps)", alt_centered_x_in_last_term),
    Mistake("dgamma is sum(dout); it is sum(dout * x_hat) over the batch", alt_dgamma_without_xhat),
]


@check("batchnorm_backward_alt", functions=("batchnorm_backward_alt",), mistakes=BACKWARD_ALT_MISTAKES, by_hand=True)
def check_batchnorm_backward_alt(batchnorm_backward_alt, rng):
    """dx, dgamma, dbeta of the simplified formula match autograd."""
    _check_bn_backward(batchnorm_backward_alt, rng, ("dx", "dgamma", "dbeta"))


# --- folding BN into the preceding linear layer ------------------------------------------------------------------

@cached_reference
def reference_folded_module(w, b, gamma, beta, running_mean, running_var, eps):
    """Linear -> BatchNorm1d in eval mode, in float64, with the given weights and buffers."""
    d_out, d_in = np.shape(w)
    module = torch.nn.Sequential(torch.nn.Linear(d_in, d_out), torch.nn.BatchNorm1d(d_out, eps=eps)).double()
    with torch.no_grad():
        module[0].weight.copy_(_t(w))
        module[0].bias.copy_(_t(b))
        module[1].weight.copy_(_t(gamma))
        module[1].bias.copy_(_t(beta))
        module[1].running_mean.copy_(_t(running_mean))
        module[1].running_var.copy_(_t(running_var))
    return module.eval()


def fold_eps_outside_sqrt(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / (np.sqrt(running_var) + eps)
    return w * scale[:, None], scale * (b - running_mean) + beta


def fold_linear_bias_dropped(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / np.sqrt(running_var + eps)
    return w * scale[:, None], beta - scale * running_mean


def fold_linear_bias_not_scaled(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / np.sqrt(running_var + eps)
    return w * scale[:, None], b + beta - scale * running_mean


def fold_scales_columns(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / np.sqrt(running_var + eps)
    return w * scale, scale * (b - running_mean) + beta


def fold_no_square_root(w, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / (running_var + eps)
    return w * scale[:, None], scale * (b - running_mean) + beta


FOLD_MISTAKES = [
    Mistake("eps is added outside the square root: the factor is gamma / sqrt(Var[x] + eps)", fold_eps_outside_sqrt),
    Mistake("the linear layer's own bias b is dropped: BN sees a w^T + b, so the folded bias is "
            "gamma (b - E[x]) / sqrt(Var[x] + eps) + beta", fold_linear_bias_dropped),
    Mistake("the linear layer's bias b is not multiplied by gamma / sqrt(Var[x] + eps)", fold_linear_bias_not_scaled),
    Mistake("w is scaled along its columns (inputs); each output unit has its own factor, so scale that unit's row of "
            "w (w * scale[:, None])", fold_scales_columns),
    Mistake("the variance is used where the standard deviation belongs: divide by sqrt(Var[x] + eps)",
            fold_no_square_root),
]


@check("batchnorm_fold", mistakes=FOLD_MISTAKES, by_hand=True)
def check_batchnorm_fold(batchnorm_fold, rng):
    """The folded (w', b') give the same output as Linear -> BatchNorm1d in eval mode, on fresh inputs."""
    for (d_out, d_in), eps in [((4, 4), 1e-5), ((3, 6), 0.1), ((8, 2), 1e-3), ((1, 5), 1e-5)]:
        w, b = rng.normal(size=(d_out, d_in)), rng.normal(size=d_out)
        gamma, beta = rng.normal(size=d_out), rng.normal(size=d_out)
        running_mean = rng.normal(size=d_out)
        running_var = np.exp(rng.uniform(math.log(1e-3), math.log(10.0), size=d_out))
        got = batchnorm_fold(w, b, gamma, beta, running_mean, running_var, eps)
        inputs = describe_inputs(w=w, eps=eps)
        _expect_items(got, 2, "batchnorm_fold", inputs)
        w_folded, b_folded = got
        expect_true(np.shape(w_folded) == (d_out, d_in) and np.shape(b_folded) == (d_out,),
                    f"w' must have the shape of w {(d_out, d_in)} and b' the shape of b {(d_out,)}, got "
                    f"{np.shape(w_folded)} and {np.shape(b_folded)} for {inputs}")
        module = reference_folded_module(w, b, gamma, beta, running_mean, running_var, eps)
        x = rng.normal(size=(7, d_in))
        with torch.no_grad():
            expected = module(_t(x))
        expect_close("a @ w'.T + b' (compared with Linear -> BatchNorm1d in eval mode)",
                     x @ np.asarray(w_folded, dtype=np.float64).T + np.asarray(b_folded, dtype=np.float64),
                     expected, inputs=inputs)


# --- BN can learn the identity -----------------------------------------------------------------------------------

def identity_without_eps(x, eps=1e-5):
    return x.std(axis=0), x.mean(axis=0)


def identity_unbiased_std(x, eps=1e-5):
    return np.sqrt(x.var(axis=0, ddof=1) + eps), x.mean(axis=0)


def identity_without_square_root(x, eps=1e-5):
    return x.var(axis=0) + eps, x.mean(axis=0)


def identity_beta_zero(x, eps=1e-5):
    return np.sqrt(x.var(axis=0) + eps), np.zeros(x.shape[1])


IDENTITY_MISTAKES = [
    Mistake("gamma is the plain standard deviation; BN divides by sqrt(sigma_B^2 + eps), so gamma must be "
            "sqrt(sigma_B^2 + eps)", identity_without_eps),
    Mistake("gamma uses the unbiased variance; the batch is normalized with the biased one (1/m)",
            identity_unbiased_std),
    Mistake("gamma is sigma_B^2 + eps without the square root", identity_without_square_root),
    Mistake("beta is 0; to undo the centering beta must be the batch mean mu_B", identity_beta_zero),
]


@check("batchnorm_identity", functions=("batchnorm_identity_params",), mistakes=IDENTITY_MISTAKES, by_hand=True)
def check_batchnorm_identity(batchnorm_identity_params, rng):
    """With the returned gamma, beta, F.batch_norm(training=True) gives back x."""
    for (n, d), eps in [((6, 3), 1e-5), ((2, 4), 1e-5), ((20, 5), 0.1), ((9, 2), 0.5)]:
        x = _scaled_features(rng, (n, d))
        got = batchnorm_identity_params(x, eps)
        inputs = describe_inputs(x=x, eps=eps)
        _expect_items(got, 2, "batchnorm_identity_params", inputs)
        expect_true(np.shape(got[0]) == (d,) and np.shape(got[1]) == (d,),
                    f"gamma and beta must have shape {(d,)}, got {np.shape(got[0])} and {np.shape(got[1])} for {inputs}")
        out = F.batch_norm(_t(x), None, None, _t(got[0]), _t(got[1]), training=True, eps=eps)
        expect_close("BN_{gamma, beta}(x) with your gamma, beta (it should give back x)", out, x, inputs=inputs,
                     atol=1e-9, rtol=1e-7)


# --- a bias right before BN gets zero gradient -------------------------------------------------------------------

@cached_reference
def reference_linear_batchnorm_grads(dout, x, w, b, gamma, beta, eps):
    """(dw, db) of sum(BN_train(x w^T + b) * dout) by autograd."""
    wt, bt = _t(w).requires_grad_(), _t(b).requires_grad_()
    out = F.batch_norm(F.linear(_t(x), wt, bt), None, None, _t(gamma), _t(beta), training=True, eps=eps)
    return torch.autograd.grad(out, (wt, bt), _t(dout))


def lbn_bn_skipped(dout, x, w, b, gamma, beta, eps=1e-5):
    return dout.T @ x, dout.sum(axis=0)


def lbn_no_mean_var_paths(dout, x, w, b, gamma, beta, eps=1e-5):
    z = x @ w.T + b
    dz = dout * gamma / np.sqrt(z.var(axis=0) + eps)
    return dz.T @ x, dz.sum(axis=0)


def lbn_no_variance_path(dout, x, w, b, gamma, beta, eps=1e-5):
    z = x @ w.T + b
    dz = gamma / np.sqrt(z.var(axis=0) + eps) * (dout - dout.mean(axis=0))
    return dz.T @ x, dz.sum(axis=0)


def lbn_dW_transposed(dout, x, w, b, gamma, beta, eps=1e-5):
    z = x @ w.T + b
    m = z.shape[0]
    x_hat = (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + eps)
    dz = gamma / (m * np.sqrt(z.var(axis=0) + eps)) * (m * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
    return x.T @ dz, dz.sum(axis=0)


LINEAR_BN_MISTAKES = [
    Mistake("the BN layer is skipped: dout is used as the gradient of z = x w^T + b, so db = sum(dout)",
            lbn_bn_skipped),
    Mistake("the BN backward misses the paths through the mean and the variance, so db comes out non-zero",
            lbn_no_mean_var_paths),
    Mistake("the BN backward misses the path through the variance: db is 0, but dw is wrong", lbn_no_variance_path),
    Mistake("dw is x^T dz, the transpose; with w of shape (D_out, D_in) it is dz^T x", lbn_dW_transposed),
]


@check("linear_batchnorm_backward", mistakes=LINEAR_BN_MISTAKES, by_hand=True, stand_ins=BATCHNORM_STAND_INS)
def check_linear_batchnorm_backward(linear_batchnorm_backward, rng):
    """dw and db of Linear -> BN(training) match autograd; db is zero up to rounding."""
    for (n, d_in, d_out), eps in [((6, 4, 4), 1e-5), ((10, 3, 5), 0.1), ((2, 5, 2), 1e-5), ((32, 8, 6), 1e-3)]:
        x = _scaled_features(rng, (n, d_in))
        w, b = rng.normal(size=(d_out, d_in)), 5.0 * rng.normal(size=d_out)
        gamma, beta, dout = rng.normal(size=d_out), rng.normal(size=d_out), rng.normal(size=(n, d_out))
        got = linear_batchnorm_backward(dout, x, w, b, gamma, beta, eps)
        inputs = describe_inputs(dout=dout, x=x, w=w, eps=eps)
        _expect_items(got, 2, "linear_batchnorm_backward", inputs)
        dw, db = reference_linear_batchnorm_grads(dout, x, w, b, gamma, beta, eps)
        expect_close("dw", got[0], dw, inputs=inputs, atol=1e-7, rtol=1e-6)
        expect_close("db (the bias right before BN)", got[1], db, inputs=inputs, atol=1e-8, rtol=0)


# --- spatial batch norm for (N, C, H, W) -------------------------------------------------------------------------

def _spatial_cases(rng):
    """(x, gamma, beta, running_mean, running_var, momentum, eps) for (N, C, H, W) batch norm."""
    for shape, momentum, eps in [((2, 3, 4, 5), 0.1, 1e-5), ((4, 2, 3, 3), 0.3, 0.1), ((1, 3, 2, 2), 0.1, 1e-5),
                                 ((8, 4, 1, 1), 0.01, 1e-3), ((3, 5, 4, 4), 1.0, 1e-5)]:
        c = shape[1]
        yield (_scaled_features(rng, shape), rng.normal(size=c), rng.normal(size=c), rng.normal(size=c),
               rng.uniform(0.5, 2.0, size=c), momentum, eps)


def sbn_reshape_without_transpose(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    N, C, H, W = x.shape
    flat = x.reshape(-1, C)
    if training:
        m = flat.shape[0]
        mu, var = flat.mean(axis=0), flat.var(axis=0)
        x_hat = ((flat - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        new_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)
        cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    else:
        x_hat = ((flat - running_mean) / np.sqrt(running_var + eps)).reshape(N, C, H, W)
        new_mean, new_var, cache = running_mean.copy(), running_var.copy(), None
    out = (gamma * x_hat.reshape(-1, C) + beta).reshape(N, C, H, W)
    return out, cache, new_mean, new_var


def sbn_statistics_over_batch_only(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                   training=True):
    N, C, H, W = x.shape
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if training:
        mu, var = x.mean(axis=0), x.var(axis=0)
        x_hat = (x - mu) / np.sqrt(var + eps)
        new_mean = (1 - momentum) * running_mean + momentum * mu.mean(axis=(1, 2))
        new_var = (1 - momentum) * running_var + momentum * var.mean(axis=(1, 2)) * N / max(N - 1, 1)
        cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    else:
        x_hat = (x - running_mean.reshape(1, C, 1, 1)) / np.sqrt(running_var.reshape(1, C, 1, 1) + eps)
        new_mean, new_var, cache = running_mean.copy(), running_var.copy(), None
    return g * x_hat + b, cache, new_mean, new_var


def sbn_statistics_per_sample(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    N, C, H, W = x.shape
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if training:
        mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
        x_hat = (x - mu) / np.sqrt(var + eps)
        m = H * W
        new_mean = (1 - momentum) * running_mean + momentum * mu.mean(axis=(0, 2, 3))
        new_var = (1 - momentum) * running_var + momentum * var.mean(axis=(0, 2, 3)) * m / max(m - 1, 1)
        cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    else:
        x_hat = (x - running_mean.reshape(1, C, 1, 1)) / np.sqrt(running_var.reshape(1, C, 1, 1) + eps)
        new_mean, new_var, cache = running_mean.copy(), running_var.copy(), None
    return g * x_hat + b, cache, new_mean, new_var


def sbn_unbiased_with_batch_size(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    N, C, H, W = x.shape
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if training:
        mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        x_hat = (x - mu.reshape(1, C, 1, 1)) / np.sqrt(var.reshape(1, C, 1, 1) + eps)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        with np.errstate(all="ignore"):
            new_var = (1 - momentum) * running_var + momentum * var * np.float64(N) / np.float64(N - 1)
        cache = {"x": x, "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    else:
        x_hat = (x - running_mean.reshape(1, C, 1, 1)) / np.sqrt(running_var.reshape(1, C, 1, 1) + eps)
        new_mean, new_var, cache = running_mean.copy(), running_var.copy(), None
    return g * x_hat + b, cache, new_mean, new_var


SPATIAL_FORWARD_MISTAKES = [
    Mistake("x.reshape(-1, C) without moving the channel axis last first: the columns mix channels and pixels; "
            "use x.transpose(0, 2, 3, 1).reshape(-1, C)", sbn_reshape_without_transpose),
    Mistake("the statistics are taken over the batch axis only (one mean per channel AND pixel); spatial BN "
            "averages over N, H and W: one mean and variance per channel", sbn_statistics_over_batch_only),
    Mistake("the statistics are taken over H and W of each example (that is InstanceNorm); spatial BN also "
            "averages over the batch", sbn_statistics_per_sample),
    Mistake("the running variance is corrected with N/(N-1), the batch size; each channel's statistics come from "
            "m = N*H*W values, so the correction is m/(m-1)", sbn_unbiased_with_batch_size),
]


@check("spatial_batchnorm_forward", mistakes=SPATIAL_FORWARD_MISTAKES, by_hand=True, stand_ins=BATCHNORM_STAND_INS)
def check_spatial_batchnorm_forward(spatial_batchnorm_forward, rng):
    """(N, C, H, W): out and running statistics match F.batch_norm on 4-D input, in training and eval mode."""
    for x, gamma, beta, rm, rv, momentum, eps in _spatial_cases(rng):
        got = spatial_batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, True)
        inputs = describe_inputs(x=x, momentum=momentum, eps=eps, training=True)
        _expect_items(got, 4, "spatial_batchnorm_forward", inputs)
        expected, expected_mean, expected_var = reference_batchnorm(x, gamma, beta, rm, rv, momentum, eps, True)
        expect_close("out (training mode)", got[0], expected, inputs=inputs)
        expect_close("new_running_mean", got[2], expected_mean, inputs=inputs)
        expect_close("new_running_var", got[3], expected_var, inputs=inputs)
    for x, gamma, beta, rm, rv, momentum, eps in _spatial_cases(rng):
        rm = rm + x.mean(axis=(0, 2, 3))
        got = spatial_batchnorm_forward(x, gamma, beta, rm, rv, momentum, eps, False)
        inputs = describe_inputs(x=x, momentum=momentum, eps=eps, training=False)
        _expect_items(got, 4, "spatial_batchnorm_forward", inputs)
        expected, _, _ = reference_batchnorm(x, gamma, beta, rm, rv, momentum, eps, False)
        expect_close("out (eval mode)", got[0], expected, inputs=inputs)
        expect_close("new_running_mean (eval mode returns it unchanged)", got[2], rm, inputs=inputs, atol=0, rtol=0)
        expect_close("new_running_var (eval mode returns it unchanged)", got[3], rv, inputs=inputs, atol=0, rtol=0)


def sbnb_reshape_without_transpose(dout, cache):
    N, C, H, W = dout.shape
    m = N * H * W
    d, x_hat = dout.reshape(-1, C), cache["x_hat"].reshape(-1, C)
    inv_std = 1 / np.sqrt(cache["var"] + cache["eps"])
    dbeta, dgamma = d.sum(axis=0), (d * x_hat).sum(axis=0)
    dx = cache["gamma"] * inv_std / m * (m * d - dbeta - x_hat * dgamma)
    return dx.reshape(N, C, H, W), dgamma, dbeta


def sbnb_no_mean_var_paths(dout, cache):
    C = dout.shape[1]
    inv_std = (1 / np.sqrt(cache["var"] + cache["eps"])).reshape(1, C, 1, 1)
    dx = dout * cache["gamma"].reshape(1, C, 1, 1) * inv_std
    return dx, (dout * cache["x_hat"]).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def sbnb_statistics_over_batch_only(dout, cache):
    N, C, H, W = dout.shape
    g = cache["gamma"].reshape(1, C, 1, 1)
    inv_std = (1 / np.sqrt(cache["var"] + cache["eps"])).reshape(1, C, 1, 1)
    x_hat = cache["x_hat"]
    dx = g * inv_std / N * (N * dout - dout.sum(axis=0) - x_hat * (dout * x_hat).sum(axis=0))
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def sbnb_dparams_over_batch_only(dout, cache):
    N, C, H, W = dout.shape
    m = N * H * W
    g = cache["gamma"].reshape(1, C, 1, 1)
    inv_std = (1 / np.sqrt(cache["var"] + cache["eps"])).reshape(1, C, 1, 1)
    x_hat = cache["x_hat"]
    dx = g * inv_std / m * (m * dout - dout.sum(axis=(0, 2, 3), keepdims=True)
                            - x_hat * (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def sbnb_dgamma_without_xhat(dout, cache):
    N, C, H, W = dout.shape
    m = N * H * W
    g = cache["gamma"].reshape(1, C, 1, 1)
    inv_std = (1 / np.sqrt(cache["var"] + cache["eps"])).reshape(1, C, 1, 1)
    x_hat = cache["x_hat"]
    dx = g * inv_std / m * (m * dout - dout.sum(axis=(0, 2, 3), keepdims=True)
                            - x_hat * (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True))
    return dx, dout.sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def sbnb_dparams_averaged(dout, cache):
    N, C, H, W = dout.shape
    m = N * H * W
    g = cache["gamma"].reshape(1, C, 1, 1)
    inv_std = (1 / np.sqrt(cache["var"] + cache["eps"])).reshape(1, C, 1, 1)
    x_hat = cache["x_hat"]
    dx = g * inv_std / m * (m * dout - dout.sum(axis=(0, 2, 3), keepdims=True)
                            - x_hat * (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True))
    return dx, (dout * x_hat).mean(axis=(0, 2, 3)), dout.mean(axis=(0, 2, 3))


SPATIAL_BACKWARD_DX_MISTAKES = [
    Mistake("dout and x_hat are reshaped to (-1, C) without moving the channel axis last first",
            sbnb_reshape_without_transpose),
    Mistake("the backward misses the paths through the mean and the variance", sbnb_no_mean_var_paths),
    Mistake("the sums in dx run over the batch axis only (m = N); each channel's statistics come from all "
            "N*H*W values", sbnb_statistics_over_batch_only),
]

SPATIAL_BACKWARD_DPARAMS_MISTAKES = [
    Mistake("dgamma and dbeta are summed over the batch axis only; sum over N, H and W, one value per channel",
            sbnb_dparams_over_batch_only),
    Mistake("dgamma is the sum of dout; it is the sum of dout * x_hat over N, H, W", sbnb_dgamma_without_xhat),
    Mistake("dgamma and dbeta are averaged over N, H, W; every value contributes, so they are summed",
            sbnb_dparams_averaged),
]


def _check_spatial_backward(backward, rng, parts):
    for shape, eps in [((2, 3, 4, 5), 1e-5), ((4, 2, 3, 3), 0.1), ((1, 3, 2, 2), 1e-5), ((6, 4, 1, 1), 1e-3)]:
        c = shape[1]
        x, gamma, beta = _scaled_features(rng, shape), rng.normal(size=c), rng.normal(size=c)
        dout = rng.normal(size=shape)
        got = backward(dout, bn_cache(x, gamma, eps))
        inputs = describe_inputs(dout=dout, eps=eps)
        _expect_items(got, 3, "spatial_batchnorm_backward", inputs)
        expected = reference_batchnorm_grads(x, gamma, beta, eps, dout)
        for i, name in enumerate(("dx", "dgamma", "dbeta")):
            if name in parts:
                expect_close(name, got[i], expected[i], inputs=inputs)


@check("spatial_batchnorm_backward_dx", functions=("spatial_batchnorm_backward",),
       mistakes=SPATIAL_BACKWARD_DX_MISTAKES, by_hand=True, stand_ins=BATCHNORM_STAND_INS)
def check_spatial_batchnorm_backward_dx(spatial_batchnorm_backward, rng):
    """dx for (N, C, H, W) matches autograd through F.batch_norm on 4-D input."""
    _check_spatial_backward(spatial_batchnorm_backward, rng, ("dx",))


@check("spatial_batchnorm_backward_dparams", functions=("spatial_batchnorm_backward",),
       mistakes=SPATIAL_BACKWARD_DPARAMS_MISTAKES, by_hand=True, stand_ins=BATCHNORM_STAND_INS)
def check_spatial_batchnorm_backward_dparams(spatial_batchnorm_backward, rng):
    """dgamma, dbeta for (N, C, H, W) match autograd through F.batch_norm on 4-D input."""
    _check_spatial_backward(spatial_batchnorm_backward, rng, ("dgamma", "dbeta"))


# --- LayerNorm ---------------------------------------------------------------------------------------------------

def _layernorm_cases(rng):
    """(x, gamma, beta, eps): x (N, D) and (N, C, H, W); gamma, beta of shape x.shape[1:]."""
    for shape, eps in [((4, 5), 1e-5), ((1, 7), 1e-5), ((6, 3), 0.1), ((3, 2, 4, 5), 1e-5), ((2, 3, 2, 2), 0.5)]:
        x = _scaled_features(rng, shape, axis=0)  # examples on very different scales
        yield x, rng.normal(size=shape[1:]), rng.normal(size=shape[1:]), eps


def ln_batch_statistics(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=0), x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def ln_last_axis_only(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def ln_unbiased(x, gamma, beta, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=1)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def ln_eps_outside_sqrt(x, gamma, beta, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return gamma * (x - mu) / (np.sqrt(var) + eps) + beta


LAYERNORM_FORWARD_MISTAKES = [
    Mistake("the statistics are taken over the batch (axis 0, that is BatchNorm); LayerNorm normalizes each "
            "example over all its other axes", ln_batch_statistics),
    Mistake("the statistics are taken over the last axis only; for (N, C, H, W) input LayerNorm averages over C, H "
            "and W together (lecture 004: mu^n = 1/(CHW) sum_c sum_uv X^cn_uv)", ln_last_axis_only),
    Mistake("the unbiased variance (ddof=1) is used; LayerNorm normalizes with the biased one", ln_unbiased),
    Mistake("eps is added outside the square root", ln_eps_outside_sqrt),
]


@check("layernorm_forward", mistakes=LAYERNORM_FORWARD_MISTAKES, by_hand=True)
def check_layernorm_forward(layernorm_forward, rng):
    """layernorm_forward matches F.layer_norm(x, x.shape[1:], gamma, beta, eps) for 2-D and 4-D x."""
    for x, gamma, beta, eps in _layernorm_cases(rng):
        got = layernorm_forward(x, gamma, beta, eps)
        expect_close("out", got, reference_layer_norm(x, gamma, beta, eps), inputs=describe_inputs(x=x, eps=eps))


def lnb_no_mean_var_paths(dout, x, gamma, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return dout * gamma / np.sqrt(var + eps), (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def lnb_batch_axis_formula(dout, x, gamma, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    m = x.shape[0]
    g = dout * gamma
    dx = (m * g - g.sum(axis=0) - x_hat * (g * x_hat).sum(axis=0)) / (m * np.sqrt(var + eps))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def lnb_dparams_over_features(dout, x, gamma, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    d = x[0].size
    g = dout * gamma
    dx = (d * g - g.sum(axis=axes, keepdims=True) - x_hat * (g * x_hat).sum(axis=axes, keepdims=True)) / (
        d * np.sqrt(var + eps))
    return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)


def lnb_no_variance_path(dout, x, gamma, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    g = dout * gamma
    dx = (g - g.mean(axis=axes, keepdims=True)) / np.sqrt(var + eps)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def lnb_dgamma_without_xhat(dout, x, gamma, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    d = x[0].size
    g = dout * gamma
    dx = (d * g - g.sum(axis=axes, keepdims=True) - x_hat * (g * x_hat).sum(axis=axes, keepdims=True)) / (
        d * np.sqrt(var + eps))
    return dx, dout.sum(axis=0), dout.sum(axis=0)


def lnb_dparams_averaged(dout, x, gamma, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    d = x[0].size
    g = dout * gamma
    dx = (d * g - g.sum(axis=axes, keepdims=True) - x_hat * (g * x_hat).sum(axis=axes, keepdims=True)) / (
        d * np.sqrt(var + eps))
    return dx, (dout * x_hat).mean(axis=0), dout.mean(axis=0)


LAYERNORM_BACKWARD_DX_MISTAKES = [
    Mistake("dx misses the paths through the mean and the variance", lnb_no_mean_var_paths),
    Mistake("dx uses BatchNorm's formula with sums over the batch; in LayerNorm the mean and variance belong to "
            "one example, so the sums run over its features", lnb_batch_axis_formula),
    Mistake("dx misses the path through the variance", lnb_no_variance_path),
]

LAYERNORM_BACKWARD_DPARAMS_MISTAKES = [
    Mistake("dgamma and dbeta are summed over the features; gamma and beta are shared by all examples, so sum "
            "over the batch (axis 0)", lnb_dparams_over_features),
    Mistake("dgamma is the sum of dout; it is the sum of dout * x_hat over the batch", lnb_dgamma_without_xhat),
    Mistake("dgamma and dbeta are averaged over the batch; every example contributes, so they are summed",
            lnb_dparams_averaged),
]


def _check_norm_backward(backward, rng, cases, reference, parts, extra=()):
    for x, gamma, beta, eps, *more in cases:
        dout = rng.normal(size=x.shape)
        got = backward(dout, x, gamma, *more, eps)
        inputs = describe_inputs(dout=dout, x=x, eps=eps, **dict(zip(extra, more)))
        _expect_items(got, 3, backward.name, inputs)
        expected = reference_grads(reference, x, gamma, beta, dout, *more, eps)
        for i, name in enumerate(("dx", "dgamma", "dbeta")):
            if name in parts:
                expect_close(name, got[i], expected[i], inputs=inputs)


def _layer_norm_torch(x, g, b, eps):
    return F.layer_norm(x, tuple(x.shape[1:]), g, b, eps=eps)


@check("layernorm_backward_dx", functions=("layernorm_backward",), mistakes=LAYERNORM_BACKWARD_DX_MISTAKES,
       by_hand=True)
def check_layernorm_backward_dx(layernorm_backward, rng):
    """dx matches autograd through F.layer_norm, for 2-D and 4-D x."""
    _check_norm_backward(layernorm_backward, rng, _layernorm_cases(rng), _layer_norm_torch, ("dx",))


@check("layernorm_backward_dparams", functions=("layernorm_backward",),
       mistakes=LAYERNORM_BACKWARD_DPARAMS_MISTAKES, by_hand=True)
def check_layernorm_backward_dparams(layernorm_backward, rng):
    """dgamma, dbeta match autograd through F.layer_norm, for 2-D and 4-D x."""
    _check_norm_backward(layernorm_backward, rng, _layernorm_cases(rng), _layer_norm_torch, ("dgamma", "dbeta"))


# --- InstanceNorm ------------------------------------------------------------------------------------------------

def _instancenorm_cases(rng):
    for shape, eps in [((2, 3, 4, 5), 1e-5), ((1, 2, 3, 3), 1e-5), ((4, 3, 2, 2), 0.1), ((3, 1, 5, 2), 1e-3)]:
        x = _scaled_features(rng, shape, axis=1) + rng.normal(size=(shape[0], 1, 1, 1)) * 5.0
        yield x, rng.normal(size=shape[1]), rng.normal(size=shape[1]), eps


def in_batch_statistics(x, gamma, beta, eps=1e-5):
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps) + b


def in_layer_statistics(x, gamma, beta, eps=1e-5):
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(1, 2, 3), keepdims=True), x.var(axis=(1, 2, 3), keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps) + b


def in_unbiased(x, gamma, beta, eps=1e-5):
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True, ddof=1)
    return g * (x - mu) / np.sqrt(var + eps) + b


def in_eps_outside_sqrt(x, gamma, beta, eps=1e-5):
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    return g * (x - mu) / (np.sqrt(var) + eps) + b


INSTANCENORM_FORWARD_MISTAKES = [
    Mistake("the statistics are taken over N, H, W (that is spatial BatchNorm); InstanceNorm uses one feature map "
            "of one example: axes H, W", in_batch_statistics),
    Mistake("the statistics are taken over C, H, W (that is LayerNorm); InstanceNorm keeps the channels apart",
            in_layer_statistics),
    Mistake("the unbiased variance (ddof=1) is used; InstanceNorm normalizes with the biased one", in_unbiased),
    Mistake("eps is added outside the square root", in_eps_outside_sqrt),
]


@check("instancenorm_forward", mistakes=INSTANCENORM_FORWARD_MISTAKES, by_hand=True)
def check_instancenorm_forward(instancenorm_forward, rng):
    """instancenorm_forward matches F.instance_norm(x, weight=gamma, bias=beta, eps=eps) on (N, C, H, W)."""
    for x, gamma, beta, eps in _instancenorm_cases(rng):
        got = instancenorm_forward(x, gamma, beta, eps)
        expect_close("out", got, reference_instance_norm(x, gamma, beta, eps), inputs=describe_inputs(x=x, eps=eps))


def inb_no_mean_var_paths(dout, x, gamma, eps=1e-5):
    g = gamma.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return dout * g / np.sqrt(var + eps), (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def inb_batch_axes_formula(dout, x, gamma, eps=1e-5):
    g = gamma.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    d = dout * g
    dx = (m * d - d.sum(axis=(0, 2, 3), keepdims=True) - x_hat * (d * x_hat).sum(axis=(0, 2, 3), keepdims=True)) / (
        m * np.sqrt(var + eps))
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def inb_dparams_per_example(dout, x, gamma, eps=1e-5):
    g = gamma.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    m = x.shape[2] * x.shape[3]
    d = dout * g
    dx = (m * d - d.sum(axis=(2, 3), keepdims=True) - x_hat * (d * x_hat).sum(axis=(2, 3), keepdims=True)) / (
        m * np.sqrt(var + eps))
    return dx, (dout * x_hat).sum(axis=(2, 3)), dout.sum(axis=(2, 3))


def inb_no_variance_path(dout, x, gamma, eps=1e-5):
    g = gamma.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    d = dout * g
    dx = (d - d.mean(axis=(2, 3), keepdims=True)) / np.sqrt(var + eps)
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def inb_dgamma_without_xhat(dout, x, gamma, eps=1e-5):
    g = gamma.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    m = x.shape[2] * x.shape[3]
    d = dout * g
    dx = (m * d - d.sum(axis=(2, 3), keepdims=True) - x_hat * (d * x_hat).sum(axis=(2, 3), keepdims=True)) / (
        m * np.sqrt(var + eps))
    return dx, dout.sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def inb_dparams_over_batch_only(dout, x, gamma, eps=1e-5):
    g = gamma.reshape(1, -1, 1, 1)
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    m = x.shape[2] * x.shape[3]
    d = dout * g
    dx = (m * d - d.sum(axis=(2, 3), keepdims=True) - x_hat * (d * x_hat).sum(axis=(2, 3), keepdims=True)) / (
        m * np.sqrt(var + eps))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


INSTANCENORM_BACKWARD_DX_MISTAKES = [
    Mistake("dx misses the paths through the mean and the variance", inb_no_mean_var_paths),
    Mistake("the sums in dx run over N, H, W (spatial BatchNorm's formula); each (example, channel) pair has its "
            "own statistics, so they run over H, W", inb_batch_axes_formula),
    Mistake("dx misses the path through the variance", inb_no_variance_path),
]

INSTANCENORM_BACKWARD_DPARAMS_MISTAKES = [
    Mistake("dgamma and dbeta are not summed over the batch: they must have shape (C,)", inb_dparams_per_example),
    Mistake("dgamma is the sum of dout; it is the sum of dout * x_hat over N, H, W", inb_dgamma_without_xhat),
    Mistake("dgamma and dbeta are summed over the batch only; sum over N, H and W, one value per channel",
            inb_dparams_over_batch_only),
]


def _instance_norm_torch(x, g, b, eps):
    return F.instance_norm(x, weight=g, bias=b, use_input_stats=True, eps=eps)


@check("instancenorm_backward_dx", functions=("instancenorm_backward",), mistakes=INSTANCENORM_BACKWARD_DX_MISTAKES,
       by_hand=True)
def check_instancenorm_backward_dx(instancenorm_backward, rng):
    """dx matches autograd through F.instance_norm."""
    _check_norm_backward(instancenorm_backward, rng, _instancenorm_cases(rng), _instance_norm_torch, ("dx",))


@check("instancenorm_backward_dparams", functions=("instancenorm_backward",),
       mistakes=INSTANCENORM_BACKWARD_DPARAMS_MISTAKES, by_hand=True)
def check_instancenorm_backward_dparams(instancenorm_backward, rng):
    """dgamma, dbeta match autograd through F.instance_norm."""
    _check_norm_backward(instancenorm_backward, rng, _instancenorm_cases(rng), _instance_norm_torch,
                         ("dgamma", "dbeta"))


# --- GroupNorm ---------------------------------------------------------------------------------------------------

def _groupnorm_cases(rng):
    for shape, G, eps in [((2, 6, 3, 4), 3, 1e-5), ((1, 4, 5, 5), 2, 1e-5), ((3, 6, 2, 2), 2, 0.1),
                          ((2, 4, 3, 3), 1, 1e-3), ((2, 4, 2, 3), 4, 1e-5), ((4, 8, 1, 1), 4, 1e-5)]:
        x = _scaled_features(rng, shape, axis=1) + rng.normal(size=(shape[0], 1, 1, 1)) * 5.0
        yield x, rng.normal(size=shape[1]), rng.normal(size=shape[1]), eps, G


def gn_interleaved_groups(x, gamma, beta, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, C // G, G, H, W)
    mu, var = xg.mean(axis=(1, 3, 4), keepdims=True), xg.var(axis=(1, 3, 4), keepdims=True)
    x_hat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    return gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)


def gn_groups_ignored(x, gamma, beta, G, eps=1e-5):
    N, C, H, W = x.shape
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    return gamma.reshape(1, C, 1, 1) * (x - mu) / np.sqrt(var + eps) + beta.reshape(1, C, 1, 1)


def gn_unbiased(x, gamma, beta, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True, ddof=1)
    x_hat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    return gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)


def gn_eps_outside_sqrt(x, gamma, beta, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    x_hat = ((xg - mu) / (np.sqrt(var) + eps)).reshape(N, C, H, W)
    return gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)


GROUPNORM_FORWARD_MISTAKES = [
    Mistake("the groups interleave channels (channel c in group c % G, from reshape(N, C // G, G, ...)); a group "
            "is C/G consecutive channels: reshape(N, G, C // G, H, W)", gn_interleaved_groups),
    Mistake("the groups are ignored: each channel is normalized on its own (that is InstanceNorm)",
            gn_groups_ignored),
    Mistake("the unbiased variance (ddof=1) is used; GroupNorm normalizes with the biased one", gn_unbiased),
    Mistake("eps is added outside the square root", gn_eps_outside_sqrt),
]


@check("groupnorm_forward", mistakes=GROUPNORM_FORWARD_MISTAKES, by_hand=True)
def check_groupnorm_forward(groupnorm_forward, rng):
    """groupnorm_forward matches F.group_norm(x, G, gamma, beta, eps), G from 1 (LayerNorm) to C (InstanceNorm)."""
    for x, gamma, beta, eps, G in _groupnorm_cases(rng):
        got = groupnorm_forward(x, gamma, beta, G, eps)
        expect_close("out", got, reference_group_norm(x, gamma, beta, G, eps),
                     inputs=describe_inputs(x=x, G=G, eps=eps))


def gnb_no_mean_var_paths(dout, x, gamma, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    x_hat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    inv_std = np.broadcast_to(1 / np.sqrt(var + eps), xg.shape).reshape(N, C, H, W)
    dx = dout * gamma.reshape(1, C, 1, 1) * inv_std
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def gnb_interleaved_groups(dout, x, gamma, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, C // G, G, H, W)
    axes = (1, 3, 4)
    m = (C // G) * H * W
    mu, var = xg.mean(axis=axes, keepdims=True), xg.var(axis=axes, keepdims=True)
    x_hat = (xg - mu) / np.sqrt(var + eps)
    d = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, C // G, G, H, W)
    dx = (m * d - d.sum(axis=axes, keepdims=True) - x_hat * (d * x_hat).sum(axis=axes, keepdims=True)) / (
        m * np.sqrt(var + eps))
    x_hat = x_hat.reshape(N, C, H, W)
    return dx.reshape(N, C, H, W), (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def gnb_dparams_per_example(dout, x, gamma, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    m = xg.shape[2]
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    x_hat = (xg - mu) / np.sqrt(var + eps)
    d = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    dx = (m * d - d.sum(axis=2, keepdims=True) - x_hat * (d * x_hat).sum(axis=2, keepdims=True)) / (
        m * np.sqrt(var + eps))
    x_hat = x_hat.reshape(N, C, H, W)
    return dx.reshape(N, C, H, W), (dout * x_hat).sum(axis=(2, 3)), dout.sum(axis=(2, 3))


def gnb_no_variance_path(dout, x, gamma, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    x_hat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    d = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    dx = (d - d.mean(axis=2, keepdims=True)) / np.sqrt(var + eps)
    return dx.reshape(N, C, H, W), (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def gnb_dgamma_without_xhat(dout, x, gamma, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    m = xg.shape[2]
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    x_hat = (xg - mu) / np.sqrt(var + eps)
    d = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    dx = (m * d - d.sum(axis=2, keepdims=True) - x_hat * (d * x_hat).sum(axis=2, keepdims=True)) / (
        m * np.sqrt(var + eps))
    return dx.reshape(N, C, H, W), dout.sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def gnb_dparams_per_group(dout, x, gamma, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, -1)
    m = xg.shape[2]
    mu, var = xg.mean(axis=2, keepdims=True), xg.var(axis=2, keepdims=True)
    x_hat = (xg - mu) / np.sqrt(var + eps)
    d = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    dx = (m * d - d.sum(axis=2, keepdims=True) - x_hat * (d * x_hat).sum(axis=2, keepdims=True)) / (
        m * np.sqrt(var + eps))
    dgamma = np.repeat((dout.reshape(N, G, -1) * x_hat).sum(axis=(0, 2)), C // G)
    dbeta = np.repeat(dout.reshape(N, G, -1).sum(axis=(0, 2)), C // G)
    return dx.reshape(N, C, H, W), dgamma, dbeta


GROUPNORM_BACKWARD_DX_MISTAKES = [
    Mistake("dx misses the paths through the mean and the variance", gnb_no_mean_var_paths),
    Mistake("the groups interleave channels (reshape(N, C // G, G, ...)); a group is C/G consecutive channels",
            gnb_interleaved_groups),
    Mistake("dx misses the path through the variance", gnb_no_variance_path),
]

GROUPNORM_BACKWARD_DPARAMS_MISTAKES = [
    Mistake("dgamma and dbeta are not summed over the batch: they must have shape (C,)", gnb_dparams_per_example),
    Mistake("dgamma is the sum of dout; it is the sum of dout * x_hat over N, H, W", gnb_dgamma_without_xhat),
    Mistake("dgamma and dbeta are summed per group; gamma and beta are per channel, so sum each channel over "
            "N, H, W", gnb_dparams_per_group),
]


def _group_norm_torch(x, g, b, G, eps):
    return F.group_norm(x, G, g, b, eps=eps)


@check("groupnorm_backward_dx", functions=("groupnorm_backward",), mistakes=GROUPNORM_BACKWARD_DX_MISTAKES,
       by_hand=True)
def check_groupnorm_backward_dx(groupnorm_backward, rng):
    """dx matches autograd through F.group_norm."""
    _check_norm_backward(groupnorm_backward, rng, _groupnorm_cases(rng), _group_norm_torch, ("dx",), extra=("G",))


@check("groupnorm_backward_dparams", functions=("groupnorm_backward",),
       mistakes=GROUPNORM_BACKWARD_DPARAMS_MISTAKES, by_hand=True)
def check_groupnorm_backward_dparams(groupnorm_backward, rng):
    """dgamma, dbeta match autograd through F.group_norm."""
    _check_norm_backward(groupnorm_backward, rng, _groupnorm_cases(rng), _group_norm_torch, ("dgamma", "dbeta"),
                         extra=("G",))


# --- weight standardization --------------------------------------------------------------------------------------

def ws_per_input_channel(w, eps=1e-5):
    axes = tuple(i for i in range(w.ndim) if i != 1)
    mu, var = w.mean(axis=axes, keepdims=True), w.var(axis=axes, keepdims=True)
    return (w - mu) / np.sqrt(var + eps)


def ws_whole_tensor(w, eps=1e-5):
    return (w - w.mean()) / np.sqrt(w.var() + eps)


def ws_unbiased(w, eps=1e-5):
    axes = tuple(range(1, w.ndim))
    mu, var = w.mean(axis=axes, keepdims=True), w.var(axis=axes, keepdims=True, ddof=1)
    return (w - mu) / np.sqrt(var + eps)


def ws_eps_outside_sqrt(w, eps=1e-5):
    axes = tuple(range(1, w.ndim))
    mu, var = w.mean(axis=axes, keepdims=True), w.var(axis=axes, keepdims=True)
    return (w - mu) / (np.sqrt(var) + eps)


def ws_kernel_only(w, eps=1e-5):
    axes = tuple(range(2, w.ndim))
    mu, var = w.mean(axis=axes, keepdims=True), w.var(axis=axes, keepdims=True)
    return (w - mu) / np.sqrt(var + eps)


WEIGHT_STANDARDIZATION_MISTAKES = [
    Mistake("the statistics are taken per input channel (over axes 0, 2, 3); lecture 004 standardizes each output "
            "channel k over c, u, v: axes 1, 2, 3", ws_per_input_channel),
    Mistake("one mean and variance for the whole tensor; each output channel (filter) has its own",
            ws_whole_tensor),
    Mistake("the unbiased variance (ddof=1) is used; sigma_w^2 divides by pqC", ws_unbiased),
    Mistake("eps is added outside the square root", ws_eps_outside_sqrt),
    Mistake("the statistics are taken over the kernel's p x q window only; they run over all input channels too",
            ws_kernel_only),
]


@check("weight_standardize", mistakes=WEIGHT_STANDARDIZATION_MISTAKES, by_hand=True)
def check_weight_standardize(weight_standardize, rng):
    """weight_standardize matches lecture 004's formula in torch, for conv (K, C, p, q) and linear (K, C) weights."""
    for shape, eps in [((4, 3, 3, 3), 1e-5), ((8, 2, 5, 5), 1e-5), ((3, 4, 1, 1), 0.1), ((5, 6), 1e-5),
                       ((2, 1, 3, 3), 1e-3)]:
        w = _scaled_features(rng, shape, axis=0) * 0.1
        got = weight_standardize(w, eps)
        expect_close("w_hat", got, reference_weight_standardize(w, eps), inputs=describe_inputs(w=w, eps=eps))


CHECKS = [
    check_batchnorm_train, check_batchnorm_running, check_batchnorm_eval,
    check_batchnorm_backward_dx, check_batchnorm_backward_dparams, check_batchnorm_backward_alt,
    check_batchnorm_fold, check_batchnorm_identity, check_linear_batchnorm_backward,
    check_spatial_batchnorm_forward, check_spatial_batchnorm_backward_dx, check_spatial_batchnorm_backward_dparams,
    check_layernorm_forward, check_layernorm_backward_dx, check_layernorm_backward_dparams,
    check_instancenorm_forward, check_instancenorm_backward_dx, check_instancenorm_backward_dparams,
    check_groupnorm_forward, check_groupnorm_backward_dx, check_groupnorm_backward_dparams,
    check_weight_standardize,
]


# --- population_statistics (appended after CHECKS so that the list above stays as it was; added to it at the end) -


@cached_reference
def reference_population_statistics(batches) -> tuple:
    """PyTorch's BatchNorm1d with momentum=None keeps the plain (cumulative) average of the batch means and of the
    unbiased batch variances: lecture 000's population statistics."""
    bn = torch.nn.BatchNorm1d(batches.shape[2], momentum=None, dtype=torch.float64)
    bn.train()
    with torch.no_grad():
        for batch in batches:
            bn(_t(batch))
    return bn.running_mean.clone(), bn.running_var.clone()


def population_statistics_biased(batches):
    return batches.mean(axis=1).mean(axis=0), batches.var(axis=1).mean(axis=0)


def population_statistics_pooled(batches):
    values = batches.reshape(-1, batches.shape[2])
    return values.mean(axis=0), values.var(axis=0, ddof=1)


def population_statistics_moving_average(batches, momentum=0.1):
    mean, var = np.zeros(batches.shape[2]), np.ones(batches.shape[2])
    for batch in batches:
        mean = (1 - momentum) * mean + momentum * batch.mean(axis=0)
        var = (1 - momentum) * var + momentum * batch.var(axis=0, ddof=1)
    return mean, var


def population_statistics_pooled_factor(batches):
    n = batches.shape[0] * batches.shape[1]
    return batches.mean(axis=1).mean(axis=0), batches.var(axis=1).mean(axis=0) * n / (n - 1)


POPULATION_STATISTICS_MISTAKES = [
    Mistake("the batch variances are averaged as they are (biased, 1/m); lecture 000's step 10 averages the "
            "unbiased m/(m-1) sigma_B^2", population_statistics_biased),
    Mistake("mean and variance are computed over all values pooled together; the population variance is the "
            "average of the per-batch (unbiased) variances, which leaves out how much the batch means differ",
            population_statistics_pooled),
    Mistake("the statistics are a moving average (momentum 0.1, started at 0 and 1); here every batch counts the "
            "same: the plain average over the batches", population_statistics_moving_average),
    Mistake("the unbiased factor uses the number of all values, n/(n-1); it is m/(m-1) with m the batch size",
            population_statistics_pooled_factor),
]


@check("population_statistics", mistakes=POPULATION_STATISTICS_MISTAKES, by_hand=True)
def check_population_statistics(population_statistics, rng):
    """population_statistics(batches) equals BatchNorm1d(momentum=None)'s running statistics after the batches."""
    for n_batches, m, d in [(5, 4, 3), (1, 8, 2), (12, 2, 4), (30, 16, 1), (3, 3, 5)]:
        shifts = rng.normal(scale=2.0, size=(n_batches, 1, d))          # batches whose means differ
        batches = rng.normal(loc=1.5, scale=rng.uniform(0.5, 3.0, size=d), size=(n_batches, m, d)) + shifts
        inputs = describe_inputs(batches=batches)
        got = population_statistics(batches)
        expect_true(isinstance(got, (tuple, list)) and len(got) == 2,
                    f"population_statistics should return a pair (mean, var), for {inputs}")
        expected_mean, expected_var = reference_population_statistics(batches)
        expect_close("population_statistics(batches): mean", got[0], expected_mean, inputs=inputs, atol=1e-10, rtol=1e-8)
        expect_close("population_statistics(batches): var", got[1], expected_var, inputs=inputs, atol=1e-10, rtol=1e-8)


CHECKS += [check_population_statistics]
