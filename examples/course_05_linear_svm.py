"""Lesson 5 of the course (docs/course/05-linear-svm.md): a linear SVM, its margin and calibration.

A linear SVM on two features of real textures (brick against grass, from
scikit-image) shows the margin; the shipped mask classifier's Platt sigmoids
turn its scores into probabilities; and `maskhog explain`'s page of the
masked astronaut splits her score exactly over the cells of her face.

    python examples/course_05_linear_svm.py --out docs/course/figures
"""

import numpy as np

from course_faces import demo_faces, figure, run, save
from maskhog.classify import MaskClassifier, default_model_path
from maskhog.explain import explain_linear
from maskhog.features import hog


def texture_points():
    """Two HOG numbers per 32-px patch: gradient energy across vertical edges and across horizontal ones."""
    from skimage import data

    points, labels = [], []
    for label, image in ((1, data.brick()), (0, data.grass())):
        for y in range(0, 480, 32):
            for x in range(0, 480, 32):
                cells = hog(image[y:y + 32, x:x + 32], pixels_per_cell=16, cells_per_block=2).reshape(-1, 9)
                points.append([cells[:, 0].mean(), cells[:, 4].mean()])   # bins at 10 and 90 degrees
                labels.append(label)
    return np.array(points), np.array(labels)


def main(out):
    from sklearn.svm import LinearSVC

    X, y = texture_points()
    svm = LinearSVC(C=1.0, dual=False).fit(X, y)
    (w1, w2), b = svm.coef_[0], svm.intercept_[0]
    fig = figure(5.5, 4.5)
    ax = fig.subplots()
    ax.scatter(*X[y == 1].T, s=6, label="brick patches")
    ax.scatter(*X[y == 0].T, s=6, label="grass patches")
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
    for level, style in ((0, "-"), (1, "--"), (-1, "--")):
        ax.plot(xs, (level - b - w1 * xs) / w2, "k" + style, lw=1)
    ax.set_ylim(X[:, 1].min(), X[:, 1].max())
    ax.set_xlabel("HOG bin at 10 deg (vertical edges)")
    ax.set_ylabel("HOG bin at 90 deg (horizontal edges)")
    ax.set_title(f"w.x + b = 0 and the margin w.x + b = +-1\ntraining accuracy {svm.score(X, y):.2f}", fontsize=9)
    ax.legend(fontsize=8)
    save(fig, out, "05-margin.png")

    model = MaskClassifier.load(default_model_path())
    fig = figure(10, 3.2)
    axes = fig.subplots(1, len(model.classes))
    scores = np.linspace(-4, 4, 200)
    faces = [(name, explain_linear(model, crop)) for name, _, _, crop, _ in demo_faces()]
    for k, (ax, label) in enumerate(zip(axes, model.classes)):
        p = 1 / (1 + np.exp(model.calib_a[k] * scores + model.calib_b[k]))
        ax.plot(scores, p)
        for name, lin in faces:
            ax.plot(lin.decision[k], 1 / (1 + np.exp(model.calib_a[k] * lin.decision[k] + model.calib_b[k])),
                    "o", label=name.split(" (")[0])
        ax.set_xlabel(f"SVM score for {label}")
        ax.set_title(f"Platt: a = {model.calib_a[k]:.2f}, b = {model.calib_b[k]:.2f}", fontsize=9)
    axes[0].set_ylabel("probability (before the three are renormalised)")
    axes[0].legend(fontsize=7)
    save(fig, out, "05-calibration.png")

    from maskhog.explain import explain_image
    from maskhog.figures import face_figure
    from maskhog.io.demo import demo_images

    face = explain_image(demo_images()[1][1])[0]
    save(face_figure(face, title="maskhog explain: the masked astronaut"), out, "05-explain-page.png")


if __name__ == "__main__":
    run(main, __doc__)
