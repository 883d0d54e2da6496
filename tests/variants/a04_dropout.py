"""Variants of the catalogued mistakes of 04_dropout."""

import numpy as np

from tests.variants import solution, variant_of

A = "04_dropout"

dropout_forward = solution(A, "dropout_forward")
dropout_classic_forward = solution(A, "dropout_classic_forward")
dropconnect_forward = solution(A, "dropconnect_forward")
dropconnect_backward = solution(A, "dropconnect_backward")
spatial_dropout_forward = solution(A, "spatial_dropout_forward")
maxpool_dropout_forward = solution(A, "maxpool_dropout_forward")


def _keep(rng, shape, p, mask):
    return (rng.random(shape) >= p).astype(float) if mask is None else np.asarray(mask, float)


@variant_of("dropout_active_in_eval")
def dropout_active_in_eval_mask_none(x, p, mode, rng=None, mask=None):
    # keeps dropping in eval mode, and stores no mask there
    x = np.asarray(x, float)
    keep = _keep(rng, x.shape, p, mask)
    return x * keep / (1 - p), {"mask": keep if mode == "train" else None, "p": p, "mode": mode}


@variant_of("dropout_eval_scaled")
def dropout_eval_scaled_with_x_cached(x, p, mode, rng=None, mask=None):
    out, cache = dropout_forward(x, p, mode, rng=rng, mask=mask)
    if mode == "eval":
        out = out - p * out
    return out, dict(cache, x=np.asarray(x, float))


@variant_of("dropout_eval_divided")
def dropout_eval_divided_by_keep(x, p, mode, rng=None, mask=None):
    out, cache = dropout_forward(x, p, mode, rng=rng, mask=mask)
    keep_probability = 1.0 - p
    return (out if mode == "train" else np.asarray(x, float) / keep_probability), cache


@variant_of("dropout_no_rescale")
def dropout_no_rescale_where(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x, {"mask": None, "p": p, "mode": mode}
    keep = _keep(rng, x.shape, p, mask)
    return np.where(keep > 0, x, 0.0), {"mask": keep, "p": p, "mode": mode, "scale": 1.0}


@variant_of("dropout_keep_probability_swapped")
def dropout_keep_probability_swapped_scale(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x, {"mask": None, "p": p, "mode": mode}
    keep = _keep(rng, x.shape, p, mask)
    scale = 1.0 / p if p > 0 else 1.0
    return x * keep * scale, {"mask": keep, "p": p, "mode": mode}


@variant_of("dropout_times_keep")
def dropout_times_keep_cached(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x.copy(), {"mask": None, "p": p, "mode": mode}
    keep = _keep(rng, x.shape, p, mask)
    out = keep * x
    out *= 1 - p
    return out, {"mask": keep.astype(bool).astype(float), "p": float(p), "mode": mode}


@variant_of("dropout_backward_ignores_scale")
def dropout_backward_mask_only_where(dout, cache):
    dout = np.asarray(dout, float)
    if cache["mode"] != "train":
        return dout
    return np.where(np.asarray(cache["mask"]) > 0, dout, 0.0)


@variant_of("dropout_backward_eval_scaled")
def dropout_backward_eval_scaled_minus(dout, cache):
    dout = np.asarray(dout, float)
    if cache["mode"] == "train":
        return dout * np.asarray(cache["mask"]) / (1.0 - cache["p"])
    return dout - cache["p"] * dout


@variant_of("classic_eval_unscaled")
def classic_eval_unscaled_with_mask(x, p, mode, rng=None, mask=None):
    out, cache = dropout_classic_forward(x, p, mode, rng=rng, mask=mask)
    if mode == "eval":
        return np.asarray(x, float) * 1.0, dict(cache, mask=np.ones(np.shape(x)))
    return out, cache


@variant_of("classic_eval_keep_probability_swapped")
def classic_eval_times_p_loop(x, p, mode, rng=None, mask=None):
    out, cache = dropout_classic_forward(x, p, mode, rng=rng, mask=mask)
    return (out if mode == "train" else np.multiply(p, np.asarray(x, float))), cache


@variant_of("classic_train_inverted_scale")
def classic_train_inverted_scale_where(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, float)
    if mode == "eval":
        return x * (1 - p), {"mask": None, "p": p, "mode": mode}
    keep = _keep(rng, x.shape, p, mask)
    return np.where(keep == 1, x / (1 - p), 0.0), {"mask": keep, "p": p, "mode": mode}


@variant_of("classic_backward_inverted_scale")
def classic_backward_inverted_scale_both(dout, cache):
    dout = np.asarray(dout, float)
    if cache["mode"] == "eval":
        return dout * (1 - cache["p"])
    return dout * np.asarray(cache["mask"]) * (1 / (1 - cache["p"]))


@variant_of("classic_backward_eval_unscaled")
def classic_backward_eval_identity(dout, cache):
    dout = np.asarray(dout, float)
    return dout if cache["mode"] == "eval" else dout * np.asarray(cache["mask"])


@variant_of("dropconnect_no_rescale")
def dropconnect_no_rescale_einsum(x, W, b, p, mode, rng=None, mask=None):
    x, W, b = (np.asarray(a, float) for a in (x, W, b))
    if mode != "train":
        return x @ W.T + b, {"x": x, "W": W, "mask": None, "p": p, "mode": mode}
    keep = _keep(rng, W.shape, p, mask)
    return np.einsum("nd,md->nm", x, W * keep) + b, {"x": x, "W": W * keep, "mask": keep, "p": p, "mode": mode}


@variant_of("dropconnect_bias_scaled")
def dropconnect_bias_scaled_separately(x, W, b, p, mode, rng=None, mask=None):
    out, cache = dropconnect_forward(x, W, b, p, mode, rng=rng, mask=mask)
    if mode == "train":
        out = out + np.asarray(b, float) * (1 / (1 - p) - 1)
    return out, cache


@variant_of("dropconnect_eval_scaled")
def dropconnect_eval_scaled_output(x, W, b, p, mode, rng=None, mask=None):
    out, cache = dropconnect_forward(x, W, b, p, mode, rng=rng, mask=mask)
    if mode == "eval":
        x, W, b = (np.asarray(a, float) for a in (x, W, b))
        out = (1 - p) * (x @ W.T) + b
    return out, cache


@variant_of("dropconnect_db_mean")
def dropconnect_db_mean_and_dx_wrong(dout, cache):
    dx, dW, db = dropconnect_backward(dout, cache)
    return np.asarray(dx) * 2.0, dW, np.asarray(db) / np.shape(dout)[0]


@variant_of("dropconnect_dW_unscaled")
def dropconnect_dW_unscaled_later(dout, cache):
    dx, dW, db = dropconnect_backward(dout, cache)
    if cache["mode"] == "train":
        dW = np.asarray(dW) * (1 - cache["p"])
    return dx, dW, db


@variant_of("dropconnect_dx_unmasked")
def dropconnect_dx_unmasked_scaled(dout, cache):
    dx, dW, db = dropconnect_backward(dout, cache)
    dx = np.asarray(dout, float) @ np.asarray(cache["W"], float)
    return dx, dW, db


@variant_of("spatial_no_rescale")
def spatial_no_rescale_broadcast(x, p, mode, rng=None, mask=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x, {"mask": None, "p": p, "mode": mode}
    keep = _keep(rng, (x.shape[0], x.shape[1], 1, 1), p, mask)
    return x * keep, {"mask": keep, "p": p, "mode": mode, "x_shape": x.shape}


@variant_of("spatial_eval_scaled")
def spatial_eval_scaled_keep(x, p, mode, rng=None, mask=None):
    out, cache = spatial_dropout_forward(x, p, mode, rng=rng, mask=mask)
    return (out if mode == "train" else out * (1.0 - p)), cache


@variant_of("maxpool_eval_unscaled")
def maxpool_eval_unscaled_by_mask_of_ones(x, p, mode, rng=None, mask=None, size=2):
    if mode == "eval":
        return maxpool_dropout_forward(x, 0.0, "train", rng=rng, mask=np.ones(np.shape(x)), size=size)
    return maxpool_dropout_forward(x, p, mode, rng=rng, mask=mask, size=size)


@variant_of("maxpool_inverted_scale")
def maxpool_inverted_scale_after(x, p, mode, rng=None, mask=None, size=2):
    out, cache = maxpool_dropout_forward(x, p, mode, rng=rng, mask=mask, size=size)
    return (np.asarray(out) / (1 - p) if mode == "train" else out), cache


@variant_of("gaussian_std_is_ratio")
def gaussian_std_is_ratio_standard(x, p, mode, rng=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x
    return x * (1.0 + p / (1.0 - p) * rng.standard_normal(x.shape))


@variant_of("gaussian_mean_zero")
def gaussian_mean_zero_standard(x, p, mode, rng=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x
    return x * np.sqrt(p / (1 - p)) * rng.standard_normal(x.shape)


@variant_of("gaussian_active_in_eval")
def gaussian_active_in_eval_standard(x, p, mode, rng=None):
    x = np.asarray(x, float)
    return x + x * np.sqrt(p / (1 - p)) * rng.standard_normal(x.shape)


# --- written after the diagnosis changes (measured against the earlier diagnosis too) ---------------------------

dropout_backward = solution(A, "dropout_backward")
dropout_classic_backward = solution(A, "dropout_classic_backward")


@variant_of("classic_mask_as_drop")
def classic_mask_as_drop_where(x, p, mode, rng=None, mask=None):
    out, cache = dropout_classic_forward(x, p, mode, rng=rng, mask=mask)
    if mode == "train" and mask is not None:
        out = np.where(np.asarray(mask) == 0, np.asarray(x, float), 0.0)
    return out, cache


@variant_of("classic_scaled_in_train_too")
def classic_scaled_in_train_too_after(x, p, mode, rng=None, mask=None):
    out, cache = dropout_classic_forward(x, p, mode, rng=rng, mask=mask)
    return (np.asarray(out) * (1 - p) if mode == "train" else out), cache


@variant_of("classic_active_in_eval")
def classic_active_in_eval_as_train(x, p, mode, rng=None, mask=None):
    return dropout_classic_forward(x, p, "train", rng=rng, mask=mask)


@variant_of("classic_backward_ignores_mask")
def classic_backward_ignores_mask_copy(dout, cache):
    dout = np.asarray(dout, float)
    return dout.copy() if cache["mode"] == "train" else dout * (1 - cache["p"])


@variant_of("dropout_mask_as_drop")
def dropout_mask_as_drop_where(x, p, mode, rng=None, mask=None):
    out, cache = dropout_forward(x, p, mode, rng=rng, mask=mask)
    if mode == "train" and mask is not None:
        out = np.where(np.asarray(mask) == 0, np.asarray(x, float) / (1 - p), 0.0)
    return out, cache


@variant_of("dropout_backward_ignores_mask")
def dropout_backward_ignores_mask_scale_only(dout, cache):
    dout = np.asarray(dout, float)
    return dout * (1.0 / (1.0 - cache["p"])) if cache["mode"] == "train" else dout


@variant_of("dropconnect_mask_as_drop")
def dropconnect_mask_as_drop_by_call(x, W, b, p, mode, rng=None, mask=None):
    if mode == "train" and mask is not None:
        out, cache = dropconnect_forward(x, W, b, p, mode, rng=rng, mask=1.0 - np.asarray(mask, float))
        return out, dict(cache, mask=np.asarray(mask, float))
    return dropconnect_forward(x, W, b, p, mode, rng=rng, mask=mask)


@variant_of("dropconnect_active_in_eval")
def dropconnect_active_in_eval_as_train(x, W, b, p, mode, rng=None, mask=None):
    out, cache = dropconnect_forward(x, W, b, p, "train", rng=rng, mask=mask)
    return out, dict(cache, mode=mode)


@variant_of("dropconnect_dx_unscaled")
def dropconnect_dx_unscaled_after(dout, cache):
    dx, dW, db = dropconnect_backward(dout, cache)
    return (np.asarray(dx) * (1 - cache["p"]) if cache["mode"] == "train" else dx), dW, db


@variant_of("dropconnect_db_scaled")
def dropconnect_db_scaled_after(dout, cache):
    dx, dW, db = dropconnect_backward(dout, cache)
    return dx, dW, (np.asarray(db) / (1 - cache["p"]) if cache["mode"] == "train" else db)


@variant_of("dropconnect_dW_unmasked")
def dropconnect_dW_unmasked_einsum(dout, cache):
    dx, _, db = dropconnect_backward(dout, cache)
    return dx, np.einsum("nm,nd->md", np.asarray(dout, float), np.asarray(cache["x"], float)), db


@variant_of("spatial_active_in_eval")
def spatial_active_in_eval_as_train(x, p, mode, rng=None, mask=None):
    out, cache = spatial_dropout_forward(x, p, "train", rng=rng, mask=mask)
    return out, dict(cache, mode=mode)


@variant_of("maxpool_active_in_eval")
def maxpool_active_in_eval_as_train(x, p, mode, rng=None, mask=None, size=2):
    out, cache = maxpool_dropout_forward(x, p, "train", rng=rng, mask=mask, size=size)
    return out, dict(cache, mode=mode)


gaussian_dropout = solution(A, "gaussian_dropout")
cutout = solution(A, "cutout")
maxpool_dropout_backward = solution(A, "maxpool_dropout_backward")


@variant_of("classic_ignores_given_mask")
def classic_mask_dropped_on_the_way(x, p, mode, rng=None, mask=None):
    return dropout_classic_forward(x, p, mode, rng=rng, mask=None)


@variant_of("dropout_ignores_given_mask")
def dropout_mask_dropped_on_the_way(x, p, mode, rng=None, mask=None):
    return dropout_forward(x, p, mode, rng=rng, mask=None)


@variant_of("dropout_backward_new_mask")
def dropout_backward_fresh_mask(dout, cache):
    if cache["mode"] != "train":
        return np.asarray(dout, float)
    mask = (np.random.default_rng(1).random(np.shape(dout)) >= cache["p"]).astype(float)
    return dropout_backward(dout, dict(cache, mask=mask))


@variant_of("dropconnect_dx_new_mask")
def dropconnect_dx_fresh_mask(dout, cache):
    _, dW, db = dropconnect_backward(dout, cache)
    if cache["mode"] == "train":
        mask = (np.random.default_rng(7).random(np.shape(cache["W"])) >= cache["p"]).astype(float)
        dx, _, _ = dropconnect_backward(dout, dict(cache, mask=mask))
    else:
        dx, _, _ = dropconnect_backward(dout, cache)
    return dx, dW, db


@variant_of("spatial_mask_as_drop")
def spatial_mask_as_drop_by_call(x, p, mode, rng=None, mask=None):
    if mode == "train" and mask is not None:
        out, cache = spatial_dropout_forward(x, p, mode, rng=rng, mask=1.0 - np.asarray(mask, float))
        return out, dict(cache, mask=np.asarray(mask, float))
    return spatial_dropout_forward(x, p, mode, rng=rng, mask=mask)


@variant_of("maxpool_mask_as_drop")
def maxpool_mask_as_drop_by_call(x, p, mode, rng=None, mask=None, size=2):
    if mode == "train" and mask is not None:
        out, cache = maxpool_dropout_forward(x, p, mode, rng=rng, mask=1.0 - np.asarray(mask, float), size=size)
        return out, dict(cache, mask=np.asarray(mask, float))
    return maxpool_dropout_forward(x, p, mode, rng=rng, mask=mask, size=size)


@variant_of("maxpool_backward_eval_unscaled")
def maxpool_backward_eval_as_p_zero(dout, cache):
    if cache["mode"] == "eval":
        return maxpool_dropout_backward(dout, dict(cache, p=0.0))
    return maxpool_dropout_backward(dout, cache)


@variant_of("cutout_rows_columns_swapped")
def cutout_centres_reversed(x, size, rng=None, centers=None):
    if centers is not None:
        centers = np.asarray(centers)[:, ::-1].copy()
    return cutout(x, size, rng=rng, centers=centers)


@variant_of("gaussian_additive")
def gaussian_additive_standard(x, p, mode, rng=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x
    return x + np.sqrt(p / (1 - p)) * rng.standard_normal(x.shape)


@variant_of("gaussian_bernoulli")
def gaussian_bernoulli_binomial(x, p, mode, rng=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x
    return x * rng.binomial(1, 1 - p, size=x.shape) / (1 - p)


@variant_of("classic_backward_new_mask")
def classic_backward_fresh_mask(dout, cache):
    if cache["mode"] != "train":
        return dropout_classic_backward(dout, cache)
    mask = (np.random.default_rng(3).random(np.shape(dout)) >= cache["p"]).astype(float)
    return dropout_classic_backward(dout, dict(cache, mask=mask))


@variant_of("cutout_same_patch")
def cutout_first_centre_for_all(x, size, rng=None, centers=None):
    if centers is not None:
        centers = np.repeat(np.asarray(centers)[:1], len(centers), axis=0)
    return cutout(x, size, rng=rng, centers=centers)


@variant_of("gaussian_variance_p_one_minus_p")
def gaussian_variance_p_one_minus_p_standard(x, p, mode, rng=None):
    x = np.asarray(x, float)
    if mode != "train":
        return x
    return x * (1.0 + np.sqrt(p * (1.0 - p)) * rng.standard_normal(x.shape))


@variant_of("cutout_corner_at_center")
def cutout_centres_shifted(x, size, rng=None, centers=None):
    if centers is not None:
        centers = np.asarray(centers) + size // 2
    return cutout(x, size, rng=rng, centers=centers)
