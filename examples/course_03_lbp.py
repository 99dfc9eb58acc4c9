"""Lesson 3 of the course (docs/course/03-lbp.md): local binary patterns.

Each pixel compared with its 8 neighbours gives an 8-bit pattern; the uniform
ones (at most two 0/1 changes) are kept by their count of ones (codes 0-8),
all others are code 9. The code maps of the bare and the masked face, their
4x4 grid of histograms, and why LBP ignores the lighting.

    python examples/course_03_lbp.py --out docs/course/figures
"""

import numpy as np

from course_faces import demo_faces, figure, run, save
from maskhog.features import LBP_CODES, lbp_codes, lbp_histograms


def main(out):
    faces = [(name, gray) for name, _, _, _, gray in demo_faces()]

    fig = figure(11, 5.5)
    axes = fig.subplots(2, 3)
    for row, (name, gray) in enumerate(faces):
        codes = lbp_codes(gray)
        axes[row, 0].imshow(gray, cmap="gray")
        axes[row, 0].set_title(name, fontsize=9)
        shown = axes[row, 1].imshow(codes, cmap="tab10", vmin=-0.5, vmax=9.5, interpolation="nearest")
        axes[row, 1].set_title("uniform LBP code of each pixel", fontsize=9)
        fig.colorbar(shown, ax=axes[row, 1], ticks=range(LBP_CODES), shrink=0.8)
        hist = lbp_histograms(gray).reshape(4, 4, LBP_CODES)
        # The 16 histograms side by side: one row of the grid after another.
        axes[row, 2].imshow(hist.reshape(16, LBP_CODES).T, cmap="viridis", aspect="auto", interpolation="nearest")
        axes[row, 2].set_xlabel("cell of the 4x4 grid (row-major)")
        axes[row, 2].set_ylabel("code")
        axes[row, 2].set_title("histogram of codes per cell", fontsize=9)
        for ax in axes[row, :2]:
            ax.set_axis_off()
    save(fig, out, "03-lbp-codes.png")

    # A monotonic change of brightness keeps every comparison, hence every code.
    name, gray = faces[0]
    lifted = (np.sqrt(gray / 255.0) * 255).astype(np.uint8)   # a gamma curve: brighter shadows
    same = (lbp_codes(gray) == lbp_codes(lifted)).mean()
    fig = figure(8, 2.8)
    axes = fig.subplots(1, 3)
    axes[0].imshow(gray, cmap="gray", vmin=0, vmax=255)
    axes[1].imshow(lifted, cmap="gray", vmin=0, vmax=255)
    axes[2].imshow(lbp_codes(gray) != lbp_codes(lifted), cmap="gray_r", interpolation="nearest")
    axes[0].set_title("the face", fontsize=9)
    axes[1].set_title("gamma 0.5: shadows lifted", fontsize=9)
    axes[2].set_title(f"codes that changed: {1 - same:.1%}", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    save(fig, out, "03-lbp-lighting.png")


if __name__ == "__main__":
    run(main, __doc__)
