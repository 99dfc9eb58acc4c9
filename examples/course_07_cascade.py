"""Lesson 7 of the course (docs/course/07-cascade.md): a cascade with a CNN.

The linear SVM decides where it is sure (its largest probability at or above
the cascade threshold); the small CNN decides the rest. For the faces of the
demo photos and the three-face picture: the SVM's confidence against the
threshold, which stage decided, and the CNN's occlusion map of a face it
decided (an approximation: where hiding the face costs the verdict most).

    python examples/course_07_cascade.py --out docs/course/figures
"""

import numpy as np

from course_faces import figure, run, save
from maskhog.classify import make_classifier
from maskhog.explain import explain_image
from maskhog.io.demo import demo_images, three_faces
from maskhog.pipeline import MaskDetector


def main(out):
    finder = MaskDetector(model=make_classifier("cascade"))
    threshold = finder.model.threshold
    faces = [f for image in [im for _, im in demo_images()] + [three_faces()] for f in explain_image(image, finder)]
    fig = figure(11, 3.6)
    axes = fig.subplots(1, 3, width_ratios=[2, 1, 1])
    sure = [f.linear.probabilities.max() for f in faces]
    colours = ["#2166ac" if f.stage == "svm" else "#b2182b" for f in faces]
    names = [f"face {k + 1}: {f.label}" for k, f in enumerate(faces)]
    axes[0].barh(names[::-1], sure[::-1], color=colours[::-1])
    axes[0].axvline(threshold, color="k", ls="--", lw=1)
    axes[0].set_xlim(0, 1)
    axes[0].set_xlabel(f"SVM confidence (blue: SVM decides; red: below {threshold:.2f}, the CNN decides)")
    axes[0].tick_params(labelsize=8)
    cnn_faces = [f for f in faces if f.occlusion is not None]
    if cnn_faces:
        occ = cnn_faces[0].occlusion
        axes[1].imshow(occ.crop[..., ::-1])
        axes[1].set_title("a face the CNN decided", fontsize=9)
        scale = float(np.abs(occ.drop).max()) or 1.0
        axes[2].imshow(occ.drop, cmap="RdBu_r", vmin=-scale, vmax=scale)
        axes[2].set_title(f"occlusion map (approximation):\nfall of p({occ.label})", fontsize=9)
    for ax in axes[1:]:
        ax.set_axis_off()
    save(fig, out, "07-cascade.png")


if __name__ == "__main__":
    run(main, __doc__)
