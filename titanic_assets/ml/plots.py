"""Evaluation plots as Markdown images, so they render inside the Dagster UI."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _image(title: str, draw: Callable[[Axes], None]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.5, 3.5), dpi=90)
    draw(axes)
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"![{title}](data:image/png;base64,{encoded})"


def roc_curve(labels: np.ndarray, probabilities: np.ndarray, auc: float) -> str:
    from sklearn.metrics import roc_curve as curve

    fpr, tpr, _ = curve(labels, probabilities)

    def draw(axes: Axes) -> None:
        axes.plot(fpr, tpr, label=f"AUC {auc:.3f}")
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.legend(loc="lower right")

    return _image("ROC curve", draw)


def precision_recall_curve(labels: np.ndarray, probabilities: np.ndarray, ap: float) -> str:
    from sklearn.metrics import precision_recall_curve as curve

    precision, recall, _ = curve(labels, probabilities)

    def draw(axes: Axes) -> None:
        axes.plot(recall, precision, label=f"AP {ap:.3f}")
        axes.axhline(labels.mean(), linestyle="--", color="grey")
        axes.set_xlabel("Recall")
        axes.set_ylabel("Precision")
        axes.legend(loc="lower left")

    return _image("Precision-recall curve", draw)


def confusion_matrix(confusion: list[list[int]]) -> str:
    matrix = np.asarray(confusion)

    def draw(axes: Axes) -> None:
        axes.imshow(matrix, cmap="Blues")
        for (row, col), count in np.ndenumerate(matrix):
            colour = "white" if count > matrix.max() / 2 else "black"
            axes.text(col, row, str(count), ha="center", va="center", color=colour)
        axes.set_xticks([0, 1], ["negative", "positive"])
        axes.set_yticks([0, 1], ["negative", "positive"])
        axes.set_xlabel("Predicted")
        axes.set_ylabel("Actual")

    return _image("Confusion matrix", draw)


def feature_importance(importance: dict[str, float]) -> str:
    ranked = sorted(importance.items(), key=lambda item: item[1])

    def draw(axes: Axes) -> None:
        axes.barh([name for name, _ in ranked], [value for _, value in ranked])
        axes.set_xlabel("Share of total gain")

    return _image("Feature importance", draw)


def numeric_drift(feature: str, reference: np.ndarray, current: np.ndarray) -> str:
    """Reference vs current histogram (share of rows per bin), missing shares in the label."""
    ref, cur = reference[~np.isnan(reference)], current[~np.isnan(current)]
    present = np.concatenate([ref, cur])
    low, high = (float(present.min()), float(present.max())) if present.size else (0.0, 1.0)
    # Equal widths over both samples, so bar heights compare at a glance.
    bins = np.linspace(low, high if high > low else low + 1.0, 21)

    def draw(axes: Axes) -> None:
        for values, label in ((ref, "reference"), (cur, "current")):
            weights = np.full(values.size, 1 / values.size) if values.size else None
            axes.hist(values, bins=bins, weights=weights, alpha=0.5, label=label)
        axes.set_xlabel(
            f"{feature} (missing: {np.isnan(reference).mean():.0%} reference, "
            f"{np.isnan(current).mean():.0%} current)"
        )
        axes.set_ylabel("Share of rows")
        axes.legend()

    return _image(f"{feature}: reference vs current", draw)


def categorical_drift(feature: str, reference: np.ndarray, current: np.ndarray) -> str:
    """Reference vs current share of each category, side by side."""
    import pandas as pd

    counts = {
        label: pd.Series(values).value_counts(normalize=True)
        for values, label in ((reference, "reference"), (current, "current"))
    }
    categories = sorted(set(counts["reference"].index) | set(counts["current"].index), key=str)
    shares = {label: [float(c.get(k, 0.0)) for k in categories] for label, c in counts.items()}
    positions = np.arange(len(categories))

    def draw(axes: Axes) -> None:
        axes.bar(positions - 0.2, shares["reference"], width=0.4, label="reference")
        axes.bar(positions + 0.2, shares["current"], width=0.4, label="current")
        axes.set_xticks(positions, [str(c) for c in categories])
        axes.set_xlabel(feature)
        axes.set_ylabel("Share of rows")
        axes.legend()

    return _image(f"{feature}: reference vs current", draw)


def reliability_plot(
    labels: np.ndarray, probabilities: np.ndarray, rows: str, bins: int = 10
) -> str:
    """Observed positive rate against the mean predicted probability, per probability bin
    (marker size: the bin's rows); a calibrated model lies on the diagonal. `rows`
    names whose outcomes these are, for the title."""
    from titanic_assets.ml.statistics import bin_index

    index = bin_index(probabilities, bins)
    used = [b for b in range(bins) if (index == b).any()]
    predicted = [probabilities[index == b].mean() for b in used]
    observed = [labels[index == b].mean() for b in used]
    counts = [int((index == b).sum()) for b in used]

    def draw(axes: Axes) -> None:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
        axes.plot(predicted, observed, color="tab:blue")
        axes.scatter(predicted, observed, s=[10 + 3 * c for c in counts], color="tab:blue")
        axes.set_xlabel("Predicted probability of the positive class")
        axes.set_ylabel("Observed positive rate")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)

    return _image(f"Reliability ({rows})", draw)


def shadow_accuracies(outcomes: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> str:
    """Both models' accuracy on the shared labelled traffic as outcomes came back."""

    def draw(axes: Axes) -> None:
        axes.plot(outcomes, champion, label="serving model")
        axes.plot(outcomes, challenger, label="challenger")
        axes.set_xlabel("outcomes of shadowed rows")
        axes.set_ylabel("accuracy so far")
        axes.legend(loc="lower right")

    return _image("Accuracy on the shared traffic", draw)


def shadow_bounds(
    outcomes: np.ndarray, difference: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> str:
    """The accuracy difference and its confidence sequence: promote when all above 0."""

    def draw(axes: Axes) -> None:
        axes.fill_between(outcomes, lower, upper, alpha=0.3, label="confidence sequence")
        axes.plot(outcomes, difference, label="challenger - serving")
        axes.axhline(0.0, color="black", linewidth=0.8)
        axes.set_xlabel("outcomes of shadowed rows")
        axes.set_ylabel("accuracy difference")
        axes.legend(loc="lower right")

    return _image("Challenger minus serving model", draw)
