"""People followed across frames: a track per person, and its smoothed label."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from ..boxes import iou

__all__ = ["Track", "match_track"]


@dataclass
class Track:
    """One person followed across frames."""

    id: int
    box: tuple
    tracker: object
    history: deque = field(default_factory=deque)
    label: str | None = None   # None until the first verdict
    score: float = 0.0
    missed: int = 0
    asked_box: tuple | None = None   # the box last sent to the classifier
    since_asked: int = 0             # detections since then

    def vote(self, label: str, score: float, k: int, m: int) -> bool:
        """Add a verdict; return True when the smoothed label changes."""
        self.history.append(label)
        while len(self.history) > m:
            self.history.popleft()
        best, count = Counter(self.history).most_common(1)[0]
        if self.label is None or (best != self.label and count >= k):
            changed = best != self.label
            self.label, self.score = best, score
            return changed
        if best == self.label:
            self.score = score
        return False


def match_track(tracks, box, candidates, min_iou=0.3):
    """The id of the candidate track whose box overlaps ``box`` most (IoU >= min_iou)."""
    best, best_iou = None, min_iou
    for tid in candidates:
        overlap = iou(tracks[tid].box, box)
        if overlap >= best_iou:
            best, best_iou = tid, overlap
    return best
