"""Honest figures for a mask classifier, and a report a person can look at.

:func:`classification_metrics` computes, on faces the model never saw,
accuracy, balanced accuracy (the mean of per-class recalls: it does not
flatter a model that ignores a rare class), per-class precision, recall and
F1, the confusion matrix (rows: true class, columns: predicted) and ROC AUC.
:func:`evaluate` runs a model over data folders; :func:`write_report` writes
``metrics.json`` and PNG plots: the confusion matrix, ROC and
precision-recall curves, and a contact sheet of the worst errors.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .data import load_datasets
from .labels import CLASSES

__all__ = ["classification_metrics", "evaluate", "write_report"]


def classification_metrics(y_true, proba: np.ndarray, classes) -> dict:
    """Figures for true labels against predicted probabilities (columns = ``classes``).

    Faces whose true class the model does not have count as errors.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true)
    classes = list(classes)
    y_pred = np.asarray(classes)[proba.argmax(axis=1)] if len(proba) else np.array([])
    labels = [c for c in CLASSES if c in set(y_true) | set(classes)]
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [c for c in labels if (y_true == c).any()]
    aucs = {}
    for j, c in enumerate(classes):
        positive = y_true == c
        if positive.any() and not positive.all():
            aucs[c] = float(roc_auc_score(positive, proba[:, j]))
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)),
        # The mean recall of the classes present (scikit-learn's balanced accuracy, without its
        # warning when the model names a class the data lacks: normal for a 3-class model).
        "balanced_accuracy": float(np.mean([r[labels.index(c)] for c in present])) if present else 0.0,
        "macro_f1": float(np.mean([f[labels.index(c)] for c in present])),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(support[i])} for i, c in enumerate(labels)},
        "confusion": {"labels": labels,
                      "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
        "roc_auc": aucs,
    }


def evaluate(model, roots, *, detector=None, min_face: int = 0, progress_factory=None) -> dict:
    """Classify every labelled face of ``roots`` and measure.

    Faces are cropped with the model's own crop rules. ``min_face`` drops
    annotated faces whose shorter side is smaller (in pixels).

    Returns
    -------
    dict with ``metrics`` and, for the report, ``crops``, ``labels``, ``proba``
    and ``sources``.
    """
    from .training import face_crops

    data = load_datasets(roots)
    if min_face:
        data.samples = [s for s in data.samples
                        if s.box is None or min(s.box[2] - s.box[0], s.box[3] - s.box[1]) >= min_face]
    start = time.time()
    n_images = len({s.path for s in data.samples})
    first, *more = model.crop_specs   # the cascade crops each face twice: gray and colour
    if progress_factory:
        with progress_factory(n_images, "evaluating") as bar:
            faces = face_crops(data, first, detector=detector, progress=bar.update, also=more)
    else:
        faces = face_crops(data, first, detector=detector, also=more)
    proba = model.classify_crops(faces.crops, *faces.also)
    metrics = classification_metrics(faces.labels, proba, model.classes)
    metrics["seconds"] = round(time.time() - start, 2)
    metrics["faces_by_origin"] = faces.summary()["by_origin"]
    metrics["skipped"] = faces.skipped
    return {"metrics": metrics, "crops": faces.crops, "labels": faces.labels, "proba": proba,
            "classes": list(model.classes), "sources": faces.sources}


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

