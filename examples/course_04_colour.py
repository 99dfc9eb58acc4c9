"""Lesson 4 of the course (docs/course/04-colour-cues.md): colour cues.

Gray HOG and LBP see a mask's edges and texture, not its colour. In YCrCb the
brightness (Y) is set apart from the chroma (Cr, Cb), and skin of every tone
falls in one small box of the Cr-Cb plane. Where the skin shows, per 8-px
cell, is the classifier's colour cue: a mask hides the skin of the lower face.

    python examples/course_04_colour.py --out docs/course/figures
"""

import cv2
import numpy as np

from course_faces import demo_faces, figure, run, save
from maskhog.explain import skin_mask
from maskhog.features import SKIN_CB, SKIN_CR, color_features


def main(out):
    fig = figure(12, 7)
    axes = fig.subplots(2, 4)
    for row, (name, _, _, crop, _) in enumerate(demo_faces()):
        ycrcb = cv2.cvtColor(crop, cv2.COLOR_BGR2YCrCb)
        axes[row, 0].imshow(crop[..., ::-1])
        axes[row, 0].set_title(name, fontsize=9)
        ax = axes[row, 1]
        ax.scatter(ycrcb[..., 2].ravel(), ycrcb[..., 1].ravel(), s=1, c=crop[..., ::-1].reshape(-1, 3) / 255)
        ax.add_patch(_box())
        ax.set_xlim(60, 180)
        ax.set_ylim(100, 190)
        ax.set_xlabel("Cb")
        ax.set_ylabel("Cr")
        ax.set_title("every pixel in the Cr-Cb plane;\nthe skin box in red", fontsize=9)
        axes[row, 2].imshow(skin_mask(crop), cmap="copper", interpolation="nearest")
        axes[row, 2].set_title("skin-coloured pixels", fontsize=9)
        share = color_features(crop)[:64].reshape(8, 8)
        shown = axes[row, 3].imshow(share, cmap="copper", vmin=0, vmax=1, interpolation="nearest")
        axes[row, 3].set_title(f"skin share per 8-px cell\n(lower half: {share[4:].mean():.0%})", fontsize=9)
        fig.colorbar(shown, ax=axes[row, 3], shrink=0.8)
        for ax in (axes[row, 0], axes[row, 2], axes[row, 3]):
            ax.set_axis_off()
    save(fig, out, "04-colour-cues.png")


def _box():
    from matplotlib.patches import Rectangle

    return Rectangle((SKIN_CB[0], SKIN_CR[0]), SKIN_CB[1] - SKIN_CB[0], SKIN_CR[1] - SKIN_CR[0],
                     fill=False, color="red", lw=1.5)


if __name__ == "__main__":
    run(main, __doc__)
