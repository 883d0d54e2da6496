"""Variants of the catalogued mistakes of 03_regularization."""

import numpy as np

from tests.variants import solution, variant_of

A = "03_regularization"

smoothed_cross_entropy = solution(A, "smoothed_cross_entropy")
sgd_step = solution(A, "sgd_step")


def _weights(params):
    return [np.asarray(v, float) for k, v in params.items() if k.startswith("W")]


@variant_of("l2_penalty_with_biases")
def l2_penalty_everything_flattened(params, lam, n):
    flat = np.concatenate([np.ravel(v) for v in params.values()])
    return float(lam / (2 * n) * flat @ flat)


@variant_of("l2_penalty_lam_over_n")
def l2_penalty_without_half_loop(params, lam, n):
    total = 0.0
    for w in _weights(params):
        total += (w * w).sum()
    return lam * total / n


@variant_of("l2_penalty_no_n")
def l2_penalty_no_n_norms(params, lam, n):
    return 0.5 * lam * sum(np.linalg.norm(w) ** 2 for w in _weights(params))


@variant_of("l2_penalty_norm_not_squared")
def l2_penalty_norm_not_squared_linalg(params, lam, n):
    return lam / (2 * n) * sum(float(np.linalg.norm(w.ravel())) for w in _weights(params))


@variant_of("l2_grad_halved")
def l2_grad_halved_division(params, lam, n):
    return {k: (np.asarray(v, float) * lam / n / 2 if k.startswith("W") else np.zeros_like(np.asarray(v, float)))
            for k, v in params.items()}


@variant_of("l2_grad_no_n")
def l2_grad_no_n_biases_zero(params, lam, n):
    return {k: lam * np.asarray(v, float) * k.startswith("W") for k, v in params.items()}


@variant_of("l2_grad_with_biases")
def l2_grad_with_biases_loop(params, lam, n):
    grads = {}
    for name, value in params.items():
        grads[name] = (lam / n) * np.array(value, dtype=float)
    return grads


@variant_of("l1_grad_half")
def l1_grad_half_copied(params, lam, n):
    return {k: (0.5 * lam / n * np.sign(np.asarray(v, float)) if k[0] == "W" else 0.0 * np.asarray(v, float))
            for k, v in params.items()}


@variant_of("l1_grad_proportional")
def l1_grad_proportional_twice(params, lam, n):
    return {k: (2 * lam / (2 * n) * np.asarray(v, float) if k[0] == "W" else np.zeros(np.shape(v)))
            for k, v in params.items()}


@variant_of("l1_grad_sign_zero_is_one")
def l1_grad_sign_zero_is_one_copysign(params, lam, n):
    return {k: (lam / n * np.copysign(1.0, np.asarray(v, float)) if k[0] == "W" else np.zeros(np.shape(v)))
            for k, v in params.items()}


@variant_of("l1_penalty_half")
def l1_penalty_half_loop(params, lam, n):
    return sum(lam / (2 * n) * np.abs(w).sum() for w in _weights(params))


@variant_of("l1_penalty_no_abs")
def l1_penalty_no_abs_flat(params, lam, n):
    return lam / n * float(np.sum(np.concatenate([w.ravel() for w in _weights(params)])))


@variant_of("sgd_step_decay_without_eta")
def sgd_step_decay_without_eta_subtract(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = sgd_step(params, grads0, eta, n, 0.0, lam1)
    return {k: (v - lam2 / n * np.asarray(params[k], float) if k.startswith("W") else v) for k, v in new.items()}


@variant_of("sgd_step_decays_biases")
def sgd_step_decays_biases_loop(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = sgd_step(params, grads0, eta, n, lam2, lam1)
    return {k: (v if k.startswith("W") else v - eta * lam2 / n * np.asarray(params[k], float))
            for k, v in new.items()}


@variant_of("sgd_step_ignores_l1")
def sgd_step_ignores_l1_by_call(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return sgd_step(params, grads0, eta, n, lam2)


@variant_of("hflip_vertical")
def hflip_vertical_flip(x):
    return np.flip(np.asarray(x, float), axis=-2)


@variant_of("hflip_fliplr")
def hflip_axis_one(x):
    return np.asarray(x)[:, ::-1].copy()


@variant_of("mixup_lam_swapped")
def mixup_lam_swapped_via_one_minus(x, y, num_classes, lam, perm):
    x, t = np.asarray(x, float), np.eye(num_classes)[np.asarray(y)]
    mu = 1.0 - lam
    return mu * x + (1 - mu) * x[perm], mu * t + (1 - mu) * t[perm]


@variant_of("mixup_labels_not_mixed")
def mixup_labels_not_mixed_zeros(x, y, num_classes, lam, perm):
    x = np.asarray(x, float)
    t = np.zeros((len(y), num_classes))
    t[np.arange(len(y)), y] = 1.0
    return lam * x + (1 - lam) * x[np.asarray(perm)], t


@variant_of("smooth_labels_k_minus_1")
def smooth_labels_k_minus_1_fill(y, num_classes, eps):
    t = np.full((len(y), num_classes), eps / (num_classes - 1))
    t[np.arange(len(y)), y] = 1 - eps
    return t


@variant_of("smooth_labels_no_mass")
def smooth_labels_no_mass_loop(y, num_classes, eps):
    t = np.zeros((len(y), num_classes))
    for i, label in enumerate(y):
        t[i, label] = 1.0 - eps
    return t


@variant_of("smooth_labels_eps_everywhere")
def smooth_labels_eps_everywhere_fill(y, num_classes, eps):
    t = np.full((len(y), num_classes), eps / num_classes)
    t[np.arange(len(y)), y] += 1.0
    return t


@variant_of("sce_sum_over_batch")
def sce_sum_loss_only(z, y, eps):
    loss, grad = smoothed_cross_entropy(z, y, eps)
    return loss * np.shape(z)[0], grad


@variant_of("sce_grad_not_averaged")
def sce_grad_not_averaged_times(z, y, eps):
    loss, grad = smoothed_cross_entropy(z, y, eps)
    return loss, np.asarray(grad) * np.shape(z)[0]


@variant_of("sce_grad_sign")
def sce_grad_negated(z, y, eps):
    loss, grad = smoothed_cross_entropy(z, y, eps)
    return loss, -np.asarray(grad)


@variant_of("sce_no_smoothing")
def sce_no_smoothing_eps_zero(z, y, eps):
    return smoothed_cross_entropy(z, y, 0.0)


@variant_of("early_stopping_last_weights")
def early_stopping_last_weights_from_solution(val_losses, weights, patience, min_delta=0.0):
    result = dict(solution(A, "early_stopping")(val_losses, weights, patience, min_delta))
    result["weights"] = np.array(weights[result["stop_epoch"]], dtype=float)
    return result


# --- written after the diagnosis changes (measured against the earlier diagnosis too) ---------------------------

l2_grad = solution(A, "l2_grad")
l1_grad = solution(A, "l1_grad")
mixup = solution(A, "mixup")
smooth_labels = solution(A, "smooth_labels")


@variant_of("l2_grad_weights_only")
def l2_grad_weights_only_loop(params, lam, n):
    return {k: g for k, g in l2_grad(params, lam, n).items() if k[0] == "W"}


@variant_of("l1_penalty_with_biases")
def l1_penalty_everything(params, lam, n):
    return lam / n * sum(float(np.abs(np.asarray(v, float)).sum()) for v in params.values())


@variant_of("l1_penalty_squared")
def l1_penalty_squared_by_multiplication(params, lam, n):
    return lam / n * sum(float((w * w).sum()) for w in _weights(params))


@variant_of("l1_grad_with_biases")
def l1_grad_with_biases_after(params, lam, n):
    grads = dict(l1_grad(params, lam, n))
    for k, v in params.items():
        if not k.startswith("W"):
            grads[k] = lam / n * np.sign(np.asarray(v, float))
    return grads


@variant_of("l1_grad_w_over_abs")
def l1_grad_w_over_abs_divide(params, lam, n):
    with np.errstate(all="ignore"):
        return {k: (lam / n * np.divide(np.asarray(v, float), np.abs(np.asarray(v, float))) if k[0] == "W"
                    else np.zeros(np.shape(v))) for k, v in params.items()}


@variant_of("sgd_step_decay_half")
def sgd_step_decay_half_by_lam(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    return sgd_step(params, grads0, eta, n, lam2 / 2, lam1)


@variant_of("sgd_step_l1_without_eta")
def sgd_step_l1_without_eta_after(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = sgd_step(params, grads0, eta, n, lam2, 0.0)
    return {k: (v - lam1 / n * np.sign(np.asarray(params[k], float)) if k.startswith("W") else v)
            for k, v in new.items()}


@variant_of("sgd_step_l1_on_biases")
def sgd_step_l1_on_biases_after(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = sgd_step(params, grads0, eta, n, lam2, lam1)
    return {k: (v if k.startswith("W") else v - eta * lam1 / n * np.sign(np.asarray(params[k], float)))
            for k, v in new.items()}


@variant_of("hflip_flipud")
def hflip_first_axis(x):
    return np.flip(np.asarray(x), axis=0).copy()


@variant_of("mixup_class_indices")
def mixup_class_indices_float(x, y, num_classes, lam, perm):
    mixed, _ = mixup(x, y, num_classes, lam, perm)
    y = np.asarray(y, float)
    return mixed, lam * y + (1.0 - lam) * y[np.asarray(perm)]


@variant_of("mixup_labels_swapped")
def mixup_labels_swapped_after(x, y, num_classes, lam, perm):
    mixed, _ = mixup(x, y, num_classes, lam, perm)
    t = np.eye(num_classes)[np.asarray(y)]
    return mixed, lam * t[np.asarray(perm)] + (1 - lam) * t


@variant_of("smooth_labels_true_class_short")
def smooth_labels_true_class_short_fill(y, num_classes, eps):
    t = np.full((len(y), num_classes), eps / num_classes)
    t[np.arange(len(y)), y] = 1 - eps
    return t


@variant_of("sce_grad_unsmoothed")
def sce_grad_unsmoothed_by_call(z, y, eps):
    loss, _ = smoothed_cross_entropy(z, y, eps)
    return loss, smoothed_cross_entropy(z, y, 0.0)[1]


@variant_of("sce_no_max_shift")
def sce_no_max_shift_log_softmax(z, y, eps):
    z = np.asarray(z, float)
    n, k = z.shape
    with np.errstate(all="ignore"):
        log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        q = smooth_labels(y, k, eps)
        return float(-(q * log_p).sum() / n), (np.exp(log_p) - q) / n


rotate = solution(A, "rotate")
zoom = solution(A, "zoom")
augment = solution(A, "augment")
early_stopping = solution(A, "early_stopping")


@variant_of("sgd_step_decay_after")
def sgd_step_decay_after_by_call(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    stepped = sgd_step(params, grads0, eta, n, 0.0, lam1)
    return {k: ((1 - eta * lam2 / n) * v if k.startswith("W") else v) for k, v in stepped.items()}


@variant_of("sgd_step_l1_proportional")
def sgd_step_l1_proportional_after(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = sgd_step(params, grads0, eta, n, lam2, 0.0)
    return {k: (v - eta * lam1 / n * np.asarray(params[k], float) if k.startswith("W") else v)
            for k, v in new.items()}


@variant_of("_rotate_radians")
def rotate_degrees_as_radians(x, angle):
    return rotate(x, np.rad2deg(np.asarray(angle, float)))


@variant_of("_rotate_clockwise")
def rotate_negative_angle(x, angle):
    return rotate(x, -np.asarray(angle, float))


@variant_of("_zoom_inverted")
def zoom_by_reciprocal(x, factor):
    return zoom(x, 1.0 / np.asarray(factor, float))


@variant_of("augment_in_eval_mode")
def augment_always_eval(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    return augment(x, rng, False, flip_prob, max_angle, max_zoom)


@variant_of("augment_own_seed")
def augment_fixed_generator(x, rng, training=True, flip_prob=0.5, max_angle=10.0, max_zoom=0.1):
    return augment(x, np.random.default_rng(42), training, flip_prob, max_angle, max_zoom)


@variant_of("early_stopping_one_late")
def early_stopping_one_more_patience(val_losses, weights, patience, min_delta=0.0):
    return early_stopping(val_losses, weights, patience + 1, min_delta)


@variant_of("early_stopping_ignores_min_delta")
def early_stopping_min_delta_zero(val_losses, weights, patience, min_delta=0.0):
    return early_stopping(val_losses, weights, patience, 0.0)


@variant_of("sce_k_minus_1")
def sce_k_minus_1_fill(z, y, eps):
    z = np.asarray(z, float)
    n, k = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = np.full((n, k), eps / (k - 1))
    q[np.arange(n), y] = 1 - eps
    return float(-np.sum(q * log_p) / n), (np.exp(log_p) - q) / n


@variant_of("sgd_step_sign_zero_is_one")
def sgd_step_sign_zero_is_one_after(params, grads0, eta, n, lam2=0.0, lam1=0.0):
    new = sgd_step(params, grads0, eta, n, lam2, lam1)
    return {k: (v - eta * lam1 / n * (np.asarray(params[k]) == 0) if k.startswith("W") else v)
            for k, v in new.items()}


@variant_of("_sample_nearest")
def sample_nearest_rint(x, theta):
    x, theta = np.asarray(x, float), np.asarray(theta, float)
    n, c, h, w = x.shape
    out = np.zeros_like(x)
    for k in range(n):
        for i in range(h):
            for j in range(w):
                gx, gy = (2 * j + 1) / w - 1, (2 * i + 1) / h - 1
                sx = theta[k, 0, 0] * gx + theta[k, 0, 1] * gy + theta[k, 0, 2]
                sy = theta[k, 1, 0] * gx + theta[k, 1, 1] * gy + theta[k, 1, 2]
                col, row = int(np.floor(((sx + 1) * w - 1) / 2 + 0.5)), int(np.floor(((sy + 1) * h - 1) / 2 + 0.5))
                if 0 <= row < h and 0 <= col < w:
                    out[k, :, i, j] = x[k, :, row, col]
    return out


@variant_of("activity_grad_sign_at_zero")
def activity_grad_minus_one_at_zero(A, lam):
    A = np.asarray(A, float)
    return float(lam * np.abs(A).sum() / len(A)), lam * np.where(A > 0, 1.0, -1.0) / len(A)


@variant_of("activity_summed_over_batch")
def activity_summed_per_example_then_added(A, lam):
    A = np.asarray(A, float)
    return float(sum(lam * np.abs(row).sum() for row in A)), lam * np.sign(A)


@variant_of("kb_swapped")
def kernel_bias_strengths_by_dict_swapped(params, kernel_l2, bias_l2):
    strength = {"W": bias_l2, "b": kernel_l2}
    penalty = sum(strength[k[0]] * float(np.sum(np.square(v))) for k, v in params.items())
    return penalty, {k: 2 * strength[k[0]] * np.asarray(v, float) for k, v in params.items()}


@variant_of("kb_kernel_for_all")
def kernel_bias_one_strength_flattened(params, kernel_l2, bias_l2):
    flat = np.concatenate([np.ravel(v) for v in params.values()])
    return float(kernel_l2 * flat @ flat), {k: 2 * kernel_l2 * np.asarray(v, float) for k, v in params.items()}


@variant_of("kb_biases_free")
def kernel_bias_weights_only_loop(params, kernel_l2, bias_l2):
    penalty = 0.0
    for w in _weights(params):
        penalty += kernel_l2 * (w ** 2).sum()
    return penalty, {k: (2 * kernel_l2 * np.asarray(v, float) if k.startswith("W") else 2 * bias_l2 * np.asarray(v, float))
                     for k, v in params.items()}


@variant_of("kb_halved")
def kernel_bias_half_norms(params, kernel_l2, bias_l2):
    penalty = sum(0.5 * (kernel_l2 if k.startswith("W") else bias_l2) * np.linalg.norm(np.ravel(v)) ** 2
                  for k, v in params.items())
    return float(penalty), {k: 2 * (kernel_l2 if k.startswith("W") else bias_l2) * np.asarray(v, float)
                            for k, v in params.items()}


@variant_of("kb_grad_without_two")
def kernel_bias_grad_as_in_decay(params, kernel_l2, bias_l2):
    penalty = sum((kernel_l2 if k.startswith("W") else bias_l2) * float(np.sum(np.square(v))) for k, v in params.items())
    return penalty, {k: np.multiply(kernel_l2 if k.startswith("W") else bias_l2, v) for k, v in params.items()}


@variant_of("kb_grad_biases_zero")
def kernel_bias_grad_zeros_like(params, kernel_l2, bias_l2):
    penalty = sum((kernel_l2 if k.startswith("W") else bias_l2) * float(np.sum(np.square(v))) for k, v in params.items())
    return penalty, {k: (2 * kernel_l2 * np.asarray(v, float) if k[0] == "W" else 0.0 * np.asarray(v, float))
                     for k, v in params.items()}


@variant_of("orth_columns")
def orthogonal_columns_einsum(W, lam):
    W = np.asarray(W, float)
    gram = np.einsum("ij,ik->jk", W, W)
    return float(lam * np.linalg.norm(gram - np.eye(len(gram)), "fro") ** 2), 4 * lam * (W @ W.T - np.eye(len(W))) @ W


@variant_of("orth_norm_not_squared")
def orthogonal_frobenius_norm(W, lam):
    W = np.asarray(W, float)
    residual = W @ W.T - np.eye(len(W))
    return float(lam * np.linalg.norm(residual, "fro")), 4 * lam * residual @ W


@variant_of("orth_no_identity")
def orthogonal_gram_only_einsum(W, lam):
    W = np.asarray(W, float)
    gram = np.einsum("ik,jk->ij", W, W)
    return float(lam * (gram ** 2).sum()), 4 * lam * gram @ W


@variant_of("orth_off_diagonal")
def orthogonal_off_diagonal_masked(W, lam):
    W = np.asarray(W, float)
    gram = W @ W.T
    gram[np.eye(len(W), dtype=bool)] = 0.0
    return float(lam * (gram ** 2).sum()), 4 * lam * gram @ W


@variant_of("orth_grad_factor_two")
def orthogonal_grad_one_side(W, lam):
    W = np.asarray(W, float)
    residual = W @ W.T - np.eye(len(W))
    return float(lam * (residual ** 2).sum()), 2 * lam * (W @ W.T @ W - W)


@variant_of("orth_grad_sign")
def orthogonal_grad_identity_first(W, lam):
    W = np.asarray(W, float)
    residual = np.eye(len(W)) - W @ W.T
    return float(lam * (residual ** 2).sum()), 4 * lam * residual @ W
