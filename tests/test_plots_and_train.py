"""course.plots and course.train."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import plots, train


def test_curves_have_title_labels_and_legend():
    fig = plots.plot_curves({"train": [3, 2, 1], "validation": [3, 2.5, 2]}, title="Loss")
    ax = fig.axes[0]
    assert ax.get_title() == "Loss" and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    with pytest.raises(ValueError):
        plots.plot_curves({}, title="nothing")


def test_layer_histograms_one_axis_per_layer():
    values = [np.random.default_rng(i).normal(size=100) for i in range(7)]
    fig = plots.plot_layer_histograms(values, title="Activations")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 7
    assert fig._suptitle.get_text() == "Activations"


def test_image_grid_shapes():
    fig = plots.show_image_grid(np.random.default_rng(0).normal(size=(10, 8, 8)), title="Weights", columns=4)
    assert sum(1 for ax in fig.axes if ax.images) == 10
    with pytest.raises(ValueError):
        plots.show_image_grid(np.zeros((8, 8)), title="not a batch")


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), st.integers(1, 64), st.integers(0, 1000))
def test_minibatches_cover_each_index_once(n, batch_size, seed):
    batches = list(train.minibatches(n, batch_size, np.random.default_rng(seed)))
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert all(len(b) == batch_size for b in batches[:-1])


def test_sgd_step_does_not_modify_its_arguments():
    params = {"w": np.ones(3)}
    new = train.sgd_step(params, {"w": np.ones(3)}, 0.5)
    assert np.array_equal(params["w"], np.ones(3)) and np.array_equal(new["w"], 0.5 * np.ones(3))


def test_train_fits_logistic_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)

    def loss_and_grads(params, Xb, yb):
        p = 1 / (1 + np.exp(-(Xb @ params["w"] + params["b"])))
        loss = -np.mean(yb * np.log(p + 1e-12) + (1 - yb) * np.log(1 - p + 1e-12))
        delta = (p - yb) / len(yb)
        return loss, {"w": Xb.T @ delta, "b": delta.sum()}

    def predict(params, Xb):
        return (Xb @ params["w"] + params["b"] > 0).astype(int)

    params, history = train.train({"w": np.zeros(2), "b": 0.0}, loss_and_grads, predict, X, y, learning_rate=0.5,
                                  epochs=10, batch_size=16, validation=(X, y), progress=False)
    assert len(history.loss) == len(history.val_accuracy) == 10
    assert history.loss[-1] < history.loss[0]
    assert history.train_accuracy[-1] > 0.95
