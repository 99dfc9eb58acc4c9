"""maskhog's own face detector: fHOG templates that learned masked and unmasked faces.

Stock detectors learned faces with a visible mouth and miss masked ones. This
one proposes faces three ways and lets a verifier judge them all:

* two 48x48-window fHOG templates (dlib's sliding-window HOG detector), one
  learned from the boxed faces of multi-person scene photos, one with tight
  face photos pasted into scenes too (``maskhog train-detector``);
* in colour images, a tiny proposal network (:mod:`.proposals`) adds faces
  the templates' gray gradients miss;
* optionally dlib's five stock pose templates, for large faces turned aside.

Run at a low threshold the proposers find most faces and much background; the
face verifier (:mod:`.verify`) keeps the faces. On held-out scene photos the
shipped detector keeps 0.82 / 0.74 / 0.80 of masked / unmasked / badly worn
faces at precision 0.90 (docs/models.md).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from .. import tuning
from ..boxes import Face, iou, merge_duplicates
from ..io import scaled, to_bgr
from ..perthread import PerThread
from .base import dlib_faces, gray_within
from .proposals import PROPOSAL_FILE, ProposalNet
from ..modelfiles import ModelError
from .convention import IDENTITY, load_rules
from .verify import CnnFaceVerifier, load_verifier
from .yunet import YUNET_FILE, YuNet, log_odds

__all__ = ["MaskHog", "TEMPLATES", "models_folder"]

#: The templates' file names in a detector folder: from scene photos, and with pasted faces.
TEMPLATES = ("face_fhog48_scenes.svm", "face_fhog48_paste.svm")
#: YuNet's score rule in a detector folder: which proposers, YuNet's weight, the threshold.
YUNET_RULE_FILE = "face_yunet.json"


def models_folder() -> Path:
    """The folder of the models shipped inside the package."""
    return Path(__file__).parent.parent / "models"


class MaskHog(PerThread):
    """maskhog's face detector: fHOG templates, a proposal network and a face verifier.

    Parameters
    ----------
    upsample : int
        Double the image this many times first, to find faces under the
        templates' smallest (about 41 px), at about four times the cost each.
    threshold : float
        The templates' score from which a box is a face where no verifier judges.
    templates : path, optional
        A folder made by ``maskhog train-detector`` (default: the shipped models);
        :attr:`folder` says which.
    verifier : {True, "auto", "cnn", "linear", False, "none"}
        The face verifier: the CNN one where the folder has it, else the linear
        one (``True`` or ``"auto"``), one of them by name, or none (``False`` or
        ``"none"``: the templates alone).
    pose : bool
        Also scan dlib's five stock pose templates over the same pyramid. Their
        80-px window sees faces of about 70 px and more, turned aside or tilted,
        which ours (mostly upright, frontal scene faces) miss; about 9 ms more
        per 640x480 frame (docs/design.md#detector-pose).
    proposals : bool
        Use the folder's proposal network, where it has one and the verifier is
        the CNN one (the linear verifier never learned its boxes).
    """

    TEMPLATES = TEMPLATES

    def __init__(self, upsample: int = 0, threshold: float = tuning.TEMPLATE_THRESHOLD, templates=None,
                 verifier=True, pose: bool = False, proposals: bool = True, yunet: bool = True):
        self.name = "maskhog"
        self.folder = Path(templates) if templates else models_folder()
        missing = [t for t in TEMPLATES if not (self.folder / t).is_file()]
        if missing:
            raise ValueError(f"{self.folder}: no {', '.join(missing)} (make them with "
                             "`maskhog train-detector`)")
        self.upsample = int(upsample)
        self.smallest_face = 41 / 2 ** self.upsample   # a 48-px window holds a 41-px face box
        self.threshold = float(threshold)
        self.pose = bool(pose)
        verifier = {True: "auto", False: None, "none": None}.get(verifier, verifier)
        self.verifier = load_verifier(self.folder, verifier) if verifier else None
        self.proposals = None
        if (proposals and (self.folder / PROPOSAL_FILE).is_file()
                and (self.verifier is None or isinstance(self.verifier, CnnFaceVerifier))):
            self.proposals = ProposalNet(self.folder / PROPOSAL_FILE)
        self.yunet = None
        self.rules = {}
        self.first_templates = True   # whether the first look scans our templates beside YuNet
        if yunet:
            self._use_yunet()
        self._detectors(TEMPLATES)   # fail now, with the folder's name, if a template is unreadable

    def _use_yunet(self):
        """Propose with YuNet too, where the folder has it, its score rule and the CNN verifier
        (the rule weighs YuNet's score beside a verifier's: docs/design.md#detector-yunet)."""
        path, rule_path = self.folder / YUNET_FILE, self.folder / YUNET_RULE_FILE
        if not (path.is_file() and rule_path.is_file() and isinstance(self.verifier, CnnFaceVerifier)):
            return
        try:
            rule = json.loads(rule_path.read_text())
            self.beside_threshold = float(rule["threshold"])
            self.yunet_weight = float(rule["yunet_weight"])
            self.yunet_threshold = float(rule["yunet_threshold"])
            self.yunet_alone = float(rule["alone_threshold"])
            from_score = float(rule["from_score"])
            network = "network" in rule["proposers"]
            self.first_templates = "templates" in rule["proposers"]
            judge = rule.get("yunet_verifier")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{rule_path}: not a YuNet score rule ({exc})") from None
        if not 0 < self.yunet_alone < 1:
            raise ModelError(f"{rule_path}: alone_threshold {self.yunet_alone} is not a YuNet score (0-1)")
        # YuNet's boxes have a verifier of their own where the rule names one (it learned them).
        self.yunet_verifier = CnnFaceVerifier(self.folder / judge) if judge else self.verifier
        self.rules = load_rules(self.folder)
        # The rule this detector moves YuNet's kept boxes by, read once: YuNet.detect's own.
        self.yunet = YuNet(path, threshold=from_score, rule=self.rules.get("yunet", IDENTITY))
        if not network:
            self.proposals = None   # YuNet proposes what the network did, and more

    def with_pose(self) -> "MaskHog":
        """This detector with dlib's pose templates scanned too (and all of ours: see
        :meth:`templates_scanned`), sharing its face verifier: the later looks' detector."""
        if self.pose:
            return self
        twin = copy.copy(self)   # a copy leaves the per-thread detectors behind
        twin.pose = True
        return twin

    def yunet_faces(self, image: np.ndarray) -> list[Face]:
        """YuNet's boxes from its score rule's ``from_score``, as YuNet framed them (the verifier
        judges them so; :meth:`detect` moves the kept ones onto the convention), each scored by
        YuNet's log-odds, which the score rule weighs beside the verifier's."""
        return self.yunet.scored_boxes(image)

    def in_convention(self, faces: list[Face], source: str) -> list[Face]:
        """``faces`` of proposer ``source`` moved onto the box convention (:mod:`.convention`)."""
        rule = self.rules.get(source)
        return faces if rule is None else [Face(rule.apply(f.box), f.score, f.pose) for f in faces]

    def templates_scanned(self, network: bool = True) -> tuple[str, ...]:
        """Our templates this detector scans, with the proposal network (``network``, where the
        folder has one) or without. Beside the network the first look leaves out the template
        that learned face photos pasted into scenes: the network finds more of the scene faces
        it adds, in less time. It stays in the later looks at framed close-ups (:meth:`with_pose`),
        the kind of face it learned, and wherever the network does not run (gray images)."""
        if network and (self.proposals is not None or self.yunet is not None) and not self.pose:
            return TEMPLATES[:1]
        return TEMPLATES

    def _detectors(self, templates: tuple[str, ...]):
        """This thread's dlib detectors for ``templates`` (then dlib's pose templates, with :attr:`pose`)."""
        def load():
            import dlib

            try:
                dets = [dlib.fhog_object_detector(str(self.folder / t)) for t in templates]
            except RuntimeError as exc:
                raise ValueError(f"{self.folder}: not dlib fHOG templates ({exc})") from None
            if self.pose:   # dlib's own five pose templates, scanned over the same pyramid
                dets.append(dlib.get_frontal_face_detector())
            return dets

        return self.per_thread(("templates", templates), load)

    def propose(self, image: np.ndarray, threshold: float) -> list[Face]:
        """Every template's boxes scoring ``threshold`` or more (the same face may come twice),
        then, in a colour image, the proposal network's boxes where no template box is, and
        YuNet's (:meth:`yunet_faces`), each as its proposer framed it."""
        return [face for face, _ in self.sourced_proposals(image, threshold)]

    def sourced_proposals(self, image: np.ndarray, threshold: float) -> list[tuple[Face, str]]:
        """:meth:`propose`'s boxes, each with its proposer: ``"templates"``, ``"network"`` or ``"yunet"``."""
        colour = np.ndim(image) == 3   # the networks need colour
        network = self.proposals is not None and colour
        with_yunet = self.yunet is not None and colour
        faces = ([] if with_yunet and not (self.first_templates or self.pose)
                 else self.template_faces(image, threshold, network or with_yunet))
        out = [(f, "templates") for f in faces]
        if network:
            out += [(f, "network") for f in self.network_faces(image, faces)]
        if with_yunet:
            out += [(f, "yunet") for f in self.yunet_faces(image)]
        return out

    def network_faces(self, image: np.ndarray, faces: list[Face], threshold: float | None = None,
                      min_face: float | None = None) -> list[Face]:
        """The proposal network's boxes that overlap none of ``faces`` (the templates' boxes) at
        :data:`maskhog.tuning.NETWORK_IOU`, each with the score :data:`maskhog.tuning.NETWORK_SCORE`
        (the verifier weighs the template score in). ``threshold`` and ``min_face``: the
        network's own unless given."""
        bgr = to_bgr(image)
        f = min(1.0, tuning.MAX_SIDE / max(bgr.shape[:2]))   # shrunk as the templates' gray image is
        min_face = self.proposals.min_face if min_face is None else min_face
        boxes, _ = self.proposals.propose(scaled(bgr, f) if f < 1 else bgr, threshold,
                                          min_face=min_face * f / 2 ** self.upsample)
        boxes = boxes / f
        if faces and len(boxes):
            taken = np.array([face.box for face in faces], float)
            boxes = boxes[[max(iou(b, t) for t in taken) < tuning.NETWORK_IOU for b in boxes]]
        return [Face(tuple(int(round(v)) for v in b), tuning.NETWORK_SCORE) for b in boxes]

    def template_faces(self, image: np.ndarray, threshold: float, network: bool = False) -> list[Face]:
        """Every template's boxes scoring ``threshold`` or more (those scanned beside the proposal
        network, with ``network``: :meth:`templates_scanned`)."""
        import dlib

        gray, f = gray_within(image)
        # dlib scans with one threshold: the lower of ours and the pose templates' own.
        shift = tuning.POSE_SHIFT
        low = min(threshold, threshold - shift) if self.pose else threshold
        templates = self.templates_scanned(network)
        rects, scores, which = dlib.fhog_object_detector.run_multiple(self._detectors(templates), gray,
                                                                      self.upsample, low)
        ours = len(templates)
        faces = [Face(face.box, face.score + shift, True) if w >= ours else face
                 for face, w in zip(dlib_faces(rects, scores, f), which)]
        return [face for face in faces if face.score >= threshold]

    def detect(self, image: np.ndarray, *, verify: bool = True) -> list[Face]:
        """Faces in a BGR or gray uint8 image, best first, their boxes in the box convention
        (:mod:`.convention`); ``verify=False``: the templates alone, as on gray images (YuNet's
        precision was measured with the verifier in colour only)."""
        verify = verify and self.verifier is not None and np.ndim(image) == 3   # it needs colour
        if not verify:   # the network's boxes have no score of their own: templates alone
            return merge_duplicates(self.in_convention(self.template_faces(image, self.threshold), "templates"))
        # Judge every proposal before merging duplicates, so that a rejected box
        # cannot hide a face it overlaps; judge each box as its proposer framed it (as the
        # verifier learned), then move it onto the convention, so that duplicates agree.
        sourced = self.sourced_proposals(image, min(self.threshold, self.verifier.candidate_threshold))
        if self.yunet is None:
            kept = {id(f) for f in self.verifier.keep(image, [f for f, _ in sourced], self.threshold)}
        else:
            kept = self._judge_with_yunet(image, sourced)
        return merge_duplicates([moved for face, source in sourced if id(face) in kept
                                 for moved in self.in_convention([face], source)])

    def _judge_with_yunet(self, image: np.ndarray, sourced) -> set[int]:
        """The ids of ``sourced``'s faces that stay, by ``face_yunet.json``'s rule: our proposers'
        boxes by the verifier's score from ``threshold``; YuNet's by its verifier's face log-odds
        plus ``yunet_weight`` times YuNet's log-odds from ``yunet_threshold``, and, where a crop
        has no colour for a verifier to judge, by YuNet's own score from ``alone_threshold``."""
        ours = [f for f, source in sourced if source != "yunet"]
        theirs = [f for f, source in sourced if source == "yunet"]
        kept = self.verifier.keep(image, ours, self.threshold, score_threshold=self.beside_threshold)
        kept += self.yunet_verifier.keep(image, theirs, float(log_odds(self.yunet_alone)),
                                         score_threshold=self.yunet_threshold, weight=self.yunet_weight)
        return {id(f) for f in kept}

