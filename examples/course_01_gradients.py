"""Lesson 1 of the course (docs/course/01-pixels-and-gradients.md): pixels and gradients.

The astronaut's face, cut as the mask classifier cuts it, as numbers; its
centred [-1, 0, 1] derivatives along x and y; their magnitude and their
unsigned orientation, the raw material of HOG.

    python examples/course_01_gradients.py --out docs/course/figures
"""

import numpy as np

from course_faces import demo_faces, figure, run, save


def gradients(gray):
    """Centred differences, as HOG takes them (the border rows and columns stay 0)."""
    g = gray.astype(np.float64)
    gx, gy = np.zeros_like(g), np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1, :] = g[2:, :] - g[:-2, :]
    return gx, gy


def main(out):
    gray = demo_faces()[0][4]
    gx, gy = gradients(gray)
    magnitude = np.hypot(gx, gy)
    orientation = np.rad2deg(np.arctan2(gy, gx)) % 180   # unsigned: dark-to-light = light-to-dark

    fig = figure(12, 3)
    axes = fig.subplots(1, 5)
    panels = [(gray, "gray", "the crop, 64x64 (0-255)"), (gx, "RdBu_r", "d/dx: [-1, 0, 1]"),
              (gy, "RdBu_r", "d/dy: [-1, 0, 1] down"), (magnitude, "magma", "magnitude")]
    for ax, (image, cmap, title) in zip(axes, panels):
        limits = {"vmin": -np.abs(image).max(), "vmax": np.abs(image).max()} if cmap == "RdBu_r" else {}
        shown = ax.imshow(image, cmap=cmap, interpolation="nearest", **limits)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
        fig.colorbar(shown, ax=ax, shrink=0.8)
    strong = magnitude > np.percentile(magnitude, 50)
    axes[4].imshow(np.where(strong, orientation, np.nan), cmap="hsv", vmin=0, vmax=180, interpolation="nearest")
    axes[4].set_title("orientation 0-180 deg\n(strongest half of pixels)", fontsize=9)
    axes[4].set_axis_off()
    save(fig, out, "01-gradients.png")

    # One row of pixels across both eyes: the numbers behind the pictures.
    row = 24
    fig = figure(8, 2.8)
    ax = fig.subplots()
    ax.plot(gray[row], label=f"pixel values of row {row}")
    ax.plot(gx[row], label="d/dx of that row")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("column")
    ax.legend(fontsize=8)
    save(fig, out, "01-row-profile.png")


if __name__ == "__main__":
    run(main, __doc__)
