"""Face detectors: an image in, face boxes with scores out.

Every detector has the same small interface (:class:`Detector`): a ``name``
and ``detect(image) -> list[Face]``, with boxes in pixels of the image given.
dlib's detectors are not thread-safe, so each thread gets its own instance.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .perthread import PerThread
from .proposals import PROPOSAL_FILE
from .verify import CnnFaceVerifier, load_verifier

__all__ = ["Face", "Detector", "DlibFrontal", "HaarFrontal", "MaskHog", "box_iou", "make_detector",
           "merge_duplicates", "DETECTORS", "MAX_SIDE"]

log = logging.getLogger("maskhog")

#: Longer image sides above this are shrunk before detection: a 20000x20000
#: photo would otherwise take gigabytes and minutes (boxes are scaled back).
MAX_SIDE = 4096


@dataclass(frozen=True)
class Face:
    """A detected face: ``box = (x1, y1, x2, y2)`` in pixels, ``score`` higher is surer;
    ``pose``: found by dlib's pose templates beside maskhog's own (:class:`MaskHog`)."""

    box: tuple[int, int, int, int]
    score: float
    pose: bool = False


class Detector(Protocol):
    name: str
    smallest_face: float   # about the smallest face box it finds, in pixels of the image given

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in a BGR or gray uint8 image, best first."""


def _gray_within(image: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """The image as gray, shrunk if its longer side exceeds ``max_side``, and the factor used."""
    from .io import scaled, to_gray

    gray = to_gray(image)
    side = max(gray.shape)
    if side <= max_side:
        return gray, 1.0
    f = max_side / side
    log.warning("image of %dx%d pixels shrunk by %.3g to find faces", gray.shape[1], gray.shape[0], f)
    return scaled(gray, f), f


def _faces(rects, scores, f: float) -> list[Face]:
    """dlib's rectangles as faces, in pixels of the image before :func:`_gray_within`."""
    return [Face(tuple(int(round(v / f)) for v in (r.left(), r.top(), r.right(), r.bottom())), float(s))
            for r, s in zip(rects, scores)]


class DlibFrontal(PerThread):
    """dlib's stock frontal-face HOG detector (``dlib.get_frontal_face_detector``).

    Finds unmasked frontal faces well and many masked faces not at all: it
    learned faces with a visible mouth. ``upsample`` doubles the image that
    many times first, to find faces smaller than its 80-pixel window, at about
    four times the cost each time.
    """

    def __init__(self, upsample: int = 1, threshold: float = 0.0):
        self.name = "dlib"
        self.upsample = int(upsample)
        self.smallest_face = 80 / 2 ** self.upsample   # its window, in pixels of the image given
        self.threshold = float(threshold)
        self._local = threading.local()

    def _detector(self):
        det = getattr(self._local, "detector", None)
        if det is None:
            import dlib
            det = self._local.detector = dlib.get_frontal_face_detector()
        return det

    def detect(self, image: np.ndarray) -> list[Face]:
        gray, f = _gray_within(image)
        rects, scores, _ = self._detector().run(gray, self.upsample, self.threshold)
        return sorted(_faces(rects, scores, f), key=lambda face: -face.score)


class MaskHog(PerThread):
    """maskhog's own face detector: fHOG templates trained on masked and unmasked faces.

    Two 48x48-window templates made by ``train/detector_fhog.py`` (one from
    the boxed faces of multi-person scene photos, one with tight face photos
    pasted into scenes) run together over the image pyramid, and duplicate
    boxes are merged. Alone, at ``threshold``, they find 0.59 of masked and
    0.45 of unmasked faces of 24 px and more in held-out scene photos at
    precision 0.87, against 0.12 and 0.23 for dlib's stock detector at the
    same cost (docs/studies/detector-fhog/REPORT.md). Where the folder holds a
    face verifier (:mod:`maskhog.verify`) and the image has colour, the
    templates propose faces at a lower threshold and the verifier keeps those
    that look like faces (proposals from -1.4, judged by the crop, its mirror
    image and the template's score). ``verifier`` picks it: ``True`` (the CNN
    one where the folder has it, else the linear one), ``"cnn"``, ``"linear"``
    or ``False`` (the templates alone).
    Where the folder also holds a proposal network (:mod:`maskhog.proposals`)
    and the image has colour, the network proposes more faces beside the
    scene template (the pasted-face one then waits for the later looks,
    :meth:`templates_scanned`), and the CNN verifier, trained on both, judges
    them all: 0.82 / 0.74 / 0.80 of masked / unmasked / badly worn faces at
    precision 0.90 on held-out scene photos (``train/detector_verifier_cnn.json``;
    the detector before it, two templates and a verifier trained on them: 0.80 /
    0.70 / 0.55 at 0.93). ``proposals=False`` leaves the network out.
    Its smallest face is about 41 px: ``upsample`` doubles the image first to
    reach smaller ones, at about four times the cost.

    ``pose=True`` also scans dlib's five stock templates (faces frontal,
    turned left and right, tilted) over the same image pyramid: ours, trained
    on mostly upright, frontal scene faces, miss large faces turned aside.
    dlib's 80-px window sees faces of about 70 px and more. They find more
    unmasked faces, for about 9 ms more per 640x480 frame, half as much again
    (docs/studies/detector-pose/REPORT.md). Their scores are shifted by
    :attr:`POSE_SHIFT`, so that alone they keep to dlib's own threshold.
    """

    TEMPLATES = ("face_fhog48_scenes.svm", "face_fhog48_paste.svm")
    #: Added to the pose templates' scores, so that dlib's own operating point (0) falls on
    #: ours (-0.175): alone, and for crops without colour, they must pass their own threshold.
    POSE_SHIFT = -0.175
    #: The proposal network's boxes are left out where a template box overlaps them this much
    #: (the face is proposed already), and the rest are given the template score the verifier
    #: was trained to see on them: the lowest it looks at, no opinion of the templates'.
    NETWORK_IOU, NETWORK_SCORE = 0.5, -1.4

    def __init__(self, upsample: int = 0, threshold: float = -0.175, folder=None, verifier=True,
                 pose: bool = False, proposals: bool = True):
        from pathlib import Path

        self.name = "maskhog"
        # Where the templates are: the shipped ones, or those `maskhog train-detector` wrote.
        self.folder = Path(folder) if folder else Path(__file__).with_name("models")
        missing = [t for t in self.TEMPLATES if not (self.folder / t).is_file()]
        if missing:
            raise ValueError(f"{self.folder}: no {', '.join(missing)} (make them with "
                             "`maskhog train-detector`)")
        self.upsample = int(upsample)
        self.smallest_face = 41 / 2 ** self.upsample   # a 48-px window holds a 41-px face box
        self.threshold = float(threshold)
        self.pose = bool(pose)
        # The CNN verifier where the folder has one, else the linear one (maskhog.verify).
        self.verifier = load_verifier(self.folder, "auto" if verifier is True else verifier) if verifier else None
        # The proposal network where the folder has one (maskhog.proposals): more faces for the
        # verifier. Not with the linear verifier, which never learned its boxes.
        self.proposals = None
        if (proposals and (self.folder / PROPOSAL_FILE).is_file()
                and (self.verifier is None or isinstance(self.verifier, CnnFaceVerifier))):
            from .proposals import ProposalNet
            self.proposals = ProposalNet(self.folder / PROPOSAL_FILE)
        self._local = threading.local()
        self._detectors(self.TEMPLATES)   # fail now, with the folder's name, if a template is unreadable

    def with_pose(self) -> "MaskHog":
        """This detector with dlib's pose templates scanned too (and all of ours: see
        :meth:`templates_scanned`), sharing its face verifier: the later looks' detector."""
        if self.pose:
            return self
        import copy

        twin = copy.copy(self)
        twin.pose, twin._local = True, threading.local()
        return twin

    def templates_scanned(self, network: bool = True) -> tuple[str, ...]:
        """Our templates this detector scans, with the proposal network (``network``, where the
        folder has one) or without. Beside the network the first look leaves out the template
        that learned face photos pasted into scenes: the network finds more of the scene faces
        it adds, in less time. It stays in the later looks at framed close-ups (:meth:`with_pose`),
        the kind of face it learned, and wherever the network does not run (gray images)."""
        if network and self.proposals is not None and not self.pose:
            return self.TEMPLATES[:1]
        return self.TEMPLATES

    def _detectors(self, templates: tuple[str, ...]):
        """dlib's detectors for ``templates`` (then dlib's pose templates, with :attr:`pose`)."""
        cache = getattr(self._local, "detectors", None)
        if cache is None:
            cache = self._local.detectors = {}
        if templates not in cache:
            import dlib
            try:
                dets = [dlib.fhog_object_detector(str(self.folder / t)) for t in templates]
            except RuntimeError as exc:
                raise ValueError(f"{self.folder}: not dlib fHOG templates ({exc})") from None
            if self.pose:   # dlib's own five pose templates, scanned over the same pyramid
                dets.append(dlib.get_frontal_face_detector())
            cache[templates] = dets
        return cache[templates]

    def propose(self, image: np.ndarray, threshold: float) -> list[Face]:
        """Every template's boxes scoring ``threshold`` or more (the same face may come twice),
        then, in a colour image, the proposal network's boxes where no template box is."""
        network = self.proposals is not None and np.ndim(image) == 3   # it needs colour
        faces = self._template_faces(image, threshold, network)
        return faces + self._network_faces(image, faces) if network else faces

    def _network_faces(self, image: np.ndarray, faces: list[Face], threshold: float | None = None,
                       min_face: float | None = None) -> list[Face]:
        """The proposal network's boxes that overlap none of ``faces`` (the templates' boxes) at
        :attr:`NETWORK_IOU`, each with the score :attr:`NETWORK_SCORE` (the verifier weighs the
        template score in). ``threshold`` and ``min_face``: the network's own unless given."""
        from .io import scaled, to_bgr

        bgr = to_bgr(image)
        f = min(1.0, MAX_SIDE / max(bgr.shape[:2]))   # shrunk as the templates' gray image is
        min_face = self.proposals.min_face if min_face is None else min_face
        boxes, _ = self.proposals.propose(scaled(bgr, f) if f < 1 else bgr, threshold,
                                          min_face=min_face * f / 2 ** self.upsample)
        boxes = boxes / f
        if faces and len(boxes):
            taken = np.array([face.box for face in faces], float)
            boxes = boxes[[max(box_iou(b, t) for t in taken) < self.NETWORK_IOU for b in boxes]]
        return [Face(tuple(int(round(v)) for v in b), self.NETWORK_SCORE) for b in boxes]

    def _template_faces(self, image: np.ndarray, threshold: float, network: bool = False) -> list[Face]:
        """Every template's boxes scoring ``threshold`` or more (those scanned beside the proposal
        network, with ``network``: :meth:`templates_scanned`)."""
        import dlib

        gray, f = _gray_within(image)
        # dlib scans with one threshold: the lower of ours and the pose templates' own.
        low = min(threshold, threshold - self.POSE_SHIFT) if self.pose else threshold
        templates = self.templates_scanned(network)
        rects, scores, which = dlib.fhog_object_detector.run_multiple(self._detectors(templates), gray,
                                                                      self.upsample, low)
        ours = len(templates)
        faces = [Face(face.box, face.score + self.POSE_SHIFT, True) if w >= ours else face
                 for face, w in zip(_faces(rects, scores, f), which)]
        return [face for face in faces if face.score >= threshold]

    def detect(self, image: np.ndarray, *, verify: bool = True) -> list[Face]:
        """Faces in a BGR or gray uint8 image, best first; ``verify=False``: the templates alone."""
        verify = verify and self.verifier is not None and np.ndim(image) == 3   # it needs colour
        if not verify:   # the network's boxes have no score of their own: templates alone
            return merge_duplicates(self._template_faces(image, self.threshold))
        # Judge every proposal before merging duplicates, so that a rejected box
        # cannot hide a face it overlaps.
        proposals = self.propose(image, min(self.threshold, self.verifier.candidate_threshold))
        return merge_duplicates(self.verifier.keep(image, proposals, self.threshold))


class HaarFrontal(PerThread):
    """OpenCV's Haar cascade for frontal faces (Viola-Jones), for comparison.

    Uses the ``haarcascade_frontalface_default.xml`` that OpenCV 4.x ships
    (OpenCV 5 ships none: then this detector says so). Like dlib's stock
    detector it learned unmasked faces. Scores are the cascade's level weights;
    ``upsample`` doubles the image that many times first.
    """

    FILE = "haarcascade_frontalface_default.xml"

    def __init__(self, upsample: int = 0, scale_factor: float = 1.1, min_neighbors: int = 5):
        self.name = "haar"
        self.upsample = int(upsample)
        self.smallest_face = 24 / 2 ** self.upsample   # the cascade's 24-px window
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self._local = threading.local()
        self._cascade()   # fail now if this OpenCV has no cascade

    def _cascade(self):
        cascade = getattr(self._local, "cascade", None)
        if cascade is None:
            import cv2
            from pathlib import Path

            folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
            path = Path(folder or "") / self.FILE
            cascade = cv2.CascadeClassifier(str(path)) if folder and path.is_file() else None
            if cascade is None or cascade.empty():
                raise RuntimeError(f"this OpenCV ({cv2.__version__}) ships no {self.FILE}: "
                                   "the Haar detector needs OpenCV 4.x")
            self._local.cascade = cascade
        return cascade

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        gray, f = _gray_within(image)
        if self.upsample:   # doubles the image this many times, to find faces under 24 px
            gray = cv2.resize(gray, None, fx=2 ** self.upsample, fy=2 ** self.upsample)
            f *= 2 ** self.upsample
        rects, _, weights = self._cascade().detectMultiScale3(
            gray, self.scale_factor, self.min_neighbors, outputRejectLevels=True)
        faces = [Face(tuple(int(round(v / f)) for v in (x, y, x + w, y + h)), float(s))
                 for (x, y, w, h), s in zip(rects, np.ravel(weights))]
        return sorted(faces, key=lambda face: -face.score)


def _overlap(a, b) -> tuple[float, float, float]:
    """Intersection area of boxes ``a`` and ``b``, and each box's area."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter, (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])


def box_iou(a, b) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    inter, area_a, area_b = _overlap(a, b)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


#: Two boxes are one face at this IoU, or when their intersection covers this share of the smaller.
DUPLICATE_IOU, DUPLICATE_COVER = 0.4, 0.7


def merge_duplicates(faces: list[Face], iou: float = DUPLICATE_IOU, cover: float = DUPLICATE_COVER) -> list[Face]:
    """Greedy non-maximum suppression: keep the best of boxes that overlap.

    Two boxes are one face when their intersection over union is at least
    ``iou``, or the intersection covers ``cover`` of the smaller box. Boxes of
    maskhog's own templates go first, then those of dlib's pose templates,
    which frame a face a little differently (4% larger on face photos) and
    find unmasked faces far more often than masked ones. Had their boxes won
    by score, the mask classifier would learn the framing as a cue: trained so,
    it recalled 0.71 of held-out unmasked scene faces, against 0.76 with ours first.
    """
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (f.pose, -f.score)):
        for k in kept:
            inter, area, other = _overlap(f.box, k.box)
            if inter >= iou * (area + other - inter) or inter >= cover * min(area, other):
                break
        else:
            kept.append(f)
    return kept


def _dnn(**options):
    from .dnn_detect import DnnDetector   # imported when asked for: it needs this module

    return DnnDetector(**options)


DETECTORS = {"maskhog": MaskHog, "dlib": DlibFrontal, "haar": HaarFrontal, "dnn": _dnn}


def make_detector(name: str = "maskhog", **options) -> Detector:
    """A detector by name: one of :data:`DETECTORS` (``dnn`` needs ``model=FILE``:
    :class:`maskhog.dnn_detect.DnnDetector`)."""
    try:
        make = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}") from None
    return make(**options)
