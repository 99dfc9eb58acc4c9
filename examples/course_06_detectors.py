"""Lesson 6 of the course (docs/course/06-face-detectors.md): why stock face detectors miss masked faces.

dlib's stock frontal-face detector and OpenCV's Haar cascade learned faces with
a visible mouth; maskhog's own detector (fHOG templates trained on masked and
unmasked faces, a proposal network, a face verifier) finds both. The same
three-face picture, searched by each.

    python examples/course_06_detectors.py --out docs/course/figures
"""

import cv2

from course_faces import figure, run, save
from maskhog.detect import make_detector
from maskhog.io.demo import three_faces


def main(out):
    picture = three_faces()
    fig = figure(13, 3.6)
    axes = fig.subplots(1, 3)
    for ax, (name, options) in zip(axes, (("dlib", {"upsample": 1}), ("haar", {}), ("maskhog", {}))):
        faces = make_detector(name, **options).detect(picture)
        shown = picture.copy()
        for face in faces:
            x1, y1, x2, y2 = face.box
            cv2.rectangle(shown, (x1, y1), (x2, y2), (0, 200, 0), 3)
        ax.imshow(shown[..., ::-1])
        ax.set_title(f"{name}: {len(faces)} of 3 faces", fontsize=10)
        ax.set_axis_off()
    save(fig, out, "06-detectors.png")


if __name__ == "__main__":
    run(main, __doc__)
