"""A report a person can look at: ``metrics.json`` and PNG plots of an evaluation.

The confusion matrix (counts and row shares), ROC and precision-recall curves
per class, and a contact sheet of the most confident mistakes. Needs
matplotlib (the ``[train]`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["write_report"]


def write_report(result: dict, folder) -> list[Path]:
    """Write ``metrics.json`` and the PNG plots of an :func:`evaluate` result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m, classes = result["metrics"], result["classes"]
    labels, proba = result["labels"], result["proba"]
    written = [folder / "metrics.json"]
    written[0].write_text(json.dumps(m, indent=2))

    # Confusion matrix, with counts and row percentages.
    names, cm = m["confusion"]["labels"], np.array(m["confusion"]["matrix"])
    fig, ax = plt.subplots(figsize=(5, 4.2))
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{cm[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {m['accuracy']:.3f}, balanced {m['balanced_accuracy']:.3f}")
    fig.tight_layout()
    written.append(folder / "confusion_matrix.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    # ROC and precision-recall, one curve per class (one-vs-rest).
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for j, c in enumerate(classes):
        positive = labels == c
        if not positive.any() or positive.all():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, j])
        roc_ax.plot(fpr, tpr, label=f"{c} (AUC {m['roc_auc'].get(c, float('nan')):.3f})")
        prec, rec, _ = precision_recall_curve(positive, proba[:, j])
        pr_ax.plot(rec, prec, label=c)
    roc_ax.plot([0, 1], [0, 1], ":", color="gray")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision-recall")
    roc_ax.legend(loc="lower right")
    pr_ax.legend(loc="lower left")
    fig.tight_layout()
    written.append(folder / "roc_pr.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    written.append(folder / "worst_errors.png")
    _contact_sheet(result, written[-1])
    return written


def _contact_sheet(result: dict, path: Path, n: int = 24) -> None:
    """The most confident mistakes: crop, true class, predicted class and probability."""
    import matplotlib.pyplot as plt

    classes, labels, proba = result["classes"], result["labels"], result["proba"]
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    wrong = np.flatnonzero(pred != labels)
    wrong = wrong[np.argsort(-proba[wrong].max(axis=1))][:n]
    cols = 6
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        crop = result["crops"][i]
        ax.imshow(crop[:, :, ::-1] if crop.ndim == 3 else crop, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true {labels[i]}\nsaid {pred[i]} {proba[i].max():.2f}", fontsize=7)
    if not len(wrong):
        axes[0, 0].text(0, 0.5, "no errors", fontsize=14)
    fig.suptitle("worst errors (most confident mistakes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
