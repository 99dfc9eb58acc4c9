"""Lesson 2 of the course (docs/course/02-hog-cells-and-blocks.md): HOG cells and blocks.

The HOG glyphs of the face at three cell sizes; one cell's histogram of
oriented gradients; and what block normalisation buys: the face at half its
contrast and darker gets almost the same vector.

    python examples/course_02_hog.py --out docs/course/figures
"""

import numpy as np

from course_faces import demo_faces, figure, run, save
from maskhog.explain import hog_glyphs
from maskhog.features import hog, hog_length


def main(out):
    (_, _, _, _, bare), (_, _, _, _, masked) = demo_faces()

    fig = figure(12, 3.2)
    axes = fig.subplots(1, 4)
    axes[0].imshow(bare, cmap="gray")
    axes[0].set_title("the crop (64x64)", fontsize=9)
    for ax, cell in zip(axes[1:], (4, 8, 16)):
        ax.imshow(hog_glyphs(bare, {"pixels_per_cell": cell}), cmap="magma")
        ax.set_title(f"{cell}x{cell}-px cells: {hog_length((64, 64), pixels_per_cell=cell)} numbers", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    save(fig, out, "02-hog-cells.png")

    # One cell's histogram: the cell over the mouth, bare and masked. Blocks come first in
    # the vector, then cells, then bins; cell (5, 3) is cell (1, 1) of block (4, 2).
    blocks = lambda gray: hog(gray).reshape(7, 7, 2, 2, 9)  # noqa: E731
    centres = np.arange(9) * 20 + 10
    fig = figure(9, 3)
    axes = fig.subplots(1, 3)
    for ax, gray, name in ((axes[0], bare, "bare"), (axes[1], masked, "masked")):
        ax.bar(centres, blocks(gray)[4, 2, 1, 1], width=16)
        ax.set_xticks(range(0, 181, 45))
        ax.set_xlabel("gradient orientation (deg)")
        ax.set_title(f"cell row 5, col 3 (mouth): {name}", fontsize=9)
    axes[2].imshow(masked, cmap="gray")
    axes[2].add_patch(_cell_patch(5, 3))
    axes[2].set_axis_off()
    axes[2].set_title("that cell", fontsize=9)
    save(fig, out, "02-one-cell.png")

    # Block normalisation: half the contrast, 40 levels darker, nearly the same vector.
    dim = (bare.astype(np.float64) * 0.5 + 20).astype(np.uint8)
    a, b = hog(bare), hog(dim)
    fig = figure(9, 3)
    axes = fig.subplots(1, 2)
    axes[0].imshow(np.hstack([bare, dim]), cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("the face, and at half contrast", fontsize=9)
    axes[0].set_axis_off()
    axes[1].scatter(a, b, s=2)
    axes[1].plot([0, a.max()], [0, a.max()], "k", lw=0.5)
    axes[1].set_xlabel("HOG of the face")
    axes[1].set_ylabel("HOG at half contrast")
    axes[1].set_title(f"correlation {np.corrcoef(a, b)[0, 1]:.3f}", fontsize=9)
    save(fig, out, "02-block-normalisation.png")


def _cell_patch(row, col, cell=8):
    from matplotlib.patches import Rectangle

    return Rectangle((col * cell - 0.5, row * cell - 0.5), cell, cell, fill=False, color="red", lw=2)


if __name__ == "__main__":
    run(main, __doc__)
