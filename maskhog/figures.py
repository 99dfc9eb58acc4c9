"""Figures of :mod:`maskhog.explain`: one page per face, drawn with matplotlib.

matplotlib comes with the ``explain``, ``train`` and ``test`` extras; running
maskhog needs it not, so it is imported when a figure is drawn, and its
absence is reported with the extra to install (:func:`require_matplotlib`).
The figures are drawn on :class:`matplotlib.figure.Figure` objects, never
through ``pyplot``: no window, no global state, safe in threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .features import LBP_CODES

__all__ = ["MatplotlibMissing", "face_figure", "require_matplotlib", "save_face_figure"]


class MatplotlibMissing(RuntimeError):
    """matplotlib, needed for figures, is not installed."""


def require_matplotlib():
    """matplotlib's ``Figure`` class; :class:`MatplotlibMissing` naming the extra if it is absent."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MatplotlibMissing("figures need matplotlib: pip install 'maskhog[explain]' "
                                "(or pip install matplotlib)") from None
    return Figure


def _rgb(crop: np.ndarray) -> np.ndarray:
    return crop[..., ::-1] if crop.ndim == 3 else crop


def _heat(ax, background, values, title, scale=None):
    """``values`` over a faint gray ``background``: red pushes the score up, blue down."""
    scale = scale or (float(np.abs(values).max()) or 1.0)
    ax.imshow(background, cmap="gray", vmin=0, vmax=255)
    shown = ax.imshow(values, cmap="RdBu_r", vmin=-scale, vmax=scale, alpha=0.7, interpolation="nearest",
                      extent=(-0.5, background.shape[1] - 0.5, background.shape[0] - 0.5, -0.5))
    ax.set_title(title, fontsize=8)
    return shown


def face_figure(face, *, title: str = ""):
    """The page of one :class:`~maskhog.explain.FaceExplanation`, as a matplotlib ``Figure``.

    Top row: the crop as the model saw it, its HOG glyphs, LBP codes and skin cues, and the
    verdict. Middle row: for each score row, the weights summed over each HOG cell. Bottom row:
    each row's contributions (weight x feature, summed per cell) over the face; their sum plus the
    intercept is the decision value in the panel's title. Faces the CNN decided get its
    occlusion map, marked as an approximation.
    """
    from .explain import hog_glyphs, skin_mask

    Figure = require_matplotlib()
    lin = face.linear
    k_rows = len(lin.rows) if lin is not None else 0
    cols = max(5, k_rows + 1)
    # A fixed grid: a layout engine would cost more than all the drawing.
    fig = Figure(figsize=(2.3 * cols, 7.6), dpi=72)
    axes = fig.subplots(3, cols, gridspec_kw={"left": 0.03, "right": 0.97, "top": 0.9, "bottom": 0.03,
                                              "wspace": 0.35, "hspace": 0.45})
    for ax in axes.ravel():
        ax.set_axis_off()

    seen = lin.crop if lin is not None else face.occlusion.crop
    axes[0, 0].imshow(_rgb(seen), cmap="gray", vmin=0, vmax=255)
    axes[0, 0].set_title(f"crop as the model saw it\n{seen.shape[1]}x{seen.shape[0]}", fontsize=8)
    if lin is not None:
        axes[0, 1].imshow(hog_glyphs(lin.gray), cmap="magma")
        axes[0, 1].set_title("HOG: gradient strength\nper orientation and cell", fontsize=8)
        axes[0, 2].imshow(_lbp(lin.gray), cmap="tab10", vmin=-0.5, vmax=LBP_CODES - 0.5, interpolation="nearest")
        axes[0, 2].set_title("LBP codes\n(0-8 uniform, 9 other)", fontsize=8)
        if lin.crop.ndim == 3:
            skin = skin_mask(lin.crop)
            axes[0, 3].imshow(skin, cmap="copper", vmin=0, vmax=1, interpolation="nearest")
            axes[0, 3].set_title(f"skin-colour cue\n{skin.mean():.0%} of pixels skin-coloured"
                                 if lin.model == "colour" else "skin-colour cue\n(not used: gray fallback)",
                                 fontsize=8)
    _verdict(axes[0, -1], face)

    if lin is not None:
        hog = lin.weights["hog"]
        scale = float(np.abs(hog).max()) or 1.0
        for k, row in enumerate(lin.rows):
            up = np.kron(hog[k], np.ones((lin.gray.shape[0] // hog.shape[1],) * 2))
            _heat(axes[1, k], lin.gray, _fit(up, lin.gray.shape), f"HOG weights, per cell\n{row}", scale)
        axes[1, k_rows].set_axis_on()
        _group_bars(axes[1, k_rows], lin)
        scale = float(np.abs(lin.pixels).max()) or 1.0
        for k, row in enumerate(lin.rows):
            shown = _heat(axes[2, k], lin.gray, lin.pixels[k],
                          f"contributions: {row}\n{lin.intercept[k]:+.2f} + {lin.total[k] - lin.intercept[k]:+.2f}"
                          f" = {lin.decision[k]:+.3f}", scale)
        bar = fig.colorbar(shown, ax=axes[2, k_rows], fraction=0.08, location="left")
        bar.set_label("score per pixel", fontsize=7)
        bar.ax.tick_params(labelsize=7)
    if face.occlusion is not None:
        occ = face.occlusion
        ax = axes[2, -1]
        shown = _heat(ax, _gray(occ.crop), occ.drop,
                      f"CNN occlusion map (approximation)\nfall of p({occ.label}) = {occ.probability:.2f} when hidden")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def _fit(values: np.ndarray, shape) -> np.ndarray:
    out = np.zeros(shape)
    h, w = min(shape[0], values.shape[0]), min(shape[1], values.shape[1])
    out[:h, :w] = values[:h, :w]
    return out


def _lbp(gray):
    from .features import lbp_codes

    return lbp_codes(gray)


def _gray(crop):
    from .features import gray_crops

    return gray_crops(crop) if crop.ndim == 3 else crop


def _group_bars(ax, lin):
    """Each feature group's share of the deciding row's score."""
    k = int(lin.decision.argmax()) if len(lin.rows) > 1 else 0
    names = list(lin.contributions)
    totals = [lin.contributions[n][k].sum() for n in names]
    ax.barh(names[::-1], totals[::-1], color=["#b2182b" if t > 0 else "#2166ac" for t in totals[::-1]])
    ax.axvline(0, color="k", lw=0.5)
    ax.tick_params(labelsize=7)
    ax.set_title(f"by feature group\n{lin.rows[k]}", fontsize=8)


def _verdict(ax, face):
    lines = [f"{face.label}  p={face.score:.3f}", f"decided by: {face.stage.upper()}", ""]
    lines += [f"p({c}) = {p:.3f}" for c, p in face.probabilities.items()]
    d = face.detector
    lines += ["", f"detector: {d.detector}", f"found by: {d.proposer}", f"its score: {d.score:+.2f}"]
    if d.verifier is not None:
        lines += [f"{d.verifier} verifier: {d.verifier_score:+.2f}", f"  (keeps >= {d.verifier_threshold:+.2f})"]
    if face.linear is not None and face.linear.model != "colour":
        lines += ["", f"SVM weights: {face.linear.model}"]
    ax.text(-0.1, 1, "\n".join(lines), va="top", ha="left", fontsize=7, family="monospace",
            transform=ax.transAxes)


def save_face_figure(face, path, *, title: str = "") -> Path:
    """Draw :func:`face_figure` and write it as PNG to ``path``; return the path."""
    path = Path(path)
    fig = face_figure(face, title=title)
    fig.savefig(path, format="png")
    return path
