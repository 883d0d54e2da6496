"""Variants of the catalogued mistakes of 02_initialization."""

import numpy as np

from tests.variants import solution, variant_of

A = "02_initialization"


@variant_of("collapse_swapped")
def collapse_swapped_by_dot(W1, b1, W2, b2):
    W1, b1, W2, b2 = (np.asarray(v, float) for v in (W1, b1, W2, b2))
    return np.dot(W1, W2), np.dot(W2, b1) + b2


@variant_of("collapse_transposed")
def collapse_transposed_other_order(W1, b1, W2, b2):
    W1, b1, W2, b2 = (np.asarray(v, float) for v in (W1, b1, W2, b2))
    return W1.T @ W2.T, b2 + W2 @ b1


@variant_of("collapse_forgets_b1")
def collapse_forgets_b1_copy(W1, b1, W2, b2):
    W1, W2, b2 = np.asarray(W1, float), np.asarray(W2, float), np.asarray(b2, float)
    return np.einsum("ij,jk->ik", W2, W1), b2 + 0.0


@variant_of("collapse_adds_biases")
def collapse_adds_biases_and_transposes(W1, b1, W2, b2):
    W1, b1, W2, b2 = (np.asarray(v, float) for v in (W1, b1, W2, b2))
    return (W2 @ W1).T.T, np.add(b1, b2)


@variant_of("rank_no_tolerance")
def rank_no_tolerance_nonzero(A):
    return int(np.count_nonzero(np.linalg.svd(np.asarray(A, float), compute_uv=False)))


@variant_of("rank_absolute_tolerance")
def rank_absolute_tolerance_1e8(A):
    return int((np.linalg.svd(np.asarray(A, float), compute_uv=False) > 1e-8).sum())


@variant_of("uniform_variance_std")
def uniform_variance_std_by_sqrt(low, high):
    return float(np.sqrt((high - low) ** 2 / 12))


@variant_of("uniform_variance_over_3")
def uniform_variance_half_width(low, high):
    half = (high - low) / 2
    return half ** 2 / 12


@variant_of("uniform_variance_not_squared")
def uniform_variance_abs_width(low, high):
    return abs(high - low) / 12.0


@variant_of("layer_variances_unbiased")
def layer_variances_unbiased_by_hand(X, weights):
    h, out = np.asarray(X, float), []
    for W in weights:
        h = h @ np.asarray(W, float).T
        out.append(np.sum((h - h.mean()) ** 2) / (h.size - 1))
    return out


@variant_of("layer_variances_not_transposed")
def layer_variances_not_transposed_einsum(X, weights):
    h, out = np.asarray(X, float), []
    for W in weights:
        h = np.einsum("nd,dm->nm", h, np.asarray(W, float))
        out.append(float(h.var()))
    return np.array(out)


@variant_of("layer_variances_of_inputs")
def layer_variances_of_inputs_listed(X, weights):
    hs = [np.asarray(X, float)]
    for W in weights:
        hs.append(hs[-1] @ np.asarray(W, float).T)
    return np.array([h.var() for h in hs[:-1]])


@variant_of("xavier_uniform_fan_in_only")
def xavier_uniform_fan_in_twice(shape, rng, gain=1.0):
    fan_in = shape[1]
    bound = gain * np.sqrt(6.0 / (fan_in + fan_in))
    return rng.uniform(-bound, bound, size=shape)


@variant_of("xavier_uniform_no_sqrt3")
def xavier_uniform_normal_std_as_bound(shape, rng, gain=1.0):
    bound = gain * (2.0 / sum(shape)) ** 0.5
    return bound * (2 * rng.random(shape) - 1)


@variant_of("xavier_uniform_no_gain")
def xavier_uniform_gain_squared_away(shape, rng, gain=1.0):
    bound = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(low=-bound, high=bound, size=tuple(shape))


@variant_of("xavier_normal_variance_as_std")
def xavier_normal_variance_as_std_standard(shape, rng, gain=1.0):
    return rng.standard_normal(shape) * gain ** 2 * 2.0 / (shape[0] + shape[1])


@variant_of("xavier_normal_fan_in_only")
def xavier_normal_fan_in_only_std(shape, rng, gain=1.0):
    return gain * np.sqrt(1.0 / shape[1]) * np.sqrt(2.0) * rng.standard_normal(shape)


@variant_of("kaiming_normal_no_factor_2")
def kaiming_normal_no_factor_2_standard(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan = shape[1] if mode == "fan_in" else shape[0]
    gain = {"linear": 1.0, "relu": 1.0, "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.standard_normal(shape) * gain * fan ** -0.5


@variant_of("kaiming_normal_fans_swapped")
def kaiming_normal_fans_swapped_by_name(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan_in, fan_out = shape
    fan = fan_in if mode == "fan_in" else fan_out
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.normal(0.0, gain / np.sqrt(fan), size=shape)


@variant_of("kaiming_uniform_no_sqrt3")
def kaiming_uniform_std_as_bound(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan = shape[1] if mode == "fan_in" else shape[0]
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    bound = gain / np.sqrt(fan)
    return (rng.random(shape) * 2 - 1) * bound


@variant_of("kaiming_uniform_mode_ignored")
def kaiming_uniform_always_fan_in(shape, rng, mode="fan_in", nonlinearity="relu"):
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    bound = gain * np.sqrt(3.0 / shape[1])
    return rng.uniform(-bound, bound, shape)


@variant_of("output_variance_returns_std")
def output_variance_std_of_sample(n_in, n_out, var_w, var_x, batch, rng):
    W = rng.normal(0.0, np.sqrt(var_w), size=(n_out, n_in))
    x = rng.normal(0.0, np.sqrt(var_x), size=(batch, n_in))
    return float(np.sqrt(np.mean((x @ W.T - (x @ W.T).mean()) ** 2)))


# --- written after the diagnosis changes (measured against the earlier diagnosis too) ---------------------------

collapse_linear = solution(A, "collapse_linear")


@variant_of("collapse_elementwise")
def collapse_elementwise_multiply(W1, b1, W2, b2):
    W, b = collapse_linear(W1, b1, W2, b2)
    return np.multiply(W2, W1), b


@variant_of("collapse_bias_transposed")
def collapse_bias_transposed_dot(W1, b1, W2, b2):
    W, _ = collapse_linear(W1, b1, W2, b2)
    return W, np.dot(np.asarray(b1, float), np.asarray(W2, float)) + b2


@variant_of("rank_smaller_dimension")
def rank_smaller_dimension_of_shape(A):
    rows, columns = np.asarray(A).shape
    return rows if rows < columns else columns


@variant_of("uniform_variance_sum")
def uniform_variance_sum_squared(low, high):
    return float((low + high) * (low + high) / 12)


@variant_of("layer_variances_per_feature")
def layer_variances_per_feature_loop(X, weights):
    h, out = np.asarray(X, float), []
    for W in weights:
        h = h @ np.asarray(W, float).T
        out.append(np.mean([h[:, j].var() for j in range(h.shape[1])]))
    return np.array(out)


@variant_of("xavier_uniform_no_sqrt")
def xavier_uniform_no_sqrt_random(shape, rng, gain=1.0):
    bound = gain * 6.0 / (shape[0] + shape[1])
    return (2 * rng.random(shape) - 1) * bound


@variant_of("xavier_normal_no_gain")
def xavier_normal_no_gain_standard(shape, rng, gain=1.0):
    return rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] + shape[1]))


@variant_of("kaiming_normal_variance_as_std")
def kaiming_normal_variance_as_std_standard(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan = shape[1] if mode == "fan_in" else shape[0]
    gain = {"linear": 1.0, "relu": np.sqrt(2.0), "tanh": 5.0 / 3.0}[nonlinearity]
    return rng.standard_normal(shape) * (gain ** 2 / fan)


@variant_of("kaiming_uniform_relu_gain_always")
def kaiming_uniform_relu_gain_always_random(shape, rng, mode="fan_in", nonlinearity="relu"):
    fan = shape[1] if mode == "fan_in" else shape[0]
    return (rng.random(shape) * 2 - 1) * np.sqrt(6.0 / fan)


train_two_layer = solution(A, "train_two_layer")
kaiming_normal = solution(A, "kaiming_normal")
kaiming_uniform = solution(A, "kaiming_uniform")


@variant_of("train_ascent")
def train_ascent_negative_rate(params, X, Y, lr, steps):
    return train_two_layer(params, X, Y, -lr, steps)


@variant_of("xavier_uniform_fan_out_only")
def xavier_uniform_fan_out_twice(shape, rng, gain=1.0):
    bound = gain * np.sqrt(6.0 / shape[0])
    return rng.uniform(-bound, bound, tuple(shape))


@variant_of("xavier_normal_bound_as_std")
def xavier_normal_bound_as_std_standard(shape, rng, gain=1.0):
    return rng.standard_normal(shape) * gain * np.sqrt(6.0 / (shape[0] + shape[1]))


@variant_of("kaiming_normal_mode_ignored")
def kaiming_normal_always_fan_in(shape, rng, mode="fan_in", nonlinearity="relu"):
    return kaiming_normal(shape, rng, "fan_in", nonlinearity)


@variant_of("kaiming_normal_relu_gain_always")
def kaiming_normal_always_relu(shape, rng, mode="fan_in", nonlinearity="relu"):
    return kaiming_normal(shape, rng, mode, "relu")


@variant_of("kaiming_uniform_fans_swapped")
def kaiming_uniform_fans_swapped_by_call(shape, rng, mode="fan_in", nonlinearity="relu"):
    return kaiming_uniform(shape, rng, "fan_out" if mode == "fan_in" else "fan_in", nonlinearity)


@variant_of("output_variance_formula")
def output_variance_formula_product(n_in, n_out, var_w, var_x, batch, rng):
    return var_w * var_x * n_in


@variant_of("train_sum_loss")
def train_sum_loss_scaled(params, X, Y, lr, steps):
    size = np.asarray(Y).size
    trained, losses = train_two_layer(params, X, Y, lr * size, steps)
    return trained, np.asarray(losses) * size


@variant_of("xavier_normal_fan_out_only")
def xavier_normal_fan_out_only_standard(shape, rng, gain=1.0):
    return gain * np.sqrt(2.0 / shape[0]) * rng.standard_normal(shape)


@variant_of("kaiming_uniform_no_factor_2")
def kaiming_uniform_relu_as_linear(shape, rng, mode="fan_in", nonlinearity="relu"):
    return kaiming_uniform(shape, rng, mode, "linear" if nonlinearity == "relu" else nonlinearity)


@variant_of("gradient_variances_unbiased")
def gradient_variances_unbiased_by_hand(G, weights):
    g, out = np.asarray(G, float), []
    for W in weights[::-1]:
        g = np.einsum("bo,oi->bi", g, W)
        out.insert(0, np.sum((g - g.mean()) ** 2) / (g.size - 1))
    return np.array(out)


@variant_of("gradient_variances_not_reversed")
def gradient_variances_not_reversed_listed(G, weights):
    g, out = np.asarray(G, float), []
    for index in range(len(weights) - 1, -1, -1):
        g = g.dot(weights[index])
        out.append(g.var())
    return np.asarray(out)
