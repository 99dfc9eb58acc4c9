"""The demo images: a photo that ships with scikit-image, as it is and with a mask drawn on.

No download: ``maskhog predict --demo``, the tests and the course use them on a
machine with nothing else.
"""

from __future__ import annotations

import numpy as np

__all__ = ["astronaut", "demo_images", "three_faces"]


def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (Eileen Collins, public domain) as BGR uint8."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def demo_images() -> list[tuple[str, np.ndarray]]:
    """``(name, BGR image)``: the astronaut, and a copy with a surgical mask drawn on."""
    import cv2

    photo = astronaut()
    masked = photo.copy()
    # A light-blue surgical mask from cheek to cheek, over the nose tip, mouth and chin.
    outline = np.array([[180, 124], [200, 117], [220, 120], [240, 117], [260, 124], [258, 152],
                        [242, 172], [220, 180], [198, 172], [182, 152]], np.int32)
    cv2.fillPoly(masked, [outline], (235, 205, 170))
    for y in (135, 148, 161):   # pleats
        cv2.line(masked, (186, y), (254, y), (205, 175, 140), 2)
    cv2.polylines(masked, [outline], True, (190, 160, 130), 2)
    return [("astronaut (scikit-image)", photo), ("astronaut with a drawn mask", masked)]


def three_faces() -> np.ndarray:
    """A 640x480 BGR picture of three faces on gray: the astronaut, her copy with the drawn mask,
    and her mirror image lower right (the size of the explain benchmark and of the course's figures)."""
    import cv2

    (_, photo), (_, masked) = demo_images()
    canvas = np.full((480, 640, 3), 120, np.uint8)
    head = lambda image: cv2.resize(image[20:240, 120:330], (180, 188), interpolation=cv2.INTER_AREA)  # noqa: E731
    canvas[60:248, 20:200] = head(photo)
    canvas[60:248, 230:410] = head(masked)
    canvas[250:438, 430:610] = cv2.flip(head(photo), 1)
    return canvas
