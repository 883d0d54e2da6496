"""Variants of the catalogued mistakes of 01_backprop: the same mistake written another way (another constant,
another code path, a second mistake in an output the failing check does not look at)."""

import numpy as np

from tests.variants import solution, variant_of

A = "01_backprop"
affine_forward = solution(A, "affine_forward")
affine_backward = solution(A, "affine_backward")
activation_forward = solution(A, "activation_forward")
activation_derivative = solution(A, "activation_derivative")
softmax_cross_entropy = solution(A, "softmax_cross_entropy")
mse_loss = solution(A, "mse_loss")
sigmoid_binary_cross_entropy = solution(A, "sigmoid_binary_cross_entropy")
mlp_loss_and_grads = solution(A, "mlp_loss_and_grads")


@variant_of("graph_precedence")
def graph_precedence_in_gradients_too(x, y, z):
    f = x + y * z
    return {"q": x + y, "f": f, "dfdx": 1.0, "dfdy": z, "dfdz": y}


@variant_of("graph_add_gate_at_the_end")
def graph_add_gate_with_its_gradients(x, y, z):
    q = x + y
    return {"q": q, "f": q + z, "dfdx": 1.0, "dfdy": 1.0, "dfdz": 1.0}


@variant_of("graph_local_gradients_only")
def graph_local_gradients_as_ints(x, y, z):
    q = x + y
    return {"q": q, "f": q * z, "dfdx": 1, "dfdy": 1, "dfdz": x + y}


@variant_of("graph_dfdz_is_z")
def graph_dfdz_is_z_and_forward_off(x, y, z):
    return {"q": x + y, "f": (x + y) * z + 0.0, "dfdx": z * 1.0, "dfdy": 1.0 * z, "dfdz": z}


@variant_of("gate_add_halves")
def gate_add_halves_by_multiplication(gate, a, b, dout):
    a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
    if gate == "add":
        return 0.5 * dout, 0.5 * dout
    if gate == "mul":
        return dout * b, dout * a
    winner = (a > b) + 0.5 * (a == b)
    return dout * winner, dout * (1 - winner)


@variant_of("gate_max_to_both")
def gate_max_to_both_by_ones(gate, a, b, dout):
    a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
    if gate == "mul":
        return dout * b, dout * a
    return dout * np.ones_like(a), dout * np.ones_like(b)


@variant_of("neuron_no_bias_gradient")
def neuron_no_bias_gradient_loop(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    z = sum(w[i] * x[i] for i in range(len(x))) + w[-1]
    s = 1 / (1 + np.exp(-z))
    dz = s * (1 - s)
    return s, np.array([x[i] * dz for i in range(len(x))]), np.array([w[i] * dz for i in range(len(x))])


@variant_of("neuron_w_and_x_swapped")
def neuron_w_and_x_swapped_with_tanh_style_gradient(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    s = 1 / (1 + np.exp(-(np.dot(w[:-1], x) + w[-1])))
    dz = s - s ** 2
    return s, np.concatenate([w[:-1] * dz, [dz]]), x * dz


@variant_of("forward_leaky_ignores_alpha")
def forward_leaky_fixed_slope_point_one(z, kind, alpha=None):
    if kind == "leaky_relu":
        z = np.asarray(z, float)
        return np.where(z >= 0, z, 0.1 * z)
    return activation_forward(z, kind, alpha)


@variant_of("forward_elu_without_minus_one")
def forward_elu_without_minus_one_no_alpha_default(z, kind, alpha=None):
    if kind == "elu":
        z = np.asarray(z, float)
        a = 1.0 if alpha is None else alpha
        return np.where(z > 0, z, a * np.exp(np.clip(z, None, 0)))
    return activation_forward(z, kind, alpha)


@variant_of("forward_softplus_overflows")
def forward_softplus_log1p(z, kind, alpha=None):
    if kind == "softplus":
        with np.errstate(over="ignore"):
            return np.log1p(np.exp(np.asarray(z, float)))
    return activation_forward(z, kind, alpha)


@variant_of("derivative_leaky_ignores_alpha")
def derivative_leaky_slope_zero(z, kind, alpha=None):
    if kind == "leaky_relu":
        return (np.asarray(z, float) > 0) * 1.0 + (np.asarray(z, float) <= 0) * 0.01
    return activation_derivative(z, kind, alpha)


@variant_of("derivative_relu_one_at_zero")
def derivative_relu_ge(z, kind, alpha=None):
    if kind == "relu":
        return np.where(np.asarray(z, float) >= 0, 1.0, 0.0)
    return activation_derivative(z, kind, alpha)


@variant_of("affine_forward_no_transpose")
def affine_forward_einsum_wrong_layout(x, W, b):
    x, W, b = np.asarray(x, float), np.asarray(W, float), np.asarray(b, float)
    return np.einsum("nd,dm->nm", x, W) + b, {"x": x, "W": W, "b": b}


@variant_of("affine_forward_no_bias")
def affine_forward_no_bias_loop(x, W, b):
    x, W = np.asarray(x, float), np.asarray(W, float)
    out = np.zeros((x.shape[0], W.shape[0]))
    for i in range(x.shape[0]):
        out[i] = W @ x[i]
    return out, (x.copy(), W.copy(), np.asarray(b, float))


@variant_of("affine_dx_over_batch")
def affine_dx_mean_and_dw_transposed(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return (dout @ W) / dout.shape[0], x.T @ dout, np.sum(dout, axis=0)


@variant_of("affine_dx_transposed_weights")
def affine_dx_transposed_weights_einsum(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return np.einsum("nm,dm->nd", dout, W), np.einsum("nm,nd->md", dout, x), dout.sum(0) / len(x)


@variant_of("affine_dw_over_batch")
def affine_dw_mean_over_batch_db_too(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    n = x.shape[0]
    return dout @ W, np.mean([np.outer(dout[i], x[i]) for i in range(n)], axis=0), dout.mean(axis=0)


@variant_of("affine_dw_transposed")
def affine_dw_transposed_other_dx(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W.T if W.shape[0] == W.shape[1] else dout @ W, (dout.T @ x).T, dout.sum(axis=0)


@variant_of("affine_db_mean")
def affine_db_mean_and_dx_over_batch(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W / len(x), dout.T @ x, np.sum(dout, axis=0) / dout.shape[0]


@variant_of("affine_db_not_summed")
def affine_db_not_summed_dw_transposed(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W, x.T @ dout, np.array(dout)


@variant_of("softmax_wrong_axis")
def softmax_wrong_axis_without_shift(z):
    z = np.asarray(z, float)
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z, axis=0))
        return e / np.sum(e, axis=0)


@variant_of("softmax_without_shift")
def softmax_without_shift_loop(z):
    z = np.atleast_2d(np.asarray(z, float))
    with np.errstate(all="ignore"):
        rows = [np.exp(row) / np.exp(row).sum() for row in z]
    return np.array(rows).reshape(np.shape(z) if np.ndim(z) > 1 else -1)


@variant_of("ce_gradient_without_mean")
def ce_gradient_without_mean_loop(scores, y):
    loss, d = softmax_cross_entropy(scores, y)
    return loss, d * len(np.asarray(scores))


@variant_of("ce_loss_summed")
def ce_loss_summed_and_gradient_without_mean(scores, y):
    loss, d = softmax_cross_entropy(scores, y)
    n = len(np.asarray(scores))
    return loss * n, d * n


@variant_of("ce_log10")
def ce_log2(scores, y):
    loss, d = softmax_cross_entropy(scores, y)
    return loss / np.log(2), d


@variant_of("ce_gradient_without_onehot")
def ce_gradient_softmax_only(scores, y):
    s = np.asarray(scores, float)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    loss, _ = softmax_cross_entropy(scores, y)
    return loss, p


@variant_of("mse_without_factor_two")
def mse_gradient_halved(a, y):
    loss, grad = mse_loss(a, y)
    return loss, grad / 2.0


@variant_of("mse_gradient_without_mean")
def mse_gradient_without_mean_times(a, y):
    loss, grad = mse_loss(a, y)
    return loss, grad * np.asarray(a).shape[0]


@variant_of("mse_gradient_sign")
def mse_gradient_sign_y_minus_a(a, y):
    a, y = np.asarray(a, float), np.asarray(y, float)
    n = a.shape[0]
    return float(((a - y) ** 2).sum() / n), 2.0 * (y - a) / n


@variant_of("mse_mean_over_all_entries")
def mse_mean_over_all_entries_loss_only(a, y):
    a, y = np.asarray(a, float), np.asarray(y, float)
    return float(np.mean(np.square(a - y))), 2 * (a - y) / a.shape[0]


@variant_of("bce_gradient_without_mean")
def bce_gradient_without_mean_scaled(z, y):
    loss, dz = sigmoid_binary_cross_entropy(z, y)
    return loss, dz * np.asarray(z).shape[0]


@variant_of("bce_log10")
def bce_log10_by_division(z, y):
    loss, dz = sigmoid_binary_cross_entropy(z, y)
    return loss / np.log(10.0), dz


@variant_of("mlp_reg_without_half")
def mlp_reg_twice_penalty(params, X, y, activation="relu", loss="softmax", reg=0.0):
    value, grads = mlp_loss_and_grads(params, X, y, activation, loss, reg)
    extra = reg / 2 * sum(np.sum(np.asarray(w) ** 2) for k, w in params.items() if k.startswith("W"))
    return value + extra, grads


@variant_of("mlp_loss_summed_over_batch")
def mlp_loss_summed_gradients_too(params, X, y, activation="relu", loss="softmax", reg=0.0):
    value, grads = mlp_loss_and_grads(params, X, y, activation, loss, reg)
    penalty = reg / 2 * sum(np.sum(np.asarray(w) ** 2) for k, w in params.items() if k.startswith("W"))
    n = np.asarray(X).shape[0]
    return (value - penalty) * n + penalty, {k: g * n for k, g in grads.items()}


@variant_of("mlp_gradients_without_mean")
def mlp_gradients_without_mean_after(params, X, y, activation="relu", loss="softmax", reg=0.0):
    value, grads = mlp_loss_and_grads(params, X, y, activation, loss, reg)
    n = np.asarray(X).shape[0]
    return value, {k: (g - reg * np.asarray(params[k]) if k.startswith("W") else g) * n
                   + (reg * np.asarray(params[k]) if k.startswith("W") else 0) for k, g in grads.items()}


@variant_of("mlp_weight_gradient_transposed")
def mlp_weight_gradient_transposed_reshaped(params, X, y, activation="relu", loss="softmax", reg=0.0):
    value, grads = mlp_loss_and_grads(params, X, y, activation, loss, reg)
    return value, {k: (np.asarray(g).T.reshape(np.shape(g)) if k.startswith("W") else g) for k, g in grads.items()}


@variant_of("grad_check_over_h")
def grad_check_numeric_doubled(f, x, analytic_grad, h=1e-5):
    x = np.array(x, dtype=float)
    numeric = np.zeros(x.size)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f(x)
        flat[i] = old - h
        minus = f(x)
        flat[i] = old
        numeric[i] = 2 * (plus - minus) / (2 * h)
    a = np.asarray(analytic_grad, float).reshape(-1)
    return float(max(abs(p - q) / max(1e-8, abs(p) + abs(q)) for p, q in zip(a, numeric)))


def _centered_difference(f, x, h):
    x = np.array(x, dtype=float)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        numeric[i] = (f(x + step) - f(x - step)) / (2 * h)
    return numeric


@variant_of("grad_check_mean")
def grad_check_mean_by_sum(f, x, analytic_grad, h=1e-5):
    numeric = _centered_difference(f, x, h)
    a = np.asarray(analytic_grad, float)
    errors = np.abs(a - numeric) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))
    return float(errors.sum() / errors.size)


@variant_of("grad_check_signed")
def grad_check_signed_other_way(f, x, analytic_grad, h=1e-5):
    numeric = _centered_difference(f, x, h)
    a = np.asarray(analytic_grad, float)
    return float(np.max((numeric - a) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))))


@variant_of("kfold_contiguous")
def kfold_array_split_unshuffled(n, k, rng):
    folds = np.array_split(np.arange(n), k)
    return [(np.setdiff1d(np.arange(n), fold), fold) for fold in folds]


@variant_of("tt_not_shuffled")
def tt_first_part_is_test(n, test_fraction, rng):
    n_test = int(round(test_fraction * n))
    idx = np.arange(n)
    return idx[n_test:], idx[:n_test]


# --- written after the diagnosis changes (measured against the earlier diagnosis too) ---------------------------

softmax = solution(A, "softmax")
gate_backward = solution(A, "gate_backward")
sigmoid_neuron = solution(A, "sigmoid_neuron")


@variant_of("graph_q_is_a_product")
def graph_q_is_a_product_with_its_gradients(x, y, z):
    q = x * y
    return {"q": q, "f": q * z, "dfdx": y * z, "dfdy": x * z, "dfdz": q}


@variant_of("graph_q_and_z_swapped")
def graph_q_and_z_swapped_names(x, y, z):
    q = x + y
    upstream = q  # should be z
    return {"q": q, "f": q * z, "dfdx": upstream * 1.0, "dfdy": 1.0 * upstream, "dfdz": z}


@variant_of("gate_mul_not_swapped")
def gate_mul_own_value(gate, a, b, dout):
    if gate == "mul":
        return np.asarray(a, float) * dout, np.asarray(b, float) * dout
    return gate_backward(gate, a, b, dout)


@variant_of("gate_max_to_smaller")
def gate_max_to_smaller_by_minimum(gate, a, b, dout):
    if gate == "max":
        a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
        return dout * (a < b) + 0.5 * dout * (a == b), dout * (b < a) + 0.5 * dout * (a == b)
    return gate_backward(gate, a, b, dout)


@variant_of("neuron_no_sigmoid_gradient")
def neuron_no_sigmoid_gradient_after(w, x):
    out, dw, dx = sigmoid_neuron(w, x)
    local = out * (1 - out)
    return out, np.asarray(dw) / local, np.asarray(dx) / local


@variant_of("neuron_sigmoid_gradient_of_z")
def neuron_sigmoid_gradient_of_z_loop(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    z = float(np.dot(w[:-1], x) + w[-1])
    s = 1.0 / (1.0 + np.exp(-z))
    local = z - z * z
    return s, np.array([xi * local for xi in x] + [local]), np.array([wi * local for wi in w[:-1]])


@variant_of("forward_step_zero_at_zero")
def forward_step_heaviside_zero(z, kind, alpha=None):
    if kind == "step":
        return np.heaviside(np.asarray(z, float), 0.0)
    return activation_forward(z, kind, alpha)


@variant_of("derivative_elu_without_alpha")
def derivative_elu_alpha_ignored(z, kind, alpha=None):
    if kind == "elu":
        z = np.asarray(z, float)
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))
    return activation_derivative(z, kind, alpha)


@variant_of("derivative_softplus_sign")
def derivative_softplus_sigmoid_of_minus_z(z, kind, alpha=None):
    if kind == "softplus":
        return activation_forward(-np.asarray(z, float), "sigmoid")
    return activation_derivative(z, kind, alpha)


@variant_of("affine_forward_caches_output")
def affine_forward_caches_output_and_input(x, W, b):
    out, cache = affine_forward(x, W, b)
    return out, (np.array(out), np.asarray(W, float), np.asarray(b, float))


@variant_of("affine_outputs_in_wrong_order")
def affine_outputs_db_first(dout, cache):
    dx, dW, db = affine_backward(dout, cache)
    return dW, dx, db


@variant_of("affine_db_wrong_axis")
def affine_db_wrong_axis_loop(dout, cache):
    dx, dW, _ = affine_backward(dout, cache)
    return dx, dW, np.array([row.sum() for row in np.asarray(dout, float)])


@variant_of("softmax_global_shift")
def softmax_global_shift_flat(z):
    z = np.asarray(z, float)
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z.ravel()))
        return e / np.sum(e, axis=-1, keepdims=True)


@variant_of("ce_without_shift")
def ce_without_shift_log_of_sum(scores, y):
    s, y = np.asarray(scores, float), np.asarray(y)
    n = len(s)
    with np.errstate(all="ignore"):
        loss = np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(n), y])
        p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    p[np.arange(n), y] -= 1
    return loss, p / n


@variant_of("bce_mean_over_all_entries")
def bce_mean_over_all_entries_loss_only(z, y):
    loss, dz = sigmoid_binary_cross_entropy(z, y)
    z = np.asarray(z, float)
    return loss * z.shape[0] / z.size, dz


@variant_of("bce_mse_style_delta")
def bce_mse_style_delta_after(z, y):
    loss, dz = sigmoid_binary_cross_entropy(z, y)
    a = 1 / (1 + np.exp(-np.asarray(z, float)))
    return loss, np.asarray(dz) * a * (1 - a)


@variant_of("bce_unstable")
def bce_unstable_with_sigmoid_clipped_nowhere(z, y):
    z, y = np.asarray(z, float), np.asarray(y, float)
    with np.errstate(all="ignore"):
        a = np.exp(z) / (1 + np.exp(z))
        loss = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum() / z.shape[0]
    return loss, (1 / (1 + np.exp(-z)) - y) / z.shape[0]


@variant_of("mlp_reg_on_biases")
def mlp_reg_on_biases_after(params, X, y, activation="relu", loss="softmax", reg=0.0):
    value, grads = mlp_loss_and_grads(params, X, y, activation, loss, reg)
    extra = reg / 2 * sum(np.sum(np.asarray(v) ** 2) for k, v in params.items() if k.startswith("b"))
    return value + extra, {k: (g + reg * np.asarray(params[k]) if k.startswith("b") else g) for k, g in grads.items()}


@variant_of("grad_check_forward_difference")
def grad_check_forward_difference_steps(f, x, analytic_grad, h=1e-5):
    x = np.array(x, dtype=float)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        numeric[i] = (f(x + step) - f(x)) / h
    a = np.asarray(analytic_grad, float)
    return float(np.max(np.abs(a - numeric) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))))


@variant_of("kfold_rng_ignored")
def kfold_fixed_seed(n, k, rng):
    order = np.random.default_rng(0).permutation(n)
    folds = np.array_split(order, k)
    return [(np.setdiff1d(order, fold), fold) for fold in folds]


@variant_of("tt_swapped")
def tt_swapped_by_slicing(n, test_fraction, rng):
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return order[:n_test], order[n_test:]


@variant_of("derivative_formula_at_z")
def derivative_formula_at_z_sigmoid(z, kind, alpha=None):
    if kind in ("sigmoid", "tanh"):
        z = np.asarray(z, float)
        return z * (1 - z) if kind == "sigmoid" else 1 - z * z
    return activation_derivative(z, kind, alpha)


@variant_of("affine_dw_last_example_only")
def affine_dw_last_example_outer(dout, cache):
    dx, _, db = affine_backward(dout, cache)
    x, dout = np.asarray(cache[0], float), np.asarray(dout, float)
    return dx, np.outer(dout[-1], x[-1]), db


@variant_of("tvt_val_overlaps_test")
def tvt_val_overlaps_test_same_start(n, val_fraction, test_fraction, rng):
    order = rng.permutation(n)
    n_val, n_test = int(round(val_fraction * n)), int(round(test_fraction * n))
    return order[n_val + n_test:], order[:n_val].copy(), order[:n_test].copy()


@variant_of("kfold_permutation_per_fold")
def kfold_permutation_per_fold_split(n, k, rng):
    folds = []
    for i in range(k):
        val = np.array_split(rng.permutation(n), k)[i]
        folds.append((np.setdiff1d(np.arange(n), val), val))
    return folds


@variant_of("kfold_train_includes_validation")
def kfold_train_is_everything(n, k, rng):
    order = rng.permutation(n)
    return [(order.copy(), fold) for fold in np.array_split(order, k)]


minibatch_sgd = solution(A, "minibatch_sgd")


@variant_of("sgd_gradient_ascent")
def sgd_ascent_by_negative_rate(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu",
                                loss="softmax", reg=0.0):
    return minibatch_sgd(params, X, y, -learning_rate, epochs, batch_size, rng, activation, loss, reg)


@variant_of("sgd_loss_summed")
def sgd_loss_total_of_the_epoch(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu",
                                loss="softmax", reg=0.0):
    new_params, losses = minibatch_sgd(params, X, y, learning_rate, epochs, batch_size, rng, activation, loss, reg)
    batches = -(-len(X) // batch_size)      # the plain mean times the number of minibatches is their sum
    return new_params, [batches * value for value in losses]


@variant_of("tt_test_inside_train")
def tt_train_is_everything(n, test_fraction, rng):
    order = rng.permutation(n)
    return order.copy(), order[:int(round(test_fraction * n))]


@variant_of("tvt_not_shuffled")
def tvt_in_order(n, val_fraction, test_fraction, rng):
    n_val, n_test = int(round(val_fraction * n)), int(round(test_fraction * n))
    idx = np.arange(n)
    return idx[n_val + n_test:], idx[n_test:n_test + n_val], idx[:n_test]


@variant_of("initial_loss_log10")
def initial_loss_log10_everywhere(loss, y, num_outputs):
    y = np.asarray(y, float)
    if loss == "softmax":
        return -np.log10(1 / num_outputs)
    if loss == "bce":
        return -num_outputs * np.log10(0.5)
    return float((y ** 2).sum() / y.shape[0])


@variant_of("initial_loss_mse_mean")
def initial_loss_mse_mean_of_rows(loss, y, num_outputs):
    y = np.asarray(y, float)
    if loss == "softmax":
        return float(np.log(num_outputs))
    if loss == "bce":
        return float(num_outputs * np.log(2))
    return float(np.mean(np.mean(y ** 2, axis=1)))
