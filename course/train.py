"""A small minibatch SGD loop for models written with plain numpy, with a tqdm progress bar and a history.

A model is a dict of parameter arrays plus two functions the notebook provides:
    loss_and_grads(params, X, y) -> (loss, grads)   grads: dict shaped like params
    predict(params, X) -> class scores (n, C) or labels (n,)
The loop shuffles the training set at the start of every epoch (lecture 001: an epoch is one pass over all
minibatches) and applies w <- w - eta dL/dw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tqdm.auto import tqdm


@dataclass
class History:
    """Per-epoch records: mean training loss over the epoch's minibatches, and accuracies after the epoch."""

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """Yield index arrays that cover a fresh permutation of range(n) in chunks of batch_size (the last may be short)."""
    if batch_size < 1:
        raise ValueError("minibatches: batch_size must be at least 1")
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def accuracy(scores_or_labels: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions; accepts class scores (n, C) or predicted labels (n,)."""
    predicted = np.asarray(scores_or_labels)
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=1)
    return float(np.mean(predicted == np.asarray(y)))


def sgd_step(params: dict, grads: dict, learning_rate: float) -> dict:
    """New parameters w - eta * dL/dw (the arguments are not modified)."""
    return {name: value - learning_rate * grads[name] for name, value in params.items()}


def train(params: dict, loss_and_grads: Callable, predict: Callable, X: np.ndarray, y: np.ndarray, *,
          learning_rate: float, epochs: int, batch_size: int = 32, seed: int = 0, validation=None,
          progress: bool = True) -> tuple[dict, History]:
    """Minibatch SGD. validation: optional (X_val, y_val). Returns the trained parameters and the History."""
    rng = np.random.default_rng(seed)
    history = History()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, leave=False)
    for _ in bar:
        losses = []
        for batch in minibatches(len(X), batch_size, rng):
            loss, grads = loss_and_grads(params, X[batch], y[batch])
            params = sgd_step(params, grads, learning_rate)
            losses.append(float(loss))
        history.loss.append(float(np.mean(losses)))
        history.train_accuracy.append(accuracy(predict(params, X), y))
        if validation is not None:
            history.val_accuracy.append(accuracy(predict(params, validation[0]), validation[1]))
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}")
    return params, history
