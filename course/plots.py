"""Plots the notebooks use: learning curves, per-layer histograms, image grids. Each returns its matplotlib Figure."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_curves(curves: Mapping[str, Sequence[float]], title: str, xlabel: str = "epoch", ylabel: str = "loss",
                logy: bool = False, ax=None):
    """One line per named curve (for example {'train': [...], 'validation': [...]}), with a legend."""
    if not curves:
        raise ValueError("plot_curves: no curves given")
    fig, ax = _figure(ax, (6, 4))
    for label, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return fig


def plot_layer_histograms(values_per_layer: Sequence[np.ndarray], title: str, xlabel: str = "activation value",
                          bins: int = 50, max_columns: int = 5):
    """One histogram per layer, in a row-wise grid, sharing the x axis: how a signal spreads or collapses with depth."""
    n = len(values_per_layer)
    if n == 0:
        raise ValueError("plot_layer_histograms: no layers given")
    columns = min(n, max_columns)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.2 * rows), sharex=True, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        values = np.asarray(values_per_layer[i]).ravel()
        ax.hist(values, bins=bins)
        ax.set_title(f"layer {i + 1}: std {values.std():.2g}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("count", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_image_grid(images: np.ndarray, title: str, columns: int = 8, labels: Sequence | None = None,
                    cmap: str = "gray"):
    """Show images (n, H, W) or (n, H, W, 3) in a grid, each scaled to its own range (good for weights and filters)."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"show_image_grid: expected (n, H, W) or (n, H, W, 3), got shape {images.shape}")
    n = len(images)
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.3 * rows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        image = images[i].astype(np.float64)
        low, high = image.min(), image.max()
        ax.imshow((image - low) / (high - low) if high > low else np.zeros_like(image), cmap=cmap)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _figure(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
