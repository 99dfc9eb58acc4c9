"""The three classes, and the one mapping from the names data sets use to them.

Every output of maskhog spells the classes exactly as in :data:`CLASSES`.
Data sets spell them many ways; :func:`canonical_label` maps the common
spellings (case, spaces and hyphens ignored) and says clearly when it cannot.

=================  ==========================================================
class              accepted names
=================  ==========================================================
``with_mask``      with_mask, mask, masked, face_mask, wearing_mask, correct,
                   mask_correct, correct_mask, correctly_masked, good
``without_mask``   without_mask, no_mask, nomask, unmasked, no, face,
                   face_no_mask, without, bare, bad
``incorrect_mask`` incorrect_mask, mask_weared_incorrect (Pascal VOC data sets),
                   mask_worn_incorrectly, incorrect, improper, improper_mask,
                   incorrectly_masked, wrong_mask, partial_mask, nose_out,
                   chin_mask, mask_incorrect
=================  ==========================================================
"""

from __future__ import annotations

import re

__all__ = ["CLASSES", "WITH_MASK", "WITHOUT_MASK", "INCORRECT_MASK", "canonical_label", "LabelError"]

WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"
INCORRECT_MASK = "incorrect_mask"
#: The classes in the order every model and report uses.
CLASSES = (WITH_MASK, WITHOUT_MASK, INCORRECT_MASK)

_ALIASES = {
    WITH_MASK: ["with_mask", "mask", "masked", "face_mask", "wearing_mask", "correct",
                "mask_correct", "correct_mask", "correctly_masked", "good"],
    WITHOUT_MASK: ["without_mask", "no_mask", "nomask", "unmasked", "no", "face",
                   "face_no_mask", "without", "bare", "bad"],
    INCORRECT_MASK: ["incorrect_mask", "mask_weared_incorrect", "mask_worn_incorrectly",
                     "incorrect", "improper", "improper_mask", "incorrectly_masked", "wrong_mask",
                     "partial_mask", "nose_out", "chin_mask", "mask_incorrect"],
}
_LOOKUP = {alias: label for label, aliases in _ALIASES.items() for alias in aliases}


class LabelError(ValueError):
    """A class name that maps to none of :data:`CLASSES`."""


def canonical_label(name: str) -> str:
    """Map a data set's class name to one of :data:`CLASSES`.

    >>> canonical_label("mask_weared_incorrect")
    'incorrect_mask'
    >>> canonical_label("No-Mask")
    'without_mask'
    """
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    try:
        return _LOOKUP[key]
    except KeyError:
        raise LabelError(
            f"unknown class name {name!r}; use one of {', '.join(CLASSES)} "
            "(see maskhog.labels for the accepted spellings)"
        ) from None
