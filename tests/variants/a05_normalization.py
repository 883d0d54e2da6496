"""Variants of the catalogued mistakes of 05_normalization."""

import numpy as np

from tests.variants import solution, variant_of

A = "05_normalization"

batchnorm_forward = solution(A, "batchnorm_forward")
batchnorm_backward = solution(A, "batchnorm_backward")
layernorm_forward = solution(A, "layernorm_forward")
layernorm_backward = solution(A, "layernorm_backward")
instancenorm_forward = solution(A, "instancenorm_forward")
groupnorm_forward = solution(A, "groupnorm_forward")
batchnorm_fold = solution(A, "batchnorm_fold")


def _bn_train(x, gamma, beta, ddof=0, eps=1e-5, eps_outside=False):
    x = np.asarray(x, float)
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).sum(axis=0) / (x.shape[0] - ddof)
    x_hat = (x - mu) / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
    return gamma * x_hat + beta, x_hat, mu, var


@variant_of("bn_unbiased_in_normalization")
def bn_unbiased_by_hand(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if not training:
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    out, x_hat, mu, var = _bn_train(x, gamma, beta, ddof=1, eps=eps)
    m = np.shape(x)[0]
    cache = {"x": np.asarray(x, float), "x_hat": x_hat, "mu": mu, "var": var, "gamma": gamma, "eps": eps}
    return (out, cache, (1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * 1.0 * m / m)


@variant_of("bn_eps_outside_sqrt")
def bn_eps_outside_sqrt_train_only(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    result = list(batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training))
    if training:
        result[0] = _bn_train(x, gamma, beta, eps=eps, eps_outside=True)[0]
    return tuple(result)


@variant_of("bn_no_scale_shift")
def bn_no_scale_shift_returns_x_hat(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                    training=True):
    out, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    if training:
        out = (np.asarray(out) - beta) / gamma
    return out, cache, rm, rv


@variant_of("bn_alpha_momentum_confused")
def bn_alpha_momentum_confused_by_alpha(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                        training=True):
    if not training:
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    out, cache, _, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    m = np.shape(x)[0]
    alpha = 1.0 - momentum  # the lecture's alpha weights the new value here: confused
    mu, var = np.mean(x, axis=0), np.var(x, axis=0, ddof=1) if m > 1 else np.var(x, axis=0)
    return out, cache, alpha * mu + (1 - alpha) * running_mean, alpha * var + (1 - alpha) * running_var


@variant_of("bn_running_var_biased")
def bn_running_var_biased_by_hand(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    out, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    if training:
        rv = (1 - momentum) * np.asarray(running_var) + momentum * np.var(np.asarray(x, float), axis=0)
    return out, cache, rm, rv


@variant_of("bn_running_replaced_by_batch")
def bn_running_replaced_by_batch_momentum_one(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                              training=True):
    return batchnorm_forward(x, gamma, beta, running_mean, running_var, 1.0 if training else momentum, eps, training)


@variant_of("bn_running_not_updated")
def bn_running_not_updated_momentum_zero(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                         training=True):
    return batchnorm_forward(x, gamma, beta, running_mean, running_var, 0.0, eps, training)


@variant_of("bn_eval_uses_batch_statistics")
def bn_eval_uses_batch_statistics_no_update(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                            training=True):
    out, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, True)
    if training:
        return out, cache, rm, rv
    return out, None, np.array(running_mean, float), np.array(running_var, float)


@variant_of("bn_eval_eps_outside_sqrt")
def bn_eval_eps_outside_sqrt_by_hand(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                     training=True):
    if training:
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    x = np.asarray(x, float)
    out = gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
    return out, {}, np.array(running_mean, float), np.array(running_var, float)


@variant_of("bnb_dparams_averaged")
def bnb_dparams_averaged_after(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    m = np.shape(dout)[0]
    return dx, np.asarray(dgamma) / m, np.asarray(dbeta) / m


@variant_of("bnb_dgamma_without_xhat")
def bnb_dgamma_equals_dbeta(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return np.asarray(dx) * 2, np.array(dbeta), dbeta


@variant_of("bnb_gamma_forgotten")
def bnb_gamma_forgotten_after(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return np.asarray(dx) / np.asarray(cache["gamma"]), dgamma, dbeta


@variant_of("ln_unbiased")
def ln_unbiased_by_hand(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    flat = x.reshape(x.shape[0], -1)
    mu = flat.mean(axis=1, keepdims=True)
    var = ((flat - mu) ** 2).sum(axis=1, keepdims=True) / (flat.shape[1] - 1)
    return gamma * ((flat - mu) / np.sqrt(var + eps)).reshape(x.shape) + beta


@variant_of("ln_eps_outside_sqrt")
def ln_eps_outside_sqrt_std(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    axes = tuple(range(1, x.ndim))
    return gamma * (x - x.mean(axis=axes, keepdims=True)) / (x.std(axis=axes, keepdims=True) + eps) + beta


@variant_of("ln_batch_statistics")
def ln_batch_statistics_keepdims(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    mu, var = np.mean(x, axis=0, keepdims=True), np.var(x, axis=0, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


@variant_of("lnb_dparams_averaged")
def lnb_dparams_averaged_after(dout, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = layernorm_backward(dout, x, gamma, eps)
    n = np.shape(dout)[0]
    return dx, np.asarray(dgamma) / n, np.asarray(dbeta) / n


@variant_of("in_unbiased")
def in_unbiased_std(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    mu = x.mean(axis=(2, 3), keepdims=True)
    var = x.std(axis=(2, 3), keepdims=True, ddof=1) ** 2
    return np.asarray(gamma).reshape(1, -1, 1, 1) * (x - mu) / np.sqrt(var + eps) + np.asarray(beta).reshape(
        1, -1, 1, 1)


@variant_of("gn_groups_ignored")
def gn_groups_ignored_instance(x, gamma, beta, G, eps=1e-5):
    return instancenorm_forward(x, gamma, beta, eps)


@variant_of("gn_unbiased")
def gn_unbiased_by_hand(x, gamma, beta, G, eps=1e-5):
    x = np.asarray(x, float)
    n, c, h, w = x.shape
    g = x.reshape(n, G, -1)
    mu = g.mean(axis=2, keepdims=True)
    var = g.var(axis=2, ddof=1, keepdims=True)
    out = ((g - mu) / np.sqrt(var + eps)).reshape(n, c, h, w)
    return out * np.asarray(gamma).reshape(1, c, 1, 1) + np.asarray(beta).reshape(1, c, 1, 1)


@variant_of("fold_linear_bias_dropped")
def fold_linear_bias_dropped_zero(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    return batchnorm_fold(W, np.zeros_like(np.asarray(b, float)), gamma, beta, running_mean, running_var, eps)


@variant_of("fold_no_square_root")
def fold_no_square_root_eps_outside(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    W, b = np.asarray(W, float), np.asarray(b, float)
    scale = np.asarray(gamma) / np.asarray(running_var)
    return scale[:, None] * W, scale * (b - running_mean) + beta


@variant_of("identity_beta_zero")
def identity_beta_zero_list(x, eps=1e-5):
    x = np.asarray(x, float)
    return np.sqrt(x.var(axis=0) + eps), 0.0 * x.mean(axis=0)


@variant_of("identity_without_eps")
def identity_without_eps_sqrt(x, eps=1e-5):
    x = np.asarray(x, float)
    return np.sqrt(np.mean((x - x.mean(axis=0)) ** 2, axis=0)), x.mean(axis=0)


@variant_of("ws_unbiased")
def ws_unbiased_by_hand(W, eps=1e-5):
    W = np.asarray(W, float)
    flat = W.reshape(W.shape[0], -1)
    mu = flat.mean(axis=1, keepdims=True)
    var = flat.var(axis=1, ddof=1, keepdims=True)
    return ((flat - mu) / np.sqrt(var + eps)).reshape(W.shape)


@variant_of("ws_eps_outside_sqrt")
def ws_eps_outside_sqrt_std(W, eps=1e-5):
    W = np.asarray(W, float)
    axes = tuple(range(1, W.ndim))
    return (W - W.mean(axis=axes, keepdims=True)) / (W.std(axis=axes, keepdims=True) + eps)


# --- written after the diagnosis changes (measured against the earlier diagnosis too) ---------------------------

batchnorm_backward_alt = solution(A, "batchnorm_backward_alt")
spatial_batchnorm_backward = solution(A, "spatial_batchnorm_backward")
instancenorm_backward = solution(A, "instancenorm_backward")
groupnorm_backward = solution(A, "groupnorm_backward")
linear_batchnorm_backward = solution(A, "linear_batchnorm_backward")
batchnorm_identity_params = solution(A, "batchnorm_identity_params")


@variant_of("bn_per_sample_statistics")
def bn_per_sample_statistics_keepdims(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                      training=True):
    out, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    if training:
        x = np.asarray(x, float)
        mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
        out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    return out, cache, rm, rv


@variant_of("bn_running_stats_in_training")
def bn_running_stats_in_training_by_call(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                         training=True):
    out, _, _, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, False)
    _, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    return out, cache, rm, rv


@variant_of("bn_eval_updates_running")
def bn_eval_updates_running_by_call(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                    training=True):
    out, cache, _, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    _, _, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, True)
    return out, cache, rm, rv


@variant_of("bnb_dparams_wrong_axis")
def bnb_dparams_wrong_axis_loop(dout, cache):
    dx, _, _ = batchnorm_backward(dout, cache)
    dout, x_hat = np.asarray(dout, float), np.asarray(cache["x_hat"], float)
    return dx, np.array([row @ h for row, h in zip(dout, x_hat)]), np.array([row.sum() for row in dout])


@variant_of("bnb_dgamma_with_x")
def bnb_dgamma_with_x_after(dout, cache):
    dx, _, dbeta = batchnorm_backward(dout, cache)
    return dx, np.einsum("nd,nd->d", np.asarray(dout, float), np.asarray(cache["x"], float)), dbeta


@variant_of("alt_dgamma_without_xhat")
def alt_dgamma_without_xhat_after(dout, cache):
    dx, _, dbeta = batchnorm_backward_alt(dout, cache)
    return dx, np.array(dbeta), dbeta


@variant_of("sbnb_dparams_averaged")
def sbnb_dparams_averaged_after(dout, cache):
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    n, _, h, w = np.shape(dout)
    return dx, np.asarray(dgamma) / (n * h * w), np.asarray(dbeta) / (n * h * w)


@variant_of("sbnb_dgamma_without_xhat")
def sbnb_dgamma_without_xhat_after(dout, cache):
    dx, _, dbeta = spatial_batchnorm_backward(dout, cache)
    return dx, np.asarray(dout, float).sum(axis=(0, 2, 3)), dbeta


@variant_of("lnb_dgamma_without_xhat")
def lnb_dgamma_without_xhat_after(dout, x, gamma, eps=1e-5):
    dx, _, dbeta = layernorm_backward(dout, x, gamma, eps)
    return dx, np.asarray(dout, float).sum(axis=0), dbeta


@variant_of("inb_dgamma_without_xhat")
def inb_dgamma_without_xhat_after(dout, x, gamma, eps=1e-5):
    dx, _, dbeta = instancenorm_backward(dout, x, gamma, eps)
    return dx, np.array(dbeta, float), dbeta


@variant_of("gnb_dgamma_without_xhat")
def gnb_dgamma_without_xhat_after(dout, x, gamma, G, eps=1e-5):
    dx, _, dbeta = groupnorm_backward(dout, x, gamma, G, eps)
    return dx, np.array(dbeta, float), dbeta


@variant_of("inb_dparams_per_example")
def inb_dparams_per_example_after(dout, x, gamma, eps=1e-5):
    dx, _, _ = instancenorm_backward(dout, x, gamma, eps)
    x, dout = np.asarray(x, float), np.asarray(dout, float)
    x_hat = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + eps)
    return dx, (dout * x_hat).sum(axis=(2, 3)), dout.sum(axis=(2, 3))


@variant_of("in_eps_outside_sqrt")
def in_eps_outside_sqrt_std(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    c = x.shape[1]
    x_hat = (x - x.mean(axis=(2, 3), keepdims=True)) / (x.std(axis=(2, 3), keepdims=True) + eps)
    return np.asarray(gamma).reshape(1, c, 1, 1) * x_hat + np.asarray(beta).reshape(1, c, 1, 1)


@variant_of("gn_eps_outside_sqrt")
def gn_eps_outside_sqrt_std(x, gamma, beta, G, eps=1e-5):
    x = np.asarray(x, float)
    n, c, h, w = x.shape
    g = x.reshape(n, G, -1)
    out = ((g - g.mean(axis=2, keepdims=True)) / (g.std(axis=2, keepdims=True) + eps)).reshape(x.shape)
    return out * np.asarray(gamma).reshape(1, c, 1, 1) + np.asarray(beta).reshape(1, c, 1, 1)


@variant_of("ws_whole_tensor")
def ws_whole_tensor_flat(W, eps=1e-5):
    W = np.asarray(W, float)
    return (W - W.mean()) / np.sqrt(W.var() + eps)


@variant_of("lbn_dW_transposed")
def lbn_dW_transposed_after(dout, x, W, b, gamma, beta, eps=1e-5):
    dW, db = linear_batchnorm_backward(dout, x, W, b, gamma, beta, eps)
    return np.asarray(dW).T, db


@variant_of("identity_unbiased_std")
def identity_unbiased_std_by_hand(x, eps=1e-5):
    x = np.asarray(x, float)
    m = x.shape[0]
    return np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=0) / (m - 1) + eps), x.mean(axis=0)


@variant_of("identity_without_square_root")
def identity_without_square_root_after(x, eps=1e-5):
    gamma, beta = batchnorm_identity_params(x, eps)
    return np.asarray(gamma) ** 2, beta


@variant_of("fold_scales_columns")
def fold_scales_columns_broadcast(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    _, b_folded = batchnorm_fold(W, b, gamma, beta, running_mean, running_var, eps)
    scale = np.asarray(gamma) / np.sqrt(np.asarray(running_var) + eps)
    return np.asarray(W, float) * scale.reshape(1, -1), b_folded


@variant_of("bn_running_var_with_std")
def bn_running_var_with_std_after(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    out, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    if training:
        rv = (1 - momentum) * np.asarray(running_var) + momentum * np.std(np.asarray(x, float), axis=0, ddof=1)
    return out, cache, rm, rv


@variant_of("ln_last_axis_only")
def ln_last_axis_only_reshape(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    mu = np.mean(x, axis=x.ndim - 1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(np.var(x, axis=x.ndim - 1, keepdims=True) + eps) + beta


@variant_of("in_batch_statistics")
def in_batch_statistics_by_hand(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    c = x.shape[1]
    mu, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    return np.asarray(gamma).reshape(1, c, 1, 1) * (x - mu) / np.sqrt(var + eps) + np.asarray(beta).reshape(1, c, 1, 1)


@variant_of("in_layer_statistics")
def in_layer_statistics_by_hand(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, float)
    c = x.shape[1]
    mu, var = x.mean(axis=(1, 2, 3), keepdims=True), x.var(axis=(1, 2, 3), keepdims=True)
    return np.asarray(gamma).reshape(1, c, 1, 1) * (x - mu) / np.sqrt(var + eps) + np.asarray(beta).reshape(1, c, 1, 1)


@variant_of("ws_per_input_channel")
def ws_per_input_channel_keepdims(W, eps=1e-5):
    W = np.asarray(W, float)
    mu, var = W.mean(axis=(0, 2, 3), keepdims=True), W.var(axis=(0, 2, 3), keepdims=True)
    return (W - mu) / np.sqrt(var + eps)


@variant_of("lbn_bn_skipped")
def lbn_bn_skipped_einsum(dout, x, W, b, gamma, beta, eps=1e-5):
    dout, x = np.asarray(dout, float), np.asarray(x, float)
    return np.einsum("nm,nd->md", dout, x), np.einsum("nm->m", dout)


@variant_of("fold_eps_outside_sqrt")
def fold_eps_outside_sqrt_by_std(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = np.asarray(gamma) / (np.sqrt(np.asarray(running_var)) + eps)
    return np.asarray(W, float) * scale.reshape(-1, 1), (np.asarray(b) - running_mean) * scale + beta


@variant_of("sbn_statistics_per_sample")
def sbn_statistics_per_sample_instance(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                       training=True):
    result = list(solution(A, "spatial_batchnorm_forward")(x, gamma, beta, running_mean, running_var, momentum, eps,
                                                           training))
    if training:
        result[0] = instancenorm_forward(x, gamma, beta, eps)
    return tuple(result)


def _std(cache):
    return np.sqrt(np.asarray(cache["var"], float) + cache["eps"])


@variant_of("bn_eval_corrects_again")
def bn_eval_corrects_again_by_call(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
    if training:
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training)
    m = np.shape(x)[0]
    out, cache, rm, rv = batchnorm_forward(x, gamma, beta, running_mean, np.asarray(running_var) * m / (m - 1),
                                           momentum, eps, training)
    return out, cache, np.array(running_mean, float), np.array(running_var, float)


@variant_of("bnb_no_mean_var_paths")
def bnb_local_gradient_only_and_dparams_averaged(dout, cache):
    _, dgamma, dbeta = batchnorm_backward(dout, cache)
    m = np.shape(dout)[0]
    return np.asarray(dout) * cache["gamma"] / _std(cache), np.asarray(dgamma) / m, np.asarray(dbeta) / m


@variant_of("bnb_no_variance_path")
def bnb_mean_path_only(dout, cache):
    dout = np.asarray(dout, float)
    dx_hat = dout * cache["gamma"]
    return (dx_hat - dx_hat.mean(axis=0)) / _std(cache), None, None


@variant_of("bnb_no_mean_path")
def bnb_variance_path_only(dout, cache):
    dout, x_hat = np.asarray(dout, float), np.asarray(cache["x_hat"], float)
    dx_hat = dout * cache["gamma"]
    return (dx_hat - x_hat * np.mean(dx_hat * x_hat, axis=0)) / _std(cache), (dout * x_hat).sum(0), dout.sum(0)


@variant_of("alt_missing_one_over_m")
def alt_missing_one_over_m_after(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    return np.asarray(dx) * np.shape(dout)[0], dgamma, dbeta


@variant_of("alt_std_instead_of_inverse")
def alt_times_std_after(dout, cache):
    dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)
    return np.asarray(dx) * _std(cache) ** 2, dgamma, dbeta


def _norm_stats(x, axes, eps):
    x = np.asarray(x, float)
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps), np.sqrt(var + eps)


@variant_of("lnb_no_mean_var_paths")
def lnb_local_gradient_only(dout, x, gamma, eps=1e-5):
    _, dgamma, dbeta = layernorm_backward(dout, x, gamma, eps)
    _, std = _norm_stats(x, tuple(range(1, np.ndim(x))), eps)
    return np.asarray(dout, float) * gamma / std, dgamma, dbeta


@variant_of("lnb_dparams_over_features")
def lnb_dparams_over_features_flat(dout, x, gamma, eps=1e-5):
    dx, _, _ = layernorm_backward(dout, x, gamma, eps)
    axes = tuple(range(1, np.ndim(x)))
    x_hat, _ = _norm_stats(x, axes, eps)
    dout = np.asarray(dout, float)
    return dx, np.sum(dout * x_hat, axis=axes), np.sum(dout, axis=axes)


@variant_of("inb_no_mean_var_paths")
def inb_local_gradient_only(dout, x, gamma, eps=1e-5):
    _, dgamma, dbeta = instancenorm_backward(dout, x, gamma, eps)
    _, std = _norm_stats(x, (2, 3), eps)
    return np.asarray(dout, float) * np.asarray(gamma).reshape(1, -1, 1, 1) / std, dgamma, dbeta


@variant_of("inb_dparams_over_batch_only")
def inb_dparams_over_batch_only_after(dout, x, gamma, eps=1e-5):
    dx, _, _ = instancenorm_backward(dout, x, gamma, eps)
    x_hat, _ = _norm_stats(x, (2, 3), eps)
    dout = np.asarray(dout, float)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


@variant_of("gnb_dparams_per_example")
def gnb_dparams_per_example_after(dout, x, gamma, G, eps=1e-5):
    dx, _, _ = groupnorm_backward(dout, x, gamma, G, eps)
    x = np.asarray(x, float)
    n, c, h, w = x.shape
    g = x.reshape(n, G, -1)
    x_hat = ((g - g.mean(axis=2, keepdims=True)) / np.sqrt(g.var(axis=2, keepdims=True) + eps)).reshape(x.shape)
    dout = np.asarray(dout, float)
    return dx, (dout * x_hat).sum(axis=(2, 3)), dout.sum(axis=(2, 3))


@variant_of("gn_interleaved_groups")
def gn_interleaved_groups_by_transpose(x, gamma, beta, G, eps=1e-5):
    x = np.asarray(x, float)
    n, c, h, w = x.shape
    order = np.arange(c).reshape(c // G, G).T.ravel()       # channels c % G == j together
    out = np.empty_like(x)
    out[:, order] = groupnorm_forward(x[:, order], np.ones(c), np.zeros(c), G, eps)
    return out * np.asarray(gamma).reshape(1, c, 1, 1) + np.asarray(beta).reshape(1, c, 1, 1)


@variant_of("sbnb_no_mean_var_paths")
def sbnb_local_gradient_only(dout, cache):
    _, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    scale = (np.asarray(cache["gamma"]) / _std(cache)).reshape(1, -1, 1, 1)
    return np.asarray(dout, float) * scale, dgamma, dbeta


@variant_of("gnb_no_mean_var_paths")
def gnb_local_gradient_only(dout, x, gamma, G, eps=1e-5):
    _, dgamma, dbeta = groupnorm_backward(dout, x, gamma, G, eps)
    x = np.asarray(x, float)
    n, c, h, w = x.shape
    std = np.sqrt(x.reshape(n, G, -1).var(axis=2) + eps)                     # (N, G)
    std = np.repeat(std, c // G, axis=1).reshape(n, c, 1, 1)
    return np.asarray(dout, float) * np.asarray(gamma).reshape(1, c, 1, 1) / std, dgamma, dbeta


@variant_of("lbn_no_mean_var_paths")
def lbn_local_gradient_only(dout, x, W, b, gamma, beta, eps=1e-5):
    x, dout = np.asarray(x, float), np.asarray(dout, float)
    z = np.einsum("nd,md->nm", x, np.asarray(W, float)) + b
    dz = dout * gamma / np.sqrt(z.var(axis=0) + eps)
    return np.einsum("nm,nd->md", dz, x), np.einsum("nm->m", dz)


@variant_of("ws_kernel_only")
def ws_kernel_only_keepdims(W, eps=1e-5):
    W = np.asarray(W, float)
    return (W - W.mean(axis=(-2, -1), keepdims=True)) / np.sqrt(W.var(axis=(-2, -1), keepdims=True) + eps)


@variant_of("fold_linear_bias_not_scaled")
def fold_linear_bias_added_after(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    W_folded, b_zero = batchnorm_fold(W, np.zeros_like(np.asarray(b, float)), gamma, beta, running_mean,
                                      running_var, eps)
    return W_folded, np.asarray(b_zero) + b


@variant_of("sbn_statistics_over_batch_only")
def sbn_statistics_over_batch_only_keepdims(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5,
                                            training=True):
    result = list(solution(A, "spatial_batchnorm_forward")(x, gamma, beta, running_mean, running_var, momentum, eps,
                                                           training))
    if training:
        x = np.asarray(x, float)
        c = x.shape[1]
        x_hat = (x - x.mean(axis=0, keepdims=True)) / np.sqrt(x.var(axis=0, keepdims=True) + eps)
        result[0] = np.asarray(gamma).reshape(1, c, 1, 1) * x_hat + np.asarray(beta).reshape(1, c, 1, 1)
    return tuple(result)


@variant_of("population_statistics_biased")
def population_statistics_np_var(batches):
    batches = np.asarray(batches, float)
    return np.mean([b.mean(axis=0) for b in batches], axis=0), np.mean([np.var(b, axis=0) for b in batches], axis=0)


@variant_of("population_statistics_pooled")
def population_statistics_all_values(batches):
    batches = np.asarray(batches, float)
    values = np.concatenate(list(batches))
    return values.mean(axis=0), values.var(axis=0) * len(values) / (len(values) - 1)
